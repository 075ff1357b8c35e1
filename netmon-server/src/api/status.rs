//! `/status` and `/monitoring/…`: what the monitor is doing, pause and resume.

use netmon_core::condition::CaptureMode;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::common::Tag;
use crate::state::AppState;

/// What the monitor is doing.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct Status {
    version: String,
    /// The capture source, e.g. `pcap on any`.
    capture_source: String,
    /// Whether netmon runs as root (needed for packet capture).
    privileged: bool,
    uptime_seconds: u64,
    /// Samples taken since start.
    samples: u64,
    /// Packets the kernel dropped before netmon read them, since start (its capture buffer
    /// overflowed): when not 0, the figures since start are short by those packets' bytes.
    dropped_packets: u64,
    paused: bool,
    last_error: Option<String>,
    /// Size of network_monitor.db, when it exists.
    database_bytes: Option<u64>,
    /// The capture mode: `pktap` (macOS, opened as root), `pcap` (libpcap) or `nettop` (macOS
    /// without root: the limited mode).
    capture: Option<CaptureMode>,
    /// What the capture mode cannot see, when it is the limited one.
    capture_cannot_see: Option<String>,
    /// How to get the full capture mode, when it is the limited one.
    capture_fix: Option<String>,
    /// The user netmon became after opening the capture as root.
    running_as: Option<String>,
    /// Where an unreadable database was moved at start (a new one was started).
    database_set_aside: Option<String>,
    /// Why config.json could not be used at start under the service manager: netmon runs on
    /// the defaults and left the file as it was.
    config_problem: Option<String>,
    /// One line per problem of the above, for people (empty when all is well).
    problems: Vec<String>,
}

/// Whether monitoring is paused.
#[derive(Debug, Object)]
struct Monitoring {
    paused: bool,
}

/// The monitor's state.
pub(crate) struct StatusApi {
    state: AppState,
}

impl StatusApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl StatusApi {
    /// The monitor's status: capture source and mode, privileges, uptime, samples, last error,
    /// DB size, and what went wrong at start (a database set aside, config.json ignored).
    #[oai(path = "/status", method = "get", tag = "Tag::Status")]
    async fn status(&self) -> Json<Status> {
        let state = &self.state;
        let condition = state.condition();
        let mode = condition.capture;
        Json(Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            capture_source: state.source(),
            privileged: netmon_core::os::is_root(),
            uptime_seconds: state.uptime_seconds(),
            samples: state.samples(),
            dropped_packets: state.dropped_packets(),
            paused: state.paused(),
            last_error: state.last_error(),
            database_bytes: state.database_bytes(),
            capture: mode,
            capture_cannot_see: mode.and_then(CaptureMode::cannot_see).map(Into::into),
            capture_fix: mode.and_then(CaptureMode::fix).map(Into::into),
            problems: condition.problems(),
            running_as: condition.running_as,
            database_set_aside: condition.database_set_aside,
            config_problem: condition.config_problem,
        })
    }

    /// Pauses monitoring: traffic is not counted until resumed.
    #[oai(path = "/monitoring/pause", method = "post", tag = "Tag::Status")]
    async fn pause(&self) -> Json<Monitoring> {
        self.state.set_paused(true);
        Json(Monitoring { paused: true })
    }

    /// Resumes monitoring.
    #[oai(path = "/monitoring/resume", method = "post", tag = "Tag::Status")]
    async fn resume(&self) -> Json<Monitoring> {
        self.state.set_paused(false);
        Json(Monitoring { paused: false })
    }
}
