//! What the sampler emits every `sampling_interval_seconds`: plain values that the store
//! writes, the server streams and the CLI prints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Direction of traffic, seen from this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Sent by this machine (upload).
    Sent,
    /// Received by this machine (download).
    Received,
}

/// Application name under which bytes that no process could be found for are kept.
pub const UNKNOWN_APP: &str = "unknown";

/// How a destination's hostname was learned, strongest source first (docs/domains.md).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Enum),
    oai(rename_all = "lowercase")
)]
pub enum Provenance {
    /// The flow's own TLS or QUIC ClientHello server name.
    Sni,
    /// The `Host` header of the flow's plain-HTTP request.
    Http,
    /// The browser extension's report of hostnames at the flow's remote address.
    Extension,
    /// The DNS answer for the remote address current when the flow began.
    Dns,
    /// No source named it: the host is the remote address.
    #[default]
    Unresolved,
}

impl Provenance {
    /// Every provenance, strongest first.
    pub const ALL: [Provenance; 5] = [
        Provenance::Sni,
        Provenance::Http,
        Provenance::Extension,
        Provenance::Dns,
        Provenance::Unresolved,
    ];

    /// The name used in JSON and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Sni => "sni",
            Provenance::Http => "http",
            Provenance::Extension => "extension",
            Provenance::Dns => "dns",
            Provenance::Unresolved => "unresolved",
        }
    }
}

/// Where traffic went, when known: the hostname, its registrable domain
/// (`api.netflix.com`, `netflix.com`) and how the hostname was learned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Destination {
    pub host: String,
    pub domain: String,
    #[serde(default)]
    pub provenance: Provenance,
}

/// Bytes and packets of one application (and destination, when tracked) in one direction
/// during one sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub app: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    pub direction: Direction,
    /// IP bytes (IP header included, link-layer header excluded).
    pub bytes: u64,
    pub packets: u64,
}

impl Usage {
    /// `bytes` of `app` in one direction, carried by one packet, with no destination;
    /// [`Usage::to`] and [`Usage::in_packets`] fill in the rest.
    pub fn new(app: impl Into<String>, direction: Direction, bytes: u64) -> Self {
        Self {
            app: app.into(),
            destination: None,
            direction,
            bytes,
            packets: 1,
        }
    }

    /// The same usage, sent to or received from `host` (under `domain`), named by `provenance`.
    pub fn to(self, host: &str, domain: &str, provenance: Provenance) -> Self {
        Self {
            destination: Some(Destination {
                host: host.into(),
                domain: domain.into(),
                provenance,
            }),
            ..self
        }
    }

    /// The same usage, carried by `packets` packets.
    pub fn in_packets(self, packets: u64) -> Self {
        Self { packets, ..self }
    }
}

/// A process that carried traffic during a sample.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProcessSeen {
    pub pid: u32,
    /// The application the process is grouped under.
    pub app: String,
    /// The process's own name (`comm` on Linux).
    pub name: String,
    /// Full path of the executable, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
}

/// Counters of one sample beyond per-application usage: for the live view and diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleStats {
    /// IP packets counted (sent and received).
    pub packets: u64,
    /// IP bytes counted (sent and received).
    pub bytes: u64,
    /// Flows (5-tuples) that carried traffic during the sample.
    pub active_flows: u64,
    /// Bytes counted under [`UNKNOWN_APP`].
    pub unknown_bytes: u64,
    /// Bytes attributed by a flow's remote endpoint because its socket was gone before it could
    /// be read (see ARCHITECTURE.md, attribution).
    pub inferred_bytes: u64,
    /// Bytes between two addresses of this machine (loopback); not counted as usage.
    pub local_bytes: u64,
    /// Bytes neither from nor to this machine (forwarded, bridged); not counted as usage.
    pub transit_bytes: u64,
    /// Frames that could not be read as IP (ARP, malformed); not counted as usage.
    pub skipped_frames: u64,
    /// Packets the capture source reported as dropped since the previous sample.
    pub dropped_packets: u64,
    /// Each VPN's tunnel during the sample: the clear bytes it carried (counted under the
    /// applications) and the outer bytes that carried them, of which only the overhead is
    /// counted, under the VPN (docs/vpn.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tunnels: Vec<TunnelUsage>,
}

/// One VPN during one sample. Its applications' traffic crossed its tunnel interfaces in clear
/// (`inner_*`, counted under each application); the VPN carried it over the physical link
/// encrypted (`outer_*`, its transport). Totals count the inner bytes once, plus the
/// [`overhead`](TunnelUsage::overhead) under the VPN: never inner and outer both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelUsage {
    /// The VPN: its process's application, or its tunnel interfaces' names for a VPN inside the
    /// kernel (WireGuard, IPsec) whose packets no process owns.
    pub vpn: String,
    /// The tunnel interfaces (`utun3`, `wg0`).
    pub interfaces: Vec<String>,
    /// Clear bytes that crossed the tunnel interfaces.
    pub inner_sent: u64,
    pub inner_received: u64,
    /// Bytes of the transport: the VPN's own packets on the physical link.
    pub outer_sent: u64,
    pub outer_received: u64,
}

impl TunnelUsage {
    /// What the tunnel cost in `direction`: outer bytes less the inner bytes they carried
    /// (never below zero: a transport that carried less than its tunnel costs nothing extra).
    pub fn overhead(&self, direction: Direction) -> u64 {
        match direction {
            Direction::Sent => self.outer_sent.saturating_sub(self.inner_sent),
            Direction::Received => self.outer_received.saturating_sub(self.inner_received),
        }
    }
}

/// Everything counted during one sampling interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Start of the interval, milliseconds since the Unix epoch (UTC).
    pub start_ms: i64,
    /// End of the interval, milliseconds since the Unix epoch (UTC).
    pub end_ms: i64,
    pub usage: Vec<Usage>,
    pub processes: Vec<ProcessSeen>,
    pub stats: SampleStats,
}

impl Sample {
    /// Bytes of `app` in `direction` during this sample.
    pub fn bytes_of(&self, app: &str, direction: Direction) -> u64 {
        self.usage
            .iter()
            .filter(|usage| usage.app == app && usage.direction == direction)
            .map(|usage| usage.bytes)
            .sum()
    }

    /// Length of the interval in seconds (never zero, so rates are defined).
    pub fn seconds(&self) -> f64 {
        ((self.end_ms - self.start_ms).max(1)) as f64 / 1000.0
    }

    /// Bytes per second in `direction`, all applications together.
    pub fn rate(&self, direction: Direction) -> f64 {
        self.usage
            .iter()
            .filter(|usage| usage.direction == direction)
            .map(|usage| usage.bytes)
            .sum::<u64>() as f64
            / self.seconds()
    }

    /// Each application's rates during this sample, busiest first (the live view of the API
    /// and `netmon run --foreground` both show these).
    pub fn app_rates(&self) -> Vec<AppRate> {
        let seconds = self.seconds();
        let per_app =
            self.usage
                .iter()
                .fold(BTreeMap::<&str, (u64, u64)>::new(), |mut totals, usage| {
                    let entry = totals.entry(usage.app.as_str()).or_default();
                    match usage.direction {
                        Direction::Received => entry.0 += usage.bytes,
                        Direction::Sent => entry.1 += usage.bytes,
                    }
                    totals
                });
        let mut rates: Vec<AppRate> = per_app
            .into_iter()
            .map(|(app, (received, sent))| AppRate {
                app: app.to_string(),
                received_bytes_per_second: received as f64 / seconds,
                sent_bytes_per_second: sent as f64 / seconds,
            })
            .collect();
        rates.sort_by(|a, b| b.total().total_cmp(&a.total()));
        rates
    }
}

/// Rates of one application during one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct AppRate {
    pub app: String,
    pub received_bytes_per_second: f64,
    pub sent_bytes_per_second: f64,
}

impl AppRate {
    /// Received plus sent, per second.
    pub fn total(&self) -> f64 {
        self.received_bytes_per_second + self.sent_bytes_per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(app: &str, direction: Direction, bytes: u64) -> Usage {
        Usage::new(app, direction, bytes)
    }

    #[test]
    fn rates_per_application_busiest_first() {
        let sample = Sample {
            start_ms: 0,
            end_ms: 2000,
            usage: vec![
                usage("small", Direction::Sent, 100),
                usage("big", Direction::Received, 4000),
                usage("big", Direction::Sent, 1000),
                usage("big", Direction::Received, 1000),
            ],
            processes: vec![],
            stats: SampleStats::default(),
        };
        let rates = sample.app_rates();
        assert_eq!(rates.len(), 2);
        assert_eq!(rates[0].app, "big");
        assert_eq!(rates[0].received_bytes_per_second, 2500.0);
        assert_eq!(rates[0].sent_bytes_per_second, 500.0);
        assert_eq!(rates[1].total(), 50.0);
        assert_eq!(sample.rate(Direction::Received), 2500.0);
        assert_eq!(sample.rate(Direction::Sent), 550.0);
    }
}
