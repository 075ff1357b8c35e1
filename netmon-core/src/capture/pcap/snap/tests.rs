//! The snap program run by a small classic-BPF interpreter (the instructions it uses, with the
//! kernel's rules: a load past the packet's end drops the packet) on built packets.

use super::*;
use crate::domains::http;
use crate::domains::inspect::Reader;
use crate::packet::{self, PacketMeta};
use etherparse::{IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, Ipv4Options, PacketBuilder};
use proptest::prelude::*;

/// The snap length the programs are built with here.
const WHOLE: u32 = 3072;

/// Runs `program` on a packet the socket sees as `data` (protocol `protocol`, an ether type):
/// the bytes the kernel would keep (0: dropped).
fn run(program: &[Insn], data: &[u8], protocol: u16) -> u32 {
    let load = |offset: u32, size: usize| -> Option<u32> {
        let start = usize::try_from(offset).ok()?;
        let bytes = data.get(start..start.checked_add(size)?)?;
        Some(
            bytes
                .iter()
                .fold(0, |value, byte| value << 8 | u32::from(*byte)),
        )
    };
    let size = |code: u16| match code & 0x18 {
        W => 4,
        H => 2,
        _ => 1,
    };
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    while let Some(insn) = program.get(pc) {
        pc += 1;
        let Insn { code, jt, jf, k } = *insn;
        let jump = |taken: bool| usize::from(if taken { jt } else { jf });
        match code {
            _ if code == LD | H | ABS && k == AD_PROTOCOL => a = u32::from(protocol),
            _ if code & 0x07 == LD && code & 0xe0 == ABS => {
                let Some(value) = load(k, size(code)) else {
                    return 0;
                };
                a = value;
            }
            _ if code & 0x07 == LD && code & 0xe0 == IND => {
                let Some(value) = load(x.wrapping_add(k), size(code)) else {
                    return 0;
                };
                a = value;
            }
            _ if code == LD | W | LEN => a = data.len() as u32,
            _ if code == LDX | W | IMM => x = k,
            _ if code == ALU | AND | K => a &= k,
            _ if code == ALU | LSH | K => a <<= k,
            _ if code == ALU | RSH | K => a >>= k,
            _ if code == ALU | ADD | K => a = a.wrapping_add(k),
            _ if code == ALU | ADD | X => a = a.wrapping_add(x),
            _ if code == MISC | TAX => x = a,
            _ if code == JMP => pc += k as usize, // BPF_JA
            _ if code == JMP | JEQ | K => pc += jump(a == k),
            _ if code == JMP | JGT | K => pc += jump(a > k),
            _ if code == JMP | JSET | K => pc += jump(a & k != 0),
            _ if code == RET | K => return k.min(data.len() as u32),
            other => panic!("the interpreter does not know instruction {other:#x}"),
        }
    }
    0
}

/// A built packet: its Ethernet frame and its ether type.
struct Built {
    frame: Vec<u8>,
    ether_type: u16,
}

#[derive(Debug, Clone)]
struct Shape {
    v6: bool,
    tcp: bool,
    ip_options: usize,
    tcp_options: usize,
    ports: (u16, u16),
    start: Vec<u8>,
    payload_len: usize,
}

fn build(shape: &Shape) -> Built {
    let mut payload = shape.start.clone();
    payload.resize(shape.payload_len.max(payload.len()), 0xa5);
    payload.truncate(shape.payload_len);
    let ethernet = PacketBuilder::ethernet2([1; 6], [2; 6]);
    let ip = if shape.v6 {
        ethernet.ipv6([0xfd; 16], [0xfe; 16], 64)
    } else {
        let protocol = if shape.tcp {
            IpNumber::TCP
        } else {
            IpNumber::UDP
        };
        let mut header = Ipv4Header::new(0, 64, protocol, [10, 0, 0, 1], [10, 0, 0, 2]).unwrap();
        header.options = Ipv4Options::try_from(&vec![1u8; shape.ip_options * 4][..]).unwrap();
        ethernet.ip(IpHeaders::Ipv4(header, Ipv4Extensions::default()))
    };
    let (src, dst) = shape.ports;
    let mut frame = Vec::new();
    if shape.tcp {
        let tcp = ip.tcp(src, dst, 1, 65535).ack(7);
        let tcp = tcp.options_raw(&vec![1u8; shape.tcp_options * 4]).unwrap();
        tcp.write(&mut frame, &payload).unwrap();
    } else {
        ip.udp(src, dst).write(&mut frame, &payload).unwrap();
    }
    let ether_type = if shape.v6 { 0x86dd } else { 0x0800 };
    Built { frame, ether_type }
}

/// Whether a domain reader reads this packet's payload (`domains::inspect`): DNS, a QUIC long
/// header to port 443, a segment beginning a ClientHello or a request head.
fn read_by_a_domain_reader(meta: &PacketMeta, payload: &[u8]) -> bool {
    match Reader::of(meta) {
        Some(Reader::Dns | Reader::DnsOverTcp) => true,
        Some(Reader::Quic) => payload.first().is_some_and(|first| first & 0x80 != 0),
        Some(Reader::Tls) => payload.first() == Some(&0x16) || http::looks_like_request(payload),
        None => false,
    }
}

/// What the program keeps whole, as the module's text says (packets of at most [`CUT_LEN`]
/// bytes come whole either way): either port 53, a long header to UDP port 443, a TCP segment
/// short of full size or whose payload begins a TLS record or an HTTP method.
fn kept_whole(meta: &PacketMeta, payload: &[u8]) -> bool {
    let (src, dst) = meta.ports();
    let first = payload.first().copied().unwrap_or_default();
    let http = http::request_starts().any(|start| payload.starts_with(&start));
    match meta.protocol() {
        _ if src == 53 || dst == 53 => true,
        17 => dst == 443 && first & 0x80 != 0,
        6 => meta.ip_len <= WHOLE_TCP_UP_TO || first == 0x16 || http,
        _ => true,
    }
}

/// The packet as the capture hands it over, `kept` bytes of what the socket saw: an Ethernet
/// frame, or for a cooked capture the IP packet behind a Linux SLL header.
fn captured(built: &Built, cooked: bool, kept: u32) -> (LinkType, Vec<u8>) {
    if cooked {
        let mut frame = vec![0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        frame.extend_from_slice(&built.ether_type.to_be_bytes());
        frame.extend_from_slice(&built.frame[14..14 + kept as usize]);
        (LinkType::LinuxSll, frame)
    } else {
        (LinkType::Ethernet, built.frame[..kept as usize].to_vec())
    }
}

fn shapes() -> impl Strategy<Value = Shape> {
    let port = prop_oneof![Just(53u16), Just(443), Just(80), Just(5201), any::<u16>()];
    let start = prop_oneof![
        Just(vec![0x16, 3, 1]),
        Just(b"GET / HTTP/1.1\r\n".to_vec()),
        Just(b"OPTIONS * HTTP/1.1\r\n".to_vec()),
        Just(b"CONNECT a:443 HTTP/1.1\r\n".to_vec()),
        Just(vec![0xc3, 0, 0, 0, 1]),
        Just(vec![0x43]),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    (
        any::<bool>(),
        any::<bool>(),
        0usize..=10,
        0usize..=10,
        (port.clone(), port),
        start,
        0usize..1600,
    )
        .prop_map(
            |(v6, tcp, ip_options, tcp_options, ports, start, payload_len)| Shape {
                v6,
                tcp,
                ip_options,
                tcp_options,
                ports,
                start,
                payload_len,
            },
        )
}

proptest! {
    /// Whatever the packet: never dropped; small ones whole; those a domain reader reads whole;
    /// a cut one still reads as the same packet, with the first bytes of its payload.
    #[test]
    fn the_program_cuts_only_what_nobody_reads(shape in shapes(), cooked in any::<bool>()) {
        let built = build(&shape);
        let offset = if cooked { 0 } else { 14 };
        let data = &built.frame[14 - offset..];
        let kept = run(&program(offset as u32, WHOLE), data, built.ether_type);
        let (link, whole_frame) = captured(&built, cooked, data.len() as u32);
        let wire_len = whole_frame.len() as u32;
        let (meta, payload) = packet::parse_with_payload(link, &whole_frame, wire_len).unwrap();
        prop_assert!(kept > 0, "dropped");
        if read_by_a_domain_reader(&meta, payload) {
            prop_assert_eq!(kept, data.len() as u32, "read by a domain reader: {:?}", meta);
        }
        let expected = if kept_whole(&meta, payload) {
            data.len() as u32
        } else {
            CUT_LEN.min(data.len() as u32)
        };
        prop_assert_eq!(kept, expected, "{:?}", meta);
        let (link, cut_frame) = captured(&built, cooked, kept);
        let (cut_meta, cut_payload) = packet::parse_with_payload(link, &cut_frame, wire_len).unwrap();
        prop_assert_eq!(cut_meta, meta);
        prop_assert_eq!(cut_payload, &payload[..cut_payload.len()]);
        prop_assert!(cut_payload.len() >= payload.len().min(16), "{} payload bytes kept", cut_payload.len());
    }
}

#[test]
fn an_mtu_sized_data_segment_is_cut_and_a_client_hello_is_not() {
    let shape = |start: &[u8], ports, tcp| Shape {
        v6: false,
        tcp,
        ip_options: 0,
        tcp_options: 3,
        ports,
        start: start.to_vec(),
        payload_len: 1448,
    };
    let kept = |shape: &Shape| {
        let built = build(shape);
        run(&program(14, WHOLE), &built.frame, built.ether_type)
    };
    assert_eq!(kept(&shape(&[0x17, 3, 3], (443, 40000), true)), CUT_LEN);
    assert_eq!(
        kept(&shape(&[0x16, 3, 1], (40000, 443), true)),
        1448 + 12 + 20 + 20 + 14
    );
    assert_eq!(
        kept(&shape(&[0x40], (40000, 443), false)),
        CUT_LEN,
        "QUIC short header"
    );
    assert_eq!(
        kept(&shape(&[0xc0], (40000, 443), false)),
        1448 + 8 + 20 + 14,
        "QUIC Initial"
    );
    let mut ack = shape(&[], (40000, 443), true);
    ack.payload_len = 0;
    assert_eq!(kept(&ack), 14 + 20 + 20 + 12);
    let mut datagram = shape(&[0x40], (40000, 5201), false);
    datagram.payload_len = 600;
    assert_eq!(
        kept(&datagram),
        CUT_LEN,
        "UDP nobody reads, whatever its size"
    );
    let mut rest_of_a_hello = shape(&[0x02], (40000, 443), true);
    rest_of_a_hello.payload_len = 1300;
    assert_eq!(
        kept(&rest_of_a_hello),
        1300 + 12 + 20 + 20 + 14,
        "a segment short of full size"
    );
    let arp = [0u8; 60];
    assert_eq!(run(&program(14, WHOLE), &arp, 0x0806), 60, "not IP: whole");
}

#[test]
fn every_jump_lands_on_an_instruction() {
    for link in [0, 14] {
        let program = program(link, WHOLE);
        for (at, insn) in program.iter().enumerate() {
            if insn.code & 0x07 == JMP {
                let last = at + 1 + usize::from(insn.jt.max(insn.jf));
                assert!(last < program.len(), "jump at {at} leaves the program");
            }
        }
        assert_eq!(program.last().map(|insn| insn.code), Some(RET | K));
    }
}
