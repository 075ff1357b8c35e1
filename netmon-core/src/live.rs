//! The configuration in effect in a running netmon, and the one channel its changes travel.
//!
//! A [`LiveConfig`] holds three things: the configuration running now, the configuration
//! config.json held when it was last read or written, and the problems of the file when a hand
//! edit made it invalid. Changes come from two places and go through the same rules
//! ([`Config::set`], the file validation):
//!
//! - [`LiveConfig::change`]: the API, the dashboard and `netmon config set` (through the API).
//!   The keys are validated, saved to config.json and applied.
//! - [`LiveConfig::reload`]: config.json changed on disk (the CLI's file watcher calls it).
//!   Only the keys whose value the file changed are applied, so `netmon run --interval` and
//!   `--interface` stay in force until that key itself is changed. An invalid file changes
//!   nothing: every problem is logged and kept for `/api/status` until the file is fixed.
//!
//! Readers follow the changes either by polling a [`Subscription`] (one atomic load when
//! nothing changed: the monitor loop and the history writer do this between samples) or with a
//! listener called at once ([`LiveConfig::on_change`]: the log level). Only `web_server_port`
//! waits for a restart ([`crate::config::RESTART_KEYS`]): it is saved and reported, never
//! applied to the running server.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use crate::capture::choose::plan;
use crate::capture::CaptureSource;
use crate::config::{Config, ConfigError, Problem};
use crate::domains::DomainPolicy;
use crate::monitor::{Change, Reopen};
use crate::os::Platform;

/// A change of configuration that was refused; nothing was applied or saved.
#[derive(Debug)]
pub enum ChangeError {
    /// A key or value broke the rules: each problem names the key, value and what is allowed.
    Invalid(Vec<Problem>),
    /// config.json could not be written, or holds an invalid hand edit that a change through
    /// the API would overwrite (fix the file first).
    Save(ConfigError),
}

/// What a change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The configuration after the change (restart keys hold their saved value).
    pub config: Config,
    /// Keys whose value changed.
    pub changed: Vec<&'static str>,
    /// Keys whose saved value takes effect only when netmon restarts (all such pending keys,
    /// not only the ones this change touched).
    pub restart: Vec<&'static str>,
}

type Listener = Box<dyn Fn(&Config) + Send + Sync>;

/// The running configuration, shared by every part of the daemon (cheap to clone).
#[derive(Clone)]
pub struct LiveConfig {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Bumped on every change of the running configuration.
    version: AtomicU64,
    state: Mutex<State>,
    listeners: Mutex<Vec<Listener>>,
}

struct State {
    running: Arc<Config>,
    /// config.json's configuration as last read or written.
    on_disk: Config,
    /// The configuration netmon started with (for the keys that need a restart).
    started: Config,
    /// Why config.json cannot be used, while a hand edit left it invalid.
    file_problems: Vec<String>,
}

impl LiveConfig {
    /// A running configuration `running`, started from `on_disk` (config.json at `path`, before
    /// the command line's overrides).
    pub fn new(path: impl Into<PathBuf>, on_disk: Config, running: Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                path: path.into(),
                version: AtomicU64::new(0),
                state: Mutex::new(State {
                    started: running.clone(),
                    running: Arc::new(running),
                    on_disk,
                    file_problems: Vec::new(),
                }),
                listeners: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The configuration in effect.
    pub fn current(&self) -> Arc<Config> {
        Arc::clone(&self.state().running)
    }

    /// Where config.json is.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A reader that asks, whenever it suits it, whether the configuration changed.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            live: self.clone(),
            seen: self.inner.version.load(Ordering::Acquire),
        }
    }

    /// Calls `listener` with the new configuration after every change (on the changing thread).
    pub fn on_change(&self, listener: impl Fn(&Config) + Send + Sync + 'static) {
        lock(&self.inner.listeners).push(Box::new(listener));
    }

    /// Why config.json cannot be used now (empty when it is valid).
    pub fn file_problems(&self) -> Vec<String> {
        self.state().file_problems.clone()
    }

    /// Validates `changes` (all or nothing) with [`Config::set`], saves them to config.json and
    /// applies them. config.json is read first, so a hand edit made a moment ago is kept; an
    /// invalid one refuses the change rather than being overwritten.
    pub fn change(&self, changes: &[(String, Value)]) -> Result<Applied, ChangeError> {
        self.reload().map_err(ChangeError::Save)?;
        let mut state = self.state();
        let (mut disk, mut running) = (state.on_disk.clone(), (*state.running).clone());
        let problems: Vec<Problem> = changes
            .iter()
            .filter_map(|(key, value)| disk.set(key, value).err())
            .collect();
        if !problems.is_empty() {
            return Err(ChangeError::Invalid(problems));
        }
        changes.iter().for_each(|(key, _)| {
            // Same rules, same values: this cannot fail once `disk` accepted them.
            let _ = running.copy_key(key, &disk);
        });
        disk.save(&self.inner.path).map_err(ChangeError::Save)?;
        state.on_disk = disk;
        let applied = self.apply(state, running);
        if !applied.changed.is_empty() {
            tracing::info!(keys = %applied.changed.join(", "), "configuration changed");
        }
        Ok(applied)
    }

    /// Reads config.json again and applies the keys whose value it changed. An invalid file
    /// changes nothing: its problems are logged (each one) and kept until it is fixed. A missing
    /// file changes nothing either (the next change writes it again).
    pub fn reload(&self) -> Result<Applied, ConfigError> {
        let mut state = self.state();
        if !self.inner.path.exists() {
            let running = (*state.running).clone();
            return Ok(self.apply(state, running));
        }
        let disk = match Config::load(&self.inner.path) {
            Ok(disk) => disk,
            Err(error) => {
                let problems = problems_of(&error);
                if problems != state.file_problems {
                    problems.iter().for_each(|problem| tracing::error!(path = %self.inner.path.display(), %problem, "config.json is invalid; the running configuration is kept"));
                }
                state.file_problems = problems;
                return Err(error);
            }
        };
        if !state.file_problems.is_empty() {
            tracing::info!(path = %self.inner.path.display(), "config.json is valid again");
            state.file_problems.clear();
        }
        let mut running = (*state.running).clone();
        let edited = state.on_disk.changed_keys(&disk);
        edited.iter().for_each(|key| {
            let _ = running.copy_key(key, &disk);
        });
        state.on_disk = disk;
        let applied = self.apply(state, running);
        if !edited.is_empty() {
            tracing::info!(keys = %edited.join(", "), "config.json was edited; changes applied");
        }
        Ok(applied)
    }

    /// Makes `running` the configuration in effect and tells readers, when anything changed.
    fn apply(&self, mut state: MutexGuard<'_, State>, running: Config) -> Applied {
        let changed = state.running.changed_keys(&running);
        let restart: Vec<&'static str> = state
            .started
            .changed_keys(&running)
            .into_iter()
            .filter(|key| Config::needs_restart(key))
            .collect();
        restart
            .iter()
            .filter(|key| changed.contains(key))
            .for_each(|key| tracing::warn!(key, "saved; takes effect when netmon restarts"));
        if !changed.is_empty() {
            state.running = Arc::new(running.clone());
            self.inner.version.fetch_add(1, Ordering::AcqRel);
        }
        drop(state);
        if !changed.is_empty() {
            lock(&self.inner.listeners)
                .iter()
                .for_each(|listener| listener(&running));
        }
        Applied {
            config: running,
            changed,
            restart,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }
}

/// A reader's view of a [`LiveConfig`]: which version it has seen.
pub struct Subscription {
    live: LiveConfig,
    seen: u64,
}

impl Subscription {
    /// The new configuration when it changed since the last call; one atomic load otherwise.
    pub fn changed(&mut self) -> Option<Arc<Config>> {
        let version = self.live.inner.version.load(Ordering::Acquire);
        (version != self.seen).then(|| {
            self.seen = version;
            self.live.current()
        })
    }

    /// The configuration in effect.
    pub fn current(&self) -> Arc<Config> {
        self.live.current()
    }
}

/// Opens the capture source a configuration asks for, reporting a failure itself (`None`).
pub type OpenCapture = dyn Fn(&Config) -> Option<Box<dyn CaptureSource>> + Send + Sync;

/// Turns configuration changes into the monitor's [`Change`]s (for
/// [`crate::monitor::run_steered`]).
pub struct MonitorSteering {
    subscription: Subscription,
    applied: Arc<Config>,
    open: Arc<OpenCapture>,
}

impl MonitorSteering {
    /// Follows `live`; `open` opens the capture of a changed configuration.
    pub fn new(live: &LiveConfig, open: Arc<OpenCapture>) -> Self {
        let subscription = live.subscribe();
        Self {
            applied: subscription.current(),
            subscription,
            open,
        }
    }

    /// The change to make, when the configuration changed since the last call.
    pub fn poll(&mut self) -> Option<Change> {
        let new = self.subscription.changed()?;
        let change = monitor_change(&self.applied, &new, &self.open);
        self.applied = new;
        Some(change)
    }
}

/// What the monitor changes when the configuration goes from `old` to `new`: the interval of
/// the next windows, the domain policy, and the capture source when the capture it asks for
/// (method, interface, and nettop's interval on macOS) is another.
pub fn monitor_change(old: &Config, new: &Config, open: &Arc<OpenCapture>) -> Change {
    let interval = (old.sampling_interval_seconds != new.sampling_interval_seconds)
        .then(|| std::time::Duration::from_secs(new.sampling_interval_seconds));
    let policy = DomainPolicy::from_config(new);
    let domains = (policy != DomainPolicy::from_config(old)).then_some(policy);
    let capture_of = |config: &Config| plan(config, Platform::current()).ok();
    let reopen = (capture_of(old) != capture_of(new)).then(|| {
        let (open, config) = (Arc::clone(open), new.clone());
        Box::new(move || open(&config)) as Reopen
    });
    Change {
        interval,
        domains,
        reopen,
    }
}

/// One line per problem of an unusable file.
fn problems_of(error: &ConfigError) -> Vec<String> {
    match error {
        ConfigError::Invalid { problems, .. } => problems.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::AtomicUsize;

    fn live_in(dir: &Path) -> LiveConfig {
        let path = dir.join("config.json");
        Config::default().save(&path).unwrap();
        LiveConfig::new(path, Config::default(), Config::default())
    }

    fn change(key: &str, value: Value) -> Vec<(String, Value)> {
        vec![(key.to_string(), value)]
    }

    #[test]
    fn a_change_is_validated_saved_applied_and_seen_once() {
        let temp = tempfile::tempdir().unwrap();
        let live = live_in(temp.path());
        let mut reader = live.subscribe();
        assert!(reader.changed().is_none());
        let applied = live
            .change(&change("sampling_interval_seconds", json!(2)))
            .unwrap();
        assert_eq!(applied.changed, ["sampling_interval_seconds"]);
        assert!(applied.restart.is_empty());
        assert_eq!(reader.changed().unwrap().sampling_interval_seconds, 2);
        assert!(reader.changed().is_none(), "seen once");
        let saved = Config::load(live.path()).unwrap();
        assert_eq!(saved.sampling_interval_seconds, 2);
    }

    #[test]
    fn an_invalid_change_changes_nothing() {
        let temp = tempfile::tempdir().unwrap();
        let live = live_in(temp.path());
        let mut reader = live.subscribe();
        let changes = [
            ("log_level".to_string(), json!("DEBUG")),
            ("data_retention_days_raw".to_string(), json!(0)),
        ];
        let Err(ChangeError::Invalid(problems)) = live.change(&changes) else {
            panic!("accepted");
        };
        assert_eq!(problems.len(), 1);
        assert!(reader.changed().is_none());
        assert_eq!(*live.current(), Config::default());
        assert_eq!(Config::load(live.path()).unwrap(), Config::default());
    }

    #[test]
    fn the_port_is_saved_and_reported_as_needing_a_restart() {
        let temp = tempfile::tempdir().unwrap();
        let live = live_in(temp.path());
        let applied = live
            .change(&change("web_server_port", json!(7601)))
            .unwrap();
        assert_eq!(applied.restart, ["web_server_port"]);
        assert_eq!(Config::load(live.path()).unwrap().web_server_port, 7601);
        let back = live
            .change(&change("web_server_port", json!(7500)))
            .unwrap();
        assert!(back.restart.is_empty(), "back to the port it runs on");
    }

    #[test]
    fn a_hand_edit_applies_only_the_keys_it_changed() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("config.json");
        Config::default().save(&path).unwrap();
        let mut running = Config::default();
        running.set("sampling_interval_seconds", &json!(1)).unwrap();
        let live = LiveConfig::new(&path, Config::default(), running);
        let mut edited = Config::default();
        edited.set("data_retention_days_raw", &json!(3)).unwrap();
        edited.save(&path).unwrap();
        let applied = live.reload().unwrap();
        assert_eq!(applied.changed, ["data_retention_days_raw"]);
        let current = live.current();
        assert_eq!(current.data_retention_days_raw, 3);
        assert_eq!(current.sampling_interval_seconds, 1, "the override stays");
        edited.set("sampling_interval_seconds", &json!(9)).unwrap();
        edited.save(&path).unwrap();
        live.reload().unwrap();
        assert_eq!(live.current().sampling_interval_seconds, 9, "until edited");
    }

    #[test]
    fn an_invalid_hand_edit_keeps_the_running_config_until_fixed() {
        let temp = tempfile::tempdir().unwrap();
        let live = live_in(temp.path());
        std::fs::write(
            live.path(),
            r#"{"log_level": "LOUD", "data_retention_days_raw": 99}"#,
        )
        .unwrap();
        assert!(live.reload().is_err());
        assert_eq!(*live.current(), Config::default());
        let problems = live.file_problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|problem| problem.contains("LOUD")));
        let refused = live.change(&change("domain_rollup", json!(false)));
        assert!(matches!(refused, Err(ChangeError::Save(_))), "{refused:?}");
        assert!(std::fs::read_to_string(live.path())
            .unwrap()
            .contains("LOUD"));
        std::fs::write(live.path(), r#"{"log_level": "ERROR"}"#).unwrap();
        live.reload().unwrap();
        assert!(live.file_problems().is_empty());
        assert_eq!(live.current().log_level, crate::config::LogLevel::Error);
    }

    #[test]
    fn the_monitor_is_told_what_changed_once() {
        let temp = tempfile::tempdir().unwrap();
        let live = live_in(temp.path());
        let opened = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&opened);
        let open: Arc<OpenCapture> = Arc::new(move |config: &Config| {
            lock(&log).push(config.capture_interface.clone());
            None
        });
        let mut steering = MonitorSteering::new(&live, open);
        assert!(steering.poll().is_none());
        live.change(&change("log_level", json!("DEBUG"))).unwrap();
        let nothing = steering.poll().unwrap();
        assert!(
            nothing.interval.is_none() && nothing.domains.is_none() && nothing.reopen.is_none()
        );
        live.change(&[
            ("sampling_interval_seconds".to_string(), json!(2)),
            ("domain_tracking".to_string(), json!("all")),
            ("capture_interface".to_string(), json!("eth9")),
        ])
        .unwrap();
        let change = steering.poll().unwrap();
        assert_eq!(change.interval, Some(std::time::Duration::from_secs(2)));
        assert_eq!(
            change.domains.unwrap().tracking,
            crate::config::DomainTracking::All
        );
        assert!(
            lock(&opened).is_empty(),
            "opened by the capture thread, not here"
        );
        assert!((change.reopen.unwrap())().is_none());
        assert_eq!(*lock(&opened), ["eth9"]);
        assert!(steering.poll().is_none());
    }

    #[test]
    fn listeners_hear_changes_but_not_no_ops() {
        let temp = tempfile::tempdir().unwrap();
        let live = live_in(temp.path());
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        live.on_change(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        live.reload().unwrap();
        live.change(&change("log_level", json!("INFO"))).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        live.change(&change("log_level", json!("DEBUG"))).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
