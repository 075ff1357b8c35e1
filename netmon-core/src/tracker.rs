//! The flow table: counts each packet on its flow, finds the flow's process, and closes each
//! sampling window into a [`Sample`].
//!
//! Attribution is deferred to the end of the window: a flow whose process is not known yet
//! keeps its bytes while lookups (debounced) run, so a short-lived connection is attributed as
//! long as its socket is seen once within the window. A flow whose socket was already gone gets
//! the application that every recently attributed flow to the same remote endpoint had
//! ("inferred", counted in the sample's stats); failing that its bytes are kept as
//! [`UNKNOWN_APP`], never dropped.

pub mod connections;
mod naming;
mod usage;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::HashMap as FastMap;

use crate::attribution::SocketOwners;
use crate::capture::{ProcessBytes, Run};
use crate::domains::names::HostnameMap;
use crate::domains::{DnsAnswer, DomainPolicy, Naming};
use crate::flow::{FlowKey, Placement};
use crate::packet::{PacketMeta, TcpFlags};
use crate::process::ProcessInfo;
use crate::sample::{Direction, Sample, SampleStats, Usage, UNKNOWN_APP};
use crate::tunnel::{self, Split, Tunnels};
use connections::{LiveConnections, Schedule, Tally};
use naming::{FlowName, ReportWindows, Splits};
use usage::{processes_seen, reported_usage, usage_totals, UsageKey};

/// Tuning of the tracker.
#[derive(Debug, Clone, Copy)]
pub struct TrackerOptions {
    /// Least time between two socket-table lookups.
    pub lookup_interval: Duration,
    /// A flow without packets for this long is forgotten.
    pub flow_idle: Duration,
    /// How long an attributed remote endpoint is remembered for inference.
    pub peer_memory: Duration,
    /// First wait before retrying a flow whose owner was not found.
    pub retry_after: Duration,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        Self {
            lookup_interval: Duration::from_millis(5),
            flow_idle: Duration::from_secs(120),
            peer_memory: Duration::from_secs(600),
            retry_after: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
enum Owner {
    /// Not looked up yet, or looked up without success during this window.
    Pending,
    Known(Arc<ProcessInfo>),
    Inferred(Arc<ProcessInfo>),
    /// No process owns this kind of traffic (ICMP, neighbour discovery, other IP protocols).
    Unowned,
    /// Not found; looked up again once `retry_at` has passed.
    Unknown {
        retry_at: Instant,
        backoff: Duration,
    },
}

#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    bytes: u64,
    packets: u64,
}

#[derive(Debug, Clone)]
struct FlowState {
    owner: Owner,
    sent: Counter,
    received: Counter,
    first_seen: Instant,
    last_seen: Instant,
    /// What is known of the server's name (see `naming`).
    name: FlowName,
    /// Bytes since the first packet and how the connection ended (see `connections`).
    tally: Tally,
    /// Opened ahead of its first packet (see [`Tracker::open`]): that packet, when counted,
    /// belongs to this connection and does not start another.
    opened_early: bool,
    /// While pending: when its owner is asked for next, and the wait before the time after.
    lookup: Retry,
}

/// When a pending flow's owner is asked for again. A flow whose socket was not found is asked
/// again after 5 ms, then after a wait that doubles each time, at the monitor's next wake-up
/// after that: its socket is most often gone (a connection of a few milliseconds, already
/// closed or in TIME_WAIT), and asking for it at every lookup until the window closed cost two
/// netlink requests per flow each time, for up to a whole window (in a profile of 150 short
/// connections a second, lookups were three quarters of the monitor's time). The window's close
/// asks once more and settles it as before: inferred from a sibling, else unknown.
#[derive(Debug, Clone, Copy)]
struct Retry {
    at: Instant,
    gap: Duration,
}

impl Retry {
    /// Asked for at once.
    fn now(now: Instant) -> Self {
        Self {
            at: now,
            gap: Duration::ZERO,
        }
    }

    /// Not found at `now`: asked again after twice the last wait (`first` the first time).
    fn missed(&mut self, now: Instant, first: Duration) {
        self.gap = (self.gap * 2).max(first);
        self.at = now + self.gap;
    }
}

impl FlowState {
    fn active(&self) -> bool {
        self.sent.packets + self.received.packets > 0
    }

    fn wants_lookup(&self, now: Instant) -> bool {
        match self.owner {
            Owner::Pending => self.lookup.at <= now,
            Owner::Unknown { retry_at, .. } => self.active() && retry_at <= now,
            Owner::Known(_) | Owner::Inferred(_) | Owner::Unowned => false,
        }
    }

    fn counter(&mut self, direction: Direction) -> &mut Counter {
        match direction {
            Direction::Sent => &mut self.sent,
            Direction::Received => &mut self.received,
        }
    }
}

/// The application seen talking to a remote endpoint; `None` once two applications were.
#[derive(Debug, Clone)]
struct Peer {
    owner: Option<Arc<ProcessInfo>>,
    /// When the earliest flow attributed to it began: only flows that began later (or at most
    /// [`SIBLING_LEAD`] before) are inferred.
    since: Instant,
    seen: Instant,
}

/// How long before an application's first known flow to a remote endpoint another flow to it
/// may have begun and still be inferred as the application's. Browsers open parallel
/// connections to a server at once, and the first one's lookup can lose the race with its
/// short life (a page fetched and the connection closed within tens of milliseconds, while the
/// monitor was busy): its sibling, looked up moments later, names it. Two applications opening
/// connections to the same endpoint within this span are the price.
const SIBLING_LEAD: Duration = Duration::from_millis(250);

/// The open flows, hashed with foldhash (the flow table is looked up for every packet).
type FlowTable = FastMap<FlowKey, FlowState>;

/// Counts packets per flow and turns each window into a [`Sample`].
pub struct Tracker {
    owners: Box<dyn SocketOwners>,
    options: TrackerOptions,
    flows: FlowTable,
    peers: FastMap<(u8, SocketAddr), Peer>,
    last_lookup: Option<Instant>,
    /// Per-process reports received during the window (sources without packets).
    reports: Vec<ProcessBytes>,
    domains: DomainPolicy,
    names: HostnameMap,
    /// The extension's reports of the last two windows.
    report_windows: ReportWindows,
    /// When the latest packet was recorded.
    latest: Option<Instant>,
    stats: SampleStats,
    /// This machine's VPN tunnels: whose traffic is transport, counted as overhead only.
    tunnels: Tunnels,
    /// Where the live connections are published, when someone reads them.
    live: Option<(LiveConnections, Schedule)>,
    /// A flow began since the latest lookup: its owner is wanted soon.
    awaiting_lookup: bool,
}

impl Tracker {
    pub fn new(owners: Box<dyn SocketOwners>, options: TrackerOptions) -> Self {
        Self {
            owners,
            options,
            flows: FlowTable::default(),
            peers: FastMap::default(),
            last_lookup: None,
            reports: Vec::new(),
            domains: DomainPolicy::default(),
            names: HostnameMap::default(),
            report_windows: ReportWindows::default(),
            latest: None,
            stats: SampleStats::default(),
            tunnels: Tunnels::default(),
            live: None,
            awaiting_lookup: false,
        }
    }

    /// The machine's tunnels now (see [`crate::tunnel`]): from the next sample on, transport
    /// is counted as its VPN's overhead only.
    pub fn set_tunnels(&mut self, tunnels: Tunnels) {
        self.tunnels = tunnels;
    }

    /// Breaks usage down by destination as `policy` says (default: browsers, rolled up).
    pub fn with_domains(mut self, policy: DomainPolicy) -> Self {
        self.domains = policy;
        self
    }

    /// Changes the domain policy of a running tracker (a live configuration change): flows are
    /// named by it from the next window close on.
    pub fn set_domains(&mut self, policy: DomainPolicy) {
        self.domains = policy;
    }

    /// The shared hostname map: the browser extension's reports and the DNS answers the capture
    /// sees, used for flows that named no server themselves.
    pub fn with_names(mut self, names: HostnameMap) -> Self {
        self.names = names;
        self
    }

    /// Publishes the open flows to `live` about once a second (see [`connections`]), when
    /// [`Self::publish_connections`] is called.
    pub fn with_connections(mut self, live: LiveConnections) -> Self {
        self.live = Some((live, Schedule::default()));
        self
    }

    /// Takes a new snapshot of the open flows into the shared [`LiveConnections`] when one is
    /// due (cheap otherwise); `now_ms` is the wall-clock time of `now`.
    pub fn publish_connections(&mut self, now: Instant, now_ms: i64) {
        let Some((live, schedule)) = &mut self.live else {
            return;
        };
        let Some(elapsed) = schedule.due(now) else {
            return;
        };
        let names = self.names.map();
        let (snapshot, changes_at) =
            connections::snapshot(&mut self.flows, &self.domains, &names, elapsed, now, now_ms);
        schedule.showed(changes_at);
        live.publish(snapshot);
    }

    /// How long an idle monitor may sleep before the live connections need a new snapshot:
    /// `None` when none are published, or nothing listed can change without a packet.
    pub fn connections_due_in(&self, now: Instant) -> Option<Duration> {
        self.live.as_ref()?.1.wake_in(now, self.latest)
    }

    /// Applies what a packet named: the server of the flow it was placed on (its ClientHello's
    /// server name or HTTP Host, see `naming`), or addresses answered by DNS (learned into the
    /// shared name map at the time of the latest packet).
    pub fn name(&mut self, placement: Placement, naming: &Naming) {
        if let Naming::Dns(answers) = naming {
            self.learn_answers(answers);
        } else if let Placement::Flow(key, _) = placement {
            if let Some(flow) = self.flows.get_mut(&key) {
                flow.name.apply(naming);
            }
        }
    }

    /// Learns the addresses a DNS response answered into the shared name map, at the time of
    /// the latest packet.
    pub fn learn_answers(&mut self, answers: &[DnsAnswer]) {
        let now = self.latest.unwrap_or_else(Instant::now);
        self.learn_answers_at(answers, now);
    }

    /// Learns the addresses a DNS response answered, as given at `now` (its place among the
    /// packets: see `monitor`).
    pub fn learn_answers_at(&mut self, answers: &[DnsAnswer], now: Instant) {
        self.names.learn_dns(answers, now);
    }

    /// Counts a packet whose process the capture already knows (no lookup needed).
    pub fn record_owned(
        &mut self,
        packet: &PacketMeta,
        placement: Placement,
        process: &Arc<ProcessInfo>,
        now: Instant,
    ) {
        self.record(packet, placement, now);
        self.own(placement, process);
    }

    /// Names `process` the owner of the flow at `placement` (the capture tagged its packets).
    fn own(&mut self, placement: Placement, process: &Arc<ProcessInfo>) {
        if let Placement::Flow(key, _) = placement {
            if let Some(flow) = self.flows.get_mut(&key) {
                flow.owner = Owner::Known(Arc::clone(process));
            }
        }
    }

    /// Adds a per-process byte report to the window. Its connections' bytes go to their remote
    /// addresses' destinations when the window closes (named by the hostname map, else kept by
    /// address as unresolved), like flows that named no server themselves.
    pub fn record_report(&mut self, report: &ProcessBytes) {
        self.reports.push(report.clone());
    }

    /// Counts one packet where `placement` puts it.
    pub fn record(&mut self, packet: &PacketMeta, placement: Placement, now: Instant) {
        self.record_packets(packet, 1, placement, now);
    }

    /// Counts a run of packets (see [`crate::capture::coalesce`]) where `placement` puts it,
    /// as its packets would be counted one by one; a run the capture tagged with its process
    /// names the flow's owner.
    pub fn record_run(&mut self, run: &Run, placement: Placement, now: Instant) {
        self.record_packets(&run.meta, u64::from(run.packets), placement, now);
        if let Some(process) = &run.process {
            self.own(placement, process);
        }
    }

    /// Counts `packets` packets of `bytes` in all (`packet.ip_len`).
    fn record_packets(
        &mut self,
        packet: &PacketMeta,
        packets: u64,
        placement: Placement,
        now: Instant,
    ) {
        let bytes = u64::from(packet.ip_len);
        self.latest = Some(now);
        match placement {
            Placement::Local => self.stats.local_bytes += bytes,
            Placement::Transit => self.stats.transit_bytes += bytes,
            Placement::Flow(key, direction) => {
                self.count(key, direction, (bytes, packets), packet.tcp_flags(), now);
            }
        }
    }

    /// Counts a frame that was not an IP packet.
    pub fn skipped(&mut self) {
        self.stats.skipped_frames += 1;
    }

    /// Adds packets the capture reported as dropped.
    pub fn dropped(&mut self, packets: u64) {
        self.stats.dropped_packets += packets;
    }

    /// Opens the flow whose first packet `packet` is (a TCP connection's SYN, or a UDP flow's
    /// first datagram), ahead of that packet (an events capture delivers it at once, the packet
    /// capture later): the flow begins now, named from what is known now, and its owner is
    /// looked up at the next [`Self::attribute`], while its socket surely exists. The packet is
    /// counted when it comes.
    pub fn open(&mut self, packet: &PacketMeta, placement: Placement, now: Instant) {
        let Placement::Flow(key, direction) = placement else {
            return;
        };
        let flags = packet.tcp_flags();
        if flags.is_some() && !packet.opens_connection() {
            return;
        }
        self.count(key, direction, (0, 0), flags, now);
        if let Some(flow) = self.flows.get_mut(&key).filter(|_| flags.is_some()) {
            flow.opened_early = true;
        }
    }

    /// How soon [`Self::attribute`] should run again: a flow that began since the latest
    /// lookup wants its owner while its socket exists. `None` when no flow waits: a flow not
    /// found yet is asked for again when the monitor wakes anyway (see [`Retry`]), and at the
    /// window's close.
    pub fn lookup_due_in(&self, now: Instant) -> Option<Duration> {
        self.awaiting_lookup.then(|| {
            self.last_lookup.map_or(Duration::ZERO, |last| {
                self.options
                    .lookup_interval
                    .saturating_sub(now.duration_since(last))
            })
        })
    }

    fn count(
        &mut self,
        key: FlowKey,
        direction: Direction,
        (bytes, packets): (u64, u64),
        flags: Option<TcpFlags>,
        now: Instant,
    ) {
        let flow = self.flows.entry(key).or_insert_with(|| FlowState {
            owner: initial_owner(&key),
            sent: Counter::default(),
            received: Counter::default(),
            first_seen: now,
            last_seen: now,
            name: FlowName::default(),
            tally: Tally::default(),
            opened_early: false,
            lookup: Retry::now(now),
        });
        let opens = flags.is_some_and(TcpFlags::opens_connection);
        if opens && std::mem::take(&mut flow.opened_early) {
            // The connection's first packet, after its opening was seen: nothing to reset.
        } else if opens {
            // A new connection on a known 5-tuple: the port was reused, maybe by another process
            // and towards another server name.
            flow.owner = Owner::Pending;
            flow.lookup = Retry::now(now);
            flow.first_seen = now;
            flow.name = FlowName::default();
            flow.tally = Tally::default();
        }
        self.awaiting_lookup |= flow.wants_lookup(now);
        let counter = flow.counter(direction);
        counter.bytes += bytes;
        counter.packets += packets;
        flow.last_seen = now;
        flow.tally.count(direction, bytes, flags);
    }

    /// Looks up the owners of new flows, at most once per `lookup_interval`.
    pub fn attribute(&mut self, now: Instant) {
        let due = self
            .last_lookup
            .is_none_or(|last| now.duration_since(last) >= self.options.lookup_interval);
        if due {
            self.lookup(now, false);
        }
    }

    /// Asks for the owners of the flows that want a lookup now, or, for the `last` lookup
    /// before a window closes, of every pending flow.
    fn lookup(&mut self, now: Instant, last: bool) {
        self.awaiting_lookup = false;
        let wanted: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, flow)| {
                flow.wants_lookup(now) || (last && matches!(flow.owner, Owner::Pending))
            })
            .map(|(key, _)| *key)
            .collect();
        if wanted.is_empty() {
            return;
        }
        self.last_lookup = Some(now);
        let found = self.owners.lookup(&wanted);
        found.into_iter().for_each(|(key, owner)| {
            let Some(flow) = self.flows.get_mut(&key) else {
                return;
            };
            let began = flow.first_seen;
            flow.owner = Owner::Known(Arc::clone(&owner));
            self.remember_peer(&key, owner, began, now);
        });
        let first = self.options.lookup_interval;
        let flows = &mut self.flows;
        wanted.iter().for_each(|key| {
            if let Some(flow) = flows
                .get_mut(key)
                .filter(|flow| matches!(flow.owner, Owner::Pending))
            {
                flow.lookup.missed(now, first);
            }
        });
    }

    fn remember_peer(
        &mut self,
        key: &FlowKey,
        owner: Arc<ProcessInfo>,
        began: Instant,
        now: Instant,
    ) {
        let peer = self
            .peers
            .entry((key.protocol, key.remote))
            .or_insert_with(|| Peer {
                owner: Some(Arc::clone(&owner)),
                since: began,
                seen: now,
            });
        if peer
            .owner
            .as_ref()
            .is_some_and(|known| known.app != owner.app)
        {
            peer.owner = None;
        }
        peer.since = peer.since.min(began);
        peer.seen = now;
    }

    /// Ends the window: resolves what is still pending, emits the sample and starts the next.
    pub fn close(&mut self, start_ms: i64, end_ms: i64, now: Instant) -> Sample {
        self.lookup(now, true);
        self.settle_pending(now);
        let splits = self.name_flows(now);
        let sample = self.sample(start_ms, end_ms, now, &splits);
        self.reset(now);
        sample
    }

    /// Names the window's flows (see `naming`); the addresses whose unnamed browser bytes are
    /// split between the extension's hostnames this window.
    fn name_flows(&mut self, now: Instant) -> Splits {
        let domains = &self.domains;
        let open = self
            .flows
            .iter_mut()
            .filter(|(_, flow)| flow.active())
            .map(|(key, flow)| naming::Open {
                key,
                began: flow.first_seen,
                bytes: flow.sent.bytes + flow.received.bytes,
                browser: domains.is_browser(owner_app(&flow.owner)),
                name: &mut flow.name,
            });
        naming::close_window(open, &mut self.names.map(), &mut self.report_windows, now)
    }

    /// Pending flows after the last lookup: inferred from their remote endpoint, or unknown.
    fn settle_pending(&mut self, now: Instant) {
        let retry = self.options.retry_after;
        let peers = &self.peers;
        self.flows
            .iter_mut()
            .filter(|(_, flow)| matches!(flow.owner, Owner::Pending))
            .for_each(|(key, flow)| {
                flow.owner = match peers.get(&(key.protocol, key.remote)) {
                    Some(Peer {
                        owner: Some(owner),
                        since,
                        ..
                    }) if *since <= flow.first_seen + SIBLING_LEAD => {
                        Owner::Inferred(Arc::clone(owner))
                    }
                    _ => Owner::Unknown {
                        retry_at: now + retry,
                        backoff: retry,
                    },
                };
            });
    }

    fn sample(&self, start_ms: i64, end_ms: i64, now: Instant, splits: &Splits) -> Sample {
        let active: Vec<(&FlowKey, &FlowState)> = self
            .flows
            .iter()
            .filter(|(_, flow)| flow.active())
            .collect();
        let split = Split::of(&self.tunnels, active.iter().map(flow_bytes), &self.reports);
        let usage_flows: Vec<(&FlowKey, &FlowState)> =
            not_transport(&active, &split.transport_flows)
                .into_iter()
                .copied()
                .collect();
        let usage_reports: Vec<ProcessBytes> =
            not_transport(&self.reports, &split.transport_reports)
                .into_iter()
                .cloned()
                .collect();
        let reported = reported_usage(&usage_reports, &self.domains, &self.names, now);
        let mut usage = usage_totals(&usage_flows, reported, &self.domains, splits);
        add_overhead(&mut usage, &split);
        let bytes_where = |wanted: fn(&Owner) -> bool| -> u64 {
            usage_flows
                .iter()
                .filter(|(_, flow)| wanted(&flow.owner))
                .map(|(_, flow)| flow.sent.bytes + flow.received.bytes)
                .sum()
        };
        let stats = SampleStats {
            packets: usage.values().map(|counter| counter.packets).sum(),
            bytes: usage.values().map(|counter| counter.bytes).sum(),
            active_flows: active.len() as u64,
            unknown_bytes: bytes_where(|owner| {
                matches!(owner, Owner::Unknown { .. } | Owner::Unowned)
            }),
            inferred_bytes: bytes_where(|owner| matches!(owner, Owner::Inferred(_))),
            tunnels: split.tunnels,
            ..self.stats.clone()
        };
        Sample {
            start_ms,
            end_ms,
            usage: usage
                .into_iter()
                .map(|((app, destination, direction), counter)| Usage {
                    app,
                    destination,
                    direction,
                    bytes: counter.bytes,
                    packets: counter.packets,
                })
                .collect(),
            processes: processes_seen(&active, &self.reports),
            stats,
        }
    }

    fn reset(&mut self, now: Instant) {
        let idle = self.options.flow_idle;
        self.flows
            .retain(|_, flow| now.duration_since(flow.last_seen) < idle);
        self.flows.values_mut().for_each(|flow| {
            flow.sent = Counter::default();
            flow.received = Counter::default();
            if let Owner::Unknown { retry_at, backoff } = &mut flow.owner {
                if *retry_at <= now {
                    *backoff = (*backoff * 2).min(Duration::from_secs(300));
                    *retry_at = now + *backoff;
                }
            }
        });
        let memory = self.options.peer_memory;
        self.peers
            .retain(|_, peer| now.duration_since(peer.seen) < memory);
        self.stats = SampleStats::default();
        self.reports.clear();
    }

    /// Flows currently in the table.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }
}

/// A flow's traffic this sample, for [`Split`].
fn flow_bytes<'a>((key, flow): &(&FlowKey, &'a FlowState)) -> tunnel::FlowBytes<'a> {
    let count = |counter: Counter| tunnel::Count {
        bytes: counter.bytes,
        packets: counter.packets,
    };
    tunnel::FlowBytes {
        protocol: key.protocol,
        local: key.local,
        remote: key.remote,
        owner: match &flow.owner {
            Owner::Known(process) | Owner::Inferred(process) => Some(process),
            _ => None,
        },
        sent: count(flow.sent),
        received: count(flow.received),
    }
}

/// The items `transport` does not mark (a VPN's transport is not usage).
fn not_transport<'a, T>(items: &'a [T], transport: &[bool]) -> Vec<&'a T> {
    items
        .iter()
        .zip(transport)
        .filter(|(_, transport)| !**transport)
        .map(|(item, _)| item)
        .collect()
}

/// Credits each VPN with its overhead, without a destination.
fn add_overhead(usage: &mut BTreeMap<UsageKey, Counter>, split: &Split) {
    split
        .overhead()
        .for_each(|(vpn, direction, bytes, packets)| {
            let total = usage.entry((vpn.to_string(), None, direction)).or_default();
            total.bytes += bytes;
            total.packets += packets;
        });
}

fn owner_app(owner: &Owner) -> &str {
    match owner {
        Owner::Known(process) | Owner::Inferred(process) => &process.app,
        Owner::Pending | Owner::Unknown { .. } | Owner::Unowned => UNKNOWN_APP,
    }
}

/// TCP and UDP flows have sockets to look up; no process owns other IP traffic.
fn initial_owner(key: &FlowKey) -> Owner {
    match key.protocol {
        6 | 17 => Owner::Pending,
        _ => Owner::Unowned,
    }
}

#[cfg(test)]
mod connections_tests;
#[cfg(test)]
mod naming_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::ConnectionBytes;
    use crate::flow::LocalAddrs;
    use crate::packet::{TcpFlags, Transport};
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Socket owners that answer from a shared map the test edits (sockets open and close).
    #[derive(Clone, Default)]
    pub(super) struct FakeOwners {
        open: Arc<Mutex<HashMap<FlowKey, Arc<ProcessInfo>>>>,
        lookups: Arc<Mutex<usize>>,
    }

    impl SocketOwners for FakeOwners {
        fn lookup(&mut self, flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>> {
            *self.lookups.lock().unwrap() += 1;
            let open = self.open.lock().unwrap();
            flows
                .iter()
                .filter_map(|flow| open.get(flow).map(|owner| (*flow, Arc::clone(owner))))
                .collect()
        }
    }

    impl FakeOwners {
        pub(super) fn open(&self, key: FlowKey, app: &str) {
            let owner = Arc::new(ProcessInfo::new(42, app, None));
            self.open.lock().unwrap().insert(key, owner);
        }

        fn close(&self, key: &FlowKey) {
            self.open.lock().unwrap().remove(key);
        }
    }

    pub(super) fn machine() -> LocalAddrs {
        LocalAddrs::new(["10.0.0.2".parse().unwrap()])
    }

    pub(super) fn tcp(src: &str, dst: &str, len: u32, syn: bool) -> PacketMeta {
        let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        PacketMeta {
            src: src.ip(),
            dst: dst.ip(),
            transport: Transport::Tcp {
                src_port: src.port(),
                dst_port: dst.port(),
                flags: TcpFlags {
                    syn,
                    ..TcpFlags::default()
                },
            },
            ip_len: len,
        }
    }

    /// A UDP datagram of `len` bytes from `src` to `dst`.
    pub(super) fn udp(src: &str, dst: &str, len: u32) -> PacketMeta {
        let packet = tcp(src, dst, len, false);
        let (src_port, dst_port) = packet.ports();
        PacketMeta {
            transport: Transport::Udp { src_port, dst_port },
            ..packet
        }
    }

    pub(super) fn key(local: &str, remote: &str) -> FlowKey {
        FlowKey {
            protocol: 6,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
        }
    }

    pub(super) fn tracker(owners: &FakeOwners) -> Tracker {
        Tracker::new(Box::new(owners.clone()), TrackerOptions::default())
    }

    fn feed(tracker: &mut Tracker, packet: PacketMeta, now: Instant) {
        let placement = machine().place(&packet);
        tracker.record(&packet, placement, now);
    }

    /// A tracker that saw the SYN (`len` bytes) of 10.0.0.2:5000 → 1.1.1.1:443 at `at`.
    fn opened(owners: &FakeOwners, len: u32, at: Instant) -> Tracker {
        let mut tracker = tracker(owners);
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", len, true),
            at,
        );
        tracker
    }

    #[test]
    fn bytes_go_to_the_owning_process_per_direction() {
        let owners = FakeOwners::default();
        owners.open(key("10.0.0.2:5000", "1.1.1.1:443"), "curl");
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", 60, true),
            now,
        );
        feed(
            &mut tracker,
            tcp("1.1.1.1:443", "10.0.0.2:5000", 1500, false),
            now,
        );
        feed(
            &mut tracker,
            tcp("1.1.1.1:443", "10.0.0.2:5000", 1500, false),
            now,
        );
        tracker.attribute(now);
        let sample = tracker.close(0, 5000, now);
        assert_eq!(sample.bytes_of("curl", Direction::Sent), 60);
        assert_eq!(sample.bytes_of("curl", Direction::Received), 3000);
        assert_eq!(sample.stats.packets, 3);
        assert_eq!(sample.stats.unknown_bytes, 0);
        assert_eq!(sample.processes.len(), 1);
    }

    /// Closes `flow`'s socket, then feeds `packets` at `at`, and closes the window.
    fn after_socket_closed(
        tracker: &mut Tracker,
        owners: &FakeOwners,
        flow: FlowKey,
        packets: [PacketMeta; 2],
        at: Instant,
    ) -> Sample {
        owners.close(&flow);
        packets
            .into_iter()
            .for_each(|packet| feed(tracker, packet, at));
        tracker.attribute(at);
        tracker.close(0, 5000, at)
    }

    /// `app`'s bytes sent and received in `sample`, and the sample's packets.
    fn counted(sample: &Sample, app: &str) -> (u64, u64, u64) {
        (
            sample.bytes_of(app, Direction::Sent),
            sample.bytes_of(app, Direction::Received),
            sample.stats.packets,
        )
    }

    #[test]
    fn a_connection_opened_ahead_of_its_packets_keeps_the_owner_found_then() {
        let owners = FakeOwners::default();
        let flow = key("10.0.0.2:5000", "1.1.1.1:80");
        owners.open(flow, "chromium");
        let mut tracker = tracker(&owners);
        let start = Instant::now();
        let syn = tcp("10.0.0.2:5000", "1.1.1.1:80", 60, true);
        assert_eq!(tracker.lookup_due_in(start), None);
        tracker.open(&syn, machine().place(&syn), start);
        assert_eq!(tracker.lookup_due_in(start), Some(Duration::ZERO));
        tracker.attribute(start);
        assert_eq!(tracker.lookup_due_in(start), None, "looked up");
        // The socket is gone by the time the packets come, SYN first: the owner found at the
        // opening stays, and every packet is counted once.
        let later = start + Duration::from_millis(30);
        let reply = tcp("1.1.1.1:80", "10.0.0.2:5000", 1500, false);
        let closed = after_socket_closed(&mut tracker, &owners, flow, [syn, reply], later);
        assert_eq!(
            counted(&closed, "chromium"),
            (60, 1500, 2),
            "each packet once, to the opening's owner"
        );
        // A second SYN on the same 5-tuple is a new connection: its owner is looked up again.
        feed(&mut tracker, syn, later);
        assert!(tracker.lookup_due_in(later).is_some());
    }

    #[test]
    fn a_dns_query_opened_ahead_of_its_packet_keeps_the_owner_found_then() {
        let owners = FakeOwners::default();
        let flow = FlowKey {
            protocol: 17,
            ..key("10.0.0.2:40000", "10.0.0.1:53")
        };
        owners.open(flow, "resolver");
        let mut tracker = tracker(&owners);
        let start = Instant::now();
        let query = udp("10.0.0.2:40000", "10.0.0.1:53", 70);
        tracker.open(&query, machine().place(&query), start);
        assert_eq!(tracker.lookup_due_in(start), Some(Duration::ZERO));
        tracker.attribute(start);
        // The resolver's socket closed with its answer, before the packets came.
        let later = start + Duration::from_millis(250);
        let answer = udp("10.0.0.1:53", "10.0.0.2:40000", 120);
        let closed = after_socket_closed(&mut tracker, &owners, flow, [query, answer], later);
        assert_eq!(
            counted(&closed, "resolver"),
            (70, 120, 2),
            "both packets, to the opening's owner"
        );
    }

    #[test]
    fn a_flow_found_late_in_the_window_keeps_its_early_bytes() {
        let owners = FakeOwners::default();
        let now = Instant::now();
        let mut tracker = opened(&owners, 100, now);
        tracker.attribute(now);
        owners.open(key("10.0.0.2:5000", "1.1.1.1:443"), "late");
        let sample = tracker.close(0, 5000, now + Duration::from_millis(1));
        assert_eq!(sample.bytes_of("late", Direction::Sent), 100);
    }

    #[test]
    fn lookups_are_debounced() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        (0..10u16).for_each(|port| {
            let src = format!("10.0.0.2:{}", 6000 + port);
            feed(&mut tracker, tcp(&src, "1.1.1.1:443", 100, true), now);
            tracker.attribute(now);
        });
        assert_eq!(*owners.lookups.lock().unwrap(), 1);
        tracker.attribute(now + Duration::from_millis(6));
        assert_eq!(*owners.lookups.lock().unwrap(), 2);
    }

    #[test]
    fn vanished_sockets_are_inferred_from_their_remote_endpoint() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        owners.open(key("10.0.0.2:5000", "1.1.1.1:443"), "browser");
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", 100, true),
            now,
        );
        tracker.attribute(now);
        // A second connection to the same server opens and closes between two lookups.
        feed(
            &mut tracker,
            tcp("10.0.0.2:5001", "1.1.1.1:443", 300, true),
            now,
        );
        let sample = tracker.close(0, 5000, now);
        assert_eq!(sample.bytes_of("browser", Direction::Sent), 400);
        assert_eq!(sample.stats.inferred_bytes, 300);
        assert_eq!(sample.stats.unknown_bytes, 0);
    }

    /// A connection of `first_bytes` whose socket is gone before its lookup, then one of 100
    /// bytes to the same server that `app` opens `later` and whose lookup finds it: the sample
    /// closed then.
    fn vanished_then_sibling(later: Duration, first_bytes: u32, app: &str) -> Sample {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", first_bytes, true),
            now,
        );
        tracker.attribute(now);
        let sibling = now + later;
        owners.open(key("10.0.0.2:5001", "1.1.1.1:443"), app);
        feed(
            &mut tracker,
            tcp("10.0.0.2:5001", "1.1.1.1:443", 100, true),
            sibling,
        );
        tracker.attribute(sibling);
        tracker.close(0, 5000, sibling)
    }

    #[test]
    fn a_sibling_connection_opened_at_once_names_one_whose_socket_vanished() {
        // The sibling opened 80 ms later (the monitor was busy meanwhile).
        let sample = vanished_then_sibling(Duration::from_millis(80), 500_000, "browser");
        assert_eq!(sample.bytes_of("browser", Direction::Sent), 500_100);
        assert_eq!(sample.stats.inferred_bytes, 500_000);
        assert_eq!(sample.stats.unknown_bytes, 0);
    }

    #[test]
    fn an_app_seen_only_after_a_flow_began_is_not_credited_with_it() {
        let later = SIBLING_LEAD + Duration::from_millis(30);
        let sample = vanished_then_sibling(later, 900, "latecomer");
        assert_eq!(sample.bytes_of("latecomer", Direction::Sent), 100);
        assert_eq!(sample.bytes_of(UNKNOWN_APP, Direction::Sent), 900);
    }

    #[test]
    fn a_flow_not_found_is_asked_for_less_and_less_often_until_found() {
        let owners = FakeOwners::default();
        let start = Instant::now();
        let at = |millis: u64| start + Duration::from_millis(millis);
        let mut tracker = opened(&owners, 60, start);
        // Its packets come every 5 ms, and the monitor asks for owners as often as it may.
        let mut asked_at = Vec::new();
        for millis in (0..1000).step_by(5) {
            if millis == 300 {
                owners.open(key("10.0.0.2:5000", "1.1.1.1:443"), "late");
            }
            feed(
                &mut tracker,
                tcp("10.0.0.2:5000", "1.1.1.1:443", 100, false),
                at(millis),
            );
            let before = *owners.lookups.lock().unwrap();
            tracker.attribute(at(millis));
            if *owners.lookups.lock().unwrap() > before {
                asked_at.push(millis);
            }
        }
        // Asked at once, then after 5, 10, 20 ... ms: found at the first retry after it opened
        // (315 ms), and not asked again.
        assert_eq!(
            asked_at,
            [0, 5, 15, 35, 75, 155, 315],
            "asked at {asked_at:?} ms"
        );
        let sample = tracker.close(0, 1000, at(1000));
        assert_eq!(sample.bytes_of("late", Direction::Sent), 60 + 200 * 100);
    }

    #[test]
    fn a_retry_does_not_wake_the_monitor() {
        let owners = FakeOwners::default();
        let start = Instant::now();
        let mut tracker = opened(&owners, 60, start);
        assert_eq!(tracker.lookup_due_in(start), Some(Duration::ZERO));
        tracker.attribute(start);
        assert_eq!(
            tracker.lookup_due_in(start),
            None,
            "asked again when it wakes anyway"
        );
    }

    #[test]
    fn traffic_without_sockets_triggers_no_lookup() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        let icmp = PacketMeta {
            transport: Transport::Other { protocol: 58 },
            ..tcp("10.0.0.2:0", "1.1.1.1:0", 72, false)
        };
        feed(&mut tracker, icmp, now);
        tracker.attribute(now);
        assert_eq!(*owners.lookups.lock().unwrap(), 0);
        let sample = tracker.close(0, 5000, now);
        assert_eq!(sample.stats.unknown_bytes, 72);
    }

    #[test]
    fn an_endpoint_shared_by_two_apps_is_not_guessed() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        owners.open(key("10.0.0.2:5000", "1.1.1.1:443"), "a");
        owners.open(key("10.0.0.2:5001", "1.1.1.1:443"), "b");
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", 1, true),
            now,
        );
        feed(
            &mut tracker,
            tcp("10.0.0.2:5001", "1.1.1.1:443", 1, true),
            now,
        );
        tracker.attribute(now);
        feed(
            &mut tracker,
            tcp("10.0.0.2:5002", "1.1.1.1:443", 700, true),
            now,
        );
        let sample = tracker.close(0, 5000, now);
        assert_eq!(sample.bytes_of(UNKNOWN_APP, Direction::Sent), 700);
        assert_eq!(sample.stats.unknown_bytes, 700);
    }

    #[test]
    fn unknown_flows_are_retried_later_and_then_attributed() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let start = Instant::now();
        let flow = key("10.0.0.2:5000", "1.1.1.1:443");
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", 10, false),
            start,
        );
        let first = tracker.close(0, 5000, start);
        assert_eq!(first.bytes_of(UNKNOWN_APP, Direction::Sent), 10);
        owners.open(flow, "slow");
        let later = start + Duration::from_secs(6);
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", 20, false),
            later,
        );
        tracker.attribute(later);
        let second = tracker.close(5000, 10000, later);
        assert_eq!(second.bytes_of("slow", Direction::Sent), 20);
    }

    #[test]
    fn a_reused_port_is_looked_up_again() {
        let owners = FakeOwners::default();
        let flow = key("10.0.0.2:5000", "1.1.1.1:443");
        owners.open(flow, "first");
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", 10, true),
            now,
        );
        tracker.attribute(now);
        tracker.close(0, 5000, now);
        owners.close(&flow);
        owners.open(flow, "second");
        let later = now + Duration::from_secs(1);
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", 10, true),
            later,
        );
        tracker.attribute(later);
        let sample = tracker.close(5000, 10000, later);
        assert_eq!(sample.bytes_of("second", Direction::Sent), 10);
        assert_eq!(sample.bytes_of("first", Direction::Sent), 0);
    }

    #[test]
    fn local_and_transit_traffic_is_counted_apart() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        feed(
            &mut tracker,
            tcp("127.0.0.1:1", "127.0.0.1:2", 50, false),
            now,
        );
        feed(&mut tracker, tcp("8.8.8.8:1", "9.9.9.9:2", 70, false), now);
        tracker.skipped();
        let sample = tracker.close(0, 5000, now);
        assert!(sample.usage.is_empty());
        assert_eq!(sample.stats.local_bytes, 50);
        assert_eq!(sample.stats.transit_bytes, 70);
        assert_eq!(sample.stats.skipped_frames, 1);
        let next = tracker.close(5000, 10000, now);
        assert_eq!(next.stats, SampleStats::default());
    }

    #[test]
    fn tagged_packets_and_process_reports_need_no_lookup() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        let safari = Arc::new(ProcessInfo::new(7, "Safari", None));
        let packet = tcp("1.1.1.1:443", "10.0.0.2:5000", 1500, false);
        tracker.record_owned(&packet, machine().place(&packet), &safari, now);
        tracker.record_report(&ProcessBytes {
            process: Arc::new(ProcessInfo::new(8, "Music", None)),
            sent: 10,
            received: 90,
            connections: Vec::new(),
        });
        tracker.attribute(now);
        let sample = tracker.close(0, 5000, now);
        assert_eq!(*owners.lookups.lock().unwrap(), 0);
        assert_eq!(sample.bytes_of("Safari", Direction::Received), 1500);
        assert_eq!(sample.bytes_of("Music", Direction::Received), 90);
        assert_eq!(sample.bytes_of("Music", Direction::Sent), 10);
        assert_eq!(sample.processes.len(), 2);
        let next = tracker.close(5000, 10000, now);
        assert!(next.usage.is_empty(), "reports count in one sample only");
    }

    #[test]
    fn browser_flows_that_named_their_server_carry_its_domain() {
        let owners = FakeOwners::default();
        owners.open(key("10.0.0.2:5000", "1.1.1.1:443"), "firefox");
        owners.open(key("10.0.0.2:5001", "1.1.1.1:443"), "curl");
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        for port in [5000, 5001] {
            let hello = tcp(&format!("10.0.0.2:{port}"), "1.1.1.1:443", 300, false);
            let placement = machine().place(&hello);
            tracker.record(&hello, placement, now);
            tracker.name(placement, &Naming::Server("api.netflix.com".into()));
        }
        tracker.attribute(now);
        let sample = tracker.close(0, 5000, now);
        let firefox = sample.usage.iter().find(|u| u.app == "firefox").unwrap();
        let destination = firefox
            .destination
            .as_ref()
            .expect("browsers get a destination");
        assert_eq!(destination.domain, "netflix.com");
        assert_eq!(destination.host, "api.netflix.com");
        let curl = sample.usage.iter().find(|u| u.app == "curl").unwrap();
        assert_eq!(
            curl.destination, None,
            "other applications are not broken down by default"
        );
    }

    #[test]
    fn browser_flows_nothing_named_are_kept_by_address_as_unresolved() {
        let owners = FakeOwners::default();
        owners.open(key("10.0.0.2:5000", "203.0.113.7:443"), "firefox");
        owners.open(key("10.0.0.2:5001", "203.0.113.8:443"), "firefox");
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        for (port, server) in [(5000, "203.0.113.7:443"), (5001, "203.0.113.8:443")] {
            let packet = tcp(&format!("10.0.0.2:{port}"), server, 400, false);
            let placement = machine().place(&packet);
            tracker.record(&packet, placement, now);
        }
        tracker.attribute(now);
        let sample = tracker.close(0, 5000, now);
        let mut destinations: Vec<(String, String, u64)> = sample
            .usage
            .iter()
            .filter(|usage| usage.app == "firefox")
            .filter_map(|usage| {
                let destination = usage.destination.as_ref()?;
                Some((
                    destination.domain.clone(),
                    destination.host.clone(),
                    usage.bytes,
                ))
            })
            .collect();
        destinations.sort();
        assert_eq!(
            destinations,
            [
                ("unresolved".to_string(), "203.0.113.7".to_string(), 400),
                ("unresolved".to_string(), "203.0.113.8".to_string(), 400),
            ],
            "grouped as unresolved, each address kept, no name guessed"
        );
    }

    #[test]
    fn reported_hostnames_name_flows_and_sni_wins_over_them() {
        let owners = FakeOwners::default();
        owners.open(key("10.0.0.2:5000", "1.1.1.1:443"), "zen");
        owners.open(key("10.0.0.2:5001", "1.1.1.1:443"), "zen");
        let names = HostnameMap::default();
        let now = Instant::now();
        names.learn("1.1.1.1".parse().unwrap(), "video.example.com", 1000, now);
        let mut tracker = tracker(&owners).with_names(names);
        let plain = tcp("10.0.0.2:5000", "1.1.1.1:443", 1000, false);
        tracker.record(&plain, machine().place(&plain), now);
        let hello = tcp("10.0.0.2:5001", "1.1.1.1:443", 10, false);
        let placement = machine().place(&hello);
        tracker.record(&hello, placement, now);
        tracker.name(placement, &Naming::Server("www.other.org".into()));
        tracker.attribute(now);
        let sample = tracker.close(0, 5000, now);
        let bytes_to = |domain: &str| -> u64 {
            sample
                .usage
                .iter()
                .filter(|u| u.destination.as_ref().is_some_and(|d| d.domain == domain))
                .map(|u| u.bytes)
                .sum()
        };
        assert_eq!(
            bytes_to("example.com"),
            1000,
            "the extension's report names the flow"
        );
        assert_eq!(bytes_to("other.org"), 10, "the flow's own SNI wins");
    }

    /// Feeds `payload` on `packet` through `inspector` and the tracker, as the monitor does.
    pub(super) fn feed_payload(
        tracker: &mut Tracker,
        inspector: &mut crate::domains::Inspector,
        packet: PacketMeta,
        payload: &[u8],
        now: Instant,
    ) {
        let placement = machine().place(&packet);
        tracker.record(&packet, placement, now);
        if let Some(naming) = inspector.inspect(&packet, payload) {
            tracker.name(placement, &naming);
        }
    }

    pub(super) fn bytes_to(sample: &Sample, domain: &str) -> u64 {
        sample
            .usage
            .iter()
            .filter(|u| u.destination.as_ref().is_some_and(|d| d.domain == domain))
            .map(|u| u.bytes)
            .sum()
    }

    #[test]
    fn dns_answers_name_flows_and_a_split_client_hello_beats_them() {
        let owners = FakeOwners::default();
        owners.open(key("10.0.0.2:5000", "192.0.2.7:80"), "firefox");
        owners.open(key("10.0.0.2:5001", "192.0.2.7:443"), "firefox");
        let mut tracker = tracker(&owners);
        let mut inspector = crate::domains::Inspector::default();
        let now = Instant::now();
        let response = crate::domains::dns::tests::Message::response()
            .question("video.example-cdn.net", 1)
            .a("video.example-cdn.net", 60, [192, 0, 2, 7])
            .bytes();
        let answer = PacketMeta {
            transport: Transport::Udp {
                src_port: 53,
                dst_port: 40000,
            },
            ..tcp("10.0.0.1:53", "10.0.0.2:40000", 100, false)
        };
        feed_payload(&mut tracker, &mut inspector, answer, &response, now);
        let plain = tcp("10.0.0.2:5000", "192.0.2.7:80", 700, false);
        feed_payload(
            &mut tracker,
            &mut inspector,
            plain,
            b"GET / HTTP/1.1\r\n",
            now,
        );
        let hello = crate::domains::testdata::openssl_client_hello();
        let (head, tail) = hello.split_at(100);
        let tls = tcp("10.0.0.2:5001", "192.0.2.7:443", 300, false);
        feed_payload(&mut tracker, &mut inspector, tls, head, now);
        feed_payload(&mut tracker, &mut inspector, tls, tail, now);
        tracker.attribute(now);
        let sample = tracker.close(0, 5000, now);
        assert_eq!(bytes_to(&sample, "example-cdn.net"), 700, "named by DNS");
        assert_eq!(
            bytes_to(&sample, "netflix.com"),
            600,
            "named by its own SNI"
        );
    }

    #[test]
    fn a_reported_name_stays_with_its_flow_and_never_overrides_a_flow_s_own() {
        let owners = FakeOwners::default();
        owners.open(key("10.0.0.2:5000", "192.0.2.7:443"), "zen");
        owners.open(key("10.0.0.2:5001", "192.0.2.7:443"), "zen");
        let names = HostnameMap::default();
        let ip = "192.0.2.7".parse().unwrap();
        let now = Instant::now();
        names.learn(ip, "cdn.example.net", 100, now);
        let mut tracker = tracker(&owners).with_names(names.clone());
        let plain = tcp("10.0.0.2:5000", "192.0.2.7:443", 100, false);
        let hello = tcp("10.0.0.2:5001", "192.0.2.7:443", 10, false);
        let feed_both = |tracker: &mut Tracker, now| {
            tracker.record(&plain, machine().place(&plain), now);
            tracker.record(&hello, machine().place(&hello), now);
        };
        feed_both(&mut tracker, now);
        let placement = machine().place(&hello);
        tracker.name(placement, &Naming::Server("www.site.org".into()));
        tracker.attribute(now);
        let first = tracker.close(0, 5000, now);
        assert_eq!(bytes_to(&first, "example.net"), 100);
        assert_eq!(bytes_to(&first, "site.org"), 10);

        let later = now + Duration::from_secs(1);
        names.learn(ip, "video.example.com", 100, later);
        feed_both(&mut tracker, later);
        let second = tracker.close(5000, 10000, later);
        assert_eq!(
            bytes_to(&second, "example.net"),
            100,
            "a flow keeps the name it was given, whatever is reported later"
        );
        assert_eq!(
            bytes_to(&second, "site.org"),
            10,
            "the flow's own name stays"
        );

        let reopened = tcp("10.0.0.2:5001", "192.0.2.7:443", 60, true);
        tracker.record(&reopened, machine().place(&reopened), later);
        let third = tracker.close(10000, 15000, later);
        assert_eq!(
            bytes_to(&third, "example.com"),
            60,
            "a reused port forgets the old connection's name"
        );
    }

    fn report(
        app: &str,
        sent: u64,
        received: u64,
        connections: &[(&str, u64, u64)],
    ) -> ProcessBytes {
        ProcessBytes {
            process: Arc::new(ProcessInfo::new(9, app, None)),
            sent,
            received,
            connections: connections
                .iter()
                .map(|(remote, sent, received)| ConnectionBytes {
                    protocol: 6,
                    local: None,
                    remote: remote.parse().unwrap(),
                    sent: *sent,
                    received: *received,
                })
                .collect(),
        }
    }

    /// A usage's (domain, host), direction and bytes.
    type Seen = (Option<(String, String)>, Direction, u64);

    /// `app`'s usage, sorted; `None` for usage without a destination.
    fn usage_of(sample: &Sample, app: &str) -> Vec<Seen> {
        let mut found: Vec<_> = sample
            .usage
            .iter()
            .filter(|usage| usage.app == app)
            .map(|usage| {
                let destination = usage
                    .destination
                    .as_ref()
                    .map(|d| (d.domain.clone(), d.host.clone()));
                (destination, usage.direction, usage.bytes)
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn reported_connections_go_to_the_domain_a_dns_answer_named() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        let answers = vec![crate::domains::DnsAnswer {
            ip: "192.0.2.7".parse().unwrap(),
            host: "video.example-cdn.net".into(),
            ttl: 300,
        }];
        tracker.name(Placement::Local, &Naming::Dns(answers));
        let connections = [
            ("192.0.2.7:443", 100, 4000),
            ("[::ffff:192.0.2.7]:443", 10, 20),
            ("203.0.113.9:443", 50, 600),
        ];
        tracker.record_report(&report("Google Chrome", 5, 70, &connections));
        tracker.record_report(&report("curl", 1, 2, &[("192.0.2.7:443", 30, 40)]));
        let sample = tracker.close(0, 5000, now);
        let named = Some(("example-cdn.net".into(), "video.example-cdn.net".into()));
        let unresolved = Some(("unresolved".into(), "203.0.113.9".into()));
        assert_eq!(
            usage_of(&sample, "Google Chrome"),
            [
                (None, Direction::Sent, 5),
                (None, Direction::Received, 70),
                (named.clone(), Direction::Sent, 110),
                (named, Direction::Received, 4020),
                (unresolved.clone(), Direction::Sent, 50),
                (unresolved, Direction::Received, 600),
            ],
            "named by the DNS answer, else kept by address; the rest without a destination"
        );
        assert_eq!(
            usage_of(&sample, "curl"),
            [(None, Direction::Sent, 31), (None, Direction::Received, 42)],
            "applications that are not tracked keep their total without destinations"
        );
        assert_eq!(sample.stats.bytes, 5 + 70 + 110 + 4020 + 50 + 600 + 31 + 42);
        assert_eq!(sample.processes.len(), 2);
    }

    #[test]
    fn reported_connections_follow_the_extension_s_newest_name() {
        let owners = FakeOwners::default();
        let names = HostnameMap::default();
        let now = Instant::now();
        let mut tracker = tracker(&owners).with_names(names.clone());
        let report = report("zen", 0, 0, &[("198.51.100.4:443", 10, 900)]);
        tracker.record_report(&report);
        let first = tracker.close(0, 5000, now);
        assert_eq!(bytes_to(&first, "unresolved"), 910, "nothing named it yet");
        names.learn("198.51.100.4".parse().unwrap(), "www.bbc.co.uk", 910, now);
        tracker.record_report(&report);
        let second = tracker.close(5000, 10000, now);
        assert_eq!(bytes_to(&second, "bbc.co.uk"), 910);
        assert_eq!(bytes_to(&second, "unresolved"), 0);
    }

    #[test]
    fn idle_flows_are_forgotten() {
        let owners = FakeOwners::default();
        let mut tracker = tracker(&owners);
        let now = Instant::now();
        feed(
            &mut tracker,
            tcp("10.0.0.2:5000", "1.1.1.1:443", 10, false),
            now,
        );
        tracker.close(0, 5000, now);
        assert_eq!(tracker.flow_count(), 1);
        tracker.close(5000, 10000, now + Duration::from_secs(121));
        assert_eq!(tracker.flow_count(), 0);
    }
}
