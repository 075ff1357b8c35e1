//! Retention: raw samples older than the raw window become hourly rows, hourly rows older than
//! the hourly window become daily rows (local days), daily rows stay. Each step moves rows in one
//! transaction, so running it again, or after a crash, neither loses nor double-counts bytes.

use rusqlite::params;

use super::{local_day_start, Store, StoreError, DAY_MS, HOUR_MS};

/// What one retention run moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionSummary {
    /// Raw rows rolled into hourly rows.
    pub raw_rows: usize,
    /// Hourly rows rolled into daily rows.
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
        // Cut on whole hours (and whole local days) so no bucket is split between tiers.
        let raw_cutoff = floor_to(now_ms - raw_days as i64 * DAY_MS, HOUR_MS);
        let hourly_cutoff = local_day_start(now_ms - hourly_days as i64 * DAY_MS, &self.zone);
        let transaction = self.connection.transaction()?;
        transaction.execute(
            "INSERT INTO hourly_aggregates (hour_ms, app_id, domain_id, direction, bytes, packets)
             SELECT ts_ms - (ts_ms % ?2), app_id, domain_id, direction, sum(bytes), sum(packets)
             FROM network_samples WHERE ts_ms < ?1
             GROUP BY 1, 2, 3, 4
             ON CONFLICT (hour_ms, app_id, domain_id, direction)
             DO UPDATE SET bytes = bytes + excluded.bytes, packets = packets + excluded.packets",
            params![raw_cutoff, HOUR_MS],
        )?;
        let raw_rows =
            transaction.execute("DELETE FROM network_samples WHERE ts_ms < ?1", [raw_cutoff])?;
        transaction.execute(
            "INSERT INTO daily_aggregates (day_ms, app_id, domain_id, direction, bytes, packets)
             SELECT local_day(hour_ms), app_id, domain_id, direction, sum(bytes), sum(packets)
             FROM hourly_aggregates WHERE hour_ms < ?1
             GROUP BY 1, 2, 3, 4
             ON CONFLICT (day_ms, app_id, domain_id, direction)
             DO UPDATE SET bytes = bytes + excluded.bytes, packets = packets + excluded.packets",
            [hourly_cutoff],
        )?;
        let hourly_rows = transaction.execute(
            "DELETE FROM hourly_aggregates WHERE hour_ms < ?1",
            [hourly_cutoff],
        )?;
        transaction.commit()?;
        Ok(RetentionSummary {
            raw_rows,
            hourly_rows,
        })
    }

    /// Deletes usage before `before_ms` (all usage when `None`); applications and domains stay.
    pub fn purge(&mut self, before_ms: Option<i64>) -> Result<usize, StoreError> {
        let cutoff = before_ms.unwrap_or(i64::MAX);
        let transaction = self.connection.transaction()?;
        let deleted = [
            "DELETE FROM network_samples WHERE ts_ms < ?1",
            "DELETE FROM hourly_aggregates WHERE hour_ms < ?1",
            "DELETE FROM daily_aggregates WHERE day_ms < ?1",
        ]
        .iter()
        .try_fold(0, |total, sql| {
            transaction.execute(sql, [cutoff]).map(|rows| total + rows)
        })?;
        transaction.commit()?;
        Ok(deleted)
    }
}

fn floor_to(value: i64, step: i64) -> i64 {
    value - value.rem_euclid(step)
}
