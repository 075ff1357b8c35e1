//! End to end: a budget of 4 MB a day on one program (a copy of curl named `dlalert`), set
//! through the API of a running `netmon run` capturing between two network namespaces. The
//! program downloads past 80 % and then past 100 %; each alert arrives on `/api/alerts/live`
//! within one sample interval plus the batch delay (and a second of scheduling slack), once;
//! after netmon restarts on the same database, neither is raised again.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Lab, SERVER_V4};

const INTERVAL_SECONDS: u64 = 1;
const BATCH_SECONDS: u64 = 1;
const LIMIT: u64 = 4_000_000;

/// `dlalert` downloads `bytes` from the server namespace; returns when the transfer is done.
fn download(lab: &Lab, program: &std::path::Path, bytes: u64) -> Instant {
    let mut command = lab.command(&lab.client, program);
    command.args([
        "-sS",
        "-o",
        "/dev/null",
        &format!("http://{SERVER_V4}:8080/bytes/{bytes}"),
    ]);
    let output = lab.run(command);
    assert!(output.status.success(), "download failed: {output:?}");
    Instant::now()
}

/// The alerts received within `timeout`, with how long after `since` each came.
fn alerts_within(
    events: &support::LiveEvents,
    since: Instant,
    timeout: Duration,
) -> Vec<(Value, Duration)> {
    let deadline = Instant::now() + timeout;
    std::iter::from_fn(|| {
        let left = deadline.saturating_duration_since(Instant::now());
        events.next(left).map(|event| (event, since.elapsed()))
    })
    .collect()
}

fn start(lab: &Lab) -> (support::Netmon, netmon_core::Sample) {
    let netmon = lab.start_netmon_on_veth(INTERVAL_SECONDS);
    let first = netmon.wait_ready();
    lab.wait_for_api();
    (netmon, first)
}

#[test]
fn budget_alerts_arrive_live_once_and_not_again_after_a_restart() {
    let mut lab = Lab::new();
    lab.write_config(&netmon_core::Config {
        batch_write_seconds: BATCH_SECONDS,
        ..netmon_core::Config::default()
    });
    lab.start_http_server(8080);
    let program = lab.program_named("curl", "dlalert");
    let (netmon, first) = start(&lab);
    let (status, body) = lab.api_send(
        "POST",
        "/api/budgets",
        &format!(
            r#"{{"scope": "app", "name": "dlalert", "period": "day", "limit_bytes": {LIMIT}}}"#
        ),
    );
    assert_eq!(status, 201, "{body}");
    let alerts = lab.events_of("/api/alerts/live");
    thread::sleep(Duration::from_millis(300));

    let bound = Duration::from_secs(INTERVAL_SECONDS + BATCH_SECONDS + 1);
    // 3.4 MB of 4 MB: past 80 %.
    let done = download(&lab, &program, 3_400_000);
    let warned = alerts_within(&alerts, done, bound + Duration::from_secs(2));
    println!(
        "80 %: {:?}",
        warned.iter().map(|(_, after)| after).collect::<Vec<_>>()
    );
    assert_eq!(warned.len(), 1, "one alert at 80 %: {warned:?}");
    let (alert, after) = &warned[0];
    assert_eq!(
        (alert["kind"].as_str(), alert["level"].as_u64()),
        (Some("budget"), Some(80)),
        "{alert}"
    );
    assert_eq!(alert["subject"], "dlalert");
    assert!(
        *after <= bound,
        "the 80 % alert came {after:?} after the download, later than {bound:?}"
    );

    // 1 MB more: past 100 %.
    let done = download(&lab, &program, 1_000_000);
    let exceeded = alerts_within(&alerts, done, bound + Duration::from_secs(2));
    println!(
        "100 %: {:?}",
        exceeded.iter().map(|(_, after)| after).collect::<Vec<_>>()
    );
    assert_eq!(exceeded.len(), 1, "one alert at 100 %: {exceeded:?}");
    let (alert, after) = &exceeded[0];
    assert_eq!(alert["level"], 100, "{alert}");
    assert!(alert["bytes"].as_u64().unwrap() >= LIMIT, "{alert}");
    assert!(
        *after <= bound,
        "the 100 % alert came {after:?} after the download, later than {bound:?}"
    );
    drop(alerts);
    let (status, _, stderr, _) = netmon.signal_and_wait("TERM", first);
    assert!(status.success(), "netmon exited with {status}: {stderr}");
    let logged = support::files_containing(
        &lab.netmon_home().join("logs"),
        &[
            "alert: dlalert has used 80 %",
            "alert: dlalert has used all of its daily budget",
        ],
    );
    assert!(
        !logged.is_empty() || stderr.contains("alert: dlalert has used all"),
        "the alerts are logged: {stderr}"
    );

    // The same database after a restart: several batch writes, no alert again.
    let (netmon, first) = start(&lab);
    let again = lab.events_of("/api/alerts/live");
    let repeated = alerts_within(
        &again,
        Instant::now(),
        Duration::from_secs(4 * (INTERVAL_SECONDS + BATCH_SECONDS)),
    );
    assert!(
        repeated.is_empty(),
        "raised again after the restart: {repeated:?}"
    );
    let history: Value = serde_json::from_str(&lab.api_get("/api/alerts").unwrap()).unwrap();
    let levels: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|alert| alert["subject"] == "dlalert")
        .map(|alert| alert["level"].as_u64().unwrap())
        .collect();
    assert_eq!(levels, [100, 80], "each once in the history, newest first");
    let (status, _, stderr, _) = netmon.signal_and_wait("TERM", first);
    assert!(status.success(), "{stderr}");
}
