//! Retention and purge. Every sample is in the hourly and daily tiers from the moment it is
//! written, so retention only deletes: raw rows older than the raw window, hourly rows older
//! than the hourly window (cut on local days). Daily rows stay, so bytes per application per day
//! never change. Each run is one transaction that also records from when the raw and hourly
//! tiers are complete; a crash leaves the old state or the new one, and a second run deletes
//! nothing more.

use rusqlite::{params, Transaction};

use super::tiers::{
    floor_hour, Aggregate, Coverage, Tier, AGGREGATES, HOURLY_FROM_KEY, RAW_FROM_KEY,
};
use super::{local_day_start, Store, StoreError, DAY_MS};

/// What one retention run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionSummary {
    /// Raw rows removed (their bytes stay in the hourly and daily tiers).
    pub raw_rows: usize,
    /// Hourly rows removed (their bytes stay in the daily tier).
    pub hourly_rows: usize,
}

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
        let hourly_rows = AGGREGATES
            .iter()
            .filter(|aggregate| aggregate.tier == Tier::Hourly)
            .map(|aggregate| {
                transaction.execute(
                    &format!("DELETE FROM {} WHERE hour_ms < ?1", aggregate.table),
                    [hourly_cutoff],
                )
            })
            .collect::<Result<Vec<_>, _>>()?[0];
        super::tunnels::delete_before(&transaction, Some(hourly_cutoff))?;
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
        super::tunnels::delete_before(&transaction, before_ms)?;
        super::budgets::delete_alerts_before(&transaction, before_ms)?;
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
    ["network_samples", "sample_totals"]
        .into_iter()
        .chain(AGGREGATES.iter().map(|aggregate| aggregate.table))
        .try_for_each(|table| {
            transaction
                .execute(&format!("DELETE FROM {table}"), [])
                .map(drop)
        })?;
    Ok(usize::try_from(coverage_rows).unwrap_or_default())
}

/// `UPDATE` of `target` taking away the rows of `source` (a table with `source_time`) before
/// `?1`, summed per row of `target` (`bucket` maps a source time to the target's time).
fn subtract_sql(target: &Aggregate, source: &str, source_time: &str, bucket: &str) -> String {
    let keys = target.key_columns();
    let source_keys = keys.join(", ");
    let matches: String = keys
        .iter()
        .map(|key| format!(" AND {table}.{key} = s.{key}", table = target.table))
        .collect();
    let only_hostnames = if target.by_hostname && !target.by_app {
        " AND domain_id != 0"
    } else {
        ""
    };
    format!(
        "UPDATE {table} SET bytes = {table}.bytes - s.b, packets = {table}.packets - s.p
         FROM (SELECT {bucket} AS t, {source_keys}, sum(bytes) AS b, sum(packets) AS p
               FROM {source} WHERE {source_time} < ?1{only_hostnames}
               GROUP BY t, {source_keys}) AS s
         WHERE {table}.{time} = s.t{matches}",
        table = target.table,
        time = target.time_column(),
    )
}

const HOUR_OF_TS: &str = "ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000";

/// Takes the raw rows before `cutoff` out of the coarser tiers and deletes them; then the same
/// for hourly rows where raw no longer covers, and daily rows where hourly no longer covers.
fn purge_before(
    transaction: &Transaction<'_>,
    cutoff: i64,
    coverage: Coverage,
) -> Result<usize, StoreError> {
    AGGREGATES.iter().try_for_each(|aggregate| {
        let bucket = match aggregate.tier {
            Tier::Daily => "local_day(ts_ms)",
            _ => HOUR_OF_TS,
        };
        let sql = subtract_sql(aggregate, "network_samples", "ts_ms", bucket);
        transaction.execute(&sql, [cutoff]).map(drop)
    })?;
    let raw = transaction.execute("DELETE FROM network_samples WHERE ts_ms < ?1", [cutoff])?;
    transaction.execute("DELETE FROM sample_totals WHERE ts_ms < ?1", [cutoff])?;

    // Hours the raw tier no longer holds: out of the daily tier, then deleted.
    let hourly_bound = cutoff.min(coverage.raw_from_ms);
    AGGREGATES
        .iter()
        .filter_map(|daily| Some((daily, daily.hourly_source()?)))
        .try_for_each(|(daily, hourly)| {
            let sql = subtract_sql(daily, hourly.table, "hour_ms", "local_day(hour_ms)");
            transaction.execute(&sql, [hourly_bound]).map(drop)
        })?;
    // Days the hourly tier no longer holds.
    let daily_bound = cutoff.min(coverage.hourly_from_ms);
    let deleted = AGGREGATES
        .iter()
        .map(|aggregate| {
            let bound = match aggregate.tier {
                Tier::Daily => daily_bound,
                _ => hourly_bound,
            };
            transaction.execute(
                &format!(
                    "DELETE FROM {} WHERE {} < ?1",
                    aggregate.table,
                    aggregate.time_column()
                ),
                [bound],
            )
        })
        .collect::<Result<Vec<usize>, _>>()?;

    // Buckets emptied by the subtraction.
    AGGREGATES.iter().try_for_each(|aggregate| {
        transaction
            .execute(
                &format!(
                    "DELETE FROM {} WHERE bytes = 0 AND packets = 0",
                    aggregate.table
                ),
                [],
            )
            .map(drop)
    })?;
    // Rows of the finest tier holding each time: raw, then hourly and daily per app and host.
    Ok(raw + deleted[0] + deleted[1])
}
