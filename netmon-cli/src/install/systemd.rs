//! The Linux plan. `sudo netmon install`: a system unit (`/etc/systemd/system`, root 644)
//! that runs `netmon run --user USER` at boot: capture opens as root, then netmon becomes the
//! user and keeps its files in that user's home; its output goes to the journal. `--no-root`:
//! a user unit (`~/.config/systemd/user`) whose output goes into the logs directory. Both are
//! enabled and started with `systemctl`.

use std::path::{Path, PathBuf};

use netmon_core::paths;
use netmon_core::service::{self, Scope, UNIT_NAME};

use super::plan::{text, Context, Directory, File, Owner, Plan, Step};
use super::InstallError;
use crate::exit;

const UNIT_MODE: u32 = 0o644;

/// The unit, then `daemon-reload` and `enable --now`. A system install first disables and
/// removes a user unit of the same user found beside it, so only one netmon runs.
pub fn install_plan(context: &Context) -> Result<Plan, InstallError> {
    let owner = match context.scope {
        Scope::System => Owner::Root,
        Scope::User => Owner::User,
    };
    let replaced = context
        .replaces_user_install()
        .then(|| remove(context, Scope::User));
    let steps = replaced
        .iter()
        .flat_map(|plan| plan.steps.clone())
        .chain([
            systemctl(context, context.scope, &["daemon-reload"], true),
            systemctl(
                context,
                context.scope,
                &["enable", "--now", UNIT_NAME],
                true,
            ),
        ])
        .collect();
    Ok(Plan {
        directories: directories(context),
        files: vec![File {
            path: unit_path(context, context.scope),
            contents: systemd_unit(context)?,
            owner,
            mode: UNIT_MODE,
        }],
        steps,
        removals: replaced.map(|plan| plan.removals).unwrap_or_default(),
    })
}

/// Each of `scopes`' unit: `disable --now`, `daemon-reload`, the unit removed.
pub fn uninstall_plan(context: &Context, scopes: &[Scope]) -> Plan {
    scopes
        .iter()
        .map(|&scope| remove(context, scope))
        .fold(Plan::default(), Plan::then)
}

fn remove(context: &Context, scope: Scope) -> Plan {
    Plan {
        steps: vec![
            systemctl(context, scope, &["disable", "--now", UNIT_NAME], false),
            systemctl(context, scope, &["daemon-reload"], false),
        ],
        removals: vec![unit_path(context, scope)],
        ..Plan::default()
    }
}

/// A user unit appends its output into the logs directory, which must exist; the system
/// daemon creates its files itself once it is the user.
fn directories(context: &Context) -> Vec<Directory> {
    if context.scope == Scope::System {
        return Vec::new();
    }
    let paths = context.paths();
    [paths.home.clone(), paths.logs()]
        .into_iter()
        .map(|path| Directory {
            path,
            owner: Owner::User,
            mode: paths::DIR_MODE,
        })
        .collect()
}

fn unit_path(context: &Context, scope: Scope) -> PathBuf {
    let path = context.locations.daemon_file(context.os, scope);
    path.unwrap_or_default()
}

/// A word of a systemd command line: quoted, `%` doubled.
fn unit_word(word: &str) -> Result<String, InstallError> {
    if word.contains(['\n', '"', '\\']) {
        return Err(InstallError::UnitPath(word.to_string()));
    }
    Ok(format!("\"{}\"", word.replace('%', "%%")))
}

/// A path in a systemd setting's value (not split into words): `%` doubled.
fn unit_value(path: &Path) -> Result<String, InstallError> {
    let path = text(path)?;
    if path.contains('\n') {
        return Err(InstallError::UnitPath(path));
    }
    Ok(path.replace('%', "%%"))
}

/// The systemd unit: `netmon run` (with `--user USER` for the system unit), restarted after a
/// crash but not after a clean exit, nor after exits that a restart cannot fix (no permission
/// to capture, an unusable configuration).
pub fn systemd_unit(context: &Context) -> Result<String, InstallError> {
    let environment = match &context.netmon_home {
        Some(home) => format!(
            "Environment=\"{}={}\"\n",
            paths::HOME_ENV,
            unit_word(&text(home)?)?.trim_matches('"')
        ),
        None => String::new(),
    };
    let command = std::iter::once(unit_word(&text(&context.binary)?))
        .chain(
            context
                .run_arguments()
                .iter()
                .map(|word| match word.as_str() {
                    "run" | "--service" | "--user" => Ok(word.clone()),
                    name => unit_word(name),
                }),
        )
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    let (output, wanted_by) = match context.scope {
        Scope::System => (String::new(), "multi-user.target"),
        Scope::User => {
            let (out, err) = context.output_logs("daemon");
            let output = format!(
                "StandardOutput=append:{}\nStandardError=append:{}\n",
                unit_value(&out)?,
                unit_value(&err)?
            );
            (output, "default.target")
        }
    };
    Ok(format!(
        "[Unit]\n\
         Description=netmon network monitor\n\
         After=network.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={command}\n\
         {environment}\
         Restart=on-failure\n\
         RestartSec=5\n\
         RestartPreventExitStatus={} {}\n\
         {output}\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        exit::NOT_PERMITTED,
        exit::CONFIG,
    ))
}

/// `systemctl` for a scope; root reaches a user's own manager with `--machine=USER@`.
fn systemctl(context: &Context, scope: Scope, args: &[&str], must_succeed: bool) -> Step {
    let machine = format!("--machine={}@", context.user.name);
    let reach_user = scope == Scope::User && context.scope == Scope::System;
    let args: Vec<&str> = service::systemctl_args(scope, args)
        .into_iter()
        .flat_map(|arg| match arg {
            "--user" if reach_user => vec![arg, machine.as_str()],
            _ => vec![arg],
        })
        .collect();
    Step::new("systemctl", &args, must_succeed)
}
