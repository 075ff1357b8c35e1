//! Which process owns a flow: each platform answers through [`SocketOwners`] (Linux:
//! `os::linux::sockets`; macOS: `os::macos::sockets`, which scans with [`match_sockets`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use crate::flow::{canonical_socket, FlowKey};
use crate::process::ProcessInfo;

/// A platform's answer to "which process owns the socket of this flow?".
pub trait SocketOwners: Send {
    /// Looks the flows up in the socket tables now; flows whose socket is gone or whose owner
    /// cannot be read are left out of the answer.
    fn lookup(&mut self, flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>>;
}

/// Answers no flow: for platforms without a socket scan (the capture source may still tag
/// packets with their process).
#[derive(Debug, Default)]
pub struct NoOwners;

impl SocketOwners for NoOwners {
    fn lookup(&mut self, _flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>> {
        HashMap::new()
    }
}

/// One socket of a socket-table scan (the macOS fallback lists every process's sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSocket {
    /// IP protocol number (6 TCP, 17 UDP).
    pub protocol: u8,
    /// Bound address and port (the address may be unspecified: bound to every address).
    pub local: SocketAddr,
    /// Connected peer; `None` for listening and unconnected sockets.
    pub remote: Option<SocketAddr>,
    pub pid: u32,
}

/// The PID owning each flow among `sockets`: a connected socket with the flow's exact
/// endpoints first, else a listening or unconnected socket on the flow's local port (bound to
/// its address, then to every address). IPv4-mapped IPv6 addresses match their IPv4 form.
pub fn match_sockets(sockets: &[OpenSocket], flows: &[FlowKey]) -> HashMap<FlowKey, u32> {
    let connected: HashMap<FlowKey, u32> = sockets
        .iter()
        .filter_map(|socket| {
            let key = FlowKey {
                protocol: socket.protocol,
                local: canonical_socket(socket.local),
                remote: canonical_socket(socket.remote?),
            };
            Some((key, socket.pid))
        })
        .collect();
    let bound: HashMap<(u8, SocketAddr), u32> = sockets
        .iter()
        .filter(|socket| socket.remote.is_none())
        .map(|socket| {
            (
                (socket.protocol, canonical_socket(socket.local)),
                socket.pid,
            )
        })
        .collect();
    let bound_to = |protocol: u8, local: SocketAddr| {
        let any = match local {
            SocketAddr::V4(_) => IpAddr::from(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::from(Ipv6Addr::UNSPECIFIED),
        };
        // A dual-stack socket bound to `::` also receives IPv4.
        [local.ip(), any, IpAddr::from(Ipv6Addr::UNSPECIFIED)]
            .into_iter()
            .find_map(|ip| bound.get(&(protocol, SocketAddr::new(ip, local.port()))))
            .copied()
    };
    flows
        .iter()
        .filter_map(|flow| {
            let canonical = FlowKey {
                protocol: flow.protocol,
                local: canonical_socket(flow.local),
                remote: canonical_socket(flow.remote),
            };
            connected
                .get(&canonical)
                .copied()
                .or_else(|| bound_to(flow.protocol, canonical.local))
                .map(|pid| (*flow, pid))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn flow(protocol: u8, local: &str, remote: &str) -> FlowKey {
        FlowKey {
            protocol,
            local: addr(local),
            remote: addr(remote),
        }
    }

    fn socket(protocol: u8, local: &str, remote: Option<&str>, pid: u32) -> OpenSocket {
        OpenSocket {
            protocol,
            local: addr(local),
            remote: remote.map(addr),
            pid,
        }
    }

    #[test]
    fn connected_sockets_win_over_listeners() {
        let sockets = [
            socket(6, "0.0.0.0:443", None, 1),
            socket(6, "192.168.1.5:443", Some("10.0.0.9:50000"), 2),
            socket(6, "192.168.1.5:53000", Some("17.253.144.10:443"), 3),
        ];
        let flows = [
            flow(6, "192.168.1.5:443", "10.0.0.9:50000"),
            flow(6, "192.168.1.5:443", "10.0.0.7:50001"),
            flow(6, "192.168.1.5:53000", "17.253.144.10:443"),
            flow(17, "192.168.1.5:53000", "17.253.144.10:443"),
        ];
        let owners = match_sockets(&sockets, &flows);
        assert_eq!(owners.get(&flows[0]), Some(&2));
        assert_eq!(owners.get(&flows[1]), Some(&1));
        assert_eq!(owners.get(&flows[2]), Some(&3));
        assert_eq!(owners.get(&flows[3]), None);
    }

    #[test]
    fn unconnected_udp_and_dual_stack_sockets_match() {
        let sockets = [
            socket(17, "[::]:5353", None, 7),
            socket(17, "192.168.1.5:6000", None, 8),
            socket(
                6,
                "[::ffff:192.168.1.5]:40000",
                Some("[::ffff:1.1.1.1]:443"),
                9,
            ),
        ];
        let flows = [
            flow(17, "192.168.1.5:5353", "224.0.0.251:5353"),
            flow(17, "192.168.1.5:6000", "8.8.8.8:53"),
            flow(17, "192.168.1.6:6000", "8.8.8.8:53"),
            flow(6, "192.168.1.5:40000", "1.1.1.1:443"),
        ];
        let owners = match_sockets(&sockets, &flows);
        assert_eq!(owners.get(&flows[0]), Some(&7));
        assert_eq!(owners.get(&flows[1]), Some(&8));
        assert_eq!(owners.get(&flows[2]), None);
        assert_eq!(owners.get(&flows[3]), Some(&9));
    }
}
