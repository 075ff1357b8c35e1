//! Provenance in the store (schema version 4): a version-3 database upgrades with its
//! per-hostname bytes intact and marked `unrecorded` (or `unresolved` for the `unresolved`
//! domain); new samples keep how each hostname was named in every tier, through retention and
//! purge; and one application's domains.

mod new_york;

use std::collections::BTreeMap;

use new_york::{ny, zone};

use netmon_core::sample::{Provenance, SampleStats, Usage};
use netmon_core::store::{self, Range, Store};
use netmon_core::{Direction, Sample};

const VERSION_BEFORE_PROVENANCE: i64 = 3;

fn all_time() -> Range {
    Range {
        start_ms: 0,
        end_ms: i64::MAX,
    }
}

fn provenance(store: &Store, range: Range) -> Vec<(String, BTreeMap<String, u64>)> {
    store
        .top_domains(range, 10)
        .unwrap()
        .into_iter()
        .map(|total| (total.domain, total.provenance))
        .collect()
}

fn map(entries: &[(&str, u64)]) -> BTreeMap<String, u64> {
    entries
        .iter()
        .map(|(name, bytes)| (name.to_string(), *bytes))
        .collect()
}

#[test]
fn a_version_3_database_upgrades_with_its_hostname_bytes_unrecorded() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    let mut connection = store::Connection::open(&path).unwrap();
    store::register_functions(&connection, zone()).unwrap();
    store::migrate_to(&mut connection, VERSION_BEFORE_PROVENANCE).unwrap();
    // One sample, as version 3 wrote it: raw rows and the per-hostname hourly and daily totals.
    let sample = ny("2026-10-30T12:00:00");
    let (hour, day) = (ny("2026-10-30T12:00:00"), ny("2026-10-30T00:00:00"));
    connection
        .execute_batch(&format!(
            "INSERT INTO applications (id, name, first_seen_ms, last_seen_ms) VALUES (1, 'zen', 0, 0);
             INSERT INTO domains (id, hostname, domain) VALUES
                 (1, 'www.netflix.com', 'netflix.com'), (2, '192.0.2.7', 'unresolved');
             INSERT INTO network_samples VALUES ({sample}, 5000, 1, 1, 0, 100, 1),
                                                ({sample}, 5000, 1, 2, 0, 7, 1);
             INSERT INTO hourly_hostname_totals VALUES ({hour}, 1, 0, 100, 1), ({hour}, 2, 0, 7, 1);
             INSERT INTO daily_hostname_totals VALUES ({day}, 1, 0, 100, 1), ({day}, 2, 0, 7, 1);"
        ))
        .unwrap();
    drop(connection);
    let store = Store::open_in_zone(&path, zone()).unwrap();
    assert_eq!(store.schema_version().unwrap(), store::current_version());
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(
        provenance(&store, all_time()),
        [
            ("netflix.com".into(), map(&[("unrecorded", 100)])),
            ("unresolved".into(), map(&[("unresolved", 7)])),
        ]
    );
    // The raw tier alone (a range within one hour) knows the same.
    let raw = Range {
        start_ms: sample,
        end_ms: sample + 60_000,
    };
    assert_eq!(
        provenance(&store, raw),
        [
            ("netflix.com".into(), map(&[("unrecorded", 100)])),
            ("unresolved".into(), map(&[("unresolved", 7)])),
        ]
    );
}

fn usage(host: &str, domain: &str, provenance: Provenance, bytes: u64) -> Usage {
    Usage::new("zen", Direction::Received, bytes).to(host, domain, provenance)
}

/// One sample every 5 minutes over three days: one CDN address's hostnames named four ways.
fn samples(start_ms: i64) -> Vec<Sample> {
    (0..3 * 24 * 12)
        .map(|n| {
            let start_ms = start_ms + n * 300_000;
            Sample {
                start_ms,
                end_ms: start_ms + 5000,
                usage: vec![
                    usage("www.site-a.com", "site-a.com", Provenance::Sni, 100),
                    usage("cdn.site-a.com", "site-a.com", Provenance::Dns, 10),
                    usage("www.site-b.org", "site-b.org", Provenance::Http, 20),
                    usage("www.site-b.org", "site-b.org", Provenance::Extension, 5),
                    usage("192.0.2.7", "unresolved", Provenance::Unresolved, 1),
                ],
                processes: vec![],
                stats: SampleStats::default(),
            }
        })
        .collect()
}

#[test]
fn new_samples_keep_their_provenance_in_every_tier_through_retention_and_purge() {
    let temp = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_zone(&temp.path().join("db"), zone()).unwrap();
    let start = ny("2026-11-10T00:00:00");
    let batch = samples(start);
    let count = batch.len() as u64;
    store.write(&batch).unwrap();
    let expected = |count: u64| {
        vec![
            (
                "site-a.com".to_string(),
                map(&[("dns", 10 * count), ("sni", 100 * count)]),
            ),
            (
                "site-b.org".to_string(),
                map(&[("extension", 5 * count), ("http", 20 * count)]),
            ),
            ("unresolved".to_string(), map(&[("unresolved", count)])),
        ]
    };
    assert_eq!(provenance(&store, all_time()), expected(count));
    // Raw edges, hourly and daily pieces of a range that does not start on an hour.
    let ragged = Range {
        start_ms: start + 30 * 60_000 - 1,
        end_ms: start + 2 * 86_400_000 + 30 * 60_000 - 1,
    };
    assert_eq!(provenance(&store, ragged), expected(2 * 24 * 12));

    // Retention rolls raw and hourly rows away; the daily tier keeps the breakdown.
    let now = start + 40 * 86_400_000;
    store.apply_retention(now, 7, 30).unwrap();
    assert_eq!(provenance(&store, all_time()), expected(count));
    // Purging the first day takes its bytes out of every naming.
    store.purge(Some(start + 86_400_000)).unwrap();
    assert_eq!(provenance(&store, all_time()), expected(count - 24 * 12));
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn an_application_s_domains_are_its_registrable_domains_busiest_first() {
    let temp = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_zone(&temp.path().join("db"), zone()).unwrap();
    let start = ny("2026-11-10T00:00:00");
    let mut batch = samples(start);
    batch.iter_mut().for_each(|sample| {
        sample.usage.push(Usage {
            app: "curl".into(),
            destination: None,
            direction: Direction::Sent,
            bytes: 1000,
            packets: 1,
        })
    });
    let count = batch.len() as u64;
    store.write(&batch).unwrap();
    let zen: Vec<(String, u64, u64)> = store
        .app_domains("zen", all_time(), 10)
        .unwrap()
        .expect("zen is known")
        .into_iter()
        .map(|total| (total.domain, total.hostnames, total.received))
        .collect();
    assert_eq!(
        zen,
        [
            ("site-a.com".into(), 2, 110 * count),
            ("site-b.org".into(), 1, 25 * count),
            ("unresolved".into(), 1, count),
        ]
    );
    let curl = store.app_domains("curl", all_time(), 10).unwrap();
    assert_eq!(curl, Some(vec![]), "no destinations kept for curl");
    assert_eq!(store.app_domains("nobody", all_time(), 10).unwrap(), None);
}
