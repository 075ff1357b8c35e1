//! Writing samples: one transaction per batch, adding each sample to all three tiers — raw
//! rows, per-sample totals, and the hourly and daily totals per application and per hostname —
//! so queries over long ranges read the coarse tiers only (see `tiers`).

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, Transaction};

use super::rows::{direction_code, naming_code, upsert_app};
use super::tiers::{floor_hour, Aggregate, Tier, AGGREGATES};
use super::{local_day_start, Store, StoreError};
use crate::sample::Sample;

/// What one batch wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub samples: usize,
    pub rows: usize,
    pub bytes: u64,
}

/// Whether writing `sample` adds nothing to the database: no usage, no process seen, no
/// tunnel's bytes (an idle window). Such a sample leaves no row in any table, so a writer may
/// skip it and the history is the same.
pub fn adds_nothing(sample: &Sample) -> bool {
    sample.usage.is_empty() && sample.processes.is_empty() && sample.stats.tunnels.is_empty()
}

impl Store {
    /// Writes `samples` in one transaction: all of them, or (on error) none.
    pub fn write(&mut self, samples: &[Sample]) -> Result<WriteSummary, StoreError> {
        let result = self.write_batch(samples);
        if result.is_err() {
            // Ids cached during a transaction that rolled back are not in the database.
            self.app_ids.clear();
            self.domain_ids.clear();
        }
        result
    }

    fn write_batch(&mut self, samples: &[Sample]) -> Result<WriteSummary, StoreError> {
        let Store {
            connection,
            app_ids,
            domain_ids,
            zone,
        } = self;
        let transaction = connection.transaction()?;
        let mut sums = Sums::default();
        let summary = samples
            .iter()
            .try_fold(WriteSummary::default(), |total, sample| {
                let rows = write_sample(&transaction, app_ids, domain_ids, sample)?;
                super::tunnels::write(&transaction, app_ids, sample)?;
                let day_ms = local_day_start(sample.start_ms, zone);
                rows.iter().for_each(|row| sums.add(row, day_ms));
                Ok::<_, StoreError>(WriteSummary {
                    samples: total.samples + 1,
                    rows: total.rows + rows.len(),
                    bytes: total.bytes + rows.iter().map(|row| row.bytes as u64).sum::<u64>(),
                })
            })?;
        sums.write(&transaction)?;
        transaction.commit()?;
        Ok(summary)
    }
}

/// One raw row as written.
struct RawRow {
    ts_ms: i64,
    duration_ms: i64,
    app_id: i64,
    domain_id: i64,
    /// How the hostname was named ([`naming_code`]); 0 without a hostname.
    naming: i64,
    direction: i64,
    bytes: i64,
    packets: i64,
}

/// Bytes and packets.
type Counts = (i64, i64);

/// A row of an aggregate table: (table index in `AGGREGATES`, time, app, hostname id, naming,
/// direction); columns the table does not have are 0.
type AggregateKey = (usize, i64, i64, i64, i64, i64);

/// What a batch adds to the coarser tiers, summed per row before it is written.
#[derive(Default)]
struct Sums {
    aggregates: BTreeMap<AggregateKey, Counts>,
    /// (sample start, direction) → (duration, bytes, packets)
    samples: BTreeMap<(i64, i64), (i64, i64, i64)>,
}

impl Sums {
    fn add(&mut self, row: &RawRow, day_ms: i64) {
        let hour_ms = floor_hour(row.ts_ms);
        AGGREGATES
            .iter()
            .enumerate()
            .filter(|(_, aggregate)| aggregate.takes(row.domain_id))
            .for_each(|(index, aggregate)| {
                let time = if aggregate.tier == Tier::Daily {
                    day_ms
                } else {
                    hour_ms
                };
                let app = if aggregate.by_app { row.app_id } else { 0 };
                let domain = if aggregate.by_hostname {
                    row.domain_id
                } else {
                    0
                };
                let naming = if aggregate.by_naming { row.naming } else { 0 };
                let counts = self
                    .aggregates
                    .entry((index, time, app, domain, naming, row.direction))
                    .or_default();
                *counts = (
                    counts.0.saturating_add(row.bytes),
                    counts.1.saturating_add(row.packets),
                );
            });
        let sample = self.samples.entry((row.ts_ms, row.direction)).or_default();
        *sample = (
            sample.0.max(row.duration_ms),
            sample.1.saturating_add(row.bytes),
            sample.2.saturating_add(row.packets),
        );
    }

    fn write(&self, transaction: &Transaction<'_>) -> Result<(), StoreError> {
        let statements: Vec<String> = AGGREGATES.iter().map(upsert_sql).collect();
        self.aggregates.iter().try_for_each(
            |((index, time, app, domain, naming, direction), (bytes, packets))| {
                let aggregate = &AGGREGATES[*index];
                let keys = [
                    aggregate.by_app.then_some(*app),
                    aggregate.by_hostname.then_some(*domain),
                    aggregate.by_naming.then_some(*naming),
                    Some(*direction),
                ];
                let values = std::iter::once(*time)
                    .chain(keys.into_iter().flatten())
                    .chain([*bytes, *packets]);
                transaction
                    .prepare_cached(&statements[*index])?
                    .execute(rusqlite::params_from_iter(values))
                    .map(drop)
            },
        )?;
        let mut statement = transaction.prepare_cached(SAMPLE_TOTALS)?;
        self.samples.iter().try_for_each(
            |((ts_ms, direction), (duration_ms, bytes, packets))| {
                statement
                    .execute(params![ts_ms, direction, duration_ms, bytes, packets])
                    .map(drop)
            },
        )?;
        Ok(())
    }
}

/// Adds bytes and packets to a row of `aggregate`, creating it if needed.
fn upsert_sql(aggregate: &Aggregate) -> String {
    let columns: Vec<&str> = std::iter::once(aggregate.time_column())
        .chain(aggregate.key_columns())
        .collect();
    let placeholders: Vec<String> = (1..=columns.len() + 2).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO {table} ({columns}, bytes, packets) VALUES ({placeholders})
         ON CONFLICT ({columns})
         DO UPDATE SET bytes = bytes + excluded.bytes, packets = packets + excluded.packets",
        table = aggregate.table,
        columns = columns.join(", "),
        placeholders = placeholders.join(", ")
    )
}

const SAMPLE_TOTALS: &str =
    "INSERT INTO sample_totals (ts_ms, direction, duration_ms, bytes, packets)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (ts_ms, direction) DO UPDATE SET
         duration_ms = max(duration_ms, excluded.duration_ms),
         bytes = bytes + excluded.bytes, packets = packets + excluded.packets";

fn write_sample(
    transaction: &Transaction<'_>,
    app_ids: &mut HashMap<String, i64>,
    domain_ids: &mut HashMap<String, i64>,
    sample: &Sample,
) -> Result<Vec<RawRow>, StoreError> {
    let exes: BTreeMap<&str, Option<&str>> = sample
        .processes
        .iter()
        .map(|process| (process.app.as_str(), process.exe.as_deref()))
        .collect();
    let apps = sample
        .usage
        .iter()
        .map(|usage| usage.app.as_str())
        .chain(exes.keys().copied());
    for app in apps {
        let exe = exes.get(app).copied().flatten();
        let id = upsert_app(transaction, app, exe, sample.end_ms)?;
        app_ids.insert(app.to_string(), id);
    }
    for process in &sample.processes {
        transaction
            .prepare_cached(
                "INSERT INTO application_processes (app_id, pid, name, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (app_id, pid) DO UPDATE SET name = excluded.name,
                     last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
            )?
            .execute(params![
                app_ids[&process.app],
                process.pid,
                process.name,
                sample.end_ms
            ])?;
    }
    let mut insert = transaction.prepare_cached(
        "INSERT INTO network_samples
             (ts_ms, duration_ms, app_id, domain_id, naming, direction, bytes, packets)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let duration = (sample.end_ms - sample.start_ms).max(0);
    sample
        .usage
        .iter()
        .map(|usage| {
            let domain_id = match &usage.destination {
                Some(destination) => domain_id(
                    transaction,
                    domain_ids,
                    &destination.host,
                    &destination.domain,
                )?,
                None => 0,
            };
            let row = RawRow {
                ts_ms: sample.start_ms,
                duration_ms: duration,
                app_id: app_ids[&usage.app],
                domain_id,
                naming: usage
                    .destination
                    .as_ref()
                    .map_or(0, |destination| naming_code(destination.provenance)),
                direction: direction_code(usage.direction),
                bytes: i64::try_from(usage.bytes).unwrap_or(i64::MAX),
                packets: i64::try_from(usage.packets).unwrap_or(i64::MAX),
            };
            insert.execute(params![
                row.ts_ms,
                row.duration_ms,
                row.app_id,
                row.domain_id,
                row.naming,
                row.direction,
                row.bytes,
                row.packets,
            ])?;
            Ok(row)
        })
        .collect()
}

fn domain_id(
    transaction: &Transaction<'_>,
    cache: &mut HashMap<String, i64>,
    hostname: &str,
    domain: &str,
) -> Result<i64, StoreError> {
    if let Some(id) = cache.get(hostname) {
        return Ok(*id);
    }
    let id = transaction
        .prepare_cached(
            "INSERT INTO domains (hostname, domain) VALUES (?1, ?2)
             ON CONFLICT (hostname) DO UPDATE SET domain = excluded.domain
             RETURNING id",
        )?
        .query_row(params![hostname, domain], |row| row.get(0))?;
    cache.insert(hostname.to_string(), id);
    Ok(id)
}
