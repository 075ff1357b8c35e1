//! Logs: `logs/<name>.log` below netmon's home, rotated at 10 MB, the last 5 kept gzip-compressed,
//! mirrored to stderr when running in the foreground.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::LogLevel;
use crate::paths::Paths;

/// Size at which a log file is rotated.
pub const ROTATE_BYTES: usize = 10 * 1024 * 1024;
/// Rotated files kept (compressed) besides the live one.
pub const KEEP_FILES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
    #[error("logging is already set up in this process")]
    AlreadySet,
}

/// Sends this process's logs to `logs/<file_name>` (and stderr when `foreground`).
pub fn init(
    paths: &Paths,
    file_name: &str,
    level: LogLevel,
    foreground: bool,
) -> Result<(), LoggingError> {
    paths.ensure()?;
    let filter = level_filter(level);
    let file = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(Mutex::new(rotating_writer(
            &paths.log_file(file_name),
            ROTATE_BYTES,
        )))
        .with_filter(filter);
    let stderr = foreground.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(io::stderr)
            .with_target(false)
            .with_filter(filter)
    });
    tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)
}

/// A log file that rotates at `limit` bytes into `KEEP_FILES` gzip-compressed files, mode 600.
pub fn rotating_writer(path: &Path, limit: usize) -> FileRotate<AppendCount> {
    FileRotate::new(
        path,
        AppendCount::new(KEEP_FILES),
        ContentLimit::BytesSurpassed(limit),
        Compression::OnRotate(0),
        Some(private_append()),
    )
}

fn private_append() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(crate::paths::FILE_MODE);
    }
    options
}

/// The spec's level names in tracing's terms (CRITICAL logs as ERROR).
pub fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
        LogLevel::Error | LogLevel::Critical => LevelFilter::ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn rotates_into_at_most_five_gzip_files() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("daemon.log");
        let mut writer = rotating_writer(&path, 1000);
        let line = [b'x'; 99];
        (0..200).for_each(|_| {
            writer.write_all(&line).unwrap();
            writer.write_all(b"\n").unwrap();
        });
        writer.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(temp.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let rotated: Vec<&String> = names.iter().filter(|name| name.ends_with(".gz")).collect();
        assert_eq!(rotated.len(), KEEP_FILES, "{names:?}");
        assert!(names.contains(&"daemon.log".to_string()));
        let gz = std::fs::read(temp.path().join("daemon.log.1.gz")).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
        assert!(std::fs::metadata(&path).unwrap().len() <= 1100);
    }

    #[cfg(unix)]
    #[test]
    fn the_live_log_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("x.log");
        let mut writer = rotating_writer(&path, 1000);
        writer.write_all(b"hello\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn spec_levels_map_to_tracing_levels() {
        assert_eq!(level_filter(LogLevel::Warning), LevelFilter::WARN);
        assert_eq!(level_filter(LogLevel::Critical), LevelFilter::ERROR);
    }
}
