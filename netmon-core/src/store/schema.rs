//! The schema as ordered migrations, tracked in `PRAGMA user_version`.
//!
//! Each migration runs in its own transaction together with the version bump, so a crash
//! leaves the database at the previous version or the next one, never in between.

use rusqlite::{Connection, Transaction};

use super::StoreError;

/// One step of the schema, applied to a database at `version - 1`.
pub(crate) struct Migration {
    pub version: u32,
    pub sql: &'static str,
}

/// Every migration, oldest first; the last one's version is [`SCHEMA_VERSION`].
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: V1_BASE,
    },
    Migration {
        version: 2,
        sql: V2_PROCESSES_AND_INDEXES,
    },
];

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 2;

/// Base tables. Times are Unix seconds (UTC); `domain_id` 0 means "no destination tracked".
/// Raw samples keep the hostname; the hourly and daily tiers keep per-application totals and,
/// apart, the per-hostname breakdown, so application views never scan hostname rows.
const V1_BASE: &str = "
CREATE TABLE applications (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE domains (
    id INTEGER PRIMARY KEY,
    hostname TEXT NOT NULL UNIQUE,
    domain TEXT NOT NULL
);
CREATE INDEX domains_by_domain ON domains (domain);
CREATE TABLE sample_windows (
    start_ms INTEGER PRIMARY KEY,
    end_ms INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL
);
CREATE TABLE network_samples (
    ts INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    domain_id INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL,
    packets_sent INTEGER NOT NULL,
    packets_received INTEGER NOT NULL,
    PRIMARY KEY (ts, app_id, domain_id)
) WITHOUT ROWID;
CREATE TABLE hourly_aggregates (
    ts INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL,
    packets_sent INTEGER NOT NULL,
    packets_received INTEGER NOT NULL,
    PRIMARY KEY (ts, app_id)
) WITHOUT ROWID;
CREATE TABLE daily_aggregates (
    ts INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL,
    packets_sent INTEGER NOT NULL,
    packets_received INTEGER NOT NULL,
    PRIMARY KEY (ts, app_id)
) WITHOUT ROWID;
CREATE TABLE hourly_domain_aggregates (
    ts INTEGER NOT NULL,
    domain_id INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL,
    packets_sent INTEGER NOT NULL,
    packets_received INTEGER NOT NULL,
    PRIMARY KEY (ts, domain_id, app_id)
) WITHOUT ROWID;
CREATE TABLE daily_domain_aggregates (
    ts INTEGER NOT NULL,
    domain_id INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL,
    packets_sent INTEGER NOT NULL,
    packets_received INTEGER NOT NULL,
    PRIMARY KEY (ts, domain_id, app_id)
) WITHOUT ROWID;
CREATE TABLE config (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Process details per application (executable path, PIDs seen), and indexes for the
/// per-application and per-domain pages.
const V2_PROCESSES_AND_INDEXES: &str = "
CREATE TABLE processes (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    exe TEXT NOT NULL DEFAULT '',
    pid INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    UNIQUE (app_id, name, exe, pid)
);
CREATE INDEX hourly_by_app ON hourly_aggregates (app_id, ts);
CREATE INDEX daily_by_app ON daily_aggregates (app_id, ts);
CREATE INDEX hourly_domain_by_domain ON hourly_domain_aggregates (domain_id, ts);
CREATE INDEX daily_domain_by_domain ON daily_domain_aggregates (domain_id, ts);
";

/// The version stored in the file.
pub(crate) fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Refuses a database from a newer netmon before anything touches it.
pub(crate) fn check_not_newer(
    conn: &Connection,
    path: &std::path::Path,
) -> Result<u32, StoreError> {
    let found = version(conn).map_err(|source| StoreError::classify(path, source))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Applies every migration above the stored version, each in one transaction.
pub(crate) fn migrate(conn: &mut Connection, from: u32) -> rusqlite::Result<()> {
    MIGRATIONS
        .iter()
        .filter(|migration| migration.version > from)
        .try_for_each(|migration| apply(conn.transaction()?, migration))
}

fn apply(tx: Transaction<'_>, migration: &Migration) -> rusqlite::Result<()> {
    tx.execute_batch(migration.sql)?;
    tx.pragma_update(None, "user_version", migration.version)?;
    tx.commit()
}
