//! `netmon doctor`: checks the setup and explains, one line each with a fix. Every check looks
//! at the real thing (opens the capture, binds the port, runs `integrity_check`, ...).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::Args;
use netmon_core::capture::choose::open_with_mode;
use netmon_core::capture::CaptureError;
use netmon_core::condition::{CaptureMode, Condition};
use netmon_core::os::Platform;
use netmon_core::service::Locations;
use netmon_core::store::Store;
use netmon_core::{paths, units, Config, Paths};
use serde::Serialize;

use crate::{daemon, exit};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON for scripts (fields: docs/cli.md).
    #[arg(long)]
    json: bool,
}

/// How a check came out: only `Fail` makes doctor exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    /// Optional pieces that are missing (service not installed, extension not seen).
    Warn,
    Fail,
}

/// One check's result.
#[derive(Debug, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Outcome,
    pub detail: String,
    /// What to do, when the check did not pass.
    pub fix: Option<String>,
}

fn pass(check: &'static str, detail: impl Into<String>) -> Check {
    Check {
        check,
        status: Outcome::Pass,
        detail: detail.into(),
        fix: None,
    }
}

fn problem(
    check: &'static str,
    status: Outcome,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        check,
        status,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

pub fn run(args: DoctorArgs) -> u8 {
    let paths = match Paths::resolve() {
        Ok(paths) => paths,
        Err(error) => {
            eprintln!("netmon: {error}");
            return exit::FAILURE;
        }
    };
    let checks = checks(&paths);
    let healthy = checks.iter().all(|check| check.status != Outcome::Fail);
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "healthy": healthy, "checks": checks })
        );
    } else {
        checks.iter().for_each(|check| print!("{}", line(check)));
    }
    if healthy {
        exit::OK
    } else {
        exit::NOT_HEALTHY
    }
}

fn line(check: &Check) -> String {
    let mark = match check.status {
        Outcome::Pass => "ok  ",
        Outcome::Warn => "warn",
        Outcome::Fail => "FAIL",
    };
    let fix = check
        .fix
        .as_ref()
        .map(|fix| format!(" — fix: {fix}"))
        .unwrap_or_default();
    format!("{mark} {:<12} {}{fix}\n", check.check, check.detail)
}

/// Every check, in order.
pub fn checks(paths: &Paths) -> Vec<Check> {
    let (mut config_check, config) = config(paths);
    let running = daemon::status(config.web_server_port);
    let condition = running
        .clone()
        .and_then(|status| serde_json::from_value::<Condition>(status).ok());
    if let Some(problem) = condition.as_ref().and_then(|c| c.config_problem.as_ref()) {
        config_check.detail = format!("{}; the running netmon (started by the service manager) ignores it and runs on the defaults: {problem}", config_check.detail);
    }
    let (capture_check, here) = capture(&config);
    vec![
        config_check,
        file_modes(paths),
        capture_check,
        capture_mode(condition.as_ref(), here),
        libpcap(),
        #[cfg(target_os = "macos")]
        nettop(),
        port(&config, running.is_some()),
        database(paths),
        set_aside(paths),
        service(),
        extension(paths, config.web_server_port, running.is_some()),
        disk_space(&paths.home),
    ]
}

fn config(paths: &Paths) -> (Check, Config) {
    let path = paths.config();
    if !path.exists() {
        return (
            pass(
                "config",
                format!("{} not written yet; the defaults apply", path.display()),
            ),
            Config::default(),
        );
    }
    match Config::load(&path) {
        Ok(config) => (pass("config", format!("{} is valid", path.display())), config),
        Err(error) => (
            problem(
                "config",
                Outcome::Fail,
                error.to_string().replace('\n', " "),
                "correct the keys named with `netmon config edit` (or `netmon config set KEY VALUE`); a running netmon keeps its configuration until then; the checks below use the defaults",
            ),
            Config::default(),
        ),
    }
}

/// Directories must be 700 and files 600: the history says what the user did and when.
fn file_modes(paths: &Paths) -> Check {
    let directories = [paths.home.clone(), paths.logs(), paths.tmp()];
    let database = paths.database();
    let side_files = ["-wal", "-shm"].map(|suffix| {
        let mut name = database.clone().into_os_string();
        name.push(suffix);
        PathBuf::from(name)
    });
    let logs = std::fs::read_dir(paths.logs())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path());
    let files: Vec<PathBuf> = [paths.config(), database]
        .into_iter()
        .chain(side_files)
        .chain(logs)
        .collect();
    let loose = |list: &[PathBuf], wanted: u32| -> Vec<(PathBuf, u32)> {
        list.iter()
            .filter_map(|path| mode(path).map(|mode| (path.clone(), mode)))
            .filter(|(_, mode)| mode & 0o777 != wanted)
            .collect()
    };
    let bad_dirs = loose(&directories, paths::DIR_MODE);
    let bad_files = loose(&files, paths::FILE_MODE);
    if bad_dirs.is_empty() && bad_files.is_empty() {
        return pass("file modes", "directories 700, files 600");
    }
    let list = |bad: &[(PathBuf, u32)]| {
        bad.iter()
            .map(|(path, mode)| format!("{} is {:o}", path.display(), mode & 0o777))
            .collect::<Vec<_>>()
    };
    let chmod = |bad: &[(PathBuf, u32)], wanted: &str| {
        (!bad.is_empty()).then(|| {
            let names: Vec<String> = bad
                .iter()
                .map(|(path, _)| path.display().to_string())
                .collect();
            format!("chmod {wanted} {}", names.join(" "))
        })
    };
    let detail = [list(&bad_dirs), list(&bad_files)].concat().join(", ");
    let fix = [chmod(&bad_dirs, "700"), chmod(&bad_files, "600")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
    problem(
        "file modes",
        Outcome::Fail,
        format!("others may read netmon's files: {detail}"),
        fix,
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|meta| meta.permissions().mode())
}

#[cfg(not(unix))]
fn mode(_path: &Path) -> Option<u32> {
    None
}

/// Opens the configured capture source for real, as this user; the mode it opened in.
fn capture(config: &Config) -> (Check, Option<CaptureMode>) {
    let check = match open_with_mode(config) {
        Ok((source, mode)) => {
            return (
                pass("capture", format!("{} can be opened", source.describe())),
                Some(mode),
            )
        }
        Err(error @ CaptureError::PermissionDenied { .. }) => problem(
            "capture",
            Outcome::Fail,
            format!("{error}"),
            "run netmon as root (`sudo netmon run`), or let it capture without root: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v netmon)",
        ),
        Err(error @ CaptureError::NoDevice { .. }) => problem(
            "capture",
            Outcome::Fail,
            format!("{error}"),
            "netmon config set capture_interface any",
        ),
        Err(error) => problem(
            "capture",
            Outcome::Fail,
            format!("{error}"),
            "see docs/capture.md for the capture sources of this system",
        ),
    };
    (check, None)
}

/// The capture mode: the running netmon's (from its status), else the one this user would
/// get now (`here`, from the capture check); what the mode cannot see, with the fix.
fn capture_mode(running: Option<&Condition>, here: Option<CaptureMode>) -> Check {
    let (mode, whose) = match (running.and_then(|condition| condition.capture), here) {
        (Some(mode), _) => {
            let user = running.and_then(|condition| condition.running_as.as_deref());
            let whose = match user {
                Some(user) => format!("the running netmon, opened as root, then running as {user}"),
                None => "the running netmon".to_string(),
            };
            (mode, whose)
        }
        (None, Some(mode)) => (
            mode,
            "netmon is not running; what this user would get now".to_string(),
        ),
        (None, None) => {
            return problem(
                "mode",
                Outcome::Warn,
                "netmon is not running, and the capture cannot open as this user",
                "see the capture check",
            )
        }
    };
    match (mode.cannot_see(), mode.fix()) {
        (Some(limits), Some(fix)) => problem(
            "mode",
            Outcome::Warn,
            format!("limited: {} ({whose}): {limits}", mode.describe()),
            fix,
        ),
        _ => pass(
            "mode",
            format!(
                "{} ({whose}): packets with their processes and domains from the wire",
                mode.describe()
            ),
        ),
    }
}

/// libpcap is linked dynamically: this process running means the library was found.
fn libpcap() -> Check {
    pass("libpcap", "loaded by this netmon binary")
}

#[cfg(target_os = "macos")]
fn nettop() -> Check {
    if Path::new("/usr/bin/nettop").exists() {
        pass("nettop", "/usr/bin/nettop is present")
    } else {
        problem(
            "nettop",
            Outcome::Warn,
            "/usr/bin/nettop is missing, so netmon cannot capture without root",
            "run netmon with sudo (libpcap), or reinstall the macOS command line tools",
        )
    }
}

/// The web server's port must be free, or held by netmon itself.
fn port(config: &Config, running: bool) -> Check {
    let port = config.web_server_port;
    if running {
        return pass(
            "port",
            format!("127.0.0.1:{port} is held by the running netmon"),
        );
    }
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => pass("port", format!("127.0.0.1:{port} is free")),
        Err(error) => {
            let free = netmon_core::config::WEB_SERVER_PORT
                .map(|candidate| candidate as u16)
                .find(|candidate| std::net::TcpListener::bind(("127.0.0.1", *candidate)).is_ok());
            let fix = match free {
                Some(free) => format!("stop the program holding port {port}, or move netmon: netmon config set web_server_port {free}"),
                None => format!("stop the program holding port {port}"),
            };
            problem(
                "port",
                Outcome::Fail,
                format!("127.0.0.1:{port} is used by another program ({error})"),
                fix,
            )
        }
    }
}

fn database(paths: &Paths) -> Check {
    let path = paths.database();
    if !path.exists() {
        return problem(
            "database",
            Outcome::Warn,
            format!("{} does not exist yet", path.display()),
            "start netmon (`sudo netmon run`): it creates the database",
        );
    }
    let move_aside = format!(
        "stop netmon, move the damaged file aside (mv {0} {0}.damaged) and start netmon again: it creates a fresh database (or restore a backup)",
        path.display()
    );
    if let Some(denied) = access_problem(&path) {
        return problem(
            "database",
            Outcome::Fail,
            format!("{} is not {denied} by this user", path.display()),
            format!(
                "run as the user who owns it, or: sudo chown $(id -u) {}",
                path.display()
            ),
        );
    }
    match Store::open(&path).and_then(|store| store.integrity_check()) {
        Ok(result) if result == "ok" => pass(
            "database",
            format!(
                "{} is readable, writable and passes integrity_check",
                path.display()
            ),
        ),
        Ok(result) => problem(
            "database",
            Outcome::Fail,
            format!(
                "{} fails integrity_check: {}",
                path.display(),
                result.replace('\n', "; ")
            ),
            move_aside,
        ),
        Err(error) => problem("database", Outcome::Fail, error.to_string(), move_aside),
    }
}

/// Databases `netmon run` found unreadable at start and moved aside (`….corrupt-<time>`,
/// without their `-wal`/`-shm` companions), oldest first.
fn set_aside_copies(paths: &Paths) -> Vec<PathBuf> {
    let database = paths.database();
    let prefix = format!(
        "{}.corrupt-",
        database.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut copies: Vec<PathBuf> = std::fs::read_dir(&paths.home)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&prefix) && !name.ends_with("-wal") && !name.ends_with("-shm")
        })
        .collect();
    copies.sort();
    copies
}

/// An unreadable database that netmon moved aside at start: monitoring went on in a new one,
/// and the old history is only in the copy.
fn set_aside(paths: &Paths) -> Check {
    let copies = set_aside_copies(paths);
    let Some(newest) = copies.last() else {
        return pass("set aside", "no unreadable database was moved aside");
    };
    let list = copies
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    problem(
        "set aside",
        Outcome::Warn,
        format!("netmon found its database unreadable at start and moved it aside ({list}); a new database was started, so history before then is only in the copy"),
        format!("nothing is needed for monitoring; to salvage old history try `sqlite3 {} .recover`, and remove the copy when you no longer need it", newest.display()),
    )
}

/// "readable" or "writable" when this user lacks that access to `path`.
fn access_problem(path: &Path) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: access() only reads the NUL-terminated path.
        let allowed = |mode| unsafe { libc::access(name.as_ptr(), mode) == 0 };
        if !allowed(libc::R_OK) {
            return Some("readable");
        }
        if !allowed(libc::W_OK) {
            return Some("writable");
        }
    }
    let _ = path;
    None
}

/// Whether netmon starts with the system (a systemd unit or a LaunchAgent).
fn service() -> Check {
    let platform = Platform::current();
    let locations = Locations {
        root: PathBuf::from("/"),
        home: std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default(),
        config_home: std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
    };
    let installed = locations
        .installed(platform)
        .into_iter()
        .filter_map(|scope| locations.daemon_file(platform, scope))
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>();
    if installed.is_empty() {
        problem(
            "service",
            Outcome::Warn,
            "no systemd unit, LaunchDaemon or LaunchAgent is installed, so netmon does not start with the system",
            "sudo netmon install (or start `sudo netmon run` yourself)",
        )
    } else {
        pass("service", format!("{} installed", installed.join(" and ")))
    }
}

/// The browser extension reported within the last hour (asked of the daemon, else seen in
/// extension.log).
fn extension(paths: &Paths, port: u16, running: bool) -> Check {
    let reported = running
        && daemon::request(port, "GET", "/api/browser", "")
            .ok()
            .and_then(|reply| serde_json::from_str::<serde_json::Value>(&reply.body).ok())
            .and_then(|view| view["reports_accepted"].as_u64())
            .is_some_and(|accepted| accepted > 0);
    let log = paths.log_file("extension.log");
    let logged = std::fs::metadata(&log)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age < Duration::from_secs(3600));
    if reported || logged {
        pass(
            "extension",
            "the browser extension reported in the last hour",
        )
    } else {
        problem(
            "extension",
            Outcome::Warn,
            "no report from the browser extension in the last hour (per-tab domains need it)",
            "install the extension from extension/ in your browser and keep netmon running",
        )
    }
}

/// Space left where the database grows.
fn disk_space(home: &Path) -> Check {
    let existing = home
        .ancestors()
        .find(|dir| dir.exists())
        .unwrap_or(Path::new("/"));
    let Some(free) = free_bytes(existing) else {
        return problem(
            "disk space",
            Outcome::Warn,
            format!("cannot tell the free space of {}", existing.display()),
            "check it with df",
        );
    };
    let text = format!("{} free on {}", units::bytes(free), existing.display());
    match free {
        free if free < 100_000_000 => problem(
            "disk space",
            Outcome::Fail,
            text,
            "free some space: netmon needs about 1 MB a day",
        ),
        free if free < 1_000_000_000 => {
            problem("disk space", Outcome::Warn, text, "free some space soon")
        }
        _ => pass("disk space", text),
    }
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct from the NUL-terminated path.
    unsafe {
        let mut stats: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(name.as_ptr(), &mut stats) == 0)
            .then(|| stats.f_bavail as u64 * stats.f_frsize as u64)
    }
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_the_fix() {
        let text = line(&problem(
            "port",
            Outcome::Fail,
            "taken",
            "netmon config set web_server_port 7501",
        ));
        assert_eq!(
            text,
            "FAIL port         taken — fix: netmon config set web_server_port 7501\n"
        );
        assert_eq!(line(&pass("config", "valid")), "ok   config       valid\n");
    }
}
