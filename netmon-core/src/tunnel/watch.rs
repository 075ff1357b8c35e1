//! Keeps [`Tunnels`] current: this machine's interfaces and addresses are read at each refresh,
//! and the processes holding tunnel devices open (a scan of every process's descriptors) when
//! the set of tunnel interfaces changed, or every [`HOLDER_RESCAN`] while there are tunnels.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{is_tunnel_name, Holder, Tunnels};

/// How often the holders of tunnel devices are looked for again while tunnels exist (a VPN
/// restarted under the same interface name).
pub const HOLDER_RESCAN: Duration = Duration::from_secs(30);

/// Where the machine's facts come from (the platform's, or a test's).
pub trait TunnelFacts: Send {
    /// Every interface address: (interface name, address).
    fn addresses(&mut self) -> Vec<(String, IpAddr)>;
    /// The processes holding tunnel devices open.
    fn holders(&mut self) -> Vec<Holder>;
    /// Whether interface `name` is a tunnel by its kind.
    fn is_tunnel_kind(&self, name: &str) -> bool;
}

/// The platform's facts ([`crate::os`]).
#[derive(Debug, Default)]
pub struct SystemFacts;

impl TunnelFacts for SystemFacts {
    fn addresses(&mut self) -> Vec<(String, IpAddr)> {
        if_addrs::get_if_addrs()
            .map(|interfaces| {
                interfaces
                    .into_iter()
                    .map(|interface| {
                        let ip = interface.ip();
                        (interface.name, ip)
                    })
                    .collect()
            })
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot read this machine's interfaces");
                Vec::new()
            })
    }

    fn holders(&mut self) -> Vec<Holder> {
        crate::os::tunnel_holders()
    }

    fn is_tunnel_kind(&self, name: &str) -> bool {
        crate::os::is_tunnel_kind(name)
    }
}

/// Follows this machine's tunnels.
pub struct TunnelWatch {
    facts: Box<dyn TunnelFacts>,
    holders: Vec<Holder>,
    /// Tunnel interfaces at the last holder scan, and when it ran.
    scanned: Option<(BTreeSet<String>, Instant)>,
    current: Tunnels,
}

impl Default for TunnelWatch {
    fn default() -> Self {
        Self::new(Box::new(SystemFacts))
    }
}

impl TunnelWatch {
    pub fn new(facts: Box<dyn TunnelFacts>) -> Self {
        Self {
            facts,
            holders: Vec::new(),
            scanned: None,
            current: Tunnels::default(),
        }
    }

    /// Reads the machine again; the tunnels when they changed.
    pub fn refresh(&mut self, now: Instant) -> Option<Tunnels> {
        let addresses = self.facts.addresses();
        // Each interface's kind is read once (an interface has several addresses).
        let names: BTreeSet<&str> = addresses.iter().map(|(name, _)| name.as_str()).collect();
        let kinds: BTreeSet<&str> = names
            .iter()
            .copied()
            .filter(|name| self.facts.is_tunnel_kind(name))
            .collect();
        let candidates: BTreeSet<String> = names
            .iter()
            .filter(|name| is_tunnel_name(name) || kinds.contains(*name))
            .map(|name| name.to_string())
            .collect();
        let rescan = match &self.scanned {
            None => true,
            Some((before, at)) => {
                *before != candidates
                    || (!candidates.is_empty() && now.duration_since(*at) >= HOLDER_RESCAN)
            }
        };
        if rescan {
            self.holders = if candidates.is_empty() {
                Vec::new()
            } else {
                self.facts.holders()
            };
            self.scanned = Some((candidates, now));
        }
        let fresh = Tunnels::new(&addresses, &self.holders, |name| kinds.contains(name));
        if fresh == self.current {
            return None;
        }
        tracing::info!(vpns = ?fresh.names(), "this machine's tunnels changed");
        self.current = fresh.clone();
        Some(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ProcessInfo;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Fake {
        addresses: Arc<Mutex<Vec<(String, IpAddr)>>>,
        scans: Arc<Mutex<usize>>,
    }

    impl TunnelFacts for Fake {
        fn addresses(&mut self) -> Vec<(String, IpAddr)> {
            self.addresses.lock().unwrap().clone()
        }

        fn holders(&mut self) -> Vec<Holder> {
            *self.scans.lock().unwrap() += 1;
            vec![Holder {
                process: Arc::new(ProcessInfo::new(9, "vpnd", None)),
                interface: "tun0".into(),
            }]
        }

        fn is_tunnel_kind(&self, _: &str) -> bool {
            false
        }
    }

    #[test]
    fn holders_are_scanned_when_tunnels_come_and_every_while() {
        let fake = Fake::default();
        let mut watch = TunnelWatch::new(Box::new(fake.clone()));
        let start = Instant::now();
        *fake.addresses.lock().unwrap() = vec![("eth0".into(), "192.168.1.5".parse().unwrap())];
        assert!(watch.refresh(start).is_none(), "no tunnel, no change");
        assert_eq!(*fake.scans.lock().unwrap(), 0, "no tunnel, no scan");
        fake.addresses
            .lock()
            .unwrap()
            .push(("tun0".into(), "10.8.0.1".parse().unwrap()));
        let tunnels = watch.refresh(start + Duration::from_secs(2)).unwrap();
        assert_eq!(tunnels.names(), ["vpnd"]);
        assert_eq!(*fake.scans.lock().unwrap(), 1);
        assert!(watch.refresh(start + Duration::from_secs(4)).is_none());
        assert_eq!(*fake.scans.lock().unwrap(), 1);
        watch.refresh(start + Duration::from_secs(40));
        assert_eq!(*fake.scans.lock().unwrap(), 2);
    }
}
