//! macOS `nettop` as a capture source: per-process byte counters without root.
//!
//! Three parts, each usable alone (the fuzz target drives the first two on any system):
//! [`parse`] reads the CSV into [`Snapshot`]s, [`deltas`] turns cumulative counters into bytes
//! per sample, [`source`] runs nettop under supervision and reports [`super::Observation`]s.
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

mod deltas;
mod parse;
mod source;
#[cfg(test)]
mod tests;

pub use deltas::{Delta, Deltas};
pub use parse::{
    parse_all, parse_connection, remote_endpoints, split_process, Connection, Parser, ProcessRow,
    Snapshot,
};
pub use source::NettopSource;

use super::supervise::CommandSpec;

/// The `nettop` binary.
pub const NETTOP: &str = "/usr/bin/nettop";
/// `script` gives nettop a pseudo-terminal, so it writes each line at once instead of
/// buffering its output when it goes to a pipe.
pub const SCRIPT: &str = "/usr/bin/script";

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
