//! Debug mode's packet-level inspection lines (`log_level: DEBUG`): for a packet, its flow key,
//! direction, IP length, the reader that looked at its payload and what that reader named —
//! never payload bytes, never URLs (a TLS or QUIC server name, or the hostnames of a DNS answer).
//!
//! A 1 Gbit/s download is ~80,000 packets a second, which the capture hands over mostly as runs
//! of one flow's packets (one line each, with `packets=`), so lines are rate-limited: at most
//! [`LINES_PER_SECOND`] packets or runs are described per clock second (the first ones of each
//! second), then one line counts those that were not. At ~200 bytes a line that is under 5 KB/s of log,
//! and the log's rotation bounds the disk whatever the rate. At any other level the monitor asks
//! [`PacketLog::wanted`] once per batch of packets — one level comparison — and does nothing
//! else.

use crate::capture::Observation;
use crate::domains::{Naming, Reader};
use crate::flow::Placement;
use crate::logging::PACKET;
use crate::packet::PacketMeta;

/// Most packets described per second.
pub const LINES_PER_SECOND: u32 = 20;
/// Most hostnames of one DNS answer written out.
const MAX_NAMES: usize = 4;

/// The rate limiter of the packet lines: the clock second it counts and what it let through.
#[derive(Debug)]
pub struct PacketLog {
    second: Option<i64>,
    described: u32,
    skipped: u64,
}

impl Default for PacketLog {
    fn default() -> Self {
        Self::new()
    }
}

impl PacketLog {
    pub const fn new() -> Self {
        Self {
            second: None,
            described: 0,
            skipped: 0,
        }
    }

    /// Whether packet lines are logged now (debug mode). Cheap: ask once per batch.
    pub fn wanted() -> bool {
        tracing::enabled!(target: PACKET, tracing::Level::DEBUG)
    }

    /// Describes `observation`, placed at `placement`, unless the lines of this clock second
    /// (`second`, since the Unix epoch) are used up.
    pub fn record(&mut self, observation: &Observation, placement: Option<Placement>, second: i64) {
        self.next_second_if_due(second);
        if self.described >= LINES_PER_SECOND {
            self.skipped += 1;
            return;
        }
        if let Some(line) = describe(observation, placement) {
            self.described += 1;
            tracing::debug!(target: PACKET, "{line}");
        }
    }

    fn next_second_if_due(&mut self, second: i64) {
        if self.second == Some(second) {
            return;
        }
        if self.skipped > 0 {
            tracing::debug!(
                target: PACKET,
                "packet not described: {} (limit {LINES_PER_SECOND} lines a second)",
                self.skipped
            );
        }
        *self = Self {
            second: Some(second),
            described: 0,
            skipped: 0,
        };
    }
}

/// The line for one observation; `None` for observations that are not packets.
pub fn describe(observation: &Observation, placement: Option<Placement>) -> Option<String> {
    let (packet, process, naming) = match observation {
        Observation::Packet(packet) => (packet, None, None),
        Observation::Run(run) => (&run.meta, run.process.as_ref(), None),
        Observation::Named(packet, naming) => (packet, None, Some(naming)),
        Observation::OwnedPacket(packet, process, naming) => {
            (packet, Some(process), naming.as_ref())
        }
        Observation::ProcessBytes(_)
        | Observation::Answers(_)
        | Observation::Opening(_)
        | Observation::Unreadable => return None,
    };
    let process = process
        .map(|process| format!(" process={}[{}]", process.app, process.pid))
        .unwrap_or_default();
    let run = match observation {
        Observation::Run(run) => format!(" packets={}", run.packets),
        _ => String::new(),
    };
    Some(format!(
        "packet flow={} direction={} length={}{run} reader={} named={}{process}",
        flow(packet),
        direction(placement),
        packet.ip_len,
        Reader::of(packet).map_or("none", Reader::name),
        named(naming),
    ))
}

fn flow(packet: &PacketMeta) -> String {
    let protocol = crate::flow::protocol_name(packet.protocol());
    let (src_port, dst_port) = packet.ports();
    let end = |ip: std::net::IpAddr, port| std::net::SocketAddr::new(ip, port).to_string();
    format!(
        "{protocol}:{}->{}",
        end(packet.src, src_port),
        end(packet.dst, dst_port)
    )
}

fn direction(placement: Option<Placement>) -> &'static str {
    match placement {
        Some(Placement::Flow(_, crate::Direction::Sent)) => "sent",
        Some(Placement::Flow(_, crate::Direction::Received)) => "received",
        Some(Placement::Local) => "local",
        Some(Placement::Transit) => "transit",
        None => "-",
    }
}

fn named(naming: Option<&Naming>) -> String {
    match naming {
        None => "-".into(),
        Some(Naming::Server(host)) => format!("server:{host}"),
        Some(Naming::OuterServer(host)) => format!("ech-outer:{host}"),
        Some(Naming::HttpHost(host)) => format!("http:{host}"),
        Some(Naming::Dns(answers)) => {
            let mut hosts: Vec<&str> = answers.iter().map(|answer| answer.host.as_str()).collect();
            hosts.dedup();
            let more = hosts.len().saturating_sub(MAX_NAMES);
            hosts.truncate(MAX_NAMES);
            let more = if more > 0 {
                format!(",+{more}")
            } else {
                String::new()
            };
            format!("dns:{}{more}", hosts.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domains::DnsAnswer;
    use crate::flow::FlowKey;
    use crate::packet::{TcpFlags, Transport};

    fn packet(transport: Transport) -> PacketMeta {
        PacketMeta {
            src: "10.0.0.2".parse().unwrap(),
            dst: "192.0.2.1".parse().unwrap(),
            transport,
            ip_len: 1500,
        }
    }

    #[test]
    fn a_line_names_flow_direction_length_reader_and_name() {
        let meta = packet(Transport::Tcp {
            src_port: 40000,
            dst_port: 443,
            flags: TcpFlags::default(),
        });
        let key = FlowKey::new(
            6,
            "10.0.0.2:40000".parse().unwrap(),
            "192.0.2.1:443".parse().unwrap(),
        );
        let observation = Observation::Named(meta, Naming::Server("example.com".into()));
        let line = describe(
            &observation,
            Some(Placement::Flow(key, crate::Direction::Sent)),
        );
        assert_eq!(
            line.unwrap(),
            "packet flow=tcp:10.0.0.2:40000->192.0.2.1:443 direction=sent length=1500 reader=tls named=server:example.com"
        );
    }

    #[test]
    fn dns_answers_name_their_hosts_and_other_packets_no_reader() {
        let answers = (0..6)
            .map(|index| DnsAnswer {
                ip: format!("192.0.2.{index}").parse().unwrap(),
                host: format!("h{index}.example"),
                ttl: 60,
            })
            .collect();
        let dns = Observation::Named(
            packet(Transport::Udp {
                src_port: 53,
                dst_port: 5353,
            }),
            Naming::Dns(answers),
        );
        let line = describe(&dns, None).unwrap();
        assert!(
            line.contains("reader=dns named=dns:h0.example,h1.example,h2.example,h3.example,+2"),
            "{line}"
        );
        let icmp = Observation::Packet(packet(Transport::Other { protocol: 1 }));
        let line = describe(&icmp, Some(Placement::Transit)).unwrap();
        assert!(
            line.contains("flow=ip1:") && line.contains("reader=none named=-"),
            "{line}"
        );
        assert_eq!(describe(&Observation::Unreadable, None), None);
    }

    #[test]
    fn at_most_the_limit_is_described_per_second() {
        let mut log = PacketLog::new();
        let observation = Observation::Packet(packet(Transport::Other { protocol: 1 }));
        (0..1000).for_each(|_| log.record(&observation, None, 1_800_000_000));
        assert_eq!(log.described, LINES_PER_SECOND);
        assert_eq!(log.skipped, 1000 - u64::from(LINES_PER_SECOND));
        log.record(&observation, None, 1_800_000_001);
        assert_eq!((log.described, log.skipped), (1, 0), "a new second");
    }
}
