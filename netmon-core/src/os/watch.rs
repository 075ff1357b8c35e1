//! Tells when one file may have changed (config.json, which users edit by hand), as cheaply as
//! the platform allows: its directory also holds the database, written every few seconds, and
//! a daemon should not wake for those writes.
//!
//! Linux asks inotify for the events that finish a change only ([`super::linux::watch`]);
//! elsewhere `notify`'s watcher of the directory reports every event and the ones about other
//! files are dropped here.

use std::io;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};

/// A running watch of one file; it ends when dropped, and its receiver then disconnects.
pub struct FileWatch {
    #[cfg(target_os = "linux")]
    _watch: super::linux::watch::Watch,
    #[cfg(not(target_os = "linux"))]
    _watch: notify::RecommendedWatcher,
}

/// Starts watching the file at `path`: the receiver gets `()` after events about it (several
/// for one save; let them settle before reading the file).
pub fn watch_file(path: &Path) -> io::Result<(FileWatch, Receiver<()>)> {
    let (Some(directory), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path",
        ));
    };
    let (changed, changes) = mpsc::channel();
    #[cfg(target_os = "linux")]
    let watch = super::linux::watch::watch(directory, name.to_os_string(), changed)?;
    #[cfg(not(target_os = "linux"))]
    let watch = notified::watch(directory, name.to_os_string(), changed)?;
    Ok((FileWatch { _watch: watch }, changes))
}

#[cfg(not(target_os = "linux"))]
mod notified {
    use std::ffi::OsString;
    use std::io;
    use std::path::Path;
    use std::sync::mpsc::Sender;

    use notify::{RecursiveMode, Watcher};

    /// Watches `directory` with `notify`, sending on `changed` for each event about `name`.
    pub(super) fn watch(
        directory: &Path,
        name: OsString,
        changed: Sender<()>,
    ) -> io::Result<notify::RecommendedWatcher> {
        let mut watcher = notify::recommended_watcher(move |event| {
            if concerns(&event, &name) {
                // Nobody listens only while the watch is being dropped.
                let _ = changed.send(());
            }
        })
        .map_err(io::Error::other)?;
        watcher
            .watch(directory, RecursiveMode::NonRecursive)
            .map_err(io::Error::other)?;
        Ok(watcher)
    }

    /// Whether an event is about the file `name` (an error of the watch is logged).
    fn concerns(event: &notify::Result<notify::Event>, name: &OsString) -> bool {
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
}
