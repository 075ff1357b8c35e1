//! The store: netmon's history in SQLite (`network_monitor.db`, mode 600, WAL). This module is
//! the only place with SQL (the spec's `db_queries.py`).
//!
//! Three tiers hold usage: raw (`network_samples`, one row per sample, application and
//! hostname, plus `sample_totals` per sample), hourly and daily (`*_aggregates` per application
//! and hostname, `*_app_totals` per application). Each write adds to all of them in one
//! transaction; retention only deletes the raw and hourly rows that are past their windows.
//! Queries read each part of a range from the coarsest tier that fits it (see `tiers`), so
//! long ranges read daily rows instead of millions of samples. `docs/storage.md` has the
//! design and the benchmark. VPN tunnels' inner and outer bytes are kept per hour beside usage
//! (`tunnels`); budgets and the alerts raised are kept beside them (`budgets`).

mod budgets;
pub mod demo;
mod export;
#[cfg(unix)]
mod followed;
mod naming;
mod query;
#[cfg(unix)]
mod recover;
mod retention;
mod rows;
mod schema;
mod tiers;
mod trace;
mod tunnels;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use rusqlite::functions::FunctionFlags;

pub use budgets::{HourlySeries, SeriesOf};
pub use export::ExportRow;
#[cfg(unix)]
pub use followed::FollowedStore;
pub use naming::{DomainTotal, ProvenanceBytes, UNRECORDED};
pub use query::{
    bucket_for_span, AppDetail, AppTotal, CurrentRate, Heatmap, HostTotal, MonthComparison,
    ProcessRecord, Range, Summary, TierSpans, TimelinePoint, Totals, WeekTotal,
};
#[cfg(unix)]
pub use recover::open_or_set_aside;
pub use retention::RetentionSummary;
/// The SQLite connection type, for tests that build databases of older versions.
pub use rusqlite::Connection;
pub use schema::{current_version, migrate_to, Migration};
pub use tiers::Tier;
pub use tunnels::TunnelTotal;
pub use write::{adds_nothing, WriteSummary};

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database was written by a newer netmon (schema version {found}; this netmon knows versions up to {supported}); it was left untouched: upgrade netmon")]
    TooNew { found: i64, supported: i64 },
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a timeline of {buckets} buckets was asked for; at most {limit} are drawn: choose a shorter range or longer buckets")]
    TooManyBuckets { buckets: i64, limit: i64 },
    #[error("time calculation failed: {0}")]
    Time(String),
    #[error("{0}")]
    Invalid(String),
}

/// An open history database.
pub struct Store {
    connection: Connection,
    zone: TimeZone,
    app_ids: HashMap<String, i64>,
    domain_ids: HashMap<String, i64>,
}

impl Store {
    /// Opens (creating, mode 600) the database at `path`, in this machine's time zone.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_in_zone(path, TimeZone::system())
    }

    /// Opens the database, bucketing days and weeks in `zone`.
    pub fn open_in_zone(path: &Path, zone: TimeZone) -> Result<Self, StoreError> {
        Self::open_reporting(path, zone, &mut |_| {})
    }

    /// Opens the database, telling `report` each schema migration as it starts (the CLI shows
    /// them as a progress bar).
    pub fn open_reporting(
        path: &Path,
        zone: TimeZone,
        report: &mut dyn FnMut(Migration),
    ) -> Result<Self, StoreError> {
        create_private(path)?;
        let connection = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        // Nothing is written to a database from a newer netmon, not even the journal mode.
        schema::refuse_newer(&connection)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        Self::setup(connection, zone, report)
    }

    /// A database in memory (tests, benchmarks).
    pub fn in_memory(zone: TimeZone) -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?, zone, &mut |_| {})
    }

    fn setup(
        mut connection: Connection,
        zone: TimeZone,
        report: &mut dyn FnMut(Migration),
    ) -> Result<Self, StoreError> {
        // WAL with synchronous=NORMAL: a killed process loses no committed transaction.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        trace::install(&mut connection)?;
        // Migrations use `local_day`.
        register_functions(&connection, zone.clone())?;
        let found = schema::refuse_newer(&connection)?;
        if found == 0 {
            // Before the first table: freed pages can be returned to the file system.
            connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        schema::migrate(&mut connection, report)?;
        schema::enable_incremental_vacuum(&connection)?;
        Ok(Self {
            connection,
            zone,
            app_ids: HashMap::new(),
            domain_ids: HashMap::new(),
        })
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }

    /// `PRAGMA data_version`: changes when another connection (the API's, the CLI's) commits
    /// to the database, never with this connection's own writes; so an idle daemon can tell
    /// whether a budget was added without judging its alerts again.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .connection
            .query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
}

/// Creates the database file owner-only before SQLite opens it.
fn create_private(path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(crate::paths::FILE_MODE);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Create {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// `local_day(ms)`: the start of the local day holding `ms`, in ms since the epoch. Migrations
/// use it: tests that build an older version with [`migrate_to`] register it first.
pub fn register_functions(connection: &Connection, zone: TimeZone) -> Result<(), StoreError> {
    connection.create_scalar_function(
        "local_day",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |context| Ok(local_day_start(context.get::<i64>(0)?, &zone)),
    )?;
    Ok(())
}

/// The start of the local day holding `ms` (ms since the epoch), in `zone`.
pub fn local_day_start(ms: i64, zone: &TimeZone) -> i64 {
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(|timestamp| timestamp.to_zoned_datetime(zone.clone()))
        .and_then(|zoned| zoned.start_of_day().ok())
        .map(|start| start.timestamp().as_millisecond())
        .unwrap_or_else(|| ms.saturating_sub(ms.rem_euclid(DAY_MS)))
}
