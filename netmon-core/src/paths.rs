//! Where netmon keeps its files: `~/.netmonitor` (or `$NETMON_HOME`), owner-only.
//!
//! ```text
//! ~/.netmonitor/            mode 700
//! ├── config.json           mode 600
//! ├── network_monitor.db    mode 600
//! ├── logs/                 mode 700 (daemon.log, webserver.log, extension.log; 600)
//! └── tmp/                  mode 700
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Environment variable that replaces `~/.netmonitor` (used by tests and by users who want the
/// data elsewhere).
pub const HOME_ENV: &str = "NETMON_HOME";

/// Mode of every directory netmon creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file netmon creates.
pub const FILE_MODE: u32 = 0o600;

/// The locations of netmon's files, all below one home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub home: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error(
        "cannot find the home directory; set {HOME_ENV} to choose where netmon keeps its files"
    )]
    NoHome,
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot set the permissions of {path}: {source}")]
    Permissions { path: PathBuf, source: io::Error },
}

impl Paths {
    /// `$NETMON_HOME` when set and not empty, else `~/.netmonitor`.
    pub fn resolve() -> Result<Self, PathsError> {
        Self::resolve_for(None)
    }

    /// `$NETMON_HOME` when set and not empty, else `.netmonitor` in `user_home` (the home of
    /// the user netmon runs for) or, without one, in this process's home directory.
    pub fn resolve_for(user_home: Option<&std::path::Path>) -> Result<Self, PathsError> {
        std::env::var_os(HOME_ENV)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or_else(|| user_home.map(|home| home.join(".netmonitor")))
            .or_else(|| {
                directories::BaseDirs::new().map(|dirs| dirs.home_dir().join(".netmonitor"))
            })
            .map(Self::at)
            .ok_or(PathsError::NoHome)
    }

    /// Paths below an explicit home directory.
    pub fn at(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    pub fn config(&self) -> PathBuf {
        self.home.join("config.json")
    }

    pub fn database(&self) -> PathBuf {
        self.home.join("network_monitor.db")
    }

    pub fn logs(&self) -> PathBuf {
        self.home.join("logs")
    }

    pub fn log_file(&self, name: &str) -> PathBuf {
        self.logs().join(name)
    }

    pub fn tmp(&self) -> PathBuf {
        self.home.join("tmp")
    }

    /// Creates the home, `logs/` and `tmp/` directories (mode 700), tightening the mode of
    /// ones that already exist.
    pub fn ensure(&self) -> Result<(), PathsError> {
        [self.home.clone(), self.logs(), self.tmp()]
            .iter()
            .try_for_each(|dir| ensure_private_dir(dir))
    }
}

/// Creates `dir` (and its parents) and sets it to mode 700.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PathsError> {
    fs::create_dir_all(dir).map_err(|source| PathsError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    set_mode(dir, DIR_MODE)
}

/// Sets an existing file to mode 600.
pub fn make_private(file: &Path) -> Result<(), PathsError> {
    set_mode(file, FILE_MODE)
}

/// Makes every file and directory this process creates owner-only (umask 077), so logs,
/// rotated logs and database side files never start readable by others.
pub fn restrict_umask() {
    #[cfg(unix)]
    // SAFETY: umask only replaces the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), PathsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| {
        PathsError::Permissions {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), PathsError> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn ensure_creates_private_directories() {
        let temp = tempfile::tempdir().unwrap();
        let paths = Paths::at(temp.path().join("home"));
        paths.ensure().unwrap();
        for dir in [paths.home.clone(), paths.logs(), paths.tmp()] {
            assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        }
    }

    #[test]
    fn ensure_tightens_an_open_directory() {
        let temp = tempfile::tempdir().unwrap();
        let paths = Paths::at(temp.path());
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        paths.ensure().unwrap();
        assert_eq!(mode(temp.path()), 0o700);
    }

    #[test]
    fn file_names_follow_the_spec() {
        let paths = Paths::at("/h");
        assert_eq!(paths.config(), Path::new("/h/config.json"));
        assert_eq!(paths.database(), Path::new("/h/network_monitor.db"));
        assert_eq!(
            paths.log_file("daemon.log"),
            Path::new("/h/logs/daemon.log")
        );
    }
}
