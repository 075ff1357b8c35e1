//! `netmon install` / `netmon uninstall` end to end, for macOS and Linux alike (the OS is a
//! parameter): `--print` against reviewed `insta` snapshots (`tests/snapshots/install__print_*`),
//! and real installs into a temporary HOME with fake `launchctl` and `systemctl` on PATH that
//! record their arguments.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use plist::Value;

/// The binary named in `--print` (which does not need it to exist).
const BINARY: &str = "/usr/local/bin/netmon";
/// The binary a real install starts: this build's.
const BUILT: &str = env!("CARGO_BIN_EXE_netmon");

struct Sandbox {
    temp: tempfile::TempDir,
}

impl Sandbox {
    /// A temporary HOME and a directory of fake service managers.
    fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let bin = temp.path().join("bin");
        fs::create_dir_all(temp.path().join("home")).unwrap();
        fs::create_dir_all(&bin).unwrap();
        let script = "#!/bin/sh\n\
                      echo \"$(basename \"$0\") $*\" >> \"$FAKE_TOOL_LOG\"\n\
                      case \"$*\" in *\"$FAKE_TOOL_FAIL\"*) [ -n \"$FAKE_TOOL_FAIL\" ] && { echo 'refused by the fake' >&2; exit 5; } ;; esac\n\
                      exit 0\n";
        for tool in ["launchctl", "systemctl"] {
            let path = bin.join(tool);
            fs::write(&path, script).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self { temp }
    }

    fn home(&self) -> PathBuf {
        self.temp.path().join("home")
    }

    fn log(&self) -> PathBuf {
        self.temp.path().join("tools.log")
    }

    fn netmon(&self, args: &[&str], fail: &str) -> Output {
        let path = format!(
            "{}:{}",
            self.temp.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        netmon_with(&self.home(), args, |command| {
            command
                .env("PATH", path)
                .env("FAKE_TOOL_LOG", self.log())
                .env("FAKE_TOOL_FAIL", fail);
        })
    }

    /// The fake tools' calls, with this user's id written as UID.
    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(|line| anonymise(line, self.temp.path()))
            .collect()
    }
}

fn netmon_with(home: &Path, args: &[&str], extra: impl FnOnce(&mut Command)) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_netmon"));
    command
        .args(args)
        .env("HOME", home)
        .env_remove("NETMON_HOME")
        .env_remove("XDG_CONFIG_HOME");
    extra(&mut command);
    command.output().expect("run netmon")
}

fn uid() -> u32 {
    netmon_core::os::effective_uid()
}

/// `gui/<uid>` → `gui/UID` and the sandbox's directory → `SANDBOX`.
fn anonymise(text: &str, sandbox: &Path) -> String {
    text.replace(&format!("gui/{}", uid()), "gui/UID")
        .replace(&sandbox.display().to_string(), "SANDBOX")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every regular file below `dir`.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .flat_map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        files_below(&path)
                    } else {
                        vec![path]
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `netmon install --print` for `os` and `scope`, compared with the reviewed `insta` snapshot
/// `snapshots/install__<snapshot>.snap`.
fn print_matches_snapshot(os: &str, scope: &[&str], snapshot: &str) {
    let home = if os == "macos" {
        "/Users/ana"
    } else {
        "/home/ana"
    };
    let args: Vec<&str> = ["install", "--print", "--os", os, "--binary", BINARY]
        .into_iter()
        .chain(scope.iter().copied())
        .collect();
    let output = netmon_with(Path::new(home), &args, |_| {});
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    insta::assert_snapshot!(
        snapshot,
        anonymise(&stdout, Path::new("/nonexistent")),
        &format!("netmon {}", args.join(" "))
    );
    assert!(!Path::new(home).exists(), "--print must not write anything");
}

#[test]
fn print_for_macos_no_root_matches_the_snapshot() {
    print_matches_snapshot("macos", &["--no-root"], "print_macos_user");
}

#[test]
fn print_for_macos_root_matches_the_snapshot() {
    print_matches_snapshot("macos", &["--run-as", "nobody"], "print_macos_system");
}

#[test]
fn print_for_linux_user_matches_the_snapshot() {
    print_matches_snapshot("linux", &["--user"], "print_linux_user");
}

#[test]
fn print_for_linux_system_matches_the_snapshot() {
    print_matches_snapshot(
        "linux",
        &["--system", "--run-as", "nobody"],
        "print_linux_system",
    );
}

#[test]
fn macos_install_writes_both_agents_and_uninstall_leaves_nothing() {
    let sandbox = Sandbox::new();
    let home = sandbox.home();
    let output = sandbox.netmon(
        &["install", "--os", "macos", "--no-root", "--binary", BUILT],
        "",
    );
    let (stdout, stderr) = text(&output);
    let menubar = Path::new(BUILT).with_file_name("netmon-menubar");
    assert!(output.status.success(), "{stderr}");
    let agents = home.join("Library/LaunchAgents");
    for (label, program, log) in [
        (
            "com.networkmonitor.daemon",
            vec![BUILT, "run", "--service"],
            "daemon",
        ),
        (
            "com.networkmonitor.menubar",
            vec![menubar.to_str().unwrap()],
            "menubar",
        ),
    ] {
        let path = agents.join(format!("{label}.plist"));
        assert!(stdout.contains(&format!("installed {}", path.display())));
        let agent = Value::from_file(&path).unwrap().into_dictionary().unwrap();
        assert_eq!(agent["Label"].as_string(), Some(label));
        let arguments: Vec<&str> = agent["ProgramArguments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_string)
            .collect();
        assert_eq!(arguments, program);
        assert_eq!(agent["RunAtLoad"].as_boolean(), Some(true));
        let keep_alive = agent["KeepAlive"].as_dictionary().unwrap();
        assert_eq!(keep_alive["SuccessfulExit"].as_boolean(), Some(false));
        let logs = home.join(".netmonitor/logs");
        assert_eq!(
            agent["StandardOutPath"].as_string().map(PathBuf::from),
            Some(logs.join(format!("{log}.out.log")))
        );
        assert_eq!(
            agent["StandardErrorPath"].as_string().map(PathBuf::from),
            Some(logs.join(format!("{log}.err.log")))
        );
        assert!(logs.is_dir(), "the logs directory exists for launchd");
    }
    let agents = "SANDBOX/home/Library/LaunchAgents";
    assert_eq!(
        sandbox.calls(),
        [
            format!("launchctl bootout gui/UID {agents}/com.networkmonitor.daemon.plist"),
            format!("launchctl bootstrap gui/UID {agents}/com.networkmonitor.daemon.plist"),
            format!("launchctl bootout gui/UID {agents}/com.networkmonitor.menubar.plist"),
            format!("launchctl bootstrap gui/UID {agents}/com.networkmonitor.menubar.plist"),
        ]
    );

    let output = sandbox.netmon(&["uninstall", "--os", "macos", "--no-root"], "");
    assert!(output.status.success(), "{}", text(&output).1);
    assert_eq!(files_below(&home), Vec::<PathBuf>::new());
    assert_eq!(
        sandbox.calls()[4..],
        [
            format!("launchctl bootout gui/UID {agents}/com.networkmonitor.daemon.plist"),
            format!("launchctl bootout gui/UID {agents}/com.networkmonitor.menubar.plist"),
        ]
    );
}

#[test]
fn linux_user_install_enables_the_unit_and_uninstall_leaves_nothing() {
    let sandbox = Sandbox::new();
    let home = sandbox.home();
    let args = ["install", "--os", "linux", "--user", "--binary", BUILT];
    let output = sandbox.netmon(&args, "");
    assert!(output.status.success(), "{}", text(&output).1);
    let unit = fs::read_to_string(home.join(".config/systemd/user/netmon.service")).unwrap();
    assert!(
        unit.contains(&format!("ExecStart=\"{BUILT}\" run --service\n")),
        "{unit}"
    );
    assert_eq!(
        sandbox.calls(),
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable --now netmon.service"
        ]
    );

    let output = sandbox.netmon(&["uninstall", "--os", "linux", "--user"], "");
    assert!(output.status.success(), "{}", text(&output).1);
    assert_eq!(files_below(&home), Vec::<PathBuf>::new());
    assert_eq!(
        sandbox.calls()[2..],
        [
            "systemctl --user disable --now netmon.service",
            "systemctl --user daemon-reload"
        ]
    );

    let output = sandbox.netmon(&["uninstall", "--os", "linux", "--user"], "");
    assert!(output.status.success());
    assert!(text(&output).0.contains("not installed"));
}

#[test]
fn a_refused_launchctl_bootstrap_fails_with_its_message() {
    let sandbox = Sandbox::new();
    let output = sandbox.netmon(
        &["install", "--os", "macos", "--no-root", "--binary", BUILT],
        "bootstrap",
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`launchctl bootstrap gui/"), "{stderr}");
    assert!(stderr.contains("refused by the fake"), "{stderr}");
}

#[test]
fn bad_arguments_are_named() {
    let sandbox = Sandbox::new();
    let output = sandbox.netmon(
        &["install", "--os", "linux", "--user", "--binary", "netmon"],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output)
        .1
        .contains("the binary path netmon must be absolute"));
    let output = sandbox.netmon(
        &["install", "--os", "linux", "--run-as", "no-such-user"],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output).1;
    assert!(
        stderr.contains("no user named \"no-such-user\"") && stderr.contains("--run-as"),
        "{stderr}"
    );
    assert!(sandbox.calls().is_empty());
}

/// Owner and mode of `path`.
fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    (meta.uid(), meta.gid(), meta.mode() & 0o7777)
}

#[test]
fn macos_root_install_writes_a_launch_daemon_and_the_users_menubar_agent() {
    let sandbox = Sandbox::new();
    let root = sandbox.temp.path().join("root");
    let root_text = root.display().to_string();
    let args = [
        "--os",
        "macos",
        "--run-as",
        "nobody",
        "--root",
        root_text.as_str(),
    ];
    let install: Vec<&str> = ["install", "--binary", BUILT]
        .into_iter()
        .chain(args)
        .collect();
    let output = sandbox.netmon(&install, "");
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("then runs as nobody"), "{stdout}");

    let daemon = root.join("Library/LaunchDaemons/com.networkmonitor.daemon.plist");
    assert_eq!(owner_and_mode(&daemon), (0, 0, 0o644), "root:wheel 644");
    let plist = Value::from_file(&daemon)
        .unwrap()
        .into_dictionary()
        .unwrap();
    assert_eq!(
        plist["Label"].as_string(),
        Some("com.networkmonitor.daemon")
    );
    let program: Vec<&str> = plist["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_string)
        .collect();
    assert_eq!(program, [BUILT, "run", "--service", "--user", "nobody"]);
    assert_eq!(plist["RunAtLoad"].as_boolean(), Some(true));
    let keep_alive = plist["KeepAlive"].as_dictionary().unwrap();
    assert_eq!(keep_alive["SuccessfulExit"].as_boolean(), Some(false));
    assert!(!plist.contains_key("UserName"), "it starts as root");
    let logs = root.join("Library/Logs/netmon");
    assert_eq!(
        plist["StandardErrorPath"].as_string().map(PathBuf::from),
        Some(logs.join("daemon.err.log")),
        "launchd opens it as root: never in the user's home"
    );
    assert_eq!(owner_and_mode(&logs), (0, 0, 0o755));

    let nobody_home = root.join("nonexistent");
    let menubar = nobody_home.join("Library/LaunchAgents/com.networkmonitor.menubar.plist");
    assert_eq!(owner_and_mode(&menubar), (65534, 65534, 0o644));
    let netmon_home = nobody_home.join(".netmonitor");
    assert_eq!(
        owner_and_mode(&netmon_home.join("logs")),
        (65534, 65534, 0o700)
    );

    let daemon_text = daemon.display().to_string();
    let menubar_text = menubar.display().to_string();
    let calls: Vec<String> = fs::read_to_string(sandbox.log())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        calls,
        [
            format!("launchctl bootout system {daemon_text}"),
            format!("launchctl bootstrap system {daemon_text}"),
            format!("launchctl bootout gui/65534 {menubar_text}"),
            format!("launchctl bootstrap gui/65534 {menubar_text}"),
        ]
    );

    let uninstall: Vec<&str> = std::iter::once("uninstall").chain(args).collect();
    let output = sandbox.netmon(&uninstall, "");
    assert!(output.status.success(), "{}", text(&output).1);
    assert!(!daemon.exists() && !menubar.exists());
    let calls: Vec<String> = fs::read_to_string(sandbox.log())
        .unwrap()
        .lines()
        .skip(4)
        .map(str::to_string)
        .collect();
    assert_eq!(
        calls,
        [
            format!("launchctl bootout system {daemon_text}"),
            format!("launchctl bootout gui/65534 {menubar_text}"),
        ]
    );
}

#[test]
fn a_binary_others_can_change_is_refused_with_the_fix() {
    let sandbox = Sandbox::new();
    let binary = sandbox.temp.path().join("netmon");
    fs::copy(BUILT, &binary).unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o777)).unwrap();
    let root = sandbox.temp.path().join("root");
    let output = sandbox.netmon(
        &[
            "install",
            "--os",
            "linux",
            "--run-as",
            "nobody",
            "--root",
            root.to_str().unwrap(),
            "--binary",
            binary.to_str().unwrap(),
        ],
        "",
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("writable by group or others"), "{stderr}");
    assert!(
        stderr.contains("sudo install -o root -m 755"),
        "the fix: {stderr}"
    );
    assert!(!root.exists(), "nothing written");
    assert!(sandbox.calls().is_empty());
}

#[test]
fn plain_install_without_root_explains_the_two_choices() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    let output = netmon_with(
        Path::new("/nonexistent"),
        &["install", "--os", "macos"],
        |command| {
            command.uid(65534).gid(65534);
        },
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("sudo netmon install"), "{stderr}");
    assert!(stderr.contains("netmon install --no-root"), "{stderr}");
    assert!(
        stderr.contains("no domains"),
        "what --no-root loses: {stderr}"
    );
    assert!(sandbox.calls().is_empty());
}
