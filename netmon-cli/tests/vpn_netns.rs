//! End to end: a user-space VPN (tests/support/tunvpn.py: a tun device in each namespace and a
//! process on each side carrying its packets over one UDP socket, as wireguard-go and macOS VPN
//! apps do) while `netmon run` captures every interface of the client namespace. One
//! application downloads through the tunnel while another downloads over the veth directly.
//! The tunnel's application gets its bytes, the VPN process only the overhead, and the total
//! is what crossed the physical link: each byte counted once, whether the VPN was up before
//! netmon started or came up while it ran.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use netmon_core::Sample;
use support::{assert_within, bytes_of_app, total_bytes, Lab, Netmon, CLIENT_V4, SERVER_V4};

/// Lets the last packets of a phase (FIN, ACK) cross before the counters are read.
const SETTLE: Duration = Duration::from_millis(600);
const TUNNEL: &str = "tun0";
const VPN_PORT: u16 = 51900;
const CLIENT_TUNNEL_V4: &str = "10.8.0.1";
const SERVER_TUNNEL_V4: &str = "10.8.0.2";
/// A system Python: copied under the VPN's name, it runs on its own (a pyenv shim would not).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
/// One lab at a time: each pushes a user-space VPN (Python) at full speed, and two at once on a
/// 2-core machine made the capture drop packets, which these byte-exact tests refuse.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn the_app_gets_its_bytes_the_vpn_the_overhead_and_the_total_the_physical_link() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let client_stats = start_vpn(&mut lab);
    let netmon = lab.start_netmon(1);
    let run = download_both_ways(&lab, netmon, &client_stats);
    assert_each_byte_counted_once(&lab, &run);
}

/// The VPN comes up while netmon runs: the tunnel's new address and interface are read as soon
/// as the system announces them (not on a timer, which is 30 s), so the first download through
/// it is already counted as the tunnel's application's, and the VPN's as overhead.
#[test]
fn a_vpn_brought_up_while_netmon_runs_is_followed_at_once() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let netmon = lab.start_netmon(1);
    let client_stats = start_vpn(&mut lab);
    let run = download_both_ways(&lab, netmon, &client_stats);
    assert_each_byte_counted_once(&lab, &run);
}

/// The tunnel's application gets its bytes, the direct one the rest of the veth's, the VPN
/// only the overhead, and the total (live and stored) is the physical link's.
fn assert_each_byte_counted_once(lab: &Lab, run: &Run) {
    let (samples, veth, tun, outer) = (&run.samples, run.veth, run.tun, run.outer);
    assert_within(
        "tunapp (inside the tunnel)",
        bytes_of_app(samples, "tunapp"),
        tun,
        1.0,
    );
    assert_within(
        "directapp (on the veth)",
        bytes_of_app(samples, "directapp"),
        veth - outer,
        1.0,
    );
    let overhead = bytes_of_app(samples, "tunvpn");
    assert_within("tunvpn (overhead only)", overhead, outer - tun, 1.0);
    assert!(
        overhead < tun / 10,
        "the VPN shows its overhead, not the payload again"
    );
    assert_within("the total (physical link)", total_bytes(samples), veth, 1.0);
    let stored = lab.stored_totals();
    assert_within("the stored total", stored.sent + stored.received, veth, 1.0);
    check_raw_outer_bytes(lab, outer, tun);
}

/// `capture_interface` set to the physical link: no tunnel traffic is seen, so the VPN's whole
/// transport is its overhead, and the total is still the link's.
#[test]
fn capturing_the_physical_link_alone_credits_the_tunnel_to_the_vpn() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let client_stats = start_vpn(&mut lab);
    let netmon = lab.start_netmon_on_veth(1);
    let run = download_both_ways(&lab, netmon, &client_stats);
    let (samples, veth, outer) = (&run.samples, run.veth, run.outer);
    assert_eq!(
        bytes_of_app(samples, "tunapp"),
        0,
        "the tunnel is not captured"
    );
    assert_within(
        "tunvpn (all its transport)",
        bytes_of_app(samples, "tunvpn"),
        outer,
        1.0,
    );
    assert_within(
        "directapp (on the veth)",
        bytes_of_app(samples, "directapp"),
        veth - outer,
        1.0,
    );
    assert_within("the total (physical link)", total_bytes(samples), veth, 1.0);
}

/// What one run measured: netmon's samples, and the references.
struct Run {
    samples: Vec<Sample>,
    /// IP bytes on the client veth.
    veth: u64,
    /// IP bytes on the client's tun0.
    tun: u64,
    /// The client VPN's outer IP bytes, by its own count.
    outer: u64,
}

/// `tunapp` downloads 8 MB through the tunnel while `directapp` downloads 10 MB over the veth
/// (both at 4 MB/s, so a busy machine's capture keeps up), then `netmon` is stopped.
fn download_both_ways(lab: &Lab, netmon: Netmon, client_stats: &Path) -> Run {
    let through_tunnel = lab.program_named("curl", "tunapp");
    let direct = lab.program_named("curl", "directapp");
    let first = netmon.wait_ready();
    let veth_before = lab.counters();
    let tun_before = lab.counters_of(&lab.client, TUNNEL);
    let outer_before = outer_ip_bytes(client_stats);
    let mut direct_download = lab.command(&lab.client, &direct);
    direct_download.args(["-sS", "-4", "-o", "/dev/null", "--limit-rate", "4M"]);
    direct_download.arg(format!("http://{SERVER_V4}:8080/bytes/10000000"));
    let direct_child = direct_download.spawn().expect("start the direct download");
    let mut tunnel_download = lab.command(&lab.client, &through_tunnel);
    tunnel_download.args(["-sS", "-4", "-o", "/dev/null", "--limit-rate", "4M"]);
    tunnel_download.arg(format!("http://{SERVER_TUNNEL_V4}:8080/bytes/8000000"));
    lab.run(tunnel_download);
    let status = direct_child
        .wait_with_output()
        .expect("the direct download");
    assert!(status.status.success(), "the direct download failed");
    thread::sleep(SETTLE);
    let veth = lab.counters().ip_bytes_since(&veth_before);
    let tun = lab
        .counters_of(&lab.client, TUNNEL)
        .bytes_since(&tun_before);
    let outer = outer_ip_bytes(client_stats) - outer_before;
    thread::sleep(Duration::from_millis(1200));
    let samples = netmon.stop(first);
    support::print_apps(&samples);
    eprintln!("veth {veth} B, tun0 {tun} B, VPN outer {outer} B");
    let dropped: u64 = samples
        .iter()
        .map(|sample| sample.stats.dropped_packets)
        .sum();
    assert_eq!(
        dropped, 0,
        "the capture dropped packets: the machine was too busy to measure"
    );
    assert!(
        tun >= 8_000_000,
        "the tunnel carried the download ({tun} B)"
    );
    Run {
        samples,
        veth,
        tun,
        outer,
    }
}

/// Starts the VPN: a tunvpn process in each namespace holding its tun device; the client's runs
/// as `tunvpn`. Returns the client side's statistics file.
fn start_vpn(lab: &mut Lab) -> PathBuf {
    assert!(
        Path::new(SYSTEM_PYTHON).exists(),
        "{SYSTEM_PYTHON} is needed (Debian's python3 package; the CI script installs it)"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/tunvpn.py");
    let vpn = lab.program_named(SYSTEM_PYTHON, "tunvpn");
    let sides = [
        (lab.server.clone(), SERVER_V4, CLIENT_V4, SERVER_TUNNEL_V4),
        (lab.client.clone(), CLIENT_V4, SERVER_V4, CLIENT_TUNNEL_V4),
    ];
    let stats: Vec<PathBuf> = sides
        .iter()
        .map(|(ns, local, peer, tunnel_address)| {
            let stats = lab.temp.path().join(format!("{ns}.vpn.json"));
            let mut command = lab.command(ns, &vpn);
            command.arg(&script).arg(TUNNEL);
            command.arg(format!("{local}:{VPN_PORT}"));
            command.arg(format!("{peer}:{VPN_PORT}"));
            command.arg(&stats);
            lab.spawn(command);
            wait_for_interface(ns);
            let mut address = lab.command(ns, "ip");
            address.args([
                "addr",
                "add",
                &format!("{tunnel_address}/24"),
                "dev",
                TUNNEL,
            ]);
            lab.run(address);
            let mut up = lab.command(ns, "ip");
            up.args(["link", "set", TUNNEL, "mtu", "1400", "up"]);
            lab.run(up);
            stats
        })
        .collect();
    stats[1].clone()
}

fn wait_for_interface(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let exists = || {
        std::process::Command::new("ip")
            .args(["-n", ns, "link", "show", "dev", TUNNEL])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    while !exists() {
        assert!(
            Instant::now() < deadline,
            "the VPN made no {TUNNEL} in {ns}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// The VPN's outer IP bytes so far, from its own count: UDP payload + 28 bytes of IPv4 and UDP
/// headers per datagram (after the statistics file settles).
fn outer_ip_bytes(stats: &Path) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(bytes) = std::fs::read_to_string(stats)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .map(|json| {
                let number = |key: &str| json[key].as_u64().unwrap_or_default();
                number("sent_bytes")
                    + number("received_bytes")
                    + 28 * (number("sent_datagrams") + number("received_datagrams"))
            })
        {
            return bytes;
        }
        assert!(Instant::now() < deadline, "the VPN wrote no statistics");
        thread::sleep(Duration::from_millis(50));
    }
}

/// The VPN's raw outer bytes stay visible beside its overhead: the store's tunnel hours.
fn check_raw_outer_bytes(lab: &Lab, outer: u64, tun: u64) {
    let path = lab.temp.path().join("netmon-home/network_monitor.db");
    let store = netmon_core::store::Store::open(&path).expect("open the database");
    let all = netmon_core::store::Range {
        start_ms: 0,
        end_ms: i64::MAX,
    };
    let tunnels = store.tunnels(all).expect("tunnel totals");
    eprintln!("stored tunnels: {tunnels:?}");
    let vpn = tunnels
        .iter()
        .find(|tunnel| tunnel.vpn == "tunvpn")
        .expect("the VPN's tunnel is stored");
    assert_within(
        "tunvpn's raw outer bytes",
        vpn.outer_sent + vpn.outer_received,
        outer,
        1.0,
    );
    assert_within(
        "tunvpn's inner bytes",
        vpn.inner_sent + vpn.inner_received,
        tun,
        1.0,
    );
}
