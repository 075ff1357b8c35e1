//! Capture sources: where traffic comes from. Each source is one implementation of
//! [`CaptureSource`]; the monitor does not know which one it runs.

pub mod choose;
pub mod coalesce;
pub mod nettop;
pub mod pcap;
pub mod pktap;
pub mod supervise;
pub mod wake;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::domains::{DnsAnswer, Inspector, Naming};
pub use coalesce::Run;
pub use wake::Wake;

use crate::packet::PacketMeta;
use crate::process::ProcessInfo;

/// One thing a capture source saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// An IP packet; its process is found through the platform's socket tables.
    Packet(PacketMeta),
    /// An IP packet that the capture itself tagged with its process (PKTAP on macOS carries
    /// the PID and name in each packet's header), with what its payload names, if anything
    /// (as [`Observation::Named`] for packets whose process comes from the socket tables).
    OwnedPacket(PacketMeta, Arc<ProcessInfo>, Option<Naming>),
    /// Packets of one flow in one direction that the capture gathered from one batch (see
    /// [`coalesce`]): counted as those packets would be one by one.
    Run(Run),
    /// Bytes a process moved since its previous report, from a source that counts per process
    /// rather than per packet (`nettop` on macOS), with the part its connections moved.
    ProcessBytes(ProcessBytes),
    /// An IP packet whose payload names servers: its flow's own (a TLS or QUIC ClientHello's
    /// server name) or addresses' (a DNS response).
    Named(PacketMeta, Naming),
    /// Addresses answered by a DNS response that another observation counts: the libpcap
    /// source reads DNS responses whole in a capture of their own (see
    /// [`pcap::DNS_SNAPLEN`]), apart from the packets it counts.
    Answers(Vec<DnsAnswer>),
    /// A flow's first packet (a TCP SYN, a DNS query, a QUIC Initial), delivered ahead of the
    /// packets by a capture that takes it at once (the libpcap source's events capture): the
    /// flow is opened and its owner looked up now; the packet itself is counted when the packet
    /// capture delivers it.
    Opening(PacketMeta),
    /// A frame that could not be read as IP (ARP, malformed, an unknown link layer).
    Unreadable,
}

impl Observation {
    /// Whether this begins a flow (a TCP connection's first packet, or an opening) whose owner
    /// must be looked up soon: while its socket still exists.
    pub fn opens_connection(&self) -> bool {
        match self {
            Self::Packet(meta) | Self::Named(meta, _) => meta.opens_connection(),
            Self::Opening(_) => true,
            _ => false,
        }
    }

    /// A captured packet, read by `inspector`.
    pub fn inspected(inspector: &mut Inspector, meta: PacketMeta, payload: &[u8]) -> Self {
        match inspector.inspect(&meta, payload) {
            Some(naming) => Self::Named(meta, naming),
            None => Self::Packet(meta),
        }
    }

    /// A captured packet that the capture tagged with `process`, read by `inspector`.
    pub fn owned(
        inspector: &mut Inspector,
        meta: PacketMeta,
        process: Arc<ProcessInfo>,
        payload: &[u8],
    ) -> Self {
        let naming = inspector.inspect(&meta, payload);
        Self::OwnedPacket(meta, process, naming)
    }
}

/// A per-process byte report (see [`Observation::ProcessBytes`]). The process moved `sent` and
/// `received` bytes outside its listed `connections`, and each connection its own: the
/// process's total is the sum, and no byte is in two places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessBytes {
    pub process: Arc<ProcessInfo>,
    pub sent: u64,
    pub received: u64,
    /// Bytes of the process's connections to known remote addresses.
    pub connections: Vec<ConnectionBytes>,
}

/// Bytes one connection of a reported process moved since the previous report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionBytes {
    /// IP protocol number: 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    /// The local end, when the source names it (a tunnel's address marks traffic inside a VPN).
    pub local: Option<SocketAddr>,
    pub remote: SocketAddr,
    pub sent: u64,
    pub received: u64,
}

/// Where batches are cut (see [`CaptureSource::cut_at`]): µs since the epoch, shared between
/// the monitor, which moves it, and the capture thread, which reads it.
pub type Cut = Arc<std::sync::atomic::AtomicI64>;

/// A source of traffic: libpcap on Linux, PKTAP or `nettop` on macOS.
pub trait CaptureSource: Send {
    /// What the source captures, for logs and status (`pcap on any`).
    fn describe(&self) -> String;

    /// Waits for traffic (a few seconds at most, so a stop request is seen then, unless
    /// [`Self::wake_on`] gave it a [`Wake`]) and appends what arrived to `batch`.
    fn poll(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError>;

    /// Lets `wake` end a wait early (a stop or a new source asked for); a source that takes it
    /// may then wait as long as no traffic comes. Sources that cannot wait on it ignore it and
    /// keep their short waits.
    fn wake_on(&mut self, _wake: &Wake) {}

    /// Ends each batch at `cut` (µs since the epoch; the monitor keeps it at the end of its
    /// sampling window): a batch holds packets captured before it or packets captured from it
    /// on, never both, so each is counted in the window it was captured in (see
    /// [`Self::captured_from`]). Sources without capture times ignore it.
    fn cut_at(&mut self, _cut: &Cut) {}

    /// When the oldest packet of the batch the last poll filled was captured (µs since the
    /// epoch); `None` for sources without capture times, whose batches count when they come.
    fn captured_from(&self) -> Option<i64> {
        None
    }

    /// Packets the source lost since it started (kernel buffer full), when it can tell.
    fn dropped(&mut self) -> u64 {
        0
    }

    /// Counts only what is captured from `from` on (µs since the epoch): a source it replaces
    /// counted what came before (see [`Self::read_before`]). Sources without capture times
    /// count all they see.
    fn count_from(&mut self, _from: i64) {}

    /// The last read of a source being replaced: appends, without waiting for new traffic,
    /// what it captured before `until` (µs since the epoch), which the source replacing it
    /// does not count (see [`Self::count_from`]). Sources without capture times read nothing.
    fn read_before(
        &mut self,
        _batch: &mut Vec<Observation>,
        _until: i64,
    ) -> Result<(), CaptureError> {
        Ok(())
    }
}

/// Why capture could not start or continue. Each variant is a kind of failure the caller maps
/// to its own answer (the CLI: an exit code, in `netmon-cli::exit`).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("capture on {device} is not permitted ({detail}); {hint}")]
    PermissionDenied {
        device: String,
        detail: String,
        hint: &'static str,
    },
    #[error("no capture device named {device} ({detail}); set capture_interface in config.json to an interface of this machine, or to \"any\"")]
    NoDevice { device: String, detail: String },
    #[error("capture on {device} delivers link type {dlt}, which netmon cannot read")]
    UnsupportedLink { device: String, dlt: i32 },
    #[error("capture on {device} failed: {detail}")]
    Failed { device: String, detail: String },
    #[error("capture_method \"{method}\" cannot work here: {hint}")]
    NotOnThisSystem {
        method: &'static str,
        hint: &'static str,
    },
}
