//! Gathers the packets of one flow within a batch into one observation, so the monitor places
//! and counts a run of packets once instead of once a packet.
//!
//! A 1 Gbit/s download is ~85,000 MTU-sized packets a second, nearly all of them plain
//! segments of a few flows (data one way, ACKs the other). The capture reads them in batches of
//! a few milliseconds; within a batch, a packet that neither opens a connection nor carries
//! anything for the domain readers joins the earlier run of its flow (same endpoints, same
//! direction, same TCP flags): the run's [`Run::packets`] grows and its length adds up. What
//! the tracker does with a run is what it would do with its packets one by one; only the
//! instant differs, the run's first packet's, a few milliseconds at most.
//!
//! A run stays where its first packet was in the batch, so the order of what matters is kept:
//! a connection's first packet, a server name, a DNS answer (placed by capture time among the
//! batch's first packets of each run) all come in capture order, and a later packet of a run
//! is never ordered before an earlier observation that changed how its flow is counted (a SYN,
//! which never joins a run, starts a new one after it).

use std::net::IpAddr;
use std::sync::Arc;

use super::Observation;
use crate::packet::{PacketMeta, Transport};
use crate::process::ProcessInfo;

/// Runs remembered at once: enough for the two directions of a few concurrent flows; a packet
/// of a flow whose run was forgotten starts a new run (counted the same).
const RECENT: usize = 8;

/// Packets of one flow in one direction with the same TCP flags, gathered from one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The first packet, with `ip_len` the total length of the run's packets.
    pub meta: PacketMeta,
    /// How many packets the run holds (at least 2).
    pub packets: u32,
    /// The process the capture tagged them with (PKTAP), if any.
    pub process: Option<Arc<ProcessInfo>>,
}

/// Where a batch's recent runs are, by their first packet's position in the batch, with their
/// keys (so a packet is compared with each run's key, not with a key made again from the
/// run's entry).
#[derive(Debug, Default)]
pub struct Coalescer {
    recent: [Option<(usize, RunKey)>; RECENT],
    next: usize,
}

impl Coalescer {
    /// Appends `observation` to `batch`, or adds it to the run of its flow there. Returns
    /// whether it took a place of its own in the batch (so a caller keeping one entry per
    /// place, like capture times, adds one).
    pub fn push(&mut self, batch: &mut Vec<Observation>, observation: Observation) -> bool {
        if let Some(key) = run_key(&observation) {
            // The remembered place is checked: the batch may be a new one, or have had entries
            // inserted since (DNS answers placed by capture time).
            let found = self
                .recent
                .iter()
                .flatten()
                .filter(|(_, run)| *run == key)
                .map(|(at, _)| *at)
                .find(|&at| batch.get(at).and_then(run_key) == Some(key));
            if let Some(at) = found {
                join(&mut batch[at], &observation);
                return false;
            }
            self.recent[self.next] = Some((batch.len(), key));
            self.next = (self.next + 1) % RECENT;
        }
        batch.push(observation);
        true
    }
}

/// The runs of the batch last handed over to the monitor: a batch whose entries all continue
/// them brings the monitor nothing new (no flow, server name, DNS answer or connection
/// opening), only more packets of flows it already knows, so the capture may hold it a while
/// and gather more (see `super::pcap`).
#[derive(Debug, Default)]
pub struct Continuing {
    runs: Vec<RunKey>,
}

impl Continuing {
    /// Most runs remembered: a batch of more flows than this is handed over as it comes.
    const MOST: usize = 16;

    /// Remembers the runs of `batch`, which is being handed over.
    pub fn remember(&mut self, batch: &[Observation]) {
        self.runs.clear();
        self.runs
            .extend(batch.iter().filter_map(run_key).take(Self::MOST));
    }

    /// Whether `batch` holds something and every entry continues a remembered run.
    pub fn continues(&self, batch: &[Observation]) -> bool {
        !batch.is_empty()
            && batch
                .iter()
                .all(|entry| run_key(entry).is_some_and(|key| self.runs.contains(&key)))
    }
}

/// The packet an observation is about and its tagged process, when it may join a run: plain
/// packets that do not open a connection and name nothing.
fn runnable(observation: &Observation) -> Option<(&PacketMeta, Option<&Arc<ProcessInfo>>)> {
    match observation {
        Observation::Packet(meta) => Some((meta, None)),
        Observation::OwnedPacket(meta, process, None) => Some((meta, Some(process))),
        Observation::Run(run) => Some((&run.meta, run.process.as_ref())),
        _ => None,
    }
    .filter(|(meta, _)| !meta.opens_connection())
}

/// What the packets of one run share: endpoints, direction and TCP flags (the packet without
/// its length), and the very process they were tagged with (its address).
type RunKey = (IpAddr, IpAddr, Transport, Option<usize>);

fn run_key(observation: &Observation) -> Option<RunKey> {
    runnable(observation).map(|(meta, process)| {
        let process = process.map(|process| Arc::as_ptr(process).addr());
        (meta.src, meta.dst, meta.transport, process)
    })
}

/// Adds the single packet `packet` to `entry`, which becomes a run if it was a single packet.
fn join(entry: &mut Observation, packet: &Observation) {
    let Some((meta, _)) = runnable(packet) else {
        return;
    };
    if !matches!(entry, Observation::Run(_)) {
        let single = runnable(entry).map(|(first, process)| Run {
            meta: *first,
            packets: 1,
            process: process.cloned(),
        });
        if let Some(run) = single {
            *entry = Observation::Run(run);
        }
    }
    if let Observation::Run(run) = entry {
        run.meta.ip_len = run.meta.ip_len.saturating_add(meta.ip_len);
        run.packets = run.packets.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{TcpFlags, Transport};
    use proptest::prelude::*;

    fn segment(port: u16, ack: bool, syn: bool, len: u32) -> PacketMeta {
        PacketMeta {
            src: "10.0.0.2".parse().unwrap(),
            dst: "192.0.2.1".parse().unwrap(),
            transport: Transport::Tcp {
                src_port: port,
                dst_port: 443,
                flags: TcpFlags {
                    syn,
                    ack,
                    ..TcpFlags::default()
                },
            },
            ip_len: len,
        }
    }

    /// (port, packets, bytes) of each packet or run in `batch`.
    fn shape(batch: &[Observation]) -> Vec<(u16, u32, u32)> {
        batch
            .iter()
            .map(|entry| match entry {
                Observation::Packet(meta) => (meta.ports().0, 1, meta.ip_len),
                Observation::Run(run) => (run.meta.ports().0, run.packets, run.meta.ip_len),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_flows_packets_join_its_first_packets_place() {
        let mut coalescer = Coalescer::default();
        let mut batch = Vec::new();
        let places: Vec<bool> = [
            segment(1, true, false, 100),
            segment(2, true, false, 10),
            segment(1, true, false, 200),
            segment(1, false, true, 60), // a SYN: never joins, starts its own place
            segment(1, true, false, 300),
        ]
        .into_iter()
        .map(|meta| coalescer.push(&mut batch, Observation::Packet(meta)))
        .collect();
        assert_eq!(places, [true, true, false, true, false]);
        assert_eq!(shape(&batch), [(1, 3, 600), (2, 1, 10), (1, 1, 60)]);
    }

    #[test]
    fn packets_of_other_processes_or_with_names_stay_apart() {
        let one = Arc::new(ProcessInfo::new(1, "one", None));
        let two = Arc::new(ProcessInfo::new(2, "two", None));
        let meta = segment(1, true, false, 100);
        let mut coalescer = Coalescer::default();
        let mut batch = Vec::new();
        coalescer.push(
            &mut batch,
            Observation::OwnedPacket(meta, one.clone(), None),
        );
        coalescer.push(&mut batch, Observation::OwnedPacket(meta, two, None));
        coalescer.push(&mut batch, Observation::Packet(meta));
        coalescer.push(
            &mut batch,
            Observation::OwnedPacket(meta, one.clone(), None),
        );
        assert_eq!(batch.len(), 3, "{batch:?}");
        assert!(
            matches!(&batch[0], Observation::Run(run) if run.packets == 2 && run.meta.ip_len == 200)
        );
    }

    #[test]
    fn only_more_packets_of_the_runs_handed_over_continue_them() {
        let mut continuing = Continuing::default();
        let packets = |metas: &[PacketMeta]| {
            let mut coalescer = Coalescer::default();
            let mut batch = Vec::new();
            metas.iter().for_each(|meta| {
                coalescer.push(&mut batch, Observation::Packet(*meta));
            });
            batch
        };
        let (data, other) = (segment(1, true, false, 1400), segment(2, true, false, 60));
        continuing.remember(&packets(&[data, data, other]));
        assert!(continuing.continues(&packets(&[other, data, data])));
        // Nothing, a new flow, a connection opening, a name or an answer: news.
        assert!(!continuing.continues(&[]));
        assert!(!continuing.continues(&packets(&[data, segment(3, true, false, 60)])));
        assert!(!continuing.continues(&packets(&[data, segment(1, false, true, 60)])));
        let named = Observation::Named(data, crate::domains::Naming::Server("a.example".into()));
        assert!(!continuing.continues(&[Observation::Packet(data), named]));
        assert!(!continuing.continues(&[Observation::Answers(Vec::new())]));
        // What is remembered is the last batch handed over.
        continuing.remember(&packets(&[other]));
        assert!(!continuing.continues(&packets(&[data])));
    }

    proptest! {
        /// Whatever the packets, the batch holds every byte and packet once, per flow.
        #[test]
        fn runs_keep_every_byte(packets in proptest::collection::vec((0u16..12, any::<bool>(), 40u32..1500), 0..200)) {
            let mut coalescer = Coalescer::default();
            let mut batch = Vec::new();
            let mut expected = std::collections::BTreeMap::new();
            for (port, syn, len) in packets {
                let total = expected.entry((port, syn)).or_insert((0u32, 0u32));
                *total = (total.0 + 1, total.1 + len);
                coalescer.push(&mut batch, Observation::Packet(segment(port, !syn, syn, len)));
            }
            let mut found = std::collections::BTreeMap::new();
            for entry in &batch {
                let (meta, packets) = match entry {
                    Observation::Packet(meta) => (*meta, 1),
                    Observation::Run(run) => (run.meta, run.packets),
                    other => panic!("unexpected {other:?}"),
                };
                let total = found.entry((meta.ports().0, meta.opens_connection())).or_insert((0u32, 0u32));
                *total = (total.0 + packets, total.1 + meta.ip_len);
            }
            prop_assert_eq!(found, expected);
        }
    }
}
