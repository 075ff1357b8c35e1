//! Cumulative nettop counters → bytes per sample, per process and per connection (rules in the
//! parent module's docs).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::parse::{ProcessRow, Snapshot};
use crate::capture::{ConnectionBytes, ProcessBytes};
use crate::process::ProcessInfo;

/// Turns cumulative per-process and per-connection counters into bytes per sample (rules in
/// the module docs).
#[derive(Debug, Default)]
pub struct Deltas {
    previous: Option<HashMap<(u32, String), Reading>>,
}

/// A connection's identity across samples: protocol, local and remote endpoint.
type ConnectionKey = (u8, Option<SocketAddr>, SocketAddr);

/// One process's cumulative counters, and its connections' that have a remote address.
#[derive(Debug, Clone, Default)]
struct Reading {
    bytes_in: u64,
    bytes_out: u64,
    connections: HashMap<ConnectionKey, (u64, u64)>,
}

impl Reading {
    /// Rows naming the same socket twice are added up.
    fn of(row: &ProcessRow) -> Self {
        let connections = row
            .connections
            .iter()
            .filter_map(|connection| {
                let remote = crate::flow::canonical_socket(connection.remote?);
                let key = (connection.protocol, connection.local, remote);
                Some((key, (connection.bytes_in, connection.bytes_out)))
            })
            .fold(
                HashMap::new(),
                |mut readings, (key, (bytes_in, bytes_out))| {
                    let reading: &mut (u64, u64) = readings.entry(key).or_default();
                    reading.0 = reading.0.saturating_add(bytes_in);
                    reading.1 = reading.1.saturating_add(bytes_out);
                    readings
                },
            );
        Self {
            bytes_in: row.bytes_in,
            bytes_out: row.bytes_out,
            connections,
        }
    }
}

/// Bytes a process moved since the previous sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub pid: u32,
    pub name: String,
    /// Bytes over all the process's sockets (its process row).
    pub received: u64,
    pub sent: u64,
    /// Bytes of its connections to remote addresses (its connection rows), ordered by protocol
    /// and remote address; only those that moved bytes.
    pub connections: Vec<ConnectionBytes>,
}

impl Delta {
    /// Bytes (received, sent) that the process moved outside its listed connections: its
    /// process row's bytes less its connections', never below zero. The connections and this
    /// add up to the process's bytes, or to its connections' when nettop's rows disagree, so no
    /// byte is counted twice.
    pub fn outside_connections(&self) -> (u64, u64) {
        let (received, sent) =
            self.connections
                .iter()
                .fold((0u64, 0u64), |(received, sent), connection| {
                    (
                        received.saturating_add(connection.received),
                        sent.saturating_add(connection.sent),
                    )
                });
        (
            self.received.saturating_sub(received),
            self.sent.saturating_sub(sent),
        )
    }

    /// The report of `process`: its connections, and its bytes outside them.
    pub fn into_report(self, process: Arc<ProcessInfo>) -> ProcessBytes {
        let (received, sent) = self.outside_connections();
        ProcessBytes {
            process,
            sent,
            received,
            connections: self.connections,
        }
    }

    fn moved(&self) -> bool {
        self.received > 0 || self.sent > 0 || !self.connections.is_empty()
    }
}

impl Deltas {
    /// The bytes each process (and each of its connections) moved since the previous
    /// snapshot; nothing for the first one. Processes that moved nothing are left out.
    pub fn next(&mut self, snapshot: &Snapshot) -> Vec<Delta> {
        let current: HashMap<(u32, String), Reading> = snapshot
            .iter()
            .map(|row| ((row.pid, row.name.clone()), Reading::of(row)))
            .collect();
        let deltas = self
            .previous
            .as_ref()
            .map(|previous| {
                current
                    .iter()
                    .map(|(key, now)| delta(key, now, previous.get(key)))
                    .filter(Delta::moved)
                    .collect()
            })
            .unwrap_or_default();
        self.previous = Some(current);
        deltas
    }

    /// Starts over: the next snapshot is a baseline (a new nettop run).
    pub fn reset(&mut self) {
        self.previous = None;
    }
}

/// A process's bytes since `before` (its whole reading when it is new), per connection too: a
/// connection new since `before` counts its whole reading, a vanished one is forgotten.
fn delta(key: &(u32, String), now: &Reading, before: Option<&Reading>) -> Delta {
    let empty = Reading::default();
    let before = before.unwrap_or(&empty);
    let mut connections: Vec<ConnectionBytes> = now
        .connections
        .iter()
        .map(|(connection, &(bytes_in, bytes_out))| {
            let (before_in, before_out) = before
                .connections
                .get(connection)
                .copied()
                .unwrap_or_default();
            ConnectionBytes {
                protocol: connection.0,
                local: connection.1,
                remote: connection.2,
                received: counter_delta(bytes_in, before_in),
                sent: counter_delta(bytes_out, before_out),
            }
        })
        .filter(|connection| connection.received > 0 || connection.sent > 0)
        .collect();
    connections.sort_by_key(|connection| (connection.protocol, connection.remote));
    Delta {
        pid: key.0,
        name: key.1.clone(),
        received: counter_delta(now.bytes_in, before.bytes_in),
        sent: counter_delta(now.bytes_out, before.bytes_out),
        connections,
    }
}

/// `now - before`, or `now` when the counter went down (it was reset).
fn counter_delta(now: u64, before: u64) -> u64 {
    now.checked_sub(before).unwrap_or(now)
}
