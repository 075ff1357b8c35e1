//! nettop's CSV, line by line, into [`Snapshot`]s of process rows with their connection rows
//! (format in the parent module's docs). Pure: never panics on any input (fuzzed).

use std::net::{IpAddr, SocketAddr};

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
