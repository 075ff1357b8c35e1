//! The metric-building logic alone: the tally's top N and `other`, its counters never going
//! down (a property over random sample sequences), and the exact OpenMetrics text.

use std::collections::BTreeMap;

use netmon_core::sample::{Destination, Direction, Provenance, Sample, SampleStats, Usage};
use proptest::prelude::*;

use super::*;

fn usage(app: &str, domain: Option<&str>, direction: Direction, bytes: u64) -> Usage {
    Usage {
        app: app.into(),
        destination: domain.map(|domain| Destination {
            host: format!("www.{domain}"),
            domain: domain.into(),
            provenance: Provenance::Sni,
        }),
        direction,
        bytes,
        packets: 1,
    }
}

fn sample(usage: Vec<Usage>, dropped_packets: u64) -> Sample {
    Sample {
        start_ms: 0,
        end_ms: 5_000,
        usage,
        processes: vec![],
        stats: SampleStats {
            dropped_packets,
            ..SampleStats::default()
        },
    }
}

fn as_map(series: Vec<(String, Bytes)>) -> BTreeMap<String, (u64, u64)> {
    series
        .into_iter()
        .map(|(name, bytes)| (name, (bytes.sent, bytes.received)))
        .collect()
}

fn tally(steps: &[&[(&str, Direction, u64)]], limit: usize) -> Tally {
    let mut tally = Tally::default();
    steps
        .iter()
        .for_each(|step| tally.add(step.iter().map(|(n, d, b)| (*n, *d, *b)), limit));
    tally
}

use Direction::{Received, Sent};

#[test]
fn under_the_limit_every_name_has_its_series_and_other_is_zero() {
    let tally = tally(
        &[&[("curl", Sent, 10), ("curl", Received, 90), ("ssh", Sent, 7)]],
        3,
    );
    let expected = BTreeMap::from([
        ("curl".to_string(), (10, 90)),
        ("ssh".to_string(), (7, 0)),
        ("other".to_string(), (0, 0)),
    ]);
    assert_eq!(as_map(tally.series()), expected);
}

#[test]
fn beyond_the_limit_the_top_names_keep_series_and_the_rest_is_other() {
    let tally = tally(
        &[&[
            ("small", Sent, 1),
            ("big", Received, 1_000),
            ("middle", Sent, 50),
            ("tiny", Received, 2),
        ]],
        2,
    );
    let expected = BTreeMap::from([
        ("big".to_string(), (0, 1_000)),
        ("middle".to_string(), (50, 0)),
        ("other".to_string(), (1, 2)),
    ]);
    assert_eq!(as_map(tally.series()), expected);
}

#[test]
fn a_name_entering_the_top_counts_from_then_on_and_other_keeps_what_it_had() {
    let mut tally = tally(&[&[("a", Sent, 100), ("b", Sent, 10)]], 1);
    assert_eq!(
        as_map(tally.series()),
        BTreeMap::from([("a".into(), (100, 0)), ("other".into(), (10, 0))])
    );
    // b passes a: b gets a series from this sample on, a's bytes go to other from now.
    tally.add([("b", Sent, 200), ("a", Sent, 5)].into_iter(), 1);
    assert_eq!(
        as_map(tally.series()),
        BTreeMap::from([("b".into(), (200, 0)), ("other".into(), (15, 0))])
    );
}

#[test]
fn an_application_called_other_is_counted_in_other() {
    let tally = tally(&[&[("other", Sent, 500), ("curl", Sent, 1)]], 5);
    assert_eq!(
        as_map(tally.series()),
        BTreeMap::from([("curl".into(), (1, 0)), ("other".into(), (500, 0))])
    );
}

#[test]
fn a_lower_limit_takes_series_away_at_the_next_sample() {
    let mut tally = tally(&[&[("a", Sent, 3), ("b", Sent, 2), ("c", Sent, 1)]], 3);
    tally.add([("c", Sent, 1)].into_iter(), 1);
    assert_eq!(
        as_map(tally.series()),
        BTreeMap::from([("a".into(), (3, 0)), ("other".into(), (1, 0))])
    );
}

#[test]
fn counts_take_domains_from_destinations_and_sum_drops() {
    let mut counts = Counts::default();
    counts.add(
        &sample(
            vec![
                usage("zen", Some("netflix.com"), Received, 4_000),
                usage("zen", Some("github.com"), Sent, 30),
                usage("ssh", None, Sent, 7),
            ],
            3,
        ),
        10,
    );
    counts.add(&sample(vec![], 4), 10);
    assert_eq!(counts.dropped_packets, 7);
    assert_eq!(
        as_map(counts.applications.series()),
        BTreeMap::from([
            ("zen".into(), (30, 4_000)),
            ("ssh".into(), (7, 0)),
            ("other".into(), (0, 0)),
        ])
    );
    assert_eq!(
        as_map(counts.domains.series()),
        BTreeMap::from([
            ("netflix.com".into(), (0, 4_000)),
            ("github.com".into(), (30, 0)),
            ("other".into(), (0, 0)),
        ])
    );
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

#[test]
fn the_exposition_is_openmetrics_text_with_every_value() {
    let snapshot = Snapshot {
        applications: vec![
            (
                "curl".into(),
                Bytes {
                    sent: 1_000,
                    received: 500_000,
                },
            ),
            (
                "other".into(),
                Bytes {
                    sent: 7,
                    received: 0,
                },
            ),
        ],
        domains: vec![(
            "netflix.com".into(),
            Bytes {
                sent: 20,
                received: 4_000,
            },
        )],
        dropped_packets: 3,
        samples: 42,
        database_bytes: Some(65_536),
    };
    let text = exposition(&snapshot);
    assert!(text.ends_with("# EOF\n"), "{text}");
    let expected = r#"# HELP netmon_application_bytes IP bytes per application since metrics were enabled (top metrics_top_n, the rest as other).
# TYPE netmon_application_bytes counter
# UNIT netmon_application_bytes bytes
netmon_application_bytes_total{application="curl",direction="sent"} 1000
netmon_application_bytes_total{application="curl",direction="received"} 500000
netmon_application_bytes_total{application="other",direction="sent"} 7
netmon_application_bytes_total{application="other",direction="received"} 0
# HELP netmon_domain_bytes IP bytes per registrable domain since metrics were enabled (top metrics_top_n, the rest as other).
# TYPE netmon_domain_bytes counter
# UNIT netmon_domain_bytes bytes
netmon_domain_bytes_total{domain="netflix.com",direction="sent"} 20
netmon_domain_bytes_total{domain="netflix.com",direction="received"} 4000
# HELP netmon_capture_dropped_packets Packets the capture source dropped since metrics were enabled.
# TYPE netmon_capture_dropped_packets counter
netmon_capture_dropped_packets_total 3
# HELP netmon_samples Samples taken since netmon started.
# TYPE netmon_samples counter
netmon_samples_total 42
# HELP netmon_database_bytes Size of the history database file.
# TYPE netmon_database_bytes gauge
# UNIT netmon_database_bytes bytes
netmon_database_bytes 65536
# EOF
"#;
    assert_eq!(sorted_lines(&text), sorted_lines(expected), "{text}");
}

#[test]
fn without_a_database_there_is_no_size_and_odd_names_are_escaped() {
    let snapshot = Snapshot {
        applications: vec![(
            "say \"hi\"\\".into(),
            Bytes {
                sent: 1,
                received: 2,
            },
        )],
        domains: vec![],
        dropped_packets: 0,
        samples: 0,
        database_bytes: None,
    };
    let text = exposition(&snapshot);
    assert!(!text.contains("netmon_database_bytes"), "{text}");
    assert!(
        text.contains(
            r#"netmon_application_bytes_total{application="say \"hi\"\\",direction="received"} 2"#
        ),
        "{text}"
    );
}

/// One random sample: a few of eight names, each direction, some bytes.
fn steps() -> impl Strategy<Value = Vec<Vec<(u8, bool, u64)>>> {
    proptest::collection::vec(
        proptest::collection::vec((0u8..8, any::<bool>(), 0u64..1_000_000), 0..6),
        1..20,
    )
}

proptest! {
    /// Whatever the traffic: at most `limit` names have series, they are the top `limit` by
    /// bytes since start, no series ever goes down, and the series (with the last values of
    /// those that left the top, which Prometheus keeps) add up to every byte counted.
    #[test]
    fn series_are_counters_that_add_up(steps in steps(), limit in 1usize..5) {
        let mut tally = Tally::default();
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        let mut before: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut retired = 0u64;
        for step in steps {
            let items: Vec<(String, Direction, u64)> = step
                .into_iter()
                .map(|(name, sent, bytes)| (format!("app{name}"), if sent { Sent } else { Received }, bytes))
                .collect();
            items.iter().for_each(|(name, _, bytes)| *totals.entry(name.clone()).or_default() += bytes);
            tally.add(items.iter().map(|(n, d, b)| (n.as_str(), *d, *b)), limit);
            let now = as_map(tally.series());
            prop_assert!(now.len() <= limit + 1);
            retired += before
                .iter()
                .filter(|(name, _)| !now.contains_key(*name))
                .map(|(_, (sent, received))| sent + received)
                .sum::<u64>();
            let sum: u64 = now.values().map(|(s, r)| s + r).sum();
            prop_assert_eq!(sum + retired, totals.values().sum::<u64>());
            for (name, (sent, received)) in &now {
                if let Some((old_sent, old_received)) = before.get(name) {
                    prop_assert!(sent >= old_sent && received >= old_received, "{} went down", name);
                }
            }
            let mut ranked: Vec<(&String, &u64)> = totals.iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let top: Vec<&String> = ranked.into_iter().take(limit).map(|(name, _)| name).collect();
            let named: Vec<&String> = now.keys().filter(|name| name.as_str() != OTHER).collect();
            let mut top_sorted = top.clone();
            top_sorted.sort();
            prop_assert_eq!(named, top_sorted);
            before = now;
        }
    }
}
