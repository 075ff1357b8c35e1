//! The schema, as ordered migrations. `PRAGMA user_version` holds how many have run; each
//! runs in its own transaction at open, so a database is always at one version or the next.

use rusqlite::Connection;

use super::StoreError;

/// Migration N (1-based) brings a database from version N-1 to N.
pub const MIGRATIONS: &[&str] = &[
    // 1: the spec's tables. Integer keys; sample rows hold no strings. domain_id 0 = no domain.
    "CREATE TABLE applications (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        exe TEXT,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL
    );
    CREATE TABLE application_processes (
        app_id INTEGER NOT NULL REFERENCES applications(id),
        pid INTEGER NOT NULL,
        name TEXT NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        PRIMARY KEY (app_id, pid)
    ) WITHOUT ROWID;
    CREATE TABLE domains (
        id INTEGER PRIMARY KEY,
        hostname TEXT NOT NULL UNIQUE,
        domain TEXT NOT NULL
    );
    CREATE TABLE network_samples (
        ts_ms INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        app_id INTEGER NOT NULL,
        domain_id INTEGER NOT NULL DEFAULT 0,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL
    );
    CREATE INDEX network_samples_by_time ON network_samples (ts_ms);
    CREATE TABLE hourly_aggregates (
        hour_ms INTEGER NOT NULL,
        app_id INTEGER NOT NULL,
        domain_id INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (hour_ms, app_id, domain_id, direction)
    ) WITHOUT ROWID;
    CREATE TABLE daily_aggregates (
        day_ms INTEGER NOT NULL,
        app_id INTEGER NOT NULL,
        domain_id INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (day_ms, app_id, domain_id, direction)
    ) WITHOUT ROWID;
    CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: per-application queries over the raw tier read by application and time.
    "CREATE INDEX network_samples_by_app ON network_samples (app_id, ts_ms);",
    // 3: every write also adds to the hourly and daily tiers, and to totals per application,
    // per hostname, per sample and overall, so queries read raw rows only for partial hours (see `tiers`).
    // The tiers of an existing database are filled from what it holds; `config` records from
    // when the raw and hourly tiers are complete (the times older retention runs had rolled up).
    // Needs the `local_day` SQL function.
    "CREATE TABLE hourly_app_totals (
        hour_ms INTEGER NOT NULL,
        app_id INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (hour_ms, app_id, direction)
    ) WITHOUT ROWID;
    CREATE TABLE daily_app_totals (
        day_ms INTEGER NOT NULL,
        app_id INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (day_ms, app_id, direction)
    ) WITHOUT ROWID;
    CREATE TABLE sample_totals (
        ts_ms INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (ts_ms, direction)
    ) WITHOUT ROWID;
    CREATE TABLE hourly_hostname_totals (
        hour_ms INTEGER NOT NULL,
        domain_id INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (hour_ms, domain_id, direction)
    ) WITHOUT ROWID;
    CREATE TABLE daily_hostname_totals (
        day_ms INTEGER NOT NULL,
        domain_id INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (day_ms, domain_id, direction)
    ) WITHOUT ROWID;
    CREATE TABLE hourly_totals (
        hour_ms INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (hour_ms, direction)
    ) WITHOUT ROWID;
    CREATE TABLE daily_totals (
        day_ms INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (day_ms, direction)
    ) WITHOUT ROWID;
    CREATE INDEX domains_by_domain ON domains (domain);

    INSERT INTO config (key, value)
        SELECT 'hourly_from_ms', local_day(max(day_ms) + 108000000) FROM daily_aggregates
        HAVING count(*) > 0;
    INSERT INTO config (key, value)
        SELECT 'raw_from_ms', max(hour_ms) + 3600000 FROM hourly_aggregates HAVING count(*) > 0
        UNION ALL
        SELECT 'raw_from_ms', value FROM config
        WHERE key = 'hourly_from_ms' AND NOT EXISTS (SELECT 1 FROM hourly_aggregates);

    INSERT INTO daily_aggregates (day_ms, app_id, domain_id, direction, bytes, packets)
        SELECT local_day(hour_ms), app_id, domain_id, direction, sum(bytes), sum(packets)
        FROM hourly_aggregates WHERE true GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (day_ms, app_id, domain_id, direction)
        DO UPDATE SET bytes = bytes + excluded.bytes, packets = packets + excluded.packets;
    INSERT INTO daily_aggregates (day_ms, app_id, domain_id, direction, bytes, packets)
        SELECT local_day(ts_ms), app_id, domain_id, direction, sum(bytes), sum(packets)
        FROM network_samples WHERE true GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (day_ms, app_id, domain_id, direction)
        DO UPDATE SET bytes = bytes + excluded.bytes, packets = packets + excluded.packets;
    INSERT INTO hourly_aggregates (hour_ms, app_id, domain_id, direction, bytes, packets)
        SELECT ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000, app_id, domain_id, direction,
               sum(bytes), sum(packets)
        FROM network_samples WHERE true GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (hour_ms, app_id, domain_id, direction)
        DO UPDATE SET bytes = bytes + excluded.bytes, packets = packets + excluded.packets;
    INSERT INTO hourly_app_totals (hour_ms, app_id, direction, bytes, packets)
        SELECT hour_ms, app_id, direction, sum(bytes), sum(packets)
        FROM hourly_aggregates GROUP BY 1, 2, 3;
    INSERT INTO daily_app_totals (day_ms, app_id, direction, bytes, packets)
        SELECT day_ms, app_id, direction, sum(bytes), sum(packets)
        FROM daily_aggregates GROUP BY 1, 2, 3;
    INSERT INTO hourly_hostname_totals (hour_ms, domain_id, direction, bytes, packets)
        SELECT hour_ms, domain_id, direction, sum(bytes), sum(packets)
        FROM hourly_aggregates WHERE domain_id != 0 GROUP BY 1, 2, 3;
    INSERT INTO daily_hostname_totals (day_ms, domain_id, direction, bytes, packets)
        SELECT day_ms, domain_id, direction, sum(bytes), sum(packets)
        FROM daily_aggregates WHERE domain_id != 0 GROUP BY 1, 2, 3;
    INSERT INTO hourly_totals (hour_ms, direction, bytes, packets)
        SELECT hour_ms, direction, sum(bytes), sum(packets) FROM hourly_aggregates GROUP BY 1, 2;
    INSERT INTO daily_totals (day_ms, direction, bytes, packets)
        SELECT day_ms, direction, sum(bytes), sum(packets) FROM daily_aggregates GROUP BY 1, 2;
    INSERT INTO sample_totals (ts_ms, direction, duration_ms, bytes, packets)
        SELECT ts_ms, direction, max(duration_ms), sum(bytes), sum(packets)
        FROM network_samples GROUP BY 1, 2;",
    // 4: how each hostname's bytes were named (`naming`: 0 before this version, then the
    // codes of `rows::naming_code`: 1 sni, 2 http, 3 extension, 4 dns, 5 unresolved), in raw
    // rows and in the per-hostname totals, whose key it joins. Rows of the `unresolved`
    // domain were necessarily unresolved.
    "ALTER TABLE network_samples ADD COLUMN naming INTEGER NOT NULL DEFAULT 0;
    UPDATE network_samples SET naming = 5
        WHERE domain_id IN (SELECT id FROM domains WHERE domain = 'unresolved');
    CREATE TABLE hourly_hostname_namings (
        hour_ms INTEGER NOT NULL,
        domain_id INTEGER NOT NULL,
        naming INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (hour_ms, domain_id, naming, direction)
    ) WITHOUT ROWID;
    INSERT INTO hourly_hostname_namings
        SELECT t.hour_ms, t.domain_id, CASE d.domain WHEN 'unresolved' THEN 5 ELSE 0 END,
               t.direction, t.bytes, t.packets
        FROM hourly_hostname_totals t JOIN domains d ON d.id = t.domain_id;
    DROP TABLE hourly_hostname_totals;
    ALTER TABLE hourly_hostname_namings RENAME TO hourly_hostname_totals;
    CREATE TABLE daily_hostname_namings (
        day_ms INTEGER NOT NULL,
        domain_id INTEGER NOT NULL,
        naming INTEGER NOT NULL,
        direction INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        PRIMARY KEY (day_ms, domain_id, naming, direction)
    ) WITHOUT ROWID;
    INSERT INTO daily_hostname_namings
        SELECT t.day_ms, t.domain_id, CASE d.domain WHEN 'unresolved' THEN 5 ELSE 0 END,
               t.direction, t.bytes, t.packets
        FROM daily_hostname_totals t JOIN domains d ON d.id = t.domain_id;
    DROP TABLE daily_hostname_totals;
    ALTER TABLE daily_hostname_namings RENAME TO daily_hostname_totals;",
    // 5: each VPN's tunnel per hour: the clear bytes its tunnels carried and its transport's
    // outer bytes (usage rows hold only the overhead; see `tunnels` and docs/vpn.md). Older
    // databases simply have no tunnel hours.
    "CREATE TABLE hourly_tunnels (
        hour_ms INTEGER NOT NULL,
        app_id INTEGER NOT NULL REFERENCES applications(id),
        direction INTEGER NOT NULL,
        inner_bytes INTEGER NOT NULL,
        outer_bytes INTEGER NOT NULL,
        PRIMARY KEY (hour_ms, app_id, direction)
    ) WITHOUT ROWID;",
];

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Runs the migrations the database has not had; refuses a database from a newer netmon.
/// `report` is told each migration as it starts.
pub fn migrate(
    connection: &mut Connection,
    report: &mut dyn FnMut(Migration),
) -> Result<i64, StoreError> {
    migrate_reporting(connection, current_version(), report)
}

/// One migration about to run: the version it brings the database to, of how many it runs
/// (`first` to `target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub first: i64,
    pub target: i64,
}

/// Fails when the database was written by a newer netmon.
pub fn refuse_newer(connection: &Connection) -> Result<i64, StoreError> {
    let found: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > current_version() {
        return Err(StoreError::TooNew {
            found,
            supported: current_version(),
        });
    }
    Ok(found)
}

/// Brings the database to `target` (tests build older versions with it).
pub fn migrate_to(connection: &mut Connection, target: i64) -> Result<i64, StoreError> {
    migrate_reporting(connection, target, &mut |_| {})
}

fn migrate_reporting(
    connection: &mut Connection,
    target: i64,
    report: &mut dyn FnMut(Migration),
) -> Result<i64, StoreError> {
    let found = refuse_newer(connection)?;
    MIGRATIONS
        .iter()
        .enumerate()
        .map(|(index, sql)| (index as i64 + 1, sql))
        .filter(|(version, _)| *version > found && *version <= target)
        .try_for_each(|(version, sql)| {
            report(Migration {
                version,
                first: found + 1,
                target,
            });
            let transaction = connection.transaction()?;
            transaction.execute_batch(sql)?;
            transaction.pragma_update(None, "user_version", version)?;
            transaction.commit()
        })?;
    Ok(target.max(found))
}

/// Switches a database created without incremental auto-vacuum to it (one VACUUM, once), so
/// purge and retention can shrink the file.
pub fn enable_incremental_vacuum(connection: &Connection) -> Result<(), StoreError> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = connection.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
    if mode != INCREMENTAL {
        connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        connection.execute_batch("VACUUM")?;
    }
    Ok(())
}
