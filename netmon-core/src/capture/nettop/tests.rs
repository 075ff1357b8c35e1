//! nettop's parser, deltas and source on recorded and synthetic output.

use super::*;
use std::net::SocketAddr;
use std::time::Duration;

use crate::capture::{CaptureSource, ConnectionBytes, Observation, ProcessBytes};
use crate::process::ProcessCache;

/// REAL `nettop -P -L 1` output (see the fixture's README).
const REAL: &str = include_str!("../../../fixtures/nettop/per-process-L1.csv");

fn row(pid: u32, name: &str, bytes_in: u64, bytes_out: u64) -> ProcessRow {
    ProcessRow {
        pid,
        name: name.into(),
        bytes_in,
        bytes_out,
        connections: Vec::new(),
    }
}

#[test]
fn the_real_fixture_parses() {
    let snapshots = parse_all(REAL);
    assert_eq!(snapshots.len(), 1);
    let rows = &snapshots[0];
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0], row(1, "launchd", 0, 0));
    assert_eq!(rows[1], row(137, "syslogd", 0, 681));
    assert_eq!(rows[3], row(171, "AirPlayXPCHelpe", 37_142_334, 10_465_911));
    assert_eq!(rows[4], row(205, "mDNSResponder", 257_939_763, 16_666_588));
}

/// SYNTHETIC: a per-connection stream (see fixtures/nettop/README.md).
const CONNECTIONS: &str = include_str!("../../../fixtures/nettop/synthetic-connections.csv");

/// SYNTHETIC: samples of `-J bytes_in,bytes_out` process rows, one string per sample.
fn stream(samples: &[&[(&str, u64, u64)]]) -> String {
    samples
        .iter()
        .map(|rows| {
            let rows: String = rows
                .iter()
                .map(|(name, bytes_in, bytes_out)| {
                    format!("10:00:00.000001,{name},{bytes_in},{bytes_out},\n")
                })
                .collect();
            format!("time,,bytes_in,bytes_out,\n{rows}")
        })
        .collect()
}

fn deltas_of(text: &str) -> Vec<Vec<Delta>> {
    let mut deltas = Deltas::default();
    parse_all(text)
        .iter()
        .map(|snapshot| {
            let mut found = deltas.next(snapshot);
            found.sort_by_key(|delta| delta.pid);
            found
        })
        .collect()
}

fn d(pid: u32, name: &str, received: u64, sent: u64) -> Delta {
    Delta {
        pid,
        name: name.into(),
        received,
        sent,
        connections: Vec::new(),
    }
}

#[test]
fn the_first_sample_is_a_baseline_and_later_ones_are_differences() {
    let text = stream(&[
        &[("apsd.143", 1000, 500), ("curl.9", 10, 10)],
        &[("apsd.143", 1500, 700), ("curl.9", 10, 10)],
        &[("apsd.143", 1500, 900)],
    ]);
    assert_eq!(
        deltas_of(&text),
        [
            vec![],
            vec![d(143, "apsd", 500, 200)],
            vec![d(143, "apsd", 0, 200)]
        ]
    );
}

#[test]
fn new_pids_count_their_first_reading_and_gone_pids_are_forgotten() {
    let text = stream(&[
        &[("apsd.143", 1000, 500)],
        &[("apsd.143", 1000, 500), ("curl.77", 300, 40)],
        &[("apsd.143", 1000, 500)],
        &[("apsd.143", 1000, 500), ("curl.77", 50, 5)],
    ]);
    let deltas = deltas_of(&text);
    assert_eq!(deltas[1], [d(77, "curl", 300, 40)]);
    assert_eq!(deltas[2], []);
    // PID 77 came back (reused): its reading starts over, not from 300.
    assert_eq!(deltas[3], [d(77, "curl", 50, 5)]);
}

#[test]
fn a_counter_that_goes_down_counts_its_new_value() {
    let text = stream(&[
        &[("nsurlsessiond.301", 9000, 9000)],
        &[("nsurlsessiond.301", 100, 9500)],
    ]);
    assert_eq!(deltas_of(&text)[1], [d(301, "nsurlsessiond", 100, 500)]);
}

#[test]
fn names_with_dots_spaces_commas_and_quotes() {
    let text = stream(&[&[
        ("com.apple.WebKi.880", 1, 1),
        ("Google Chrome H.4242", 2, 2),
        ("Foo, Inc. Agent.55", 3, 3),
        ("\"Quoted, App\".56", 4, 4),
        ("no-pid-here", 5, 5),
        ("trailing.", 6, 6),
    ]]);
    let rows = &parse_all(&text)[0];
    let names: Vec<(&str, u32, u64)> = rows
        .iter()
        .map(|row| (row.name.as_str(), row.pid, row.bytes_in))
        .collect();
    assert_eq!(
        names,
        [
            ("com.apple.WebKi", 880, 1),
            ("Google Chrome H", 4242, 2),
            ("Foo, Inc. Agent", 55, 3),
            ("Quoted, App", 56, 4),
        ]
    );
}

#[test]
fn connection_rows_belong_to_the_process_above_them() {
    let snapshots = parse_all(CONNECTIONS);
    assert_eq!(snapshots.len(), 2);
    let chrome = &snapshots[0][0];
    assert_eq!((chrome.pid, chrome.bytes_in), (4242, 5000));
    assert_eq!(chrome.connections.len(), 2);
    assert_eq!(
        chrome.connections[0],
        Connection {
            protocol: 6,
            local: Some("192.168.1.5:53000".parse().unwrap()),
            remote: Some("17.253.144.10:443".parse().unwrap()),
            bytes_in: 4000,
            bytes_out: 800,
        }
    );
    assert_eq!(
        chrome.connections[1].remote,
        Some("[2606:4700::6810:84e5]:443".parse().unwrap())
    );
    let webkit = &snapshots[0][1];
    assert_eq!(webkit.connections.len(), 2);
    assert_eq!(
        webkit.connections[0].local,
        Some("[fe80::1]:5353".parse().unwrap())
    );
    assert_eq!(webkit.connections[0].remote, None);
    assert_eq!(
        remote_endpoints(&snapshots[0]),
        [
            (4242, 6, "17.253.144.10:443".parse().unwrap()),
            (4242, 6, "[2606:4700::6810:84e5]:443".parse().unwrap()),
        ]
    );
    let mut deltas = Deltas::default();
    deltas.next(&snapshots[0]);
    let chrome = Delta {
        connections: vec![conn(6, "192.168.1.5:53000", "17.253.144.10:443", 4000, 500)],
        ..d(4242, "Google Chrome H", 4000, 500)
    };
    assert_eq!(deltas.next(&snapshots[1]), std::slice::from_ref(&chrome));
    assert_eq!(
        chrome.outside_connections(),
        (0, 0),
        "the connection carried all of it"
    );
}

/// A connection's bytes; `local` empty when the connection names none.
fn conn(protocol: u8, local: &str, remote: &str, received: u64, sent: u64) -> ConnectionBytes {
    ConnectionBytes {
        protocol,
        local: local.parse().ok(),
        remote: remote.parse().unwrap(),
        received,
        sent,
    }
}

/// SYNTHETIC: connections closing, reappearing, resetting (see fixtures/nettop/README.md).
const CHURN: &str = include_str!("../../../fixtures/nettop/synthetic-connections-churn.csv");

#[test]
fn connection_deltas_follow_their_connections_through_churn() {
    let deltas = deltas_of(CHURN);
    assert_eq!(deltas.len(), 3);
    assert_eq!(deltas[0], [], "the first sample is a baseline");
    let chrome = Delta {
        connections: vec![
            // Grew by 3000/400.
            conn(6, "192.168.1.5:53000", "17.253.144.10:443", 3000, 400),
            // New since the baseline: its whole reading.
            conn(
                6,
                "[2a01:e0a:1::5]:53002",
                "[2606:4700::6810:84e5]:443",
                2500,
                300,
            ),
            // Went down from 1000/500 (reset): its new value.
            conn(17, "192.168.1.5:61000", "142.250.74.206:443", 200, 100),
        ],
        ..d(4242, "Google Chrome H", 7000, 1000)
    };
    let mdns = d(205, "mDNSResponder", 600, 100);
    let slack = Delta {
        connections: vec![conn(6, "192.168.1.5:53100", "34.237.73.95:443", 800, 200)],
        ..d(5150, "Slack Helper", 800, 200)
    };
    assert_eq!(deltas[1], [mdns.clone(), chrome.clone(), slack.clone()]);
    assert_eq!(
        chrome.outside_connections(),
        (1300, 200),
        "process bytes no connection row covers"
    );
    assert_eq!(
        mdns.outside_connections(),
        (600, 100),
        "an unconnected socket names no remote"
    );
    assert_eq!(slack.outside_connections(), (0, 0));
    // The closed 53001 connection was forgotten: its 4-tuple's return counts from zero,
    // not from the 3000/500 it had at the baseline.
    let returned = Delta {
        connections: vec![conn(6, "192.168.1.5:53001", "142.250.74.206:443", 100, 50)],
        ..d(4242, "Google Chrome H", 100, 50)
    };
    assert_eq!(deltas[2], [returned]);
}

#[test]
fn connections_that_disagree_with_their_process_are_not_counted_twice() {
    let delta = Delta {
        connections: vec![
            conn(6, "", "192.0.2.1:443", 900, 10),
            conn(6, "", "192.0.2.2:443", 300, 10),
        ],
        ..d(1, "x", 1000, 50)
    };
    assert_eq!(delta.outside_connections(), (0, 30));
}

#[test]
fn endpoints_in_every_form() {
    let cases = [
        ("tcp4 10.0.0.1:1<->10.0.0.2:2", "10.0.0.2:2"),
        (
            "udp6 [2001:db8::1]:53<->[2001:db8::2]:5353",
            "[2001:db8::2]:5353",
        ),
        ("tcp6 2001:db8::1.80<->::ffff:1.2.3.4.443", "1.2.3.4:443"),
        ("tcp6 fe80::1%en0:80<->fe80::2%utun3:8080", "[fe80::2]:8080"),
    ];
    for (text, remote) in cases {
        let (_, local, found) = parse_connection(text).unwrap();
        assert!(local.is_some(), "{text}");
        let expected: SocketAddr = remote.parse().unwrap();
        assert_eq!(
            found.map(crate::flow::canonical_socket),
            Some(expected),
            "{text}"
        );
    }
    assert_eq!(parse_connection("icmp4 1.2.3.4<->5.6.7.8"), None);
    assert_eq!(parse_connection("tcp4 garbage"), None);
}

#[test]
fn rows_before_any_header_and_short_rows_are_ignored() {
    let text = "07:00:00.1,early.1,5,5,\ntime,,bytes_in,bytes_out,\n\nx\n07:00:00.2,ok.2,7,8,\n";
    let snapshots = parse_all(text);
    assert_eq!(snapshots, [vec![row(2, "ok", 7, 8)]]);
}

#[test]
fn the_command_wraps_nettop_in_script() {
    let spec = command(5, true);
    assert_eq!(spec.program, "/usr/bin/script");
    assert_eq!(
        spec.display(),
        "/usr/bin/script -q /dev/null /usr/bin/nettop -P -L 0 -s 5 -x -n -t external -J bytes_in,bytes_out"
    );
    assert!(!command(0, false).args.contains(&"-P".to_string()));
    assert!(command(0, false).args.contains(&"1".to_string()));
}

#[test]
fn the_source_reports_bytes_and_survives_a_restart() {
    // A SYNTHETIC nettop: two samples, then a third header, then it exits.
    let text = stream(&[&[("apsd.143", 100, 10)], &[("apsd.143", 160, 25)], &[]]);
    let spec = CommandSpec {
        program: "sh".into(),
        args: vec!["-c".into(), format!("printf '%s' '{text}'; sleep 0.2")],
    };
    let processes = ProcessCache::new(Box::new(|_| None));
    let mut source = NettopSource::start(spec, processes).unwrap();
    assert_eq!(source.describe(), "nettop");
    let mut batch = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // Two runs: each reports the same single delta after its baseline.
    while batch.len() < 2 && std::time::Instant::now() < deadline {
        source.poll(&mut batch).unwrap();
    }
    let reports: Vec<(u32, &str, u64, u64)> = batch
        .iter()
        .filter_map(|observation| match observation {
            Observation::ProcessBytes(report) => Some((
                report.process.pid,
                report.process.app.as_str(),
                report.received,
                report.sent,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(reports, [(143, "apsd", 60, 15), (143, "apsd", 60, 15)]);
}

#[test]
fn the_source_reports_connections_apart_from_the_rest_of_their_process() {
    // A SYNTHETIC nettop without -P: the churn fixture, then it exits.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/nettop/synthetic-connections-churn.csv"
    );
    let spec = CommandSpec {
        program: "sh".into(),
        args: vec!["-c".into(), format!("cat '{fixture}'; sleep 0.2")],
    };
    let processes = ProcessCache::new(Box::new(|_| None));
    let mut source = NettopSource::start(spec, processes).unwrap();
    let mut batch = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while batch.len() < 3 && std::time::Instant::now() < deadline {
        source.poll(&mut batch).unwrap();
    }
    let mut reports: Vec<ProcessBytes> = batch
        .into_iter()
        .filter_map(|observation| match observation {
            Observation::ProcessBytes(report) => Some(report),
            _ => None,
        })
        .take(3)
        .collect();
    reports.sort_by_key(|report| report.process.pid);
    let summary: Vec<(u32, u64, u64, usize)> = reports
        .iter()
        .map(|report| {
            let (sent, received) = (report.sent, report.received);
            (report.process.pid, received, sent, report.connections.len())
        })
        .collect();
    // The last sample is lost with the exit (it is complete only when a header follows).
    assert_eq!(
        summary,
        [(205, 600, 100, 0), (4242, 1300, 200, 3), (5150, 0, 0, 1)]
    );
    let connections = &reports[1].connections;
    let total = (
        reports[1].sent + connections.iter().map(|c| c.sent).sum::<u64>(),
        reports[1].received + connections.iter().map(|c| c.received).sum::<u64>(),
    );
    assert_eq!(total, (1000, 7000), "the process row's total");
    assert_eq!(
        reports[2].connections,
        [conn(6, "192.168.1.5:53100", "34.237.73.95:443", 800, 200)]
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_lines_never_panic(lines in proptest::collection::vec("[a-z0-9.,:<>\\-\" *\\[\\]%]{0,60}", 0..20)) {
        let mut parser = Parser::default();
        let mut deltas = Deltas::default();
        parser.line("time,,bytes_in,bytes_out,");
        for line in &lines {
            if let Some(snapshot) = parser.line(line) {
                for delta in deltas.next(&snapshot) {
                    let (received, sent) = delta.outside_connections();
                    proptest::prop_assert!(received <= delta.received && sent <= delta.sent);
                }
            }
        }
    }
}
