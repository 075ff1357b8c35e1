//! The Linux plan: a systemd unit, a user unit or a system one, enabled with `systemctl`.

use std::path::{Path, PathBuf};

use netmon_core::paths;
use netmon_core::service::{self, Scope, UNIT_NAME};

use super::{text, Context, File, InstallError, Plan, Step};
use crate::exit;

/// The unit, then `daemon-reload` and `enable --now`.
pub fn install_plan(context: &Context) -> Result<Plan, InstallError> {
    Ok(Plan {
        files: vec![File {
            path: unit_path(context),
            contents: systemd_unit(context)?,
        }],
        steps: vec![
            systemctl(context, &["daemon-reload"], true),
            systemctl(context, &["enable", "--now", UNIT_NAME], true),
        ],
    })
}

/// `disable --now` and `daemon-reload`, the unit removed.
pub fn uninstall_plan(context: &Context) -> Plan {
    Plan {
        files: vec![File {
            path: unit_path(context),
            contents: String::new(),
        }],
        steps: vec![
            systemctl(context, &["disable", "--now", UNIT_NAME], false),
            systemctl(context, &["daemon-reload"], false),
        ],
    }
}

fn unit_path(context: &Context) -> PathBuf {
    let path = context.locations.daemon_file(context.os, context.scope);
    path.unwrap_or_default()
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
    let (out, err) = context.output_logs("daemon");
    let environment = match &context.netmon_home {
        Some(home) => format!(
            "Environment=\"{}={}\"\n",
            paths::HOME_ENV,
            unit_word(home)?.trim_matches('"')
        ),
        None => String::new(),
    };
    let wanted_by = match context.scope {
        Scope::System => "multi-user.target",
        Scope::User => "default.target",
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
         RestartPreventExitStatus={} {}\n\
         StandardOutput=append:{}\n\
         StandardError=append:{}\n\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        unit_word(&context.binary)?,
        exit::NOT_PERMITTED,
        exit::CONFIG,
        unit_value(&out)?,
        unit_value(&err)?,
    ))
}

fn systemctl(context: &Context, args: &[&str], must_succeed: bool) -> Step {
    let args = service::systemctl_args(context.scope, args);
    Step::new("systemctl", &args, must_succeed)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use netmon_core::os::Platform;

    use super::super::test_context;
    use super::*;

    #[test]
    fn linux_user_and_system_units() {
        let user = install_plan(&test_context(Platform::Linux, Scope::User)).unwrap();
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

        let system = install_plan(&test_context(Platform::Linux, Scope::System)).unwrap();
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
        let mut context = test_context(Platform::Linux, Scope::User);
        context.locations.config_home = Some(PathBuf::from("/cfg"));
        let plan = install_plan(&context).unwrap();
        assert_eq!(
            plan.files[0].path,
            Path::new("/cfg/systemd/user/netmon.service")
        );
    }

    #[test]
    fn unit_paths_are_escaped_or_refused() {
        let mut context = test_context(Platform::Linux, Scope::User);
        context.binary = PathBuf::from("/opt/100%/netmon");
        let unit = systemd_unit(&context).unwrap();
        assert!(
            unit.contains("ExecStart=\"/opt/100%%/netmon\" run"),
            "{unit}"
        );
        context.binary = PathBuf::from("/opt/a\"b/netmon");
        let error = super::super::install_plan(&context).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot be written into a systemd unit"),
            "{error}"
        );
        context.binary = PathBuf::from("netmon");
        let error = super::super::install_plan(&context).unwrap_err();
        assert_eq!(error.to_string(), "the binary path netmon must be absolute");
    }
}
