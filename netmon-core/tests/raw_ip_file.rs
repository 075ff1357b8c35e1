//! Captures of link types 228 (LINKTYPE_IPV4) and 229 (LINKTYPE_IPV6), which tunnel and VPN
//! captures use: each record is a bare IP packet. Replayed from `.pcap` files written here,
//! their packets are counted at their IP length and their DNS responses name addresses, also
//! when the capture cut the response short (as tcpdump's `dns_udp_2.pcap` is cut).

mod replay;

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use etherparse::PacketBuilder;
use netmon_core::capture::{pcap::read_file, Observation};
use netmon_core::domains::{DnsAnswer, Naming};
use netmon_core::packet::Transport;
use simple_dns::rdata::{RData, A, AAAA};
use simple_dns::{Name, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE};

const LINKTYPE_IPV4: i32 = 228;
const LINKTYPE_IPV6: i32 = 229;

/// A DNS response for `host` whose answers are `addresses`.
fn dns_response(host: &str, addresses: &[IpAddr]) -> Vec<u8> {
    let name = Name::new(host).unwrap();
    let mut message = simple_dns::Packet::new_reply(0x1234);
    message.questions.push(Question::new(
        name.clone(),
        QTYPE::TYPE(TYPE::A),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    message.answers.extend(
        addresses
            .iter()
            .map(|address| match address {
                IpAddr::V4(ip) => RData::A(A::from(*ip)),
                IpAddr::V6(ip) => RData::AAAA(AAAA::from(*ip)),
            })
            .map(|data| ResourceRecord::new(name.clone(), CLASS::IN, 300, data)),
    );
    message.build_bytes_vec().unwrap()
}

fn answer(ip: IpAddr, host: &str) -> DnsAnswer {
    DnsAnswer {
        ip,
        host: host.into(),
        ttl: 300,
    }
}

fn read_all(path: &Path) -> Vec<Observation> {
    let mut observations = Vec::new();
    read_file(path, |observation| observations.push(observation)).unwrap();
    observations
}

#[test]
fn ipv4_link_type_reads_a_cut_dns_response_up_to_its_last_whole_answer() {
    let addresses: Vec<IpAddr> = (1..=3)
        .map(|last| IpAddr::from([192, 0, 2, last]))
        .collect();
    let payload = dns_response("www.tcpdump.org", &addresses);
    let mut packet = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 53], [10, 0, 0, 2], 64)
        .udp(53, 40000)
        .write(&mut packet, &payload)
        .unwrap();
    // Cut inside the third answer, as a small snap length would.
    let captured = &packet[..packet.len() - 2];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipv4.pcap");
    replay::write_pcap(&path, LINKTYPE_IPV4, [(captured, packet.len())]);

    let observations = read_all(&path);
    let [Observation::Named(meta, Naming::Dns(answers))] = observations.as_slice() else {
        panic!("one named packet expected: {observations:?}");
    };
    assert_eq!(meta.ip_len as usize, packet.len(), "counted whole");
    assert_eq!(meta.src, IpAddr::from([192, 0, 2, 53]));
    assert_eq!(
        *answers,
        vec![
            answer(addresses[0], "www.tcpdump.org"),
            answer(addresses[1], "www.tcpdump.org")
        ]
    );
}

#[test]
fn ipv6_link_type_reads_ipv6_packets() {
    let server: Ipv6Addr = "2001:db8::53".parse().unwrap();
    let address: IpAddr = "2001:db8::80".parse().unwrap();
    let payload = dns_response("v6.example.org", &[address]);
    let mut dns = Vec::new();
    PacketBuilder::ipv6(server.octets(), [0xfd; 16], 64)
        .udp(53, 40001)
        .write(&mut dns, &payload)
        .unwrap();
    let mut tcp = Vec::new();
    PacketBuilder::ipv6([0xfd; 16], server.octets(), 64)
        .tcp(40002, 443, 1, 65535)
        .write(&mut tcp, &[0; 1000])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipv6.pcap");
    // The TCP packet captured at a 100-byte snap length: still counted whole.
    replay::write_pcap(
        &path,
        LINKTYPE_IPV6,
        [(dns.as_slice(), dns.len()), (&tcp[..100], tcp.len())],
    );

    let observations = read_all(&path);
    let [Observation::Named(_, Naming::Dns(answers)), Observation::Packet(meta)] =
        observations.as_slice()
    else {
        panic!("a named DNS packet and a TCP packet expected: {observations:?}");
    };
    assert_eq!(*answers, vec![answer(address, "v6.example.org")]);
    assert_eq!(meta.ip_len, 40 + 20 + 1000);
    assert!(matches!(
        meta.transport,
        Transport::Tcp { dst_port: 443, .. }
    ));
}
