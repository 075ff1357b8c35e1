//! `GET /metrics`: Prometheus/OpenMetrics text for a Prometheus that already watches other
//! machines (docs/metrics.md). Off unless `metrics_enabled`; served behind the same security gate
//! as everything else (127.0.0.1 only, Host checked).
//!
//! Two pure parts, tested on their own:
//! - [`Tally`]: bytes since start per name (application or registrable domain) and direction,
//!   with at most `metrics_top_n` names exposed on their own and the rest summed as `other`.
//!   A name gets a series while it is among the top N by bytes since start; its series counts
//!   the bytes from then on, and `other` counts every byte of a name while it has none, so every
//!   series only grows (a counter) and the series add up to the total.
//! - [`exposition`]: a [`Snapshot`] of those values → the OpenMetrics text, encoded by the
//!   `prometheus-client` crate.

use std::collections::{BTreeMap, HashMap};

use netmon_core::sample::{Direction, Sample};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// The label value of the bytes of every name without a series of its own.
pub const OTHER: &str = "other";

/// Most names whose totals are ranked; names first seen beyond it count under [`OTHER`] only
/// (bounds memory on a machine that visits very many domains).
const MAX_RANKED: usize = 10_000;

/// The `Content-Type` of [`exposition`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bytes sent and received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bytes {
    pub sent: u64,
    pub received: u64,
}

impl Bytes {
    fn add(&mut self, direction: Direction, bytes: u64) {
        let counter = match direction {
            Direction::Sent => &mut self.sent,
            Direction::Received => &mut self.received,
        };
        *counter = counter.saturating_add(bytes);
    }

    fn total(self) -> u64 {
        self.sent.saturating_add(self.received)
    }
}

/// Bytes per name since start, of which at most `limit` names are exposed on their own.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Every ranked name's bytes since start.
    totals: HashMap<String, Bytes>,
    /// The exposed names' bytes since each got its series.
    named: BTreeMap<String, Bytes>,
    /// The bytes of names while they had no series.
    other: Bytes,
}

impl Tally {
    /// Counts one sample's `(name, direction, bytes)` items: first into the totals, then the
    /// top `limit` names are chosen, then each item goes to its name's series or to `other`.
    pub fn add<'a>(
        &mut self,
        items: impl Iterator<Item = (&'a str, Direction, u64)> + Clone,
        limit: usize,
    ) {
        items.clone().for_each(|(name, direction, bytes)| {
            if let Some(total) = self.total_of(name) {
                total.add(direction, bytes);
            }
        });
        self.rank(limit);
        items.for_each(|(name, direction, bytes)| {
            self.named
                .get_mut(name)
                .unwrap_or(&mut self.other)
                .add(direction, bytes)
        });
    }

    /// The totals of `name`, added when there is room to rank it.
    fn total_of(&mut self, name: &str) -> Option<&mut Bytes> {
        if !self.totals.contains_key(name) && self.totals.len() >= MAX_RANKED {
            return None;
        }
        Some(self.totals.entry(name.to_string()).or_default())
    }

    /// Keeps the series of the top `limit` names by bytes since start (ties by name; a name
    /// spelled `other` is never one): names that left the top lose theirs, names that entered
    /// get one, starting at zero.
    fn rank(&mut self, limit: usize) {
        let mut ranked: Vec<(&String, u64)> = self
            .totals
            .iter()
            .filter(|(name, _)| name.as_str() != OTHER)
            .map(|(name, bytes)| (name, bytes.total()))
            .collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let top: Vec<String> = ranked
            .into_iter()
            .take(limit)
            .map(|(name, _)| name.clone())
            .collect();
        self.named.retain(|name, _| top.contains(name));
        top.into_iter().for_each(|name| {
            self.named.entry(name).or_default();
        });
    }

    /// The exposed series, by name, then `other`.
    pub fn series(&self) -> Vec<(String, Bytes)> {
        self.named
            .iter()
            .map(|(name, bytes)| (name.clone(), *bytes))
            .chain(std::iter::once((OTHER.to_string(), self.other)))
            .collect()
    }
}

/// What the daemon counted since start, per application and registrable domain.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub applications: Tally,
    pub domains: Tally,
    /// Packets the capture source reported as dropped.
    pub dropped_packets: u64,
}

impl Counts {
    /// Adds one sample, with at most `limit` applications and `limit` domains exposed.
    pub fn add(&mut self, sample: &Sample, limit: usize) {
        let by_app = sample
            .usage
            .iter()
            .map(|usage| (usage.app.as_str(), usage.direction, usage.bytes));
        let by_domain = sample.usage.iter().filter_map(|usage| {
            let domain = usage.destination.as_ref()?.domain.as_str();
            Some((domain, usage.direction, usage.bytes))
        });
        self.applications.add(by_app, limit);
        self.domains.add(by_domain, limit);
        self.dropped_packets = self
            .dropped_packets
            .saturating_add(sample.stats.dropped_packets);
    }
}

/// Every value `/metrics` shows.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub applications: Vec<(String, Bytes)>,
    pub domains: Vec<(String, Bytes)>,
    pub dropped_packets: u64,
    pub samples: u64,
    /// Size of the database file, when there is one.
    pub database_bytes: Option<u64>,
}

impl Snapshot {
    /// The snapshot of `counts` with the other values.
    pub fn of(counts: &Counts, samples: u64, database_bytes: Option<u64>) -> Self {
        Self {
            applications: counts.applications.series(),
            domains: counts.domains.series(),
            dropped_packets: counts.dropped_packets,
            samples,
            database_bytes,
        }
    }
}

/// The `direction` label, spelled as its values are.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
enum Way {
    sent,
    received,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApplicationLabels {
    application: String,
    direction: Way,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DomainLabels {
    domain: String,
    direction: Way,
}

/// A counter family with one series per name and direction.
fn family<L: Clone + std::hash::Hash + Eq>(
    series: &[(String, Bytes)],
    labels: impl Fn(String, Way) -> L,
) -> Family<L, Counter> {
    let family = Family::<L, Counter>::default();
    series.iter().for_each(|(name, bytes)| {
        family
            .get_or_create(&labels(name.clone(), Way::sent))
            .inc_by(bytes.sent);
        family
            .get_or_create(&labels(name.clone(), Way::received))
            .inc_by(bytes.received);
    });
    family
}

fn counter(value: u64) -> Counter {
    let counter = Counter::default();
    counter.inc_by(value);
    counter
}

/// The OpenMetrics text of `snapshot` (names prefixed `netmon_`; docs/metrics.md lists them).
pub fn exposition(snapshot: &Snapshot) -> String {
    let mut registry = Registry::with_prefix("netmon");
    registry.register_with_unit(
        "application",
        "IP bytes per application since metrics were enabled (top metrics_top_n, the rest as other)",
        Unit::Bytes,
        family(&snapshot.applications, |application, direction| {
            ApplicationLabels {
                application,
                direction,
            }
        }),
    );
    registry.register_with_unit(
        "domain",
        "IP bytes per registrable domain since metrics were enabled (top metrics_top_n, the rest as other)",
        Unit::Bytes,
        family(&snapshot.domains, |domain, direction| DomainLabels {
            domain,
            direction,
        }),
    );
    registry.register(
        "capture_dropped_packets",
        "Packets the capture source dropped since metrics were enabled",
        counter(snapshot.dropped_packets),
    );
    registry.register(
        "samples",
        "Samples taken since netmon started",
        counter(snapshot.samples),
    );
    if let Some(bytes) = snapshot.database_bytes {
        let gauge = Gauge::<i64>::default();
        gauge.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        registry.register_with_unit(
            "database",
            "Size of the history database file",
            Unit::Bytes,
            gauge,
        );
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .expect("writing to a String cannot fail");
    text
}

#[cfg(test)]
mod tests;
