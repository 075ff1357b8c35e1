//! Hand edits of config.json reach the running netmon: the file's directory is watched with
//! `notify`, and once the events about config.json have settled (editors write a temporary
//! file, rename it over the old one, and touch it again) the live configuration reads the file
//! again, applying what changed or keeping everything and logging each problem.

use std::ffi::OsString;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use netmon_core::live::LiveConfig;
use notify::{Event, RecursiveMode, Watcher};

/// Quiet time after the last event about config.json before it is read.
pub const SETTLE: Duration = Duration::from_millis(300);

/// A running watch of config.json; it ends when dropped.
pub struct ConfigWatch {
    watcher: Option<notify::RecommendedWatcher>,
    thread: Option<JoinHandle<()>>,
}

/// Why config.json cannot be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path} for changes: {detail}")]
pub struct WatchError {
    path: String,
    detail: String,
}

/// Starts watching `live`'s config.json.
pub fn watch(live: LiveConfig) -> Result<ConfigWatch, WatchError> {
    let path = live.path().to_path_buf();
    let failed = |detail: String| WatchError {
        path: path.display().to_string(),
        detail,
    };
    let (directory, name) = match (path.parent(), path.file_name()) {
        (Some(directory), Some(name)) => (directory.to_path_buf(), name.to_os_string()),
        _ => return Err(failed("not a file path".into())),
    };
    let (sender, events) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        // The receiving thread is gone only when the watch is being dropped.
        let _ = sender.send(event);
    })
    .map_err(|error| failed(error.to_string()))?;
    watcher
        .watch(&directory, RecursiveMode::NonRecursive)
        .map_err(|error| failed(error.to_string()))?;
    let thread = thread::Builder::new()
        .name("netmon-config".into())
        .spawn(move || follow(&events, &name, &live))
        .map_err(|error| failed(error.to_string()))?;
    Ok(ConfigWatch {
        watcher: Some(watcher),
        thread: Some(thread),
    })
}

type Events = Receiver<notify::Result<Event>>;

/// Reads config.json again after each settled burst of events about it, until the watch ends.
fn follow(events: &Events, name: &OsString, live: &LiveConfig) {
    while let Ok(event) = events.recv() {
        if concerns(&event, name) {
            settle(events, name);
            // Problems are logged and kept by the live configuration itself.
            let _ = live.reload();
        }
    }
}

/// Waits until no event about config.json came for [`SETTLE`].
fn settle(events: &Events, name: &OsString) {
    let mut quiet_from = Instant::now();
    loop {
        let wait = (quiet_from + SETTLE).saturating_duration_since(Instant::now());
        match events.recv_timeout(wait) {
            Ok(event) if concerns(&event, name) => quiet_from = Instant::now(),
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Whether an event is about the file `name` (an error of the watch is logged).
fn concerns(event: &notify::Result<Event>, name: &OsString) -> bool {
    match event {
        Ok(event) => event
            .paths
            .iter()
            .any(|path| path.file_name() == Some(name.as_os_str())),
        Err(error) => {
            tracing::warn!(%error, "watching config.json failed");
            false
        }
    }
}

impl Drop for ConfigWatch {
    fn drop(&mut self) {
        // Dropping the watcher drops the sender, which ends the thread.
        drop(self.watcher.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netmon_core::Config;

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "{what} within 5 s");
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_write_and_rename_edit_is_applied_once_it_settles() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("config.json");
        Config::default().save(&path).unwrap();
        let live = LiveConfig::new(&path, Config::default(), Config::default());
        let _watch = watch(live.clone()).unwrap();
        // An editor's dance: write a copy, rename it over the file.
        let copy = temp.path().join(".config.json.swp");
        std::fs::write(&copy, r#"{"data_retention_days_raw": 3}"#).unwrap();
        std::fs::rename(&copy, &path).unwrap();
        wait_for("the edit applied", || {
            live.current().data_retention_days_raw == 3
        });
        std::fs::write(&path, r#"{"data_retention_days_raw": "x"}"#).unwrap();
        wait_for("the problem kept", || !live.file_problems().is_empty());
        assert_eq!(live.current().data_retention_days_raw, 3);
    }
}
