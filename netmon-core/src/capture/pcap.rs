//! libpcap capture: every interface (`any`) or one, read with [`crate::packet`]; on macOS the
//! `pktap` pseudo-interface, whose records name each packet's process ([`super::pktap`]).

use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use pcap::{Active, Capture};

mod events;
pub mod snap;

use super::coalesce::{Coalescer, Continuing};
use super::{pktap, CaptureError, CaptureSource, Cut, Observation, Wake};
use crate::clock::unix_micros;
use crate::domains::Inspector;
use crate::packet::{self, LinkType};
use crate::process::ProcessCache;
use events::EventsCapture;

/// Bytes kept of each packet for counting and for the TLS/QUIC handshakes the domain parsers
/// read. Bytes are counted from the IP header's length field, so the snap length never changes
/// a count. A ClientHello the sender's kernel hands to the capture as one segmentation-offload
/// packet must fit whole: Chromium's (post-quantum key share, ECH GREASE) is about 2 KB, so with
/// its headers over 2048 bytes, and a packet cut there spoiled its server name. Where libpcap
/// gives each packet a fixed slot of this size (immediate delivery: macOS, and Linux's
/// TPACKET_V2), a longer one would hold fewer packets in the same memory; Linux's block delivery
/// stores each packet in the bytes it takes, and its kernel filter keeps this much only of the
/// packets a domain reader may read, the others' headers (see [`snap`]). DNS responses over UDP
/// do not depend on it: a second capture reads them whole (see [`DNS_SNAPLEN`]).
pub const SNAPLEN: i32 = 3072;
/// Longest DNS response over UDP that live capture keeps whole: the 4096-byte EDNS buffer
/// resolvers commonly offer (DNSSEC and CDN answers with many records reach 3 KB). A longer
/// response, or one that crossed the network as IP fragments (only the first carries the UDP
/// header), is read up to its last whole answer record (see [`crate::domains::dns`]).
pub const DNS_UDP_MAX: usize = 4096;
/// Snap length of the events capture (and of PKTAP captures, which have no second capture):
/// [`DNS_UDP_MAX`] plus room for a PKTAP header (156 bytes) or a link header, the longest IPv4
/// header (60) or IPv6 with extension headers, and the UDP header.
pub const DNS_SNAPLEN: i32 = (DNS_UDP_MAX + 512) as i32;
/// What the events capture takes, filtered in the kernel: DNS over UDP (the responses are read
/// whole for their answers; a query's socket is short-lived), TCP segments with SYN (a
/// connection opening, whose owner must be looked up while its socket exists) and QUIC
/// long-header packets to UDP port 443 (a QUIC connection's first packets), each over IPv4 and
/// IPv6. libpcap's `tcp[…]` and `udp[…]` read IPv4 packets only, so IPv6 is matched by its
/// fixed header: next header TCP (6) or UDP (17), the TCP flags at byte 53 and the UDP payload
/// at 48 (no extension headers). They are few, and each one ends a gathering wait at once (see
/// [`Gathering`]).
const EVENTS_FILTER: &str = "udp port 53 \
    or tcp[tcpflags] & tcp-syn != 0 \
    or (ip6[6] == 6 and ip6[53] & 2 != 0) \
    or (udp dst port 443 and udp[8] & 0x80 != 0) \
    or (ip6[6] == 17 and ip6[42:2] == 443 and ip6[48] & 0x80 != 0)";
/// Kernel buffer of the events capture: a slot of [`DNS_SNAPLEN`] bytes per packet, about 55.
const EVENTS_BUFFER_BYTES: i32 = 256 << 10;
/// Kernel buffer for captured packets: on Linux a ring mapped into netmon, so it counts in its
/// resident memory. 8 MB of blocks hold about 5,000 MTU-sized packets kept whole, 60 ms at
/// 1 Gbit/s, or about 33,000 cut to their headers ([`snap`]): room for a gathering wait and a
/// capture thread kept off the CPU by a busy machine.
const BUFFER_BYTES: i32 = 8 << 20;
/// How packets are delivered. On Linux, in blocks (libpcap's TPACKET_V3): the kernel hands
/// over a block of packets when it is full or [`BLOCK_TIMEOUT_MS`] after its first packet, and
/// stores each packet in the bytes it takes (immediate delivery gives each packet a slot of the
/// snap length). Elsewhere (macOS BPF, PKTAP) each packet as it arrives.
const IMMEDIATE: bool = !cfg!(target_os = "linux");
/// Longest a packet waits in a partly filled block (Linux): as long as a batch is held
/// ([`HOLD`]), so light traffic wakes the capture once per hand-over to the monitor. What must
/// not wait (a connection's or a DNS query's opening, a DNS answer) comes through the events
/// capture at once.
const BLOCK_TIMEOUT_MS: i32 = HOLD.as_millis() as i32;
/// Bytes of one block of the kernel's buffer (Linux): libpcap sizes TPACKET_V3 blocks for its
/// largest snap length, 256 KiB; a block is handed over when full (or at the block timeout).
const BLOCK_BYTES: f64 = (256 << 10) as f64;
/// Longest wait for packets in one poll, in milliseconds: an idle capture wakes every 2 s (to
/// see a stop or reopen request), not more.
const POLL_TIMEOUT_MS: i32 = 2000;
/// The same with a [`Wake`] to end the wait (a stop or reopen request wakes it at once): an
/// idle capture wakes once a minute.
const WOKEN_POLL_TIMEOUT_MS: i32 = 60_000;
/// A poll that waited this long for its first packet hands it over without a gathering wait:
/// a lone packet on a quiet link (a router solicitation) costs one wake-up, not two.
const QUIET: Duration = Duration::from_secs(1);
/// Longest a batch that brings the monitor nothing new is held to gather more of the same
/// flows (see [`PcapSource::hold`]): steady traffic wakes the monitor about 4 times a second.
/// Its packets are counted up to this much later (their sampling window may be the next one).
const HOLD: Duration = Duration::from_millis(250);
/// Most entries (packets and runs) in one batch, so a batch's vector stays small whatever the
/// traffic: a read stops there. Runs of many packets take one entry each.
const MAX_BATCH: usize = 4096;
/// What the kernel's buffer adds to each packet's captured bytes: on Linux its header
/// (TPACKET_V3: 48 bytes) and link address (20), aligned; BPF's header is smaller.
const PACKET_OVERHEAD: u64 = 80;
/// Most packets one read takes (runs of a few flows take few places: this bounds a read).
const MAX_READ: usize = 65_536;
/// How long a DNS answer captured after every packet read so far waits for the packets
/// captured before it (still in a partly filled block), so it is placed after them: a few
/// block timeouts.
const ANSWER_HOLD_MICROS: i64 = 3 * BLOCK_TIMEOUT_MS as i64 * 1000;

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
    /// The events capture (see [`events`]): DNS responses read whole, and the packets that end
    /// a gathering wait. `None` for PKTAP (opened at [`DNS_SNAPLEN`] instead) or when it could
    /// not be opened.
    events: Option<EventsCapture>,
    /// How long a poll lets packets gather.
    gathering: Gathering,
    /// The runs of the batch handed over last, and when: a batch that only continues them
    /// soon after may be held (see [`PcapSource::hold`]).
    continuing: Continuing,
    handed_over: Instant,
    /// Ends an idle wait early (see [`CaptureSource::wake_on`]).
    wake: Option<Wake>,
    /// Bytes the packets read so far took in the kernel's buffer (captured bytes plus
    /// [`PACKET_OVERHEAD`] each).
    buffered: u64,
    /// Capture time (µs since the epoch) of the oldest packet in the batch being read.
    oldest: i64,
    /// Where batches are cut (see [`CaptureSource::cut_at`]), and the packets read past it
    /// while a batch held packets from before it, with the oldest one's capture time: the next
    /// batch begins with them.
    cut: Option<Cut>,
    carry: Vec<Observation>,
    carry_from: i64,
    /// Capture times (µs since the epoch) of the packets counted: all, unless this source
    /// took over from another or hands over to one (see [`CaptureSource::count_from`]).
    counted: Range<i64>,
    device: String,
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
        let capture = activate(device, snaplen, BUFFER_BYTES, IMMEDIATE)
            .map_err(|error| open_error(device, error))?;
        let dlt = capture.get_datalink().0;
        let frames = Frames::of_dlt(dlt, crate::os::process_cache).ok_or_else(|| {
            CaptureError::UnsupportedLink {
                device: device.to_string(),
                dlt,
            }
        })?;
        let events = match frames {
            Frames::Link(link, _) => {
                if !IMMEDIATE {
                    snap_in_kernel(&capture, link, snaplen);
                }
                EventsCapture::open(device, link)
            }
            Frames::Pktap(..) => None,
        };
        Ok(Self {
            capture,
            frames,
            runs: Coalescer::default(),
            events,
            gathering: Gathering::default(),
            continuing: Continuing::default(),
            handed_over: Instant::now(),
            wake: None,
            buffered: 0,
            oldest: i64::MAX,
            cut: None,
            carry: Vec::new(),
            carry_from: i64::MAX,
            counted: i64::MIN..i64::MAX,
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
        self.oldest = std::mem::replace(&mut self.carry_from, i64::MAX);
        batch.append(&mut self.carry);
        self.read_available(batch)?;
        let (mut at_once, mut gap) = (false, Duration::ZERO);
        if batch.is_empty() {
            let wait = if self.events.as_ref().is_some_and(EventsCapture::holding) {
                BLOCK_TIMEOUT_MS
            } else if self.wake.is_some() {
                WOKEN_POLL_TIMEOUT_MS
            } else {
                POLL_TIMEOUT_MS
            };
            gap = self.wait_and_read(batch, wait)?;
            at_once = gap >= QUIET || !self.gathering.wanted_after(gap);
            // Woken (or timed out) with nothing to read: what woke it is read, so the next
            // wait sleeps again.
            if batch.is_empty() {
                self.wake.iter().for_each(Wake::drain);
            }
        }
        if batch.is_empty() {
            // Nothing yet (an event came before its block).
            return Ok(());
        }
        let since = self.oldest_captured();
        // The first packets after a quiet spell (or a burst after a gap, see
        // `Gathering::wanted_after`), a flow's opening, or packets that waited in a block as long
        // as a hold: no gathering.
        let left = HOLD.saturating_sub(since.elapsed());
        if !(at_once
            || left.is_zero()
            || self.reached_cut()
            || batch.len() >= MAX_BATCH
            || batch.iter().any(Observation::opens_connection))
        {
            self.gather(batch, left)?;
        }
        if self.handed_over.elapsed() < HOLD {
            self.hold(batch, since, gap)?;
        }
        self.continuing.remember(batch);
        self.handed_over = Instant::now();
        Ok(())
    }

    fn wake_on(&mut self, wake: &Wake) {
        self.wake = Some(wake.clone());
    }

    fn cut_at(&mut self, cut: &Cut) {
        self.cut = Some(Cut::clone(cut));
    }

    fn captured_from(&self) -> Option<i64> {
        (self.oldest != i64::MAX).then_some(self.oldest)
    }

    fn dropped(&mut self) -> u64 {
        self.capture
            .stats()
            .map(|stats| u64::from(stats.dropped) + u64::from(stats.if_dropped))
            .unwrap_or_default()
    }

    fn count_from(&mut self, from: i64) {
        self.counted.start = from;
    }

    fn read_before(
        &mut self,
        batch: &mut Vec<Observation>,
        until: i64,
    ) -> Result<(), CaptureError> {
        self.counted.end = until;
        batch.append(&mut self.carry);
        // Packets captured before `until` may still sit in a partly filled block: each is
        // handed over within a block timeout of its block's first packet.
        if !IMMEDIATE {
            let handed_over = until + 2 * i64::from(BLOCK_TIMEOUT_MS) * 1000;
            let left = u64::try_from(handed_over - unix_micros()).unwrap_or(0);
            thread::sleep(Duration::from_micros(left));
        }
        // A backlog may take more than one read.
        loop {
            let before = batch.len();
            self.read_available(batch)?;
            if batch.len() == before || batch.len() >= MAX_BATCH {
                return Ok(());
            }
        }
    }
}

impl PcapSource {
    /// Waits up to `timeout_ms` for packets, an event or the wake, then reads what is ready;
    /// returns how long it waited.
    fn wait_and_read(
        &mut self,
        batch: &mut Vec<Observation>,
        timeout_ms: i32,
    ) -> Result<Duration, CaptureError> {
        let waiting = Instant::now();
        wait_readable(&self.fds(), timeout_ms);
        let waited = waiting.elapsed();
        self.read_available(batch)?;
        Ok(waited)
    }

    /// Whether packets were read past the cut: the batch is handed over as it is.
    fn reached_cut(&self) -> bool {
        !self.carry.is_empty()
    }

    /// When the oldest packet of the batch was captured (now, for an empty batch).
    fn oldest_captured(&self) -> Instant {
        let age = u64::try_from(unix_micros() - self.oldest).unwrap_or(0);
        let now = Instant::now();
        now.checked_sub(Duration::from_micros(age)).unwrap_or(now)
    }

    /// Lets packets gather for [`Gathering::wait`] (an event ends the wait early), reads them,
    /// and adapts the next wait to the rate they came at. Where the kernel hands packets over in
    /// blocks that fill slower than that ([`Gathering::waits_for_blocks`]), waits instead for
    /// the next block, an event or the wake, up to `left`: a full block wakes the capture
    /// whatever the rate became meanwhile.
    fn gather(&mut self, batch: &mut Vec<Observation>, left: Duration) -> Result<(), CaptureError> {
        let (buffered_before, started) = (self.buffered, Instant::now());
        match &self.events {
            _ if self.gathering.waits_for_blocks() => {
                wait_readable(&self.fds(), duration_ms(left));
            }
            Some(events) => {
                wait_readable(&[events.fd()], self.gathering.wait_ms());
            }
            None => thread::sleep(self.gathering.wait),
        }
        self.read_available(batch)?;
        self.gathering
            .adapt(self.buffered - buffered_before, started.elapsed());
        Ok(())
    }

    /// Keeps gathering while traffic flows and what comes only continues the runs handed over
    /// before ([`Continuing`]), until [`HOLD`] after the poll's first packets: steady traffic
    /// is handed to the monitor a few times a second, not after every gathering wait or
    /// burst. What is news to the monitor (a new flow, a server name, a DNS answer, a
    /// connection opening) ends the hold at once. Bursts with gaps (`gap` before the first)
    /// are each read whole as they come; the hold ends after a burst when the next is not due
    /// before its end, or when a wait for one ends with nothing (the traffic paused, or a stop
    /// or reopen request woke the capture).
    fn hold(
        &mut self,
        batch: &mut Vec<Observation>,
        since: Instant,
        mut gap: Duration,
    ) -> Result<(), CaptureError> {
        while batch.len() < MAX_BATCH && !self.reached_cut() && self.continuing.continues(batch) {
            let left = HOLD.saturating_sub(since.elapsed());
            if left.is_zero() {
                break;
            }
            if self.gathering.found_nothing {
                if left < gap {
                    break;
                }
                let buffered_before = self.buffered;
                gap = self.wait_and_read(batch, duration_ms(left))?;
                if self.buffered == buffered_before {
                    break;
                }
                if !self.gathering.wanted_after(gap) {
                    continue;
                }
            }
            self.gather(batch, left)?;
        }
        Ok(())
    }

    /// The descriptors to wait on: the capture's, the events capture's, and the wake's.
    fn fds(&self) -> Vec<RawFd> {
        let events = self.events.iter().map(EventsCapture::fd);
        let wake = self.wake.iter().map(Wake::fd);
        std::iter::once(self.capture.as_raw_fd())
            .chain(events)
            .chain(wake)
            .collect()
    }

    /// Reads the packets that are ready, without blocking (the captures are non-blocking), then
    /// the events, placing DNS answers among the packets in capture order.
    fn read_available(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
        let start = batch.len();
        let frames = &mut self.frames;
        let runs = &mut self.runs;
        let buffered = &mut self.buffered;
        let oldest = &mut self.oldest;
        let (carry, carry_from) = (&mut self.carry, &mut self.carry_from);
        let cut = self.cut.as_ref().map_or(i64::MAX, |cut| {
            cut.load(std::sync::atomic::Ordering::Relaxed)
        });
        let mut stamps = self.events.as_mut().map(|events| {
            events.stamps.clear();
            &mut events.stamps
        });
        let room = MAX_BATCH.saturating_sub(batch.len());
        let counted = self.counted.clone();
        let read = dispatch_ready(&mut self.capture, room, |data, wire_len, at| {
            *buffered += data.len() as u64 + PACKET_OVERHEAD;
            if !counted.contains(&at) {
                return false;
            }
            // Past the cut, after packets from before it: the next batch's.
            if at >= cut && *oldest < cut {
                *carry_from = (*carry_from).min(at);
                runs.push(carry, frames.observe(data, wire_len));
                return false;
            }
            *oldest = (*oldest).min(at);
            let placed = runs.push(batch, frames.observe(data, wire_len));
            if let Some(stamps) = stamps.as_mut().filter(|_| placed) {
                stamps.push(at);
            }
            placed
        });
        read.map_err(|error| self.failed(error))?;
        // Read after the packets: an answer captured since is placed after all of them.
        let answers = self
            .events
            .as_mut()
            .map_or(Ok(()), |events| events.place_events(batch, start));
        answers.map_err(|error| self.failed(error))
    }

    fn failed(&self, error: pcap::Error) -> CaptureError {
        CaptureError::Failed {
            device: self.device.clone(),
            detail: error.to_string(),
        }
    }
}

/// Hands each packet that is ready to `each` as (captured bytes, length on the wire, when it was
/// captured in µs since the epoch), without blocking, until `each` has said for `places`
/// packets that they took a place of their own (a packet that joins a run takes none) or
/// [`MAX_READ`] packets were read. libpcap's dispatch passes each packet where the kernel put
/// it (on Linux, in the ring mapped into netmon): no copy, unlike `pcap_next_ex`, which copies
/// every packet out of the ring first.
fn dispatch_ready(
    capture: &mut Capture<Active>,
    places: usize,
    mut each: impl FnMut(&[u8], u32, i64) -> bool,
) -> Result<(), pcap::Error> {
    let (mut placed, mut read) = (0, 0);
    // Each call reads at most the places left, so `placed` never passes `places`.
    while placed < places && read < MAX_READ {
        let count = capture.dispatch(Some(places - placed), |frame| {
            let at = micros(&frame.header.ts);
            placed += usize::from(each(frame.data, frame.header.len, at));
        });
        match count {
            Ok(0) | Err(pcap::Error::TimeoutExpired) => return Ok(()),
            Ok(count) => read += count,
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
/// `buffer` bytes, non-blocking; each packet delivered as it arrives when `immediate`, else
/// in blocks (see [`IMMEDIATE`]).
fn activate(
    device: &str,
    snaplen: i32,
    buffer: i32,
    immediate: bool,
) -> Result<Capture<Active>, pcap::Error> {
    Capture::from_device(device)
        .and_then(|inactive| {
            inactive
                .snaplen(snaplen)
                .buffer_size(buffer)
                .timeout(BLOCK_TIMEOUT_MS)
                .promisc(false)
                .immediate_mode(immediate)
                .open()
        })
        .and_then(|capture| capture.setnonblock())
        .and_then(|mut capture| {
            // Block delivery copies whole packets into the kernel's buffer unless a filter
            // cuts them: the empty filter (take everything) returns the snap length, so a
            // 64-KB segmentation-offload packet takes `snaplen` bytes there, not 64 KB.
            if !immediate {
                capture.filter("", true)?;
            }
            Ok(capture)
        })
}

/// Has the kernel cut the packets no domain reader needs to their headers (see [`snap`]); where
/// it cannot (a link type whose header length is not known for sure, or a refusal), packets
/// are kept up to the snap length, by the empty filter [`activate`] set.
#[cfg(target_os = "linux")]
fn snap_in_kernel(capture: &Capture<Active>, link: LinkType, snaplen: i32) {
    let Some(offset) = snap::link_offset(link) else {
        return;
    };
    let program: Vec<libc::sock_filter> = snap::program(offset, snaplen.unsigned_abs())
        .iter()
        .map(|insn| libc::sock_filter {
            code: insn.code,
            jt: insn.jt,
            jf: insn.jf,
            k: insn.k,
        })
        .collect();
    if let Err(error) = crate::os::linux::socket_filter::attach(capture.as_raw_fd(), &program) {
        tracing::warn!(%error, "the kernel refused the filter that cuts packets to their headers: each packet is kept up to {snaplen} bytes");
    }
}

#[cfg(not(target_os = "linux"))]
fn snap_in_kernel(_capture: &Capture<Active>, _link: LinkType, _snaplen: i32) {}

/// How long a poll lets packets gather once traffic arrived: one wake-up and one hand-over to
/// the monitor per several milliseconds of traffic instead of one per packet or block. The wait
/// follows the rate at which packets fill the kernel's buffer: long while little comes (light
/// traffic costs few wake-ups, and so does heavy traffic whose packets the kernel cut to their
/// headers, see [`snap`]), short while the buffer fills fast (it must not fill meanwhile). A
/// batch that opens a TCP connection goes at once, and an event (a DNS packet, a connection
/// opening) ends the wait. Traffic in bursts with gaps longer than a wait (a paced sender, a
/// page's requests) is not gathered: once a wait found nothing after a burst, a burst that
/// comes after such a gap goes at once, read whole in one wake-up.
#[derive(Debug, Clone, Copy)]
struct Gathering {
    wait: Duration,
    /// Bytes a second the last wait's packets took in the kernel's buffer.
    per_second: f64,
    /// The last wait found no packet: what came before it was a burst, read whole.
    found_nothing: bool,
}

impl Gathering {
    const SHORTEST: Duration = Duration::from_millis(2);
    const LONGEST: Duration = Duration::from_millis(25);
    /// Bytes of the kernel's buffer one wait should fill at most: a third of [`BUFFER_BYTES`].
    const SHARE: f64 = BUFFER_BYTES as f64 / 3.0;

    fn wait_ms(&self) -> i32 {
        duration_ms(self.wait)
    }

    /// The next wait, after packets taking `buffered` bytes of the kernel's buffer came in
    /// `elapsed`: as long as [`Self::SHARE`] takes at that rate, within
    /// [`Self::SHORTEST`]..[`Self::LONGEST`].
    fn adapt(&mut self, buffered: u64, elapsed: Duration) {
        let per_second = buffered as f64 / elapsed.as_secs_f64().max(1e-4);
        self.per_second = per_second;
        let wait = Duration::from_secs_f64((Self::SHARE / per_second.max(1.0)).min(1.0));
        self.wait = wait.clamp(Self::SHORTEST, Self::LONGEST);
        self.found_nothing = buffered == 0;
    }

    /// Whether a wait should end with the kernel's next block rather than after [`Self::wait`]:
    /// where packets come in blocks (Linux) and the last rate fills one slower than a wait.
    fn waits_for_blocks(&self) -> bool {
        !IMMEDIATE && BLOCK_BYTES >= self.per_second * self.wait.as_secs_f64()
    }

    /// Whether packets that came after `waited` without any are worth a wait for more: not when
    /// the last wait found nothing and this gap was longer than a wait (bursts, each whole);
    /// packets that come sooner (steady traffic) are gathered again.
    fn wanted_after(&self, waited: Duration) -> bool {
        !(self.found_nothing && waited >= self.wait)
    }
}

impl Default for Gathering {
    fn default() -> Self {
        Self {
            wait: Self::SHORTEST,
            per_second: 0.0,
            found_nothing: false,
        }
    }
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

/// `duration` in whole milliseconds, for a poll's timeout.
fn duration_ms(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)
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

    #[test]
    fn gathering_follows_the_rate() {
        let mut gathering = Gathering::default();
        let ms = |millis| Duration::from_millis(millis);
        // 1 Gbit/s of MTU-sized packets kept whole: ~85 a millisecond, ~1,580 bytes each in
        // the buffer, so a third of its 8 MB takes ~21 ms.
        let whole = 1_580;
        gathering.adapt(850 * whole, ms(10));
        let busy = gathering.wait;
        assert!(busy > ms(18) && busy < ms(23), "{busy:?}");
        // The same packets cut to their headers (~240 bytes each) fill it 6 times slower: the
        // longest wait.
        gathering.adapt(850 * 240, ms(10));
        assert_eq!(gathering.wait, Gathering::LONGEST);
        // A few packets: the longest wait; none at all: the same.
        gathering.adapt(3 * whole, ms(5));
        assert_eq!(gathering.wait, Gathering::LONGEST);
        gathering.adapt(0, ms(20));
        assert_eq!(gathering.wait, Gathering::LONGEST);
        // Far more than the buffer takes in the longest wait: the shortest.
        gathering.adapt(50_000 * whole, ms(20));
        assert_eq!(gathering.wait, Gathering::SHORTEST);
        // A wait cut short by an event still measures the rate from what it took.
        gathering.adapt(85 * whole, Duration::from_micros(1_000));
        assert_eq!(gathering.wait, busy);
    }

    #[test]
    fn light_traffic_waits_for_the_next_block_and_heavy_traffic_sleeps() {
        let ms = |millis| Duration::from_millis(millis);
        let mut gathering = Gathering::default();
        // Where packets come in blocks (Linux): nothing measured yet, wait for a block.
        assert_eq!(gathering.waits_for_blocks(), !IMMEDIATE);
        // 100 Mbit/s of MTU-sized packets cut to their headers, ~240 bytes each in the buffer:
        // a 256-KiB block fills in ~128 ms, longer than a wait.
        gathering.adapt(85 * 240, ms(10));
        assert_eq!(gathering.waits_for_blocks(), !IMMEDIATE);
        // 1 Gbit/s: a block every ~13 ms, sooner than a wait (25 ms): a full block would wake
        // the capture twice a wait, so it sleeps the wait instead.
        gathering.adapt(850 * 240, ms(10));
        assert!(!gathering.waits_for_blocks());
        // The rate fell to nothing: wait for a block again.
        gathering.adapt(0, ms(25));
        assert_eq!(gathering.waits_for_blocks(), !IMMEDIATE);
    }

    #[test]
    fn bursts_after_gaps_go_at_once_and_steady_traffic_is_gathered() {
        let mut gathering = Gathering::default();
        let ms = |millis| Duration::from_millis(millis);
        // A wait that found more: the next packets are gathered, whatever the gap before them.
        gathering.adapt(20 * 240, ms(25));
        assert!(gathering.wanted_after(ms(100)));
        // A wait that found nothing: the burst before it was whole. The next burst, after a
        // gap longer than a wait, goes at once; packets that come sooner are gathered.
        gathering.adapt(0, ms(25));
        assert!(!gathering.wanted_after(ms(100)));
        assert!(gathering.wanted_after(ms(4)));
        // No wait yet: gathered.
        assert!(Gathering::default().wanted_after(ms(100)));
    }

    /// A live capture on a namespace's loopback.
    #[cfg(target_os = "linux")]
    mod live {
        use super::*;
        use crate::os::linux::netns::{datagram, ip, isolated};

        /// Packets per source port in a batch (none for an opening).
        fn packets_by_port(batch: &[Observation]) -> Vec<(u16, u32)> {
            batch
                .iter()
                .filter_map(|entry| match entry {
                    Observation::Opening(meta) => Some((meta.ports().0, 0)),
                    Observation::Packet(meta) => Some((meta.ports().0, 1)),
                    Observation::Run(run) => Some((run.meta.ports().0, run.packets)),
                    _ => None,
                })
                .collect()
        }

        /// Begins a new flow: a TCP connection to `listener` (`n` even) or a DNS query; returns
        /// its port.
        fn newcomer(n: usize, listener: std::net::SocketAddr) -> u16 {
            if n.is_multiple_of(2) {
                let connection = std::net::TcpStream::connect(listener).unwrap();
                connection.local_addr().unwrap().port()
            } else {
                datagram("127.0.0.1", 53, b"query")
            }
        }

        /// Sends one steady UDP flow (a datagram every 2 ms for 1.5 s) and, from 0.5 s on, begins
        /// a new flow every 200 ms (alternately a TCP connection to `listener` and a DNS query);
        /// returns the steady flow's port and datagram count, and each new flow's port with when
        /// it began.
        fn steady_flow_and_newcomers(
            to: std::net::SocketAddr,
            listener: std::net::SocketAddr,
        ) -> (u16, u32, Vec<(u16, Instant)>) {
            let socket = || std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let steady = socket();
            let port = steady.local_addr().unwrap().port();
            let (started, mut sent, mut newcomers) = (Instant::now(), 0, Vec::new());
            while started.elapsed() < Duration::from_millis(1500) {
                steady.send_to(&[0; 1000], to).unwrap();
                sent += 1;
                let due = Duration::from_millis(500 + 200 * newcomers.len() as u64);
                if newcomers.len() < 5 && started.elapsed() >= due {
                    let began = Instant::now();
                    newcomers.push((newcomer(newcomers.len(), listener), began));
                }
                thread::sleep(Duration::from_millis(2));
            }
            (port, sent, newcomers)
        }

        #[test]
        fn no_batch_holds_packets_from_both_sides_of_the_cut() {
            isolated(|| {
                ip(&["link", "set", "lo", "up"]);
                let mut source = PcapSource::open("lo").expect("capture on lo");
                let cut_at = unix_micros() + 400_000;
                source.cut_at(&Cut::new(cut_at.into()));
                let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let to = receiver.local_addr().unwrap();
                // A datagram every 2 ms for 800 ms, from one socket before the cut and from
                // another after it; none in the last half millisecond before it, which a packet
                // sent then might be captured after.
                let sender = thread::spawn(move || {
                    let socket = || std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                    let (before, after) = (socket(), socket());
                    let mut sent = [0u32; 2];
                    let started = Instant::now();
                    while started.elapsed() < Duration::from_millis(800) {
                        let now = unix_micros();
                        if (cut_at - 500..cut_at).contains(&now) {
                            continue;
                        }
                        let side = usize::from(now >= cut_at);
                        [&before, &after][side].send_to(&[0; 200], to).unwrap();
                        sent[side] += 1;
                        thread::sleep(Duration::from_millis(2));
                    }
                    let port = |socket: &std::net::UdpSocket| socket.local_addr().unwrap().port();
                    ([port(&before), port(&after)], sent)
                });
                let mut batches = Vec::new();
                let started = Instant::now();
                while started.elapsed() < Duration::from_millis(1500) {
                    let mut batch = Vec::new();
                    source.poll(&mut batch).unwrap();
                    if !batch.is_empty() {
                        batches.push((packets_by_port(&batch), source.captured_from()));
                    }
                }
                let (ports, sent) = sender.join().unwrap();
                let count = |side: usize, ports_of: &[(u16, u32)]| -> u32 {
                    ports_of
                        .iter()
                        .filter(|(from, _)| *from == ports[side])
                        .map(|(_, packets)| packets)
                        .sum()
                };
                for (ports_of, from) in &batches {
                    let (before, after) = (count(0, ports_of), count(1, ports_of));
                    assert!(
                        before == 0 || after == 0,
                        "{before} before and {after} after the cut in one batch"
                    );
                    assert!(
                        after == 0 || from.is_some_and(|from| from >= cut_at),
                        "a batch after the cut says so"
                    );
                }
                let counted = [0, 1].map(|side| {
                    batches
                        .iter()
                        .map(|(ports_of, _)| count(side, ports_of))
                        .sum::<u32>()
                });
                assert_eq!(counted, sent, "every datagram, once");
            });
        }

        #[test]
        fn steady_traffic_is_held_and_a_new_flow_is_handed_over_at_once() {
            // Only the test's packets cross the loopback of a namespace of its own.
            isolated(|| {
                ip(&["link", "set", "lo", "up"]);
                let mut source = PcapSource::open("lo").expect("capture on lo");
                let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let to = receiver.local_addr().unwrap();
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let listening = listener.local_addr().unwrap();
                let sender = thread::spawn(move || steady_flow_and_newcomers(to, listening));
                let started = Instant::now();
                let mut handed = Vec::new();
                while started.elapsed() < Duration::from_millis(2000) {
                    let mut batch = Vec::new();
                    source.poll(&mut batch).unwrap();
                    if !batch.is_empty() {
                        handed.push((Instant::now(), packets_by_port(&batch)));
                    }
                }
                let (port, sent, newcomers) = sender.join().unwrap();
                let steady = |ports: &[(u16, u32)]| -> u32 {
                    ports
                        .iter()
                        .filter(|(from, _)| *from == port)
                        .map(|(_, packets)| packets)
                        .sum()
                };
                let counted: u32 = handed.iter().map(|(_, ports)| steady(ports)).sum();
                assert_eq!(counted, sent, "every datagram of the steady flow, once");
                // Gathering alone hands the steady flow over every 25 ms at most: ~45 times in its
                // middle 1.2 s. Held, about 5 times, and once more for each newcomer.
                let middle = handed
                    .iter()
                    .filter(|(at, ports)| {
                        let since = at.duration_since(started);
                        since > Duration::from_millis(200)
                            && since < Duration::from_millis(1400)
                            && steady(ports) > 0
                    })
                    .count();
                assert!(
                    middle <= 16,
                    "{middle} hand-overs of the steady flow in 1.2 s"
                );
                for (newcomer, sent_at) in newcomers {
                    let (at, _) = handed
                        .iter()
                        .find(|(_, ports)| ports.iter().any(|(from, _)| *from == newcomer))
                        .expect("each newcomer is handed over");
                    let late = at.duration_since(sent_at);
                    assert!(
                        late < Duration::from_millis(120),
                        "a new flow waited {late:?}"
                    );
                }
            });
        }
    }
}
