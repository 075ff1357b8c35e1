//! Socket owners on Linux: netlink `sock_diag` maps a flow to its socket inode (see
//! [`super::diag`]), and `/proc/PID/fd` maps the inode to its process.
//!
//! Scanning processes' descriptors is the expensive part, and a short connection's socket may
//! be closed before the scan reaches its process: a browser fetches a page and closes the
//! connection within tens of milliseconds, and a busy machine makes every step slower. So
//! owners are cached per inode, and a scan visits the processes that owned sockets recently
//! first, then the processes in this network namespace (whose sockets these are, unless one was
//! handed to another namespace), newest first (a short-lived client was usually just started;
//! PIDs wrap around, so "newest" counts back from the latest PID handed out), then every other
//! process. It stops as soon as every wanted socket is found or closed: every few processes it
//! asks the kernel again, so a socket that closed meanwhile (a DNS query's, typically) does not
//! cost a walk through every process while new connections wait for their lookup.

use std::collections::{HashMap, VecDeque};
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
/// How many processes a scan visits between two checks that its sockets still exist.
const RECHECK_EVERY: usize = 8;

/// [`SocketOwners`] for Linux.
#[derive(Default)]
pub struct ProcSockets {
    diag: Option<SockDiag>,
    owner_of_inode: HashMap<u64, Arc<ProcessInfo>>,
    hot: VecDeque<u32>,
    /// What orders a scan and stays for netmon's life, read at its first scan.
    basis: Option<ScanBasis>,
}

/// netmon's own network namespace (`net:[4026531840]`, when it can be read) and the PID limit
/// (`/proc/sys/kernel/pid_max`; 1 << 22 when unknown).
struct ScanBasis {
    namespace: Option<std::path::PathBuf>,
    pid_max: u32,
}

impl ScanBasis {
    fn read() -> Self {
        Self {
            namespace: network_namespace("self"),
            pid_max: fs::read_to_string("/proc/sys/kernel/pid_max")
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(1 << 22),
        }
    }

    /// `pids` in the order a scan visits them (see [`scan_order`]).
    fn order(&self, pids: impl Iterator<Item = u32>) -> Vec<u32> {
        let here = self.namespace.as_ref();
        let in_this_namespace =
            |pid: u32| here.is_some() && network_namespace(&pid.to_string()).as_ref() == here;
        scan_order(
            pids.map(|pid| (pid, in_this_namespace(pid))),
            latest_pid(),
            self.pid_max,
        )
    }
}

impl SocketOwners for ProcSockets {
    fn lookup(&mut self, flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>> {
        let wanted = self.inodes_of(flows);
        let missing: HashMap<u64, FlowKey> = wanted
            .iter()
            .filter(|(_, inode)| !self.owner_of_inode.contains_key(inode))
            .map(|(flow, inode)| (*inode, *flow))
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

    /// Visits processes until every missing inode (with the flow it was found for) has an
    /// owner or its socket has closed.
    fn scan_processes(&mut self, mut missing: HashMap<u64, FlowKey>) {
        if self.owner_of_inode.len() > MAX_CACHED {
            self.owner_of_inode.clear();
        }
        let hot: Vec<u32> = self.hot.iter().copied().collect();
        self.visit(&hot, &mut missing);
        // The recent owners usually hold the sockets, or they closed meanwhile (a connection of
        // a millisecond): every other process is listed and ordered (a link read for each) only
        // for a socket still missing and still open.
        self.forget_closed(&mut missing);
        if missing.is_empty() {
            return;
        }
        let others = self
            .basis
            .get_or_insert_with(ScanBasis::read)
            .order(all_pids().filter(|pid| !hot.contains(pid)));
        self.visit(&others, &mut missing);
    }

    /// Visits `pids` in order until every missing inode has an owner, asking every
    /// [`RECHECK_EVERY`] processes which of the sockets have closed.
    fn visit(&mut self, pids: &[u32], missing: &mut HashMap<u64, FlowKey>) {
        for (visited, &pid) in pids.iter().enumerate() {
            if visited > 0 && visited % RECHECK_EVERY == 0 {
                self.forget_closed(missing);
            }
            if missing.is_empty() {
                break;
            }
            let inodes = socket_inodes(pid);
            if inodes.iter().any(|inode| missing.contains_key(inode)) {
                inodes.iter().for_each(|inode| {
                    missing.remove(inode);
                });
                self.remember(pid, &inodes);
            }
        }
    }

    /// Drops the sockets that closed since they were found: no process holds them any more.
    /// One that cannot be asked about is kept.
    fn forget_closed(&mut self, missing: &mut HashMap<u64, FlowKey>) {
        let Some(diag) = self.diag_socket() else {
            return;
        };
        missing.retain(|inode, flow| match diag.inode(flow) {
            Ok(now) => now == Some(*inode),
            Err(_) => true,
        });
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

/// `(pid, in this network namespace)` in scan order: this namespace's processes first, each
/// group newest first (see [`pid_age`]).
fn scan_order(pids: impl Iterator<Item = (u32, bool)>, latest: u32, pid_max: u32) -> Vec<u32> {
    let mut keyed: Vec<(bool, u64, u32)> = pids
        .map(|(pid, here)| (!here, pid_age(pid, latest, pid_max), pid))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(.., pid)| pid).collect()
}

/// The network namespace of `/proc/{pid}` (`net:[4026531840]`), when it can be read.
fn network_namespace(pid: &str) -> Option<std::path::PathBuf> {
    fs::read_link(format!("/proc/{pid}/ns/net")).ok()
}

/// The latest PID handed out (the last field of `/proc/loadavg`); 0 when unknown, which orders
/// PIDs from the highest down.
fn latest_pid() -> u32 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().last()?.parse().ok())
        .unwrap_or(0)
}

/// How many PIDs were handed out after `pid`: the kernel hands them out upwards from the
/// latest and wraps around at `pid_max`, so after a wrap a high PID is older than a low one.
fn pid_age(pid: u32, latest: u32, pid_max: u32) -> u64 {
    let (pid, latest, pid_max) = (u64::from(pid), u64::from(latest), u64::from(pid_max));
    (latest + pid_max - pid % pid_max) % pid_max
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
    fn newest_pids_count_back_from_the_latest_across_the_wrap() {
        let ages: Vec<u64> = [12_567, 12_000, 300, 31_631, 30_091]
            .iter()
            .map(|pid| pid_age(*pid, 12_567, 32_768))
            .collect();
        assert_eq!(ages, [0, 567, 12_267, 13_704, 15_244]);
        assert!(
            pid_age(100, 0, 1 << 22) > pid_age(200, 0, 1 << 22),
            "no latest: highest first"
        );
    }

    #[test]
    fn this_namespace_s_processes_are_scanned_first_each_newest_first() {
        let pids = [
            (31_631, false),
            (12_000, true),
            (12_500, false),
            (31_000, true),
            (40, true),
        ];
        assert_eq!(
            scan_order(pids.into_iter(), 12_567, 32_768),
            [12_000, 40, 31_000, 12_500, 31_631]
        );
    }

    #[test]
    fn a_scan_stops_looking_for_sockets_that_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let closing = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let key = |stream: &TcpStream| {
            FlowKey::new(6, stream.local_addr().unwrap(), stream.peer_addr().unwrap())
        };
        let flows = [key(&open), key(&closing)];
        let mut sockets = ProcSockets::default();
        let mut missing: HashMap<u64, FlowKey> = sockets
            .inodes_of(&flows)
            .into_iter()
            .map(|(flow, inode)| (inode, flow))
            .collect();
        assert_eq!(missing.len(), 2);
        drop(closing);
        sockets.forget_closed(&mut missing);
        assert_eq!(missing.into_values().collect::<Vec<_>>(), [key(&open)]);
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
