//! How a flow is named (docs/domains.md): from what was known when it began, strongest first —
//! its own ClientHello server name, the `Host` header of its plain-HTTP request, the browser
//! extension's reports of hostnames on its address, the DNS answer current at its first packet
//! (or given within the race grace after it), the outer name of an ECH ClientHello — else its
//! address as `unresolved`. An ECH outer name that DNS answered for the flow's very address is
//! the site itself, not a provider's public name (ECH GREASE: Chrome and Firefox send the
//! extension in every ClientHello when they have no ECH configuration), so it counts as the
//! flow's own server name. Once named, a flow keeps its name (only a stronger source of its
//! own, SNI or HTTP, can replace it).
//!
//! The extension's reports arrive after the requests they count. At each window close the
//! reports of the last two windows are read per address: one hostname names the address's
//! open flows for good; several split the window's bytes of its flows that nothing stronger
//! named, in proportion to the bytes the browser reported for each hostname (less the bytes
//! flows named by their own packets already carried to it in the window).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::domains::{HostReport, NameMap, Naming};
use crate::flow::FlowKey;
use crate::sample::Provenance;

/// What is known of one flow's server name.
#[derive(Debug, Clone, Default)]
pub(super) struct FlowName {
    /// Named by the flow's own packets: its ClientHello (`Sni`) or HTTP `Host` (`Http`).
    own: Option<(Arc<str>, Provenance)>,
    /// Named by the only hostname the extension reported on its address.
    reported: Option<Arc<str>>,
    /// The DNS answer current at the flow's first packet.
    dns: DnsName,
    /// The public name of an ECH ClientHello (the provider's, not the site's).
    outer: Option<Arc<str>>,
}

#[derive(Debug, Clone, Default)]
enum DnsName {
    /// Not looked up yet, or no answer yet within the race grace.
    #[default]
    Undecided,
    Named(Arc<str>),
    /// No answer was current when the flow began.
    Unnamed,
}

impl FlowName {
    /// Applies what one of the flow's packets named (DNS answers name addresses, not flows).
    pub(super) fn apply(&mut self, naming: &Naming) {
        let stronger_than = |provenance| {
            self.own
                .as_ref()
                .is_none_or(|(_, known)| *known > provenance)
        };
        match naming {
            Naming::Server(host) if stronger_than(Provenance::Sni) => {
                self.own = Some((Arc::from(&**host), Provenance::Sni));
            }
            Naming::HttpHost(host) if stronger_than(Provenance::Http) => {
                self.own = Some((Arc::from(&**host), Provenance::Http));
            }
            Naming::OuterServer(host) => self.outer = Some(Arc::from(&**host)),
            Naming::Server(_) | Naming::HttpHost(_) | Naming::Dns(_) => {}
        }
    }

    /// The flow's hostname and how it was learned, strongest source first (the extension's
    /// split of a window's bytes is applied apart).
    pub(super) fn current(&self) -> (Option<&Arc<str>>, Provenance) {
        if let Some((host, provenance)) = &self.own {
            return (Some(host), *provenance);
        }
        if let Some(host) = &self.reported {
            return (Some(host), Provenance::Extension);
        }
        if let DnsName::Named(host) = &self.dns {
            return (Some(host), Provenance::Dns);
        }
        match &self.outer {
            Some(host) => (Some(host), Provenance::Sni),
            None => (None, Provenance::Unresolved),
        }
    }

    /// What the flow is called now, for the live connections ([`super::connections`]):
    /// [`Self::current`], or while nothing named it and its DNS answer is not decided yet, the
    /// answer `names` holds for its first packet.
    pub(super) fn live(
        &self,
        ip: IpAddr,
        began: Instant,
        names: &NameMap,
    ) -> (Option<Arc<str>>, Provenance) {
        match self.current() {
            (None, _) if matches!(self.dns, DnsName::Undecided) => match names.dns_at(ip, began) {
                Some(host) => (Some(host), Provenance::Dns),
                None => (None, Provenance::Unresolved),
            },
            (host, provenance) => (host.cloned(), provenance),
        }
    }

    /// True while the extension's reports may still name the flow: neither its own packets
    /// nor an earlier report did.
    pub(super) fn open_to_reports(&self) -> bool {
        self.own.is_none() && self.reported.is_none()
    }

    /// Takes an ECH outer name as the flow's own server name when DNS answered that very name
    /// for its address: the client resolved the site it connected to (ECH GREASE). A
    /// provider's public name (`cloudflare-ech.com`) is not what a client resolves to reach a
    /// site, so a real ECH outer name stays weak.
    fn confirm_outer(&mut self, ip: IpAddr, names: &NameMap) {
        if self.own.is_some() {
            return;
        }
        if let Some(outer) = self
            .outer
            .as_ref()
            .filter(|host| names.dns_answered(ip, host))
        {
            self.own = Some((Arc::clone(outer), Provenance::Sni));
        }
    }

    /// Looks up the DNS answer current at `began` once the race grace has passed (or an answer
    /// is found); then it never changes.
    fn decide_dns(&mut self, ip: IpAddr, began: Instant, names: &NameMap, now: Instant) {
        if !matches!(self.dns, DnsName::Undecided) || self.own.is_some() {
            return;
        }
        let waited = now.saturating_duration_since(began) >= names.policy().race_grace;
        self.dns = match names.dns_at(ip, began) {
            Some(host) => DnsName::Named(host),
            None if waited => DnsName::Unnamed,
            None => DnsName::Undecided,
        };
    }
}

/// Hostnames the extension reported on one address with their weights (bytes).
pub(super) type Weights = Vec<(Arc<str>, u64)>;

/// Addresses whose unnamed browser bytes are split this window, with their weights.
pub(super) type Splits = HashMap<IpAddr, Weights>;

/// The extension's reports of the current and the previous window.
#[derive(Debug, Default)]
pub(super) struct ReportWindows {
    previous: Vec<HostReport>,
    current: Vec<HostReport>,
}

impl ReportWindows {
    /// Starts a window with the reports made since the last one.
    fn roll(&mut self, fresh: Vec<HostReport>) {
        self.previous = std::mem::replace(&mut self.current, fresh);
    }

    /// Reported bytes per address and hostname over both windows.
    fn per_address(&self) -> HashMap<IpAddr, BTreeMap<Arc<str>, u64>> {
        self.previous
            .iter()
            .chain(&self.current)
            .fold(HashMap::new(), |mut addresses, report| {
                let hosts: &mut BTreeMap<Arc<str>, u64> =
                    addresses.entry(report.ip.to_canonical()).or_default();
                let bytes = hosts.entry(Arc::clone(&report.host)).or_default();
                *bytes = bytes.saturating_add(report.bytes.max(1));
                addresses
            })
    }
}

/// A flow as the window close sees it: its remote address, first packet, bytes this window,
/// whether the extension's reports may name it (a browser's flow) and its name.
pub(super) struct Open<'a> {
    pub key: &'a FlowKey,
    pub began: Instant,
    pub bytes: u64,
    pub browser: bool,
    pub name: &'a mut FlowName,
}

/// Names the window's flows at its close: DNS as of each flow's first packet, then the
/// extension's reports (taken from `names`). Returns the addresses whose unnamed browser bytes
/// are split this window, with their weights.
pub(super) fn close_window<'a>(
    flows: impl Iterator<Item = Open<'a>>,
    names: &mut NameMap,
    windows: &mut ReportWindows,
    now: Instant,
) -> Splits {
    names.purge_expired(now);
    windows.roll(names.take_reports());
    let mut flows: Vec<Open<'a>> = flows.collect();
    flows.iter_mut().for_each(|flow| {
        let ip = flow.key.remote.ip();
        flow.name.confirm_outer(ip, names);
        flow.name.decide_dns(ip, flow.began, names, now);
    });
    let reported = windows.per_address();
    let mut splits = HashMap::new();
    for (ip, hosts) in reported {
        let on_address = || {
            flows
                .iter()
                .filter(move |flow| flow.key.remote.ip().to_canonical() == ip)
        };
        if let [(host, _)] = hosts.iter().collect::<Vec<_>>()[..] {
            let host = Arc::clone(host);
            flows
                .iter_mut()
                .filter(|flow| flow.key.remote.ip().to_canonical() == ip)
                .filter(|flow| flow.browser && flow.name.open_to_reports())
                .for_each(|flow| flow.name.reported = Some(Arc::clone(&host)));
            continue;
        }
        let named_bytes = |host: &Arc<str>| -> u64 {
            on_address()
                .filter(|flow| !flow.name.open_to_reports())
                .filter(|flow| flow.name.current().0 == Some(host))
                .map(|flow| flow.bytes)
                .sum()
        };
        let residual: Weights = hosts
            .iter()
            .map(|(host, bytes)| (Arc::clone(host), bytes.saturating_sub(named_bytes(host))))
            .collect();
        let weights = if residual.iter().any(|(_, weight)| *weight > 0) {
            residual
        } else {
            hosts.into_iter().collect()
        };
        splits.insert(ip, weights);
    }
    splits
}

/// `total` split in proportion to `weights` (their sum must not be zero); the remainder of the
/// integer division goes to the heaviest, so the parts add up to `total`.
pub(super) fn split(total: u64, weights: &Weights) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|(_, weight)| u128::from(*weight)).sum();
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|(_, weight)| {
            u64::try_from(u128::from(total) * u128::from(*weight) / sum.max(1)).unwrap_or(0)
        })
        .collect();
    let heaviest = (0..weights.len()).max_by_key(|&index| weights[index].1);
    if let Some(index) = heaviest {
        parts[index] += total - parts.iter().sum::<u64>();
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn weights(list: &[(&str, u64)]) -> Weights {
        list.iter()
            .map(|(host, weight)| (Arc::from(*host), *weight))
            .collect()
    }

    #[test]
    fn bytes_split_in_proportion_and_add_up() {
        let three = weights(&[("a.example", 1), ("b.example", 1), ("c.example", 2)]);
        assert_eq!(split(100, &three), [25, 25, 50]);
        assert_eq!(split(101, &three), [25, 25, 51]);
        assert_eq!(split(0, &three), [0, 0, 0]);
    }

    #[test]
    fn a_flow_s_own_name_beats_every_other_source() {
        let mut name = FlowName::default();
        name.apply(&Naming::OuterServer("cloudflare-ech.com".into()));
        assert_eq!(
            name.current().1,
            Provenance::Sni,
            "an outer name is kept as a last resort"
        );
        name.dns = DnsName::Named(Arc::from("dns.example"));
        assert_eq!(
            name.current().1,
            Provenance::Dns,
            "DNS beats an ECH outer name"
        );
        name.reported = Some(Arc::from("report.example"));
        assert_eq!(
            name.current().1,
            Provenance::Extension,
            "the extension beats DNS"
        );
        name.apply(&Naming::HttpHost("http.example".into()));
        assert_eq!(
            name.current(),
            (Some(&Arc::from("http.example")), Provenance::Http)
        );
        name.apply(&Naming::Server("sni.example".into()));
        name.apply(&Naming::HttpHost("later.example".into()));
        assert_eq!(
            name.current(),
            (Some(&Arc::from("sni.example")), Provenance::Sni)
        );
        assert!(!name.open_to_reports());
    }

    proptest! {
        #[test]
        fn parts_always_add_up(total in any::<u64>(), list in proptest::collection::vec(1u64.., 1..20)) {
            let weights: Weights = list
                .iter()
                .enumerate()
                .map(|(n, weight)| (Arc::from(format!("h{n}.example")), *weight))
                .collect();
            let parts = split(total, &weights);
            prop_assert_eq!(parts.iter().map(|&p| u128::from(p)).sum::<u128>(), u128::from(total));
        }
    }
}
