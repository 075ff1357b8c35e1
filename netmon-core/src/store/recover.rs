//! A database file that SQLite cannot read at start (not a database, or corrupt) is moved
//! aside, never deleted, and a new database is started, so a daemon started by a service
//! manager does not stop and restart forever on one bad file. The file and its `-wal`/`-shm`
//! companions keep their bytes under `network_monitor.db.corrupt-<UTC timestamp>`.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::ErrorCode;

use super::{FollowedStore, StoreError};

impl StoreError {
    /// Whether the file itself is unreadable as a database (rather than, say, not permitted).
    pub fn is_unreadable_file(&self) -> bool {
        let sqlite = match self {
            StoreError::Open { source, .. } | StoreError::Sqlite(source) => source,
            _ => return false,
        };
        matches!(
            sqlite.sqlite_error_code(),
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
        )
    }
}

/// SQLite's file header.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Opens the database at `path`; when the file is unreadable, moves it aside (named after
/// `now`) and opens a new one. Returns where the old file went, if it was moved. A file
/// without SQLite's header is moved before SQLite touches it (or its `-wal`).
pub fn open_or_set_aside(
    path: &Path,
    now: Timestamp,
) -> Result<(FollowedStore, Option<PathBuf>), StoreError> {
    let opened = if lacks_header(path) {
        Err(None)
    } else {
        FollowedStore::open(path).map_err(Some)
    };
    match opened {
        Ok(store) => Ok((store, None)),
        Err(None) => reopen_aside(path, now, "the file is not a SQLite database"),
        Err(Some(error)) if error.is_unreadable_file() => {
            reopen_aside(path, now, &error.to_string())
        }
        Err(Some(error)) => Err(error),
    }
}

fn reopen_aside(
    path: &Path,
    now: Timestamp,
    why: &str,
) -> Result<(FollowedStore, Option<PathBuf>), StoreError> {
    let moved = set_aside(path, now)?;
    tracing::error!(why, moved = %moved.display(), "the database could not be read; it was moved aside and a new one started");
    FollowedStore::open(path).map(|store| (store, Some(moved)))
}

/// A non-empty file whose first bytes are not SQLite's header.
fn lacks_header(path: &Path) -> bool {
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path).and_then(|mut file| {
        use std::io::Read;
        file.read(&mut header)
    });
    matches!(read, Ok(count) if count > 0 && header[..count] != MAGIC[..count])
}

/// Renames `path` (and its `-wal`, `-shm`) to `<path>.corrupt-<timestamp>[-N]`, a name not
/// taken yet.
fn set_aside(path: &Path, now: Timestamp) -> Result<PathBuf, StoreError> {
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let base = format!("{}.corrupt-{stamp}", path.display());
    let target = (1..)
        .map(|n| match n {
            1 => PathBuf::from(&base),
            n => PathBuf::from(format!("{base}-{n}")),
        })
        .find(|candidate| !candidate.exists())
        .unwrap_or_else(|| PathBuf::from(&base));
    let moved = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|source| StoreError::Create {
            path: to.to_path_buf(),
            source,
        })
    };
    moved(path, &target)?;
    ["-wal", "-shm"]
        .into_iter()
        .map(|suffix| (with_suffix(path, suffix), with_suffix(&target, suffix)))
        .filter(|(from, _)| from.exists())
        .try_for_each(|(from, to)| moved(&from, &to))?;
    Ok(target)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(bytes: usize) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(19);
        (0..bytes).map(|_| rng.u8(..)).collect()
    }

    #[test]
    fn random_bytes_are_moved_aside_byte_for_byte_and_a_new_database_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network_monitor.db");
        let bytes = noise(100_000);
        std::fs::write(&path, &bytes).unwrap();
        std::fs::write(with_suffix(&path, "-wal"), b"old wal").unwrap();
        let now: Timestamp = "2026-11-30T01:02:03Z".parse().unwrap();

        let (store, moved) = open_or_set_aside(&path, now).unwrap();
        let moved = moved.expect("the file was moved");
        assert_eq!(
            moved,
            dir.path()
                .join("network_monitor.db.corrupt-20261130T010203Z")
        );
        assert_eq!(std::fs::read(&moved).unwrap(), bytes);
        assert_eq!(
            std::fs::read(with_suffix(&moved, "-wal")).unwrap(),
            b"old wal"
        );
        assert_eq!(store.store().integrity_check().unwrap(), "ok");

        drop(store);
        // SQLite's header over noise: SQLite itself finds the file unreadable.
        let fake: Vec<u8> = MAGIC.iter().copied().chain(noise(4096)).collect();
        std::fs::write(&path, fake).unwrap();
        let (_, again) = open_or_set_aside(&path, now).unwrap();
        assert_eq!(
            again.unwrap(),
            dir.path()
                .join("network_monitor.db.corrupt-20261130T010203Z-2"),
            "an earlier copy is never overwritten"
        );
    }

    #[test]
    fn a_good_database_and_other_errors_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network_monitor.db");
        drop(FollowedStore::open(&path).unwrap());
        let (_, moved) = open_or_set_aside(&path, Timestamp::now()).unwrap();
        assert_eq!(moved, None);
        let missing = dir.path().join("no/such/dir/network_monitor.db");
        let Err(error) = open_or_set_aside(&missing, Timestamp::now()) else {
            panic!("a database in a missing directory cannot open");
        };
        assert!(!error.is_unreadable_file(), "{error}");
    }
}
