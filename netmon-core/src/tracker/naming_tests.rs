//! The tracker's naming rules on whole windows: several hostnames on one address (a CDN), the
//! time rule, HTTP Host, ECH, the extension's split, and no DNS at all.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::tests::{bytes_to, feed_payload, key, machine, tcp, tracker, FakeOwners};
use super::Tracker;
use crate::domains::{DnsAnswer, HostnameMap, Inspector, Naming};
use crate::packet::PacketMeta;
use crate::sample::{Provenance, Sample};

const CDN: &str = "192.0.2.7";

fn answer(host: &str) -> Vec<DnsAnswer> {
    vec![DnsAnswer {
        ip: CDN.parse().unwrap(),
        host: host.into(),
        ttl: 60,
    }]
}

fn at(start: Instant, millis: u64) -> Instant {
    start + Duration::from_millis(millis)
}

/// A flow from local `port` to the CDN's `server_port` carrying `len` bytes at `now`.
fn flow(tracker: &mut Tracker, port: u16, server_port: u16, len: u32, now: Instant) -> PacketMeta {
    let packet = tcp(
        &format!("10.0.0.2:{port}"),
        &format!("{CDN}:{server_port}"),
        len,
        false,
    );
    tracker.record(&packet, machine().place(&packet), now);
    packet
}

/// Bytes per (domain, provenance) in `sample`, sorted.
fn named(sample: &Sample) -> Vec<(String, Provenance, u64)> {
    let mut found: Vec<(String, Provenance, u64)> = sample
        .usage
        .iter()
        .filter_map(|usage| {
            let destination = usage.destination.as_ref()?;
            Some((
                destination.domain.clone(),
                destination.provenance,
                usage.bytes,
            ))
        })
        .fold(Vec::new(), |mut totals, (domain, provenance, bytes)| {
            match totals
                .iter_mut()
                .find(|(d, p, _)| *d == domain && *p == provenance)
            {
                Some(total) => total.2 += bytes,
                None => totals.push((domain, provenance, bytes)),
            }
            totals
        });
    found.sort();
    found
}

fn owned(ports: &[(u16, u16)], app: &str) -> FakeOwners {
    let owners = FakeOwners::default();
    ports.iter().for_each(|(port, server_port)| {
        owners.open(
            key(&format!("10.0.0.2:{port}"), &format!("{CDN}:{server_port}")),
            app,
        );
    });
    owners
}

#[test]
fn names_resolved_in_sequence_on_one_address_go_to_the_flows_that_began_after_them() {
    let owners = owned(&[(5000, 9000), (5001, 9000)], "firefox");
    let names = HostnameMap::default();
    let mut tracker = tracker(&owners).with_names(names.clone());
    let start = Instant::now();
    names.learn_dns(&answer("www.first-site.com"), start);
    flow(&mut tracker, 5000, 9000, 700, at(start, 100));
    names.learn_dns(&answer("www.second-site.org"), at(start, 1000));
    flow(&mut tracker, 5001, 9000, 300, at(start, 1100));
    names.learn_dns(&answer("www.never-fetched.net"), at(start, 2000));
    tracker.attribute(at(start, 2000));
    let sample = tracker.close(0, 5000, at(start, 4500));
    assert_eq!(
        named(&sample),
        [
            ("first-site.com".into(), Provenance::Dns, 700),
            ("second-site.org".into(), Provenance::Dns, 300),
        ],
        "each flow has the answer current when it began; nothing for the name never fetched"
    );

    // Later bytes of the same flows keep their names, whatever is answered since.
    names.learn_dns(&answer("www.latest.net"), at(start, 6000));
    flow(&mut tracker, 5000, 9000, 50, at(start, 6000));
    let next = tracker.close(5000, 10000, at(start, 9000));
    assert_eq!(
        named(&next),
        [("first-site.com".into(), Provenance::Dns, 50)]
    );
}

#[test]
fn a_flow_that_began_just_before_the_answer_takes_it_within_the_grace() {
    let owners = owned(&[(5000, 9000), (5001, 9001)], "firefox");
    let names = HostnameMap::default();
    let mut tracker = tracker(&owners).with_names(names.clone());
    let start = Instant::now();
    flow(&mut tracker, 5000, 9000, 100, start);
    names.learn_dns(&answer("raced.example.com"), at(start, 500));
    tracker.attribute(start);
    let sample = tracker.close(0, 5000, at(start, 1000));
    assert_eq!(
        named(&sample),
        [("example.com".into(), Provenance::Dns, 100)]
    );

    // No answer within the grace: the flow stays unresolved, even after a later answer.
    let owners = owned(&[(5001, 9001)], "firefox");
    let names = HostnameMap::default();
    let mut tracker = super::tests::tracker(&owners).with_names(names.clone());
    flow(&mut tracker, 5001, 9001, 100, start);
    tracker.attribute(start);
    let first = tracker.close(0, 5000, at(start, 4000));
    names.learn_dns(&answer("late.example.com"), at(start, 4500));
    flow(&mut tracker, 5001, 9001, 100, at(start, 5000));
    let second = tracker.close(5000, 10000, at(start, 9000));
    for sample in [first, second] {
        assert_eq!(
            named(&sample),
            [("unresolved".into(), Provenance::Unresolved, 100)]
        );
    }
}

#[test]
fn plain_http_hosts_and_sni_name_their_flows_whatever_dns_says() {
    let owners = owned(&[(5000, 80), (5001, 443)], "firefox");
    let names = HostnameMap::default();
    let mut tracker = tracker(&owners).with_names(names.clone());
    let mut inspector = Inspector::default();
    let start = Instant::now();
    names.learn_dns(&answer("www.dns-name.com"), start);
    let http = tcp("10.0.0.2:5000", &format!("{CDN}:80"), 400, false);
    let request = b"GET /private/path?q=1 HTTP/1.1\r\nHost: plain.http-site.org\r\n\r\n";
    feed_payload(&mut tracker, &mut inspector, http, request, start);
    let tls = tcp("10.0.0.2:5001", &format!("{CDN}:443"), 600, false);
    let hello = crate::domains::testdata::openssl_client_hello();
    feed_payload(&mut tracker, &mut inspector, tls, &hello, start);
    tracker.attribute(start);
    let sample = tracker.close(0, 5000, at(start, 4000));
    assert_eq!(
        named(&sample),
        [
            ("http-site.org".into(), Provenance::Http, 400),
            ("netflix.com".into(), Provenance::Sni, 600),
        ]
    );
}

#[test]
fn an_ech_outer_name_gives_way_to_dns_and_is_kept_only_as_a_last_resort() {
    let owners = owned(&[(5000, 443), (5001, 443)], "firefox");
    let names = HostnameMap::default();
    let mut tracker = tracker(&owners).with_names(names.clone());
    let start = Instant::now();
    let ech = Naming::OuterServer("cloudflare-ech.com".into());
    let first = flow(&mut tracker, 5000, 443, 500, start);
    tracker.name(machine().place(&first), &ech);
    names.learn_dns(&answer("www.real-site.com"), at(start, 4000));
    let second = flow(&mut tracker, 5001, 443, 800, at(start, 4100));
    tracker.name(machine().place(&second), &ech);
    tracker.attribute(at(start, 4100));
    let sample = tracker.close(0, 5000, at(start, 4200));
    assert_eq!(
        named(&sample),
        [
            ("cloudflare-ech.com".into(), Provenance::Sni, 500),
            ("real-site.com".into(), Provenance::Dns, 800),
        ],
        "DNS names the ECH flow that began after its answer; the other keeps the outer name"
    );
}

#[test]
fn an_ech_grease_outer_name_that_dns_gave_its_address_names_the_flow_as_sni() {
    let owners = owned(&[(5000, 443)], "chromium");
    let names = HostnameMap::default();
    let mut tracker = tracker(&owners).with_names(names.clone());
    let start = Instant::now();
    names.learn_dns(&answer("www.real-site.com"), start);
    // Another name of the CDN address is resolved before the connection to the first begins.
    names.learn_dns(&answer("www.other-site.org"), at(start, 100));
    let hello = flow(&mut tracker, 5000, 443, 900, at(start, 200));
    let grease = Naming::OuterServer("www.real-site.com".into());
    tracker.name(machine().place(&hello), &grease);
    tracker.attribute(at(start, 200));
    let sample = tracker.close(0, 5000, at(start, 300));
    assert_eq!(
        named(&sample),
        [("real-site.com".into(), Provenance::Sni, 900)],
        "the ClientHello's name beats the newer answer for the address"
    );
}

#[test]
fn extension_reports_split_an_address_s_unnamed_browser_bytes_by_reported_bytes() {
    let owners = owned(&[(5000, 443), (5001, 443), (5002, 443)], "zen");
    owners.open(key("10.0.0.2:5003", &format!("{CDN}:443")), "curl");
    let names = HostnameMap::default();
    let mut tracker =
        tracker(&owners)
            .with_names(names.clone())
            .with_domains(crate::domains::DomainPolicy {
                tracking: crate::config::DomainTracking::All,
                ..crate::domains::DomainPolicy::default()
            });
    let start = Instant::now();
    // No DNS on the wire (DNS over HTTPS), no SNI (ECH without an outer name, or a connection
    // older than the capture).
    flow(&mut tracker, 5000, 443, 3000, start);
    flow(&mut tracker, 5001, 443, 1000, start);
    flow(&mut tracker, 5003, 443, 500, start);
    let cdn = CDN.parse().unwrap();
    names.learn(cdn, "video.site-a.com", 3000, at(start, 1000));
    names.learn(cdn, "www.site-b.org", 1000, at(start, 1000));
    tracker.attribute(start);
    let sample = tracker.close(0, 5000, at(start, 4000));
    let zen: Sample = Sample {
        usage: sample
            .usage
            .iter()
            .filter(|u| u.app == "zen")
            .cloned()
            .collect(),
        ..sample.clone()
    };
    assert_eq!(
        named(&zen),
        [
            ("site-a.com".into(), Provenance::Extension, 3000),
            ("site-b.org".into(), Provenance::Extension, 1000),
        ]
    );
    assert_eq!(
        bytes_to(&sample, "unresolved"),
        500,
        "other applications' bytes are not split by the browser's reports"
    );

    // A flow named by its own SNI takes its share off the reported bytes first.
    let hello = tcp("10.0.0.2:5002", &format!("{CDN}:443"), 2000, false);
    tracker.record(&hello, machine().place(&hello), at(start, 5000));
    tracker.name(
        machine().place(&hello),
        &Naming::Server("video.site-a.com".into()),
    );
    flow(&mut tracker, 5000, 443, 1000, at(start, 5000));
    names.learn(cdn, "video.site-a.com", 2000, at(start, 6000));
    names.learn(cdn, "www.site-b.org", 1000, at(start, 6000));
    tracker.attribute(at(start, 5000));
    let next = tracker.close(5000, 10000, at(start, 9000));
    // Reported over the last two windows: site-a 5000 (2000 of them carried by the SNI flow),
    // site-b 2000: the unnamed 1000 bytes split 3000 : 2000.
    assert_eq!(bytes_to(&next, "site-a.com"), 2000 + 600);
    assert_eq!(bytes_to(&next, "site-b.org"), 400);
}

#[test]
fn a_single_reported_hostname_names_the_address_s_flows_for_good() {
    let owners = owned(&[(5000, 443)], "zen");
    let names = HostnameMap::default();
    let mut tracker = tracker(&owners).with_names(names.clone());
    let start = Instant::now();
    names.learn_dns(&answer("dns.other-site.net"), start);
    flow(&mut tracker, 5000, 443, 900, at(start, 100));
    names.learn(
        CDN.parse().unwrap(),
        "www.reported.com",
        900,
        at(start, 2000),
    );
    tracker.attribute(start);
    let first = tracker.close(0, 5000, at(start, 4000));
    assert_eq!(
        named(&first),
        [("reported.com".into(), Provenance::Extension, 900)],
        "the browser's own report beats a DNS answer"
    );
    for window in 1..4u64 {
        names.learn(
            CDN.parse().unwrap(),
            "www.elsewhere.com",
            1,
            at(start, window * 5000),
        );
        flow(&mut tracker, 5000, 443, 10, at(start, window * 5000));
        let sample = tracker.close(0, 5000, at(start, window * 5000 + 4000));
        assert_eq!(
            named(&sample),
            [("reported.com".into(), Provenance::Extension, 10)]
        );
    }
}

#[test]
fn without_any_dns_on_the_wire_sni_still_names_and_the_rest_stays_unresolved() {
    let owners = owned(&[(5000, 443), (5001, 443)], "firefox");
    let mut tracker = tracker(&owners);
    let start = Instant::now();
    let hello = flow(&mut tracker, 5000, 443, 600, start);
    tracker.name(
        machine().place(&hello),
        &Naming::Server("www.bbc.co.uk".into()),
    );
    flow(&mut tracker, 5001, 443, 400, start);
    tracker.attribute(start);
    let sample = tracker.close(0, 5000, at(start, 4000));
    assert_eq!(
        named(&sample),
        [
            ("bbc.co.uk".into(), Provenance::Sni, 600),
            ("unresolved".into(), Provenance::Unresolved, 400),
        ]
    );
    let unresolved = sample
        .usage
        .iter()
        .find_map(|u| u.destination.as_ref().filter(|d| d.domain == "unresolved"))
        .map(|d| Arc::<str>::from(d.host.as_str()));
    assert_eq!(unresolved.as_deref(), Some(CDN), "kept by address");
}
