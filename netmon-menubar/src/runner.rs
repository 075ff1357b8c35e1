//! The menubar's background work, shared by every front end: a thread that follows the live SSE
//! stream and a thread that asks the daemon for its state every [`POLL`] (or at once after an
//! action), each handing a fresh [`Menu`] to the front end, plus the notification rules (the
//! high-usage threshold, and the daemon's alerts from `/api/alerts`, each once). Both
//! threads block on the network or a channel between events, so an idle menubar uses no CPU.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::ZonedDateTime;
use netmon_core::config::Config;
use netmon_core::os::{self, Platform};
use netmon_core::paths::Paths;
use netmon_core::service::{self, Scope};

use crate::api::{Client, LiveRates};
use crate::model::{Action, Daemon, Menu, Thresholds};
use crate::notify::{
    daily_budget_on_everything, threshold_bytes, HighUsage, NewAlerts, Notification,
};
use crate::watch;

/// How often the totals, the pause flag and the top applications are asked for.
pub const POLL: Duration = Duration::from_secs(30);
/// How long to wait before reconnecting to a live stream that ended or failed.
pub const RECONNECT: Duration = Duration::from_secs(5);

/// The configuration keys the menubar reads from `config.json` (defaults when it is missing or
/// invalid: the daemon reports an invalid file itself).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub port: u16,
    pub notifications: bool,
    pub threshold_bytes: u64,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            port: config.web_server_port,
            notifications: config.enable_notifications,
            threshold_bytes: threshold_bytes(config.high_usage_threshold_gb),
        }
    }

    /// The settings in `paths`' config.json.
    pub fn read(paths: &Paths) -> Self {
        Self::from_config(&Config::load(&paths.config()).unwrap_or_default())
    }
}

/// What a front end does for an action that leaves the menubar: a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: &'static str,
    pub args: Vec<String>,
}

/// Where the daemon is installed: the system, the scope of its service (from
/// `service::installed_scope`) and the user id of the menubar (for launchd's `gui/UID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    pub platform: Platform,
    pub scope: Scope,
    pub uid: u32,
}

impl Installed {
    /// This system, the service installed for this user (the system daemon when its file
    /// exists, else the user's) and this user.
    pub fn here() -> Self {
        let platform = Platform::current();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let locations = service::Locations {
            root: PathBuf::from("/"),
            home: home.unwrap_or_default(),
            config_home: std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
        };
        Self {
            platform,
            scope: service::installed_scope(&locations, platform),
            uid: os::effective_uid(),
        }
    }
}

/// The program that carries out an action outside the menubar (pause, resume and quit are
/// handled inside it); starting the daemon starts the service that is installed.
pub fn launch(
    action: Action,
    installed: Installed,
    dashboard: &str,
    logs: PathBuf,
) -> Option<Launch> {
    let opener = match installed.platform {
        Platform::Macos => "open",
        Platform::Linux | Platform::Other => "xdg-open",
    };
    let (program, args) = match action {
        Action::OpenDashboard => (opener, vec![dashboard.to_string()]),
        Action::ViewLogs => (opener, vec![logs.display().to_string()]),
        Action::StartDaemon => {
            service::start_daemon(installed.platform, installed.scope, installed.uid)
        }
        Action::Pause | Action::Resume | Action::Quit => return None,
    };
    Some(Launch { program, args })
}

/// The latest state both threads contribute to.
#[derive(Debug, Default)]
struct Latest {
    daemon: Option<Daemon>,
    live: Option<LiveRates>,
}

/// The running background threads; actions go through [`Runner::act`].
pub struct Runner {
    client: Client,
    wake: Sender<()>,
}

impl Runner {
    /// Starts the threads. `show` receives every new menu, `alert` every notification; both are
    /// called on the background threads.
    pub fn start(
        paths: Paths,
        levels: Thresholds,
        show: impl Fn(Menu) + Send + Sync + 'static,
        alert: impl Fn(Notification) + Send + Sync + 'static,
    ) -> Runner {
        let settings = Settings::read(&paths);
        let client = Client::new(settings.port);
        let latest = Arc::new(Mutex::new(Latest::default()));
        let show = Arc::new(show);
        let (wake, woken) = mpsc::channel();
        {
            let (client, latest, show) = (client.clone(), latest.clone(), show.clone());
            std::thread::spawn(move || follow(&client, &latest, &levels, &*show));
        }
        {
            let client = client.clone();
            std::thread::spawn(move || {
                poll(&client, &paths, &latest, &levels, &*show, &alert, &woken)
            });
        }
        Runner { client, wake }
    }

    pub fn dashboard_url(&self) -> &str {
        self.client.dashboard_url()
    }

    /// Pauses or resumes monitoring, then refreshes the menu at once.
    pub fn set_paused(&self, paused: bool) {
        if let Err(error) = self.client.set_paused(paused) {
            eprintln!("netmon-menubar: {error}");
        }
        self.refresh();
    }

    /// Asks the poll thread for a fresh look now.
    pub fn refresh(&self) {
        // The poll thread only stops with the process.
        let _ = self.wake.send(());
    }
}

fn lock(latest: &Mutex<Latest>) -> std::sync::MutexGuard<'_, Latest> {
    latest.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The menu for the latest state with the latest live rates.
fn current_menu(latest: &Latest, levels: &Thresholds) -> Menu {
    let daemon = match &latest.daemon {
        Some(Daemon::Up(running)) => Daemon::Up(crate::model::Running {
            live: latest.live,
            ..running.clone()
        }),
        Some(Daemon::Down) | None => Daemon::Down,
    };
    Menu::build(&daemon, levels)
}

/// Follows the live stream forever, reconnecting after [`RECONNECT`].
fn follow(client: &Client, latest: &Mutex<Latest>, levels: &Thresholds, show: &dyn Fn(Menu)) {
    loop {
        let _ = client.follow_live(|rates| {
            let menu = {
                let mut latest = lock(latest);
                latest.live = Some(rates);
                current_menu(&latest, levels)
            };
            show(menu);
        });
        lock(latest).live = None;
        std::thread::sleep(RECONNECT);
    }
}

/// Looks at the daemon every [`POLL`] or when woken, re-reading the settings each time.
fn poll(
    client: &Client,
    paths: &Paths,
    latest: &Mutex<Latest>,
    levels: &Thresholds,
    show: &dyn Fn(Menu),
    alert: &dyn Fn(Notification),
    woken: &Receiver<()>,
) {
    let mut high_usage = HighUsage::default();
    let mut raised = NewAlerts::default();
    loop {
        let live = lock(latest).live;
        let now = ZonedDateTime::now();
        let daemon = watch::look(client, &now, live);
        let settings = Settings::read(paths);
        // A daily budget on everything announces the same crossing as the daemon's alert; the
        // budgets are asked for only when a notification could be shown.
        let speak = settings.notifications
            && !client
                .budgets()
                .is_ok_and(|budgets| daily_budget_on_everything(&budgets));
        if let Some(today) = watch::today_bytes(&daemon) {
            let crossed = high_usage.observe(speak, now.date(), today, settings.threshold_bytes);
            crossed
                .iter()
                .for_each(|crossed| alert(Notification::from(crossed)));
        }
        // The daemon's alerts (budgets, unusual hours, new applications), each once.
        if let Ok(listed) = client.alerts() {
            raised
                .observe(settings.notifications, &listed)
                .iter()
                .for_each(|fresh| alert(Notification::from(fresh)));
        }
        let menu = {
            let mut latest = lock(latest);
            latest.daemon = Some(daemon);
            current_menu(&latest, levels)
        };
        show(menu);
        match woken.recv_timeout(POLL) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, Running};

    fn installed(platform: Platform, scope: Scope) -> Installed {
        Installed {
            platform,
            scope,
            uid: 501,
        }
    }

    #[test]
    fn launch_commands_per_platform_and_installed_service() {
        let logs = PathBuf::from("/Users/ana/.netmonitor/logs");
        let macos_agent = installed(Platform::Macos, Scope::User);
        let open = launch(
            Action::OpenDashboard,
            macos_agent,
            "http://127.0.0.1:7500",
            logs.clone(),
        )
        .unwrap();
        assert_eq!(
            (open.program, open.args[0].as_str()),
            ("open", "http://127.0.0.1:7500")
        );
        let start = launch(Action::StartDaemon, macos_agent, "", logs.clone()).unwrap();
        assert_eq!(start.program, "launchctl");
        assert_eq!(
            start.args,
            ["kickstart", "gui/501/com.networkmonitor.daemon"]
        );
        let daemon = installed(Platform::Macos, Scope::System);
        let start = launch(Action::StartDaemon, daemon, "", logs.clone()).unwrap();
        assert_eq!(start.program, "osascript");
        assert!(start.args[1].contains("kickstart system/com.networkmonitor.daemon"));
        let linux_user = installed(Platform::Linux, Scope::User);
        let view = launch(Action::ViewLogs, linux_user, "", logs.clone()).unwrap();
        assert_eq!(view.program, "xdg-open");
        assert_eq!(view.args, ["/Users/ana/.netmonitor/logs"]);
        let start = launch(Action::StartDaemon, linux_user, "", logs.clone()).unwrap();
        assert_eq!(start.args, ["--user", "start", "netmon.service"]);
        let linux_system = installed(Platform::Linux, Scope::System);
        let start = launch(Action::StartDaemon, linux_system, "", logs.clone()).unwrap();
        assert_eq!(
            (start.program, start.args),
            (
                "systemctl",
                vec!["start".to_string(), "netmon.service".into()]
            )
        );
        for inside in [Action::Pause, Action::Resume, Action::Quit] {
            assert_eq!(launch(inside, macos_agent, "", logs.clone()), None);
        }
    }

    #[test]
    fn live_rates_replace_the_polled_ones() {
        let latest = Latest {
            daemon: Some(Daemon::Up(Running::default())),
            live: Some(LiveRates {
                received_bytes_per_second: 20_000_000.0,
                sent_bytes_per_second: 0.0,
            }),
        };
        let menu = current_menu(&latest, &Thresholds::default());
        assert_eq!(menu.title, "↓20.0 MB/s");
        assert_eq!(menu.level, Level::High);
        let unknown = current_menu(&Latest::default(), &Thresholds::default());
        assert_eq!(unknown, Menu::build(&Daemon::Down, &Thresholds::default()));
    }

    #[test]
    fn settings_come_from_the_config_file_or_defaults() {
        let temp = tempfile::tempdir().unwrap();
        let paths = Paths::at(temp.path());
        assert_eq!(
            Settings::read(&paths),
            Settings {
                port: 7500,
                notifications: false,
                threshold_bytes: 10_000_000_000
            }
        );
        std::fs::write(
            paths.config(),
            r#"{"web_server_port": 7600, "enable_notifications": true, "high_usage_threshold_gb": 2.5}"#,
        )
        .unwrap();
        assert_eq!(
            Settings::read(&paths),
            Settings {
                port: 7600,
                notifications: true,
                threshold_bytes: 2_500_000_000
            }
        );
    }
}
