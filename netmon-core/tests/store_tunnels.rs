//! VPN tunnels in the store: a database of the previous schema version (built here with that
//! version's migrations and rows in every tier) upgrades to the version with `hourly_tunnels`
//! with its data intact; a sample's tunnels are then kept per hour beside usage (which holds the
//! overhead only), and retention and purge delete them with the hourly tier.

use netmon_core::sample::{SampleStats, TunnelUsage, Usage};
use netmon_core::store::{self, Range, Store, TunnelTotal};
use netmon_core::{Direction, Sample};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-10-30 12:00 UTC.
const NOON: i64 = 1_793_361_600_000;

fn all_time() -> Range {
    Range {
        start_ms: 0,
        end_ms: i64::MAX,
    }
}

/// The previous version's database: zen received 9600 bytes on one hour, in every tier.
fn previous_version(path: &std::path::Path) {
    let mut connection = store::Connection::open(path).unwrap();
    store::register_functions(&connection, jiff::tz::TimeZone::UTC).unwrap();
    let previous = store::current_version() - 1;
    assert_eq!(
        store::migrate_to(&mut connection, previous).unwrap(),
        previous
    );
    let hour = NOON - 24 * HOUR;
    let day = hour - hour.rem_euclid(DAY);
    connection
        .execute_batch(&format!(
            "INSERT INTO applications (id, name, first_seen_ms, last_seen_ms) VALUES (1, 'zen', 0, 0);
             INSERT INTO network_samples VALUES ({hour}, 5000, 1, 0, 0, 9600, 8, 0);
             INSERT INTO sample_totals VALUES ({hour}, 0, 5000, 9600, 8);
             INSERT INTO hourly_aggregates VALUES ({hour}, 1, 0, 0, 9600, 8);
             INSERT INTO hourly_app_totals VALUES ({hour}, 1, 0, 9600, 8);
             INSERT INTO hourly_totals VALUES ({hour}, 0, 9600, 8);
             INSERT INTO daily_aggregates VALUES ({day}, 1, 0, 0, 9600, 8);
             INSERT INTO daily_app_totals VALUES ({day}, 1, 0, 9600, 8);
             INSERT INTO daily_totals VALUES ({day}, 0, 9600, 8);"
        ))
        .unwrap();
}

/// A sample in which `app` received `inner` bytes through the VPN `vpnd`, whose transport
/// received `outer`: usage holds the inner bytes and the overhead.
fn vpn_sample(start_ms: i64, inner: u64, outer: u64) -> Sample {
    let usage = |app: &str, bytes| Usage {
        app: app.into(),
        destination: None,
        direction: Direction::Received,
        bytes,
        packets: 1,
    };
    Sample {
        start_ms,
        end_ms: start_ms + 5000,
        usage: vec![usage("curl", inner), usage("vpnd", outer - inner)],
        processes: vec![],
        stats: SampleStats {
            tunnels: vec![TunnelUsage {
                vpn: "vpnd".into(),
                interfaces: vec!["tun0".into()],
                inner_received: inner,
                outer_received: outer,
                ..TunnelUsage::default()
            }],
            ..SampleStats::default()
        },
    }
}

fn vpnd(inner_received: u64, outer_received: u64) -> Vec<TunnelTotal> {
    vec![TunnelTotal {
        vpn: "vpnd".into(),
        inner_received,
        outer_received,
        ..TunnelTotal::default()
    }]
}

#[test]
fn the_previous_version_upgrades_and_then_keeps_tunnels_beside_usage() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    previous_version(&path);
    let mut store = Store::open_in_zone(&path, jiff::tz::TimeZone::UTC).unwrap();
    assert_eq!(store.schema_version().unwrap(), store::current_version());
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(
        store.totals(all_time()).unwrap().received,
        9600,
        "old usage kept"
    );
    assert!(store.tunnels(all_time()).unwrap().is_empty());

    store
        .write(&[
            vpn_sample(NOON, 100_000, 104_000),
            vpn_sample(NOON + 5000, 50_000, 52_000),
        ])
        .unwrap();
    assert_eq!(
        store.totals(all_time()).unwrap().received,
        9600 + 156_000,
        "each byte once: inner plus overhead, the outer bytes' worth"
    );
    assert_eq!(store.tunnels(all_time()).unwrap(), vpnd(150_000, 156_000));
    let before_noon = Range {
        start_ms: 0,
        end_ms: NOON,
    };
    assert!(store.tunnels(before_noon).unwrap().is_empty());

    // Retention keeps the hourly tier's days; purge before the next hour deletes them.
    store.apply_retention(NOON + HOUR, 1, 30).unwrap();
    assert_eq!(store.tunnels(all_time()).unwrap(), vpnd(150_000, 156_000));
    store.apply_retention(NOON + 40 * DAY, 1, 30).unwrap();
    assert!(
        store.tunnels(all_time()).unwrap().is_empty(),
        "gone with the hourly tier"
    );
    store.write(&[vpn_sample(NOON, 10, 20)]).unwrap();
    store.purge(Some(NOON + HOUR)).unwrap();
    assert!(store.tunnels(all_time()).unwrap().is_empty(), "purged");
    assert_eq!(store.integrity_check().unwrap(), "ok");
}
