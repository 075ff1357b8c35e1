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
//! - Connection rows (without `-P`) name a socket, `tcp4 a:p<->b:p` (also `tcp6`, `udp4`,
//!   `udp6`; see [`parse_connection`]) and belong to the process row above them. Bytes are taken
//!   from process rows only; connections are kept for their remote addresses.
//!
//! Counters are cumulative. [`Deltas`] turns them into bytes per sample:
//! - the **first sample of a nettop run is a baseline** and reports nothing: its counters hold
//!   what the processes' open sockets moved before netmon was watching (the real fixture shows
//!   mDNSResponder at 258 MB in nettop's first sample);
//! - a PID first seen in a later sample reports its whole first reading: its sockets are new
//!   since the previous sample;
//! - a PID that disappears is forgotten (a reused PID starts over);
//! - a counter that goes down (nettop or the process reset it) reports its new value, never a
//!   negative amount.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::supervise::{Backoff, CommandSpec, Event, Supervised};
use super::{CaptureError, CaptureSource, Observation, ProcessBytes};
use crate::process::ProcessCache;

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

/// The remote endpoints of a snapshot's connections, per PID (for a later domain mapping).
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

/// Turns cumulative per-process counters into bytes per sample (rules in the module docs).
#[derive(Debug, Default)]
pub struct Deltas {
    previous: Option<HashMap<(u32, String), (u64, u64)>>,
}

/// Bytes a process moved since the previous sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub pid: u32,
    pub name: String,
    pub received: u64,
    pub sent: u64,
}

impl Deltas {
    /// The bytes each process moved since the previous snapshot; nothing for the first one.
    /// Processes that moved nothing are left out.
    pub fn next(&mut self, snapshot: &Snapshot) -> Vec<Delta> {
        let current: HashMap<(u32, String), (u64, u64)> = snapshot
            .iter()
            .map(|row| ((row.pid, row.name.clone()), (row.bytes_in, row.bytes_out)))
            .collect();
        let deltas = self
            .previous
            .as_ref()
            .map(|previous| {
                current
                    .iter()
                    .map(|(key, &now)| delta(key, now, previous.get(key).copied()))
                    .filter(|delta| delta.received > 0 || delta.sent > 0)
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

fn delta(key: &(u32, String), now: (u64, u64), before: Option<(u64, u64)>) -> Delta {
    let (before_in, before_out) = before.unwrap_or_default();
    Delta {
        pid: key.0,
        name: key.1.clone(),
        received: counter_delta(now.0, before_in),
        sent: counter_delta(now.1, before_out),
    }
}

/// `now - before`, or `now` when the counter went down (it was reset).
fn counter_delta(now: u64, before: u64) -> u64 {
    now.checked_sub(before).unwrap_or(now)
}

/// The nettop capture source: a supervised nettop child, parsed and turned into
/// [`Observation::ProcessBytes`].
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
        Observation::ProcessBytes(ProcessBytes {
            process: self.processes.get(delta.pid, &delta.name),
            sent: delta.sent,
            received: delta.received,
        })
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
        assert_eq!(
            deltas.next(&snapshots[1]),
            [d(4242, "Google Chrome H", 4000, 500)]
        );
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

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec("[a-z0-9.,:<>\\-\" *\\[\\]%]{0,60}", 0..20)) {
            let mut parser = Parser::default();
            let mut deltas = Deltas::default();
            parser.line("time,,bytes_in,bytes_out,");
            for line in &lines {
                if let Some(snapshot) = parser.line(line) {
                    deltas.next(&snapshot);
                }
            }
        }
    }
}
