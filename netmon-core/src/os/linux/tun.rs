//! Tunnel devices on Linux: which processes of this network namespace hold `/dev/net/tun` open
//! and for which interface (the `iff:` line the tun driver writes in `/proc/PID/fdinfo/FD`),
//! and which interfaces are tunnels by kind (`/sys/class/net/NAME`: a tun device has
//! `tun_flags`; WireGuard, PPP and IP tunnels have link types without Ethernet headers).

use std::fs;
use std::path::Path;

use super::sockets::{all_pids, process_info};
use crate::tunnel::Holder;

/// The tun/tap driver's character device.
const TUN_DEVICE: &str = "/dev/net/tun";

/// Link types (`/sys/class/net/NAME/type`, ARPHRD_*) of tunnels: PPP (512), IPIP (768), IPv6
/// in IPv6 (769), SIT (776), GRE (778), IPv6 GRE (823), and none (65534: tun, WireGuard).
const TUNNEL_LINK_TYPES: &[u32] = &[512, 768, 769, 776, 778, 823, 65534];

/// Every process of this network namespace holding a tun device, with the interface the
/// device is attached to. (Processes of other namespaces, such as containers, hold tunnels
/// this machine's interfaces do not have, maybe under the same names.)
pub fn holders() -> Vec<Holder> {
    let here = network_namespace("self");
    all_pids()
        .filter(|pid| here.is_some() && network_namespace(&pid.to_string()) == here)
        .flat_map(|pid| Holder::each(tun_interfaces(pid), || process_info(pid)))
        .collect()
}

/// The network namespace of a process (`self` or a PID): its `/proc/…/ns/net` link.
fn network_namespace(process: &str) -> Option<std::path::PathBuf> {
    fs::read_link(format!("/proc/{process}/ns/net")).ok()
}

/// The tunnel interfaces of the tun devices process `pid` holds (empty when it holds none or
/// may not be read).
fn tun_interfaces(pid: u32) -> Vec<String> {
    let mut interfaces: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|entry| {
            fs::read_link(entry.path()).is_ok_and(|target| target == Path::new(TUN_DEVICE))
        })
        .filter_map(|entry| {
            let fdinfo = format!("/proc/{pid}/fdinfo/{}", entry.file_name().to_str()?);
            attached_interface(&fs::read_to_string(fdinfo).ok()?)
        })
        .collect();
    interfaces.sort_unstable();
    interfaces.dedup();
    interfaces
}

/// The interface a tun descriptor is attached to: its fdinfo's `iff:` line (absent until the
/// descriptor is attached with TUNSETIFF).
fn attached_interface(fdinfo: &str) -> Option<String> {
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("iff:"))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
}

/// Whether interface `name` is a tun device or has a tunnel's link type.
pub fn is_tunnel_kind(name: &str) -> bool {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return false;
    }
    let device = Path::new("/sys/class/net").join(name);
    device.join("tun_flags").exists()
        || fs::read_to_string(device.join("type"))
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .is_some_and(|kind| TUNNEL_LINK_TYPES.contains(&kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interface_comes_from_the_iff_line() {
        let fdinfo = "pos:\t0\nflags:\t0100002\nmnt_id:\t26\nino:\t1062\niff:\ttun0\n";
        assert_eq!(attached_interface(fdinfo).as_deref(), Some("tun0"));
        let unattached = "pos:\t0\nflags:\t0100002\nmnt_id:\t26\n";
        assert_eq!(attached_interface(unattached), None);
        assert_eq!(attached_interface("iff:\t\n"), None);
    }

    #[test]
    fn loopback_is_not_a_tunnel_and_paths_are_not_names() {
        assert!(!is_tunnel_kind("lo"));
        assert!(!is_tunnel_kind("../../etc"));
        assert!(!is_tunnel_kind(""));
        assert!(holders().iter().all(|holder| !holder.interface.is_empty()));
    }
}
