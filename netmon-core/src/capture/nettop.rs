//! macOS `nettop` as a capture source: per-process byte counters without root.
//!
//! netmon runs `nettop` in logging mode (see [`command`]) and reads its CSV:
//!
//! ```text
//! time,,bytes_in,bytes_out,
//! 07:19:06.615143,apsd.143,88123,48794,
//! 07:19:06.615144,tcp4 192.168.1.5:53000<->17.253.144.10:443,88000,48000,
//! ```
//!
//! - A header line (first field `time`) starts a sample; a sample is complete when the next
//!   header arrives, so each sample is reported one interval late.
//! - Process rows name `name.PID`, split on the **last** dot (names may hold dots and spaces).
//!   nettop does not quote names; a name holding commas makes its row longer than the header,
//!   and the extra fields are joined back into the name. A name in double quotes is unquoted.
//! - Connection rows (netmon runs nettop without `-P`) name a socket, `tcp4 a:p<->b:p` (also
//!   `tcp6`, `udp4`, `udp6`; see [`parse_connection`]) and belong to the process row above
//!   them. A connection with a remote address gets its own bytes, so the tracker can credit
//!   them to that address's hostname; the process row's bytes that its connection rows do not
//!   cover (closed sockets, unconnected ones such as `*:*`) stay the process's, without a
//!   destination ([`Delta::outside_connections`]): a process's bytes are counted once.
//!
//! Counters are cumulative. [`Deltas`] turns them into bytes per sample, the same way for a
//! process and for each of its connections (keyed by protocol and both endpoints):
//! - the **first sample of a nettop run is a baseline** and reports nothing: its counters hold
//!   what the processes' open sockets moved before netmon was watching (the real fixture shows
//!   mDNSResponder at 258 MB in nettop's first sample);
//! - a PID first seen in a later sample reports its whole first reading: its sockets are new
//!   since the previous sample;
//! - a PID (or connection) that disappears is forgotten (a reused PID or 4-tuple starts
//!   over);
//! - a counter that goes down (nettop or the process reset it) reports its new value, never a
//!   negative amount.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::supervise::{Backoff, CommandSpec, Event, Supervised};
use super::{CaptureError, CaptureSource, ConnectionBytes, Observation, ProcessBytes};
use crate::process::{ProcessCache, ProcessInfo};

/// The `nettop` binary.
pub const NETTOP: &str = "/usr/bin/nettop";
/// `script` gives nettop a pseudo-terminal, so it writes each line at once instead of
/// buffering its output when it goes to a pipe.
pub const SCRIPT: &str = "/usr/bin/script";
/// Longest wait in one poll.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// The command netmon runs: nettop logging forever (`-L 0`) every `interval_seconds` (`-s`),
/// raw numbers (`-x`), no name resolution (`-n`), the byte columns only (`-J`), on interfaces
/// other than loopback (`-t external`: loopback traffic is local, not usage). `per_process`
/// adds `-P` (process rows only); without it nettop adds a row per connection.
pub fn command(interval_seconds: u64, per_process: bool) -> CommandSpec {
    let interval = interval_seconds.max(1).to_string();
    let nettop = [NETTOP]
        .into_iter()
        .chain(per_process.then_some("-P"))
        .chain(["-L", "0", "-s", &interval, "-x", "-n", "-t", "external"])
        .chain(["-J", "bytes_in,bytes_out"]);
    CommandSpec {
        program: SCRIPT.into(),
        args: ["-q", "/dev/null"]
            .into_iter()
            .chain(nettop)
            .map(str::to_string)
            .collect(),
    }
}

/// One process's cumulative counters in a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRow {
    pub pid: u32,
    pub name: String,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The connection rows that followed it (without `-P`).
    pub connections: Vec<Connection>,
}

/// A connection row: one socket of the process above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// IP protocol number: 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    /// `None` when nettop shows `*` (unbound).
    pub local: Option<SocketAddr>,
    /// `None` when nettop shows `*` (not connected).
    pub remote: Option<SocketAddr>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One complete nettop sample.
pub type Snapshot = Vec<ProcessRow>;

/// Where the byte columns are, from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    fields: usize,
    bytes_in: usize,
    bytes_out: usize,
}

/// Reads nettop's output line by line into [`Snapshot`]s.
#[derive(Debug, Default)]
pub struct Parser {
    columns: Option<Columns>,
    rows: Vec<ProcessRow>,
}

impl Parser {
    /// Reads one line; returns the previous sample when `line` starts a new one.
    pub fn line(&mut self, line: &str) -> Option<Snapshot> {
        let fields = split_csv(line.trim_end_matches(['\r', '\n']));
        if fields.first().is_some_and(|first| first == "time") {
            let done = self
                .columns
                .is_some()
                .then(|| std::mem::take(&mut self.rows));
            self.columns = Some(columns(&fields));
            return done.filter(|rows| !rows.is_empty());
        }
        if let Some(columns) = self.columns {
            self.row(columns, &fields);
        }
        None
    }

    /// Forgets a partial sample (the child exited mid-sample).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    fn row(&mut self, columns: Columns, fields: &[String]) {
        let Some((name, counters)) = name_and_counters(columns, fields) else {
            return;
        };
        let bytes_in = counter(&counters, columns.bytes_in);
        let bytes_out = counter(&counters, columns.bytes_out);
        if let Some((protocol, local, remote)) = parse_connection(&name) {
            if let Some(process) = self.rows.last_mut() {
                process.connections.push(Connection {
                    protocol,
                    local,
                    remote,
                    bytes_in,
                    bytes_out,
                });
            }
        } else if let Some((name, pid)) = split_process(&name) {
            self.rows.push(ProcessRow {
                pid,
                name,
                bytes_in,
                bytes_out,
                connections: Vec::new(),
            });
        }
    }
}

/// Every snapshot in `text` (all lines; the last sample is complete at the end of the text).
pub fn parse_all(text: &str) -> Vec<Snapshot> {
    let mut parser = Parser::default();
    let mut snapshots: Vec<Snapshot> = text.lines().filter_map(|line| parser.line(line)).collect();
    snapshots.extend(parser.line("time").filter(|rows| !rows.is_empty()));
    snapshots
}

/// The remote endpoints of a snapshot's connections, per PID.
pub fn remote_endpoints(snapshot: &Snapshot) -> Vec<(u32, u8, SocketAddr)> {
    snapshot
        .iter()
        .flat_map(|process| {
            process.connections.iter().filter_map(move |connection| {
                Some((process.pid, connection.protocol, connection.remote?))
            })
        })
        .collect()
}

fn columns(header: &[String]) -> Columns {
    let find = |name: &str, default| header.iter().position(|f| f == name).unwrap_or(default);
    Columns {
        fields: header.len(),
        bytes_in: find("bytes_in", 2),
        bytes_out: find("bytes_out", 3),
    }
}

/// The row's name (column 1, rejoined when it held commas) and its fields with the name's extra
/// fields removed, so the header's column numbers apply.
fn name_and_counters(columns: Columns, fields: &[String]) -> Option<(String, Vec<String>)> {
    let extra = fields.len().saturating_sub(columns.fields);
    let name_end = 2usize.checked_add(extra)?;
    let name = fields.get(1..name_end)?.join(",");
    let counters = fields
        .get(..1)?
        .iter()
        .chain(std::iter::once(&name))
        .chain(fields.get(name_end..).unwrap_or_default())
        .cloned()
        .collect();
    Some((name.trim().to_string(), counters))
}

fn counter(fields: &[String], at: usize) -> u64 {
    fields
        .get(at)
        .and_then(|field| field.trim().parse().ok())
        .unwrap_or_default()
}

/// `name.PID` → (name, PID), split on the last dot. `None` without a dot or numeric PID.
pub fn split_process(field: &str) -> Option<(String, u32)> {
    let (name, pid) = field.rsplit_once('.')?;
    let pid = pid.trim().parse().ok()?;
    Some((name.to_string(), pid))
}

/// A connection row's name: `tcp4 192.168.1.5:53000<->17.253.144.10:443` → (6, local,
/// remote). Endpoints are `a.b.c.d:port`, `[v6]:port`, `v6.port` (IPv6 with a dot before the
/// port) or `v6:port`; `*` parts are unknown; a `%scope` suffix is dropped.
pub fn parse_connection(field: &str) -> Option<(u8, Option<SocketAddr>, Option<SocketAddr>)> {
    let (kind, endpoints) = field.trim().split_once(' ')?;
    let protocol = match kind {
        "tcp4" | "tcp6" => 6,
        "udp4" | "udp6" => 17,
        _ => return None,
    };
    let (local, remote) = endpoints.trim().split_once("<->")?;
    Some((protocol, parse_endpoint(local), parse_endpoint(remote)))
}

fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    let dotted = text
        .rsplit_once('.')
        .filter(|(ip, _)| ip.contains(':'))
        .and_then(|(ip, port)| endpoint(ip, port));
    dotted.or_else(|| {
        text.rsplit_once(':')
            .and_then(|(ip, port)| endpoint(ip, port))
    })
}

fn endpoint(ip: &str, port: &str) -> Option<SocketAddr> {
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip = ip.split_once('%').map_or(ip, |(ip, _scope)| ip);
    let ip: IpAddr = ip.parse().ok()?;
    Some(SocketAddr::new(ip, port.parse().ok()?))
}

/// Splits a CSV line on commas, honouring double quotes (`""` inside quotes is one `"`).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let field = fields.last_mut();
        match (c, quoted, field) {
            ('"', true, Some(field)) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _, _) => quoted = !quoted,
            (',', false, _) => fields.push(String::new()),
            (c, _, Some(field)) => field.push(c),
            (_, _, None) => {}
        }
    }
    fields
}

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

/// The nettop capture source: a supervised nettop child, parsed and turned into
/// [`Observation::ProcessBytes`] (with each connection's bytes apart).
pub struct NettopSource {
    child: Supervised,
    parser: Parser,
    deltas: Deltas,
    processes: ProcessCache,
    events: Vec<Event>,
}

impl NettopSource {
    /// Starts `spec` (see [`command`]); `processes` names the processes it reports.
    pub fn start(spec: CommandSpec, processes: ProcessCache) -> Result<Self, CaptureError> {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let child = Supervised::start(spec, backoff).map_err(|error| CaptureError::Failed {
            device: "nettop".into(),
            detail: error.to_string(),
        })?;
        Ok(Self {
            child,
            parser: Parser::default(),
            deltas: Deltas::default(),
            processes,
            events: Vec::new(),
        })
    }

    fn handle(&mut self, event: Event, batch: &mut Vec<Observation>) {
        match event {
            Event::Line(line) => {
                if let Some(snapshot) = self.parser.line(&line) {
                    let deltas = self.deltas.next(&snapshot);
                    let alive: std::collections::HashSet<u32> =
                        snapshot.iter().map(|row| row.pid).collect();
                    self.processes.retain(|pid| alive.contains(&pid));
                    batch.extend(deltas.into_iter().map(|delta| self.observation(delta)));
                }
            }
            Event::Exited | Event::Started => {
                self.parser.reset();
                self.deltas.reset();
            }
        }
    }

    fn observation(&mut self, delta: Delta) -> Observation {
        let process = self.processes.get(delta.pid, &delta.name);
        Observation::ProcessBytes(delta.into_report(process))
    }
}

impl CaptureSource for NettopSource {
    fn describe(&self) -> String {
        "nettop".into()
    }

    fn poll(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
        let mut events = std::mem::take(&mut self.events);
        self.child.poll(POLL_TIMEOUT, &mut events);
        events.drain(..).for_each(|event| self.handle(event, batch));
        self.events = events;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// REAL `nettop -P -L 1` output (see the fixture's README).
    const REAL: &str = include_str!("../../fixtures/nettop/per-process-L1.csv");

    fn row(pid: u32, name: &str, bytes_in: u64, bytes_out: u64) -> ProcessRow {
        ProcessRow {
            pid,
            name: name.into(),
            bytes_in,
            bytes_out,
            connections: Vec::new(),
        }
    }

    #[test]
    fn the_real_fixture_parses() {
        let snapshots = parse_all(REAL);
        assert_eq!(snapshots.len(), 1);
        let rows = &snapshots[0];
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0], row(1, "launchd", 0, 0));
        assert_eq!(rows[1], row(137, "syslogd", 0, 681));
        assert_eq!(rows[3], row(171, "AirPlayXPCHelpe", 37_142_334, 10_465_911));
        assert_eq!(rows[4], row(205, "mDNSResponder", 257_939_763, 16_666_588));
    }

    /// SYNTHETIC: a per-connection stream (see fixtures/nettop/README.md).
    const CONNECTIONS: &str = include_str!("../../fixtures/nettop/synthetic-connections.csv");

    /// SYNTHETIC: samples of `-J bytes_in,bytes_out` process rows, one string per sample.
    fn stream(samples: &[&[(&str, u64, u64)]]) -> String {
        samples
            .iter()
            .map(|rows| {
                let rows: String = rows
                    .iter()
                    .map(|(name, bytes_in, bytes_out)| {
                        format!("10:00:00.000001,{name},{bytes_in},{bytes_out},\n")
                    })
                    .collect();
                format!("time,,bytes_in,bytes_out,\n{rows}")
            })
            .collect()
    }

    fn deltas_of(text: &str) -> Vec<Vec<Delta>> {
        let mut deltas = Deltas::default();
        parse_all(text)
            .iter()
            .map(|snapshot| {
                let mut found = deltas.next(snapshot);
                found.sort_by_key(|delta| delta.pid);
                found
            })
            .collect()
    }

    fn d(pid: u32, name: &str, received: u64, sent: u64) -> Delta {
        Delta {
            pid,
            name: name.into(),
            received,
            sent,
            connections: Vec::new(),
        }
    }

    #[test]
    fn the_first_sample_is_a_baseline_and_later_ones_are_differences() {
        let text = stream(&[
            &[("apsd.143", 1000, 500), ("curl.9", 10, 10)],
            &[("apsd.143", 1500, 700), ("curl.9", 10, 10)],
            &[("apsd.143", 1500, 900)],
        ]);
        assert_eq!(
            deltas_of(&text),
            [
                vec![],
                vec![d(143, "apsd", 500, 200)],
                vec![d(143, "apsd", 0, 200)]
            ]
        );
    }

    #[test]
    fn new_pids_count_their_first_reading_and_gone_pids_are_forgotten() {
        let text = stream(&[
            &[("apsd.143", 1000, 500)],
            &[("apsd.143", 1000, 500), ("curl.77", 300, 40)],
            &[("apsd.143", 1000, 500)],
            &[("apsd.143", 1000, 500), ("curl.77", 50, 5)],
        ]);
        let deltas = deltas_of(&text);
        assert_eq!(deltas[1], [d(77, "curl", 300, 40)]);
        assert_eq!(deltas[2], []);
        // PID 77 came back (reused): its reading starts over, not from 300.
        assert_eq!(deltas[3], [d(77, "curl", 50, 5)]);
    }

    #[test]
    fn a_counter_that_goes_down_counts_its_new_value() {
        let text = stream(&[
            &[("nsurlsessiond.301", 9000, 9000)],
            &[("nsurlsessiond.301", 100, 9500)],
        ]);
        assert_eq!(deltas_of(&text)[1], [d(301, "nsurlsessiond", 100, 500)]);
    }

    #[test]
    fn names_with_dots_spaces_commas_and_quotes() {
        let text = stream(&[&[
            ("com.apple.WebKi.880", 1, 1),
            ("Google Chrome H.4242", 2, 2),
            ("Foo, Inc. Agent.55", 3, 3),
            ("\"Quoted, App\".56", 4, 4),
            ("no-pid-here", 5, 5),
            ("trailing.", 6, 6),
        ]]);
        let rows = &parse_all(&text)[0];
        let names: Vec<(&str, u32, u64)> = rows
            .iter()
            .map(|row| (row.name.as_str(), row.pid, row.bytes_in))
            .collect();
        assert_eq!(
            names,
            [
                ("com.apple.WebKi", 880, 1),
                ("Google Chrome H", 4242, 2),
                ("Foo, Inc. Agent", 55, 3),
                ("Quoted, App", 56, 4),
            ]
        );
    }

    #[test]
    fn connection_rows_belong_to_the_process_above_them() {
        let snapshots = parse_all(CONNECTIONS);
        assert_eq!(snapshots.len(), 2);
        let chrome = &snapshots[0][0];
        assert_eq!((chrome.pid, chrome.bytes_in), (4242, 5000));
        assert_eq!(chrome.connections.len(), 2);
        assert_eq!(
            chrome.connections[0],
            Connection {
                protocol: 6,
                local: Some("192.168.1.5:53000".parse().unwrap()),
                remote: Some("17.253.144.10:443".parse().unwrap()),
                bytes_in: 4000,
                bytes_out: 800,
            }
        );
        assert_eq!(
            chrome.connections[1].remote,
            Some("[2606:4700::6810:84e5]:443".parse().unwrap())
        );
        let webkit = &snapshots[0][1];
        assert_eq!(webkit.connections.len(), 2);
        assert_eq!(
            webkit.connections[0].local,
            Some("[fe80::1]:5353".parse().unwrap())
        );
        assert_eq!(webkit.connections[0].remote, None);
        assert_eq!(
            remote_endpoints(&snapshots[0]),
            [
                (4242, 6, "17.253.144.10:443".parse().unwrap()),
                (4242, 6, "[2606:4700::6810:84e5]:443".parse().unwrap()),
            ]
        );
        let mut deltas = Deltas::default();
        deltas.next(&snapshots[0]);
        let chrome = Delta {
            connections: vec![conn(6, "192.168.1.5:53000", "17.253.144.10:443", 4000, 500)],
            ..d(4242, "Google Chrome H", 4000, 500)
        };
        assert_eq!(deltas.next(&snapshots[1]), std::slice::from_ref(&chrome));
        assert_eq!(
            chrome.outside_connections(),
            (0, 0),
            "the connection carried all of it"
        );
    }

    /// A connection's bytes; `local` empty when the connection names none.
    fn conn(protocol: u8, local: &str, remote: &str, received: u64, sent: u64) -> ConnectionBytes {
        ConnectionBytes {
            protocol,
            local: local.parse().ok(),
            remote: remote.parse().unwrap(),
            received,
            sent,
        }
    }

    /// SYNTHETIC: connections closing, reappearing, resetting (see fixtures/nettop/README.md).
    const CHURN: &str = include_str!("../../fixtures/nettop/synthetic-connections-churn.csv");

    #[test]
    fn connection_deltas_follow_their_connections_through_churn() {
        let deltas = deltas_of(CHURN);
        assert_eq!(deltas.len(), 3);
        assert_eq!(deltas[0], [], "the first sample is a baseline");
        let chrome = Delta {
            connections: vec![
                // Grew by 3000/400.
                conn(6, "192.168.1.5:53000", "17.253.144.10:443", 3000, 400),
                // New since the baseline: its whole reading.
                conn(
                    6,
                    "[2a01:e0a:1::5]:53002",
                    "[2606:4700::6810:84e5]:443",
                    2500,
                    300,
                ),
                // Went down from 1000/500 (reset): its new value.
                conn(17, "192.168.1.5:61000", "142.250.74.206:443", 200, 100),
            ],
            ..d(4242, "Google Chrome H", 7000, 1000)
        };
        let mdns = d(205, "mDNSResponder", 600, 100);
        let slack = Delta {
            connections: vec![conn(6, "192.168.1.5:53100", "34.237.73.95:443", 800, 200)],
            ..d(5150, "Slack Helper", 800, 200)
        };
        assert_eq!(deltas[1], [mdns.clone(), chrome.clone(), slack.clone()]);
        assert_eq!(
            chrome.outside_connections(),
            (1300, 200),
            "process bytes no connection row covers"
        );
        assert_eq!(
            mdns.outside_connections(),
            (600, 100),
            "an unconnected socket names no remote"
        );
        assert_eq!(slack.outside_connections(), (0, 0));
        // The closed 53001 connection was forgotten: its 4-tuple's return counts from zero,
        // not from the 3000/500 it had at the baseline.
        let returned = Delta {
            connections: vec![conn(6, "192.168.1.5:53001", "142.250.74.206:443", 100, 50)],
            ..d(4242, "Google Chrome H", 100, 50)
        };
        assert_eq!(deltas[2], [returned]);
    }

    #[test]
    fn connections_that_disagree_with_their_process_are_not_counted_twice() {
        let delta = Delta {
            connections: vec![
                conn(6, "", "192.0.2.1:443", 900, 10),
                conn(6, "", "192.0.2.2:443", 300, 10),
            ],
            ..d(1, "x", 1000, 50)
        };
        assert_eq!(delta.outside_connections(), (0, 30));
    }

    #[test]
    fn endpoints_in_every_form() {
        let cases = [
            ("tcp4 10.0.0.1:1<->10.0.0.2:2", "10.0.0.2:2"),
            (
                "udp6 [2001:db8::1]:53<->[2001:db8::2]:5353",
                "[2001:db8::2]:5353",
            ),
            ("tcp6 2001:db8::1.80<->::ffff:1.2.3.4.443", "1.2.3.4:443"),
            ("tcp6 fe80::1%en0:80<->fe80::2%utun3:8080", "[fe80::2]:8080"),
        ];
        for (text, remote) in cases {
            let (_, local, found) = parse_connection(text).unwrap();
            assert!(local.is_some(), "{text}");
            let expected: SocketAddr = remote.parse().unwrap();
            assert_eq!(
                found.map(crate::flow::canonical_socket),
                Some(expected),
                "{text}"
            );
        }
        assert_eq!(parse_connection("icmp4 1.2.3.4<->5.6.7.8"), None);
        assert_eq!(parse_connection("tcp4 garbage"), None);
    }

    #[test]
    fn rows_before_any_header_and_short_rows_are_ignored() {
        let text =
            "07:00:00.1,early.1,5,5,\ntime,,bytes_in,bytes_out,\n\nx\n07:00:00.2,ok.2,7,8,\n";
        let snapshots = parse_all(text);
        assert_eq!(snapshots, [vec![row(2, "ok", 7, 8)]]);
    }

    #[test]
    fn the_command_wraps_nettop_in_script() {
        let spec = command(5, true);
        assert_eq!(spec.program, "/usr/bin/script");
        assert_eq!(
            spec.display(),
            "/usr/bin/script -q /dev/null /usr/bin/nettop -P -L 0 -s 5 -x -n -t external -J bytes_in,bytes_out"
        );
        assert!(!command(0, false).args.contains(&"-P".to_string()));
        assert!(command(0, false).args.contains(&"1".to_string()));
    }

    #[test]
    fn the_source_reports_bytes_and_survives_a_restart() {
        // A SYNTHETIC nettop: two samples, then a third header, then it exits.
        let text = stream(&[&[("apsd.143", 100, 10)], &[("apsd.143", 160, 25)], &[]]);
        let spec = CommandSpec {
            program: "sh".into(),
            args: vec!["-c".into(), format!("printf '%s' '{text}'; sleep 0.2")],
        };
        let processes = ProcessCache::new(Box::new(|_| None));
        let mut source = NettopSource::start(spec, processes).unwrap();
        assert_eq!(source.describe(), "nettop");
        let mut batch = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // Two runs: each reports the same single delta after its baseline.
        while batch.len() < 2 && std::time::Instant::now() < deadline {
            source.poll(&mut batch).unwrap();
        }
        let reports: Vec<(u32, &str, u64, u64)> = batch
            .iter()
            .filter_map(|observation| match observation {
                Observation::ProcessBytes(report) => Some((
                    report.process.pid,
                    report.process.app.as_str(),
                    report.received,
                    report.sent,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(reports, [(143, "apsd", 60, 15), (143, "apsd", 60, 15)]);
    }

    #[test]
    fn the_source_reports_connections_apart_from_the_rest_of_their_process() {
        // A SYNTHETIC nettop without -P: the churn fixture, then it exits.
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/nettop/synthetic-connections-churn.csv"
        );
        let spec = CommandSpec {
            program: "sh".into(),
            args: vec!["-c".into(), format!("cat '{fixture}'; sleep 0.2")],
        };
        let processes = ProcessCache::new(Box::new(|_| None));
        let mut source = NettopSource::start(spec, processes).unwrap();
        let mut batch = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while batch.len() < 3 && std::time::Instant::now() < deadline {
            source.poll(&mut batch).unwrap();
        }
        let mut reports: Vec<ProcessBytes> = batch
            .into_iter()
            .filter_map(|observation| match observation {
                Observation::ProcessBytes(report) => Some(report),
                _ => None,
            })
            .take(3)
            .collect();
        reports.sort_by_key(|report| report.process.pid);
        let summary: Vec<(u32, u64, u64, usize)> = reports
            .iter()
            .map(|report| {
                let (sent, received) = (report.sent, report.received);
                (report.process.pid, received, sent, report.connections.len())
            })
            .collect();
        // The last sample is lost with the exit (it is complete only when a header follows).
        assert_eq!(
            summary,
            [(205, 600, 100, 0), (4242, 1300, 200, 3), (5150, 0, 0, 1)]
        );
        let connections = &reports[1].connections;
        let total = (
            reports[1].sent + connections.iter().map(|c| c.sent).sum::<u64>(),
            reports[1].received + connections.iter().map(|c| c.received).sum::<u64>(),
        );
        assert_eq!(total, (1000, 7000), "the process row's total");
        assert_eq!(
            reports[2].connections,
            [conn(6, "192.168.1.5:53100", "34.237.73.95:443", 800, 200)]
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec("[a-z0-9.,:<>\\-\" *\\[\\]%]{0,60}", 0..20)) {
            let mut parser = Parser::default();
            let mut deltas = Deltas::default();
            parser.line("time,,bytes_in,bytes_out,");
            for line in &lines {
                if let Some(snapshot) = parser.line(line) {
                    for delta in deltas.next(&snapshot) {
                        let (received, sent) = delta.outside_connections();
                        proptest::prop_assert!(received <= delta.received && sent <= delta.sent);
                    }
                }
            }
        }
    }
}
