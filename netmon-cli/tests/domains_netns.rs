//! End to end: names learned on the wire. A DNS server (dnsmasq) in the server namespace answers
//! three hostnames with three addresses of that namespace; a client resolves them through it
//! (over UDP, and one over TCP) and downloads over plain HTTP and over TLS, while `netmon run`
//! captures in the client namespace.
//! The database must then hold each registrable domain's bytes (from the DNS answers and the TLS
//! ClientHello's server name, also when the ClientHello spans two TCP segments) within 1 % of
//! the interface counters, and no URL path or query string anywhere in its files.
//! A second test answers one name with so many addresses that the UDP response is over 2,048
//! bytes (EDNS): the address the client then fetches from is named all the same.

mod support;

use std::thread;
use std::time::Duration;

use netmon_core::config::{DomainTracking, LogLevel};
use netmon_core::Config;
use support::{assert_within, files_containing, Counters, Lab};

/// Lets the last packets of a phase (FIN, ACK) cross before the counters are read.
const SETTLE: Duration = Duration::from_millis(400);
const CDN: (&str, &str) = ("video.example-cdn.net", "10.200.0.11");
const NETFLIX: (&str, &str) = ("api.netflix.com", "10.200.0.12");
const BBC: (&str, &str) = ("www.bbc.co.uk", "10.200.0.13");
/// A name no DNS answer gives: only the TLS ClientHello names it.
const SNI_ONLY: (&str, &str) = ("media.bbc.co.uk", "10.200.0.14");
/// Segment size of the client in the last phase: curl's 517-byte ClientHello (OpenSSL 3.0)
/// spans two segments, so its server name is only found by reassembly.
const SMALL_MSS: u16 = 300;
/// A name answered with [`MANY_ADDRESSES`] A records (10.200.0.100 and up).
const MANY_NAME: &str = "many.example-big.net";
/// 150 A records of 16 bytes: a response of about 2,450 bytes.
const MANY_ADDRESSES: u8 = 150;
/// Jumbo frames, so the response crosses the veth as one datagram, not IP fragments.
const JUMBO_MTU: u16 = 9000;
/// Words of the URL that must never be stored or logged.
const URL_SECRETS: [&str; 2] = ["secret", "token"];

#[test]
fn bytes_go_to_the_domains_named_by_dns_and_tls_and_no_url_is_kept() {
    let mut lab = Lab::new();
    [CDN, NETFLIX, BBC, SNI_ONLY]
        .iter()
        .for_each(|(_, address)| lab.add_server_address(&format!("{address}/24")));
    let resolver = lab.start_dns(&[CDN, NETFLIX, BBC]);
    lab.start_http_server(8080);
    lab.start_tls_server(BBC.0, 443, 6_000_000);
    lab.write_config(&Config {
        domain_tracking: DomainTracking::All,
        // Everything netmon logs is searched for URL parts below.
        log_level: LogLevel::Debug,
        ..Config::default()
    });
    let client = lab.program_named("curl", "webget");
    let netmon = lab.start_netmon(1);
    let first = netmon.wait_ready();

    let phase = |run: &dyn Fn()| -> u64 {
        let before: Counters = lab.counters();
        run();
        thread::sleep(SETTLE);
        lab.counters().ip_bytes_since(&before)
    };
    let get = |args: &[&str]| {
        let mut command = lab.command(&lab.client, &client);
        command.args(["-sS", "-4", "-o", "/dev/null"]).args(args);
        lab.run(command);
    };
    let cdn = phase(&|| get(&[&format!("http://{}:8080/bytes/8000000", CDN.0)]));
    // This name is looked up over TCP: DNS answers are read from TCP streams too.
    resolver.use_tcp(true);
    let netflix = phase(&|| {
        get(&[&format!("http://{}:8080/bytes/5000000", NETFLIX.0)]);
        // Answered 400 by the test server; its path and query must not be kept anywhere.
        get(&[&format!(
            "http://{}:8080/secret-path?token=hunter2",
            NETFLIX.0
        )]);
    });
    resolver.use_tcp(false);
    let bbc = phase(&|| get(&["-k", &format!("https://{}/big.bin", BBC.0)]));
    lab.limit_client_segments(SMALL_MSS);
    let sni_only = phase(&|| {
        let (name, address) = SNI_ONLY;
        get(&[
            "-k",
            "--resolve",
            &format!("{name}:443:{address}"),
            &format!("https://{name}/big.bin"),
        ]);
    });
    thread::sleep(Duration::from_millis(1200));
    let samples = netmon.stop(first);
    support::print_apps(&samples);

    let stored = lab.stored_domains();
    eprintln!("stored domains: {stored:?}");
    let bytes_of = |domain: &str| {
        stored
            .iter()
            .filter(|total| total.domain == domain)
            .map(|total| total.sent + total.received)
            .sum::<u64>()
    };
    assert_within(
        "example-cdn.net (DNS)",
        bytes_of("example-cdn.net"),
        cdn,
        1.0,
    );
    assert_within(
        "netflix.com (DNS over TCP)",
        bytes_of("netflix.com"),
        netflix,
        1.0,
    );
    assert_within(
        "bbc.co.uk (DNS, TLS SNI)",
        bytes_of("bbc.co.uk"),
        bbc + sni_only,
        1.0,
    );
    let hosts = lab.stored_hostnames("bbc.co.uk");
    eprintln!("bbc.co.uk hostnames: {hosts:?}");
    let host_bytes = |host: &str| {
        hosts
            .iter()
            .filter(|total| total.hostname == host)
            .map(|total| total.sent + total.received)
            .sum::<u64>()
    };
    assert_within(
        "media.bbc.co.uk (TLS SNI split over two segments)",
        host_bytes(SNI_ONLY.0),
        sni_only,
        1.0,
    );

    let home = lab.netmon_home();
    for kept in ["network_monitor.db", "logs/daemon.log"] {
        assert!(home.join(kept).is_file(), "netmon wrote no {kept}");
    }
    let control = lab.temp.path().join("control");
    std::fs::create_dir(&control).expect("create a control directory");
    std::fs::write(control.join("request"), "GET /secret-path?token=hunter2").expect("write");
    assert_eq!(
        files_containing(&control, &URL_SECRETS).len(),
        1,
        "the search finds URL parts where they are"
    );
    let leaks = files_containing(&home, &URL_SECRETS);
    assert!(
        leaks.is_empty(),
        "URL parts reached netmon's files: {leaks:?}"
    );
}

#[test]
fn a_dns_response_over_2048_bytes_names_its_last_address() {
    let mut lab = Lab::new();
    lab.set_mtu(JUMBO_MTU);
    let addresses: Vec<String> = (0..MANY_ADDRESSES)
        .map(|index| format!("10.200.0.{}", 100 + u16::from(index)))
        .collect();
    let answers: Vec<(&str, &str)> = addresses
        .iter()
        .map(|address| (MANY_NAME, address.as_str()))
        .collect();
    let _resolver = lab.start_dns(&answers);
    lab.start_http_server(8080);
    lab.write_config(&Config {
        domain_tracking: DomainTracking::All,
        ..Config::default()
    });
    let netmon = lab.start_netmon(1);
    let first = netmon.wait_ready();

    let before = lab.counters();
    let (size, answered) = lab.query_dns(MANY_NAME);
    assert!(size > 2048, "the response is only {size} bytes");
    assert_eq!(answered.len(), usize::from(MANY_ADDRESSES), "{answered:?}");
    // The last address on the wire: its record lies past byte 2,048 of the response.
    let last = answered.last().expect("addresses").clone();
    lab.add_server_address(&format!("{last}/24"));
    let mut get = lab.command(&lab.client, "curl");
    get.args(["-sS", "-4", "-o", "/dev/null", "--resolve"])
        .arg(format!("{MANY_NAME}:8080:{last}"))
        .arg(format!("http://{MANY_NAME}:8080/bytes/3000000"));
    lab.run(get);
    thread::sleep(SETTLE);
    let moved = lab.counters().ip_bytes_since(&before);
    thread::sleep(Duration::from_millis(1200));
    let samples = netmon.stop(first);
    support::print_apps(&samples);

    let stored = lab.stored_domains();
    eprintln!("stored domains: {stored:?}");
    let named: u64 = stored
        .iter()
        .filter(|total| total.domain == "example-big.net")
        .map(|total| total.sent + total.received)
        .sum();
    // The DNS exchange itself goes to no domain; the download is nearly all of the bytes.
    assert_within("example-big.net (a 2.4 KB DNS response)", named, moved, 1.0);
}
