//! The macOS plan. `sudo netmon install`: a LaunchDaemon (`/Library/LaunchDaemons`, root:wheel
//! 644) that runs `netmon run --user USER` at boot, so PKTAP opens as root before netmon
//! becomes the user, plus the menubar's LaunchAgent for that user. `--no-root`: two
//! LaunchAgents (the daemon, which can then only use nettop, and the menubar). Property lists
//! are written with the `plist` crate and loaded with `launchctl bootstrap` into `system` or
//! the user's `gui/UID`.

use std::path::{Path, PathBuf};

use netmon_core::os::Platform;
use netmon_core::paths;
use netmon_core::service::{self, Scope, DAEMON_LABEL, MENUBAR_LABEL};
use plist::{Dictionary, Value};

use super::plan::{text, Context, Directory, File, Owner, Plan, Step};
use super::InstallError;

/// Property lists and directories are readable by all, written by their owner.
const PLIST_MODE: u32 = 0o644;
const SYSTEM_LOGS_MODE: u32 = 0o755;

/// The daemon (a LaunchDaemon or the user's LaunchAgent) and the menubar's LaunchAgent, each
/// replaced if loaded, then loaded. A system install also unloads and removes a login-time
/// daemon agent found beside it, so only one netmon runs.
pub fn install_plan(context: &Context) -> Result<Plan, InstallError> {
    let daemon = daemon_file(context, context.scope)?;
    let menubar = File {
        path: context.locations.menubar_file(),
        contents: plist_xml(menubar_agent(context)?)?,
        owner: Owner::User,
        mode: PLIST_MODE,
    };
    let replaced = context
        .replaces_user_install()
        .then(|| unload(context, Scope::User, &daemon_path(context, Scope::User)));
    let steps = replaced
        .iter()
        .flat_map(|plan| plan.steps.clone())
        .chain(load(context.scope, context, &daemon.path))
        .chain(load(Scope::User, context, &menubar.path))
        .collect();
    Ok(Plan {
        directories: directories(context),
        files: vec![daemon, menubar],
        steps,
        removals: replaced.map(|plan| plan.removals).unwrap_or_default(),
    })
}

/// Each of `scopes`' daemon, then the menubar: unloaded, then removed.
pub fn uninstall_plan(context: &Context, scopes: &[Scope]) -> Plan {
    scopes
        .iter()
        .map(|&scope| unload(context, scope, &daemon_path(context, scope)))
        .fold(Plan::default(), Plan::then)
        .then(unload(
            context,
            Scope::User,
            &context.locations.menubar_file(),
        ))
}

/// netmon's home and logs (the user's: the login agents write there), and for the system
/// daemon a root-owned directory for its own output.
fn directories(context: &Context) -> Vec<Directory> {
    let system = (context.scope == Scope::System).then(|| Directory {
        path: context.locations.system_logs(),
        owner: Owner::Root,
        mode: SYSTEM_LOGS_MODE,
    });
    let paths = context.paths();
    let users = [paths.home.clone(), paths.logs()].map(|path| Directory {
        path,
        owner: Owner::User,
        mode: paths::DIR_MODE,
    });
    system.into_iter().chain(users).collect()
}

fn daemon_path(context: &Context, scope: Scope) -> PathBuf {
    let path = context.locations.daemon_file(Platform::Macos, scope);
    path.unwrap_or_default()
}

/// The daemon's property list in `scope`: a LaunchDaemon owned by root (no `UserName`: it
/// starts as root and becomes the user itself), or the user's LaunchAgent.
fn daemon_file(context: &Context, scope: Scope) -> Result<File, InstallError> {
    let program = std::iter::once(text(&context.binary))
        .chain(context.run_arguments().into_iter().map(Ok))
        .collect::<Result<Vec<_>, _>>()?;
    let (out, err, owner) = match scope {
        Scope::System => {
            let logs = context.locations.system_logs();
            let (out, err) = (logs.join("daemon.out.log"), logs.join("daemon.err.log"));
            (out, err, Owner::Root)
        }
        Scope::User => {
            let (out, err) = context.output_logs("daemon");
            (out, err, Owner::User)
        }
    };
    let mut daemon = job(context, DAEMON_LABEL, program, (&out, &err))?;
    if scope == Scope::User {
        daemon.insert("ProcessType".into(), Value::String("Background".into()));
    }
    Ok(File {
        path: daemon_path(context, scope),
        contents: plist_xml(daemon)?,
        owner,
        mode: PLIST_MODE,
    })
}

/// The keys every job shares: label, program, start at load, restart after a crash only,
/// where its output goes, `NETMON_HOME` when set.
fn job(
    context: &Context,
    label: &str,
    program: Vec<String>,
    (out, err): (&Path, &Path),
) -> Result<Dictionary, InstallError> {
    let mut keep_alive = Dictionary::new();
    keep_alive.insert("SuccessfulExit".into(), Value::Boolean(false));
    let mut job = Dictionary::new();
    job.insert("Label".into(), Value::String(label.into()));
    job.insert(
        "ProgramArguments".into(),
        Value::Array(program.into_iter().map(Value::String).collect()),
    );
    job.insert("RunAtLoad".into(), Value::Boolean(true));
    job.insert("KeepAlive".into(), Value::Dictionary(keep_alive));
    job.insert("StandardOutPath".into(), Value::String(text(out)?));
    job.insert("StandardErrorPath".into(), Value::String(text(err)?));
    if let Some(netmon_home) = &context.netmon_home {
        let mut environment = Dictionary::new();
        environment.insert(paths::HOME_ENV.into(), Value::String(text(netmon_home)?));
        job.insert(
            "EnvironmentVariables".into(),
            Value::Dictionary(environment),
        );
    }
    Ok(job)
}

/// The menubar's LaunchAgent: `netmon-menubar` beside netmon, in the login session only.
pub fn menubar_agent(context: &Context) -> Result<Dictionary, InstallError> {
    let program = vec![text(&menubar_binary(&context.binary))?];
    let (out, err) = context.output_logs("menubar");
    let mut agent = job(context, MENUBAR_LABEL, program, (&out, &err))?;
    agent.insert("ProcessType".into(), Value::String("Interactive".into()));
    agent.insert(
        "LimitLoadToSessionType".into(),
        Value::String("Aqua".into()),
    );
    Ok(agent)
}

/// `netmon-menubar`, beside the netmon binary.
pub fn menubar_binary(binary: &Path) -> PathBuf {
    binary.with_file_name("netmon-menubar")
}

fn plist_xml(job: Dictionary) -> Result<String, InstallError> {
    let mut bytes = Vec::new();
    Value::Dictionary(job).to_writer_xml(&mut bytes)?;
    bytes.push(b'\n');
    // The writer is given only `String`s, so its XML is UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A copy loaded by an earlier install is replaced by the new one.
fn load(scope: Scope, context: &Context, plist: &Path) -> [Step; 2] {
    let domain = service::launchd_domain(scope, context.user.uid);
    let plist = plist.display().to_string();
    [
        Step::new("launchctl", &["bootout", &domain, &plist], false),
        Step::new("launchctl", &["bootstrap", &domain, &plist], true),
    ]
}

/// Unloads the job of `plist` (nothing to do when it is not loaded), then removes the file.
fn unload(context: &Context, scope: Scope, plist: &Path) -> Plan {
    let domain = service::launchd_domain(scope, context.user.uid);
    Plan {
        steps: vec![Step::new(
            "launchctl",
            &["bootout", &domain, &plist.display().to_string()],
            false,
        )],
        removals: vec![plist.to_path_buf()],
        ..Plan::default()
    }
}
