//! PKTAP captures read from `.pcap` files (link type 258, LINKTYPE_PKTAP) through the same path
//! as the live macOS source. The files are built here from the documented `struct pktap_header`
//! layout (see `capture::pktap`); every Mac writes it little-endian. Replayed through the
//! monitor and tracker, their DNS answers and ClientHellos name the servers of the processes
//! the PKTAP headers name.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use etherparse::PacketBuilder;
mod replay;

use netmon_core::attribution::NoOwners;
use netmon_core::capture::{
    pcap::read_file, pktap::LINKTYPE_PKTAP, CaptureError, CaptureSource, Observation,
};
use netmon_core::domains::Naming;
use netmon_core::monitor::{self, Controls};
use netmon_core::packet::Transport;
use netmon_core::sample::{Direction, Sample};
use netmon_core::tracker::{Tracker, TrackerOptions};
use proptest::prelude::*;
use simple_dns::rdata::{RData, A};
use simple_dns::{Name, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE};

const DLT_EN10MB: u32 = 1;
const DLT_RAW: u32 = 12;
const HEADER_LEN: usize = 156;

/// A PKTAP header for a packet of link type `dlt`, owned by `pid`/`comm`, done for `epid`/`ecomm`.
fn pktap_header(dlt: u32, pid: i32, comm: &str, epid: i32, ecomm: &str) -> Vec<u8> {
    let mut header = vec![0u8; HEADER_LEN];
    let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &(HEADER_LEN as u32).to_le_bytes()); // pth_length
    put(4, &1u32.to_le_bytes()); // pth_type_next: packet
    put(8, &dlt.to_le_bytes()); // pth_dlt
    put(12, b"en0"); // pth_ifname
    put(36, &2u32.to_le_bytes()); // pth_flags: outbound
    put(52, &pid.to_le_bytes()); // pth_pid
    put(56, comm.as_bytes()); // pth_comm
    put(84, &epid.to_le_bytes()); // pth_epid
    put(88, ecomm.as_bytes()); // pth_ecomm
    header
}

fn ethernet_tcp_v4(payload: usize) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([192, 168, 1, 5], [17, 253, 144, 10], 64)
        .tcp(53000, 443, 1, 65535)
        .write(&mut frame, &vec![0; payload])
        .unwrap();
    frame
}

fn raw_udp_v6(payload: usize) -> Vec<u8> {
    let mut packet = Vec::new();
    PacketBuilder::ipv6([0xfd; 16], [0x20; 16], 64)
        .udp(5353, 443)
        .write(&mut packet, &vec![1; payload])
        .unwrap();
    packet
}

/// Writes `records` to a LINKTYPE_PKTAP pcap file at `path`.
fn write_pcap(path: &Path, records: &[Vec<u8>]) {
    let whole = records
        .iter()
        .map(|record| (record.as_slice(), record.len()));
    replay::write_pcap(path, LINKTYPE_PKTAP, whole);
}

fn read_all(path: &Path) -> Vec<Observation> {
    let mut observations = Vec::new();
    let count = read_file(path, |observation| observations.push(observation)).unwrap();
    assert_eq!(count as usize, observations.len());
    observations
}

fn record(header: Vec<u8>, packet: Vec<u8>) -> Vec<u8> {
    header.into_iter().chain(packet).collect()
}

#[test]
fn ipv4_and_ipv6_packets_are_read_with_their_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pktap.pcap");
    let v4 = ethernet_tcp_v4(100);
    let v6 = raw_udp_v6(30);
    write_pcap(
        &path,
        &[
            record(pktap_header(DLT_EN10MB, 812, "curl", 812, "curl"), v4),
            record(
                pktap_header(DLT_RAW, 97, "nsurlsessiond", 4242, "Music"),
                v6,
            ),
            record(pktap_header(DLT_RAW, 0, "", 0, ""), raw_udp_v6(10)),
        ],
    );

    let observations = read_all(&path);
    assert_eq!(observations.len(), 3);
    let Observation::OwnedPacket(meta, process, _) = &observations[0] else {
        panic!("IPv4 record: {:?}", observations[0]);
    };
    assert_eq!((process.pid, process.name.as_str()), (812, "curl"));
    assert_eq!(meta.src, "192.168.1.5".parse::<IpAddr>().unwrap());
    assert_eq!(meta.ip_len, 20 + 20 + 100);
    assert!(matches!(meta.transport, Transport::Tcp { .. }));

    let Observation::OwnedPacket(meta, process, _) = &observations[1] else {
        panic!("IPv6 record: {:?}", observations[1]);
    };
    assert_eq!(
        (process.pid, process.name.as_str()),
        (4242, "Music"),
        "the effective process gets the bytes a daemon moved for it"
    );
    assert!(meta.src.is_ipv6());
    assert_eq!(meta.ip_len, 40 + 8 + 30);

    assert!(
        matches!(observations[2], Observation::Packet(_)),
        "no process in the header: left to the socket tables"
    );
}

#[test]
fn truncated_and_garbage_records_are_unreadable_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.pcap");
    let good = record(
        pktap_header(DLT_EN10MB, 812, "curl", 812, "curl"),
        ethernet_tcp_v4(10),
    );
    let mut short_length = good.clone();
    short_length[0..4].copy_from_slice(&8u32.to_le_bytes());
    let mut not_a_packet = good.clone();
    not_a_packet[4..8].copy_from_slice(&7u32.to_le_bytes());
    let mut unknown_link = good.clone();
    unknown_link[8..12].copy_from_slice(&9999u32.to_le_bytes());
    write_pcap(
        &path,
        &[
            good[..40].to_vec(),
            good[..HEADER_LEN + 10].to_vec(),
            short_length,
            not_a_packet,
            unknown_link,
            vec![0xff; 3],
            good,
        ],
    );

    let observations = read_all(&path);
    assert_eq!(observations.len(), 7);
    assert!(observations[..6]
        .iter()
        .all(|observation| *observation == Observation::Unreadable));
    assert!(matches!(observations[6], Observation::OwnedPacket(..)));
}

#[test]
fn a_file_that_is_not_a_capture_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not.pcap");
    std::fs::write(&path, b"this is not a pcap file at all").unwrap();
    let error = read_file(&path, |_| {}).unwrap_err().to_string();
    assert!(error.contains("not.pcap"), "{error}");
}

/// A DNS response from 192.0.2.53 to this machine: `host` has address `ip`.
fn dns_answer(host: &str, ip: Ipv4Addr) -> Vec<u8> {
    let name = Name::new(host).unwrap();
    let mut message = simple_dns::Packet::new_reply(0x1234);
    message.questions.push(Question::new(
        name.clone(),
        QTYPE::TYPE(TYPE::A),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let address = RData::A(A {
        address: u32::from(ip),
    });
    message
        .answers
        .push(ResourceRecord::new(name, CLASS::IN, 300, address));
    let payload = message.build_bytes_vec().unwrap();
    let mut packet = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 53], [127, 0, 0, 1], 64)
        .udp(53, 40000)
        .write(&mut packet, &payload)
        .unwrap();
    packet
}

/// A TCP segment between this machine (127.0.0.1 counts as one of its addresses wherever the
/// test runs) and `server`, carrying `payload`.
fn tcp_v4(local_port: u16, server: ([u8; 4], u16), sent: bool, payload: &[u8]) -> Vec<u8> {
    let (local, remote) = (([127, 0, 0, 1], local_port), server);
    let ((src, src_port), (dst, dst_port)) = if sent {
        (local, remote)
    } else {
        (remote, local)
    };
    let mut packet = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(src_port, dst_port, 1, 65535)
        .write(&mut packet, payload)
        .unwrap();
    packet
}

/// The ClientHello OpenSSL 3.0 wrote for `www.netflix.com` (stored as hex text).
fn client_hello() -> Vec<u8> {
    let text = include_str!("../testdata/domains/openssl-client-hello.hex");
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Replays the observations of a saved capture through the monitor (first poll), then stops.
struct Replayed {
    observations: Vec<Observation>,
    controls: Controls,
}

impl CaptureSource for Replayed {
    fn describe(&self) -> String {
        "replayed pktap file".into()
    }

    fn poll(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
        batch.append(&mut self.observations);
        std::thread::sleep(Duration::from_millis(30));
        self.controls.stop.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// Runs `observations` through the monitor and tracker; returns the one sample emitted.
fn monitor_sample(observations: Vec<Observation>) -> Sample {
    let controls = Controls::default();
    let source = Replayed {
        observations,
        controls: controls.clone(),
    };
    let tracker = Tracker::new(Box::new(NoOwners), TrackerOptions::default());
    let mut samples = Vec::new();
    let interval = Duration::from_secs(60);
    monitor::run(Box::new(source), tracker, interval, &controls, |sample| {
        samples.push(sample)
    })
    .unwrap();
    assert_eq!(samples.len(), 1);
    samples.remove(0)
}

/// Bytes of `app` in `direction` under `domain` (`None`: usage without a destination).
fn bytes_under(sample: &Sample, app: &str, domain: Option<&str>, direction: Direction) -> u64 {
    sample
        .usage
        .iter()
        .filter(|usage| usage.app == app && usage.direction == direction)
        .filter(|usage| usage.destination.as_ref().map(|d| d.domain.as_str()) == domain)
        .map(|usage| usage.bytes)
        .sum()
}

#[test]
fn pktap_packets_name_their_servers_for_their_own_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("named.pcap");
    let firefox = |dlt| pktap_header(dlt, 4242, "firefox", 4242, "firefox");
    let hello = client_hello();
    let netflix = ([192, 0, 2, 7], 443);
    let cdn = ([192, 0, 2, 7], 80);
    let bbc = ([192, 0, 2, 8], 80);
    // Not an HTTP request (a Host header would name the flow before DNS does).
    let get = b"\x00\x01binary request";
    let records = [
        // mDNSResponder receives the answers on a Mac.
        record(
            pktap_header(DLT_RAW, 205, "mDNSResponder", 205, "mDNSResponder"),
            dns_answer("video.example-cdn.net", Ipv4Addr::new(192, 0, 2, 7)),
        ),
        // An answer whose process the kernel did not know: still read.
        record(
            pktap_header(DLT_RAW, 0, "", 0, ""),
            dns_answer("static.bbc.co.uk", Ipv4Addr::new(192, 0, 2, 8)),
        ),
        record(firefox(DLT_RAW), tcp_v4(53000, netflix, true, &hello)),
        record(firefox(DLT_RAW), tcp_v4(53000, netflix, false, &[0; 1400])),
        record(firefox(DLT_RAW), tcp_v4(53001, cdn, true, get)),
        record(firefox(DLT_RAW), tcp_v4(53001, cdn, false, &[0; 900])),
        record(firefox(DLT_RAW), tcp_v4(53002, bbc, false, &[0; 600])),
    ];
    write_pcap(&path, &records);

    let observations = read_all(&path);
    assert!(
        matches!(&observations[0], Observation::OwnedPacket(_, process, Some(Naming::Dns(answers)))
            if process.name == "mDNSResponder" && answers.len() == 1),
        "{:?}",
        observations[0]
    );
    assert!(
        matches!(&observations[1], Observation::Named(_, Naming::Dns(_))),
        "{:?}",
        observations[1]
    );
    assert!(
        matches!(&observations[2], Observation::OwnedPacket(_, _, Some(Naming::Server(host)))
            if &**host == "www.netflix.com"),
        "{:?}",
        observations[2]
    );

    let sample = monitor_sample(observations);
    let ip = |payload: usize| 20 + 20 + payload as u64;
    let firefox_bytes = |domain, direction| bytes_under(&sample, "firefox", domain, direction);
    assert_eq!(
        firefox_bytes(Some("netflix.com"), Direction::Sent),
        ip(hello.len()),
        "the flow's own ClientHello names it"
    );
    assert_eq!(
        firefox_bytes(Some("netflix.com"), Direction::Received),
        ip(1400)
    );
    assert_eq!(
        firefox_bytes(Some("example-cdn.net"), Direction::Sent),
        ip(get.len()),
        "named by the DNS answer mDNSResponder received"
    );
    assert_eq!(
        firefox_bytes(Some("example-cdn.net"), Direction::Received),
        ip(900)
    );
    assert_eq!(
        firefox_bytes(Some("bbc.co.uk"), Direction::Received),
        ip(600),
        "named by the answer no process was tagged for"
    );
    assert_eq!(firefox_bytes(Some("unresolved"), Direction::Received), 0);
    assert!(
        bytes_under(&sample, "mDNSResponder", None, Direction::Received) > 0,
        "the resolver's own bytes stay its own, without a destination"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_records_never_panic(
        records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.pcap");
        write_pcap(&path, &records);
        let observations = read_all(&path);
        prop_assert_eq!(observations.len(), records.len());
    }
}
