//! Flows: which side of a packet is this machine, and the 5-tuple that names a connection.

use std::net::{IpAddr, SocketAddr};

use foldhash::HashSet;

use crate::packet::PacketMeta;
use crate::sample::Direction;

/// A flow seen from this machine: protocol, local endpoint, remote endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol number (6 TCP, 17 UDP, …).
    pub protocol: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl FlowKey {
    pub fn new(protocol: u8, local: SocketAddr, remote: SocketAddr) -> Self {
        Self {
            protocol,
            local,
            remote,
        }
    }
}

/// Where a packet belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Between this machine and another host.
    Flow(FlowKey, Direction),
    /// Between two addresses of this machine (loopback traffic).
    Local,
    /// Neither from nor to this machine (forwarded or bridged traffic).
    Transit,
}

/// The addresses of this machine, used to tell sent from received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalAddrs {
    addrs: HashSet<IpAddr>,
}

impl LocalAddrs {
    pub fn new(addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        Self {
            addrs: addrs.into_iter().map(canonical).collect(),
        }
    }

    /// The addresses of this machine's interfaces now.
    pub fn of_this_machine() -> std::io::Result<Self> {
        let interfaces = if_addrs::get_if_addrs()?;
        Ok(Self::new(interfaces.iter().map(|interface| interface.ip())))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_loopback() || self.addrs.contains(&ip)
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Decides a packet's direction from this machine's addresses. Multicast and broadcast
    /// from another host count as received.
    pub fn place(&self, packet: &PacketMeta) -> Placement {
        let (src_port, dst_port) = packet.ports();
        let src = SocketAddr::new(canonical(packet.src), src_port);
        let dst = SocketAddr::new(canonical(packet.dst), dst_port);
        let flow = |local, remote, direction| {
            Placement::Flow(
                FlowKey {
                    protocol: packet.protocol(),
                    local,
                    remote,
                },
                direction,
            )
        };
        match (self.contains(src.ip()), self.contains(dst.ip())) {
            (true, true) => Placement::Local,
            (true, false) => flow(src, dst, Direction::Sent),
            (false, true) => flow(dst, src, Direction::Received),
            (false, false) if is_group(dst.ip()) => flow(dst, src, Direction::Received),
            (false, false) => Placement::Transit,
        }
    }
}

/// An IP protocol number as shown: `tcp`, `udp`, else `ip` and the number.
pub fn protocol_name(protocol: u8) -> String {
    match protocol {
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        other => format!("ip{other}"),
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The canonical form of a socket address (see [`canonical`]).
pub fn canonical_socket(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical(addr.ip()), addr.port())
}

fn is_group(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Transport;

    fn udp(src: &str, dst: &str) -> PacketMeta {
        PacketMeta {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            transport: Transport::Udp {
                src_port: 1000,
                dst_port: 53,
            },
            ip_len: 100,
        }
    }

    fn machine() -> LocalAddrs {
        LocalAddrs::new(["10.0.0.2".parse().unwrap(), "fd00::2".parse().unwrap()])
    }

    #[test]
    fn sent_and_received_are_seen_from_this_machine() {
        let sent = machine().place(&udp("10.0.0.2", "8.8.8.8"));
        let key = FlowKey {
            protocol: 17,
            local: "10.0.0.2:1000".parse().unwrap(),
            remote: "8.8.8.8:53".parse().unwrap(),
        };
        assert_eq!(sent, Placement::Flow(key, Direction::Sent));
        let received = machine().place(&udp("fd00::9", "fd00::2"));
        match received {
            Placement::Flow(key, Direction::Received) => {
                assert_eq!(key.local, "[fd00::2]:53".parse().unwrap());
                assert_eq!(key.remote, "[fd00::9]:1000".parse().unwrap());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn loopback_and_transit_are_not_flows() {
        assert_eq!(
            machine().place(&udp("127.0.0.1", "127.0.0.1")),
            Placement::Local
        );
        assert_eq!(
            machine().place(&udp("10.0.0.2", "10.0.0.2")),
            Placement::Local
        );
        assert_eq!(
            machine().place(&udp("1.1.1.1", "8.8.8.8")),
            Placement::Transit
        );
    }

    #[test]
    fn group_traffic_from_others_is_received() {
        assert!(matches!(
            machine().place(&udp("10.0.0.9", "224.0.0.251")),
            Placement::Flow(_, Direction::Received)
        ));
        assert!(matches!(
            machine().place(&udp("10.0.0.2", "255.255.255.255")),
            Placement::Flow(_, Direction::Sent)
        ));
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        assert!(machine().contains("::ffff:10.0.0.2".parse().unwrap()));
        assert_eq!(
            canonical("::ffff:1.2.3.4".parse().unwrap()),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }
}
