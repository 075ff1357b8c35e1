//! `netmon install` / `netmon uninstall`: start netmon at login.
//!
//! On macOS two LaunchAgents in `~/Library/LaunchAgents` (the daemon and the menubar), written
//! with the `plist` crate and loaded with `launchctl bootstrap gui/UID`. On Linux a systemd unit,
//! a user unit (`~/.config/systemd/user`) or, for root, a system unit (`/etc/systemd/system`),
//! enabled and started with `systemctl`. Both restart netmon when it crashes but not after a clean
//! exit, and send its stdout/stderr into the logs directory. `--print` shows what would be
//! written and run, and changes nothing.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::{Args, Subcommand, ValueEnum};
use netmon_core::paths::{self, Paths};
use plist::{Dictionary, Value};

/// The daemon's LaunchAgent label (and file name, with `.plist`).
pub const DAEMON_LABEL: &str = "com.networkmonitor.daemon";
/// The menubar's LaunchAgent label.
pub const MENUBAR_LABEL: &str = "com.networkmonitor.menubar";
/// The systemd unit's file name.
pub const UNIT_NAME: &str = "netmon.service";

const EXIT_OK: u8 = 0;
const EXIT_USAGE: u8 = 64;
const EXIT_FAILED: u8 = 70;
const EXIT_IO: u8 = 74;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start netmon at login: a LaunchAgent on macOS, a systemd unit on Linux.
    ///
    /// Example: netmon install --print
    Install(InstallArgs),
    /// Stop netmon starting at login and remove what `netmon install` wrote.
    ///
    /// Example: netmon uninstall
    Uninstall(Target),
}

/// Which system and which service manager scope.
#[derive(Debug, Args)]
pub struct Target {
    /// Show what would be written and run, and change nothing.
    #[arg(long)]
    print: bool,
    /// The system to install for (default: this one).
    #[arg(long, value_enum)]
    os: Option<Os>,
    /// Linux: a systemd system unit (default when run as root) instead of a user unit.
    #[arg(long, conflicts_with = "user")]
    system: bool,
    /// Linux: a systemd user unit (default when not root).
    #[arg(long)]
    user: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    target: Target,
    /// The netmon binary to start (default: this one); the menubar is `netmon-menubar` beside it.
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Os {
    Macos,
    Linux,
}

impl Os {
    fn current() -> Option<Os> {
        match std::env::consts::OS {
            "macos" => Some(Os::Macos),
            "linux" => Some(Os::Linux),
            _ => None,
        }
    }
}

/// Where and how netmon is installed: everything the files and commands depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub os: Os,
    /// Linux only: a system unit rather than a user unit.
    pub system: bool,
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME` when set to an absolute path.
    pub config_home: Option<PathBuf>,
    pub uid: u32,
    /// `$NETMON_HOME` when set, passed on to the service.
    pub netmon_home: Option<PathBuf>,
    pub binary: PathBuf,
}

impl Context {
    /// netmon's own files, whose logs directory receives the services' stdout and stderr.
    pub fn paths(&self) -> Paths {
        Paths::at(
            self.netmon_home
                .clone()
                .unwrap_or_else(|| self.home.join(".netmonitor")),
        )
    }
}

/// A file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: PathBuf,
    pub contents: String,
}

/// A command to run; `must_succeed` false for steps whose failure only means "already so".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub program: &'static str,
    pub args: Vec<String>,
    pub must_succeed: bool,
}

impl Step {
    fn new(program: &'static str, args: &[&str], must_succeed: bool) -> Self {
        Self {
            program,
            args: args.iter().map(|arg| arg.to_string()).collect(),
            must_succeed,
        }
    }

    fn line(&self) -> String {
        std::iter::once(self.program.to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What `install` writes and runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub files: Vec<File>,
    pub steps: Vec<Step>,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("netmon install supports macOS and Linux; give --os macos or --os linux")]
    UnsupportedOs,
    #[error("$HOME is not set to an absolute path; set it to your home directory")]
    NoHome,
    #[error("--system and --user are for Linux's systemd; on macOS netmon installs LaunchAgents")]
    ScopeOnMacos,
    #[error("the binary path {0} must be absolute")]
    RelativeBinary(PathBuf),
    #[error("there is no netmon binary at {0}; give its path with --binary")]
    MissingBinary(PathBuf),
    #[error("the path {0:?} cannot be written into a systemd unit: it contains a newline, a quote or a backslash")]
    UnitPath(String),
    #[error("the path {0:?} is not valid UTF-8")]
    NotUtf8(PathBuf),
    #[error("cannot find this netmon binary: {0}")]
    CurrentExe(io::Error),
    #[error("cannot write the launchd property list: {0}")]
    Plist(#[from] plist::Error),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot prepare netmon's directories: {0}")]
    Paths(#[from] paths::PathsError),
    #[error("`{command}` failed: {detail}")]
    Step { command: String, detail: String },
}

impl InstallError {
    fn exit_code(&self) -> u8 {
        match self {
            InstallError::Io { .. } | InstallError::Paths(_) => EXIT_IO,
            InstallError::Step { .. } | InstallError::CurrentExe(_) | InstallError::Plist(_) => {
                EXIT_FAILED
            }
            _ => EXIT_USAGE,
        }
    }
}

pub fn run(command: Command) -> u8 {
    let outcome = match command {
        Command::Install(args) => install(&args),
        Command::Uninstall(target) => uninstall(&target),
    };
    match outcome {
        Ok(()) => EXIT_OK,
        Err(error) => {
            eprintln!("netmon: {error}");
            error.exit_code()
        }
    }
}

fn install(args: &InstallArgs) -> Result<(), InstallError> {
    let binary = match &args.binary {
        Some(binary) => binary.clone(),
        None => std::env::current_exe()
            .and_then(fs::canonicalize)
            .map_err(InstallError::CurrentExe)?,
    };
    let context = context(&args.target, binary)?;
    let plan = install_plan(&context)?;
    if args.target.print {
        print!("{}", describe(&plan));
        return Ok(());
    }
    if !context.binary.is_file() {
        return Err(InstallError::MissingBinary(context.binary));
    }
    let menubar = menubar_binary(&context.binary);
    if context.os == Os::Macos && !menubar.is_file() {
        eprintln!(
            "netmon: warning: no menubar at {}; its LaunchAgent will fail until it is there",
            menubar.display()
        );
    }
    context.paths().ensure()?;
    plan.files.iter().try_for_each(write_file)?;
    plan.steps.iter().try_for_each(run_step)?;
    plan.files
        .iter()
        .for_each(|file| println!("installed {}", file.path.display()));
    Ok(())
}

fn uninstall(target: &Target) -> Result<(), InstallError> {
    let context = context(target, PathBuf::new())?;
    let plan = uninstall_plan(&context);
    if target.print {
        print!("{}", describe(&plan));
        return Ok(());
    }
    let installed: Vec<&File> = plan
        .files
        .iter()
        .filter(|file| file.path.exists())
        .collect();
    if installed.is_empty() {
        println!("netmon is not installed: nothing to remove");
        return Ok(());
    }
    plan.steps.iter().try_for_each(run_step)?;
    installed.iter().try_for_each(|file| {
        fs::remove_file(&file.path).map_err(|source| InstallError::Io {
            action: "remove",
            path: file.path.clone(),
            source,
        })?;
        println!("removed {}", file.path.display());
        Ok(())
    })
}

/// The context from the arguments and this process's environment.
fn context(target: &Target, binary: PathBuf) -> Result<Context, InstallError> {
    let os = target
        .os
        .or_else(Os::current)
        .ok_or(InstallError::UnsupportedOs)?;
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let home = absolute("HOME").ok_or(InstallError::NoHome)?;
    let netmon_home = absolute(paths::HOME_ENV);
    let uid = current_uid();
    if os == Os::Macos && (target.system || target.user) {
        return Err(InstallError::ScopeOnMacos);
    }
    Ok(Context {
        os,
        system: target.system || (!target.user && uid == 0),
        config_home: absolute("XDG_CONFIG_HOME"),
        home,
        uid,
        netmon_home,
        binary,
    })
}

fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The files and commands that install netmon.
pub fn install_plan(context: &Context) -> Result<Plan, InstallError> {
    if !context.binary.is_absolute() {
        return Err(InstallError::RelativeBinary(context.binary.clone()));
    }
    match context.os {
        Os::Macos => {
            let agents = [
                (DAEMON_LABEL, daemon_agent(context)?),
                (MENUBAR_LABEL, menubar_agent(context)?),
            ];
            let files = agents
                .into_iter()
                .map(|(label, agent)| {
                    Ok(File {
                        path: agent_path(context, label),
                        contents: plist_xml(agent)?,
                    })
                })
                .collect::<Result<Vec<_>, InstallError>>()?;
            let steps = files
                .iter()
                .flat_map(|file| launchctl_load(context, &file.path))
                .collect();
            Ok(Plan { files, steps })
        }
        Os::Linux => Ok(Plan {
            files: vec![File {
                path: unit_path(context),
                contents: systemd_unit(context)?,
            }],
            steps: vec![
                systemctl(context, &["daemon-reload"], true),
                systemctl(context, &["enable", "--now", UNIT_NAME], true),
            ],
        }),
    }
}

/// The files and commands that uninstall netmon (the files' contents are left empty).
pub fn uninstall_plan(context: &Context) -> Plan {
    match context.os {
        Os::Macos => {
            let files: Vec<File> = [DAEMON_LABEL, MENUBAR_LABEL]
                .into_iter()
                .map(|label| File {
                    path: agent_path(context, label),
                    contents: String::new(),
                })
                .collect();
            let steps = files
                .iter()
                .map(|file| launchctl_unload(context, &file.path))
                .collect();
            Plan { files, steps }
        }
        Os::Linux => Plan {
            files: vec![File {
                path: unit_path(context),
                contents: String::new(),
            }],
            steps: vec![
                systemctl(context, &["disable", "--now", UNIT_NAME], false),
                systemctl(context, &["daemon-reload"], false),
            ],
        },
    }
}

/// `--print`: each file with its path, then the commands.
pub fn describe(plan: &Plan) -> String {
    let files = plan.files.iter().map(|file| {
        if file.contents.is_empty() {
            format!("# remove {}\n", file.path.display())
        } else {
            format!("# write {}\n{}\n", file.path.display(), file.contents)
        }
    });
    let steps = plan.steps.iter().map(|step| format!("{}\n", step.line()));
    files
        .chain(std::iter::once("# run\n".to_string()))
        .chain(steps)
        .collect()
}

fn agent_path(context: &Context, label: &str) -> PathBuf {
    context
        .home
        .join("Library/LaunchAgents")
        .join(format!("{label}.plist"))
}

fn unit_path(context: &Context) -> PathBuf {
    if context.system {
        PathBuf::from("/etc/systemd/system").join(UNIT_NAME)
    } else {
        context
            .config_home
            .clone()
            .unwrap_or_else(|| context.home.join(".config"))
            .join("systemd/user")
            .join(UNIT_NAME)
    }
}

/// `logs/<name>.out.log` and `logs/<name>.err.log`.
fn output_logs(context: &Context, name: &str) -> (PathBuf, PathBuf) {
    let logs = context.paths().logs();
    (
        logs.join(format!("{name}.out.log")),
        logs.join(format!("{name}.err.log")),
    )
}

fn text(path: &Path) -> Result<String, InstallError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| InstallError::NotUtf8(path.to_path_buf()))
}

/// The keys both agents share: label, program, start at login, restart after a crash only,
/// output into the logs directory.
fn agent(
    context: &Context,
    label: &str,
    program: Vec<String>,
    log_name: &str,
    process_type: &str,
) -> Result<Dictionary, InstallError> {
    let (out, err) = output_logs(context, log_name);
    let mut keep_alive = Dictionary::new();
    keep_alive.insert("SuccessfulExit".into(), Value::Boolean(false));
    let mut agent = Dictionary::new();
    agent.insert("Label".into(), Value::String(label.into()));
    agent.insert(
        "ProgramArguments".into(),
        Value::Array(program.into_iter().map(Value::String).collect()),
    );
    agent.insert("RunAtLoad".into(), Value::Boolean(true));
    agent.insert("KeepAlive".into(), Value::Dictionary(keep_alive));
    agent.insert("ProcessType".into(), Value::String(process_type.into()));
    agent.insert("StandardOutPath".into(), Value::String(text(&out)?));
    agent.insert("StandardErrorPath".into(), Value::String(text(&err)?));
    if let Some(netmon_home) = &context.netmon_home {
        let mut environment = Dictionary::new();
        environment.insert(paths::HOME_ENV.into(), Value::String(text(netmon_home)?));
        agent.insert(
            "EnvironmentVariables".into(),
            Value::Dictionary(environment),
        );
    }
    Ok(agent)
}

/// The daemon's LaunchAgent: `netmon run` in the background.
pub fn daemon_agent(context: &Context) -> Result<Dictionary, InstallError> {
    let program = vec![text(&context.binary)?, "run".into()];
    agent(context, DAEMON_LABEL, program, "daemon", "Background")
}

/// The menubar's LaunchAgent: `netmon-menubar` beside netmon, in the login session only.
pub fn menubar_agent(context: &Context) -> Result<Dictionary, InstallError> {
    let program = vec![text(&menubar_binary(&context.binary))?];
    let mut agent = agent(context, MENUBAR_LABEL, program, "menubar", "Interactive")?;
    agent.insert(
        "LimitLoadToSessionType".into(),
        Value::String("Aqua".into()),
    );
    Ok(agent)
}

fn menubar_binary(binary: &Path) -> PathBuf {
    binary.with_file_name("netmon-menubar")
}

fn plist_xml(agent: Dictionary) -> Result<String, InstallError> {
    let mut bytes = Vec::new();
    Value::Dictionary(agent).to_writer_xml(&mut bytes)?;
    bytes.push(b'\n');
    // The writer is given only `String`s, so its XML is UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A path as one systemd command-line word: quoted, `%` doubled.
fn unit_word(path: &Path) -> Result<String, InstallError> {
    let path = text(path)?;
    if path.contains(['\n', '"', '\\']) {
        return Err(InstallError::UnitPath(path));
    }
    Ok(format!("\"{}\"", path.replace('%', "%%")))
}

/// A path in a systemd setting's value (not split into words): `%` doubled.
fn unit_value(path: &Path) -> Result<String, InstallError> {
    let path = text(path)?;
    if path.contains('\n') {
        return Err(InstallError::UnitPath(path));
    }
    Ok(path.replace('%', "%%"))
}

/// The systemd unit: `netmon run`, restarted after a crash but not after a clean exit, nor
/// after exits that a restart cannot fix (77: no permission to capture, 78: invalid config).
pub fn systemd_unit(context: &Context) -> Result<String, InstallError> {
    let (out, err) = output_logs(context, "daemon");
    let environment = match &context.netmon_home {
        Some(home) => format!(
            "Environment=\"{}={}\"\n",
            paths::HOME_ENV,
            unit_word(home)?.trim_matches('"')
        ),
        None => String::new(),
    };
    let wanted_by = if context.system {
        "multi-user.target"
    } else {
        "default.target"
    };
    Ok(format!(
        "[Unit]\n\
         Description=netmon network monitor\n\
         After=network.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={} run\n\
         {environment}\
         Restart=on-failure\n\
         RestartSec=5\n\
         RestartPreventExitStatus=77 78\n\
         StandardOutput=append:{}\n\
         StandardError=append:{}\n\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        unit_word(&context.binary)?,
        unit_value(&out)?,
        unit_value(&err)?,
    ))
}

fn launchctl_load(context: &Context, plist: &Path) -> [Step; 2] {
    let domain = format!("gui/{}", context.uid);
    let plist = plist.display().to_string();
    [
        // A copy loaded by an earlier install is replaced by the new one.
        Step::new("launchctl", &["bootout", &domain, &plist], false),
        Step::new("launchctl", &["bootstrap", &domain, &plist], true),
    ]
}

fn launchctl_unload(context: &Context, plist: &Path) -> Step {
    let domain = format!("gui/{}", context.uid);
    Step::new(
        "launchctl",
        &["bootout", &domain, &plist.display().to_string()],
        false,
    )
}

fn systemctl(context: &Context, args: &[&str], must_succeed: bool) -> Step {
    let scope: &[&str] = if context.system { &[] } else { &["--user"] };
    let args: Vec<&str> = scope.iter().chain(args).copied().collect();
    Step::new("systemctl", &args, must_succeed)
}

fn write_file(file: &File) -> Result<(), InstallError> {
    let io_error = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io {
            action,
            path,
            source,
        }
    };
    if let Some(dir) = file.path.parent() {
        fs::create_dir_all(dir).map_err(io_error("create", dir))?;
    }
    fs::write(&file.path, &file.contents).map_err(io_error("write", &file.path))
}

fn run_step(step: &Step) -> Result<(), InstallError> {
    let failure = |detail: String| InstallError::Step {
        command: step.line(),
        detail,
    };
    let output = Process::new(step.program)
        .args(step.args.iter().map(OsString::from))
        .output()
        .map_err(|error| failure(format!("cannot run {}: {error}", step.program)))?;
    if output.status.success() || !step.must_succeed {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Err(failure(format!("{} {stderr}", output.status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(os: Os, system: bool) -> Context {
        let home = PathBuf::from(if os == Os::Macos {
            "/Users/ana"
        } else {
            "/home/ana"
        });
        Context {
            os,
            system,
            home,
            config_home: None,
            uid: 501,
            netmon_home: None,
            binary: PathBuf::from("/opt/net mon/bin/netmon"),
        }
    }

    fn plist_of(xml: &str) -> Dictionary {
        Value::from_reader_xml(xml.as_bytes())
            .unwrap()
            .into_dictionary()
            .unwrap()
    }

    #[test]
    fn daemon_plist_parses_back_key_by_key() {
        let plan = install_plan(&context(Os::Macos, false)).unwrap();
        assert_eq!(
            plan.files[0].path,
            Path::new("/Users/ana/Library/LaunchAgents/com.networkmonitor.daemon.plist")
        );
        let agent = plist_of(&plan.files[0].contents);
        let keys: Vec<&str> = agent.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Label",
                "ProgramArguments",
                "RunAtLoad",
                "KeepAlive",
                "ProcessType",
                "StandardOutPath",
                "StandardErrorPath"
            ]
        );
        assert_eq!(agent["Label"].as_string(), Some(DAEMON_LABEL));
        let program: Vec<&str> = agent["ProgramArguments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_string)
            .collect();
        assert_eq!(program, ["/opt/net mon/bin/netmon", "run"]);
        assert_eq!(agent["RunAtLoad"].as_boolean(), Some(true));
        let keep_alive = agent["KeepAlive"].as_dictionary().unwrap();
        assert_eq!(keep_alive.len(), 1);
        assert_eq!(keep_alive["SuccessfulExit"].as_boolean(), Some(false));
        assert_eq!(agent["ProcessType"].as_string(), Some("Background"));
        assert_eq!(
            agent["StandardOutPath"].as_string(),
            Some("/Users/ana/.netmonitor/logs/daemon.out.log")
        );
        assert_eq!(
            agent["StandardErrorPath"].as_string(),
            Some("/Users/ana/.netmonitor/logs/daemon.err.log")
        );
    }

    #[test]
    fn menubar_plist_runs_the_sibling_binary_in_the_login_session() {
        let mut context = context(Os::Macos, false);
        context.netmon_home = Some(PathBuf::from("/Volumes/data/netmon"));
        let plan = install_plan(&context).unwrap();
        let agent = plist_of(&plan.files[1].contents);
        assert_eq!(agent["Label"].as_string(), Some(MENUBAR_LABEL));
        let program = agent["ProgramArguments"].as_array().unwrap();
        assert_eq!(program.len(), 1);
        assert_eq!(
            program[0].as_string(),
            Some("/opt/net mon/bin/netmon-menubar")
        );
        assert_eq!(agent["ProcessType"].as_string(), Some("Interactive"));
        assert_eq!(agent["LimitLoadToSessionType"].as_string(), Some("Aqua"));
        assert_eq!(
            agent["StandardErrorPath"].as_string(),
            Some("/Volumes/data/netmon/logs/menubar.err.log")
        );
        let environment = agent["EnvironmentVariables"].as_dictionary().unwrap();
        assert_eq!(
            environment["NETMON_HOME"].as_string(),
            Some("/Volumes/data/netmon")
        );
    }

    #[test]
    fn macos_loads_each_agent_into_the_gui_domain() {
        let plan = install_plan(&context(Os::Macos, false)).unwrap();
        let lines: Vec<String> = plan.steps.iter().map(Step::line).collect();
        let agents = "/Users/ana/Library/LaunchAgents";
        assert_eq!(
            lines,
            [
                format!("launchctl bootout gui/501 {agents}/com.networkmonitor.daemon.plist"),
                format!("launchctl bootstrap gui/501 {agents}/com.networkmonitor.daemon.plist"),
                format!("launchctl bootout gui/501 {agents}/com.networkmonitor.menubar.plist"),
                format!("launchctl bootstrap gui/501 {agents}/com.networkmonitor.menubar.plist"),
            ]
        );
        let must: Vec<bool> = plan.steps.iter().map(|step| step.must_succeed).collect();
        assert_eq!(must, [false, true, false, true]);
    }

    #[test]
    fn linux_user_and_system_units() {
        let user = install_plan(&context(Os::Linux, false)).unwrap();
        assert_eq!(
            user.files[0].path,
            Path::new("/home/ana/.config/systemd/user/netmon.service")
        );
        let unit = &user.files[0].contents;
        assert!(
            unit.contains("ExecStart=\"/opt/net mon/bin/netmon\" run\n"),
            "{unit}"
        );
        assert!(unit.contains("Restart=on-failure\n"), "{unit}");
        assert!(unit.contains("RestartPreventExitStatus=77 78\n"), "{unit}");
        assert!(unit.contains("StandardOutput=append:/home/ana/.netmonitor/logs/daemon.out.log\n"));
        assert!(unit.contains("WantedBy=default.target\n"), "{unit}");
        assert_eq!(
            user.steps[1].line(),
            "systemctl --user enable --now netmon.service"
        );

        let system = install_plan(&context(Os::Linux, true)).unwrap();
        assert_eq!(
            system.files[0].path,
            Path::new("/etc/systemd/system/netmon.service")
        );
        assert!(system.files[0]
            .contents
            .contains("WantedBy=multi-user.target\n"));
        assert_eq!(
            system.steps[1].line(),
            "systemctl enable --now netmon.service"
        );
    }

    #[test]
    fn xdg_config_home_moves_the_user_unit() {
        let mut context = context(Os::Linux, false);
        context.config_home = Some(PathBuf::from("/cfg"));
        let plan = install_plan(&context).unwrap();
        assert_eq!(
            plan.files[0].path,
            Path::new("/cfg/systemd/user/netmon.service")
        );
    }

    #[test]
    fn unit_paths_are_escaped_or_refused() {
        let mut context = context(Os::Linux, false);
        context.binary = PathBuf::from("/opt/100%/netmon");
        let unit = systemd_unit(&context).unwrap();
        assert!(
            unit.contains("ExecStart=\"/opt/100%%/netmon\" run"),
            "{unit}"
        );
        context.binary = PathBuf::from("/opt/a\"b/netmon");
        let error = install_plan(&context).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot be written into a systemd unit"),
            "{error}"
        );
        context.binary = PathBuf::from("netmon");
        let error = install_plan(&context).unwrap_err();
        assert_eq!(error.to_string(), "the binary path netmon must be absolute");
    }

    #[test]
    fn uninstall_removes_what_install_writes() {
        for (os, system) in [(Os::Macos, false), (Os::Linux, false), (Os::Linux, true)] {
            let context = context(os, system);
            let written: Vec<PathBuf> = install_plan(&context)
                .unwrap()
                .files
                .into_iter()
                .map(|file| file.path)
                .collect();
            let removed: Vec<PathBuf> = uninstall_plan(&context)
                .files
                .into_iter()
                .map(|file| file.path)
                .collect();
            assert_eq!(written, removed, "{os:?}");
        }
    }
}
