//! Writing samples: one transaction per batch.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, Transaction};

use super::{Store, StoreError};
use crate::sample::{Direction, Sample};

/// What one batch wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub samples: usize,
    pub rows: usize,
    pub bytes: u64,
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
            ..
        } = self;
        let transaction = connection.transaction()?;
        let summary = samples
            .iter()
            .try_fold(WriteSummary::default(), |total, sample| {
                let written = write_sample(&transaction, app_ids, domain_ids, sample)?;
                Ok::<_, StoreError>(WriteSummary {
                    samples: total.samples + 1,
                    rows: total.rows + written.rows,
                    bytes: total.bytes + written.bytes,
                })
            })?;
        transaction.commit()?;
        Ok(summary)
    }
}

fn write_sample(
    transaction: &Transaction<'_>,
    app_ids: &mut HashMap<String, i64>,
    domain_ids: &mut HashMap<String, i64>,
    sample: &Sample,
) -> Result<WriteSummary, StoreError> {
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
        "INSERT INTO network_samples (ts_ms, duration_ms, app_id, domain_id, direction, bytes, packets)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let duration = (sample.end_ms - sample.start_ms).max(0);
    sample
        .usage
        .iter()
        .try_fold(WriteSummary::default(), |total, usage| {
            let domain_id = match &usage.destination {
                Some(destination) => domain_id(
                    transaction,
                    domain_ids,
                    &destination.host,
                    &destination.domain,
                )?,
                None => 0,
            };
            insert.execute(params![
                sample.start_ms,
                duration,
                app_ids[&usage.app],
                domain_id,
                direction_code(usage.direction),
                usage.bytes as i64,
                usage.packets as i64,
            ])?;
            Ok(WriteSummary {
                samples: 0,
                rows: total.rows + 1,
                bytes: total.bytes + usage.bytes,
            })
        })
}

fn upsert_app(
    transaction: &Transaction<'_>,
    name: &str,
    exe: Option<&str>,
    seen_ms: i64,
) -> Result<i64, StoreError> {
    Ok(transaction
        .prepare_cached(
            "INSERT INTO applications (name, exe, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (name) DO UPDATE SET exe = coalesce(excluded.exe, exe),
                 last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)
             RETURNING id",
        )?
        .query_row(params![name, exe, seen_ms], |row| row.get(0))?)
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

/// How a direction is stored.
pub(crate) fn direction_code(direction: Direction) -> i64 {
    match direction {
        Direction::Received => 0,
        Direction::Sent => 1,
    }
}

/// The direction a stored code stands for (the inverse of [`direction_code`]).
pub(crate) fn direction_of(code: i64) -> Direction {
    match code {
        1 => Direction::Sent,
        _ => Direction::Received,
    }
}
