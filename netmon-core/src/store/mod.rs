//! netmon's history in SQLite: the only module of the project that speaks SQL.
//!
//! * [`Store::open`] creates the database (mode 600, WAL) or upgrades it through ordered
//!   migrations; a database written by a newer netmon is refused untouched.
//! * [`BatchWriter`] buffers [`Sample`](crate::Sample)s and writes each batch in one
//!   transaction, into the raw tier and, in the same transaction, into the hourly and daily
//!   tiers.
//! * [`Store::apply_retention`] drops raw and hourly rows past their retention (their bytes are
//!   already in the coarser tier); [`Store::purge`] deletes history on request.
//! * [`query`] answers the dashboard, CLI and menubar with plain serialisable structs.
//!
//! Times are stored as UTC Unix seconds and bucketed in the store's local time zone.
//! `docs/storage.md` describes the schema, the tiers and the benchmark.

pub mod demo;
pub mod query;
mod schema;
mod time;
mod writer;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use jiff::Timestamp;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use crate::paths;

pub use schema::SCHEMA_VERSION;

pub use time::{Bucket, TimeRange};
pub use writer::{BatchWriter, FlushReport};

/// What went wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path} was written by a newer netmon (schema version {found}; this build knows up to \
         {supported}); it was left untouched — upgrade netmon to read it"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path} is not a netmon database or is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the database file {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Permissions(#[from] paths::PathsError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("time outside the supported range: {0}")]
    Time(#[from] jiff::Error),
    #[error("invalid range: {0}")]
    InvalidRange(String),
}

impl StoreError {
    /// Names a file that SQLite cannot read as a database as corrupt.
    fn classify(path: &Path, source: rusqlite::Error) -> Self {
        let corrupt = matches!(
            source.sqlite_error_code(),
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
        );
        if corrupt {
            StoreError::Corrupt {
                path: path.to_path_buf(),
                source,
            }
        } else {
            StoreError::Sqlite(source)
        }
    }
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open history database and the time zone its days and hours are bucketed in.
pub struct Store {
    conn: Connection,
    tz: TimeZone,
    path: PathBuf,
}

/// How long each tier keeps rows, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days raw 5-second rows are kept (`data_retention_days_raw`).
    pub raw_days: u64,
    /// Days hourly rows are kept (`data_retention_days_hourly`); daily rows are kept forever.
    pub hourly_days: u64,
}

impl From<&crate::Config> for Retention {
    fn from(config: &crate::Config) -> Self {
        Self {
            raw_days: config.data_retention_days_raw,
            hourly_days: config.data_retention_days_hourly,
        }
    }
}

/// Rows removed by one retention pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    pub raw_rows_removed: usize,
    pub hourly_rows_removed: usize,
    /// Raw rows start here or later (Unix seconds).
    pub raw_kept_since: i64,
    /// Hourly rows start here or later (Unix seconds).
    pub hourly_kept_since: i64,
}

/// The first and last period start (Unix seconds) held by each tier; `None` when empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TierSpans {
    pub raw: Option<(i64, i64)>,
    pub hourly: Option<(i64, i64)>,
    pub daily: Option<(i64, i64)>,
}

/// Which history [`Store::purge`] deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Everything: usage of every tier, applications, processes and domains.
    All,
    /// Usage whose period starts before this instant.
    Before(Timestamp),
}

const RAW_HORIZON_KEY: &str = "raw_kept_since";
const HOURLY_HORIZON_KEY: &str = "hourly_kept_since";
/// Tables of usage rows keyed by `ts`, finest first.
const RAW_TABLES: [&str; 1] = ["network_samples"];
const HOURLY_TABLES: [&str; 2] = ["hourly_aggregates", "hourly_domain_aggregates"];
const DAILY_TABLES: [&str; 2] = ["daily_aggregates", "daily_domain_aggregates"];

impl Store {
    /// Opens (creating when missing) the database at `path`, bucketing in the system time zone.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_in(path, TimeZone::system())
    }

    /// Opens the database with an explicit time zone for days, weeks and months.
    pub fn open_in(path: &Path, tz: TimeZone) -> Result<Self> {
        create_private(path)?;
        let mut conn =
            Connection::open(path).map_err(|source| StoreError::classify(path, source))?;
        let found = schema::check_not_newer(&conn, path)?;
        configure(&conn).map_err(|source| StoreError::classify(path, source))?;
        schema::migrate(&mut conn, found).map_err(|source| StoreError::classify(path, source))?;
        paths::make_private(path)?;
        Ok(Self {
            conn,
            tz,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The time zone local days and hours are computed in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        Ok(schema::version(&self.conn)?)
    }

    /// `PRAGMA integrity_check`: `"ok"` for a sound file, else SQLite's first complaint.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }

    /// Size of the database file and its WAL, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        [self.path.as_path(), wal.as_path()]
            .iter()
            .filter_map(|path| fs::metadata(path).ok())
            .map(|meta| meta.len())
            .sum()
    }

    /// Moves the WAL into the main file and truncates it.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Drops raw rows older than `retention.raw_days` and hourly rows older than
    /// `retention.hourly_days` (counted back from `now`). Their bytes stay in the coarser tiers,
    /// which every batch already wrote in its own transaction, so nothing is moved here: a
    /// crash leaves either all of one pass or none of it, and running twice changes nothing.
    pub fn apply_retention(
        &mut self,
        retention: Retention,
        now: Timestamp,
    ) -> Result<RetentionReport> {
        let raw_cutoff = time::floor_hour(now.as_second() - days_to_seconds(retention.raw_days));
        let hourly_cutoff = time::local_day_start(
            now.as_second() - days_to_seconds(retention.hourly_days),
            &self.tz,
        )?;
        let tx = self.conn.transaction()?;
        let raw_rows_removed = delete_all_before(&tx, &RAW_TABLES, raw_cutoff)?;
        let hourly_rows_removed = delete_all_before(&tx, &HOURLY_TABLES, hourly_cutoff)?;
        let raw_kept_since = raise_horizon(&tx, RAW_HORIZON_KEY, raw_cutoff)?;
        let hourly_kept_since = raise_horizon(&tx, HOURLY_HORIZON_KEY, hourly_cutoff)?;
        tx.commit()?;
        Ok(RetentionReport {
            raw_rows_removed,
            hourly_rows_removed,
            raw_kept_since,
            hourly_kept_since,
        })
    }

    /// What each tier holds, for the status page and retention checks.
    pub fn tier_spans(&self) -> Result<TierSpans> {
        let span = |table: &str| -> Result<Option<(i64, i64)>> {
            let sql = format!("SELECT min(ts), max(ts) FROM {table}");
            let (first, last): (Option<i64>, Option<i64>) =
                self.conn
                    .query_row(&sql, [], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(first.zip(last))
        };
        Ok(TierSpans {
            raw: span(RAW_TABLES[0])?,
            hourly: span(HOURLY_TABLES[0])?,
            daily: span(DAILY_TABLES[0])?,
        })
    }

    /// Deletes history, in one transaction.
    pub fn purge(&mut self, what: Purge) -> Result<()> {
        let tx = self.conn.transaction()?;
        match what {
            Purge::All => {
                RAW_TABLES
                    .iter()
                    .chain(&HOURLY_TABLES)
                    .chain(&DAILY_TABLES)
                    .chain(&["sample_windows", "processes", "applications", "domains"])
                    .try_for_each(|table| {
                        tx.execute(&format!("DELETE FROM {table}"), []).map(drop)
                    })?;
                tx.execute(
                    "DELETE FROM config WHERE key IN (?1, ?2)",
                    [RAW_HORIZON_KEY, HOURLY_HORIZON_KEY],
                )?;
            }
            Purge::Before(instant) => {
                let tables: Vec<&str> = [&RAW_TABLES[..], &HOURLY_TABLES, &DAILY_TABLES].concat();
                delete_all_before(&tx, &tables, instant.as_second())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A value of the `config` table (runtime settings kept with the history).
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM config WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Sets a value of the `config` table.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO config (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Where raw and hourly rows begin after retention (Unix seconds; `i64::MIN` before any).
    fn horizons(&self) -> Result<time::Horizons> {
        let read = |key| -> Result<i64> {
            Ok(self
                .setting(key)?
                .and_then(|value| value.parse().ok())
                .unwrap_or(i64::MIN))
        };
        Ok(time::Horizons {
            raw: read(RAW_HORIZON_KEY)?,
            hourly: read(HOURLY_HORIZON_KEY)?,
        })
    }
}

fn days_to_seconds(days: u64) -> i64 {
    i64::try_from(days)
        .unwrap_or(i64::MAX / 86_400)
        .saturating_mul(86_400)
}

/// Creates the database file with mode 600 before SQLite opens it (SQLite gives its WAL and
/// shared-memory files the mode of the database).
fn create_private(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, paths::FILE_MODE);
    options
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::Create {
            path: path.to_path_buf(),
            source,
        })
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)
}

/// Deletes rows starting before `cutoff` from `tables` (and, with the raw table, the sample
/// windows); returns how many usage rows went.
fn delete_all_before(conn: &Connection, tables: &[&str], cutoff: i64) -> rusqlite::Result<usize> {
    if tables.contains(&"network_samples") {
        conn.execute(
            "DELETE FROM sample_windows WHERE start_ms < ?1",
            [cutoff.saturating_mul(1000)],
        )?;
    }
    tables.iter().try_fold(0, |removed, table| {
        let sql = format!("DELETE FROM {table} WHERE ts < ?1");
        Ok(removed + conn.execute(&sql, [cutoff])?)
    })
}

/// Records that a tier holds no rows before `cutoff`; horizons only move forward.
fn raise_horizon(conn: &Connection, key: &str, cutoff: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO config (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))
         RETURNING CAST(value AS INTEGER)",
        params![key, cutoff],
        |row| row.get(0),
    )
}

#[cfg(test)]
mod tests;
