//! End to end: real processes send real packets between two network namespaces while
//! `netmon run` captures in the client namespace; what it attributes to each process is
//! compared with the veth interface's own counters.

mod support;

use std::thread;
use std::time::Duration;

use support::{assert_within, bytes_of_app, total_bytes, Lab, SERVER_V4, SERVER_V6};

/// Lets the last packets of a phase (FIN, ACK) cross before the counters are read.
const SETTLE: Duration = Duration::from_millis(400);

#[test]
fn every_process_gets_its_bytes_over_tcp_udp_and_ipv6() {
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    lab.start_iperf_server(5201);
    let tcp4 = lab.program_named("curl", "dl4");
    let udp = lab.program_named("iperf3", "udpsend");
    let tcp6 = lab.program_named("curl", "dl6");
    let netmon = lab.start_netmon(1);
    let first = netmon.wait_ready();

    let before = lab.counters();
    let mut download = lab.command(&lab.client, &tcp4);
    download.args(["-sS", "-4", "-o", "/dev/null"]);
    download.arg(format!("http://{SERVER_V4}:8080/bytes/20000000"));
    lab.run(download);
    thread::sleep(SETTLE);
    let after_tcp4 = lab.counters();

    let mut send = lab.command(&lab.client, &udp);
    send.args([
        "-c", SERVER_V4, "-p", "5201", "-u", "-b", "40M", "-n", "5M", "-l", "1400",
    ]);
    lab.run(send);
    thread::sleep(SETTLE);
    let after_udp = lab.counters();

    let mut download6 = lab.command(&lab.client, &tcp6);
    download6.args(["-sS", "-6", "-o", "/dev/null", "-g"]);
    download6.arg(format!("http://[{SERVER_V6}]:8080/bytes/10000000"));
    lab.run(download6);
    thread::sleep(SETTLE);
    let after_tcp6 = lab.counters();
    thread::sleep(Duration::from_millis(1200));
    check_api(&lab);

    let samples = netmon.stop(first);
    support::print_apps(&samples);
    assert_within(
        "dl4 (TCP, IPv4)",
        bytes_of_app(&samples, "dl4"),
        after_tcp4.ip_bytes_since(&before),
        1.0,
    );
    assert_within(
        "udpsend (UDP)",
        bytes_of_app(&samples, "udpsend"),
        after_udp.ip_bytes_since(&after_tcp4),
        1.0,
    );
    assert_within(
        "dl6 (TCP, IPv6)",
        bytes_of_app(&samples, "dl6"),
        after_tcp6.ip_bytes_since(&after_udp),
        1.0,
    );
    let total = total_bytes(&samples);
    let stored = lab.stored_totals();
    assert_eq!(
        stored.sent + stored.received,
        total,
        "the database holds every sample after SIGINT"
    );
    let unknown = bytes_of_app(&samples, "unknown");
    eprintln!("unknown: {unknown} of {total} bytes");
    assert!(
        (unknown as f64) < 0.01 * total as f64,
        "unknown is {unknown} of {total} bytes, not under 1 %"
    );
}

/// The same process serves the API on 127.0.0.1:7500 of its namespace, to this machine only.
fn check_api(lab: &Lab) {
    let mut status = lab.command(&lab.client, "curl");
    status.args(["-sS", "http://127.0.0.1:7500/api/status"]);
    let body: serde_json::Value =
        serde_json::from_slice(&lab.run(status).stdout).expect("JSON status");
    assert_eq!(body["capture_source"], "pcap on any", "{body}");
    assert!(body["samples"].as_u64().unwrap_or_default() >= 3, "{body}");
    let mut rebinding = lab.command(&lab.client, "curl");
    rebinding.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Host: attacker.example:7500",
    ]);
    rebinding.arg("http://127.0.0.1:7500/api/status");
    assert_eq!(String::from_utf8_lossy(&lab.run(rebinding).stdout), "403");
    let tab = serde_json::json!({
        "domain": "www.netflix.com",
        "timestamp": netmon_core::clock::unix_ms() / 1000,
        "browser": "zen",
    });
    let mut report = lab.command(&lab.client, "curl");
    report
        .args([
            "-sS",
            "--fail",
            "-H",
            "Content-Type: application/json",
            "-d",
        ])
        .arg(tab.to_string())
        .arg("http://127.0.0.1:7500/api/browser/active-tab");
    lab.run(report);
    check_server_logs(lab);
}

/// Requests are logged to webserver.log (path only) and extension reports to extension.log.
fn check_server_logs(lab: &Lab) {
    let logs = lab.temp.path().join("netmon-home/logs");
    let read = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
    let webserver = read("webserver.log");
    assert!(
        webserver.contains("path=\"/api/status\" status=200")
            || webserver.contains("path=/api/status status=200"),
        "webserver.log: {webserver}"
    );
    assert!(
        webserver.contains("status=403"),
        "refusals are logged too: {webserver}"
    );
    let extension = read("extension.log");
    assert!(
        extension.contains("report accepted"),
        "extension.log: {extension}"
    );
    assert!(
        !read("daemon.log").contains("/api/status"),
        "requests stay out of daemon.log"
    );
}

#[test]
fn short_concurrent_connections_are_attributed() {
    const CONNECTIONS: usize = 200;
    let mut lab = Lab::new();
    lab.start_http_server(8081);
    let burst = lab.program_named("curl", "burst");
    let netmon = lab.start_netmon(5);
    let first = netmon.wait_ready();

    let before = lab.counters();
    let mut command = lab.command(&lab.client, &burst);
    command.args([
        "-sS",
        "-4",
        "--parallel",
        "--parallel-immediate",
        "--parallel-max",
        "200",
    ]);
    (0..CONNECTIONS).for_each(|i| {
        command.args(["-o", "/dev/null"]);
        command.arg(format!("http://{SERVER_V4}:8081/bytes/{}", 40_000 + i));
    });
    lab.run(command);
    thread::sleep(SETTLE);
    let after = lab.counters();

    let samples = netmon.stop(first);
    let expected = after.ip_bytes_since(&before);
    let attributed = bytes_of_app(&samples, "burst");
    let inferred: u64 = samples
        .iter()
        .map(|sample| sample.stats.inferred_bytes)
        .sum();
    eprintln!("burst: {attributed} of {expected} interface bytes; {inferred} bytes by inference");
    assert!(
        attributed as f64 >= 0.99 * expected as f64,
        "only {attributed} of {expected} bytes went to the process"
    );
    assert_within("burst", attributed, expected, 1.0);
}

/// A browser's TLS bytes go to the domain its ClientHello named (SNI, rolled up with the
/// Public Suffix List); the byte count still matches the interface.
#[test]
fn browser_bytes_go_to_the_domain_named_in_the_tls_handshake() {
    let mut lab = Lab::new();
    lab.start_tls_server("www.example.test", 8443, 8_000_000);
    let browser = lab.program_named("curl", "firefox");
    let netmon = lab.start_netmon(1);
    let first = netmon.wait_ready();

    let before = lab.counters();
    let mut download = lab.command(&lab.client, &browser);
    download.args([
        "-sS",
        "-k",
        "-o",
        "/dev/null",
        "--resolve",
        &format!("www.example.test:8443:{SERVER_V4}"),
    ]);
    download.arg("https://www.example.test:8443/big.bin");
    lab.run(download);
    thread::sleep(SETTLE);
    let after = lab.counters();
    let samples = netmon.stop(first);

    let usage: Vec<_> = samples
        .iter()
        .flat_map(|sample| &sample.usage)
        .filter(|usage| usage.app == "firefox")
        .collect();
    let named: u64 = usage
        .iter()
        .filter(|usage| {
            usage
                .destination
                .as_ref()
                .is_some_and(|d| d.domain == "example.test" && d.host == "www.example.test")
        })
        .map(|usage| usage.bytes)
        .sum();
    assert_within(
        "firefox to example.test (TLS SNI)",
        named,
        after.ip_bytes_since(&before),
        1.0,
    );
    assert_eq!(
        named,
        bytes_of_app(&samples, "firefox"),
        "every firefox byte carries the domain"
    );
}
