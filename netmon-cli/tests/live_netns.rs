//! End to end, one process: `netmon run` captures real traffic between two network namespaces
//! and serves the API at the same time; a client of `/api/live` sees every sample as it is
//! taken; SIGTERM stops capture and server together and leaves every byte in the database.

mod support;

use std::thread;
use std::time::Duration;

use netmon_core::Sample;
use serde_json::Value;
use support::{assert_within, bytes_of_app, Lab, API_PORT, SERVER_V4};

/// Lets the last packets of a transfer (FIN, ACK) cross before the counters are read.
const SETTLE: Duration = Duration::from_millis(400);

/// Bytes of `app` in a live event (its rates times the sample's length).
fn event_bytes(event: &Value, app: &str) -> u64 {
    let seconds =
        (event["end_ms"].as_i64().unwrap() - event["start_ms"].as_i64().unwrap()) as f64 / 1000.0;
    event["apps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rate| rate["app"] == app)
        .map(|rate| {
            let per_second = rate["received_bytes_per_second"].as_f64().unwrap()
                + rate["sent_bytes_per_second"].as_f64().unwrap();
            (per_second * seconds).round() as u64
        })
        .sum()
}

/// The sample netmon printed for the same period as `event`.
fn sample_of<'a>(samples: &'a [Sample], event: &Value) -> &'a Sample {
    samples
        .iter()
        .find(|sample| event["start_ms"] == sample.start_ms)
        .unwrap_or_else(|| panic!("no sample printed for the event {event}"))
}

#[test]
fn live_events_follow_real_traffic() {
    let mut lab = Lab::new();
    lab.start_iperf_server(5201);
    let sender = lab.program_named("iperf3", "udplive");
    let netmon = lab.start_netmon_on_veth(1);
    let first = netmon.wait_ready();
    lab.wait_for_api();
    let live = lab.live_events();
    live.next(Duration::from_secs(10))
        .expect("a first live event within 10 s");

    let before = lab.counters();
    // UDP at a steady 8 Mbit/s for 4 s: about 1 MB in each one-second sample.
    let mut command = lab.command(&lab.client, &sender);
    command.args([
        "-c", SERVER_V4, "-p", "5201", "-u", "-b", "8M", "-t", "4", "-l", "1400",
    ]);
    lab.run(command);
    thread::sleep(SETTLE);
    let after = lab.counters();
    thread::sleep(Duration::from_millis(2500));

    let events: Vec<Value> = std::iter::from_fn(|| live.next(Duration::from_millis(200))).collect();
    let (status, _, stderr, samples) = netmon.signal_and_wait("TERM", first);
    assert!(status.success(), "netmon exited with {status}: {stderr}");
    support::print_apps(&samples);

    events.windows(2).for_each(|pair| {
        assert_eq!(
            pair[0]["end_ms"], pair[1]["start_ms"],
            "live events are consecutive, none skipped"
        );
    });
    let busy = events
        .iter()
        .filter(|event| event_bytes(event, "udplive") >= 500_000)
        .count();
    assert!(
        busy >= 3,
        "{} live events carried at least half a second of the 1 MB/s stream, expected at least 3",
        busy
    );
    events.iter().for_each(|event| {
        let sample = sample_of(&samples, event);
        let printed = bytes_of_app(std::slice::from_ref(sample), "udplive");
        assert_eq!(event_bytes(event, "udplive"), printed, "event {event}");
    });
    let streamed: u64 = events
        .iter()
        .map(|event| event_bytes(event, "udplive"))
        .sum();
    assert_within(
        "udplive over live events",
        streamed,
        after.ip_bytes_since(&before),
        1.0,
    );
}

#[test]
fn sigterm_stops_capture_and_server_and_keeps_every_byte() {
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let download = lab.program_named("curl", "dlterm");
    let netmon = lab.start_netmon_on_veth(1);
    let first = netmon.wait_ready();
    lab.wait_for_api();

    let mut command = lab.command(&lab.client, &download);
    command.args(["-sS", "-4", "-o", "/dev/null"]);
    command.arg(format!("http://{SERVER_V4}:8080/bytes/3000000"));
    lab.run(command);
    thread::sleep(Duration::from_millis(1500));
    let status: Value = serde_json::from_str(&lab.api_get("/api/status").unwrap()).unwrap();
    assert!(status["samples"].as_u64().unwrap() >= 1, "{status}");
    assert!(
        status["capture_source"]
            .as_str()
            .unwrap()
            .contains(&lab.client_if),
        "the API serves while capturing: {status}"
    );

    // A client of the live stream stays connected through the stop.
    let live = lab.live_events();
    live.next(Duration::from_secs(10))
        .expect("a live event within 10 s");

    let (status, took, stderr, samples) = netmon.signal_and_wait("TERM", first);
    assert!(status.success(), "netmon exited with {status}: {stderr}");
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    eprintln!("netmon exited {took:?} after SIGTERM");
    assert!(
        !lab.listens(&lab.client, API_PORT),
        "port {API_PORT} is free after exit"
    );
    let downloaded = bytes_of_app(&samples, "dlterm");
    assert!(downloaded > 3_000_000, "{downloaded}");
    let printed: u64 = samples.iter().map(|sample| sample.stats.bytes).sum();
    let stored = lab.stored_totals();
    assert_eq!(
        stored.sent + stored.received,
        printed,
        "the database holds every sample after SIGTERM"
    );
}

#[test]
fn with_nothing_flowing_events_come_rarely_and_the_first_packet_brings_them_back() {
    let mut lab = Lab::new();
    lab.silence_router_solicitations();
    let sender = lab.program_named("bash", "lonepkt");
    // As a service runs: nobody reads a sample per interval from stdout.
    let _netmon = lab.start_netmon_on_veth_with(1, &[]);
    lab.wait_for_api();
    let live = lab.live_events();
    let length_ms =
        |event: &Value| event["end_ms"].as_i64().unwrap() - event["start_ms"].as_i64().unwrap();

    // One-second windows; once one was empty, an empty one runs on up to 12 s.
    let quiet = std::iter::from_fn(|| live.next(Duration::from_secs(20)))
        .take(10)
        .find(|event| length_ms(event) >= 8_000)
        .expect("an event covering a quiet stretch of at least 8 s");
    assert_eq!(quiet["apps"], Value::Array(Vec::new()), "{quiet}");

    // The next window runs on past its end too. The first packet then ends it at once, and
    // counts in the next one.
    thread::sleep(Duration::from_millis(2500));
    let mut command = lab.command(&lab.client, &sender);
    // bash's own printf writes the datagram, 972 bytes of data, on a socket bash keeps open a
    // moment (its sleep does not inherit it) for its owner to be found.
    command.arg("-c").arg(format!(
        "exec 3>/dev/udp/{SERVER_V4}/9; printf '%0972d' 0 >&3; sleep 1 3>&-"
    ));
    lab.spawn(command);
    let sent_at = std::time::Instant::now();
    let ended = live
        .next(Duration::from_secs(13))
        .expect("an event after the packet");
    let after = sent_at.elapsed();
    assert!(
        after < Duration::from_millis(1500),
        "the quiet window ended {after:?} after the packet: {ended}"
    );
    assert!(length_ms(&ended) >= 2_000, "the quiet window: {ended}");
    let counted = live
        .next(Duration::from_secs(3))
        .expect("the packet's window");
    let seconds = length_ms(&counted) as f64 / 1000.0;
    let sent: f64 = counted["apps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rate| rate["app"] == "lonepkt")
        .map(|rate| rate["sent_bytes_per_second"].as_f64().unwrap() * seconds)
        .sum();
    assert_eq!(
        sent.round(),
        1000.0,
        "the datagram, 972 bytes of data in 1000 IP bytes: {counted}"
    );
}
