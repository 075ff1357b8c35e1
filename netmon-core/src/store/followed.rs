//! A store that follows its file. SQLite keeps reading and writing a database file that was
//! deleted or replaced while it was open, so the daemon's writer would write every later sample
//! into a removed file and the API would serve frozen history. [`FollowedStore`] notices (the
//! file at the path is no longer the one opened: device and inode differ) and opens the file
//! that is there now, creating it when there is none.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Store, StoreError};

/// A [`Store`] and the identity of the file it opened.
pub struct FollowedStore {
    store: Store,
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl FollowedStore {
    /// Opens (creating, mode 600) the database at `path`, in this machine's time zone.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Store::open(path).map(|store| Self::following(store, path))
    }

    /// Follows `store`, which was opened from `path`.
    pub fn following(store: Store, path: &Path) -> Self {
        Self {
            store,
            path: path.to_path_buf(),
            identity: identity(path),
        }
    }

    /// Whether the file at the path is no longer the one opened (deleted or replaced).
    pub fn is_gone(&self) -> bool {
        identity(&self.path) != self.identity
    }

    /// Opens the file at the path when the one opened is gone: `Ok(true)` when it did. On an
    /// error the old store stays, and the next call tries again.
    pub fn reopen_if_gone(&mut self) -> Result<bool, StoreError> {
        if !self.is_gone() {
            return Ok(false);
        }
        let store = Store::open_in_zone(&self.path, self.store.zone().clone())?;
        *self = Self::following(store, &self.path);
        Ok(true)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path)
        .ok()
        .map(|metadata| (metadata.dev(), metadata.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Range;
    use crate::{Direction, Sample, Usage};

    fn sample(bytes: u64) -> Sample {
        Sample {
            start_ms: 1_000,
            end_ms: 6_000,
            usage: vec![Usage {
                app: "zen".into(),
                destination: None,
                direction: Direction::Received,
                bytes,
                packets: 1,
            }],
            processes: Vec::new(),
            stats: Default::default(),
        }
    }

    fn total(followed: &FollowedStore) -> u64 {
        let range = Range {
            start_ms: 0,
            end_ms: 10_000,
        };
        followed.store().totals(range).unwrap().received
    }

    #[test]
    fn a_deleted_or_replaced_file_is_opened_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network_monitor.db");
        let mut followed = FollowedStore::open(&path).unwrap();
        followed.store_mut().write(&[sample(100)]).unwrap();
        assert!(!followed.reopen_if_gone().unwrap(), "the same file");
        assert_eq!(total(&followed), 100);

        std::fs::remove_file(&path).unwrap();
        assert!(followed.is_gone());
        assert!(followed.reopen_if_gone().unwrap(), "deleted: a new file");
        assert_eq!(total(&followed), 0, "the new file has no history");
        followed.store_mut().write(&[sample(7)]).unwrap();

        let mut other = FollowedStore::open(&path).unwrap();
        assert_eq!(total(&other), 7, "a second reader sees the new file's rows");
        std::fs::remove_file(&path).unwrap();
        let mut replacement = FollowedStore::open(&path).unwrap();
        replacement.store_mut().write(&[sample(40)]).unwrap();
        assert!(other.reopen_if_gone().unwrap(), "replaced");
        assert_eq!(total(&other), 40, "it reads the replacement");
    }
}
