//! Per-packet parse cost: `packet::parse_with_payload` on a realistic mix of captured frames
//! (MTU-sized TCP over IPv4 on Linux cooked v2, cooked v1 and Ethernet, a pure ACK, a DNS
//! query over UDP, MTU-sized TCP over IPv6), against the earlier whole-packet parser
//! (`src/packet/oracle.rs`, included here) in the same run. Rounds alternate between the two,
//! and each prints the median nanoseconds per frame over the rounds and their ratio.
//!
//! Run: `cargo bench -p netmon-core --bench parse` (prints a table; a benchmark, not a test).

use std::hint::black_box;
use std::time::Instant;

use etherparse::PacketBuilder;
// The oracle names these as its parent's.
use netmon_core::packet::{
    self, loopback_ip, with_wire_len, LinkType, PacketError, PacketMeta, TcpFlags, Transport,
};

#[path = "../src/packet/oracle.rs"]
mod oracle;

const ROUNDS: usize = 21;
const PASSES: usize = 20_000;

/// A frame's IP packet: TCP or UDP over IPv4 or IPv6 with `payload_len` bytes of payload.
fn ip_packet(v6: bool, udp: bool, payload_len: usize) -> Vec<u8> {
    let builder = if v6 {
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
    } else {
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
    };
    let payload = vec![0x5a; payload_len];
    let mut packet = Vec::new();
    if udp {
        builder.udp(40000, 53).write(&mut packet, &payload)
    } else {
        builder
            .tcp(40000, 443, 1, 65535)
            .ack(1)
            .write(&mut packet, &payload)
    }
    .expect("build a packet");
    packet
}

/// The mix, each frame with its link type, as a capture of iperf3-like traffic sees them.
fn frames() -> Vec<(LinkType, Vec<u8>)> {
    let sll2 = |ether_type: [u8; 2], packet: &[u8]| {
        let header = [0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        [&ether_type[..], &header, packet].concat()
    };
    let sll = |packet: &[u8]| {
        let header = [0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        [&header[..], packet].concat()
    };
    let ethernet = |packet: &[u8]| [&[1; 6][..], &[2; 6], &[0x08, 0x00], packet].concat();
    let mtu_v4 = ip_packet(false, false, 1448);
    vec![
        (LinkType::LinuxSll2, sll2([0x08, 0x00], &mtu_v4)),
        (
            LinkType::LinuxSll2,
            sll2([0x08, 0x00], &ip_packet(false, false, 0)),
        ),
        (LinkType::LinuxSll, sll(&mtu_v4)),
        (LinkType::Ethernet, ethernet(&mtu_v4)),
        (
            LinkType::LinuxSll2,
            sll2([0x08, 0x00], &ip_packet(false, true, 40)),
        ),
        (
            LinkType::LinuxSll2,
            sll2([0x86, 0xdd], &ip_packet(true, false, 1428)),
        ),
    ]
}

type Parser = for<'a> fn(LinkType, &'a [u8], u32) -> Result<(PacketMeta, &'a [u8]), PacketError>;

/// Nanoseconds per frame for one pass over the mix, `PASSES` times.
fn time(parse: Parser, frames: &[(LinkType, Vec<u8>)]) -> f64 {
    let started = Instant::now();
    for _ in 0..PASSES {
        for (link, frame) in frames {
            let wire_len = frame.len() as u32;
            let parsed = parse(black_box(*link), black_box(frame), wire_len);
            black_box(
                parsed
                    .map(|(meta, payload)| (meta.ip_len, payload.len()))
                    .ok(),
            );
        }
    }
    started.elapsed().as_nanos() as f64 / (PASSES * frames.len()) as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let frames = frames();
    // Both parsers read the mix alike (the proptest in packet.rs holds them to it on any input).
    for (link, frame) in &frames {
        let new = packet::parse_with_payload(*link, frame, frame.len() as u32);
        let old = oracle::parse_with_payload(*link, frame, frame.len() as u32);
        assert_eq!(new, old, "the parsers disagree on a {link:?} frame");
        assert!(new.is_ok_and(|(meta, _)| meta.ports() != (0, 0)));
    }
    let (old, new): (Vec<f64>, Vec<f64>) = (0..ROUNDS)
        .map(|_| {
            (
                time(oracle::parse_with_payload, &frames),
                time(packet::parse_with_payload, &frames),
            )
        })
        .unzip();
    let (old, new) = (median(old), median(new));
    println!(
        "parse_with_payload, {} frames a pass, median of {ROUNDS} rounds:",
        frames.len()
    );
    println!("  whole-packet slicing (before): {old:6.1} ns/frame");
    println!("  link header in place (now):    {new:6.1} ns/frame");
    println!("  before ÷ now:                  {:6.2}", old / new);
}
