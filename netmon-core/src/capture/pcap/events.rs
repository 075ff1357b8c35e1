//! The events capture: a second capture of the same device beside the packet capture, filtered
//! in the kernel to the few packets that must not wait ([`super::EVENTS_FILTER`]): DNS over UDP,
//! TCP connection openings and QUIC connections' first packets. It delivers each as it arrives, so a gathering wait ends at
//! once (see `super::Gathering`), and it reads DNS responses whole up to
//! [`super::DNS_SNAPLEN`] whatever the packet capture's snap length. Its packets are counted by
//! the packet capture, not here.
//!
//! A DNS answer is placed among the packet capture's packets by capture time: the monitor
//! applies a batch in order, so an answer counts from where it was on the wire — before the
//! connection it named began, or after a connection to the same address that ended before it.
//! The packet capture delivers in blocks (Linux), so packets captured just before an answer
//! may come in a later read: an answer captured after every packet read so far is held until
//! a later packet is read, or for [`super::ANSWER_HOLD_MICROS`] at most.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};

use etherparse::IpNumber;
use pcap::{Active, Capture};

use super::{activate, dispatch_ready};
use super::{ANSWER_HOLD_MICROS, DNS_SNAPLEN, EVENTS_BUFFER_BYTES, EVENTS_FILTER};
use super::{MAX_BATCH, SNAPLEN};
use crate::capture::Observation;
use crate::clock::unix_micros;
use crate::domains::dns;
use crate::domains::inspect::{is_long_header, DNS_PORT, QUIC_PORT};
use crate::packet::{self, LinkType, PacketMeta};

/// The events capture, the link type of its frames, and what places its answers among the
/// packet capture's packets (kept between polls).
pub(super) struct EventsCapture {
    capture: Capture<Active>,
    link: LinkType,
    /// Answers not placed yet, in capture order, with when they were captured (µs since the
    /// epoch).
    held: VecDeque<(i64, Observation)>,
    /// When each entry the packet capture added to the batch in this read was captured (µs).
    pub(super) stamps: Vec<i64>,
    /// When the latest packet the packet capture read was captured (µs).
    latest: i64,
}

impl EventsCapture {
    /// The events capture of `device` (frames of type `link`); `None`, with a warning, when it
    /// cannot be opened (the packet capture still reads DNS responses, up to its snap length,
    /// and gathering waits run their course).
    pub(super) fn open(device: &str, link: LinkType) -> Option<Self> {
        let opened =
            activate(device, DNS_SNAPLEN, EVENTS_BUFFER_BYTES, true).and_then(|mut capture| {
                capture.filter(EVENTS_FILTER, true)?;
                Ok(capture)
            });
        match opened {
            Ok(capture) => Some(Self {
                capture,
                link,
                held: VecDeque::new(),
                stamps: Vec::new(),
                latest: i64::MIN,
            }),
            Err(error) => {
                tracing::warn!(%error, device, "no second capture for DNS responses and connection openings: responses over {SNAPLEN} bytes are read up to the last answer that fits");
                None
            }
        }
    }

    pub(super) fn fd(&self) -> RawFd {
        self.capture.as_raw_fd()
    }

    /// Whether answers wait to be placed: the caller wakes again soon to place them.
    pub(super) fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Reads the events that are ready, then places in `batch` the answers and openings that
    /// are due among the entries added from `start` on (captured at [`Self::stamps`]), each
    /// before the first entry captured after it.
    pub(super) fn place_events(
        &mut self,
        batch: &mut Vec<Observation>,
        start: usize,
    ) -> Result<(), pcap::Error> {
        let link = self.link;
        let held = &mut self.held;
        dispatch_ready(&mut self.capture, MAX_BATCH, |data, wire_len, at| {
            held.extend(event_in(link, data, wire_len).map(|event| (at, event)));
            true
        })?;
        self.latest = self.stamps.iter().copied().fold(self.latest, i64::max);
        let now = unix_micros();
        // Answers wait (see the module's text); an opening goes at once, with every answer
        // captured before it.
        let waited = self
            .held
            .iter()
            .take_while(|(at, _)| *at <= self.latest || now - at >= ANSWER_HOLD_MICROS)
            .count();
        let opening = self
            .held
            .iter()
            .rposition(|(_, event)| matches!(event, Observation::Opening(_)))
            .map_or(0, |last| last + 1);
        let due = waited.max(opening);
        place_in_capture_order(batch, start, &self.stamps, self.held.drain(..due));
        Ok(())
    }
}

/// What an event frame tells: the answers of a DNS response over UDP, or a flow's opening.
fn event_in(link: LinkType, frame: &[u8], wire_len: u32) -> Option<Observation> {
    let (meta, payload) = packet::parse_with_payload(link, frame, wire_len).ok()?;
    if meta.protocol() == IpNumber::UDP.0 && meta.ports().0 == DNS_PORT {
        return dns::parse_response(payload)
            .ok()
            .filter(|answers| !answers.is_empty())
            .map(Observation::Answers);
    }
    opens_flow(&meta, payload).then_some(Observation::Opening(meta))
}

/// Whether `meta` (with `payload`) begins a flow whose owner must be looked up while its socket
/// exists: a TCP connection's SYN, a DNS query over UDP (a resolver's socket lives for one
/// answer), or a QUIC long-header packet to port 443 (a connection's Initial).
fn opens_flow(meta: &PacketMeta, payload: &[u8]) -> bool {
    meta.opens_connection()
        || (meta.protocol() == IpNumber::UDP.0
            && match meta.ports().1 {
                DNS_PORT => true,
                QUIC_PORT => is_long_header(payload),
                _ => false,
            })
}

/// Inserts `answers` (in capture order, with their capture times) into `batch`, whose entries
/// from `start` on were captured at `stamps`: each answer before the first entry captured
/// after it.
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

    /// The events capture on a namespace's loopback.
    #[cfg(target_os = "linux")]
    mod live {
        use super::*;
        use crate::os::linux::netns::{datagram, ip, isolated};
        use std::io::Write;
        use std::net::{TcpListener, TcpStream};
        use std::time::Duration;

        /// Connects to a listener on `host` and sends data on the connection; returns (client
        /// port, listener port).
        fn connection(host: &str) -> (u16, u16) {
            let listener = TcpListener::bind((host, 0)).unwrap();
            let server = listener.local_addr().unwrap();
            let mut client = TcpStream::connect(server).unwrap();
            client.write_all(&[0x17; 500]).unwrap();
            (client.local_addr().unwrap().port(), server.port())
        }

        #[test]
        fn openings_over_ipv4_and_ipv6_come_at_once_and_other_packets_do_not() {
            isolated(|| {
                ip(&["link", "set", "lo", "up"]);
                let mut events = EventsCapture::open("lo", LinkType::Ethernet).expect("opened");
                let quic_initial = [0xc3, 0, 0, 0, 1, 8];
                let quic_short = [0x43, 1, 2, 3, 4, 5];
                let mut expected: Vec<(u16, u16)> = ["127.0.0.1", "::1"]
                    .into_iter()
                    .flat_map(|host| {
                        [
                            connection(host),
                            (datagram(host, 53, b"query"), 53),
                            (datagram(host, 443, &quic_initial), 443),
                        ]
                    })
                    .collect();
                // Not openings: a QUIC short-header packet, a long header to another port.
                for host in ["127.0.0.1", "::1"] {
                    datagram(host, 443, &quic_short);
                    datagram(host, 8443, &quic_initial);
                }
                std::thread::sleep(Duration::from_millis(50));
                let mut batch = Vec::new();
                events.place_events(&mut batch, 0).unwrap();
                let mut opened: Vec<(u16, u16)> = batch
                    .iter()
                    .filter_map(|event| match event {
                        Observation::Opening(meta) => Some(meta.ports()),
                        _ => None,
                    })
                    .collect();
                expected.sort_unstable();
                opened.sort_unstable();
                assert_eq!(
                    opened, expected,
                    "TCP SYNs, DNS queries and QUIC Initials, v4 and v6"
                );
            });
        }
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
