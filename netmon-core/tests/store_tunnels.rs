//! VPN tunnels in the store: a database of the version before tunnels (built with that
//! version's migrations and rows in every tier) upgrades to the version with `hourly_tunnels`
//! with its data intact; a sample's tunnels are then kept per hour beside usage (which holds the
//! overhead only), and retention and purge delete them with the hourly tier.

mod older;

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

/// The version before `hourly_tunnels`.
const VERSION_BEFORE_TUNNELS: i64 = 4;

/// A database of the version before tunnels: zen received 9600 bytes on one hour, in every tier.
fn previous_version(path: &std::path::Path) {
    older::database(path, VERSION_BEFORE_TUNNELS, NOON - 24 * HOUR);
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
