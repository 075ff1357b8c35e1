//! Socket owners on Linux: netlink `sock_diag` maps a flow to its socket inode (see
//! [`super::diag`]), and `/proc/PID/fd` maps the inode to its process.
//!
//! Scanning processes' descriptors is the expensive part, so owners are cached per inode, and a
//! scan visits the processes that owned sockets recently first, then the newest processes (a
//! short-lived client was usually just started), and stops as soon as every wanted inode is
//! found.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::sync::Arc;

use super::diag::SockDiag;
use crate::attribution::SocketOwners;
use crate::flow::FlowKey;
use crate::process::ProcessInfo;

/// How many recent socket owners are scanned first.
const HOT_PROCESSES: usize = 64;
/// Most cached inode owners; the cache is cleared when it grows past this.
const MAX_CACHED: usize = 65_536;

/// [`SocketOwners`] for Linux.
#[derive(Default)]
pub struct ProcSockets {
    diag: Option<SockDiag>,
    owner_of_inode: HashMap<u64, Arc<ProcessInfo>>,
    hot: VecDeque<u32>,
}

impl SocketOwners for ProcSockets {
    fn lookup(&mut self, flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>> {
        let wanted = self.inodes_of(flows);
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
    /// The socket inode of each flow that has a socket now.
    fn inodes_of(&mut self, flows: &[FlowKey]) -> Vec<(FlowKey, u64)> {
        let Some(diag) = self.diag_socket() else {
            return Vec::new();
        };
        let mut failed = false;
        let found = flows
            .iter()
            .filter_map(|flow| match diag.inode(flow) {
                Ok(inode) => inode.map(|inode| (*flow, inode)),
                Err(error) => {
                    tracing::debug!(%error, "sock_diag lookup failed");
                    failed = true;
                    None
                }
            })
            .collect();
        if failed {
            self.diag = None; // reopened on the next lookup
        }
        found
    }

    fn diag_socket(&mut self) -> Option<&mut SockDiag> {
        if self.diag.is_none() {
            self.diag = SockDiag::open()
                .map_err(|error| tracing::warn!(%error, "cannot open a sock_diag socket"))
                .ok();
        }
        self.diag.as_mut()
    }

    /// Visits processes until every missing inode has an owner.
    fn scan_processes(&mut self, mut missing: HashSet<u64>) {
        if self.owner_of_inode.len() > MAX_CACHED {
            self.owner_of_inode.clear();
        }
        let hot: Vec<u32> = self.hot.iter().copied().collect();
        let mut others: Vec<u32> = all_pids().filter(|pid| !hot.contains(pid)).collect();
        others.sort_unstable_by(|a, b| b.cmp(a));
        for pid in hot.into_iter().chain(others) {
            if missing.is_empty() {
                break;
            }
            let inodes = socket_inodes(pid);
            if inodes.iter().any(|inode| missing.contains(inode)) {
                inodes.iter().for_each(|inode| {
                    missing.remove(inode);
                });
                self.remember(pid, &inodes);
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

pub(crate) fn all_pids() -> impl Iterator<Item = u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
}

/// Socket inodes among a process's open descriptors (empty when they cannot be read).
fn socket_inodes(pid: u32) -> Vec<u64> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| fs::read_link(entry.path()).ok())
        .filter_map(|target| socket_inode(target.to_str()?))
        .collect()
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

pub(crate) fn process_info(pid: u32) -> Option<ProcessInfo> {
    let name = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let exe = fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|path| path.to_string_lossy().into_owned());
    Some(ProcessInfo::new(pid, name.trim_end(), exe))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    #[test]
    fn finds_this_process_for_its_own_sockets() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let flows = [
            FlowKey::new(6, client.local_addr().unwrap(), client.peer_addr().unwrap()),
            FlowKey::new(
                17,
                udp.local_addr().unwrap(),
                "127.0.0.9:53".parse().unwrap(),
            ),
            FlowKey::new(
                6,
                "127.0.0.1:1".parse().unwrap(),
                "127.0.0.1:2".parse().unwrap(),
            ),
        ];
        let owners = ProcSockets::default().lookup(&flows);
        assert_eq!(owners.len(), 2, "{owners:?}");
        let me = std::process::id();
        assert!(owners.values().all(|owner| owner.pid == me), "{owners:?}");
        let exe = std::env::current_exe().unwrap();
        let owner = owners.values().next().unwrap();
        assert_eq!(owner.exe.as_deref(), exe.to_str());
    }

    #[test]
    fn a_closed_socket_has_no_owner() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let key = FlowKey::new(
            6,
            listener.local_addr().unwrap(),
            "127.0.0.1:9".parse().unwrap(),
        );
        let mut sockets = ProcSockets::default();
        assert_eq!(sockets.lookup(&[key]).len(), 1);
        drop(listener);
        assert!(sockets.lookup(&[key]).is_empty());
    }

    #[test]
    fn socket_links_are_parsed() {
        assert_eq!(socket_inode("socket:[123]"), Some(123));
        assert_eq!(socket_inode("pipe:[123]"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
    }
}
