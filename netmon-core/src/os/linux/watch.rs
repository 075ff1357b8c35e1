//! Linux: one file's changes through an inotify watch on its directory that asks only for the
//! events that finish a change of a file (closed after writing, moved in or out, created,
//! deleted). The kernel then wakes netmon for none of the writes to the other files of the
//! directory: the database, its WAL and shared memory, written every few seconds, only ever
//! modify their (open) files.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};

/// The events that end a change of a file in the directory. An editor that saves in place
/// closes the file (`CLOSE_WRITE`); one that saves atomically renames a copy over it
/// (`MOVED_TO`). `MODIFY` is left out on purpose: every write to the database is one.
const FINISHED: WatchMask = WatchMask::CLOSE_WRITE
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::CREATE)
    .union(WatchMask::DELETE);

/// Room for a few events with names (each up to 16 + 256 bytes).
const BUFFER_BYTES: usize = 4096;

/// A running watch; dropping it removes the watch, which ends its thread.
pub struct Watch {
    watches: Watches,
    descriptor: WatchDescriptor,
    thread: Option<JoinHandle<()>>,
}

/// Watches `directory` and sends on `changed` after each batch of events about `name`.
pub fn watch(directory: &Path, name: OsString, changed: Sender<()>) -> io::Result<Watch> {
    let inotify = Inotify::init()?;
    let mut watches = inotify.watches();
    let descriptor = watches.add(directory, FINISHED)?;
    let thread = thread::Builder::new()
        .name("netmon-inotify".into())
        .spawn(move || read(inotify, &name, &changed))?;
    Ok(Watch {
        watches,
        descriptor,
        thread: Some(thread),
    })
}

/// Reads events until the watch is removed (`IGNORED`: dropped, or the directory is gone) or
/// nobody listens any more.
fn read(mut inotify: Inotify, name: &OsString, changed: &Sender<()>) {
    let mut buffer = [0; BUFFER_BYTES];
    loop {
        let events = match inotify.read_events_blocking(&mut buffer) {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(%error, "watching config.json failed");
                return;
            }
        };
        let (mut about, mut ended) = (false, false);
        for event in events {
            about |= event.name == Some(name.as_os_str());
            ended |= event.mask.contains(EventMask::IGNORED);
        }
        if (about && changed.send(()).is_err()) || ended {
            return;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Removing the watch queues an IGNORED event, which wakes and ends the thread.
        if self.watches.remove(self.descriptor.clone()).is_ok() {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Voluntary context switches of this process's thread named `name`.
    fn switches_of(name: &str) -> u64 {
        fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|task| task.unwrap().path())
            .find(|task| fs::read_to_string(task.join("comm")).unwrap().trim() == name)
            .and_then(|task| {
                fs::read_to_string(task.join("status"))
                    .unwrap()
                    .lines()
                    .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                    .map(|count| count.trim().parse().unwrap())
            })
            .expect("the watch's thread")
    }

    #[test]
    fn writes_beside_the_file_never_wake_it_and_both_kinds_of_save_are_reported() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("config.json");
        fs::write(&path, "{}").unwrap();
        let (changed, changes) = mpsc::channel();
        let watch = watch(temp.path(), "config.json".into(), changed).unwrap();
        // What SQLite does all day: writes to files it keeps open (created once).
        let mut wal = fs::File::create(temp.path().join("history.db-wal")).unwrap();
        thread::sleep(Duration::from_millis(100));
        let before = switches_of("netmon-inotify");
        for _ in 0..50 {
            wal.write_all(b"a page").unwrap();
            wal.sync_data().unwrap();
        }
        thread::sleep(Duration::from_millis(100));
        assert_eq!(
            switches_of("netmon-inotify"),
            before,
            "woken by other files"
        );
        assert!(changes.try_recv().is_err());
        // Saved in place, then atomically (a copy renamed over it).
        fs::write(&path, r#"{"a": 1}"#).unwrap();
        changes
            .recv_timeout(Duration::from_secs(5))
            .expect("in place");
        let copy = temp.path().join(".config.json.tmp");
        fs::write(&copy, r#"{"a": 2}"#).unwrap();
        while changes.try_recv().is_ok() {}
        fs::rename(&copy, &path).unwrap();
        changes
            .recv_timeout(Duration::from_secs(5))
            .expect("renamed over");
        drop(watch);
        while changes.try_recv().is_ok() {}
        assert!(
            changes.recv_timeout(Duration::from_secs(5)).is_err(),
            "ended"
        );
    }
}
