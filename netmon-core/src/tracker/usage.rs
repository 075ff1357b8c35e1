//! A window's usage: bytes and packets per application, destination (for tracked applications)
//! and direction, from the flow table and from per-process reports; and the processes seen.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

use super::naming::{split, Splits, Weights};
use super::{owner_app, Counter, FlowState, Owner};
use crate::capture::{ConnectionBytes, ProcessBytes};
use crate::domains::names::{HostnameMap, NameSource};
use crate::domains::{rollup, DomainPolicy};
use crate::flow::FlowKey;
use crate::sample::{Destination, Direction, ProcessSeen, Provenance};

/// Usage key: application, destination (when tracked), direction.
pub(super) type UsageKey = (String, Option<Destination>, Direction);

/// One application's bytes towards one destination (when tracked) in one direction.
pub(super) type UsageItem<'a> = (&'a str, Option<Destination>, Direction, Counter);

/// A tracked flow's destination: its server's name, else its address under "unresolved".
fn destination_of(
    host: Option<&str>,
    provenance: Provenance,
    remote: IpAddr,
    rollup: bool,
) -> Option<Destination> {
    match host {
        Some(host) => rollup::destination(host, rollup, provenance),
        None => Some(rollup::unresolved(remote)),
    }
}

/// Bytes and packets per application, destination (for tracked applications: the server's name,
/// else its address grouped as unresolved) and direction: flows by their owner, the bytes of
/// browser flows on addresses in `splits` divided between the hostnames reported there, plus
/// `reported` (see [`reported_usage`]).
pub(super) fn usage_totals<'a>(
    active: &[(&'a FlowKey, &'a FlowState)],
    reported: Vec<UsageItem<'a>>,
    domains: &DomainPolicy,
    splits: &Splits,
) -> BTreeMap<UsageKey, Counter> {
    let from_flows = active
        .iter()
        .flat_map(|(key, flow)| flow_usage(key, flow, domains, splits));
    from_flows
        .chain(reported)
        .filter(|(_, _, _, counter)| counter.bytes > 0 || counter.packets > 0)
        .fold(
            BTreeMap::new(),
            |mut totals, (app, destination, direction, counter)| {
                let key = (app.to_string(), destination, direction);
                let total: &mut Counter = totals.entry(key).or_default();
                total.bytes += counter.bytes;
                total.packets += counter.packets;
                totals
            },
        )
}

/// One flow's usage items: under its name, or split between the extension's hostnames.
fn flow_usage<'a>(
    key: &FlowKey,
    flow: &'a FlowState,
    domains: &DomainPolicy,
    splits: &Splits,
) -> Vec<UsageItem<'a>> {
    let app = owner_app(&flow.owner);
    let directions = [
        (Direction::Sent, flow.sent),
        (Direction::Received, flow.received),
    ];
    if !domains.tracks(app) {
        return directions
            .map(|(direction, counter)| (app, None, direction, counter))
            .to_vec();
    }
    let ip = key.remote.ip().to_canonical();
    let split_here = (domains.is_browser(app) && flow.name.open_to_reports())
        .then(|| splits.get(&ip))
        .flatten();
    if let Some(weights) = split_here {
        return directions
            .iter()
            .flat_map(|(direction, counter)| {
                split_counter(app, *direction, *counter, weights, domains)
            })
            .collect();
    }
    let (host, provenance) = flow.name.current();
    let destination = destination_of(host.map(|host| &**host), provenance, ip, domains.rollup);
    directions
        .map(|(direction, counter)| (app, destination.clone(), direction, counter))
        .to_vec()
}

/// `counter` divided between the hostnames of `weights`, each as named by the extension.
fn split_counter<'a>(
    app: &'a str,
    direction: Direction,
    counter: Counter,
    weights: &Weights,
    domains: &DomainPolicy,
) -> Vec<UsageItem<'a>> {
    let bytes = split(counter.bytes, weights);
    let packets = split(counter.packets, weights);
    weights
        .iter()
        .zip(bytes.into_iter().zip(packets))
        .map(|((host, _), (bytes, packets))| {
            let destination = rollup::destination(host, domains.rollup, Provenance::Extension);
            (app, destination, direction, Counter { bytes, packets })
        })
        .collect()
}

/// Usage of per-process reports: each connection's bytes under its remote address's
/// destination (for tracked applications: the name `names` holds for the address now, else the
/// address as unresolved), and the bytes outside the listed connections without a destination.
pub(super) fn reported_usage<'a>(
    reports: &'a [ProcessBytes],
    domains: &DomainPolicy,
    names: &HostnameMap,
    now: Instant,
) -> Vec<UsageItem<'a>> {
    let counter = |bytes| Counter { bytes, packets: 0 };
    let both = |app, destination: Option<Destination>, sent, received| {
        [
            (app, destination.clone(), Direction::Sent, counter(sent)),
            (app, destination, Direction::Received, counter(received)),
        ]
    };
    reports
        .iter()
        .flat_map(|report| {
            let app = report.process.app.as_str();
            let tracked = domains.tracks(app);
            let connections = report.connections.iter().flat_map(move |connection| {
                let destination = tracked
                    .then(|| connection_destination(connection, domains, names, now))
                    .flatten();
                both(app, destination, connection.sent, connection.received)
            });
            both(app, None, report.sent, report.received)
                .into_iter()
                .chain(connections)
        })
        .collect()
}

/// A reported connection's destination: its remote address's current name, else the address.
fn connection_destination(
    connection: &ConnectionBytes,
    domains: &DomainPolicy,
    names: &HostnameMap,
    now: Instant,
) -> Option<Destination> {
    let remote = crate::flow::canonical(connection.remote.ip());
    let known = names.map().lookup(remote, now);
    let provenance = match known.as_ref().map(|known| known.source) {
        Some(NameSource::Extension) => Provenance::Extension,
        Some(NameSource::Dns) => Provenance::Dns,
        None => Provenance::Unresolved,
    };
    let host = known.map(|known| known.host);
    destination_of(host.as_deref(), provenance, remote, domains.rollup)
}

/// The processes that carried the window's traffic, from flows and reports.
pub(super) fn processes_seen(
    active: &[(&FlowKey, &FlowState)],
    reports: &[ProcessBytes],
) -> Vec<ProcessSeen> {
    let from_flows = active.iter().filter_map(|(_, flow)| match &flow.owner {
        Owner::Known(process) => Some(process.as_ref()),
        _ => None,
    });
    let from_reports = reports.iter().map(|report| report.process.as_ref());
    let mut seen: Vec<ProcessSeen> = from_flows
        .chain(from_reports)
        .map(|process| ProcessSeen {
            pid: process.pid,
            app: process.app.clone(),
            name: process.name.clone(),
            exe: process.exe.clone(),
        })
        .collect();
    seen.sort();
    seen.dedup();
    seen
}
