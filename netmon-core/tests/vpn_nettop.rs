//! The VPN rule on nettop's rows (fixtures/nettop/synthetic-vpn.csv): an application's
//! connection from the tunnel's address and the VPN process's socket on the physical link are
//! both listed; the application keeps its bytes, the VPN gets only the overhead, and the
//! sample's total counts each byte once.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use netmon_core::attribution::NoOwners;
use netmon_core::capture::nettop::{parse_all, Deltas};
use netmon_core::process::ProcessInfo;
use netmon_core::tracker::{Tracker, TrackerOptions};
use netmon_core::tunnel::{Holder, Tunnels};
use netmon_core::{Direction, Sample};

const VPN_ROWS: &str = include_str!("../fixtures/nettop/synthetic-vpn.csv");

/// The machine of the fixture: en0 192.168.1.5, utun4 10.8.0.2 held by the VPN (PID 612).
fn tunnels() -> Tunnels {
    let addresses: Vec<(String, IpAddr)> = [
        ("en0", "192.168.1.5"),
        ("utun4", "10.8.0.2"),
        ("lo0", "127.0.0.1"),
    ]
    .iter()
    .map(|(name, ip)| (name.to_string(), ip.parse().unwrap()))
    .collect();
    let vpn = Holder {
        process: Arc::new(ProcessInfo::new(612, "WireGuardNetwo", None)),
        interface: "utun4".into(),
    };
    Tunnels::new(&addresses, &[vpn], |_| false)
}

/// The tracker's sample of the fixture's second nettop sample (the first is the baseline).
fn sample_of(tunnels: Tunnels) -> Sample {
    let mut tracker = Tracker::new(Box::new(NoOwners), TrackerOptions::default());
    tracker.set_tunnels(tunnels);
    let mut deltas = Deltas::default();
    let snapshots = parse_all(VPN_ROWS);
    assert_eq!(snapshots.len(), 2);
    assert!(deltas.next(&snapshots[0]).is_empty(), "baseline");
    deltas.next(&snapshots[1]).into_iter().for_each(|delta| {
        let process = Arc::new(ProcessInfo::new(delta.pid, delta.name.clone(), None));
        tracker.record_report(&delta.into_report(process));
    });
    tracker.close(0, 5000, Instant::now())
}

fn both(sample: &Sample, app: &str) -> (u64, u64) {
    (
        sample.bytes_of(app, Direction::Sent),
        sample.bytes_of(app, Direction::Received),
    )
}

#[test]
fn the_app_keeps_its_bytes_and_the_vpn_process_shows_only_the_overhead() {
    let sample = sample_of(tunnels());
    assert_eq!(both(&sample, "Safari"), (20_000, 2_000_000));
    assert_eq!(
        both(&sample, "WireGuardNetwo"),
        (5_000, 64_000),
        "overhead only"
    );
    assert_eq!(both(&sample, "Mail"), (5_000, 30_000));
    let physical = 25_000 + 2_064_000 + 5_000 + 30_000;
    assert_eq!(
        sample.stats.bytes, physical,
        "each byte once: what crossed en0"
    );
    let tunnel = &sample.stats.tunnels[0];
    assert_eq!(tunnel.vpn, "WireGuardNetwo");
    assert_eq!(tunnel.interfaces, ["utun4"]);
    assert_eq!(
        (tunnel.outer_sent, tunnel.outer_received),
        (25_000, 2_064_000)
    );
    assert_eq!(
        (tunnel.inner_sent, tunnel.inner_received),
        (20_000, 2_000_000)
    );
    assert!(
        sample
            .processes
            .iter()
            .any(|process| process.app == "WireGuardNetwo"),
        "the VPN process is still listed"
    );
}

#[test]
fn without_the_rule_the_payload_is_counted_twice() {
    let sample = sample_of(Tunnels::default());
    assert_eq!(both(&sample, "WireGuardNetwo"), (25_000, 2_064_000));
    assert_eq!(
        sample.stats.bytes,
        25_000 + 2_064_000 + 5_000 + 30_000 + 2_020_000
    );
    assert!(sample.stats.tunnels.is_empty());
}
