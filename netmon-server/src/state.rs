//! What the API serves: the configuration, live samples and the monitor's status, shared
//! between `netmon run`'s capture loop (which publishes) and the request handlers (which read).
//! The configuration is the daemon's one [`LiveConfig`]: a change through the API is saved and
//! reaches the monitor, the history writer and the log level at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use netmon_core::alert::Alert;
use netmon_core::condition::{CaptureMode, Condition};
use netmon_core::domains::names::HostnameMap;
use netmon_core::live::LiveConfig;
use netmon_core::store::{FollowedStore, Store};
use netmon_core::tracker::connections::LiveConnections;
use netmon_core::{Config, Paths, Sample};
use serde_json::Value;
use tokio::sync::broadcast;

/// Samples buffered for slow live subscribers; a subscriber further behind skips ahead.
const LIVE_BUFFER: usize = 64;

/// The most recent active tab the browser extension reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveTab {
    pub domain: String,
    pub timestamp: i64,
    pub browser: String,
}

/// What the browser extension saw of one hostname during one report interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTraffic {
    pub hostname: String,
    pub remote_ip: Option<std::net::IpAddr>,
    pub requests: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// Most hostnames whose totals are kept; the alphabetically first are dropped beyond it.
const MAX_HOSTS: usize = 4096;

/// Shared state of the server (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    paths: Paths,
    config: LiveConfig,
    /// The port the server was started on (a changed port applies at restart).
    port: u16,
    live: broadcast::Sender<Arc<Sample>>,
    alerts: broadcast::Sender<Arc<Alert>>,
    started: Instant,
    source: RwLock<String>,
    condition: RwLock<Condition>,
    samples: AtomicU64,
    dropped_packets: AtomicU64,
    last_error: Mutex<Option<String>>,
    paused: Arc<AtomicBool>,
    active_tab: Mutex<Option<ActiveTab>>,
    hosts: Mutex<std::collections::BTreeMap<String, HostTraffic>>,
    store: Option<Mutex<FollowedStore>>,
    names: HostnameMap,
    connections: LiveConnections,
    reports_accepted: AtomicU64,
    reports_rejected: AtomicU64,
    /// Bytes per application and domain since start, for `/metrics`.
    metrics: Mutex<crate::metrics::Counts>,
}

/// A configuration change that was refused.
pub use netmon_core::live::ChangeError as ConfigChangeError;

impl AppState {
    /// State for a server whose monitor pauses while `paused` is set, without history.
    pub fn new(paths: Paths, config: Config, paused: Arc<AtomicBool>) -> Self {
        let config = LiveConfig::new(paths.config(), config.clone(), config);
        Self::sharing(paths, config, paused, None)
    }

    /// State whose history queries read `store` (a connection of its own, opened from the
    /// database file of `paths`, which it follows when that file is deleted or replaced).
    pub fn with_store(paths: Paths, config: Config, paused: Arc<AtomicBool>, store: Store) -> Self {
        let config = LiveConfig::new(paths.config(), config.clone(), config);
        Self::sharing(paths, config, paused, Some(store))
    }

    /// State that reads and changes the daemon's live configuration `config`, with history
    /// from `store` when there is one.
    pub fn sharing(
        paths: Paths,
        config: LiveConfig,
        paused: Arc<AtomicBool>,
        store: Option<Store>,
    ) -> Self {
        let store = store.map(|store| FollowedStore::following(store, &paths.database()));
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let (alerts, _) = broadcast::channel(LIVE_BUFFER);
        Self {
            inner: Arc::new(Inner {
                paths,
                port: config.current().web_server_port,
                config,
                live,
                alerts,
                started: Instant::now(),
                source: RwLock::new(String::from("starting")),
                condition: RwLock::new(Condition::default()),
                samples: AtomicU64::new(0),
                dropped_packets: AtomicU64::new(0),
                last_error: Mutex::new(None),
                paused,
                active_tab: Mutex::new(None),
                hosts: Mutex::new(std::collections::BTreeMap::new()),
                store: store.map(Mutex::new),
                names: HostnameMap::default(),
                connections: LiveConnections::default(),
                reports_accepted: AtomicU64::new(0),
                reports_rejected: AtomicU64::new(0),
                metrics: Mutex::new(crate::metrics::Counts::default()),
            }),
        }
    }

    /// The port the server was started on.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// The configuration in effect.
    pub fn config(&self) -> Config {
        (*self.inner.config.current()).clone()
    }

    /// The daemon's live configuration, for the parts that follow its changes.
    pub fn live_config(&self) -> LiveConfig {
        self.inner.config.clone()
    }

    /// Why config.json cannot be used, while a hand edit left it invalid (empty otherwise):
    /// the running configuration is kept until it is fixed.
    pub fn config_problems(&self) -> Vec<String> {
        self.inner.config.file_problems()
    }

    /// Validates and applies `changes` (all or nothing) at once, saves config.json, and returns
    /// the new configuration with the saved keys that take effect only after a restart.
    pub fn change_config(
        &self,
        changes: &[(String, Value)],
    ) -> Result<(Config, Vec<String>), ConfigChangeError> {
        let applied = self.inner.config.change(changes)?;
        let restart = applied.restart.iter().map(ToString::to_string).collect();
        Ok((applied.config, restart))
    }

    /// Hands a sample to live subscribers and counts it, with the packets its capture dropped.
    pub fn publish(&self, sample: Sample) {
        self.inner.samples.fetch_add(1, Ordering::Relaxed);
        self.inner
            .dropped_packets
            .fetch_add(sample.stats.dropped_packets, Ordering::Relaxed);
        let config = self.inner.config.current();
        if config.metrics_enabled {
            self.inner
                .metrics
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add(&sample, config.metrics_top_n);
        }
        // No subscriber is not an error: the sample is simply not streamed.
        let _ = self.inner.live.send(Arc::new(sample));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Sample>> {
        self.inner.live.subscribe()
    }

    /// Hands a newly raised alert to the subscribers of `/api/alerts/live`.
    pub fn publish_alert(&self, alert: Alert) {
        // No subscriber is not an error: the alert is in the history all the same.
        let _ = self.inner.alerts.send(Arc::new(alert));
    }

    pub fn subscribe_alerts(&self) -> broadcast::Receiver<Arc<Alert>> {
        self.inner.alerts.subscribe()
    }

    pub fn set_source(&self, description: impl Into<String>) {
        *self
            .inner
            .source
            .write()
            .unwrap_or_else(PoisonError::into_inner) = description.into();
    }

    pub fn source(&self) -> String {
        self.inner
            .source
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How the monitor runs: set once at start (capture mode, the user it became, a database
    /// set aside, a config.json it could not use).
    pub fn set_condition(&self, condition: Condition) {
        *self
            .inner
            .condition
            .write()
            .unwrap_or_else(PoisonError::into_inner) = condition;
    }

    /// The capture mode after the capture was reopened for a new configuration.
    pub fn set_capture_mode(&self, mode: CaptureMode) {
        self.inner
            .condition
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .capture = Some(mode);
    }

    /// How the monitor runs. A config.json that could not be used at start stops being a
    /// problem once it is valid again (its keys then apply).
    pub fn condition(&self) -> Condition {
        let mut condition = self
            .inner
            .condition
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if self.config_problems().is_empty() {
            condition.config_problem = None;
        }
        condition
    }

    pub fn record_error(&self, error: impl Into<String>) {
        *self
            .inner
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.into());
    }

    /// The most pressing problem: an invalid config.json while it lasts, else the last error
    /// recorded.
    pub fn last_error(&self) -> Option<String> {
        let problems = self.config_problems();
        if !problems.is_empty() {
            return Some(format!(
                "config.json is invalid; the running configuration is kept until it is fixed: {}",
                problems.join("; ")
            ));
        }
        self.inner
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn samples(&self) -> u64 {
        self.inner.samples.load(Ordering::Relaxed)
    }

    /// Packets the capture source dropped since start, summed over the published samples.
    pub fn dropped_packets(&self) -> u64 {
        self.inner.dropped_packets.load(Ordering::Relaxed)
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }

    pub fn set_paused(&self, paused: bool) {
        self.inner.paused.store(paused, Ordering::Relaxed);
    }

    pub fn paused(&self) -> bool {
        self.inner.paused.load(Ordering::Relaxed)
    }

    pub fn set_active_tab(&self, tab: ActiveTab) {
        *self
            .inner
            .active_tab
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(tab);
    }

    pub fn active_tab(&self) -> Option<ActiveTab> {
        self.inner
            .active_tab
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The shared hostname map by IP — the extension's reports, and the DNS answers the capture
    /// sees — for the capture to use (shared, not a copy: later reports reach it too).
    pub fn names(&self) -> HostnameMap {
        self.inner.names.clone()
    }

    /// The open flows the daemon's tracker publishes (shared: the tracker writes, `/api/connections`
    /// reads).
    pub fn connections(&self) -> LiveConnections {
        self.inner.connections.clone()
    }

    /// Adds the extension's per-hostname report to the totals (the newest remote IP wins), and
    /// teaches the capture which hostname each reported IP serves and with how many bytes.
    pub fn record_hosts(&self, reports: Vec<HostTraffic>) {
        let now = std::time::Instant::now();
        reports.iter().for_each(|report| {
            if let Some(ip) = report.remote_ip {
                let bytes = report.bytes_sent.saturating_add(report.bytes_received);
                self.inner.names.learn(ip, &report.hostname, bytes, now);
            }
        });
        let mut hosts = self
            .inner
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        reports.into_iter().for_each(|report| {
            let total = hosts
                .entry(report.hostname.clone())
                .or_insert_with(|| HostTraffic {
                    requests: 0,
                    bytes_sent: 0,
                    bytes_received: 0,
                    ..report.clone()
                });
            total.requests += report.requests;
            total.bytes_sent += report.bytes_sent;
            total.bytes_received += report.bytes_received;
            total.remote_ip = report.remote_ip.or(total.remote_ip);
        });
        while hosts.len() > MAX_HOSTS {
            hosts.pop_first();
        }
    }

    /// Every hostname's totals, by hostname.
    pub fn hosts(&self) -> Vec<HostTraffic> {
        self.inner
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Counts an extension report as accepted or rejected.
    pub fn count_report(&self, accepted: bool) {
        let counter = if accepted {
            &self.inner.reports_accepted
        } else {
            &self.inner.reports_rejected
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Extension reports (accepted, rejected) since start.
    pub fn report_counts(&self) -> (u64, u64) {
        (
            self.inner.reports_accepted.load(Ordering::Relaxed),
            self.inner.reports_rejected.load(Ordering::Relaxed),
        )
    }

    /// The totals of `hostname`, if any.
    pub fn host(&self, hostname: &str) -> Option<HostTraffic> {
        self.inner
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hostname)
            .cloned()
    }

    /// Runs `query` on the history database; `None` when this server has none.
    pub fn with_history<T>(&self, query: impl FnOnce(&Store) -> T) -> Option<T> {
        self.with_history_mut(|store| query(store))
    }

    /// Runs `change` on the history database with write access; `None` when this server has none.
    /// A database file deleted or replaced since the last call is opened anew first, so the API
    /// reads the history the daemon writes now, not a removed file's.
    pub fn with_history_mut<T>(&self, change: impl FnOnce(&mut Store) -> T) -> Option<T> {
        self.inner.store.as_ref().map(|followed| {
            let mut followed = followed.lock().unwrap_or_else(PoisonError::into_inner);
            match followed.reopen_if_gone() {
                Ok(true) => tracing::warn!(path = %followed.path().display(), "the database file was removed or replaced; the API reads the one there now"),
                Ok(false) => {}
                Err(error) => tracing::error!(%error, "the database file was removed or replaced and cannot be opened again; the API reads the old one"),
            }
            change(followed.store_mut())
        })
    }

    /// Size of the database file, when it exists.
    pub fn database_bytes(&self) -> Option<u64> {
        std::fs::metadata(self.inner.paths.database())
            .ok()
            .map(|metadata| metadata.len())
    }

    /// What `/metrics` shows now.
    pub fn metrics(&self) -> crate::metrics::Snapshot {
        let counts = self
            .inner
            .metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        crate::metrics::Snapshot::of(&counts, self.samples(), self.database_bytes())
    }

    /// Where the history database is (for a reading connection of its own).
    pub fn database_path(&self) -> std::path::PathBuf {
        self.inner.paths.database()
    }
}
