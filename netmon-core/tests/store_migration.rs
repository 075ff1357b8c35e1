//! A database at schema version 2, before the tiers of version 3 (built here with that version's
//! migrations and rows as its retention left them: raw samples, older hourly rows, older daily
//! rows) upgrades with its data intact, the new hourly, daily and per-application tables filled
//! from it.

mod new_york;

use new_york::{ny, zone};

use netmon_core::store::{self, local_day_start, Range, Store};

/// The last version without the hourly and daily tiers.
const VERSION_BEFORE_TIERS: i64 = 2;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn day(date: &str) -> Range {
    let start = ny(&format!("{date}T00:00:00"));
    Range {
        start_ms: start,
        end_ms: local_day_start(start + DAY + 6 * HOUR, &zone()),
    }
}

fn all_time() -> Range {
    Range {
        start_ms: 0,
        end_ms: i64::MAX,
    }
}

/// The previous version's database: zen receives from www.netflix.com, mail sends.
/// Daily rows for Oct 1 and 2, hourly rows for Oct 20 10:00 and 11:00, raw samples on Oct 30
/// at 12:00, 12:15 and 12:30 (New York).
fn previous_version(path: &std::path::Path) {
    let mut connection = store::Connection::open(path).unwrap();
    store::migrate_to(&mut connection, VERSION_BEFORE_TIERS).unwrap();
    let mut sql = String::from(
        "INSERT INTO applications (id, name, first_seen_ms, last_seen_ms) VALUES (1, 'zen', 0, 0), (2, 'mail', 0, 0);
         INSERT INTO domains (id, hostname, domain) VALUES (1, 'www.netflix.com', 'netflix.com');",
    );
    for date in ["2026-10-01", "2026-10-02"] {
        let start = ny(&format!("{date}T00:00:00"));
        sql += &format!(
            "INSERT INTO daily_aggregates VALUES ({start}, 1, 1, 0, 9600, 96), ({start}, 2, 0, 1, 672, 96);"
        );
    }
    for hour in ["10", "11"] {
        let start = ny(&format!("2026-10-20T{hour}:00:00"));
        sql += &format!(
            "INSERT INTO hourly_aggregates VALUES ({start}, 1, 1, 0, 400, 4), ({start}, 2, 0, 1, 28, 4);"
        );
    }
    for minute in ["00", "15", "30"] {
        let start = ny(&format!("2026-10-30T12:{minute}:00"));
        sql += &format!(
            "INSERT INTO network_samples VALUES ({start}, 5000, 1, 1, 0, 100, 1), ({start}, 5000, 2, 0, 1, 7, 1);"
        );
    }
    connection.execute_batch(&sql).unwrap();
}

#[test]
fn the_previous_version_upgrades_with_its_data_in_every_tier() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    previous_version(&path);
    let mut store = Store::open_in_zone(&path, zone()).unwrap();
    assert_eq!(store.schema_version().unwrap(), store::current_version());
    assert_eq!(store.integrity_check().unwrap(), "ok");

    let totals = |store: &Store, range| {
        let t = store.totals(range).unwrap();
        (t.sent, t.received)
    };
    assert_eq!(
        totals(&store, all_time()),
        (2 * 672 + 2 * 28 + 3 * 7, 2 * 9600 + 2 * 400 + 3 * 100)
    );
    assert_eq!(totals(&store, day("2026-10-01")), (672, 9600));
    // Whole days are read from the daily tier: filled from the hourly rows and the samples.
    assert_eq!(totals(&store, day("2026-10-20")), (56, 800));
    assert_eq!(totals(&store, day("2026-10-30")), (21, 300));
    // Hours are read from the hourly tier: filled from the samples.
    let hours = Range {
        start_ms: ny("2026-10-30T12:00:00"),
        end_ms: ny("2026-10-30T13:00:00"),
    };
    assert_eq!(totals(&store, hours), (21, 300));
    // Where only hourly rows were kept, a row counts when its hour starts in the range.
    let straddling = Range {
        start_ms: ny("2026-10-20T10:30:00"),
        end_ms: ny("2026-10-20T11:30:00"),
    };
    assert_eq!(totals(&store, straddling), (28, 400));
    // Where samples were kept, they count one by one.
    let samples = Range {
        start_ms: ny("2026-10-30T12:10:00"),
        end_ms: ny("2026-10-30T12:40:00"),
    };
    assert_eq!(totals(&store, samples), (14, 200));

    let apps: Vec<(String, u64, u64)> = store
        .top_apps(day("2026-10-30"), 10)
        .unwrap()
        .into_iter()
        .map(|app| (app.app, app.sent, app.received))
        .collect();
    assert_eq!(
        apps,
        vec![("zen".to_string(), 0, 300), ("mail".to_string(), 21, 0)]
    );
    let month = Range {
        start_ms: ny("2026-10-01T00:00:00"),
        end_ms: ny("2026-11-01T00:00:00"),
    };
    let domains: Vec<(String, u64)> = store
        .top_domains(month, 10)
        .unwrap()
        .into_iter()
        .map(|domain| (domain.domain, domain.received))
        .collect();
    assert_eq!(domains, vec![("netflix.com".to_string(), 20_300)]);
    let hosts = store
        .hostnames("netflix.com", day("2026-10-20"), 10)
        .unwrap();
    assert_eq!((hosts.len(), hosts[0].received), (1, 800));
    let per_day: Vec<(i64, u64)> = store
        .timeline(month, DAY)
        .unwrap()
        .into_iter()
        .filter(|point| point.received > 0)
        .map(|point| (point.start_ms, point.received))
        .collect();
    assert_eq!(
        per_day,
        vec![
            (ny("2026-10-01T00:00:00"), 9600),
            (ny("2026-10-02T00:00:00"), 9600),
            (ny("2026-10-20T00:00:00"), 800),
            (ny("2026-10-30T00:00:00"), 300),
        ]
    );
    let spans = store.tier_spans().unwrap();
    assert_eq!(spans.raw_oldest_ms, Some(ny("2026-10-30T12:00:00")));
    assert_eq!(spans.hourly_oldest_ms, Some(ny("2026-10-20T10:00:00")));
    assert_eq!(spans.daily_oldest_ms, Some(ny("2026-10-01T00:00:00")));
    let rate = store.current_rate().unwrap().unwrap();
    assert_eq!(rate.start_ms, ny("2026-10-30T12:30:00"));
    assert_eq!(rate.received_per_second, 20.0);

    // Retention after the upgrade keeps every day's bytes.
    store
        .apply_retention(ny("2026-11-05T12:00:00"), 1, 10)
        .unwrap();
    assert_eq!(totals(&store, day("2026-10-30")), (21, 300));
    assert_eq!(totals(&store, all_time()), (1421, 20_300));
}

#[test]
fn an_upgraded_database_shrinks_when_purged() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    previous_version(&path);
    {
        // Enough rows for the file to be many pages.
        let connection = store::Connection::open(&path).unwrap();
        let start = ny("2026-10-29T00:00:00");
        let rows: String = (0..20_000)
            .map(|i| format!("({}, 5000, 1, 1, 0, 100, 1)", start + i * 5000))
            .collect::<Vec<_>>()
            .join(",");
        connection
            .execute_batch(&format!("INSERT INTO network_samples VALUES {rows};"))
            .unwrap();
    }
    let mut store = Store::open_in_zone(&path, zone()).unwrap();
    let size = || {
        std::fs::metadata(&path).unwrap().len()
            + std::fs::metadata(path.with_extension("db-wal"))
                .map(|m| m.len())
                .unwrap_or(0)
    };
    let before = size();
    store.purge(None).unwrap();
    let after = size();
    assert!(after < before / 3, "purged: {before} → {after} bytes");
    assert_eq!(store.totals(all_time()).unwrap().received, 0);
}

#[test]
fn opening_reports_each_migration_as_it_starts() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("old.db");
    previous_version(&path);
    let mut seen = Vec::new();
    let store =
        Store::open_reporting(&path, zone(), &mut |migration| seen.push(migration)).unwrap();
    let current = store::current_version();
    let expected: Vec<store::Migration> = (VERSION_BEFORE_TIERS + 1..=current)
        .map(|version| store::Migration {
            version,
            first: VERSION_BEFORE_TIERS + 1,
            target: current,
        })
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(store.schema_version().unwrap(), current);
    drop(store);
    let mut again = Vec::new();
    Store::open_reporting(&path, zone(), &mut |migration| again.push(migration)).unwrap();
    assert!(
        again.is_empty(),
        "an up-to-date database runs no migration: {again:?}"
    );
}
