//! Which file the database is: the daemon notices when `network_monitor.db` is deleted or
//! replaced while it runs (SQLite would otherwise keep writing into the unlinked file, and
//! every later sample would vanish with it).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The identity (device and inode) of the database file netmon has open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl DatabaseFile {
    /// Remembers which file is at `path` now.
    pub fn at(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            identity: identity(path),
        }
    }

    /// Whether the file at the path is no longer the one remembered (deleted or replaced).
    pub fn is_gone(&self) -> bool {
        identity(&self.path) != self.identity
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    #[test]
    fn a_deleted_or_replaced_file_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, b"one").unwrap();
        let file = DatabaseFile::at(&path);
        assert!(!file.is_gone());
        std::fs::write(&path, b"rewritten in place").unwrap();
        assert!(!file.is_gone(), "the same file, written to");
        std::fs::remove_file(&path).unwrap();
        assert!(file.is_gone(), "deleted");
        std::fs::write(&path, b"new").unwrap();
        let replaced = DatabaseFile::at(&path);
        assert!(!replaced.is_gone());
    }
}
