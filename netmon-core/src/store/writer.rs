//! Writing samples: one transaction per batch, into all three tiers at once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rusqlite::{params, Transaction};
use serde::Serialize;

use super::time::{floor_hour, local_day_start};
use super::{Result, Store};
use crate::sample::{Direction, Sample};

/// Bytes and packets of one row, both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    bytes_sent: i64,
    bytes_received: i64,
    packets_sent: i64,
    packets_received: i64,
}

impl Counts {
    fn of(direction: Direction, bytes: u64, packets: u64) -> Self {
        let (bytes, packets) = (saturate(bytes), saturate(packets));
        match direction {
            Direction::Sent => Self {
                bytes_sent: bytes,
                packets_sent: packets,
                ..Self::default()
            },
            Direction::Received => Self {
                bytes_received: bytes,
                packets_received: packets,
                ..Self::default()
            },
        }
    }

    fn add(self, other: Self) -> Self {
        Self {
            bytes_sent: self.bytes_sent.saturating_add(other.bytes_sent),
            bytes_received: self.bytes_received.saturating_add(other.bytes_received),
            packets_sent: self.packets_sent.saturating_add(other.packets_sent),
            packets_received: self.packets_received.saturating_add(other.packets_received),
        }
    }
}

fn saturate(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// What one flush wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FlushReport {
    pub samples: usize,
    /// Raw rows inserted or added to.
    pub rows: usize,
}

/// Row key within a sample: application and hostname (`None` when no destination is tracked).
type RowKey<'a> = (&'a str, Option<(&'a str, &'a str)>);

impl Store {
    /// Writes `samples` in one transaction: raw rows, the hourly and daily rows they add to,
    /// the applications, processes and hostnames they name, and each sample's window.
    pub fn write_batch(&mut self, samples: &[Sample]) -> Result<FlushReport> {
        let tz = self.tz.clone();
        let tx = self.conn.transaction()?;
        let ids = Ids::register(&tx, samples)?;
        let rows = samples
            .iter()
            .map(|sample| write_sample(&tx, &ids, sample, &tz))
            .sum::<Result<usize>>()?;
        tx.commit()?;
        Ok(FlushReport {
            samples: samples.len(),
            rows,
        })
    }
}

/// Database ids of the applications and hostnames of one batch.
struct Ids {
    apps: HashMap<String, i64>,
    hosts: HashMap<String, i64>,
}

impl Ids {
    fn register(tx: &Transaction<'_>, samples: &[Sample]) -> Result<Self> {
        let apps = seen_span(samples, |sample| {
            let used = sample.usage.iter().map(|usage| usage.app.as_str());
            used.chain(sample.processes.iter().map(|process| process.app.as_str()))
                .collect()
        })
        .into_iter()
        .map(|(app, (first, last))| Ok((app.to_string(), upsert_app(tx, app, first, last)?)))
        .collect::<Result<HashMap<_, _>>>()?;
        let hosts = samples
            .iter()
            .flat_map(|sample| sample.usage.iter())
            .filter_map(|usage| usage.destination.as_ref())
            .map(|destination| (destination.host.as_str(), destination.domain.as_str()))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .map(|(host, domain)| Ok((host.to_string(), upsert_host(tx, host, domain)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        let ids = Self { apps, hosts };
        ids.register_processes(tx, samples)?;
        Ok(ids)
    }

    fn register_processes(&self, tx: &Transaction<'_>, samples: &[Sample]) -> Result<()> {
        let mut statement = tx.prepare_cached(
            "INSERT INTO processes (app_id, name, exe, pid, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (app_id, name, exe, pid) DO UPDATE SET
                 first_seen = min(first_seen, excluded.first_seen),
                 last_seen = max(last_seen, excluded.last_seen)",
        )?;
        samples
            .iter()
            .flat_map(|sample| {
                sample
                    .processes
                    .iter()
                    .map(move |process| (sample, process))
            })
            .try_for_each(|(sample, process)| {
                let app_id = self.apps[&process.app];
                let exe = process.exe.as_deref().unwrap_or("");
                let seen = sample.start_ms.div_euclid(1000);
                statement
                    .execute(params![app_id, process.name, exe, process.pid, seen])
                    .map(drop)
            })?;
        Ok(())
    }
}

/// First and last second each name returned by `names` was seen in.
fn seen_span<'a>(
    samples: &'a [Sample],
    names: impl Fn(&'a Sample) -> Vec<&'a str>,
) -> BTreeMap<&'a str, (i64, i64)> {
    samples
        .iter()
        .flat_map(|sample| {
            let seen = sample.start_ms.div_euclid(1000);
            names(sample).into_iter().map(move |name| (name, seen))
        })
        .fold(BTreeMap::new(), |mut spans, (name, seen)| {
            let span = spans.entry(name).or_insert((seen, seen));
            *span = (span.0.min(seen), span.1.max(seen));
            spans
        })
}

fn upsert_app(tx: &Transaction<'_>, name: &str, first: i64, last: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO applications (name, first_seen, last_seen) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET
             first_seen = min(first_seen, excluded.first_seen),
             last_seen = max(last_seen, excluded.last_seen)
         RETURNING id",
    )?
    .query_row(params![name, first, last], |row| row.get(0))
}

fn upsert_host(tx: &Transaction<'_>, host: &str, domain: &str) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO domains (hostname, domain) VALUES (?1, ?2)
         ON CONFLICT (hostname) DO UPDATE SET domain = excluded.domain
         RETURNING id",
    )?
    .query_row(params![host, domain], |row| row.get(0))
}

/// Adds one sample to the three tiers; returns the number of raw rows.
fn write_sample(
    tx: &Transaction<'_>,
    ids: &Ids,
    sample: &Sample,
    tz: &jiff::tz::TimeZone,
) -> Result<usize> {
    let ts = sample.start_ms.div_euclid(1000);
    let (hour, day) = (floor_hour(ts), local_day_start(ts, tz)?);
    let rows = rows_of(sample);
    for (key, counts) in &rows {
        let app_id = ids.apps[key.0];
        let domain_id = key.1.map_or(0, |(host, _)| ids.hosts[host]);
        add_row(tx, RAW, &[ts, app_id, domain_id], counts)?;
        if domain_id != 0 {
            add_row(tx, HOURLY_HOSTS, &[hour, domain_id, app_id], counts)?;
            add_row(tx, DAILY_HOSTS, &[day, domain_id, app_id], counts)?;
        }
    }
    for (app, counts) in per_app(&rows) {
        let app_id = ids.apps[app];
        add_row(tx, HOURLY_APPS, &[hour, app_id], &counts)?;
        add_row(tx, DAILY_APPS, &[day, app_id], &counts)?;
    }
    let total = rows
        .values()
        .fold(Counts::default(), |sum, counts| sum.add(*counts));
    tx.prepare_cached(
        "INSERT INTO sample_windows (start_ms, end_ms, bytes_sent, bytes_received)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (start_ms) DO UPDATE SET
             end_ms = max(end_ms, excluded.end_ms),
             bytes_sent = bytes_sent + excluded.bytes_sent,
             bytes_received = bytes_received + excluded.bytes_received",
    )?
    .execute(params![
        sample.start_ms,
        sample.end_ms,
        total.bytes_sent,
        total.bytes_received
    ])?;
    Ok(rows.len())
}

/// Rows summed per application, over their hostnames.
fn per_app<'a>(rows: &BTreeMap<RowKey<'a>, Counts>) -> BTreeMap<&'a str, Counts> {
    rows.iter()
        .fold(BTreeMap::new(), |mut apps, ((app, _), counts)| {
            let sum = apps.entry(*app).or_default();
            *sum = sum.add(*counts);
            apps
        })
}

/// A sample's usage merged into one row per application and hostname.
fn rows_of(sample: &Sample) -> BTreeMap<RowKey<'_>, Counts> {
    sample
        .usage
        .iter()
        .fold(BTreeMap::new(), |mut rows, usage| {
            let destination = usage
                .destination
                .as_ref()
                .map(|destination| (destination.host.as_str(), destination.domain.as_str()));
            let counts = Counts::of(usage.direction, usage.bytes, usage.packets);
            let row = rows.entry((usage.app.as_str(), destination)).or_default();
            *row = row.add(counts);
            rows
        })
}

/// A usage table and its key columns, in the order [`add_row`] takes their values.
type Target = (&'static str, &'static str);

const RAW: Target = ("network_samples", "ts, app_id, domain_id");
const HOURLY_APPS: Target = ("hourly_aggregates", "ts, app_id");
const DAILY_APPS: Target = ("daily_aggregates", "ts, app_id");
const HOURLY_HOSTS: Target = ("hourly_domain_aggregates", "ts, domain_id, app_id");
const DAILY_HOSTS: Target = ("daily_domain_aggregates", "ts, domain_id, app_id");

/// Adds `counts` to the row of `target` whose key columns hold `key`.
fn add_row(
    tx: &Transaction<'_>,
    target: Target,
    key: &[i64],
    counts: &Counts,
) -> rusqlite::Result<()> {
    let (table, columns) = target;
    let placeholders: String = (1..=key.len() + 4)
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {table} ({columns}, bytes_sent, bytes_received, packets_sent, packets_received)
         VALUES ({placeholders})
         ON CONFLICT ({columns}) DO UPDATE SET
             bytes_sent = bytes_sent + excluded.bytes_sent,
             bytes_received = bytes_received + excluded.bytes_received,
             packets_sent = packets_sent + excluded.packets_sent,
             packets_received = packets_received + excluded.packets_received"
    );
    let counters = [
        counts.bytes_sent,
        counts.bytes_received,
        counts.packets_sent,
        counts.packets_received,
    ];
    tx.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(key.iter().chain(&counters)))
        .map(drop)
}

/// Buffers samples and writes them in one transaction per batch.
///
/// The daemon pushes every sample; a batch is written once its oldest sample is `every` older
/// than the newest (the spec's `batch_write_seconds`), on [`flush`](Self::flush), on
/// [`close`](Self::close) and when the writer is dropped.
pub struct BatchWriter {
    store: Store,
    every: Duration,
    pending: Vec<Sample>,
}

impl BatchWriter {
    /// A writer that flushes every `every` of sample time.
    pub fn new(store: Store, every: Duration) -> Self {
        Self {
            store,
            every,
            pending: Vec::new(),
        }
    }

    /// Buffers a sample and writes the batch when it is due; returns what was written.
    pub fn push(&mut self, sample: Sample) -> Result<Option<FlushReport>> {
        self.pending.push(sample);
        if self.is_due() {
            self.flush().map(Some)
        } else {
            Ok(None)
        }
    }

    fn is_due(&self) -> bool {
        let span_ms = match (self.pending.first(), self.pending.last()) {
            (Some(first), Some(last)) => last.end_ms.saturating_sub(first.start_ms),
            _ => 0,
        };
        u128::try_from(span_ms).unwrap_or(0) >= self.every.as_millis()
    }

    /// Samples waiting to be written.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Writes the buffered samples in one transaction. On error they stay buffered.
    pub fn flush(&mut self) -> Result<FlushReport> {
        if self.pending.is_empty() {
            return Ok(FlushReport::default());
        }
        let report = self.store.write_batch(&self.pending)?;
        self.pending.clear();
        Ok(report)
    }

    /// The store, for queries and retention between batches.
    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Writes what is buffered (an explicit shutdown that reports errors, unlike drop).
    pub fn close(mut self) -> Result<FlushReport> {
        self.flush()
    }
}

impl Drop for BatchWriter {
    fn drop(&mut self) {
        if let Err(error) = self.flush() {
            tracing::error!(
                "{} sample(s) could not be written at shutdown: {error}",
                self.pending.len()
            );
        }
    }
}
