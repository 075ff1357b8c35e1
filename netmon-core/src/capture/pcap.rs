//! libpcap capture: every interface (`any`) or one, read with [`crate::packet`].

use std::os::fd::{AsRawFd, RawFd};

use pcap::{Active, Capture};

use super::{CaptureError, CaptureSource, Observation};
use crate::packet::{self, LinkType};

/// Bytes kept of each packet: enough for the headers and for the DNS answers and TLS/QUIC
/// handshakes the domain parsers read.
pub const SNAPLEN: i32 = 2048;
/// Kernel buffer for captured packets.
const BUFFER_BYTES: i32 = 16 << 20;
/// Longest wait for packets in one poll, in milliseconds. Packets are delivered as they arrive
/// (immediate mode): a connection's first packet must reach the socket lookup while the
/// connection's socket still exists, and libpcap's buffered delivery can hold it back for the
/// whole timeout.
const POLL_TIMEOUT_MS: i32 = 100;
/// Most packets taken in one poll, so the monitor sees batches regularly.
const MAX_BATCH: usize = 4096;

#[cfg(target_os = "linux")]
const PERMISSION_HINT: &str = "run with sudo, or grant the capture capabilities once: sudo setcap cap_net_raw,cap_net_admin,cap_sys_ptrace,cap_dac_read_search+eip $(command -v netmon)";
#[cfg(not(target_os = "linux"))]
const PERMISSION_HINT: &str =
    "run with sudo, or set capture_method to \"nettop\" in config.json (no root needed)";

/// A live libpcap capture.
pub struct PcapSource {
    capture: Capture<Active>,
    link: LinkType,
    device: String,
}

impl PcapSource {
    /// Opens a capture on `device` (`any` for every interface on Linux).
    pub fn open(device: &str) -> Result<Self, CaptureError> {
        let capture = Capture::from_device(device)
            .and_then(|inactive| {
                inactive
                    .snaplen(SNAPLEN)
                    .buffer_size(BUFFER_BYTES)
                    .timeout(POLL_TIMEOUT_MS)
                    .promisc(false)
                    .immediate_mode(true)
                    .open()
            })
            .and_then(|capture| capture.setnonblock())
            .map_err(|error| open_error(device, error))?;
        let dlt = capture.get_datalink().0;
        let link = LinkType::from_dlt(dlt).ok_or_else(|| CaptureError::UnsupportedLink {
            device: device.to_string(),
            dlt,
        })?;
        Ok(Self {
            capture,
            link,
            device: device.to_string(),
        })
    }
}

impl CaptureSource for PcapSource {
    fn describe(&self) -> String {
        format!("pcap on {}", self.device)
    }

    fn poll(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
        self.read_available(batch)?;
        if batch.is_empty() {
            wait_readable(self.capture.as_raw_fd(), POLL_TIMEOUT_MS);
            self.read_available(batch)?;
        }
        Ok(())
    }

    fn dropped(&mut self) -> u64 {
        self.capture
            .stats()
            .map(|stats| u64::from(stats.dropped) + u64::from(stats.if_dropped))
            .unwrap_or_default()
    }
}

impl PcapSource {
    /// Reads the packets that are ready, without blocking (the capture is non-blocking).
    fn read_available(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
        while batch.len() < MAX_BATCH {
            match self.capture.next_packet() {
                Ok(frame) => batch.push(
                    match packet::parse_with_payload(self.link, frame.data, frame.header.len) {
                        Ok((meta, payload)) => Observation::from_packet(meta, payload),
                        Err(_) => Observation::Unreadable,
                    },
                ),
                Err(pcap::Error::TimeoutExpired) => return Ok(()),
                Err(error) => {
                    return Err(CaptureError::Failed {
                        device: self.device.clone(),
                        detail: error.to_string(),
                    })
                }
            }
        }
        Ok(())
    }
}

/// Waits until `fd` is readable or `timeout_ms` passed. libpcap's own blocking read may wait
/// forever on an idle interface, which would keep a stop request from being seen.
fn wait_readable(fd: RawFd, timeout_ms: i32) {
    let mut poll_fd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call; the result only says whether to
    // read, and reading is non-blocking either way.
    unsafe {
        libc::poll(&mut poll_fd, 1, timeout_ms);
    }
}

fn open_error(device: &str, error: pcap::Error) -> CaptureError {
    let detail = error.to_string();
    let lower = detail.to_lowercase();
    let device = device.to_string();
    if lower.contains("permission") || lower.contains("not permitted") {
        CaptureError::PermissionDenied {
            device,
            detail,
            hint: PERMISSION_HINT,
        }
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        CaptureError::NoDevice { device, detail }
    } else {
        CaptureError::Failed { device, detail }
    }
}
