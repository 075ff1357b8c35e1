//! Socket owners on macOS without PKTAP: a scan of every process's socket descriptors through
//! libproc, matched to flows with [`match_sockets`].
//!
//! The scan costs a few system calls per socket on the machine, so it is the fallback: PKTAP
//! names each packet's process itself. Processes of other users are only readable as root.

use std::collections::HashMap;
use std::sync::Arc;

use super::libproc;
use crate::attribution::{match_sockets, OpenSocket, SocketOwners};
use crate::flow::FlowKey;
use crate::process::{ProcessCache, ProcessInfo};

/// [`SocketOwners`] for macOS.
#[derive(Debug)]
pub struct LibprocSockets {
    processes: ProcessCache,
}

impl Default for LibprocSockets {
    fn default() -> Self {
        Self {
            processes: crate::os::process_cache(),
        }
    }
}

impl SocketOwners for LibprocSockets {
    fn lookup(&mut self, flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>> {
        if flows.is_empty() {
            return HashMap::new();
        }
        let sockets = scan();
        match_sockets(&sockets, flows)
            .into_iter()
            .filter_map(|(flow, pid)| {
                let name = libproc::process_name(pid)?;
                Some((flow, self.processes.get(pid, &name)))
            })
            .collect()
    }
}

/// Every readable internet socket of every process.
fn scan() -> Vec<OpenSocket> {
    libproc::all_pids()
        .into_iter()
        .flat_map(|pid| {
            libproc::socket_fds(pid)
                .into_iter()
                .filter_map(move |fd| libproc::inet_socket(pid, fd))
                .map(move |socket| OpenSocket {
                    protocol: socket.protocol,
                    local: socket.local,
                    remote: socket.remote,
                    pid,
                })
        })
        .collect()
}
