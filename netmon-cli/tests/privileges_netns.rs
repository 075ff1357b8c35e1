//! End to end: `sudo netmon run` opens the capture as root, then becomes the user sudo ran it
//! for. Its files are that user's, it cannot regain root, and it still attributes the bytes of
//! another user's (root's) process through the two capabilities it keeps.

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use support::{assert_within, bytes_of_app, Lab, Netmon, SERVER_V4};

/// CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19): the socket-owner lookup's capabilities.
const LOOKUP_CAPABILITIES: u64 = (1 << 2) | (1 << 19);

fn id_of(flag: &str, user: &str) -> u32 {
    let output = Command::new("id")
        .args([flag, user])
        .output()
        .expect("run id");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

/// A field of /proc/PID/status, such as `Uid` or `CapEff`.
fn status_field(pid: u32, field: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read the status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

fn assert_owned_by(path: &Path, uid: u32) {
    let metadata = fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert_eq!(
        metadata.uid(),
        uid,
        "{} belongs to the user",
        path.display()
    );
    assert_eq!(
        metadata.mode() & 0o077,
        0,
        "{} is owner-only",
        path.display()
    );
}

#[test]
fn started_by_sudo_it_captures_as_root_then_runs_as_the_user() {
    let (uid, gid) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let download = lab.program_named("curl", "rootdl");
    fs::set_permissions(lab.temp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let home = lab.temp.path().join("netmon-home");
    fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();

    let mut command = lab.command(&lab.client, env!("CARGO_BIN_EXE_netmon"));
    command
        .args(["run", "--json", "--interval", "1"])
        .env("NETMON_HOME", &home)
        .env("SUDO_UID", uid.to_string())
        .env("SUDO_GID", gid.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let netmon = Netmon::start(command);
    let first = netmon.wait_ready();

    let ids = format!("{uid}\t{uid}\t{uid}\t{uid}");
    assert_eq!(
        status_field(netmon.pid(), "Uid"),
        ids,
        "real, effective, saved and fs uid"
    );
    let group_ids = format!("{gid}\t{gid}\t{gid}\t{gid}");
    assert_eq!(status_field(netmon.pid(), "Gid"), group_ids);
    ["CapEff", "CapPrm"].iter().for_each(|set| {
        let capabilities = u64::from_str_radix(&status_field(netmon.pid(), set), 16).unwrap();
        assert_eq!(
            capabilities, LOOKUP_CAPABILITIES,
            "{set}: only the lookup's capabilities"
        );
    });

    let before = lab.counters();
    let mut get = lab.command(&lab.client, &download);
    get.args(["-sS", "-o", "/dev/null"])
        .arg(format!("http://{SERVER_V4}:8080/bytes/5000000"));
    lab.run(get);
    thread::sleep(Duration::from_millis(400));
    let after = lab.counters();
    thread::sleep(Duration::from_millis(1200));

    let samples = netmon.stop(first);
    support::print_apps(&samples);
    assert_within(
        "rootdl (a root process, seen by netmon running as nobody)",
        bytes_of_app(&samples, "rootdl"),
        after.ip_bytes_since(&before),
        1.0,
    );
    [
        home.join("config.json"),
        home.join("network_monitor.db"),
        home.join("logs"),
        home.join("logs/daemon.log"),
    ]
    .iter()
    .for_each(|path| assert_owned_by(path, uid));
}

/// `systemctl` that only records its arguments in `log`: the install's service manager.
fn fake_systemctl(dir: &Path, log: &Path) {
    fs::create_dir_all(dir).unwrap();
    let path = dir.join("systemctl");
    let script = format!("#!/bin/sh\necho \"systemctl $*\" >> '{}'\n", log.display());
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The unit's `ExecStart` words (quotes removed, `%%` → `%`) and its `Environment`.
fn unit_command(unit: &str) -> (Vec<String>, Vec<(String, String)>) {
    let value = |key: &'static str| {
        unit.lines()
            .filter_map(move |line| line.strip_prefix(key))
            .map(|value| value.replace("%%", "%"))
    };
    let words = value("ExecStart=")
        .next()
        .expect("an ExecStart line")
        .split_whitespace()
        .map(|word| word.trim_matches('"').to_string())
        .collect();
    let environment = value("Environment=")
        .filter_map(|setting| {
            let (key, value) = setting.trim_matches('"').split_once('=')?;
            Some((key.to_string(), value.to_string()))
        })
        .collect();
    (words, environment)
}

#[test]
fn a_system_install_for_a_user_runs_its_command_line_as_that_user_and_captures() {
    let (uid, gid) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let download = lab.program_named("curl", "unitdl");
    fs::set_permissions(lab.temp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // The temporary root stands for /: nobody's home (/nonexistent) is there, and theirs.
    let root = lab.temp.path().join("root");
    let user_home = root.join("nonexistent");
    fs::create_dir_all(&user_home).unwrap();
    std::os::unix::fs::chown(&user_home, Some(uid), Some(gid)).unwrap();
    let netmon_home = user_home.join(".netmonitor");
    let (bin, calls) = (lab.temp.path().join("bin"), lab.temp.path().join("calls"));
    fake_systemctl(&bin, &calls);

    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let output = Command::new(env!("CARGO_BIN_EXE_netmon"))
        .args(["install", "--os", "linux", "--system", "--run-as", "nobody"])
        .args(["--binary", env!("CARGO_BIN_EXE_netmon"), "--root"])
        .arg(&root)
        .env("PATH", path)
        .env("NETMON_HOME", &netmon_home)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "install failed: {stderr}");
    let unit_path = root.join("etc/systemd/system/netmon.service");
    let unit = fs::read_to_string(&unit_path).unwrap();
    let metadata = fs::metadata(&unit_path).unwrap();
    assert_eq!((metadata.uid(), metadata.mode() & 0o7777), (0, 0o644));
    assert_eq!(
        fs::read_to_string(&calls).unwrap(),
        "systemctl daemon-reload\nsystemctl enable --now netmon.service\n"
    );
    assert!(
        !netmon_home.exists(),
        "the install writes nothing for the user"
    );

    // Run the unit's command line as systemd would: as root, with its environment.
    let (words, environment) = unit_command(&unit);
    assert_eq!(
        words[1..],
        ["run", "--service", "--user", "nobody"],
        "{unit}"
    );
    let mut command = lab.command(&lab.client, &words[0]);
    command
        .args(&words[1..])
        .envs(environment)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut daemon = command.spawn().expect("start the unit's command");
    lab.wait_for_api();
    let status: serde_json::Value =
        serde_json::from_str(&lab.api_get("/api/status").unwrap()).unwrap();
    assert_eq!(status["running_as"], "nobody", "{status}");
    assert_eq!(status["capture"], "pcap", "{status}");
    assert_eq!(status["privileged"], false, "{status}");

    let samples_before = status["samples"].as_u64().unwrap();
    let before = lab.counters();
    let mut get = lab.command(&lab.client, &download);
    get.args(["-sS", "-o", "/dev/null"])
        .arg(format!("http://{SERVER_V4}:8080/bytes/3000000"));
    lab.run(get);
    thread::sleep(Duration::from_millis(400));
    let after = lab.counters();
    // The default 5 s interval: wait for the window holding the download to close.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status: serde_json::Value =
            serde_json::from_str(&lab.api_get("/api/status").unwrap()).unwrap();
        if status["samples"].as_u64().unwrap() >= samples_before + 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no sample: {status}");
        thread::sleep(Duration::from_millis(200));
    }
    let pid = daemon.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let exit = daemon.wait().unwrap();
    let stderr = std::io::read_to_string(daemon.stderr.take().unwrap()).unwrap();
    assert!(exit.success(), "{exit}: {stderr}");

    // Everything netmon wrote is nobody's and owner-only (checked before root opens the
    // database below, which may add its own -shm).
    [
        netmon_home.clone(),
        netmon_home.join("config.json"),
        netmon_home.join("network_monitor.db"),
        netmon_home.join("logs"),
        netmon_home.join("logs/daemon.log"),
    ]
    .iter()
    .for_each(|path| assert_owned_by(path, uid));
    let store = netmon_core::store::Store::open(&netmon_home.join("network_monitor.db")).unwrap();
    let all = netmon_core::store::Range {
        start_ms: 0,
        end_ms: i64::MAX,
    };
    let apps = store.top_apps(all, 10).unwrap();
    let stored = apps
        .iter()
        .find(|app| app.app == "unitdl")
        .map_or(0, |app| app.sent + app.received);
    assert_within(
        "unitdl, captured by the unit's command line",
        stored,
        after.ip_bytes_since(&before),
        1.0,
    );
}
