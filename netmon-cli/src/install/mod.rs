//! `netmon install` / `netmon uninstall`: start netmon with the system.
//!
//! `sudo netmon install` (the default way) starts netmon at boot as root, so capture opens
//! with root's rights (PKTAP on macOS: packets with their processes and domains), and netmon
//! then becomes the user who ran sudo (`netmon run --user USER`), whose files it keeps.
//! `netmon install --no-root` starts it at login as the user instead: on macOS only nettop can
//! capture then. `netmon uninstall` removes whichever is installed.
//!
//! A pure [`Plan`] (directories, files, commands, removals) from a [`Context`], then either
//! printed (`--print`, which changes nothing) or carried out ([`apply`]). [`launchd`] plans
//! macOS (a LaunchDaemon or LaunchAgents, and the menubar's LaunchAgent), [`systemd`] plans
//! Linux (a system or user unit). Labels, unit names and file locations come from
//! `netmon_core::service`.

mod apply;
mod launchd;
mod plan;
mod systemd;

use std::fs;
use std::io;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use netmon_core::condition::CaptureMode;
use netmon_core::os::privileges::{self, PrivilegeError, User};
use netmon_core::os::{self, files, Platform};
use netmon_core::paths;
use netmon_core::service::{Locations, Scope};

pub use plan::{describe, Context, Plan};

use crate::exit;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start netmon with the system: at boot as root with sudo (full packet capture, then
    /// netmon runs as you), or at login as you with --no-root.
    ///
    /// Example: sudo netmon install
    Install(InstallArgs),
    /// Stop netmon starting with the system: removes the boot-time install, the login-time
    /// one, or both.
    ///
    /// Example: sudo netmon uninstall
    Uninstall(Target),
}

/// Which system, which kind of install, for whom.
#[derive(Debug, Args)]
pub struct Target {
    /// Show what would be written and run, and change nothing.
    #[arg(long)]
    print: bool,
    /// The system to install for: macos or linux (default: this one).
    #[arg(long, value_name = "SYSTEM", value_parser = str::parse::<Platform>)]
    os: Option<Platform>,
    /// Start at login as you instead of at boot as root. On macOS capture is then nettop
    /// only: no domains from the wire, bytes one interval late. A Linux user unit needs the
    /// capture capabilities on the binary.
    #[arg(long, alias = "user", conflicts_with = "system")]
    no_root: bool,
    /// Start at boot as root (the default with sudo).
    #[arg(long)]
    system: bool,
    /// The user netmon runs for and keeps its files for (default: the user who ran sudo).
    #[arg(long, value_name = "USER")]
    run_as: Option<String>,
    /// Write every file under DIR instead of / (packaging, tests).
    #[arg(long, value_name = "DIR", hide = true)]
    root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    target: Target,
    /// The netmon binary to start (default: this one); the menubar is `netmon-menubar` beside it.
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("netmon install supports macOS and Linux; give --os macos or --os linux")]
    UnsupportedOs,
    #[error("$HOME is not set to an absolute path; set it to your home directory")]
    NoHome,
    #[error("{}", choose_mode(*.0))]
    ChooseMode(Platform),
    #[error("{0}; give --run-as with the name of an account on this system")]
    User(PrivilegeError),
    #[error("run as root without sudo, netmon cannot tell whose files to keep: give --run-as USER (on Linux --run-as root keeps them in root's home)")]
    NoUserToRunAs,
    #[error("on macOS netmon runs for a user with a login session (the menubar is theirs): give --run-as with your account's name, not root")]
    RootOnMacos,
    #[error("netmon is installed to start at boot ({0}); a login-time install would run a second netmon: keep it, or remove it first with `sudo netmon uninstall`")]
    SystemInstalled(PathBuf),
    #[error(
        "netmon's boot-time install ({0}) belongs to root: remove it with `sudo netmon uninstall`"
    )]
    UninstallNeedsRoot(PathBuf),
    #[error("the binary path {0} must be absolute")]
    RelativeBinary(PathBuf),
    #[error("there is no netmon binary at {0}; give its path with --binary")]
    MissingBinary(PathBuf),
    #[error("root would start {binary} at boot, but {path} is {why}: whoever can change it could become root. Copy netmon where only root can change it, then install from there:\n    sudo install -d -o root -m 755 /usr/local/libexec\n    sudo install -o root -m 755 {binary} /usr/local/libexec/netmon\n    sudo /usr/local/libexec/netmon install\n(macOS: copy netmon-menubar beside it too)")]
    UntrustedBinary {
        binary: PathBuf,
        path: PathBuf,
        why: String,
    },
    #[error("the text {0:?} cannot be written into a systemd unit: it contains a newline, a quote or a backslash")]
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
    #[error("`{command}` failed: {detail}")]
    Step { command: String, detail: String },
}

impl InstallError {
    /// Files: [`exit::IO`]; a command or the system refused: [`exit::FAILURE`]; root needed:
    /// [`exit::NOT_PERMITTED`]; the arguments cannot work: [`exit::USAGE`].
    fn exit_code(&self) -> u8 {
        match self {
            InstallError::Io { .. } => exit::IO,
            InstallError::Step { .. } | InstallError::CurrentExe(_) | InstallError::Plist(_) => {
                exit::FAILURE
            }
            InstallError::ChooseMode(_)
            | InstallError::UninstallNeedsRoot(_)
            | InstallError::UntrustedBinary { .. } => exit::NOT_PERMITTED,
            _ => exit::USAGE,
        }
    }
}

/// The refusal of a plain `netmon install` without root: the two ways, and what each gives.
fn choose_mode(platform: Platform) -> String {
    let no_root = match platform {
        Platform::Macos => format!(
            "starts at login as you; capture through nettop only: {}",
            CaptureMode::Nettop.cannot_see().unwrap_or_default()
        ),
        _ => "a systemd user unit, started at login as you; capture needs the capabilities on the binary (sudo setcap cap_net_raw,cap_net_admin+eip $(command -v netmon))".to_string(),
    };
    format!(
        "netmon install needs a choice:\n  sudo netmon install         starts at boot as root: packet capture with domains, then netmon runs as you (recommended)\n  netmon install --no-root    {no_root}"
    )
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
        // The path root will run, links resolved, when it exists.
        Some(binary) => fs::canonicalize(binary).unwrap_or_else(|_| binary.clone()),
        None => std::env::current_exe()
            .and_then(fs::canonicalize)
            .map_err(InstallError::CurrentExe)?,
    };
    let target = &args.target;
    let scope = if target.no_root {
        Scope::User
    } else {
        Scope::System
    };
    let context = context(target, scope, binary)?;
    let plan = install_plan(&context)?;
    if target.print {
        print!("{}", describe(&plan));
        return Ok(());
    }
    refuse_install(&context)?;
    if context.os == Platform::Macos {
        let menubar = launchd::menubar_binary(&context.binary);
        if !menubar.is_file() {
            eprintln!(
                "netmon: warning: no menubar at {}; its LaunchAgent will fail until it is there",
                menubar.display()
            );
        }
    }
    apply::apply(&plan, &context)?;
    println!("{}", installed_mode(&context));
    Ok(())
}

/// What cannot be installed as asked, before anything is written.
fn refuse_install(context: &Context) -> Result<(), InstallError> {
    let system_file = || context.locations.daemon_file(context.os, Scope::System);
    match context.scope {
        Scope::System if !os::is_root() => Err(InstallError::ChooseMode(context.os)),
        Scope::User if context.installed.contains(&Scope::System) => Err(
            InstallError::SystemInstalled(system_file().unwrap_or_default()),
        ),
        _ if !context.binary.is_file() => Err(InstallError::MissingBinary(context.binary.clone())),
        Scope::System => match files::changeable_by_others(&context.binary) {
            Some((path, why)) => Err(InstallError::UntrustedBinary {
                binary: context.binary.clone(),
                path,
                why,
            }),
            None => Ok(()),
        },
        Scope::User => Ok(()),
    }
}

/// What the installed mode gives, said after installing.
fn installed_mode(context: &Context) -> String {
    match (context.scope, context.os) {
        (Scope::System, _) => format!(
            "netmon starts at boot as root, opens the packet capture, then runs as {}",
            context.user.name
        ),
        (Scope::User, Platform::Macos) => format!(
            "netmon starts at login as you, in its limited mode (nettop): {}.\nFor packet capture with domains: netmon uninstall, then {}",
            CaptureMode::Nettop.cannot_see().unwrap_or_default(),
            CaptureMode::Nettop.fix().unwrap_or_default()
        ),
        (Scope::User, _) => "netmon starts at login as you; without the capture capabilities on the binary it cannot capture (netmon doctor says)".to_string(),
    }
}

fn uninstall(target: &Target) -> Result<(), InstallError> {
    let acting = if os::is_root() && !target.no_root {
        Scope::System
    } else {
        Scope::User
    };
    let context = context(target, acting, PathBuf::new())?;
    let scopes = match (target.no_root, target.system) {
        (true, _) => vec![Scope::User],
        (_, true) => vec![Scope::System],
        _ if context.installed.is_empty() => vec![acting],
        _ => context.installed.clone(),
    };
    let plan = uninstall_plan(&context, &scopes)?;
    if target.print {
        print!("{}", describe(&plan));
        return Ok(());
    }
    if !plan.removals.iter().any(|path| path.exists()) {
        println!("netmon is not installed: nothing to remove");
        return Ok(());
    }
    let system_file = context.locations.daemon_file(context.os, Scope::System);
    match system_file {
        Some(path) if scopes.contains(&Scope::System) && path.exists() && !os::is_root() => {
            Err(InstallError::UninstallNeedsRoot(path))
        }
        _ => apply::apply(&plan, &context),
    }
}

/// The context from the arguments and this process's environment: `scope` decides whose
/// the service is (the system's, run for the user sudo names, or this user's).
fn context(target: &Target, scope: Scope, binary: PathBuf) -> Result<Context, InstallError> {
    let os = target.os.unwrap_or_else(Platform::current);
    if os == Platform::Other {
        return Err(InstallError::UnsupportedOs);
    }
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let user = match scope {
        Scope::System => user_to_run_as(target, os)?,
        Scope::User => this_user(absolute("HOME").ok_or(InstallError::NoHome)?),
    };
    let root = target.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    // Under a staging root every file goes below it, the user's too.
    let home = match scope {
        Scope::System => root.join(user.home.strip_prefix("/").unwrap_or(&user.home)),
        Scope::User => user.home.clone(),
    };
    let locations = Locations {
        root,
        home,
        config_home: absolute("XDG_CONFIG_HOME").filter(|_| scope == Scope::User),
    };
    Ok(Context {
        os,
        scope,
        installed: locations.installed(os),
        locations,
        user,
        netmon_home: absolute(paths::HOME_ENV),
        binary,
    })
}

/// The user a system install runs netmon for: `--run-as`, else the user who ran sudo, else
/// (not root: `--print` shows what sudo would do) this user.
fn user_to_run_as(target: &Target, os: Platform) -> Result<User, InstallError> {
    let user = match &target.run_as {
        Some(name) => privileges::user_named(name).map_err(InstallError::User)?,
        None if os::is_root() => privileges::target_user(None)
            .map_err(InstallError::User)?
            .ok_or(InstallError::NoUserToRunAs)?,
        None => privileges::user_with_id(os::effective_uid()).map_err(InstallError::User)?,
    };
    if user.uid == 0 && os == Platform::Macos {
        return Err(InstallError::RootOnMacos);
    }
    Ok(user)
}

/// This process's user, at `home` (`$HOME`: the login install's files go there).
fn this_user(home: PathBuf) -> User {
    let uid = os::effective_uid();
    let known = privileges::user_with_id(uid).ok();
    User {
        name: known
            .as_ref()
            .map_or_else(|| uid.to_string(), |user| user.name.clone()),
        uid,
        gid: known.map_or(uid, |user| user.gid),
        home,
    }
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

/// The commands and removals that uninstall `scopes`.
pub fn uninstall_plan(context: &Context, scopes: &[Scope]) -> Result<Plan, InstallError> {
    match context.os {
        Platform::Macos => Ok(launchd::uninstall_plan(context, scopes)),
        Platform::Linux => Ok(systemd::uninstall_plan(context, scopes)),
        Platform::Other => Err(InstallError::UnsupportedOs),
    }
}
