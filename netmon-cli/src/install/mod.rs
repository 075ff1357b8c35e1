//! `netmon install` / `netmon uninstall`: start netmon at login.
//!
//! A pure [`Plan`] (files to write, commands to run) from a [`Context`], then either printed
//! (`--print`, which changes nothing) or carried out. [`launchd`] plans macOS: two LaunchAgents
//! in `~/Library/LaunchAgents` (the daemon and the menubar), written with the `plist` crate and
//! loaded with `launchctl bootstrap gui/UID`. [`systemd`] plans Linux: a user unit
//! (`~/.config/systemd/user`) or, for root, a system unit (`/etc/systemd/system`), enabled and
//! started with `systemctl`. Both restart netmon when it crashes but not after a clean exit, and
//! send its stdout/stderr into the logs directory. Labels, unit names and file locations come
//! from `netmon_core::service`.

mod launchd;
mod systemd;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::{Args, Subcommand};
use netmon_core::os::{self, Platform};
use netmon_core::paths::{self, Paths};
use netmon_core::service::{Locations, Scope};

use crate::exit;

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
    /// The system to install for: macos or linux (default: this one).
    #[arg(long, value_name = "SYSTEM", value_parser = str::parse::<Platform>)]
    os: Option<Platform>,
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

/// Where and how netmon is installed: everything the files and commands depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub os: Platform,
    /// Linux only: a system unit rather than a user unit.
    pub scope: Scope,
    /// Where the service files go: the system's root, the user's home and `$XDG_CONFIG_HOME`.
    pub locations: Locations,
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
                .unwrap_or_else(|| self.locations.home.join(".netmonitor")),
        )
    }

    /// `logs/<name>.out.log` and `logs/<name>.err.log`, where a service's output goes.
    fn output_logs(&self, name: &str) -> (PathBuf, PathBuf) {
        let logs = self.paths().logs();
        (
            logs.join(format!("{name}.out.log")),
            logs.join(format!("{name}.err.log")),
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
    /// Files: [`exit::IO`]; a command or the system refused: [`exit::FAILURE`]; the arguments
    /// cannot work: [`exit::USAGE`].
    fn exit_code(&self) -> u8 {
        match self {
            InstallError::Io { .. } | InstallError::Paths(_) => exit::IO,
            InstallError::Step { .. } | InstallError::CurrentExe(_) | InstallError::Plist(_) => {
                exit::FAILURE
            }
            _ => exit::USAGE,
        }
    }
}

pub fn run(command: Command) -> u8 {
    let outcome = match command {
        Command::Install(args) => install(&args),
        Command::Uninstall(target) => uninstall(&target),
    };
    match outcome {
        Ok(()) => exit::OK,
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
    let menubar = launchd::menubar_binary(&context.binary);
    if context.os == Platform::Macos && !menubar.is_file() {
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
    let plan = uninstall_plan(&context)?;
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
    let os = target.os.unwrap_or_else(Platform::current);
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let home = absolute("HOME").ok_or(InstallError::NoHome)?;
    let netmon_home = absolute(paths::HOME_ENV);
    let uid = os::effective_uid();
    if os == Platform::Macos && (target.system || target.user) {
        return Err(InstallError::ScopeOnMacos);
    }
    let system = target.system || (!target.user && uid == 0);
    Ok(Context {
        os,
        scope: if system { Scope::System } else { Scope::User },
        locations: Locations {
            root: PathBuf::from("/"),
            home,
            config_home: absolute("XDG_CONFIG_HOME"),
        },
        uid,
        netmon_home,
        binary,
    })
}

/// The files and commands that install netmon.
pub fn install_plan(context: &Context) -> Result<Plan, InstallError> {
    if !context.binary.is_absolute() {
        return Err(InstallError::RelativeBinary(context.binary.clone()));
    }
    match context.os {
        Platform::Macos => launchd::install_plan(context),
        Platform::Linux => systemd::install_plan(context),
        Platform::Other => Err(InstallError::UnsupportedOs),
    }
}

/// The files and commands that uninstall netmon (the files' contents are left empty).
pub fn uninstall_plan(context: &Context) -> Result<Plan, InstallError> {
    match context.os {
        Platform::Macos => Ok(launchd::uninstall_plan(context)),
        Platform::Linux => Ok(systemd::uninstall_plan(context)),
        Platform::Other => Err(InstallError::UnsupportedOs),
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

fn text(path: &Path) -> Result<String, InstallError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| InstallError::NotUtf8(path.to_path_buf()))
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

/// A context for `ana` with a binary path holding a space.
#[cfg(test)]
fn test_context(os: Platform, scope: Scope) -> Context {
    let home = PathBuf::from(if os == Platform::Macos {
        "/Users/ana"
    } else {
        "/home/ana"
    });
    Context {
        os,
        scope,
        locations: Locations {
            root: PathBuf::from("/"),
            home,
            config_home: None,
        },
        uid: 501,
        netmon_home: None,
        binary: PathBuf::from("/opt/net mon/bin/netmon"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uninstall_removes_what_install_writes() {
        for (os, scope) in [
            (Platform::Macos, Scope::User),
            (Platform::Linux, Scope::User),
            (Platform::Linux, Scope::System),
        ] {
            let context = test_context(os, scope);
            let written: Vec<PathBuf> = install_plan(&context)
                .unwrap()
                .files
                .into_iter()
                .map(|file| file.path)
                .collect();
            let removed: Vec<PathBuf> = uninstall_plan(&context)
                .unwrap()
                .files
                .into_iter()
                .map(|file| file.path)
                .collect();
            assert_eq!(written, removed, "{os:?}");
        }
    }
}
