//! Measured: the share of a real browser's bytes that no source names (`unresolved`), with DNS
//! on the wire and without any (what a DNS-over-HTTPS user's capture sees). Headless Chromium
//! (Debian's, as the dashboard tests use) loads five sites of five registrable domains — four
//! over HTTPS (two sharing one address, like a CDN), one over plain HTTP — from servers in a
//! namespace, while `netmon run` captures in the client's. With DNS, dnsmasq answers the names;
//! without, Chromium resolves them itself (`--host-resolver-rules`) and no DNS packet crosses
//! the wire. The stored provenance of every browser byte is printed (docs/domains.md quotes the
//! figures): `cargo test -p netmon-cli --test unresolved_share_netns -- --nocapture`.

mod support;

use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

use netmon_core::Config;
use support::Lab;

/// (hostname, address, scheme, bytes of its page).
const SITES: [(&str, &str, &str, usize); 5] = [
    ("www.news-site.com", "10.200.0.11", "https", 1_500_000),
    ("static.shop-site.net", "10.200.0.11", "https", 800_000),
    ("video.stream-site.org", "10.200.0.12", "https", 3_000_000),
    ("blog.plain-site.com", "10.200.0.13", "http", 500_000),
    ("api.social-site.io", "10.200.0.14", "https", 300_000),
];

/// Stored browser bytes by provenance after Chromium loaded every site.
fn browse(dns_on_the_wire: bool) -> BTreeMap<String, u64> {
    let mut lab = Lab::new();
    ["10.200.0.11", "10.200.0.12", "10.200.0.13", "10.200.0.14"]
        .iter()
        .for_each(|address| lab.add_server_address(&format!("{address}/24")));
    let answers: Vec<(&str, &str)> = SITES.iter().map(|(name, ip, ..)| (*name, *ip)).collect();
    let _resolver = dns_on_the_wire.then(|| lab.start_dns(&answers));
    lab.start_http_server(8080);
    lab.start_https_server(SITES[0].0, 443);
    lab.write_config(&Config::default());
    let netmon = lab.start_netmon_on_veth(1);
    let first = netmon.wait_ready();
    let profile = lab.temp.path().join("chromium-profile");
    SITES.iter().for_each(|(name, ip, scheme, bytes)| {
        let mut chromium = lab.command(&lab.client, "/usr/bin/chromium");
        chromium
            .args(["--headless=new", "--no-sandbox", "--disable-gpu"])
            .args([
                "--ignore-certificate-errors",
                "--disable-quic",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .args(["--disable-sync", "--disable-extensions", "--dump-dom"])
            .arg(format!("--user-data-dir={}", profile.display()));
        if !dns_on_the_wire {
            let rules: Vec<String> = SITES
                .iter()
                .map(|(name, ip, ..)| format!("MAP {name} {ip}"))
                .chain(std::iter::once("MAP * ~NOTFOUND".to_string()))
                .collect();
            chromium.arg(format!("--host-resolver-rules={}", rules.join(", ")));
        }
        let port = if *scheme == "http" { ":8080" } else { "" };
        chromium.arg(format!("{scheme}://{name}{port}/page/{bytes}"));
        let page = lab.run(chromium).stdout;
        assert!(
            page.len() >= *bytes,
            "Chromium loaded {name} ({ip}): {} bytes of DOM",
            page.len()
        );
    });
    thread::sleep(Duration::from_millis(1500));
    netmon.stop(first);
    let stored = lab.stored_domains();
    eprintln!(
        "unresolved addresses: {:?}",
        lab.stored_hostnames("unresolved")
    );
    stored
        .iter()
        .flat_map(|domain| domain.provenance.iter())
        .fold(BTreeMap::new(), |mut totals, (name, bytes)| {
            *totals.entry(name.clone()).or_default() += bytes;
            totals
        })
}

/// `part` of `whole` in percent.
fn percent(part: u64, whole: u64) -> f64 {
    part as f64 * 100.0 / whole.max(1) as f64
}

#[test]
fn a_browser_s_bytes_are_named_with_and_without_dns_on_the_wire() {
    let page_bytes: u64 = SITES.iter().map(|(.., bytes)| *bytes as u64).sum();
    for dns in [true, false] {
        let by_provenance = browse(dns);
        let total: u64 = by_provenance.values().sum();
        let of = |name: &str| by_provenance.get(name).copied().unwrap_or(0);
        let unresolved = of("unresolved");
        eprintln!(
            "DNS on the wire: {dns}; browser bytes {total}; by provenance {by_provenance:?}; \
             unresolved {unresolved} = {:.3} %",
            percent(unresolved, total)
        );
        assert!(
            total >= page_bytes,
            "every page's bytes are counted: {total}"
        );
        assert!(
            percent(unresolved, total) < 0.5,
            "at most the DNS queries stay unresolved: {by_provenance:?}"
        );
        assert!(
            percent(of("sni") + of("http"), total) > 99.0,
            "TLS SNI (Chromium's ECH GREASE outer name) and HTTP Host name the pages: \
             {by_provenance:?}"
        );
        if !dns {
            assert_eq!(of("dns"), 0, "no answer was on the wire");
        }
    }
}
