//! How the monitor runs, as one value: the capture mode, the user it became, and what went
//! wrong with its files at start. `netmon run` fills it, the server's `/api/status` and the
//! menubar show it, `netmon doctor` explains it.

use serde::{Deserialize, Serialize};

/// Which capture is running. Serialized as `pktap`, `pcap`, `nettop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Enum),
    oai(rename_all = "snake_case")
)]
pub enum CaptureMode {
    /// macOS PKTAP (opened as root): packets tagged with their process, domains from the wire.
    Pktap,
    /// libpcap (BPF on macOS, a packet socket on Linux): packets, owners from the socket tables,
    /// domains from the wire.
    Pcap,
    /// macOS `nettop` (no root): per-process and per-connection counters only.
    Nettop,
}

impl CaptureMode {
    /// The mode in words, for `netmon doctor` and the logs.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Pktap => "PKTAP (packets tagged with their process, opened as root)",
            Self::Pcap => "libpcap (packets; BPF on macOS, a packet socket on Linux)",
            Self::Nettop => "nettop (per-process and per-connection counters, no packets)",
        }
    }

    /// The degraded mode: what a login-time (no root) install gets on macOS.
    pub fn is_limited(self) -> bool {
        self == Self::Nettop
    }

    /// What the mode cannot see, when it misses something.
    pub fn cannot_see(self) -> Option<&'static str> {
        self.is_limited().then_some(
            "no packets, so no domains from DNS answers or TLS/QUIC server names (only the browser extension's), bytes one interval late, and short connections without a destination",
        )
    }

    /// How to get the full mode.
    pub fn fix(self) -> Option<&'static str> {
        self.is_limited().then_some(
            "sudo netmon install (a LaunchDaemon: capture as root from boot, then runs as you)",
        )
    }
}

/// The monitor's condition, as `/api/status` reports it (`capture` is absent before capture
/// opened).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub capture: Option<CaptureMode>,
    /// The user netmon became after opening the capture as root.
    pub running_as: Option<String>,
    /// Where an unreadable database was moved at start (a new one was started).
    pub database_set_aside: Option<String>,
    /// Why config.json could not be used: netmon runs on the defaults and left the file as it
    /// was.
    pub config_problem: Option<String>,
}

impl Condition {
    /// One line per problem: the degraded mode, a database moved aside, a config ignored.
    pub fn problems(&self) -> Vec<String> {
        let mode = self
            .capture
            .and_then(|mode| Some(format!("limited capture: {}", mode.cannot_see()?)));
        let database = self.database_set_aside.as_ref().map(|path| {
            format!("the database could not be read and was moved to {path}; a new one was started")
        });
        let config = self.config_problem.as_ref().map(|problem| {
            format!("config.json cannot be used ({problem}); running on the defaults")
        });
        [mode, database, config].into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nettop_is_limited_and_says_the_fix() {
        assert!(CaptureMode::Nettop.is_limited());
        assert!(CaptureMode::Nettop
            .fix()
            .unwrap()
            .contains("sudo netmon install"));
        for full in [CaptureMode::Pktap, CaptureMode::Pcap] {
            assert!(!full.is_limited());
            assert_eq!(full.cannot_see(), None);
        }
        assert!(CaptureMode::Nettop.describe().contains("no packets"));
    }

    #[test]
    fn problems_name_each_fact_and_serialize_as_the_api_shows_them() {
        let condition = Condition {
            capture: Some(CaptureMode::Nettop),
            running_as: None,
            database_set_aside: Some("/h/network_monitor.db.corrupt-20261130T010000Z".into()),
            config_problem: Some("line 1: expected value".into()),
        };
        let problems = condition.problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[1].contains("corrupt-20261130T010000Z"));
        let json = serde_json::to_value(&condition).unwrap();
        assert_eq!(json["capture"], "nettop");
        assert!(Condition::default().problems().is_empty());
    }
}
