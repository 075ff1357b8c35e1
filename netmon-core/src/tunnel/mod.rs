//! VPNs: which traffic is a tunnel's clear inside, and which is the transport that carries it,
//! so that every byte is counted once (docs/vpn.md).
//!
//! - A **tunnel interface** is one named like one (`utun*`, `tun*`, `wg*`, `ppp*`, `ipsec*`), one
//!   of a tunnel kind (Linux: a tun device, or a link type without Ethernet headers such as
//!   WireGuard's), or one a process holds open as its tunnel device.
//! - **Inner** traffic is a flow whose local address belongs to a tunnel interface: the clear
//!   packets of the application, credited to it with its domains as usual.
//! - **Transport** is the traffic of the process that holds a tunnel device open (Linux:
//!   `/dev/net/tun` in `/proc/PID/fd`; macOS: a utun control socket), outside its tunnels; or,
//!   for tunnels no process holds (kernel WireGuard, IPsec), traffic no process owns that is
//!   ESP, AH or GRE, or UDP on a tunnel port (IKE 500, NAT-T 4500, L2TP 1701, WireGuard 51820).
//!
//! Per sample, each VPN's transport is not counted as usage: the VPN gets the overhead, its
//! outer bytes less the inner bytes of its tunnels ([`crate::sample::TunnelUsage`]), so inner
//! plus overhead equals what crossed the physical link. With no tunnel seen (a capture of
//! `en0` alone), the whole transport is overhead, credited to the VPN.

mod split;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::flow::canonical;
use crate::process::ProcessInfo;

pub use split::{Count, FlowBytes, Split};
pub use watch::TunnelWatch;

/// Name prefixes of tunnel interfaces (macOS `utun3`, Linux `tun0`, `wg0`, `ppp0`, `ipsec0`).
pub const TUNNEL_PREFIXES: &[&str] = &["utun", "tun", "wg", "ppp", "ipsec"];

/// IP protocols that only kernel tunnels carry: GRE (47), ESP (50), AH (51).
const TUNNEL_PROTOCOLS: &[u8] = &[47, 50, 51];

/// UDP ports of kernel tunnels: IKE (500), IPsec NAT traversal (4500), L2TP (1701) and
/// WireGuard's default (51820).
pub const KERNEL_TUNNEL_PORTS: &[u16] = &[500, 1701, 4500, 51820];

/// Whether an interface's name is a tunnel's: a prefix of [`TUNNEL_PREFIXES`] followed by
/// nothing or a number (`utun3`, `wg0`, `tun_1`; not `tunl0x` or `wgx`).
pub fn is_tunnel_name(name: &str) -> bool {
    TUNNEL_PREFIXES.iter().any(|prefix| {
        name.strip_prefix(prefix).is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == '_')
        })
    })
}

/// A process holding a tunnel device open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub process: Arc<ProcessInfo>,
    /// The tunnel interface the device is (`tun0`, `utun4`).
    pub interface: String,
}

impl Holder {
    /// The holders of `interfaces`, all devices of the process `process` reads (read only when
    /// there are interfaces; none when it cannot be read).
    pub fn each(
        interfaces: Vec<String>,
        process: impl FnOnce() -> Option<ProcessInfo>,
    ) -> Vec<Holder> {
        let Some(process) = (!interfaces.is_empty()).then(process).flatten() else {
            return Vec::new();
        };
        let process = Arc::new(process);
        interfaces
            .into_iter()
            .map(|interface| Holder {
                process: Arc::clone(&process),
                interface,
            })
            .collect()
    }
}

/// One VPN: the tunnel interfaces it carries, and who carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Vpn {
    /// Its process's application, or its interfaces' names (a kernel VPN).
    name: String,
    interfaces: Vec<String>,
    /// The processes holding its tunnel devices; empty for a kernel VPN.
    pids: BTreeSet<u32>,
}

/// What a flow is to the VPNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not tunnel traffic.
    Plain,
    /// Clear traffic inside VPN `n`'s tunnel.
    Inner(usize),
    /// VPN `n`'s transport: its outer packets.
    Transport(usize),
}

/// The tunnels of this machine at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tunnels {
    vpns: Vec<Vpn>,
    /// Tunnel interfaces' addresses → index in `vpns`.
    by_address: HashMap<IpAddr, usize>,
    /// The VPN of the tunnels no process holds, if any.
    kernel: Option<usize>,
}

impl Tunnels {
    /// The tunnels among `addresses` (interface name, address; interfaces named or held as
    /// tunnels, or accepted by `is_tunnel_kind`), grouped into VPNs by the application holding
    /// them; tunnels no process holds form one kernel VPN named after them.
    pub fn new(
        addresses: &[(String, IpAddr)],
        holders: &[Holder],
        is_tunnel_kind: impl Fn(&str) -> bool,
    ) -> Self {
        let is_tunnel = |name: &str| {
            is_tunnel_name(name)
                || is_tunnel_kind(name)
                || holders.iter().any(|holder| holder.interface == name)
        };
        let interfaces: BTreeSet<&str> = addresses
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| is_tunnel(name))
            .collect();
        // Grouped by the application holding them; `None` (no holder, sorted first): the kernel.
        let mut groups: BTreeMap<Option<&str>, Vpn> = BTreeMap::new();
        for interface in interfaces {
            let holding: Vec<&Holder> = holders
                .iter()
                .filter(|holder| holder.interface == interface)
                .collect();
            let app = holding.first().map(|holder| holder.process.app.as_str());
            let vpn = groups.entry(app).or_insert_with(|| Vpn {
                name: app.unwrap_or_default().to_string(),
                interfaces: Vec::new(),
                pids: BTreeSet::new(),
            });
            vpn.interfaces.push(interface.to_string());
            vpn.pids
                .extend(holding.iter().map(|holder| holder.process.pid));
        }
        let kernel = groups.contains_key(&None).then_some(0);
        let mut vpns: Vec<Vpn> = groups.into_values().collect();
        if let Some(vpn) = kernel.and_then(|index| vpns.get_mut(index)) {
            vpn.name = vpn.interfaces.join("+");
        }
        let by_address = addresses
            .iter()
            .filter_map(|(name, ip)| {
                let index = vpns.iter().position(|vpn| vpn.interfaces.contains(name))?;
                Some((canonical(*ip), index))
            })
            .collect();
        Self {
            vpns,
            by_address,
            kernel,
        }
    }

    /// Whether there is no tunnel.
    pub fn is_empty(&self) -> bool {
        self.vpns.is_empty()
    }

    /// The VPNs' names.
    pub fn names(&self) -> Vec<&str> {
        self.vpns.iter().map(|vpn| vpn.name.as_str()).collect()
    }

    /// VPN `index`'s name and tunnel interfaces.
    pub fn vpn(&self, index: usize) -> Option<(&str, &[String])> {
        self.vpns
            .get(index)
            .map(|vpn| (vpn.name.as_str(), vpn.interfaces.as_slice()))
    }

    /// The VPN whose tunnel `local` (a flow's local address) is on.
    pub fn inner_of(&self, local: IpAddr) -> Option<usize> {
        self.by_address.get(&canonical(local)).copied()
    }

    /// The VPN whose tunnel device `process` holds.
    pub fn held_by(&self, process: &ProcessInfo) -> Option<usize> {
        self.vpns
            .iter()
            .position(|vpn| vpn.pids.contains(&process.pid))
    }

    /// What a flow (protocol, local and remote endpoint, owning process if known) is.
    pub fn role(
        &self,
        protocol: u8,
        local: SocketAddr,
        remote: SocketAddr,
        owner: Option<&ProcessInfo>,
    ) -> Role {
        if let Some(index) = self.inner_of(local.ip()) {
            return Role::Inner(index);
        }
        match (owner, self.kernel) {
            (Some(process), _) => self.held_by(process).map_or(Role::Plain, Role::Transport),
            (None, Some(kernel)) if is_kernel_transport(protocol, local.port(), remote.port()) => {
                Role::Transport(kernel)
            }
            (None, _) => Role::Plain,
        }
    }
}

/// Traffic no process owns that looks like a kernel tunnel's: ESP, AH, GRE, or UDP on a
/// tunnel port at either end.
fn is_kernel_transport(protocol: u8, local_port: u16, remote_port: u16) -> bool {
    TUNNEL_PROTOCOLS.contains(&protocol)
        || (protocol == 17
            && [local_port, remote_port]
                .iter()
                .any(|port| KERNEL_TUNNEL_PORTS.contains(port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32, app: &str, interface: &str) -> Holder {
        Holder {
            process: Arc::new(ProcessInfo::new(pid, app, None)),
            interface: interface.into(),
        }
    }

    fn addresses(list: &[(&str, &str)]) -> Vec<(String, IpAddr)> {
        list.iter()
            .map(|(name, ip)| (name.to_string(), ip.parse().unwrap()))
            .collect()
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn tunnel_names() {
        ["utun3", "tun0", "wg0", "ppp0", "ipsec0", "wg", "tun_1"]
            .iter()
            .for_each(|name| assert!(is_tunnel_name(name), "{name}"));
        ["en0", "eth0", "tunl0x", "lo", "wlan0", "bridge0", "gif0"]
            .iter()
            .for_each(|name| assert!(!is_tunnel_name(name), "{name}"));
    }

    #[test]
    fn flows_on_a_tunnel_address_are_inner_and_the_holders_flows_are_transport() {
        let tunnels = Tunnels::new(
            &addresses(&[
                ("eth0", "192.168.1.5"),
                ("tun0", "10.8.0.1"),
                ("tun0", "fd08::1"),
            ]),
            &[holder(77, "openvpn", "tun0")],
            |_| false,
        );
        assert_eq!(tunnels.vpn(0), Some(("openvpn", &["tun0".to_string()][..])));
        let app = ProcessInfo::new(5, "curl", None);
        let vpn = ProcessInfo::new(77, "openvpn", None);
        let inner = tunnels.role(6, addr("10.8.0.1:4000"), addr("1.1.1.1:443"), Some(&app));
        assert_eq!(inner, Role::Inner(0));
        let v6 = tunnels.role(6, addr("[fd08::1]:4000"), addr("[2001:db8::1]:443"), None);
        assert_eq!(v6, Role::Inner(0));
        let outer = tunnels.role(
            17,
            addr("192.168.1.5:1194"),
            addr("9.9.9.9:1194"),
            Some(&vpn),
        );
        assert_eq!(outer, Role::Transport(0));
        let direct = tunnels.role(6, addr("192.168.1.5:4001"), addr("1.1.1.1:443"), Some(&app));
        assert_eq!(direct, Role::Plain);
        let ownerless = tunnels.role(50, addr("192.168.1.5:0"), addr("9.9.9.9:0"), None);
        assert_eq!(
            ownerless,
            Role::Plain,
            "no kernel tunnel, so ESP is nobody's transport"
        );
    }

    #[test]
    fn tunnels_no_process_holds_are_one_kernel_vpn_whose_transport_is_ownerless() {
        let tunnels = Tunnels::new(
            &addresses(&[
                ("en0", "192.168.1.5"),
                ("wg0", "10.9.0.2"),
                ("ipsec0", "10.10.0.2"),
            ]),
            &[],
            |_| false,
        );
        let (name, interfaces) = tunnels.vpn(0).unwrap();
        assert_eq!(name, "ipsec0+wg0");
        assert_eq!(interfaces.len(), 2);
        let local = addr("192.168.1.5:40000");
        assert_eq!(
            tunnels.role(17, local, addr("9.9.9.9:51820"), None),
            Role::Transport(0)
        );
        assert_eq!(
            tunnels.role(50, addr("192.168.1.5:0"), addr("9.9.9.9:0"), None),
            Role::Transport(0)
        );
        assert_eq!(
            tunnels.role(17, local, addr("9.9.9.9:53"), None),
            Role::Plain
        );
        let someone = ProcessInfo::new(9, "iked", None);
        assert_eq!(
            tunnels.role(17, local, addr("9.9.9.9:4500"), Some(&someone)),
            Role::Plain,
            "owned traffic is not a kernel tunnel's"
        );
        assert_eq!(
            tunnels.role(6, addr("10.9.0.2:1"), addr("1.1.1.1:443"), None),
            Role::Inner(0)
        );
    }

    #[test]
    fn tunnels_of_one_application_are_one_vpn_and_any_held_device_is_a_tunnel() {
        let tunnels = Tunnels::new(
            &addresses(&[
                ("utun4", "10.1.0.2"),
                ("corp", "10.2.0.2"),
                ("en0", "192.168.1.5"),
            ]),
            &[
                holder(300, "WireGuard", "utun4"),
                holder(301, "WireGuard", "corp"),
            ],
            |_| false,
        );
        let (name, interfaces) = tunnels.vpn(0).unwrap();
        assert_eq!(name, "WireGuard");
        assert_eq!(interfaces, ["corp".to_string(), "utun4".to_string()]);
        assert!(tunnels.vpn(1).is_none());
        assert_eq!(tunnels.inner_of("10.2.0.2".parse().unwrap()), Some(0));
        assert_eq!(
            tunnels.held_by(&ProcessInfo::new(301, "WireGuard", None)),
            Some(0)
        );
        let kind = Tunnels::new(&addresses(&[("vpn7", "10.3.0.1")]), &[], |name| {
            name == "vpn7"
        });
        assert_eq!(kind.vpn(0).map(|(name, _)| name), Some("vpn7"));
        assert!(Tunnels::new(&addresses(&[("en0", "10.3.0.1")]), &[], |_| false).is_empty());
    }
}
