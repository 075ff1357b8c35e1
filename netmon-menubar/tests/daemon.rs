//! The menubar against the real netmon server (security gate included) on 127.0.0.1: the
//! client reads the API's real answers, the menu shows them, pause goes through, the live
//! stream arrives, and the runner notifies once when today's usage is above the threshold.

use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use jiff::ZonedDateTime;
use netmon_core::sample::{SampleStats, Usage};
use netmon_core::{Config, Direction, Paths, Sample};
use netmon_menubar::api::Client;
use netmon_menubar::model::{Action, Daemon, Menu, Thresholds};
use netmon_menubar::notify::Notification;
use netmon_menubar::runner::Runner;
use netmon_menubar::watch;
use netmon_server::AppState;

/// A free port in the range the configuration accepts (7000–7999), a different one for each
/// test of this run.
fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(7999);
    std::iter::from_fn(|| Some(NEXT.fetch_sub(1, Ordering::SeqCst)))
        .take_while(|port| *port >= 7000)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port from 7000 to 7999")
}

fn usage(app: &str, direction: Direction, bytes: u64) -> Usage {
    Usage::new(app, direction, bytes)
}

/// A sample ending now.
fn sample(usage: Vec<Usage>) -> Sample {
    let now = netmon_core::clock::unix_ms();
    Sample {
        start_ms: now - 2000,
        end_ms: now,
        usage,
        processes: vec![],
        stats: SampleStats::default(),
    }
}

/// Serves a state whose history holds today's usage of three apps, on a thread of its own.
fn serve(home: &Path, config: Config) -> AppState {
    let paths = Paths::at(home);
    paths.ensure().unwrap();
    config.save(&paths.config()).unwrap();
    let mut store = netmon_core::store::Store::open(&paths.database()).unwrap();
    store
        .write(&[sample(vec![
            usage("zen", Direction::Received, 3_000_000),
            usage("zen", Direction::Sent, 500_000),
            usage("curl", Direction::Received, 40_000),
            usage("mail", Direction::Received, 2_000),
            usage("ssh", Direction::Sent, 100),
        ])])
        .unwrap();
    let reader = netmon_core::store::Store::open(&paths.database()).unwrap();
    let state = AppState::with_store(paths, config, Arc::new(AtomicBool::new(false)), reader);
    let served = state.clone();
    let (ready, bound) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = netmon_server::bind(served.port()).await.unwrap();
            ready.send(()).unwrap();
            listener
                .serve(served, std::future::pending::<()>())
                .await
                .unwrap();
        });
    });
    bound.recv_timeout(Duration::from_secs(10)).unwrap();
    state
}

fn config(port: u16) -> Config {
    Config {
        web_server_port: port,
        ..Config::default()
    }
}

#[test]
fn the_menu_shows_the_daemons_answers_and_pause_goes_through() {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let state = serve(temp.path(), config(port));
    let client = Client::new(port);

    let daemon = watch::look(&client, &ZonedDateTime::now(), None);
    let menu = Menu::build(&daemon, &Thresholds::default());
    assert_eq!(
        menu.infos(),
        [
            "Today: ↓3.0 MB ↑500.1 KB",
            "This week: 3.5 MB",
            "Top apps today",
            "zen  3.5 MB",
            "curl  40.0 KB",
            "mail  2.0 KB",
        ]
    );
    assert!(menu.actions().contains(&Action::Pause));

    client.set_paused(true).unwrap();
    assert!(state.paused(), "the daemon is paused");
    let daemon = watch::look(&client, &ZonedDateTime::now(), None);
    let menu = Menu::build(&daemon, &Thresholds::default());
    assert_eq!(menu.title, "netmon: paused");
    assert!(menu.actions().contains(&Action::Resume));
    client.set_paused(false).unwrap();
    assert!(!state.paused());
}

#[test]
fn the_daemons_degraded_mode_reaches_the_menu() {
    use netmon_core::condition::{CaptureMode, Condition};
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let state = serve(temp.path(), config(port));
    let client = Client::new(port);
    state.set_condition(Condition {
        capture: Some(CaptureMode::Nettop),
        database_set_aside: Some("/h/network_monitor.db.corrupt-20261130T010000Z".into()),
        ..Condition::default()
    });
    let daemon = watch::look(&client, &ZonedDateTime::now(), None);
    let menu = Menu::build(&daemon, &Thresholds::default());
    assert_eq!(
        menu.infos()[..2],
        [
            "limited: no root capture (no domains from the wire)",
            "database was unreadable: set aside, a new one started"
        ]
    );
    state.set_capture_mode(CaptureMode::Pktap);
    let daemon = watch::look(&client, &ZonedDateTime::now(), None);
    let menu = Menu::build(&daemon, &Thresholds::default());
    assert!(!menu.infos().iter().any(|info| info.starts_with("limited")));
}

#[test]
fn live_samples_arrive_over_sse() {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let state = serve(temp.path(), config(port));
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = Client::new(port).follow_live(|rates| {
            let _ = sender.send(rates);
        });
    });
    // Publish until the stream (subscribed asynchronously) delivers one.
    let rates = (0..50)
        .find_map(|_| {
            state.publish(sample(vec![usage("zen", Direction::Received, 4000)]));
            received.recv_timeout(Duration::from_millis(200)).ok()
        })
        .expect("a live event within 10 s");
    assert_eq!(rates.received_bytes_per_second, 2000.0);
    assert_eq!(rates.sent_bytes_per_second, 0.0);
}

#[test]
fn an_absent_daemon_is_down() {
    let port = free_port();
    let daemon = watch::look(&Client::new(port), &ZonedDateTime::now(), None);
    assert_eq!(daemon, Daemon::Down);
}

/// A runner for the netmon home at `home`, with the menus and notifications it hands over.
fn start_runner(home: &Path) -> (Runner, mpsc::Receiver<Menu>, mpsc::Receiver<Notification>) {
    let (menus, shown) = mpsc::channel();
    let (alerts, alerted) = mpsc::channel();
    let runner = Runner::start(
        Paths::at(home),
        Thresholds::default(),
        move |menu| {
            let _ = menus.send(menu);
        },
        move |alert| {
            let _ = alerts.send(alert);
        },
    );
    (runner, shown, alerted)
}

/// A daemon serving the fixture history, with notifications on and a daily threshold of 1 MB,
/// from a directory of its own.
fn serve_notifying_above_1_mb() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    let config = Config {
        enable_notifications: true,
        high_usage_threshold_gb: 0.001,
        ..config(free_port())
    };
    serve(temp.path(), config);
    temp
}

#[test]
fn the_runner_notifies_once_above_the_threshold() {
    let temp = serve_notifying_above_1_mb();
    let (runner, shown, alerted) = start_runner(temp.path());
    let alert = alerted.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(alert.title, "High network usage");
    assert_eq!(
        alert.body,
        "3.5 MB used today, above your daily threshold of 1.0 MB"
    );
    let menu = shown.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(menu.infos().contains(&"zen  3.5 MB"), "{menu:?}");
    runner.refresh();
    shown.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        alerted.recv_timeout(Duration::from_millis(500)).is_err(),
        "a second look at the same day does not notify again"
    );
}

#[test]
fn a_daily_budget_on_everything_stands_for_the_threshold() {
    let temp = serve_notifying_above_1_mb();
    // What the daemon makes of the threshold: a budget on everything per day.
    let mut store = netmon_core::store::Store::open(&Paths::at(temp.path()).database()).unwrap();
    store.adopt_threshold(0.001, 0).unwrap().unwrap();
    let (runner, shown, alerted) = start_runner(temp.path());
    shown.recv_timeout(Duration::from_secs(10)).unwrap();
    runner.refresh();
    shown.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        alerted.recv_timeout(Duration::from_millis(500)).is_err(),
        "the budget's alert says it; the threshold rule does not say it again"
    );
}

#[test]
fn the_runner_notifies_each_new_daemon_alert_once() {
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = Config {
        enable_notifications: true,
        ..config(port)
    };
    serve(temp.path(), config);
    let (runner, shown, alerted) = start_runner(temp.path());
    shown.recv_timeout(Duration::from_secs(10)).unwrap();
    // The daemon raises an alert: a budget of 4 MB a day on zen, at 88 %.
    let mut store = netmon_core::store::Store::open(&Paths::at(temp.path()).database()).unwrap();
    let spec = netmon_core::budget::BudgetSpec::new(
        Ok(netmon_core::budget::Scope::App("zen".into())),
        Ok(netmon_core::budget::Period::Day),
        4_000_000,
        None,
    )
    .unwrap();
    store.add_budget(&spec, 0).unwrap();
    let now = netmon_core::clock::unix_ms();
    let sensitivity = netmon_core::anomaly::Sensitivity::default();
    assert_eq!(
        netmon_core::alerts::evaluate(&mut store, now, &sensitivity)
            .unwrap()
            .len(),
        1
    );
    runner.refresh();
    let notification = alerted.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(notification.title, "Budget at 80 %: zen");
    assert_eq!(
        notification.body,
        "zen has used 80 % of its daily budget: 3.5 MB of 4.0 MB"
    );
    runner.refresh();
    shown.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        alerted.recv_timeout(Duration::from_millis(500)).is_err(),
        "an alert is announced once"
    );
}

/// Off macOS, `netmon-menubar --notify` sends the alert with `notify-send`, once.
#[cfg(not(target_os = "macos"))]
#[test]
fn notify_mode_calls_notify_send_once() {
    use std::os::unix::fs::PermissionsExt;

    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("netmon");
    let port = free_port();
    let config = Config {
        enable_notifications: true,
        high_usage_threshold_gb: 0.001,
        ..config(port)
    };
    serve(&home, config);
    let bin = temp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = temp.path().join("notify-send.log");
    let fake = bin.join("notify-send");
    std::fs::write(
        &fake,
        "#!/bin/sh\nfor arg in \"$@\"; do echo \"$arg\"; done >> \"$FAKE_LOG\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_netmon-menubar"))
        .arg("--notify")
        .env("NETMON_HOME", &home)
        .env("PATH", path)
        .env("FAKE_LOG", &log)
        .spawn()
        .unwrap();
    let sent = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::read_to_string(&log)
                .ok()
                .filter(|text| !text.is_empty())
        })
        .expect("notify-send within 10 s");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let sent = std::fs::read_to_string(&log).unwrap_or(sent);
    assert_eq!(
        sent.lines().collect::<Vec<_>>(),
        [
            "--app-name=netmon",
            "--urgency=normal",
            "High network usage",
            "3.5 MB used today, above your daily threshold of 1.0 MB"
        ]
    );
}

#[cfg(not(target_os = "macos"))]
#[test]
fn without_notify_the_binary_explains_itself() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_netmon-menubar"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("runs on macOS only"));
}
