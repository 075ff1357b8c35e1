//! The services `netmon install` sets up, named once for the installer and the menubar: labels,
//! unit names, where their files are, which one is installed and how to start it.
//!
//! Two scopes: [`Scope::System`] starts netmon at boot as root (a LaunchDaemon on macOS, a
//! system unit on Linux) so capture opens with root's rights, then netmon runs as the user;
//! [`Scope::User`] starts it at login as the user (a LaunchAgent, a user unit), without root
//! capture. On macOS the menubar is always the user's LaunchAgent.

use std::path::PathBuf;

use crate::os::Platform;

/// The daemon's launchd label (and its property list's name, with `.plist`).
pub const DAEMON_LABEL: &str = "com.networkmonitor.daemon";
/// The menubar's launchd label.
pub const MENUBAR_LABEL: &str = "com.networkmonitor.menubar";
/// The systemd unit's file name.
pub const UNIT_NAME: &str = "netmon.service";

/// Who starts netmon, and with which rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// At boot, as root, then as the user (`netmon run --user NAME`).
    System,
    /// At login, as the user.
    User,
}

/// Where service files go: the system's root (`/`, or a staging directory), and the user's
/// home and `$XDG_CONFIG_HOME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locations {
    pub root: PathBuf,
    pub home: PathBuf,
    pub config_home: Option<PathBuf>,
}

impl Locations {
    /// The file that starts the daemon in `scope` (`None` on a system without a known service
    /// manager).
    pub fn daemon_file(&self, platform: Platform, scope: Scope) -> Option<PathBuf> {
        let plist = format!("{DAEMON_LABEL}.plist");
        match (platform, scope) {
            (Platform::Macos, Scope::System) => {
                Some(self.root.join("Library/LaunchDaemons").join(plist))
            }
            (Platform::Macos, Scope::User) => Some(self.launch_agents().join(plist)),
            (Platform::Linux, Scope::System) => {
                Some(self.root.join("etc/systemd/system").join(UNIT_NAME))
            }
            (Platform::Linux, Scope::User) => Some(
                self.config_home
                    .clone()
                    .unwrap_or_else(|| self.home.join(".config"))
                    .join("systemd/user")
                    .join(UNIT_NAME),
            ),
            (Platform::Other, _) => None,
        }
    }

    /// The menubar's LaunchAgent (macOS).
    pub fn menubar_file(&self) -> PathBuf {
        self.launch_agents().join(format!("{MENUBAR_LABEL}.plist"))
    }

    /// Where the root daemon's own output goes on macOS (launchd opens it as root, so never
    /// inside a user's home).
    pub fn system_logs(&self) -> PathBuf {
        self.root.join("Library/Logs/netmon")
    }

    /// The scopes whose daemon file exists, system first.
    pub fn installed(&self, platform: Platform) -> Vec<Scope> {
        [Scope::System, Scope::User]
            .into_iter()
            .filter(|&scope| {
                self.daemon_file(platform, scope)
                    .is_some_and(|path| path.exists())
            })
            .collect()
    }

    fn launch_agents(&self) -> PathBuf {
        self.home.join("Library/LaunchAgents")
    }
}

/// The launchd domain a scope's jobs live in: `system`, or the user's `gui/UID`.
pub fn launchd_domain(scope: Scope, uid: u32) -> String {
    match scope {
        Scope::System => "system".into(),
        Scope::User => format!("gui/{uid}"),
    }
}

/// `systemctl`'s arguments for a scope: `--user` before the command for a user unit.
pub fn systemctl_args<'a>(scope: Scope, command: &[&'a str]) -> Vec<&'a str> {
    let user: &[&str] = match scope {
        Scope::System => &[],
        Scope::User => &["--user"],
    };
    user.iter().chain(command).copied().collect()
}

/// The command that starts an installed daemon that is not running: program and arguments.
/// Starting the system daemon needs an administrator: on macOS `osascript` asks for the
/// password; on Linux polkit asks through `systemctl`.
pub fn start_daemon(platform: Platform, scope: Scope, uid: u32) -> (&'static str, Vec<String>) {
    let job = format!("{}/{DAEMON_LABEL}", launchd_domain(scope, uid));
    match (platform, scope) {
        (Platform::Macos, Scope::User) => ("launchctl", vec!["kickstart".into(), job]),
        (Platform::Macos, Scope::System) => (
            "osascript",
            vec![
                "-e".into(),
                format!(
                    "do shell script \"launchctl kickstart {job}\" with administrator privileges"
                ),
            ],
        ),
        (Platform::Linux | Platform::Other, scope) => (
            "systemctl",
            systemctl_args(scope, &["start", UNIT_NAME])
                .into_iter()
                .map(str::to_string)
                .collect(),
        ),
    }
}

/// The installed scope the menubar should start and describe: the system daemon when its file
/// exists, else the user's.
pub fn installed_scope(locations: &Locations, platform: Platform) -> Scope {
    locations
        .installed(platform)
        .first()
        .copied()
        .unwrap_or(Scope::User)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn locations(root: &Path) -> Locations {
        Locations {
            root: root.to_path_buf(),
            home: root.join("home/ana"),
            config_home: None,
        }
    }

    #[test]
    fn files_per_platform_and_scope() {
        let at = locations(Path::new("/"));
        let file = |platform, scope| at.daemon_file(platform, scope).unwrap();
        assert_eq!(
            file(Platform::Macos, Scope::System),
            Path::new("/Library/LaunchDaemons/com.networkmonitor.daemon.plist")
        );
        assert_eq!(
            file(Platform::Macos, Scope::User),
            Path::new("/home/ana/Library/LaunchAgents/com.networkmonitor.daemon.plist")
        );
        assert_eq!(
            file(Platform::Linux, Scope::System),
            Path::new("/etc/systemd/system/netmon.service")
        );
        assert_eq!(
            file(Platform::Linux, Scope::User),
            Path::new("/home/ana/.config/systemd/user/netmon.service")
        );
        assert_eq!(at.daemon_file(Platform::Other, Scope::User), None);
    }

    #[test]
    fn the_installed_scope_is_read_from_the_files() {
        let temp = tempfile::tempdir().unwrap();
        let at = locations(temp.path());
        assert_eq!(at.installed(Platform::Linux), []);
        assert_eq!(installed_scope(&at, Platform::Linux), Scope::User);
        let system = at.daemon_file(Platform::Linux, Scope::System).unwrap();
        std::fs::create_dir_all(system.parent().unwrap()).unwrap();
        std::fs::write(&system, "[Unit]\n").unwrap();
        assert_eq!(at.installed(Platform::Linux), [Scope::System]);
        assert_eq!(installed_scope(&at, Platform::Linux), Scope::System);
    }

    #[test]
    fn starting_the_daemon_follows_its_scope() {
        assert_eq!(
            start_daemon(Platform::Macos, Scope::User, 501),
            (
                "launchctl",
                vec![
                    "kickstart".to_string(),
                    "gui/501/com.networkmonitor.daemon".into()
                ]
            )
        );
        let (program, args) = start_daemon(Platform::Macos, Scope::System, 501);
        assert_eq!(program, "osascript");
        assert!(args[1].contains("launchctl kickstart system/com.networkmonitor.daemon"));
        assert_eq!(
            start_daemon(Platform::Linux, Scope::User, 0).1,
            ["--user", "start", "netmon.service"]
        );
        assert_eq!(
            start_daemon(Platform::Linux, Scope::System, 0).1,
            ["start", "netmon.service"]
        );
    }
}
