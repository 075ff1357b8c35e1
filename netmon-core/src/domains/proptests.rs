//! Property tests: no parser panics on any input, a ClientHello split anywhere still names
//! its server, and a DNS response cut anywhere gives a prefix of its answers.

use proptest::collection::vec;
use proptest::prelude::*;

use super::{
    dns, quic, rollup, testdata, tls, ClientHelloAssembler, Inspector, QuicClientHelloAssembler,
};
use crate::packet::{PacketMeta, TcpFlags, Transport};

/// Byte strings that often start like the real thing, so parsing gets past the first checks.
fn bytes_like(prefix: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    (vec(any::<u8>(), 0..600), any::<bool>()).prop_map(move |(tail, keep_prefix)| {
        if keep_prefix {
            prefix.iter().copied().chain(tail).collect()
        } else {
            tail
        }
    })
}

/// A real packet with a few bytes replaced and possibly cut short.
fn mutated(original: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = original.len();
    (vec((0..len, any::<u8>()), 0..6), 0..=len).prop_map(move |(edits, cut)| {
        let mut bytes = original.clone();
        edits.into_iter().for_each(|(at, value)| {
            if let Some(byte) = bytes.get_mut(at) {
                *byte = value;
            }
        });
        bytes.truncate(cut.max(len / 2));
        bytes
    })
}

/// Sorted cut points inside `len`.
fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    vec(0..=len, 0..6).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts
    })
}

fn split_at_cuts<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(cuts.iter().copied())
        .chain(std::iter::once(bytes.len()))
        .collect();
    bounds
        .windows(2)
        .map(|pair| &bytes[pair[0]..pair[1]])
        .collect()
}

/// Names the generated DNS responses use, so CNAME chains link up.
const DNS_NAMES: [&str; 4] = [
    "www.example.com",
    "edge.example.net",
    "cdn.example.org",
    "a.b.example.com",
];

/// One answer record of a generated DNS response.
#[derive(Debug, Clone)]
enum DnsRecord {
    Cname(usize, usize),
    A(usize, [u8; 4]),
    Aaaa(usize, u128),
}

fn dns_record() -> impl Strategy<Value = DnsRecord> {
    let name = 0..DNS_NAMES.len();
    prop_oneof![
        (name.clone(), name.clone()).prop_map(|(from, to)| DnsRecord::Cname(from, to)),
        (name.clone(), any::<[u8; 4]>()).prop_map(|(owner, ip)| DnsRecord::A(owner, ip)),
        (name, any::<u128>()).prop_map(|(owner, ip)| DnsRecord::Aaaa(owner, ip)),
    ]
}

/// A response with a question, `records` as answers and `extra` additional TXT records.
fn dns_response(records: &[DnsRecord], extra: usize, ttl: u32) -> Vec<u8> {
    let message = dns::tests::Message::response().question(DNS_NAMES[0], 1);
    let message = records
        .iter()
        .fold(message, |message, record| match *record {
            DnsRecord::Cname(from, to) => message.cname(DNS_NAMES[from], ttl, DNS_NAMES[to]),
            DnsRecord::A(owner, ip) => message.a(DNS_NAMES[owner], ttl, ip),
            DnsRecord::Aaaa(owner, ip) => message.aaaa(DNS_NAMES[owner], ttl, ip.into()),
        });
    (0..extra)
        .fold(message, |message, _| {
            message.additional_txt(DNS_NAMES[1], "extra")
        })
        .bytes()
}

proptest! {
    #[test]
    fn dns_answers_of_a_cut_response_are_a_prefix_of_the_whole(
        records in vec(dns_record(), 0..12),
        extra in 0usize..3,
        ttl in any::<u32>(),
    ) {
        let message = dns_response(&records, extra, ttl);
        let whole = dns::parse_response(&message).unwrap();
        let addresses = records.iter().filter(|r| !matches!(r, DnsRecord::Cname(..))).count();
        prop_assert_eq!(whole.len(), addresses);
        // Header (12) and question: the name, type and class.
        let question_end = 12 + DNS_NAMES[0].len() + 2 + 4;
        for cut in 0..=message.len() {
            match dns::parse_response(&message[..cut]) {
                Ok(answers) => {
                    prop_assert!(cut >= question_end);
                    prop_assert_eq!(&answers[..], &whole[..answers.len()], "cut at {}", cut);
                }
                Err(error) => {
                    prop_assert!(cut < question_end, "cut at {}: {}", cut, error);
                }
            }
        }
    }

    #[test]
    fn dns_never_panics(bytes in bytes_like(vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0])) {
        let _ = dns::parse_response(&bytes);
        let _ = dns::parse_tcp_responses(&bytes);
    }

    #[test]
    fn dns_tolerates_mutated_responses(bytes in mutated(
        dns::tests::Message::response()
            .question("www.example.com", 1)
            .cname("www.example.com", 60, "edge.example.net")
            .a("edge.example.net", 60, [192, 0, 2, 1])
            .bytes(),
    )) {
        let _ = dns::parse_response(&bytes);
    }

    #[test]
    fn tls_never_panics(bytes in bytes_like(vec![22, 3, 1, 2, 0, 1, 0, 1, 0xfc, 3, 3])) {
        let _ = tls::client_hello_sni(&bytes);
    }

    #[test]
    fn tls_tolerates_mutated_hellos(bytes in mutated(testdata::openssl_client_hello())) {
        let _ = tls::client_hello_sni(&bytes);
    }

    #[test]
    fn the_tls_assembler_never_panics(
        pieces in vec((0u64..20_000, vec(any::<u8>(), 0..300)), 0..12),
        start in bytes_like(vec![22, 3, 1]),
    ) {
        let mut assembler = ClientHelloAssembler::new();
        assembler.push(&start);
        for (offset, piece) in &pieces {
            assembler.push_at(*offset, piece);
            assembler.push(piece);
        }
    }

    #[test]
    fn a_client_hello_split_anywhere_still_names_its_server(
        cuts in cuts(testdata::openssl_client_hello().len()),
    ) {
        let hello = testdata::openssl_client_hello();
        let mut assembler = ClientHelloAssembler::new();
        let outcomes: Vec<_> = split_at_cuts(&hello, &cuts)
            .into_iter()
            .map(|segment| assembler.push(segment))
            .collect();
        prop_assert_eq!(outcomes.last().and_then(|o| o.server_name()), Some("www.netflix.com"));
        let early = outcomes.iter().rev().skip(1).filter(|o| o.is_finished()).count();
        // Only empty trailing segments can come after the name was found.
        prop_assert!(early == 0 || cuts.last() == Some(&hello.len()));
    }

    #[test]
    fn quic_never_panics(bytes in bytes_like(vec![0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0x9e])) {
        let _ = quic::client_hello_sni(&bytes);
    }

    #[test]
    fn quic_tolerates_mutated_initials(
        v1 in mutated(testdata::rfc9001_client_initial()),
        v2 in mutated(testdata::rfc9369_client_initial()),
    ) {
        let _ = quic::client_hello_sni(&v1);
        let _ = quic::client_hello_sni(&v2);
    }

    #[test]
    fn the_quic_assembler_never_panics(datagrams in vec(bytes_like(vec![0xc0, 0, 0, 0, 1]), 0..6)) {
        let mut assembler = QuicClientHelloAssembler::new();
        for datagram in &datagrams {
            assembler.push_datagram(datagram);
        }
    }

    #[test]
    fn the_inspector_never_panics(
        packets in vec(
            (
                any::<bool>(),
                prop_oneof![Just(53u16), Just(443), any::<u16>()],
                prop_oneof![Just(443u16), any::<u16>()],
                bytes_like(vec![22, 3, 1]),
            ),
            0..12,
        ),
    ) {
        let mut inspector = Inspector::default();
        for (tcp, src_port, dst_port, payload) in &packets {
            let (src_port, dst_port) = (*src_port, *dst_port);
            let transport = if *tcp {
                Transport::Tcp { src_port, dst_port, flags: TcpFlags::default() }
            } else {
                Transport::Udp { src_port, dst_port }
            };
            let meta = PacketMeta {
                src: "10.0.0.2".parse().unwrap(),
                dst: "192.0.2.1".parse().unwrap(),
                transport,
                ip_len: 1500,
            };
            let _ = inspector.inspect(&meta, payload);
        }
    }

    #[test]
    fn rollup_never_panics(host in "\\PC{0,80}", rolled in any::<bool>()) {
        let _ = rollup::destination(&host, rolled, crate::sample::Provenance::Dns);
    }
}

proptest! {
    #[test]
    fn the_hostname_rule_never_accepts_an_address(v4 in any::<std::net::Ipv4Addr>(), v6 in any::<std::net::Ipv6Addr>()) {
        for text in [v4.to_string(), v6.to_string(), format!("[{v6}]"), format!("{v4}.")] {
            prop_assert_eq!(rollup::normalize_name(&text), None, "{}", text);
        }
    }

    #[test]
    fn an_accepted_hostname_is_its_own_normal_form(text in "[a-zA-Z0-9_.\\-äöü]{0,80}\\.?") {
        if let Some(name) = rollup::normalize_name(&text) {
            prop_assert_eq!(rollup::normalize_name(&name), Some(name.clone()));
            prop_assert!(name.len() <= rollup::MAX_HOST_LEN && !name.ends_with('.'));
            prop_assert_eq!(name.to_lowercase(), name);
        }
    }
}
