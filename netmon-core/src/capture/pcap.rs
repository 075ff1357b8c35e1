//! libpcap capture: every interface (`any`) or one, read with [`crate::packet`]; on macOS the
//! `pktap` pseudo-interface, whose records name each packet's process ([`super::pktap`]).

use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::thread;
use std::time::Duration;

use pcap::{Active, Capture};

use super::coalesce::Coalescer;
use super::{pktap, CaptureError, CaptureSource, Observation};
use crate::domains::{dns, Inspector};
use crate::packet::{self, LinkType};
use crate::process::ProcessCache;

/// Bytes kept of each packet for counting and for the TLS/QUIC handshakes the domain parsers
/// read. Bytes are counted from the IP header's length field, so the snap length never changes
/// a count. A ClientHello the sender's kernel hands to the capture as one segmentation-offload
/// packet must fit whole: Chromium's (post-quantum key share, ECH GREASE) is about 2 KB, so with
/// its headers over 2048 bytes, and a packet cut there spoiled its server name. No longer than
/// that: with immediate delivery libpcap's ring has one fixed slot of this size per packet, so
/// at 4608 bytes a 4 MB ring held half the MTU-sized packets it holds at 2048 and lost packets
/// at 1 Gbit/s (bench/compare.sh). DNS responses over UDP do not depend on it: a second capture
/// reads them whole (see [`DNS_SNAPLEN`]).
pub const SNAPLEN: i32 = 3072;
/// Longest DNS response over UDP that live capture keeps whole: the 4096-byte EDNS buffer
/// resolvers commonly offer (DNSSEC and CDN answers with many records reach 3 KB). A longer
/// response, or one that crossed the network as IP fragments (only the first carries the UDP
/// header), is read up to its last whole answer record (see [`crate::domains::dns`]).
pub const DNS_UDP_MAX: usize = 4096;
/// Snap length of the capture that reads DNS responses (and of PKTAP captures, which have no
/// second capture): [`DNS_UDP_MAX`] plus room for a PKTAP header (156 bytes) or a link header,
/// the longest IPv4 header (60) or IPv6 with extension headers, and the UDP header.
pub const DNS_SNAPLEN: i32 = (DNS_UDP_MAX + 512) as i32;
/// What the DNS capture takes: DNS responses over UDP, filtered in the kernel.
const DNS_FILTER: &str = "udp src port 53";
/// Kernel buffer of the DNS capture: DNS responses are few and small next to the traffic.
const DNS_BUFFER_BYTES: i32 = 512 << 10;
/// Kernel buffer for captured packets: on Linux a ring mapped into netmon, so it counts in its
/// resident memory. 6 MB of 3-KB slots (see [`SNAPLEN`]) hold about 1,900 packets: over 20 ms
/// of MTU-sized packets at 1 Gbit/s, several gathering intervals (see [`GATHER`]).
const BUFFER_BYTES: i32 = 6 << 20;
/// Longest wait for packets in one poll, in milliseconds: an idle capture wakes every 2 s (to
/// see a stop or reopen request), not more. Packets are delivered as they arrive (immediate mode): a
/// connection's first packet must reach the socket lookup while the connection's socket still
/// exists, and libpcap's buffered delivery can hold it back for the whole timeout.
const POLL_TIMEOUT_MS: i32 = 2000;
/// Most packets taken in one poll, so the monitor sees batches regularly.
const MAX_BATCH: usize = 4096;
/// How long a poll lets packets gather once traffic arrived: one wake-up and one hand-over to
/// the monitor per few milliseconds of traffic instead of one per packet (waking for each
/// packet cost more CPU than reading them). A batch that opens a TCP connection goes at once,
/// so the connection's owner is looked up while its socket exists.
const GATHER: Duration = Duration::from_millis(4);
/// DNS server port.
const DNS_PORT: u16 = 53;
/// IP protocol number of UDP.
const UDP: u8 = 17;

#[cfg(target_os = "linux")]
const PERMISSION_HINT: &str = "run with sudo, or grant the capture capabilities once: sudo setcap cap_net_raw,cap_net_admin,cap_sys_ptrace,cap_dac_read_search+eip $(command -v netmon)";
#[cfg(not(target_os = "linux"))]
const PERMISSION_HINT: &str =
    "run with sudo, or set capture_method to \"nettop\" in config.json (no root needed)";

/// A live libpcap capture.
pub struct PcapSource {
    capture: Capture<Active>,
    frames: Frames,
    /// Gathers each batch's packets of one flow into runs.
    runs: Coalescer,
    /// A second capture of the same device, filtered to DNS responses over UDP and read whole
    /// whatever [`SNAPLEN`] is; its packets are counted by the first capture. `None` for PKTAP
    /// (opened at [`DNS_SNAPLEN`] instead) or when it could not be opened.
    dns: Option<DnsCapture>,
    device: String,
}

/// The DNS capture (see [`PcapSource`]), the link type of its frames, and what places its
/// answers among the main capture's packets in capture order (vectors kept between polls).
struct DnsCapture {
    capture: Capture<Active>,
    link: LinkType,
    /// Answers read in this poll, with when they were captured (µs since the epoch).
    answers: Vec<(i64, Observation)>,
    /// When each packet the main capture read in this poll was captured (µs).
    stamps: Vec<i64>,
}

/// How the capture's frames are read.
enum Frames {
    /// Plain frames of one link type; owners come from the socket tables, server names from
    /// the capture's own inspector (it follows streams that span packets).
    Link(LinkType, Box<Inspector>),
    /// PKTAP records, which name their process; server names from the capture's own inspector,
    /// as for plain frames.
    Pktap(ProcessCache, Box<Inspector>),
}

impl Frames {
    /// How frames of link type `dlt` are read; PKTAP processes are named through `processes`.
    fn of_dlt(dlt: i32, processes: impl FnOnce() -> ProcessCache) -> Option<Self> {
        if pktap::is_pktap(dlt) {
            Some(Self::Pktap(processes(), Box::default()))
        } else {
            LinkType::from_dlt(dlt).map(|link| Self::Link(link, Box::default()))
        }
    }

    /// One captured frame (`wire_len` bytes on the wire) as an observation.
    fn observe(&mut self, frame: &[u8], wire_len: u32) -> Observation {
        match self {
            Self::Link(link, inspector) => match packet::parse_with_payload(*link, frame, wire_len)
            {
                Ok((meta, payload)) => Observation::inspected(inspector, meta, payload),
                Err(_) => Observation::Unreadable,
            },
            Self::Pktap(processes, inspector) => pktap::observe(frame, inspector, |owner| {
                processes.get(owner.pid.unsigned_abs(), &owner.name)
            }),
        }
    }
}

impl PcapSource {
    /// Opens a capture on `device` (`any` for every interface on Linux).
    pub fn open(device: &str) -> Result<Self, CaptureError> {
        Self::open_with(device, SNAPLEN)
    }

    fn open_with(device: &str, snaplen: i32) -> Result<Self, CaptureError> {
        let capture =
            activate(device, snaplen, BUFFER_BYTES).map_err(|error| open_error(device, error))?;
        let dlt = capture.get_datalink().0;
        let frames = Frames::of_dlt(dlt, crate::os::process_cache).ok_or_else(|| {
            CaptureError::UnsupportedLink {
                device: device.to_string(),
                dlt,
            }
        })?;
        let dns = match frames {
            Frames::Link(link, _) => DnsCapture::open(device, link),
            Frames::Pktap(..) => None,
        };
        Ok(Self {
            capture,
            frames,
            runs: Coalescer::default(),
            dns,
            device: device.to_string(),
        })
    }

    /// Opens macOS's `pktap` pseudo-interface on `interface` (`any`: every interface; see
    /// [`pktap::device`]) and insists that it delivers PKTAP records.
    pub fn open_pktap(interface: &str) -> Result<Self, CaptureError> {
        let device = pktap::device(interface);
        let source = Self::open_with(&device, DNS_SNAPLEN)?;
        match source.frames {
            Frames::Pktap(..) => Ok(source),
            Frames::Link(..) => Err(CaptureError::UnsupportedLink {
                device,
                dlt: source.capture.get_datalink().0,
            }),
        }
    }

    /// Whether the capture's records name their processes (PKTAP).
    pub fn is_pktap(&self) -> bool {
        matches!(self.frames, Frames::Pktap(..))
    }
}

impl CaptureSource for PcapSource {
    fn describe(&self) -> String {
        let kind = if self.is_pktap() { "pktap" } else { "pcap" };
        format!("{kind} on {}", self.device)
    }

    fn poll(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
        self.read_available(batch)?;
        if batch.is_empty() {
            if !wait_readable(&self.fds(), POLL_TIMEOUT_MS) {
                return Ok(());
            }
            self.read_available(batch)?;
        }
        if batch.len() < MAX_BATCH && !batch.iter().any(Observation::opens_connection) {
            thread::sleep(GATHER);
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
    /// The descriptors to wait on: the capture's, and the DNS capture's.
    fn fds(&self) -> Vec<RawFd> {
        let dns = self.dns.iter().map(|dns| dns.capture.as_raw_fd());
        std::iter::once(self.capture.as_raw_fd())
            .chain(dns)
            .collect()
    }

    /// Reads the packets that are ready, without blocking (the captures are non-blocking): DNS
    /// answers first, so they are learned before the connections they name are counted.
    fn read_available(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
        let start = batch.len();
        let frames = &mut self.frames;
        let runs = &mut self.runs;
        let mut stamps = self.dns.as_mut().map(|dns| {
            dns.stamps.clear();
            &mut dns.stamps
        });
        let room = MAX_BATCH.saturating_sub(batch.len());
        let read = dispatch_ready(&mut self.capture, room, |data, wire_len, at| {
            let placed = runs.push(batch, frames.observe(data, wire_len));
            if let Some(stamps) = stamps.as_mut().filter(|_| placed) {
                stamps.push(at);
            }
        });
        read.map_err(|error| self.failed(error))?;
        // Read after the packets: an answer captured since is placed after all of them.
        let answers = self
            .dns
            .as_mut()
            .map_or(Ok(()), |dns| dns.place_answers(batch, start));
        answers.map_err(|error| self.failed(error))
    }

    fn failed(&self, error: pcap::Error) -> CaptureError {
        CaptureError::Failed {
            device: self.device.clone(),
            detail: error.to_string(),
        }
    }
}

impl DnsCapture {
    /// A capture of `device` (frames of type `link`) that takes DNS responses over UDP whole;
    /// `None`, with a warning, when it cannot be opened (the main capture still reads DNS
    /// responses, up to its snap length).
    fn open(device: &str, link: LinkType) -> Option<Self> {
        let opened = activate(device, DNS_SNAPLEN, DNS_BUFFER_BYTES).and_then(|mut capture| {
            capture.filter(DNS_FILTER, true)?;
            Ok(capture)
        });
        match opened {
            Ok(capture) => Some(Self {
                capture,
                link,
                answers: Vec::new(),
                stamps: Vec::new(),
            }),
            Err(error) => {
                tracing::warn!(%error, device, "no second capture for DNS responses: those over {SNAPLEN} bytes are read up to the last answer that fits");
                None
            }
        }
    }

    /// Reads the answers of the DNS responses that are ready, then places them in `batch`
    /// among the packets read from `start` on (whose capture times are in `stamps`), each
    /// before the first packet captured after it.
    fn place_answers(
        &mut self,
        batch: &mut Vec<Observation>,
        start: usize,
    ) -> Result<(), pcap::Error> {
        let link = self.link;
        let answers = &mut self.answers;
        dispatch_ready(&mut self.capture, MAX_BATCH, |data, wire_len, at| {
            let found = packet::parse_with_payload(link, data, wire_len)
                .ok()
                .filter(|(meta, _)| meta.ports().0 == DNS_PORT && meta.protocol() == UDP)
                .and_then(|(_, payload)| dns::parse_response(payload).ok())
                .filter(|answers| !answers.is_empty());
            answers.extend(found.map(|found| (at, Observation::Answers(found))));
        })?;
        place_in_capture_order(batch, start, &self.stamps, self.answers.drain(..));
        Ok(())
    }
}

/// Inserts `answers` (in capture order, with their capture times) into `batch`, whose entries
/// from `start` on were captured at `stamps`: each answer before the first entry captured
/// after it. The monitor applies a batch in order, so a DNS answer read from the second
/// capture counts from where it was on the wire: before the connection it named began, or
/// after a connection to the same address that ended before it.
fn place_in_capture_order(
    batch: &mut Vec<Observation>,
    start: usize,
    stamps: &[i64],
    answers: impl Iterator<Item = (i64, Observation)>,
) {
    answers.enumerate().for_each(|(placed, (at, answer))| {
        let before = stamps.partition_point(|stamp| *stamp <= at);
        batch.insert(start + placed + before, answer);
    });
}

/// Hands each packet that is ready (at most `limit`) to `each` as (captured bytes, length on
/// the wire, when it was captured in µs since the epoch), without blocking. libpcap's dispatch passes each packet where the kernel put it
/// (on Linux, in the ring mapped into netmon): no copy, unlike `pcap_next_ex`, which copies
/// every packet out of the ring first.
fn dispatch_ready(
    capture: &mut Capture<Active>,
    limit: usize,
    mut each: impl FnMut(&[u8], u32, i64),
) -> Result<(), pcap::Error> {
    let mut left = limit;
    while left > 0 {
        let read = capture.dispatch(Some(left), |frame| {
            each(frame.data, frame.header.len, micros(&frame.header.ts))
        });
        match read {
            Ok(0) | Err(pcap::Error::TimeoutExpired) => return Ok(()),
            Ok(count) => left = left.saturating_sub(count),
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// A capture time in µs since the epoch.
// The casts are needed on macOS, where `tv_usec` is an i32; on Linux both fields are i64.
#[allow(clippy::unnecessary_cast)]
fn micros(time: &libc::timeval) -> i64 {
    time.tv_sec as i64 * 1_000_000 + time.tv_usec as i64
}

/// Opens `device` for live capture: `snaplen` bytes of each packet, a kernel buffer of
/// `buffer` bytes, each packet delivered as it arrives, non-blocking.
fn activate(device: &str, snaplen: i32, buffer: i32) -> Result<Capture<Active>, pcap::Error> {
    Capture::from_device(device)
        .and_then(|inactive| {
            inactive
                .snaplen(snaplen)
                .buffer_size(buffer)
                .timeout(POLL_TIMEOUT_MS)
                .promisc(false)
                .immediate_mode(true)
                .open()
        })
        .and_then(|capture| capture.setnonblock())
}

/// Reads a saved capture (a `.pcap` file of any link type netmon reads, PKTAP included) and
/// passes each record to `each` as the live source would observe it; returns how many records
/// were read. Lets captures taken elsewhere (a Mac's `pktap`) be replayed and examined.
pub fn read_file(path: &Path, mut each: impl FnMut(Observation)) -> Result<u64, CaptureError> {
    let device = path.display().to_string();
    let failed = |error: pcap::Error| CaptureError::Failed {
        device: device.clone(),
        detail: error.to_string(),
    };
    let mut capture = Capture::from_file(path).map_err(failed)?;
    let dlt = capture.get_datalink().0;
    // The file's PIDs are those of the machine that captured it: this machine's executables
    // would name the wrong processes.
    let not_here = || ProcessCache::new(Box::new(|_| None));
    let mut frames =
        Frames::of_dlt(dlt, not_here).ok_or_else(|| CaptureError::UnsupportedLink {
            device: device.clone(),
            dlt,
        })?;
    let mut count = 0;
    loop {
        match capture.next_packet() {
            Ok(frame) => each(frames.observe(frame.data, frame.header.len)),
            Err(pcap::Error::NoMorePackets) => return Ok(count),
            Err(error) => return Err(failed(error)),
        }
        count += 1;
    }
}

/// Waits until one of `fds` is readable or `timeout_ms` passed; whether one is readable.
/// libpcap's own blocking read may wait forever on an idle interface, which would keep a stop
/// request from being seen.
fn wait_readable(fds: &[RawFd], timeout_ms: i32) -> bool {
    let mut poll_fds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let count = libc::nfds_t::try_from(poll_fds.len()).unwrap_or_default();
    // SAFETY: `count` valid pollfds for the duration of the call; the result only says whether
    // to read, and reading is non-blocking either way.
    unsafe { libc::poll(poll_fds.as_mut_ptr(), count, timeout_ms) > 0 }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domains::DnsAnswer;
    use proptest::prelude::*;

    /// An answer observation for `host` (the address does not matter here).
    fn answer(host: &str) -> Observation {
        Observation::Answers(vec![DnsAnswer {
            ip: "192.0.2.7".parse().unwrap(),
            host: host.into(),
            ttl: 60,
        }])
    }

    /// The hosts of the answers in `batch`, `-` for each packet.
    fn order(batch: &[Observation]) -> Vec<String> {
        batch
            .iter()
            .map(|observation| match observation {
                Observation::Answers(answers) => answers[0].host.clone(),
                _ => "-".into(),
            })
            .collect()
    }

    #[test]
    fn answers_go_where_they_were_on_the_wire() {
        // Left from an earlier read of the same poll, then four packets captured at 10..40 µs.
        let mut batch = vec![Observation::Unreadable; 5];
        let answers = [
            (5, answer("first")),
            (25, answer("middle")),
            (40, answer("tie")),
        ];
        place_in_capture_order(&mut batch, 1, &[10, 20, 30, 40], answers.into_iter());
        assert_eq!(
            order(&batch),
            ["-", "first", "-", "-", "middle", "-", "-", "tie"],
            "an answer goes before the first packet captured after it, a tie after the packet"
        );
        let mut later = vec![Observation::Unreadable; 2];
        place_in_capture_order(&mut later, 0, &[1, 2], [(3, answer("last"))].into_iter());
        assert_eq!(order(&later), ["-", "-", "last"]);
    }

    proptest! {
        /// Whatever the times, every observation is kept, the packets keep their order, and the
        /// answers come out in capture order among them.
        #[test]
        fn placing_keeps_everything_in_capture_order(
            mut stamps in proptest::collection::vec(0i64..1_000, 0..40),
            mut times in proptest::collection::vec(0i64..1_000, 0..8),
        ) {
            stamps.sort_unstable();
            times.sort_unstable();
            let mut batch = vec![Observation::Unreadable; stamps.len()];
            let answers = times.iter().enumerate().map(|(n, at)| (*at, answer(&n.to_string())));
            place_in_capture_order(&mut batch, 0, &stamps, answers);
            prop_assert_eq!(batch.len(), stamps.len() + times.len());
            // Each entry's capture time, in the batch's order, never goes back.
            let mut packets = stamps.iter();
            let when: Vec<i64> = batch
                .iter()
                .map(|observation| match observation {
                    Observation::Answers(answers) => times[answers[0].host.parse::<usize>().unwrap()],
                    _ => *packets.next().unwrap(),
                })
                .collect();
            prop_assert!(when.windows(2).all(|pair| pair[0] <= pair[1]), "{:?}", when);
        }
    }
}
