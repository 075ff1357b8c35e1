//! One sample's traffic split by [`Tunnels`]: which flows and per-process reports are a VPN's
//! transport (left out of usage), how many bytes each VPN's tunnels carried inside and outside,
//! and the overhead each VPN is credited with instead of its transport.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{Role, Tunnels};
use crate::capture::ProcessBytes;
use crate::process::ProcessInfo;
use crate::sample::{Direction, TunnelUsage};

/// Bytes and packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub bytes: u64,
    pub packets: u64,
}

impl Count {
    fn add(&mut self, other: Count) {
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.packets = self.packets.saturating_add(other.packets);
    }

    fn bytes(bytes: u64) -> Self {
        Self { bytes, packets: 0 }
    }
}

/// A flow's traffic during one sample, as the tracker counted it.
#[derive(Debug, Clone, Copy)]
pub struct FlowBytes<'a> {
    pub protocol: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Its process, when known (found or inferred).
    pub owner: Option<&'a ProcessInfo>,
    pub sent: Count,
    pub received: Count,
}

/// One VPN's inner and outer traffic, per direction (sent, received).
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    inner: [Count; 2],
    outer: [Count; 2],
}

/// A sample's traffic split between usage and the VPNs' transport.
#[derive(Debug, Clone, Default)]
pub struct Split {
    /// Per flow, in the order given: whether it is a VPN's transport, not usage.
    pub transport_flows: Vec<bool>,
    /// Per report, in order: whether the reported process is a VPN carrying its tunnels.
    pub transport_reports: Vec<bool>,
    /// Each VPN that moved traffic.
    pub tunnels: Vec<TunnelUsage>,
    /// Overhead packets per VPN and direction (outer packets less inner).
    packets: Vec<[u64; 2]>,
}

impl Split {
    /// Splits a sample's `flows` and `reports` by what they are to `tunnels`.
    pub fn of<'a>(
        tunnels: &Tunnels,
        flows: impl IntoIterator<Item = FlowBytes<'a>>,
        reports: &[ProcessBytes],
    ) -> Self {
        let mut tallies: BTreeMap<usize, Tally> = BTreeMap::new();
        let transport_flows = flows
            .into_iter()
            .map(|flow| {
                let role = tunnels.role(flow.protocol, flow.local, flow.remote, flow.owner);
                tally(&mut tallies, role, flow.sent, flow.received);
                matches!(role, Role::Transport(_))
            })
            .collect();
        let transport_reports = reports
            .iter()
            .map(|report| report_role(tunnels, report, &mut tallies))
            .collect();
        let (tunnels, packets) = tallies
            .into_iter()
            .filter_map(|(index, tally)| {
                let (vpn, interfaces) = tunnels.vpn(index)?;
                let usage = TunnelUsage {
                    vpn: vpn.to_string(),
                    interfaces: interfaces.to_vec(),
                    inner_sent: tally.inner[0].bytes,
                    inner_received: tally.inner[1].bytes,
                    outer_sent: tally.outer[0].bytes,
                    outer_received: tally.outer[1].bytes,
                };
                let packets = [0, 1].map(|at| {
                    tally.outer[at]
                        .packets
                        .saturating_sub(tally.inner[at].packets)
                });
                Some((usage, packets))
            })
            .unzip();
        Self {
            transport_flows,
            transport_reports,
            tunnels,
            packets,
        }
    }

    /// What each VPN is credited with instead of its transport: (VPN, direction, overhead
    /// bytes, overhead packets), only where there is some.
    pub fn overhead(&self) -> impl Iterator<Item = (&str, Direction, u64, u64)> {
        self.tunnels
            .iter()
            .zip(&self.packets)
            .flat_map(|(usage, packets)| {
                [
                    (Direction::Sent, packets[0]),
                    (Direction::Received, packets[1]),
                ]
                .map(|(direction, packets)| {
                    (
                        usage.vpn.as_str(),
                        direction,
                        usage.overhead(direction),
                        packets,
                    )
                })
            })
            .filter(|(_, _, bytes, packets)| *bytes > 0 || *packets > 0)
    }
}

/// Adds a flow's counts to its VPN's inner or outer tally.
fn tally(tallies: &mut BTreeMap<usize, Tally>, role: Role, sent: Count, received: Count) {
    let (index, side) = match role {
        Role::Plain => return,
        Role::Inner(index) => (index, false),
        Role::Transport(index) => (index, true),
    };
    let entry = tallies.entry(index).or_default();
    let counts = if side {
        &mut entry.outer
    } else {
        &mut entry.inner
    };
    counts[0].add(sent);
    counts[1].add(received);
}

/// Tallies a per-process report: all of a VPN process's bytes are its transport; another
/// process's connections from a tunnel address are inner. Whether it is transport.
fn report_role(
    tunnels: &Tunnels,
    report: &ProcessBytes,
    tallies: &mut BTreeMap<usize, Tally>,
) -> bool {
    if let Some(index) = tunnels.held_by(&report.process) {
        let (sent, received) = report.connections.iter().fold(
            (report.sent, report.received),
            |(sent, received), connection| {
                (
                    sent.saturating_add(connection.sent),
                    received.saturating_add(connection.received),
                )
            },
        );
        let role = Role::Transport(index);
        tally(tallies, role, Count::bytes(sent), Count::bytes(received));
        return true;
    }
    report
        .connections
        .iter()
        .filter_map(|connection| {
            let index = tunnels.inner_of(connection.local?.ip())?;
            Some((index, connection))
        })
        .for_each(|(index, connection)| {
            let (sent, received) = (
                Count::bytes(connection.sent),
                Count::bytes(connection.received),
            );
            tally(tallies, Role::Inner(index), sent, received);
        });
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::Holder;
    use std::net::IpAddr;
    use std::sync::Arc;

    fn tunnels() -> Tunnels {
        let addresses: Vec<(String, IpAddr)> = [("eth0", "192.168.1.5"), ("tun0", "10.8.0.1")]
            .iter()
            .map(|(name, ip)| (name.to_string(), ip.parse().unwrap()))
            .collect();
        let vpn = Holder {
            process: Arc::new(ProcessInfo::new(77, "vpnd", None)),
            interface: "tun0".into(),
        };
        Tunnels::new(&addresses, &[vpn], |_| false)
    }

    fn flow<'a>(
        local: &str,
        owner: &'a ProcessInfo,
        sent: (u64, u64),
        received: (u64, u64),
    ) -> FlowBytes<'a> {
        FlowBytes {
            protocol: 17,
            local: local.parse().unwrap(),
            remote: "203.0.113.9:443".parse().unwrap(),
            owner: Some(owner),
            sent: Count {
                bytes: sent.0,
                packets: sent.1,
            },
            received: Count {
                bytes: received.0,
                packets: received.1,
            },
        }
    }

    #[test]
    fn the_vpn_is_credited_with_outer_less_inner_and_its_transport_is_not_usage() {
        let app = ProcessInfo::new(5, "browser", None);
        let vpn = ProcessInfo::new(77, "vpnd", None);
        let flows = [
            flow("10.8.0.1:5000", &app, (1_000, 10), (100_000, 80)),
            flow("192.168.1.5:51000", &vpn, (1_600, 10), (103_200, 80)),
            flow("192.168.1.5:5001", &app, (500, 5), (9_000, 7)),
        ];
        let split = Split::of(&tunnels(), flows, &[]);
        assert_eq!(split.transport_flows, [false, true, false]);
        assert_eq!(split.tunnels.len(), 1);
        let usage = &split.tunnels[0];
        assert_eq!((usage.inner_sent, usage.inner_received), (1_000, 100_000));
        assert_eq!((usage.outer_sent, usage.outer_received), (1_600, 103_200));
        let overhead: Vec<_> = split.overhead().collect();
        assert_eq!(
            overhead,
            [
                ("vpnd", Direction::Sent, 600, 0),
                ("vpnd", Direction::Received, 3_200, 0)
            ]
        );
    }

    #[test]
    fn a_transport_without_its_tunnel_is_all_overhead() {
        let vpn = ProcessInfo::new(77, "vpnd", None);
        let flows = [flow("192.168.1.5:51000", &vpn, (1_600, 10), (0, 0))];
        let split = Split::of(&tunnels(), flows, &[]);
        let overhead: Vec<_> = split.overhead().collect();
        assert_eq!(overhead, [("vpnd", Direction::Sent, 1_600, 10)]);
    }

    #[test]
    fn no_tunnel_no_change() {
        let app = ProcessInfo::new(5, "browser", None);
        let flows = [flow("10.8.0.1:5000", &app, (1_000, 10), (100_000, 80))];
        let split = Split::of(&Tunnels::default(), flows, &[]);
        assert_eq!(split.transport_flows, [false]);
        assert!(split.tunnels.is_empty());
        assert_eq!(split.overhead().count(), 0);
    }
}
