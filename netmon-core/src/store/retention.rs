//! Retention and purge. Every sample is in the hourly and daily tiers from the moment it is
//! written, so retention only deletes: raw rows older than the raw window, hourly rows older
//! than the hourly window (cut on local days). Daily rows stay, so bytes per application per day
//! never change. Each run is one transaction that also records from when the raw and hourly
//! tiers are complete; a crash leaves the old state or the new one, and a second run deletes
//! nothing more.

use rusqlite::{params, Transaction};

use super::tiers::{floor_hour, Coverage, HOURLY_FROM_KEY, RAW_FROM_KEY};
use super::{local_day_start, Store, StoreError, DAY_MS};

/// What one retention run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionSummary {
    /// Raw rows removed (their bytes stay in the hourly and daily tiers).
    pub raw_rows: usize,
    /// Hourly rows removed (their bytes stay in the daily tier).
    pub hourly_rows: usize,
}

/// Raw rows `ts_ms < ?1`, summed per hourly or daily row (the `UPDATE ... FROM` source).
const RAW_BEFORE_BY_HOUR_HOST: &str =
    "SELECT ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000 AS t, app_id, domain_id, direction,
            sum(bytes) AS b, sum(packets) AS p
     FROM network_samples WHERE ts_ms < ?1 GROUP BY 1, 2, 3, 4";

impl Store {
    /// Applies the retention windows (in days) as of `now_ms`.
    pub fn apply_retention(
        &mut self,
        now_ms: i64,
        raw_days: u64,
        hourly_days: u64,
    ) -> Result<RetentionSummary, StoreError> {
        let days = |count: u64| {
            i64::try_from(count)
                .unwrap_or(i64::MAX)
                .saturating_mul(DAY_MS)
        };
        // Cut on whole hours (and whole local days) so no bucket is split between tiers.
        let raw_cutoff = floor_hour(now_ms.saturating_sub(days(raw_days)));
        let hourly_cutoff = local_day_start(now_ms.saturating_sub(days(hourly_days)), &self.zone);
        let before = self.coverage()?;
        let transaction = self.connection.transaction()?;
        let raw_rows =
            transaction.execute("DELETE FROM network_samples WHERE ts_ms < ?1", [raw_cutoff])?;
        transaction.execute("DELETE FROM sample_totals WHERE ts_ms < ?1", [raw_cutoff])?;
        let hourly_rows = transaction.execute(
            "DELETE FROM hourly_aggregates WHERE hour_ms < ?1",
            [hourly_cutoff],
        )?;
        transaction.execute(
            "DELETE FROM hourly_app_totals WHERE hour_ms < ?1",
            [hourly_cutoff],
        )?;
        set_coverage(
            &transaction,
            Coverage {
                raw_from_ms: before.raw_from_ms.max(raw_cutoff),
                hourly_from_ms: before.hourly_from_ms.max(hourly_cutoff),
            },
        )?;
        transaction.commit()?;
        if raw_rows + hourly_rows > 0 {
            self.release_free_pages()?;
        }
        Ok(RetentionSummary {
            raw_rows,
            hourly_rows,
        })
    }

    /// Deletes usage before `before_ms` (all usage when `None`); applications and domains stay.
    /// Returns the rows deleted from the finest tier holding each time. Hourly and daily totals
    /// of buckets that straddle `before_ms` keep only the bytes from `before_ms` on. The file
    /// shrinks by the pages freed.
    pub fn purge(&mut self, before_ms: Option<i64>) -> Result<usize, StoreError> {
        let coverage = self.coverage()?;
        let transaction = self.connection.transaction()?;
        let deleted = match before_ms {
            None => purge_all(&transaction)?,
            Some(cutoff) => purge_before(&transaction, cutoff, coverage)?,
        };
        transaction.commit()?;
        self.release_free_pages()?;
        Ok(deleted)
    }

    /// Returns freed pages to the file system (the database uses incremental auto-vacuum) and
    /// checkpoints the WAL so the main file shrinks now.
    fn release_free_pages(&self) -> Result<(), StoreError> {
        // Each step of the pragma frees one page: step it to the end.
        let mut vacuum = self.connection.prepare("PRAGMA incremental_vacuum")?;
        let mut steps = vacuum.query([])?;
        while steps.next()?.is_some() {}
        drop(steps);
        // In memory there is no WAL; the checkpoint reports "busy" when readers hold it.
        self.connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

fn set_coverage(transaction: &Transaction<'_>, coverage: Coverage) -> Result<(), StoreError> {
    let mut statement = transaction.prepare_cached(
        "INSERT INTO config (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?;
    statement.execute(params![RAW_FROM_KEY, coverage.raw_from_ms])?;
    statement.execute(params![HOURLY_FROM_KEY, coverage.hourly_from_ms])?;
    Ok(())
}

const USAGE_TABLES: [&str; 6] = [
    "network_samples",
    "sample_totals",
    "hourly_aggregates",
    "daily_aggregates",
    "hourly_app_totals",
    "daily_app_totals",
];

fn purge_all(transaction: &Transaction<'_>) -> Result<usize, StoreError> {
    let coverage_rows: i64 = transaction.query_row(
        "SELECT (SELECT count(*) FROM network_samples)
              + (SELECT count(*) FROM hourly_aggregates WHERE hour_ms < coalesce(
                    (SELECT CAST(value AS INTEGER) FROM config WHERE key = 'raw_from_ms'), -1e18))
              + (SELECT count(*) FROM daily_aggregates WHERE day_ms < coalesce(
                    (SELECT CAST(value AS INTEGER) FROM config WHERE key = 'hourly_from_ms'), -1e18))",
        [],
        |row| row.get(0),
    )?;
    USAGE_TABLES.iter().try_for_each(|table| {
        transaction
            .execute(&format!("DELETE FROM {table}"), [])
            .map(drop)
    })?;
    Ok(usize::try_from(coverage_rows).unwrap_or_default())
}

/// Takes the raw rows before `cutoff` out of the coarser tiers and deletes them; then the same
/// for hourly rows where raw no longer covers, and daily rows where hourly no longer covers.
fn purge_before(
    transaction: &Transaction<'_>,
    cutoff: i64,
    coverage: Coverage,
) -> Result<usize, StoreError> {
    let subtract = |target: &str, key: &str, source: &str, bound: i64| {
        transaction.execute(
            &format!(
                "UPDATE {target} SET bytes = {target}.bytes - s.b, packets = {target}.packets - s.p
                 FROM ({source}) AS s WHERE {key}"
            ),
            [bound],
        )
    };
    let host_key = |time: &str, target: &str| {
        format!("{target}.{time} = s.t AND {target}.app_id = s.app_id AND {target}.domain_id = s.domain_id AND {target}.direction = s.direction")
    };
    let app_key = |time: &str, target: &str| {
        format!("{target}.{time} = s.t AND {target}.app_id = s.app_id AND {target}.direction = s.direction")
    };
    let raw_by_day = RAW_BEFORE_BY_HOUR_HOST.replace(
        "ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000",
        "local_day(ts_ms)",
    );
    subtract(
        "hourly_aggregates",
        &host_key("hour_ms", "hourly_aggregates"),
        RAW_BEFORE_BY_HOUR_HOST,
        cutoff,
    )?;
    subtract(
        "daily_aggregates",
        &host_key("day_ms", "daily_aggregates"),
        &raw_by_day,
        cutoff,
    )?;
    subtract(
        "hourly_app_totals",
        &app_key("hour_ms", "hourly_app_totals"),
        RAW_BEFORE_BY_HOUR_HOST,
        cutoff,
    )?;
    subtract(
        "daily_app_totals",
        &app_key("day_ms", "daily_app_totals"),
        &raw_by_day,
        cutoff,
    )?;
    let raw = transaction.execute("DELETE FROM network_samples WHERE ts_ms < ?1", [cutoff])?;
    transaction.execute("DELETE FROM sample_totals WHERE ts_ms < ?1", [cutoff])?;

    // Hours the raw tier no longer holds: out of the daily tier, then deleted.
    let hourly_bound = cutoff.min(coverage.raw_from_ms);
    let hourly_by_day = |table: &str| {
        format!(
            "SELECT local_day(hour_ms) AS t, app_id, {domain} direction, sum(bytes) AS b,
                    sum(packets) AS p
             FROM {table} WHERE hour_ms < ?1 GROUP BY t, app_id, {domain} direction",
            domain = if table == "hourly_aggregates" {
                "domain_id,"
            } else {
                ""
            }
        )
    };
    subtract(
        "daily_aggregates",
        &host_key("day_ms", "daily_aggregates"),
        &hourly_by_day("hourly_aggregates"),
        hourly_bound,
    )?;
    subtract(
        "daily_app_totals",
        &app_key("day_ms", "daily_app_totals"),
        &hourly_by_day("hourly_app_totals"),
        hourly_bound,
    )?;
    let hourly = transaction.execute(
        "DELETE FROM hourly_aggregates WHERE hour_ms < ?1",
        [hourly_bound],
    )?;
    transaction.execute(
        "DELETE FROM hourly_app_totals WHERE hour_ms < ?1",
        [hourly_bound],
    )?;

    // Days the hourly tier no longer holds.
    let daily_bound = cutoff.min(coverage.hourly_from_ms);
    let daily = transaction.execute(
        "DELETE FROM daily_aggregates WHERE day_ms < ?1",
        [daily_bound],
    )?;
    transaction.execute(
        "DELETE FROM daily_app_totals WHERE day_ms < ?1",
        [daily_bound],
    )?;

    // Buckets emptied by the subtraction.
    USAGE_TABLES[2..6].iter().try_for_each(|table| {
        transaction
            .execute(
                &format!("DELETE FROM {table} WHERE bytes = 0 AND packets = 0"),
                [],
            )
            .map(drop)
    })?;
    Ok(raw + hourly + daily)
}
