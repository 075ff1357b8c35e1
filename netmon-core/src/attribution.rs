//! Which process owns a flow: the platform's socket tables, read through [`SocketOwners`],
//! matched to flows by [`SocketIndex`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::flow::{canonical_socket, FlowKey};
use crate::process::ProcessInfo;

/// One socket of the kernel's tables. `id` names the socket on its platform (the inode on
/// Linux); zero means no process holds it (e.g. TCP TIME_WAIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketEntry {
    pub protocol: u8,
    pub local: SocketAddr,
    /// Unspecified (`0.0.0.0:0`, `[::]:0`) for listening and unconnected sockets.
    pub remote: SocketAddr,
    pub id: u64,
}

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

/// Socket tables indexed the way the kernel demultiplexes packets: a connected socket by its
/// full 5-tuple, then a socket bound to the local address and port, then one bound to the port
/// on every address (a listening server whose accepted socket is already closed is found here).
#[derive(Debug, Default)]
pub struct SocketIndex {
    connected: HashMap<(u8, SocketAddr, SocketAddr), u64>,
    bound: HashMap<(u8, SocketAddr), u64>,
    any_address: HashMap<(u8, u16), u64>,
}

impl SocketIndex {
    pub fn new(entries: impl IntoIterator<Item = SocketEntry>) -> Self {
        entries.into_iter().filter(|entry| entry.id != 0).fold(
            Self::default(),
            |mut index, entry| {
                index.insert(entry);
                index
            },
        )
    }

    fn insert(&mut self, entry: SocketEntry) {
        let local = canonical_socket(entry.local);
        let remote = canonical_socket(entry.remote);
        if !is_unspecified(remote) {
            self.connected
                .insert((entry.protocol, local, remote), entry.id);
        } else if !local.ip().is_unspecified() {
            self.bound.insert((entry.protocol, local), entry.id);
        } else {
            self.any_address
                .insert((entry.protocol, local.port()), entry.id);
        }
    }

    /// The socket that receives this flow's packets, if any.
    pub fn find(&self, flow: &FlowKey) -> Option<u64> {
        self.connected
            .get(&(flow.protocol, flow.local, flow.remote))
            .or_else(|| self.bound.get(&(flow.protocol, flow.local)))
            .or_else(|| self.any_address.get(&(flow.protocol, flow.local.port())))
            .copied()
    }

    /// Whether a socket with this id is in the tables.
    pub fn holds(&self, id: u64) -> bool {
        self.ids().any(|known| known == id)
    }

    /// Every socket id in the tables.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.connected
            .values()
            .chain(self.bound.values())
            .chain(self.any_address.values())
            .copied()
    }
}

fn is_unspecified(addr: SocketAddr) -> bool {
    addr.ip().is_unspecified() && addr.port() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(protocol: u8, local: &str, remote: &str, id: u64) -> SocketEntry {
        SocketEntry {
            protocol,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            id,
        }
    }

    fn flow(protocol: u8, local: &str, remote: &str) -> FlowKey {
        FlowKey {
            protocol,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
        }
    }

    fn index() -> SocketIndex {
        SocketIndex::new([
            entry(6, "10.0.0.2:40000", "1.2.3.4:443", 11),
            entry(6, "0.0.0.0:8080", "0.0.0.0:0", 12),
            entry(17, "10.0.0.2:5353", "0.0.0.0:0", 13),
            entry(6, "[::ffff:10.0.0.2]:40001", "[::ffff:1.2.3.4]:443", 14),
            entry(6, "10.0.0.2:40002", "1.2.3.4:443", 0),
            entry(17, "[::]:9999", "[::]:0", 15),
        ])
    }

    #[test]
    fn connected_sockets_match_their_five_tuple() {
        assert_eq!(
            index().find(&flow(6, "10.0.0.2:40000", "1.2.3.4:443")),
            Some(11)
        );
        assert_eq!(
            index().find(&flow(6, "10.0.0.2:40001", "1.2.3.4:443")),
            Some(14)
        );
        assert_eq!(
            index().find(&flow(17, "10.0.0.2:40000", "1.2.3.4:443")),
            None
        );
    }

    #[test]
    fn servers_and_unconnected_sockets_match_by_local_port() {
        assert_eq!(
            index().find(&flow(6, "10.0.0.2:8080", "9.9.9.9:5555")),
            Some(12)
        );
        assert_eq!(
            index().find(&flow(17, "10.0.0.2:5353", "9.9.9.9:53")),
            Some(13)
        );
        assert_eq!(
            index().find(&flow(17, "10.0.0.2:9999", "9.9.9.9:53")),
            Some(15)
        );
    }

    #[test]
    fn ownerless_sockets_are_ignored() {
        assert_eq!(
            index().find(&flow(6, "10.0.0.2:40002", "1.2.3.4:443")),
            None
        );
        assert!(!index().holds(0));
        assert!(index().holds(15));
    }
}
