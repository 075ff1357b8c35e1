//! Hand edits of config.json reach the running netmon: the file is watched
//! (`netmon_core::os::watch`, which on Linux keeps the kernel from waking netmon for the
//! database's writes beside it), and once the events about config.json have settled (editors
//! write a temporary file, rename it over the old one, and touch it again) the live
//! configuration reads the file again, applying what changed or keeping everything and logging
//! each problem.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use netmon_core::live::LiveConfig;
use netmon_core::os::watch::{self, FileWatch};

/// Quiet time after the last event about config.json before it is read.
pub const SETTLE: Duration = Duration::from_millis(300);

/// A running watch of config.json; it ends when dropped.
pub struct ConfigWatch {
    watch: Option<FileWatch>,
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
    let path = live.path().display().to_string();
    let failed = |error: std::io::Error| WatchError {
        path: path.clone(),
        detail: error.to_string(),
    };
    let (watch, changes) = watch::watch_file(live.path()).map_err(failed)?;
    let thread = thread::Builder::new()
        .name("netmon-config".into())
        .spawn(move || follow(&changes, &live))
        .map_err(failed)?;
    Ok(ConfigWatch {
        watch: Some(watch),
        thread: Some(thread),
    })
}

/// Reads config.json again after each settled burst of changes, until the watch ends.
fn follow(changes: &Receiver<()>, live: &LiveConfig) {
    while changes.recv().is_ok() {
        settle(changes);
        // Problems are logged and kept by the live configuration itself.
        let _ = live.reload();
    }
}

/// Waits until no change came for [`SETTLE`].
fn settle(changes: &Receiver<()>) {
    let mut quiet_from = Instant::now();
    loop {
        let wait = (quiet_from + SETTLE).saturating_duration_since(Instant::now());
        match changes.recv_timeout(wait) {
            Ok(()) => quiet_from = Instant::now(),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl Drop for ConfigWatch {
    fn drop(&mut self) {
        // Ending the watch disconnects the changes, which ends the thread.
        drop(self.watch.take());
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
