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
];

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Runs the migrations the database has not had; refuses a database from a newer netmon.
pub fn migrate(connection: &mut Connection) -> Result<i64, StoreError> {
    migrate_to(connection, current_version())
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
    let found = refuse_newer(connection)?;
    MIGRATIONS
        .iter()
        .enumerate()
        .map(|(index, sql)| (index as i64 + 1, sql))
        .filter(|(version, _)| *version > found && *version <= target)
        .try_for_each(|(version, sql)| {
            let transaction = connection.transaction()?;
            transaction.execute_batch(sql)?;
            transaction.pragma_update(None, "user_version", version)?;
            transaction.commit()
        })?;
    Ok(target.max(found))
}
