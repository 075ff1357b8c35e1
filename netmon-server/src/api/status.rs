//! `/status` and `/monitoring/…`: what the monitor is doing, pause and resume.

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
    /// The monitor's status: capture source, privileges, uptime, samples, last error, DB size.
    #[oai(path = "/status", method = "get", tag = "Tag::Status")]
    async fn status(&self) -> Json<Status> {
        let state = &self.state;
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
