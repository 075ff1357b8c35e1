//! What the menubar shows, computed from the daemon's answers: the status item's title and level,
//! and the menu's items. Pure and platform-neutral; the macOS layer only renders a [`Menu`].

use netmon_core::condition::Condition;
use netmon_core::units;

use crate::api::{AppTotals, LiveRates, Summary};

/// How busy the network is, shown by the status item's icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Idle,
    Low,
    Medium,
    High,
}

impl Level {
    /// The symbol drawn for the level (a filled share of a bar).
    pub fn symbol(self) -> &'static str {
        match self {
            Level::Idle => "○",
            Level::Low => "◔",
            Level::Medium => "◑",
            Level::High => "●",
        }
    }
}

/// The combined rate (bytes per second, both directions) at which each level starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    low: f64,
    medium: f64,
    high: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdsError {
    #[error("level thresholds must be finite numbers of bytes per second above 0, got {0}")]
    NotPositive(f64),
    #[error(
        "level thresholds must rise: low {low} < medium {medium} < high {high} (bytes per second)"
    )]
    NotRising { low: f64, medium: f64, high: f64 },
}

impl Default for Thresholds {
    /// Low from 10 KB/s, medium from 1 MB/s, high from 10 MB/s.
    fn default() -> Self {
        Self {
            low: 10_000.0,
            medium: 1_000_000.0,
            high: 10_000_000.0,
        }
    }
}

impl Thresholds {
    /// Thresholds in bytes per second; each must be positive and above the previous one.
    pub fn new(low: f64, medium: f64, high: f64) -> Result<Self, ThresholdsError> {
        if let Some(bad) = [low, medium, high]
            .into_iter()
            .find(|value| !value.is_finite() || *value <= 0.0)
        {
            return Err(ThresholdsError::NotPositive(bad));
        }
        if !(low < medium && medium < high) {
            return Err(ThresholdsError::NotRising { low, medium, high });
        }
        Ok(Self { low, medium, high })
    }

    /// The level of a combined rate: each threshold belongs to the level it starts.
    pub fn level(&self, bytes_per_second: f64) -> Level {
        match bytes_per_second {
            rate if rate >= self.high => Level::High,
            rate if rate >= self.medium => Level::Medium,
            rate if rate >= self.low => Level::Low,
            _ => Level::Idle,
        }
    }
}

/// What the menubar knows of the daemon at one moment.
#[derive(Debug, Clone, PartialEq)]
pub enum Daemon {
    /// The local API did not answer.
    Down,
    Up(Running),
}

/// A daemon that answers: its pause flag, how it runs, the last live sample and history (when
/// available).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Running {
    pub paused: bool,
    /// The capture mode and what went wrong with its files at start.
    pub condition: Condition,
    pub live: Option<LiveRates>,
    /// `None` when the daemon has no history database or it could not answer.
    pub summary: Option<Summary>,
    /// Today's applications, busiest first.
    pub top_apps: Vec<AppTotals>,
}

/// What a menu item does when chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    OpenDashboard,
    Pause,
    Resume,
    StartDaemon,
    ViewLogs,
    Quit,
}

/// One line of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Text only (greyed out by the menu).
    Info(String),
    Separator,
    Command {
        label: String,
        action: Action,
    },
}

/// The status item and its menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    pub title: String,
    pub level: Level,
    pub items: Vec<Item>,
}

/// How many applications the menu lists.
pub const TOP_APPS: usize = 3;

impl Menu {
    /// The texts of the menu's information lines, in order.
    pub fn infos(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Info(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The menu for the daemon's state.
    pub fn build(daemon: &Daemon, thresholds: &Thresholds) -> Menu {
        match daemon {
            Daemon::Down => down(),
            Daemon::Up(running) if running.paused => paused(running),
            Daemon::Up(running) => active(running, thresholds),
        }
    }

    /// The actions the menu offers, in order.
    pub fn actions(&self) -> Vec<Action> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Command { action, .. } => Some(*action),
                _ => None,
            })
            .collect()
    }
}

fn command(label: &str, action: Action) -> Item {
    Item::Command {
        label: label.into(),
        action,
    }
}

fn footer(toggle: Item) -> Vec<Item> {
    vec![
        Item::Separator,
        command("Open Dashboard", Action::OpenDashboard),
        toggle,
        command("View Logs", Action::ViewLogs),
        Item::Separator,
        command("Quit", Action::Quit),
    ]
}

fn down() -> Menu {
    let items = [
        Item::Info("Daemon not running".into()),
        command("Start Daemon", Action::StartDaemon),
        Item::Separator,
        command("View Logs", Action::ViewLogs),
        Item::Separator,
        command("Quit", Action::Quit),
    ];
    Menu {
        title: "netmon: off".into(),
        level: Level::Idle,
        items: items.into(),
    }
}

/// What limits the daemon, one line each: the degraded capture mode, a database set aside, a
/// config.json it ignores.
pub fn warnings(condition: &Condition) -> Vec<Item> {
    let limited = condition
        .capture
        .filter(|mode| mode.is_limited())
        .map(|_| "limited: no root capture (no domains from the wire)");
    let database = condition
        .database_set_aside
        .as_ref()
        .map(|_| "database was unreadable: set aside, a new one started");
    let config = condition
        .config_problem
        .as_ref()
        .map(|_| "config.json ignored: running on the defaults");
    [limited, database, config]
        .into_iter()
        .flatten()
        .map(|text| Item::Info(text.into()))
        .collect()
}

fn paused(running: &Running) -> Menu {
    let items = std::iter::once(Item::Info("Monitoring paused".into()))
        .chain(warnings(&running.condition))
        .chain(history(running))
        .chain(footer(command("Resume Monitoring", Action::Resume)))
        .collect();
    Menu {
        title: "netmon: paused".into(),
        level: Level::Idle,
        items,
    }
}

fn active(running: &Running, thresholds: &Thresholds) -> Menu {
    let (title, level) = match &running.live {
        Some(live) => (rate_title(live), thresholds.level(live.total())),
        None => ("↓ –".to_string(), Level::Idle),
    };
    let items = warnings(&running.condition)
        .into_iter()
        .chain(history(running))
        .chain(footer(command("Pause Monitoring", Action::Pause)))
        .collect();
    Menu {
        title,
        level,
        items,
    }
}

/// The busier direction's rate, e.g. `↓1.2 MB/s` (received wins a tie).
pub fn rate_title(live: &LiveRates) -> String {
    if live.sent_bytes_per_second > live.received_bytes_per_second {
        format!("↑{}", units::rate(live.sent_bytes_per_second))
    } else {
        format!("↓{}", units::rate(live.received_bytes_per_second))
    }
}

/// Today's and this week's totals and today's top applications.
fn history(running: &Running) -> impl Iterator<Item = Item> + '_ {
    let totals = match &running.summary {
        Some(summary) => vec![
            Item::Info(format!(
                "Today: ↓{} ↑{}",
                units::bytes(summary.today.received),
                units::bytes(summary.today.sent)
            )),
            Item::Info(format!("This week: {}", units::bytes(summary.week.total()))),
        ],
        None => vec![Item::Info("History unavailable".into())],
    };
    let apps: Vec<Item> = if running.top_apps.is_empty() {
        vec![Item::Info("No application traffic today".into())]
    } else {
        running
            .top_apps
            .iter()
            .take(TOP_APPS)
            .map(|app| Item::Info(format!("{}  {}", app.app, units::bytes(app.total()))))
            .collect()
    };
    totals
        .into_iter()
        .chain([Item::Separator, Item::Info("Top apps today".into())])
        .chain(apps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Totals;

    fn live(received: f64, sent: f64) -> LiveRates {
        LiveRates {
            received_bytes_per_second: received,
            sent_bytes_per_second: sent,
        }
    }

    fn running() -> Running {
        Running {
            paused: false,
            condition: Condition::default(),
            live: Some(live(1_234_567.0, 20_000.0)),
            summary: Some(Summary {
                today: Totals {
                    sent: 300_000_000,
                    received: 1_200_000_000,
                },
                week: Totals {
                    sent: 1_000_000_000,
                    received: 4_000_000_000,
                },
            }),
            top_apps: ["firefox", "curl", "slack", "mail"]
                .iter()
                .zip([900_000_000, 50_000_000, 2_000, 1])
                .map(|(app, received)| AppTotals {
                    app: app.to_string(),
                    sent: 0,
                    received,
                })
                .collect(),
        }
    }

    #[test]
    fn levels_start_at_their_thresholds() {
        let thresholds = Thresholds::new(100.0, 1_000.0, 10_000.0).unwrap();
        let cases = [
            (0.0, Level::Idle),
            (99.9, Level::Idle),
            (100.0, Level::Low),
            (999.0, Level::Low),
            (1_000.0, Level::Medium),
            (9_999.9, Level::Medium),
            (10_000.0, Level::High),
            (1e12, Level::High),
        ];
        for (rate, level) in cases {
            assert_eq!(thresholds.level(rate), level, "rate {rate}");
        }
    }

    #[test]
    fn level_counts_both_directions() {
        let mut state = running();
        state.live = Some(live(600_000.0, 600_000.0));
        let menu = Menu::build(&Daemon::Up(state), &Thresholds::default());
        assert_eq!(menu.level, Level::Medium);
        assert_eq!(menu.title, "↓600.0 KB/s");
    }

    #[test]
    fn thresholds_must_be_positive_and_rising() {
        assert_eq!(
            Thresholds::new(0.0, 1.0, 2.0),
            Err(ThresholdsError::NotPositive(0.0))
        );
        assert!(matches!(
            Thresholds::new(1.0, f64::NAN, 2.0),
            Err(ThresholdsError::NotPositive(_))
        ));
        let error = Thresholds::new(5.0, 5.0, 9.0).unwrap_err();
        assert!(error.to_string().contains("low 5 < medium 5"), "{error}");
    }

    #[test]
    fn running_title_shows_the_busier_direction_with_units() {
        let menu = Menu::build(&Daemon::Up(running()), &Thresholds::default());
        assert_eq!(menu.title, "↓1.2 MB/s");
        assert_eq!(menu.level, Level::Medium);
        assert_eq!(rate_title(&live(10.0, 2_500.0)), "↑2.5 KB/s");
        assert_eq!(rate_title(&live(0.0, 0.0)), "↓0 B/s");
    }

    #[test]
    fn running_menu_lists_totals_top_three_apps_and_pause() {
        let menu = Menu::build(&Daemon::Up(running()), &Thresholds::default());
        assert_eq!(
            menu.infos(),
            [
                "Today: ↓1.2 GB ↑300.0 MB",
                "This week: 5.0 GB",
                "Top apps today",
                "firefox  900.0 MB",
                "curl  50.0 MB",
                "slack  2.0 KB",
            ]
        );
        assert_eq!(
            menu.actions(),
            [
                Action::OpenDashboard,
                Action::Pause,
                Action::ViewLogs,
                Action::Quit
            ]
        );
    }

    #[test]
    fn running_without_a_sample_or_history_says_so() {
        let state = Running {
            paused: false,
            condition: Condition::default(),
            live: None,
            summary: None,
            top_apps: vec![],
        };
        let menu = Menu::build(&Daemon::Up(state), &Thresholds::default());
        assert_eq!(menu.title, "↓ –");
        assert_eq!(menu.level, Level::Idle);
        assert_eq!(
            menu.infos(),
            [
                "History unavailable",
                "Top apps today",
                "No application traffic today"
            ]
        );
    }

    #[test]
    fn the_degraded_mode_and_files_set_aside_are_shown_first() {
        use netmon_core::condition::CaptureMode;
        let mut state = running();
        state.condition.capture = Some(CaptureMode::Nettop);
        let menu = Menu::build(&Daemon::Up(state.clone()), &Thresholds::default());
        assert_eq!(
            menu.infos()[..2],
            [
                "limited: no root capture (no domains from the wire)",
                "Today: ↓1.2 GB ↑300.0 MB"
            ]
        );
        for full in [CaptureMode::Pktap, CaptureMode::Pcap] {
            state.condition.capture = Some(full);
            let menu = Menu::build(&Daemon::Up(state.clone()), &Thresholds::default());
            assert_eq!(menu.infos()[0], "Today: ↓1.2 GB ↑300.0 MB", "{full:?}");
        }
        state.condition = Condition {
            capture: Some(CaptureMode::Nettop),
            running_as: None,
            database_set_aside: Some("/h/network_monitor.db.corrupt-1".into()),
            config_problem: Some("not valid JSON".into()),
        };
        state.paused = true;
        let menu = Menu::build(&Daemon::Up(state), &Thresholds::default());
        assert_eq!(
            menu.infos()[..4],
            [
                "Monitoring paused",
                "limited: no root capture (no domains from the wire)",
                "database was unreadable: set aside, a new one started",
                "config.json ignored: running on the defaults",
            ]
        );
    }

    #[test]
    fn daemon_down_offers_start_and_no_dashboard() {
        let menu = Menu::build(&Daemon::Down, &Thresholds::default());
        assert_eq!(menu.title, "netmon: off");
        assert_eq!(menu.level, Level::Idle);
        assert_eq!(menu.infos(), ["Daemon not running"]);
        assert_eq!(
            menu.actions(),
            [Action::StartDaemon, Action::ViewLogs, Action::Quit]
        );
    }

    #[test]
    fn paused_daemon_offers_resume_and_idles_whatever_the_rate() {
        let mut state = running();
        state.paused = true;
        state.live = Some(live(50_000_000.0, 0.0));
        let menu = Menu::build(&Daemon::Up(state), &Thresholds::default());
        assert_eq!(menu.title, "netmon: paused");
        assert_eq!(menu.level, Level::Idle);
        assert_eq!(menu.infos()[0], "Monitoring paused");
        assert!(menu.infos().contains(&"Today: ↓1.2 GB ↑300.0 MB"));
        let actions = menu.actions();
        assert!(actions.contains(&Action::Resume) && !actions.contains(&Action::Pause));
    }
}
