//! Samples into the database: one transaction every `batch_write_seconds` and a last one at
//! stop; retention at start and hourly. An idle window's sample, which would add no row
//! (`store::adds_nothing`), is not queued, so an idle daemon writes nothing. A file that is
//! not a database at start is set aside and a new database started, so a daemon never stops
//! (and restarts forever) on it. A failed write keeps its samples for the next attempt (up to
//! a day of them), so a full disk delays history instead of losing it. A database file deleted
//! or replaced under the daemon is reported and started anew at the next batch time.
//! Following the live configuration, a new `batch_write_seconds` applies from the next sample
//! and new retention days run a retention pass at the next sample. After each write the
//! budgets and the current hour are judged (core's `alerts::evaluate`); the alerts raised are
//! logged and kept for the caller to stream ([`History::take_alerts`]). With nothing written
//! they are judged only when another connection changed the database (a budget added through
//! the API or the CLI) or the sensitivity changed: alerts follow from the database and the
//! hour alone, and an hour that begins with no bytes raises none. At the first open, the
//! former `high_usage_threshold_gb` becomes a budget on everything per day.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use netmon_core::alerts::{self, Alert};
use netmon_core::anomaly::Sensitivity;
use netmon_core::live::{LiveConfig, Subscription};
use netmon_core::store::{self, FollowedStore, StoreError};
use netmon_core::{clock, Config, Paths, Sample};

const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// Most samples kept while writes fail: a day at one sample per second.
const MAX_PENDING: usize = 86_400;

pub struct History {
    store: FollowedStore,
    pending: VecDeque<Sample>,
    batch_every: Duration,
    last_write: Instant,
    last_retention: Instant,
    raw_days: u64,
    hourly_days: u64,
    config: Option<Subscription>,
    sensitivity: Sensitivity,
    raised: Vec<Alert>,
    /// The database's `data_version` when alerts were last judged (`None`: judge again).
    judged_at_version: Option<i64>,
}

impl History {
    /// Opens the database and applies retention once. A file SQLite cannot read is moved
    /// aside (never deleted) and a new database started: where it went is returned.
    pub fn open(paths: &Paths, config: &Config) -> Result<(Self, Option<PathBuf>), StoreError> {
        let (store, set_aside) = store::open_or_set_aside(&paths.database(), Timestamp::now())?;
        let mut history = Self {
            store,
            pending: VecDeque::new(),
            batch_every: Duration::from_secs(config.batch_write_seconds),
            last_write: Instant::now(),
            last_retention: Instant::now(),
            raw_days: config.data_retention_days_raw,
            hourly_days: config.data_retention_days_hourly,
            config: None,
            sensitivity: config.sensitivity(),
            raised: Vec::new(),
            judged_at_version: None,
        };
        history.apply_retention();
        history.adopt_threshold(config.high_usage_threshold_gb);
        Ok((history, set_aside))
    }

    /// Applies changes of `live`'s configuration from the next sample on.
    pub fn follow(mut self, live: &LiveConfig) -> Self {
        self.config = Some(live.subscribe());
        self
    }

    /// Takes a changed batch interval, and runs retention when its days changed.
    fn reconfigure(&mut self, config: &Config) {
        self.batch_every = Duration::from_secs(config.batch_write_seconds);
        if config.sensitivity() != self.sensitivity {
            self.sensitivity = config.sensitivity();
            self.judged_at_version = None;
        }
        let days = (
            config.data_retention_days_raw,
            config.data_retention_days_hourly,
        );
        if days != (self.raw_days, self.hourly_days) {
            (self.raw_days, self.hourly_days) = days;
            self.apply_retention();
        }
    }

    /// Queues a sample (unless it adds nothing to the database); writes the batch when it is
    /// due.
    pub fn add(&mut self, sample: Sample) {
        if let Some(config) = self.config.as_mut().and_then(Subscription::changed) {
            self.reconfigure(&config);
        }
        if !store::adds_nothing(&sample) {
            if self.pending.len() >= MAX_PENDING {
                self.pending.pop_front();
                tracing::error!("the database has refused writes for too long; dropping the oldest unwritten sample");
            }
            self.pending.push_back(sample);
        }
        if self.last_write.elapsed() >= self.batch_every {
            self.flush();
        }
        if self.last_retention.elapsed() >= RETENTION_EVERY {
            self.apply_retention();
        }
    }

    /// Writes every queued sample in one transaction; with none, judges alerts only if the
    /// database changed elsewhere.
    pub fn flush(&mut self) {
        self.last_write = Instant::now();
        self.reopen_if_gone();
        if self.pending.is_empty() {
            if self.changed_since_judged() {
                self.evaluate();
            }
            return;
        }
        // The queue itself is the batch: no copy of the samples.
        let batch = self.pending.make_contiguous();
        match self.store.store_mut().write(batch) {
            Ok(summary) => {
                tracing::debug!(
                    samples = summary.samples,
                    rows = summary.rows,
                    bytes = summary.bytes,
                    "batch written"
                );
                self.pending.clear();
                self.evaluate();
            }
            Err(error) => {
                tracing::error!(%error, kept = batch.len(), "cannot write to the database; will retry")
            }
        }
    }

    /// Whether alerts may have to be judged again with nothing written: another connection
    /// committed to the database (a budget added), or the sensitivity changed.
    fn changed_since_judged(&self) -> bool {
        let version = self.store.store().data_version().ok();
        version.is_none() || version != self.judged_at_version
    }

    /// Judges budgets and the current hour; keeps and logs the alerts not raised before.
    fn evaluate(&mut self) {
        self.judged_at_version = self.store.store().data_version().ok();
        let now = clock::unix_ms();
        match alerts::evaluate(self.store.store_mut(), now, &self.sensitivity) {
            Ok(raised) => {
                raised
                    .iter()
                    .for_each(|alert| tracing::warn!(kind = alert.kind.name(), subject = %alert.subject, "alert: {}", alert.message));
                self.raised.extend(raised);
            }
            Err(error) => {
                tracing::error!(%error, "cannot judge budgets and usage; tried again at the next write")
            }
        }
    }

    /// The alerts raised since the last call, oldest first.
    pub fn take_alerts(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.raised)
    }

    /// Makes `high_usage_threshold_gb` a budget on everything per day, once per database.
    fn adopt_threshold(&mut self, threshold_gb: f64) {
        match self
            .store
            .store_mut()
            .adopt_threshold(threshold_gb, clock::unix_ms())
        {
            Ok(Some(budget)) => tracing::info!(
                limit_bytes = budget.spec.limit_bytes,
                "high_usage_threshold_gb is now a daily budget on everything"
            ),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, "cannot turn high_usage_threshold_gb into a budget")
            }
        }
    }

    /// Starts a new database when the file netmon opened was deleted or replaced: SQLite would
    /// otherwise go on writing into the removed file, and every later sample would be lost.
    fn reopen_if_gone(&mut self) {
        match self.store.reopen_if_gone() {
            Ok(false) => {}
            Ok(true) => {
                tracing::error!(path = %self.store.path().display(), "the database file was removed or replaced while netmon ran; started a new one there")
            }
            Err(error) => {
                tracing::error!(path = %self.store.path().display(), %error, "the database file was removed or replaced while netmon ran, and a new one cannot be created; samples are kept for the next attempt")
            }
        }
    }

    fn apply_retention(&mut self) {
        self.last_retention = Instant::now();
        match self.store.store_mut().apply_retention(
            clock::unix_ms(),
            self.raw_days,
            self.hourly_days,
        ) {
            Ok(summary) => tracing::info!(
                raw_rows = summary.raw_rows,
                hourly_rows = summary.hourly_rows,
                "retention applied"
            ),
            Err(error) => tracing::error!(%error, "retention failed; it runs again in an hour"),
        }
    }
}

impl Drop for History {
    fn drop(&mut self) {
        self.flush();
    }
}
