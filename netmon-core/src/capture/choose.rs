//! Which capture source `capture_method` means on this system, and opening it.
//!
//! The decision ([`plan`]) is pure and separate from opening devices ([`open_first`] takes the
//! opener), so every platform's choice is tested on any platform:
//!
//! | method | macOS | Linux |
//! | --- | --- | --- |
//! | `auto` | PKTAP, then nettop if capture is not permitted | libpcap |
//! | `pcap` | PKTAP only | libpcap |
//! | `nettop` | nettop | an error: nettop is a macOS tool |

use super::nettop::{self, NettopSource};
use super::pcap::PcapSource;
use super::supervise::CommandSpec;
use super::{CaptureError, CaptureSource};
use crate::condition::CaptureMode;
use crate::config::{CaptureMethod, Config};
use crate::os::{self, Platform};

/// One way to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// libpcap on an interface (`any` for all).
    Pcap { interface: String },
    /// macOS PKTAP on an interface (`any` for all).
    Pktap { interface: String },
    /// macOS `nettop`, sampling every `interval_seconds`.
    Nettop { interval_seconds: u64 },
}

impl Attempt {
    /// The mode this attempt runs in, once opened.
    pub fn mode(&self) -> CaptureMode {
        match self {
            Attempt::Pktap { .. } => CaptureMode::Pktap,
            Attempt::Pcap { .. } => CaptureMode::Pcap,
            Attempt::Nettop { .. } => CaptureMode::Nettop,
        }
    }
}

/// The sources to try, in order; a later one is tried only when an earlier one was not
/// permitted. An error when the method cannot work on this platform.
pub fn plan(config: &Config, platform: Platform) -> Result<Vec<Attempt>, CaptureError> {
    let interface = config.capture_interface.clone();
    let nettop = Attempt::Nettop {
        interval_seconds: config.sampling_interval_seconds,
    };
    match (config.capture_method, platform) {
        (CaptureMethod::Auto, Platform::Macos) => Ok(vec![Attempt::Pktap { interface }, nettop]),
        (CaptureMethod::Pcap, Platform::Macos) => Ok(vec![Attempt::Pktap { interface }]),
        (CaptureMethod::Nettop, Platform::Macos) => Ok(vec![nettop]),
        (CaptureMethod::Auto | CaptureMethod::Pcap, Platform::Linux | Platform::Other) => {
            Ok(vec![Attempt::Pcap { interface }])
        }
        (CaptureMethod::Nettop, Platform::Linux | Platform::Other) => {
            Err(CaptureError::NotOnThisSystem {
                method: "nettop",
                hint: "nettop is a macOS tool; set capture_method to \"auto\" or \"pcap\"",
            })
        }
    }
}

/// Opens the first attempt that works, moving on only past "not permitted" (each refusal is
/// logged); the last error otherwise.
pub fn open_first<S>(
    attempts: &[Attempt],
    mut open: impl FnMut(&Attempt) -> Result<S, CaptureError>,
) -> Result<S, CaptureError> {
    let mut last = None;
    for (index, attempt) in attempts.iter().enumerate() {
        match open(attempt) {
            Ok(source) => return Ok(source),
            Err(error @ CaptureError::PermissionDenied { .. }) if index + 1 < attempts.len() => {
                tracing::warn!(%error, ?attempt, "capture not permitted; trying the next source");
                last = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last.unwrap_or(CaptureError::NotOnThisSystem {
        method: "any",
        hint: "no capture source applies",
    }))
}

/// Opens one attempt on this system.
pub fn open(attempt: &Attempt) -> Result<Box<dyn CaptureSource>, CaptureError> {
    match attempt {
        Attempt::Pcap { interface } => {
            PcapSource::open(interface).map(|source| Box::new(source) as _)
        }
        Attempt::Pktap { interface } => {
            PcapSource::open_pktap(interface).map(|source| Box::new(source) as _)
        }
        Attempt::Nettop { interval_seconds } => {
            NettopSource::start(nettop_command(*interval_seconds), os::process_cache())
                .map(|source| Box::new(source) as _)
        }
    }
}

/// The nettop that netmon runs: with connection rows (no `-P`), whose remote addresses name
/// where each connection's bytes went.
pub fn nettop_command(interval_seconds: u64) -> CommandSpec {
    nettop::command(interval_seconds, false)
}

/// The capture source `config` asks for on this system.
pub fn open_source(config: &Config) -> Result<Box<dyn CaptureSource>, CaptureError> {
    open_with_mode(config).map(|(source, _)| source)
}

/// The capture source `config` asks for on this system, and the mode it runs in (which
/// attempt opened: `auto` on macOS falls back to nettop).
pub fn open_with_mode(
    config: &Config,
) -> Result<(Box<dyn CaptureSource>, CaptureMode), CaptureError> {
    let attempts = plan(config, Platform::current())?;
    open_first(&attempts, |attempt| {
        open(attempt).map(|source| (source, attempt.mode()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(method: CaptureMethod, interface: &str) -> Config {
        Config {
            capture_method: method,
            capture_interface: interface.into(),
            ..Config::default()
        }
    }

    fn denied() -> CaptureError {
        CaptureError::PermissionDenied {
            device: "pktap".into(),
            detail: "permission denied".into(),
            hint: "run with sudo",
        }
    }

    #[test]
    fn macos_auto_tries_pktap_then_nettop() {
        let attempts = plan(&config(CaptureMethod::Auto, "any"), Platform::Macos).unwrap();
        assert_eq!(
            attempts,
            [
                Attempt::Pktap {
                    interface: "any".into()
                },
                Attempt::Nettop {
                    interval_seconds: 5
                }
            ]
        );
    }

    #[test]
    fn macos_pcap_and_nettop_insist() {
        let pcap = plan(&config(CaptureMethod::Pcap, "en0"), Platform::Macos).unwrap();
        assert_eq!(
            pcap,
            [Attempt::Pktap {
                interface: "en0".into()
            }]
        );
        let nettop = plan(&config(CaptureMethod::Nettop, "any"), Platform::Macos).unwrap();
        assert!(matches!(nettop[..], [Attempt::Nettop { .. }]));
    }

    #[test]
    fn linux_uses_pcap_and_refuses_nettop() {
        for method in [CaptureMethod::Auto, CaptureMethod::Pcap] {
            let attempts = plan(&config(method, "eth0"), Platform::Linux).unwrap();
            assert_eq!(
                attempts,
                [Attempt::Pcap {
                    interface: "eth0".into()
                }]
            );
        }
        let error = plan(&config(CaptureMethod::Nettop, "any"), Platform::Linux).unwrap_err();
        assert!(
            error.to_string().contains("nettop is a macOS tool"),
            "{error}"
        );
        assert!(matches!(error, CaptureError::NotOnThisSystem { .. }));
    }

    #[test]
    fn nettop_runs_with_connection_rows_every_sampling_interval() {
        let spec = nettop_command(5);
        assert!(
            !spec.args.iter().any(|arg| arg == "-P"),
            "{}",
            spec.display()
        );
        assert!(spec.display().contains("-L 0 -s 5 "), "{}", spec.display());
    }

    #[test]
    fn only_a_refusal_moves_on_to_the_next_source() {
        let attempts = plan(&config(CaptureMethod::Auto, "any"), Platform::Macos).unwrap();
        let mut tried = Vec::new();
        let opened = open_first(&attempts, |attempt| {
            tried.push(attempt.clone());
            match attempt {
                Attempt::Pktap { .. } => Err(denied()),
                other => Ok((format!("{other:?}"), other.mode())),
            }
        });
        let (opened, mode) = opened.unwrap();
        assert!(opened.starts_with("Nettop"));
        assert_eq!(mode, CaptureMode::Nettop, "the degraded mode is reported");
        assert!(mode.is_limited());
        assert_eq!(tried.len(), 2);
        assert_eq!(attempts[0].mode(), CaptureMode::Pktap);
        let linux = plan(&config(CaptureMethod::Auto, "any"), Platform::Linux).unwrap();
        assert_eq!(linux[0].mode(), CaptureMode::Pcap);

        let failed = open_first(&attempts, |_| {
            Err::<(), _>(CaptureError::Failed {
                device: "pktap".into(),
                detail: "broken".into(),
            })
        });
        assert!(matches!(failed, Err(CaptureError::Failed { .. })));

        let only = plan(&config(CaptureMethod::Pcap, "any"), Platform::Macos).unwrap();
        let refused = open_first(&only, |_| Err::<(), _>(denied()));
        assert!(matches!(
            refused,
            Err(CaptureError::PermissionDenied { .. })
        ));
    }
}
