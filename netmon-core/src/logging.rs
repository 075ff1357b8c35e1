//! Logs: `logs/<name>.log` below netmon's home, rotated at 10 MB, the last 5 kept gzip-compressed,
//! mirrored to stderr when running in the foreground. The level is one global filter behind
//! tracing's reload layer, so a running netmon changes it at once ([`LevelHandle`]); tracing
//! then rebuilds its per-call-site interest, and a disabled `debug!` costs one comparison.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Layer, Registry};

use crate::config::LogLevel;
use crate::paths::Paths;

/// Target of the web server's access and error events: they go to `logs/webserver.log`.
pub const WEBSERVER: &str = "webserver";
/// Target of the browser extension's reports: they go to `logs/extension.log`.
pub const EXTENSION: &str = "extension";

/// Target of debug mode's packet-level inspection lines (`crate::packet_log`).
pub const PACKET: &str = "netmon::packet";
/// Target of debug mode's SQL statement lines (`crate::store`).
pub const SQL: &str = "netmon::sql";

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

/// The registry under the reloadable level filter.
type Leveled = Layered<reload::Layer<LevelFilter, Registry>, Registry>;

/// Changes the level of the logs [`init`] set up, while the process runs.
#[derive(Clone)]
pub struct LevelHandle(reload::Handle<LevelFilter, Registry>);

impl LevelHandle {
    /// Logs at `level` from now on.
    pub fn set(&self, level: LogLevel) {
        let filter = level_filter(level);
        match self.0.modify(|current| *current = filter) {
            Ok(()) => tracing::info!(level = %filter, "log level changed"),
            Err(error) => tracing::warn!(%error, "cannot change the log level"),
        }
    }
}

/// Sends this process's logs to `logs/<file_name>` (and stderr when `foreground`); the web
/// server's events (target [`WEBSERVER`], and poem's own) to `logs/webserver.log` and the
/// extension's reports (target [`EXTENSION`]) to `logs/extension.log`. The returned handle
/// changes the level later.
pub fn init(
    paths: &Paths,
    file_name: &str,
    level: LogLevel,
    foreground: bool,
) -> Result<LevelHandle, LoggingError> {
    paths.ensure()?;
    let (level_layer, handle) = reload::Layer::new(level_filter(level));
    let log_file = |name: &str, wanted: fn(&str) -> bool| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(Mutex::new(rotating_writer(
                &paths.log_file(name),
                ROTATE_BYTES,
            )))
            .with_filter(filter_fn(move |event| wanted(event.target())))
            .boxed()
    };
    let stderr = foreground.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(io::stderr)
            .with_target(false)
    });
    let files: Vec<Box<dyn Layer<Leveled> + Send + Sync>> = vec![
        log_file(file_name, |target| file_of(target).is_none()),
        log_file("webserver.log", |target| file_of(target) == Some(WEBSERVER)),
        log_file("extension.log", |target| file_of(target) == Some(EXTENSION)),
    ];
    tracing_subscriber::registry()
        .with(level_layer)
        .with(files)
        .with(stderr)
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)?;
    Ok(LevelHandle(handle))
}

/// The separate log an event's target belongs to (`webserver`, `extension`), if any.
fn file_of(target: &str) -> Option<&'static str> {
    let under = |prefix: &str| {
        target
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    };
    if under(EXTENSION) {
        Some(EXTENSION)
    } else if under(WEBSERVER) || under("poem") || under("netmon_server") {
        Some(WEBSERVER)
    } else {
        None
    }
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
    #[test]
    fn server_and_extension_events_have_files_of_their_own() {
        assert_eq!(super::file_of("webserver"), Some(super::WEBSERVER));
        assert_eq!(super::file_of("poem::server"), Some(super::WEBSERVER));
        assert_eq!(
            super::file_of("netmon_server::state"),
            Some(super::WEBSERVER)
        );
        assert_eq!(super::file_of("extension"), Some(super::EXTENSION));
        assert_eq!(super::file_of("netmon::run"), None);
        assert_eq!(super::file_of("poemish"), None);
    }

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
