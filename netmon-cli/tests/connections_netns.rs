//! End to end: `/api/connections` under real traffic. dnsmasq in the server namespace answers
//! two hostnames; a browser-like client (`webget`, listed in `browser_apps`) downloads from
//! one over plain HTTP and from the other over TLS, slowly, while an untracked application
//! (`updater`) downloads by address. While they run, the daemon's open connections name each
//! flow's process (its PID and application), its hostname and how it was named (`http` from the
//! Host header, `sni` from the ClientHello; none for the untracked application), with rates and
//! growing byte counts (`netmon top --connections --json` prints the same); once the clients
//! close, their connections are gone.

mod support;

use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use netmon_core::Config;
use serde_json::Value;
use support::Lab;

const CDN: (&str, &str) = ("video.example-cdn.net", "10.200.0.11");
const BBC: (&str, &str) = ("www.bbc.co.uk", "10.200.0.13");
/// The server's link: three 4 MB downloads share it for about 12 s, and none can end within
/// 4 s (the whole link's worth), so all three span the snapshots read below.
const LINK: &str = "8mbit";
const LINK_BYTES_PER_SECOND: f64 = 1_000_000.0;
const BYTES: usize = 4_000_000;

/// The open connections the daemon reports now.
fn open_connections(lab: &Lab) -> Value {
    let body = lab
        .api_get("/api/connections?limit=100")
        .expect("/api/connections answers");
    serde_json::from_str(&body).expect("JSON")
}

/// The connection of process `pid` to `port`, if listed.
fn connection_of(answer: &Value, pid: u32, port: u16) -> Option<Value> {
    answer["connections"]
        .as_array()?
        .iter()
        .find(|connection| connection["pid"] == pid && connection["remote_port"] == port)
        .cloned()
}

/// Polls until every (pid, port) is listed and has received bytes; the answer then.
fn wait_until_listed(lab: &Lab, wanted: &[(u32, u16)]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = open_connections(lab);
        let all_there = wanted.iter().all(|(pid, port)| {
            connection_of(&answer, *pid, *port)
                .is_some_and(|c| c["received_bytes"].as_u64() > Some(0))
        });
        if all_there {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "not all of {wanted:?} listed within 10 s: {answer}"
        );
        thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn open_connections_show_process_name_and_provenance_and_go_when_closed() {
    let mut lab = Lab::new();
    [CDN, BBC]
        .iter()
        .for_each(|(_, address)| lab.add_server_address(&format!("{address}/24")));
    let _resolver = lab.start_dns(&[CDN, BBC]);
    lab.start_http_server(8080);
    lab.start_https_server(BBC.0, 443);
    lab.write_config(&Config {
        browser_apps: vec!["webget".into()],
        ..Config::default()
    });
    let browser = lab.program_named("curl", "webget");
    let updater = lab.program_named("curl", "updater");
    lab.limit_server_rate(LINK);
    let netmon = lab.start_netmon_on_veth(1);
    let first = netmon.wait_ready();
    lab.wait_for_api();

    let download = |program: &std::path::Path, args: &[&str]| -> Child {
        let mut command = lab.command(&lab.client, program);
        command
            .args(["-sS", "-4", "-k", "--fail", "-o", "/dev/null"])
            .args(args)
            .stdout(Stdio::null());
        command.spawn().expect("start a download")
    };
    let mut plain = download(&browser, &[&format!("http://{}:8080/bytes/{BYTES}", CDN.0)]);
    let mut tls = download(&browser, &[&format!("https://{}/bytes/{BYTES}", BBC.0)]);
    let mut untracked = download(&updater, &[&format!("http://{}:8080/bytes/{BYTES}", CDN.1)]);
    let (plain_pid, tls_pid, untracked_pid) = (plain.id(), tls.id(), untracked.id());
    let wanted = [(plain_pid, 8080), (tls_pid, 443), (untracked_pid, 8080)];

    let running = wait_until_listed(&lab, &wanted);
    eprintln!("while running: {running:#}");
    let of = |pid, port| connection_of(&running, pid, port).unwrap();
    let http = of(plain_pid, 8080);
    assert_eq!(http["app"], "webget");
    assert_eq!(http["protocol"], "tcp");
    assert_eq!(http["remote_address"], CDN.1);
    assert_eq!(http["host"], CDN.0);
    assert_eq!(http["provenance"], "http", "named by its Host header");
    let https = of(tls_pid, 443);
    assert_eq!(https["app"], "webget");
    assert_eq!(https["remote_address"], BBC.1);
    assert_eq!(https["host"], BBC.0);
    assert_eq!(https["provenance"], "sni", "named by its ClientHello");
    let other = of(untracked_pid, 8080);
    assert_eq!(other["app"], "updater");
    assert_eq!(
        (&other["host"], &other["provenance"]),
        (&Value::Null, &Value::Null),
        "an application domain_tracking does not cover shows no hostname"
    );
    assert!(running["open"].as_u64().unwrap() >= 3, "{running}");

    let mut top = lab.command(&lab.client, env!("CARGO_BIN_EXE_netmon"));
    top.args(["top", "--once", "--json", "--connections", "--limit", "50"])
        .env("NETMON_HOME", lab.netmon_home());
    let line: Value = serde_json::from_slice(&lab.run(top).stdout).expect("one JSON line");
    let in_top = connection_of(&line["connections"], tls_pid, 443)
        .unwrap_or_else(|| panic!("netmon top --connections lists the TLS download: {line}"));
    assert_eq!(
        (&in_top["host"], &in_top["provenance"]),
        (&Value::from(BBC.0), &Value::from("sni"))
    );

    thread::sleep(Duration::from_millis(1200));
    let later = open_connections(&lab);
    let ours: Vec<Value> = wanted
        .iter()
        .map(|(pid, port)| {
            connection_of(&later, *pid, *port)
                .unwrap_or_else(|| panic!("{pid} to {port} still open: {later}"))
        })
        .collect();
    let rate: f64 = ours
        .iter()
        .map(|c| c["received_bytes_per_second"].as_f64().unwrap())
        .sum();
    assert!(
        (0.5 * LINK_BYTES_PER_SECOND..=1.3 * LINK_BYTES_PER_SECOND).contains(&rate),
        "the downloads share a {LINK} link: {rate} B/s in all"
    );
    let http_later = &ours[0];
    assert!(
        http_later["received_bytes"].as_u64() > http["received_bytes"].as_u64(),
        "bytes so far grow: {http} then {http_later}"
    );

    [&mut plain, &mut tls, &mut untracked]
        .into_iter()
        .for_each(|child| assert!(child.wait().expect("wait for a download").success()));
    thread::sleep(Duration::from_millis(1500));
    let after = open_connections(&lab);
    wanted.iter().for_each(|(pid, port)| {
        assert!(
            connection_of(&after, *pid, *port).is_none(),
            "{pid} to {port} closed but still listed: {after}"
        );
    });
    let samples = netmon.stop(first);
    assert!(!samples.is_empty());
}
