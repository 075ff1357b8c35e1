//! End to end: names learned on the wire. A DNS server (dnsmasq) in the server namespace answers
//! three hostnames with three addresses of that namespace; a client resolves them through it
//! (over UDP, and one over TCP) and downloads over plain HTTP and over TLS, while `netmon run`
//! captures in the client namespace.
//! The database must then hold each registrable domain's bytes (from the DNS answers and the TLS
//! ClientHello's server name, also when the ClientHello spans two TCP segments) within 1 % of
//! the interface counters, and no URL path or query string anywhere in its files.
//! Another test answers one name with so many addresses that the UDP response is over 2,048
//! bytes (EDNS): the address the client then fetches from is named all the same.

mod support;

use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use netmon_core::config::{DomainTracking, LogLevel};
use netmon_core::Config;
use support::{assert_within, files_containing, Counters, Lab};

/// One lab at a time: the interleaved phase's truth is calibrated from the sequential runs
/// (same sizes, same packets), which holds only while no lab's traffic is retransmitted; four
/// labs at once on a 2-core machine made it 1.3 % off in a CI run.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

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
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
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
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
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

/// One server address serving hostnames of five registrable domains (a CDN), and a name
/// resolved to it that is never fetched.
const SHARED: &str = "10.200.0.21";
const ALPHA: &str = "www.alpha-video.com";
const BETA: &str = "news.beta-site.org";
const GAMMA: &str = "shop.gamma-store.net";
const DELTA: &str = "img.delta-cdn.io";
/// Named only by DNS: iperf3 speaks neither HTTP nor TLS.
const EPSILON: &str = "data.epsilon-files.com";
const UNUSED: &str = "www.never-fetched.com";
/// A name that no DNS server answers: the client connects with `--resolve` (SNI only).
const ZETA: &str = "media.zeta-stream.tv";
const TLS_FILE: usize = 2_000_000;

/// A lab whose DNS server answers every shared name with [`SHARED`], an HTTP server on 8080,
/// a TLS server on 443 and iperf3 on 5201, all on that address; domains tracked for all
/// applications.
fn shared_address_lab() -> (Lab, support::NetnsResolver) {
    let mut lab = Lab::new();
    lab.add_server_address(&format!("{SHARED}/24"));
    let names: Vec<(&str, &str)> = [ALPHA, BETA, GAMMA, DELTA, EPSILON, UNUSED]
        .iter()
        .map(|name| (*name, SHARED))
        .collect();
    let resolver = lab.start_dns(&names);
    lab.start_http_server(8080);
    lab.start_tls_server(ALPHA, 443, TLS_FILE);
    lab.start_iperf_server(5201);
    lab.write_config(&Config {
        domain_tracking: DomainTracking::All,
        ..Config::default()
    });
    (lab, resolver)
}

/// IP bytes on the client's veth while `run` runs (and its last packets settle).
fn measured(lab: &Lab, run: impl FnOnce()) -> u64 {
    let before: Counters = lab.counters();
    run();
    thread::sleep(SETTLE);
    lab.counters().ip_bytes_since(&before)
}

fn http_url(host: &str, bytes: u64) -> String {
    format!("http://{host}:8080/bytes/{bytes}")
}

fn https_url(host: &str) -> String {
    format!("https://{host}/big.bin")
}

/// The curl command line for `url` (any certificate: the server has one for all names).
fn fetch(lab: &Lab, client: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Command {
    let mut command = lab.command(&lab.client, client);
    command
        .args(["-sS", "-4", "-k", "-o", "/dev/null"])
        .args(extra)
        .arg(url);
    command
}

/// Looks `name` up in the client namespace (a DNS answer for the shared address, not fetched).
fn resolve(lab: &Lab, name: &str) {
    let mut command = lab.command(&lab.client, "getent");
    command.args(["ahostsv4", name]);
    lab.run(command);
}

/// Stored bytes per registrable domain, and each domain's provenance.
fn stored(lab: &Lab) -> Vec<(String, u64, std::collections::BTreeMap<String, u64>)> {
    let stored: Vec<_> = lab
        .stored_domains()
        .into_iter()
        .map(|total| (total.domain, total.sent + total.received, total.provenance))
        .collect();
    eprintln!("stored domains: {stored:?}");
    stored
}

fn bytes_stored(
    stored: &[(String, u64, std::collections::BTreeMap<String, u64>)],
    domain: &str,
) -> u64 {
    stored
        .iter()
        .filter(|(name, _, _)| name == domain)
        .map(|(_, bytes, _)| *bytes)
        .sum()
}

/// Every stored domain is one of `fetched` or `unresolved` (the DNS server's own address).
fn assert_only(
    stored: &[(String, u64, std::collections::BTreeMap<String, u64>)],
    fetched: &[&str],
) {
    let others: Vec<&String> = stored
        .iter()
        .map(|(domain, _, _)| domain)
        .filter(|domain| !fetched.contains(&domain.as_str()) && *domain != "unresolved")
        .collect();
    assert!(
        others.is_empty(),
        "bytes credited to domains never fetched: {others:?}"
    );
}

#[test]
fn hostnames_sharing_one_address_each_get_their_own_bytes() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let (lab, _resolver) = shared_address_lab();
    let client = lab.program_named("curl", "webget");
    // Long windows: the sequence below happens within one of them.
    let netmon = lab.start_netmon(10);
    let first = netmon.wait_ready();
    let run = |command| {
        lab.run(command);
    };

    // (a) In sequence, each followed by a lookup of a name that is never fetched (the newest
    // answer for the address is then always the wrong one).
    let sequence: Vec<(&str, String)> = vec![
        ("alpha-video.com", http_url(ALPHA, 3_000_000)),
        ("beta-site.org", https_url(BETA)),
        ("gamma-store.net", http_url(GAMMA, 1_500_000)),
        ("delta-cdn.io", https_url(DELTA)),
    ];
    let mut truth: std::collections::BTreeMap<&str, u64> = sequence
        .iter()
        .map(|(domain, url)| {
            let bytes = measured(&lab, || {
                run(fetch(&lab, &client, url, &[]));
                resolve(&lab, UNUSED);
            });
            (*domain, bytes)
        })
        .collect();
    // Named by the DNS answer current when it began: iperf3 is neither HTTP nor TLS.
    let iperf = lab.program_named("iperf3", "iperfget");
    let epsilon = measured(&lab, || {
        let mut command = lab.command(&lab.client, &iperf);
        command.args(["-4", "-c", EPSILON, "-n", "2M"]);
        run(command);
        resolve(&lab, UNUSED);
    });
    truth.insert("epsilon-files.com", epsilon);

    // (b) Interleaved: the same downloads at once, each calibrated by its sequential run above
    // (same sizes, same packets) and scaled to the phase's measured total.
    let concurrent = measured(&lab, || {
        let mut children: Vec<std::process::Child> = sequence
            .iter()
            .map(|(_, url)| fetch(&lab, &client, url, &[]).spawn().expect("start curl"))
            .collect();
        resolve(&lab, UNUSED);
        children.iter_mut().for_each(|child| {
            assert!(
                child.wait().expect("curl ends").success(),
                "a concurrent fetch failed"
            );
        });
    });
    let calibrated: u64 = sequence.iter().map(|(domain, _)| truth[domain]).sum();
    sequence.iter().for_each(|(domain, _)| {
        let share = truth[domain] as f64 * concurrent as f64 / calibrated as f64;
        *truth.get_mut(domain).unwrap() += share.round() as u64;
    });

    // (d) No DNS on the wire: the name only in the ClientHello.
    let zeta = measured(&lab, || {
        let resolve_flag = format!("{ZETA}:443:{SHARED}");
        run(fetch(
            &lab,
            &client,
            &https_url(ZETA),
            &["--resolve", &resolve_flag],
        ));
    });
    truth.insert("zeta-stream.tv", zeta);

    thread::sleep(Duration::from_millis(1200));
    let samples = netmon.stop(first);
    support::print_apps(&samples);
    let stored = stored(&lab);
    // The interleaved phase's total is measured, its split between the domains estimated (a
    // retransmission under load moves it): those domains are held to 1 % together and 2 %
    // each; the others, measured alone, to 1 % each.
    let interleaved: Vec<&str> = sequence.iter().map(|(domain, _)| *domain).collect();
    truth.iter().for_each(|(domain, expected)| {
        let allowed = if interleaved.contains(domain) {
            2.0
        } else {
            1.0
        };
        assert_within(domain, bytes_stored(&stored, domain), *expected, allowed);
    });
    let together = |bytes: &dyn Fn(&str) -> u64| interleaved.iter().map(|d| bytes(d)).sum();
    assert_within(
        "the interleaved domains together",
        together(&|domain| bytes_stored(&stored, domain)),
        together(&|domain| truth[domain]),
        1.0,
    );
    assert_only(&stored, &truth.keys().copied().collect::<Vec<_>>());
    // How each was named: nearly all bytes by the expected source (a window may close between
    // a connection's first packet and its request, leaving a SYN named by DNS).
    let share = |domain: &str, source: &str| {
        let (_, total, provenance) = stored
            .iter()
            .find(|(name, _, _)| name == domain)
            .expect("the domain is stored");
        provenance.get(source).copied().unwrap_or(0) as f64 / *total as f64
    };
    for (domain, source) in [
        ("alpha-video.com", "http"),
        ("gamma-store.net", "http"),
        ("beta-site.org", "sni"),
        ("delta-cdn.io", "sni"),
        ("epsilon-files.com", "dns"),
        ("zeta-stream.tv", "sni"),
    ] {
        assert!(
            share(domain, source) > 0.99,
            "{domain}: {:.3} named by {source}",
            share(domain, source)
        );
    }
}

#[test]
fn a_long_download_keeps_its_name_while_other_names_of_its_address_are_resolved() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let (lab, _resolver) = shared_address_lab();
    let client = lab.program_named("curl", "webget");
    // Short windows: each download spans several.
    let netmon = lab.start_netmon(1);
    let first = netmon.wait_ready();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let download = |url: String| {
        measured(&lab, || {
            thread::scope(|scope| {
                scope.spawn(|| {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        [BETA, GAMMA, UNUSED]
                            .iter()
                            .for_each(|name| resolve(&lab, name));
                        thread::sleep(Duration::from_millis(150));
                    }
                });
                lab.run(fetch(&lab, &client, &url, &["--limit-rate", "700K"]));
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            stop.store(false, std::sync::atomic::Ordering::Relaxed);
        })
    };
    // Plain HTTP and HTTPS, each about 3 s at the limited rate.
    let alpha = download(https_url(ALPHA));
    let delta = download(http_url(DELTA, 2_000_000));
    thread::sleep(Duration::from_millis(1200));
    let samples = netmon.stop(first);
    assert!(samples.len() >= 5, "the downloads spanned several windows");
    let stored = stored(&lab);
    // The lookups (a few KB of DNS, stored as unresolved) are within the 1 %.
    assert_within(
        "alpha-video.com (TLS)",
        bytes_stored(&stored, "alpha-video.com"),
        alpha,
        1.0,
    );
    assert_within(
        "delta-cdn.io (plain HTTP)",
        bytes_stored(&stored, "delta-cdn.io"),
        delta,
        1.0,
    );
    assert_only(&stored, &["alpha-video.com", "delta-cdn.io"]);
}
