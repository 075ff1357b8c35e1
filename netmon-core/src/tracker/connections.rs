//! Live connections: the flow table's open flows as a snapshot the API serves — each flow's
//! process, remote address, hostname and how it was named, protocol, current rates and bytes
//! so far — refreshed about once a second while packets come (with none, only when the list
//! would change: [`Schedule`]) and bounded to the busiest [`MAX_CONNECTIONS`] by rate, so
//! thousands of flows stay cheap. With no packets there is no snapshot to fall back to 0
//! rates: the reader does that ([`Connections::busiest`] after [`QUIET_AFTER`]), so an idle
//! monitor does not wake for it.
//!
//! Only TCP and UDP flows are connections (other IP traffic — ICMP, neighbour discovery — has
//! no process). A TCP flow is open while it is in the flow table (packets within `flow_idle`,
//! 120 s) until a reset or a FIN in each direction was seen; UDP has no close, so a UDP flow
//! counts as open while it had a packet in the last [`DATAGRAM_OPEN`]. Rates are the
//! bytes since the previous snapshot over the time between the two. Hostnames are given for the
//! applications `domain_tracking` covers, as the tracker names them (docs/domains.md); a flow
//! whose DNS answer is not decided yet shows the answer current at its first packet.

use std::cmp::Ordering;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{FlowState, FlowTable, Owner};
use crate::domains::{DomainPolicy, NameMap};
use crate::flow::{protocol_name, FlowKey};
use crate::packet::TcpFlags;
use crate::sample::{Direction, Provenance, UNKNOWN_APP};

/// Most connections a snapshot keeps (the busiest by rate).
pub const MAX_CONNECTIONS: usize = 500;
/// How often the snapshot is taken again.
pub const REFRESH: Duration = Duration::from_secs(1);
/// A flow without a close (UDP) counts as open this long after its last packet.
pub const DATAGRAM_OPEN: Duration = Duration::from_secs(30);
/// A snapshot this old has seen no packet since: the tracker takes one a refresh after any
/// packet (a few hundred milliseconds later when the capture held its batch), so its rates
/// are 0 by now.
pub const QUIET_AFTER: Duration = Duration::from_secs(2);

/// One open flow as the live view shows it (fields without a value are left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(skip_serializing_if_is_none)
)]
pub struct Connection {
    /// `tcp` or `udp`.
    pub protocol: String,
    pub local_address: String,
    pub local_port: u16,
    pub remote_address: String,
    pub remote_port: u16,
    /// The owning process, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The application its bytes are counted under (`unknown` when no process was found).
    pub app: String,
    /// The process's own name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// The server's hostname, when named (only for applications `domain_tracking` covers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// How the hostname was learned (`unresolved` when nothing named it); absent for
    /// applications whose traffic is not broken down by domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    pub received_bytes_per_second: f64,
    pub sent_bytes_per_second: f64,
    /// Bytes since the flow's first packet (or since capture began).
    pub received_bytes: u64,
    pub sent_bytes: u64,
    /// Seconds since the flow's first packet.
    pub age_seconds: u64,
}

impl Connection {
    /// Received plus sent, per second.
    pub fn rate(&self) -> f64 {
        self.received_bytes_per_second + self.sent_bytes_per_second
    }

    /// The same line with nothing moving now.
    fn quiet(&self) -> Connection {
        Connection {
            received_bytes_per_second: 0.0,
            sent_bytes_per_second: 0.0,
            ..self.clone()
        }
    }
}

/// The open flows at one moment, busiest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Connections {
    /// When the snapshot was taken, milliseconds since the Unix epoch (0 before the first).
    pub taken_ms: i64,
    /// Open flows in all, of which `connections` holds the busiest.
    pub open: u64,
    pub connections: Vec<Connection>,
}

impl Connections {
    /// The `limit` busiest of the snapshot as it stands at `now_ms`: once it is
    /// [`QUIET_AFTER`] old, no packet came since, and every rate is 0.
    pub fn busiest(&self, limit: usize, now_ms: i64) -> Connections {
        let quiet = now_ms.saturating_sub(self.taken_ms) >= QUIET_AFTER.as_millis() as i64;
        let connections = self
            .connections
            .iter()
            .map(|connection| {
                if quiet {
                    connection.quiet()
                } else {
                    connection.clone()
                }
            })
            .collect();
        Connections {
            taken_ms: self.taken_ms,
            open: self.open,
            connections: top_by(connections, limit, busier),
        }
    }
}

/// Busiest first: by rate, then by bytes so far, then by remote address and port (so equal
/// rates keep a stable order).
pub fn busier(a: &Connection, b: &Connection) -> Ordering {
    b.rate()
        .total_cmp(&a.rate())
        .then_with(|| (b.received_bytes + b.sent_bytes).cmp(&(a.received_bytes + a.sent_bytes)))
        .then_with(|| a.remote_address.cmp(&b.remote_address))
        .then_with(|| a.remote_port.cmp(&b.remote_port))
        .then_with(|| a.local_port.cmp(&b.local_port))
}

/// The first `n` of `items` in `order`, sorted: a partial selection (linear) and a sort of the
/// `n` kept, so a large table costs little more than a pass.
pub fn top_by<T>(mut items: Vec<T>, n: usize, order: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    if n < items.len() {
        items.select_nth_unstable_by(n, &order);
        items.truncate(n);
    }
    items.sort_by(order);
    items
}

/// The shared latest snapshot: the tracker publishes it, the API reads it (cheap to clone;
/// clones share it).
#[derive(Debug, Clone, Default)]
pub struct LiveConnections {
    latest: Arc<RwLock<Arc<Connections>>>,
}

impl LiveConnections {
    /// The latest snapshot.
    pub fn latest(&self) -> Arc<Connections> {
        Arc::clone(&self.latest.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the snapshot (the tracker does, every [`REFRESH`]).
    pub fn publish(&self, snapshot: Connections) {
        *self.latest.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
    }
}

/// The open flows of `flows` at `now`, the busiest [`MAX_CONNECTIONS`] by rate over the
/// `elapsed` since the previous snapshot (every flow's rate restarts from here), named from
/// `names` as the tracker names them; and when a snapshot taken without new packets would
/// first differ from this one (see [`changes_at`]).
pub(super) fn snapshot(
    flows: &mut FlowTable,
    domains: &DomainPolicy,
    names: &NameMap,
    elapsed: Duration,
    now: Instant,
    now_ms: i64,
) -> (Connections, Option<Instant>) {
    let mut changes = None;
    let open: Vec<(FlowKey, (f64, f64))> = flows
        .iter_mut()
        .map(|(key, flow)| (key, flow.tally.rates(elapsed), flow))
        .filter(|(key, _, flow)| {
            let silent_for = now.saturating_duration_since(flow.last_seen);
            matches!(key.protocol, 6 | 17) && flow.tally.open(key.protocol == 6, silent_for)
        })
        .inspect(|(key, _, flow)| {
            changes = changes.into_iter().chain(changes_at(key, flow)).min();
        })
        .map(|(key, rates, _)| (*key, rates))
        .collect();
    let count = open.len() as u64;
    let total = |(_, (sent, received)): &(FlowKey, (f64, f64))| sent + received;
    let busiest = top_by(open, MAX_CONNECTIONS, |a, b| total(b).total_cmp(&total(a)));
    let mut connections: Vec<Connection> = busiest
        .into_iter()
        .filter_map(|(key, rates)| {
            let flow = flows.get(&key)?;
            Some(connection(&key, flow, rates, domains, names, now))
        })
        .collect();
    connections.sort_by(busier);
    let connections = Connections {
        taken_ms: now_ms,
        open: count,
        connections,
    };
    (connections, changes)
}

/// When an open flow's line would change with no new packet, other than its rates falling to
/// 0 (readers see to that, [`Connections::busiest`]): a UDP flow's when it stops counting as
/// open ([`DATAGRAM_OPEN`] after its last packet). `None` for a TCP flow: it leaves the list
/// with a packet (a FIN, a reset) or when the tracker drops it, at a window's close.
fn changes_at(key: &FlowKey, flow: &FlowState) -> Option<Instant> {
    (key.protocol == 17).then(|| flow.last_seen + DATAGRAM_OPEN)
}

/// One open flow as shown: its owner, its name (for tracked applications) and its counts.
fn connection(
    key: &FlowKey,
    flow: &FlowState,
    (sent_rate, received_rate): (f64, f64),
    domains: &DomainPolicy,
    names: &NameMap,
    now: Instant,
) -> Connection {
    let process = match &flow.owner {
        Owner::Known(process) | Owner::Inferred(process) => Some(process),
        Owner::Pending | Owner::Unknown { .. } | Owner::Unowned => None,
    };
    let app = process.map_or(UNKNOWN_APP, |process| &process.app);
    let (host, provenance) = if domains.tracks(app) {
        let (host, provenance) = flow.name.live(key.remote.ip(), flow.first_seen, names);
        (host.map(|host| host.to_string()), Some(provenance))
    } else {
        (None, None)
    };
    let (sent_bytes, received_bytes) = flow.tally.so_far();
    Connection {
        protocol: protocol_name(key.protocol),
        local_address: key.local.ip().to_canonical().to_string(),
        local_port: key.local.port(),
        remote_address: key.remote.ip().to_canonical().to_string(),
        remote_port: key.remote.port(),
        pid: process.map(|process| process.pid),
        app: app.to_string(),
        process: process.map(|process| process.name.clone()),
        host,
        provenance,
        received_bytes_per_second: received_rate,
        sent_bytes_per_second: sent_rate,
        received_bytes,
        sent_bytes,
        age_seconds: now.saturating_duration_since(flow.first_seen).as_secs(),
    }
}

/// One flow's bytes since its first packet, at the previous snapshot, and how its TCP
/// connection ended.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tally {
    sent: u64,
    received: u64,
    published_sent: u64,
    published_received: u64,
    fin_sent: bool,
    fin_received: bool,
    reset: bool,
}

impl Tally {
    /// Counts one packet in `direction` with its TCP flags (`None` for other protocols).
    pub(super) fn count(&mut self, direction: Direction, bytes: u64, flags: Option<TcpFlags>) {
        let flags = flags.unwrap_or_default();
        match direction {
            Direction::Sent => {
                self.sent += bytes;
                self.fin_sent |= flags.fin;
            }
            Direction::Received => {
                self.received += bytes;
                self.fin_received |= flags.fin;
            }
        }
        self.reset |= flags.rst;
    }

    /// Whether the flow counts as open: not closed (TCP) and, without a close to wait for,
    /// a packet within [`DATAGRAM_OPEN`].
    pub(super) fn open(&self, tcp: bool, silent_for: Duration) -> bool {
        if tcp {
            !(self.reset || (self.fin_sent && self.fin_received))
        } else {
            silent_for < DATAGRAM_OPEN
        }
    }

    /// Bytes per second (sent, received) since the previous snapshot, `elapsed` ago; then this
    /// snapshot becomes the previous one.
    pub(super) fn rates(&mut self, elapsed: Duration) -> (f64, f64) {
        let seconds = elapsed.as_secs_f64().max(0.001);
        let rates = (
            (self.sent - self.published_sent) as f64 / seconds,
            (self.received - self.published_received) as f64 / seconds,
        );
        self.published_sent = self.sent;
        self.published_received = self.received;
        rates
    }

    /// Bytes (sent, received) since the flow's first packet.
    pub(super) fn so_far(&self) -> (u64, u64) {
        (self.sent, self.received)
    }
}

/// When the next snapshot is due.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    previous: Option<Instant>,
    /// When the latest snapshot would change without new packets ([`snapshot`]): a monitor
    /// with nothing else to do sleeps until then, not a refresh at a time.
    changes_at: Option<Instant>,
}

impl Schedule {
    /// How long until a snapshot is worth waking for: a refresh after the latest one when
    /// packets came since (the latest at `latest_packet`), or when it would change without any
    /// (at the earliest a refresh after it); `None` when nothing listed can change without a
    /// packet.
    pub(super) fn wake_in(&self, now: Instant, latest_packet: Option<Instant>) -> Option<Duration> {
        let previous = self.previous?;
        let refresh = previous + REFRESH;
        let news = latest_packet.filter(|at| *at > previous).map(|_| refresh);
        let due = news.into_iter().chain(self.changes_at).min()?.max(refresh);
        Some(due.saturating_duration_since(now))
    }

    /// Records when the snapshot just taken would change without new packets.
    pub(super) fn showed(&mut self, changes_at: Option<Instant>) {
        self.changes_at = changes_at;
    }

    /// How long since the previous snapshot, when a new one is due at `now` (then it is taken).
    pub(super) fn due(&mut self, now: Instant) -> Option<Duration> {
        let elapsed = self
            .previous
            .map_or(REFRESH, |previous| now.saturating_duration_since(previous));
        (elapsed >= REFRESH).then(|| {
            self.previous = Some(now);
            elapsed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn connection(port: u16, rate: f64, bytes: u64) -> Connection {
        Connection {
            protocol: "tcp".into(),
            local_address: "10.0.0.2".into(),
            local_port: port,
            remote_address: "192.0.2.7".into(),
            remote_port: 443,
            pid: Some(7),
            app: "firefox".into(),
            process: Some("firefox".into()),
            host: None,
            provenance: Some(Provenance::Unresolved),
            received_bytes_per_second: rate,
            sent_bytes_per_second: 0.0,
            received_bytes: bytes,
            sent_bytes: 0,
            age_seconds: 1,
        }
    }

    #[test]
    fn the_busiest_come_first_and_ties_go_by_bytes_then_address() {
        let all = vec![
            connection(1, 10.0, 5),
            connection(2, 300.0, 1),
            connection(3, 10.0, 50),
            connection(4, 0.0, 0),
        ];
        let ports = |list: &[Connection]| list.iter().map(|c| c.local_port).collect::<Vec<_>>();
        assert_eq!(ports(&top_by(all.clone(), 3, busier)), [2, 3, 1]);
        assert_eq!(ports(&top_by(all.clone(), 10, busier)), [2, 3, 1, 4]);
        assert!(top_by(all, 0, busier).is_empty());
    }

    #[test]
    fn a_tcp_flow_closes_on_both_fins_or_a_reset_and_a_datagram_flow_by_silence() {
        let fin = Some(TcpFlags {
            fin: true,
            ack: true,
            ..TcpFlags::default()
        });
        let mut tally = Tally::default();
        tally.count(Direction::Sent, 60, fin);
        assert!(
            tally.open(true, Duration::ZERO),
            "half closed is still open"
        );
        tally.count(Direction::Received, 60, fin);
        assert!(!tally.open(true, Duration::ZERO));
        let mut reset = Tally::default();
        reset.count(
            Direction::Received,
            40,
            Some(TcpFlags {
                rst: true,
                ..TcpFlags::default()
            }),
        );
        assert!(!reset.open(true, Duration::ZERO));
        let udp = Tally::default();
        assert!(udp.open(false, Duration::from_secs(29)));
        assert!(!udp.open(false, DATAGRAM_OPEN));
    }

    #[test]
    fn rates_are_the_bytes_since_the_previous_snapshot() {
        let mut tally = Tally::default();
        tally.count(Direction::Received, 3000, None);
        tally.count(Direction::Sent, 100, None);
        assert_eq!(tally.rates(Duration::from_secs(2)), (50.0, 1500.0));
        tally.count(Direction::Received, 500, None);
        assert_eq!(tally.rates(Duration::from_secs(1)), (0.0, 500.0));
        assert_eq!(tally.so_far(), (100, 3500));
    }

    #[test]
    fn a_snapshot_is_due_once_a_second() {
        let mut schedule = Schedule::default();
        let start = Instant::now();
        assert_eq!(schedule.due(start), Some(REFRESH));
        assert_eq!(schedule.due(start + Duration::from_millis(500)), None);
        assert_eq!(
            schedule.due(start + Duration::from_millis(1200)),
            Some(Duration::from_millis(1200))
        );
    }

    proptest! {
        /// The selection is exactly the first `n` of a full sort.
        #[test]
        fn top_n_is_the_head_of_the_full_order(
            rates in proptest::collection::vec((0u8..20, 0u64..5), 0..200),
            n in 0usize..250,
        ) {
            let all: Vec<Connection> = rates
                .iter()
                .enumerate()
                .map(|(port, (rate, bytes))| connection(port as u16, f64::from(*rate), *bytes))
                .collect();
            let mut sorted = all.clone();
            sorted.sort_by(busier);
            sorted.truncate(n);
            let top = top_by(all.clone(), n, busier);
            prop_assert_eq!(top.len(), n.min(all.len()));
            prop_assert_eq!(top, sorted);
        }
    }

    #[test]
    fn a_snapshot_with_no_packet_since_is_read_with_its_rates_at_0() {
        let snapshot = Connections {
            taken_ms: 1_000_000,
            open: 2,
            connections: vec![connection(1, 500.0, 10), connection(2, 0.0, 900)],
        };
        let quiet_after = QUIET_AFTER.as_millis() as i64;
        let lines = |now_ms| {
            let read = snapshot.busiest(10, now_ms);
            assert_eq!(read.open, 2);
            read.connections
                .iter()
                .map(|c| (c.local_port, c.rate()))
                .collect::<Vec<_>>()
        };
        // Fresh: as taken, busiest by rate.
        assert_eq!(lines(1_000_000 + quiet_after - 1), [(1, 500.0), (2, 0.0)]);
        // No packet since: nothing moves, and the busiest are those with the most bytes.
        assert_eq!(lines(1_000_000 + quiet_after), [(2, 0.0), (1, 0.0)]);
        // A reader's clock behind the tracker's reads it as taken.
        assert_eq!(lines(0), [(1, 500.0), (2, 0.0)]);
    }

    #[test]
    fn the_monitor_wakes_for_a_snapshot_only_when_it_would_change() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let soon = start + ms(300);
        let mut schedule = Schedule::default();
        assert_eq!(schedule.wake_in(start, None), None, "no snapshot yet");
        assert!(schedule.due(start).is_some());
        // A change a refresh later.
        schedule.showed(Some(start + REFRESH));
        assert_eq!(schedule.wake_in(soon, None), Some(REFRESH - ms(300)));
        // Nothing changes before a UDP flow stops counting as open.
        schedule.showed(Some(start + DATAGRAM_OPEN));
        assert_eq!(schedule.wake_in(soon, None), Some(DATAGRAM_OPEN - ms(300)));
        // A packet after the snapshot is news; one before it is not.
        let packet = |at| schedule.wake_in(soon, Some(at));
        assert_eq!(packet(start + ms(200)), Some(REFRESH - ms(300)));
        assert_eq!(packet(start - ms(1)), Some(DATAGRAM_OPEN - ms(300)));
        // Never sooner than a refresh after the snapshot.
        schedule.showed(Some(start + ms(10)));
        assert_eq!(schedule.wake_in(soon, None), Some(REFRESH - ms(300)));
        schedule.showed(None);
        assert_eq!(schedule.wake_in(soon, None), None, "nothing would change");
    }
}
