//! Databases of older schema versions for the migration tests: built with that version's own
//! migrations, holding zen's 9600 received bytes in one hour in every tier.

use netmon_core::store;

const DAY: i64 = 24 * 3_600_000;

/// A database at `version` at `path` (UTC days), with zen's 9600 bytes in the hour `hour_ms`.
pub fn database(path: &std::path::Path, version: i64, hour_ms: i64) {
    let mut connection = store::Connection::open(path).unwrap();
    store::register_functions(&connection, jiff::tz::TimeZone::UTC).unwrap();
    assert_eq!(
        store::migrate_to(&mut connection, version).unwrap(),
        version
    );
    let (hour, day) = (hour_ms, hour_ms - hour_ms.rem_euclid(DAY));
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
