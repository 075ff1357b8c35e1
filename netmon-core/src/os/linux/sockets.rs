//! Socket owners on Linux: `/proc/net/{tcp,tcp6,udp,udp6}` map a flow to a socket inode, and
//! `/proc/PID/fd` maps the inode to its process.
//!
//! Scanning every process's descriptors is the expensive part, so owners are cached per inode
//! (dropped when the socket leaves the tables), and a scan visits the processes that owned
//! sockets recently first and stops as soon as every wanted inode is found.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use procfs::net::{TcpNetEntry, UdpNetEntry};
use procfs::process::{FDTarget, Process};

use crate::attribution::{SocketEntry, SocketIndex, SocketOwners};
use crate::flow::FlowKey;
use crate::process::ProcessInfo;

/// How many recently seen socket owners are scanned first.
const HOT_PROCESSES: usize = 64;

/// [`SocketOwners`] for Linux.
#[derive(Debug, Default)]
pub struct ProcSockets {
    owner_of_inode: HashMap<u64, Arc<ProcessInfo>>,
    hot: VecDeque<u32>,
}

impl SocketOwners for ProcSockets {
    fn lookup(&mut self, flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>> {
        let index = SocketIndex::new(socket_table());
        let live: HashSet<u64> = index.ids().collect();
        self.owner_of_inode.retain(|inode, _| live.contains(inode));
        let wanted: Vec<(FlowKey, u64)> = flows
            .iter()
            .filter_map(|flow| index.find(flow).map(|inode| (*flow, inode)))
            .collect();
        let missing: HashSet<u64> = wanted
            .iter()
            .map(|(_, inode)| *inode)
            .filter(|inode| !self.owner_of_inode.contains_key(inode))
            .collect();
        if !missing.is_empty() {
            self.scan_processes(missing);
        }
        wanted
            .into_iter()
            .filter_map(|(flow, inode)| {
                let owner = self.owner_of_inode.get(&inode)?;
                Some((flow, Arc::clone(owner)))
            })
            .collect()
    }
}

impl ProcSockets {
    /// Visits processes, hot ones first, until every missing inode has an owner.
    fn scan_processes(&mut self, mut missing: HashSet<u64>) {
        let hot: Vec<u32> = self.hot.iter().copied().collect();
        let others = all_pids().filter(|pid| !hot.contains(pid));
        for pid in hot.iter().copied().chain(others) {
            if missing.is_empty() {
                break;
            }
            let inodes = socket_inodes(pid);
            if inodes.iter().any(|inode| missing.contains(inode)) {
                self.remember(pid, &inodes);
                inodes.iter().for_each(|inode| {
                    missing.remove(inode);
                });
            }
        }
    }

    fn remember(&mut self, pid: u32, inodes: &[u64]) {
        let Some(info) = process_info(pid) else {
            return;
        };
        let info = Arc::new(info);
        inodes.iter().for_each(|inode| {
            self.owner_of_inode.insert(*inode, Arc::clone(&info));
        });
        self.hot.retain(|hot| *hot != pid);
        self.hot.push_front(pid);
        self.hot.truncate(HOT_PROCESSES);
    }
}

/// Every TCP and UDP socket of this network namespace.
pub fn socket_table() -> Vec<SocketEntry> {
    let tcp = [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .flat_map(Result::unwrap_or_default)
        .map(|entry: TcpNetEntry| SocketEntry {
            protocol: 6,
            local: entry.local_address,
            remote: entry.remote_address,
            id: entry.inode,
        });
    let udp = [procfs::net::udp(), procfs::net::udp6()]
        .into_iter()
        .flat_map(Result::unwrap_or_default)
        .map(|entry: UdpNetEntry| SocketEntry {
            protocol: 17,
            local: entry.local_address,
            remote: entry.remote_address,
            id: entry.inode,
        });
    tcp.chain(udp).collect()
}

fn all_pids() -> impl Iterator<Item = u32> {
    procfs::process::all_processes()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|process| u32::try_from(process.pid()).ok())
}

/// Socket inodes among a process's open descriptors (empty when they cannot be read).
fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(process) = Process::new(pid as i32) else {
        return Vec::new();
    };
    process
        .fd()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|fd| match fd.target {
            FDTarget::Socket(inode) => Some(inode),
            _ => None,
        })
        .collect()
}

fn process_info(pid: u32) -> Option<ProcessInfo> {
    let process = Process::new(pid as i32).ok()?;
    let name = process.stat().ok()?.comm;
    let exe = process
        .exe()
        .ok()
        .map(|path| path.to_string_lossy().into_owned());
    Some(ProcessInfo::new(pid, name, exe))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};

    fn flow(protocol: u8, local: SocketAddr, remote: SocketAddr) -> FlowKey {
        FlowKey {
            protocol,
            local,
            remote,
        }
    }

    #[test]
    fn finds_this_process_for_its_own_sockets() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let flows = [
            flow(6, client.local_addr().unwrap(), client.peer_addr().unwrap()),
            flow(
                17,
                udp.local_addr().unwrap(),
                "127.0.0.9:53".parse().unwrap(),
            ),
            flow(
                6,
                "127.0.0.1:1".parse().unwrap(),
                "127.0.0.1:2".parse().unwrap(),
            ),
        ];
        let owners = ProcSockets::default().lookup(&flows);
        assert_eq!(owners.len(), 2, "{owners:?}");
        let me = std::process::id();
        assert!(owners.values().all(|owner| owner.pid == me), "{owners:?}");
    }

    #[test]
    fn owners_are_cached_until_the_socket_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let key = flow(
            6,
            listener.local_addr().unwrap(),
            "127.0.0.1:9".parse().unwrap(),
        );
        let mut sockets = ProcSockets::default();
        assert_eq!(sockets.lookup(&[key]).len(), 1);
        assert!(!sockets.owner_of_inode.is_empty());
        drop(listener);
        assert!(sockets.lookup(&[key]).is_empty());
    }
}
