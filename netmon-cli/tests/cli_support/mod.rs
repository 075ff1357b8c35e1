//! A netmon home in a temporary directory with a small, known history, and a way to run the
//! `netmon` binary against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use netmon_core::sample::{Provenance, SampleStats, Usage};
use netmon_core::store::{Range, Store, Totals};
use netmon_core::{Direction, Paths, Sample};

pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 86_400_000;

/// A temporary netmon home.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    /// An empty home (directories 700, no files).
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Paths::at(dir.path()).ensure().expect("netmon home");
        Self { dir }
    }

    /// A home whose database holds [`seed`]'s history.
    pub fn seeded() -> Self {
        let home = Self::empty();
        let mut store = Store::open(&home.paths().database()).expect("open store");
        store.write(&seed(now_ms())).expect("write samples");
        home
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn paths(&self) -> Paths {
        Paths::at(self.path())
    }

    pub fn database(&self) -> PathBuf {
        self.paths().database()
    }

    /// The store's own totals over all time.
    pub fn totals(&self) -> Totals {
        Store::open(&self.database())
            .expect("open store")
            .totals(Range {
                start_ms: i64::MIN,
                end_ms: i64::MAX,
            })
            .expect("totals")
    }

    /// `netmon ARGS` with this home, stdin closed.
    pub fn netmon(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run netmon")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_netmon"));
        command
            .args(args)
            .env("NETMON_HOME", self.path())
            .env("TZ", "UTC")
            .env_remove("RUST_BACKTRACE");
        command
    }

    /// Writes config.json (mode 600).
    pub fn write_config(&self, text: &str) {
        let path = self.paths().config();
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o600);
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn usage(app: &str, host: Option<(&str, &str)>, direction: Direction, bytes: u64) -> Usage {
    let usage = Usage::new(app, direction, bytes).in_packets(bytes / 1000 + 1);
    match host {
        // assets.netflix.com was named by DNS, every other host by SNI.
        Some((host @ "assets.netflix.com", domain)) => usage.to(host, domain, Provenance::Dns),
        Some((host, domain)) => usage.to(host, domain, Provenance::Sni),
        None => usage,
    }
}

fn sample(start_ms: i64, usage: Vec<Usage>) -> Sample {
    Sample {
        start_ms,
        end_ms: start_ms + 5_000,
        usage,
        processes: vec![],
        stats: SampleStats::default(),
    }
}

pub const NETFLIX_WWW: Option<(&str, &str)> = Some(("www.netflix.com", "netflix.com"));
pub const NETFLIX_ASSETS: Option<(&str, &str)> = Some(("assets.netflix.com", "netflix.com"));
pub const GITHUB: Option<(&str, &str)> = Some(("api.github.com", "github.com"));

/// The known history, relative to `now`:
///
/// | when      | app     | destination         | received  | sent   |
/// |-----------|---------|---------------------|-----------|--------|
/// | -10 min   | zen     | www.netflix.com     | 3 000 000 | 20 000 |
/// | -10 min   | curl    | api.github.com      |   500 000 |  1 000 |
/// | -5 min    | zen     | assets.netflix.com  | 1 000 000 |        |
/// | -5 min    | ssh     | —                   |           |  7 000 |
/// | -3 days   | firefox | www.netflix.com     | 9 000 000 |        |
///
/// So in the last 24 h: zen 4 000 000 / 20 000, curl 500 000 / 1 000, ssh 0 / 7 000;
/// netflix.com 4 000 000 / 20 000 over 2 hostnames, github.com 500 000 / 1 000.
pub fn seed(now: i64) -> Vec<Sample> {
    use Direction::{Received, Sent};
    vec![
        sample(
            now - 3 * DAY_MS,
            vec![usage("firefox", NETFLIX_WWW, Received, 9_000_000)],
        ),
        sample(
            now - 10 * MINUTE_MS,
            vec![
                usage("zen", NETFLIX_WWW, Received, 3_000_000),
                usage("zen", NETFLIX_WWW, Sent, 20_000),
                usage("curl", GITHUB, Received, 500_000),
                usage("curl", GITHUB, Sent, 1_000),
            ],
        ),
        sample(
            now - 5 * MINUTE_MS,
            vec![
                usage("zen", NETFLIX_ASSETS, Received, 1_000_000),
                usage("ssh", None, Sent, 7_000),
            ],
        ),
    ]
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// stdout parsed as JSON, after checking the command succeeded.
pub fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", stdout(output)))
}

/// Asserts `value` is an object holding exactly `fields`.
pub fn assert_fields(value: &serde_json::Value, fields: &[&str]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = fields.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{value}");
}

/// A port from 7000 to 7999 that nothing listens on now, different on every call in this
/// process (tests run in parallel, and one may hold its port while another checks its own).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7);
    std::iter::repeat_with(|| CALLS.fetch_add(1, Ordering::Relaxed))
        .take(1000)
        .map(|call| 7000 + (start.wrapping_add(call) % 1000) as u16)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port from 7000 to 7999")
}

/// Runs `netmon ARGS` with `home` as its home, as the unprivileged `nobody` user with no
/// capabilities: a copy of the binary goes into `dir`, and `dir` (with `home`, when it is below)
/// is handed to nobody first. Needs root.
pub fn run_as_nobody(dir: &Path, home: &Path, args: &[&str]) -> Output {
    let binary = dir.join("netmon");
    std::fs::copy(env!("CARGO_BIN_EXE_netmon"), &binary).unwrap();
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(
        chown.success(),
        "this test needs root to switch to the nobody user"
    );
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&binary)
        .args(args)
        .env("NETMON_HOME", home)
        .output()
        .unwrap()
}
