//! How much of each packet the packet capture keeps, decided in the kernel (Linux block
//! delivery): whole (up to the snap length) where a domain reader may want its payload, only its
//! headers otherwise. A 1 Gbit/s download is ~85,000 MTU-sized packets a second whose payload
//! nobody reads; cut to their headers they take a tenth of the capture buffer, and reading them
//! touches a few consecutive cache lines instead of one packet's scattered ones.
//!
//! The kernel runs a classic BPF program on every packet before storing it; its answer is how
//! many bytes to keep. [`program`] keeps whole:
//!
//! - every packet of at most [`CUT_LEN`] bytes (there is nothing to cut), every TCP segment of
//!   at most [`WHOLE_TCP_UP_TO`] IP bytes (the rest of a ClientHello or request head that spans
//!   segments), and every packet that is not IPv4 or IPv6, or IPv6 with extension headers;
//! - DNS over UDP or TCP (either port 53);
//! - QUIC long-header packets (Initials) to UDP port 443;
//! - TCP segments whose payload begins a TLS handshake record or an HTTP request (a known
//!   method's first four bytes).
//!
//! Every other packet is cut to [`CUT_LEN`] bytes: its link, IP and TCP or UDP headers (with
//! options) and the first payload bytes, which is all the counting and the domain readers'
//! first look need — UDP of any size but DNS and QUIC Initials (nothing reads other datagrams'
//! payload), and full-sized TCP segments. What is lost: a ClientHello or request head that
//! spans segments and whose later segment is itself over [`WHOLE_TCP_UP_TO`] bytes (a
//! ClientHello over ~2.8 KB sent as 1500-byte segments); its first segment names nothing by
//! itself.
//!
//! Loads are relative to the start of what the socket sees: the link header on an Ethernet
//! capture, the IP header on a cooked one (`any`), so the program is built for the capture's
//! link type, and only for those whose offset is known ([`link_offset`]). Every load it makes
//! lies within the first `link + 124` bytes (under [`CUT_LEN`] for the offsets of
//! [`link_offset`]), and it makes them only once the packet's real length (not its header's
//! claim) is over [`CUT_LEN`]: a load past a packet's end would drop the packet, and no packet
//! is ever dropped.

use etherparse::IpNumber;

use crate::domains::http;
use crate::domains::inspect;
use crate::packet::LinkType;

/// TCP segments of at most this many IP bytes are kept whole (see the module's text): below the
/// 1420 to 1500 bytes of full-sized segments on Ethernet, Wi-Fi and WireGuard links.
pub const WHOLE_TCP_UP_TO: u32 = 1400;
/// Bytes kept of the packets that are cut, from the start of what the socket sees: an Ethernet
/// header (14), the longest IPv4 header (60), the longest TCP header (60), and the first
/// payload bytes the domain readers look at to decide whether a stream is worth following.
pub const CUT_LEN: u32 = 160;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const LEN: u16 = 0x80;
const ADD: u16 = 0x00;
const LSH: u16 = 0x60;
const RSH: u16 = 0x70;
const AND: u16 = 0x50;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JSET: u16 = 0x40;
const K: u16 = 0x00;
const X: u16 = 0x08;
const TAX: u16 = 0x00;
/// Ancillary load of the packet's protocol (`skb->protocol`, an ether type): `SKF_AD_OFF +
/// SKF_AD_PROTOCOL`.
const AD_PROTOCOL: u32 = 0xffff_f000;

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const TCP: u32 = IpNumber::TCP.0 as u32;
const UDP: u32 = IpNumber::UDP.0 as u32;
const DNS_PORT: u32 = inspect::DNS_PORT as u32;
const QUIC_PORT: u32 = inspect::QUIC_PORT as u32;
const TLS_HANDSHAKE: u32 = inspect::TLS_HANDSHAKE as u32;

/// Where the IP header starts in what a capture of `link` hands the kernel's filter: after the
/// Ethernet header on an Ethernet device, at once on a cooked capture (`any`: the kernel gives
/// cooked sockets the packet from its IP header). `None` where netmon does not know it for sure.
pub fn link_offset(link: LinkType) -> Option<u32> {
    match link {
        LinkType::Ethernet => Some(14),
        LinkType::LinuxSll | LinkType::LinuxSll2 => Some(0),
        LinkType::RawIp | LinkType::Null => None,
    }
}

/// Where a jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Next,
    Whole,
    Cut,
    Ipv6,
    Tcp,
    Udp,
}

/// A step of the program before its jumps are resolved.
#[derive(Debug, Clone, Copy)]
enum Step {
    Plain(u16, u32),
    Jump(u16, u32, To, To),
    Label(To),
}

/// The program for a capture whose IP header starts `link` bytes in (see [`link_offset`]),
/// keeping `whole` bytes of the packets it keeps whole (the snap length) and [`CUT_LEN`] of
/// the others.
pub fn program(link: u32, whole: u32) -> Vec<Insn> {
    // A packet of at most CUT_LEN bytes is kept whole (cutting it would keep as much), and
    // one over it holds every byte the program loads (link + 124 < CUT_LEN).
    let cuttable = CUT_LEN;
    let net = |offset: u32| link + offset;
    let mut steps = vec![
        Step::Plain(LD | H | ABS, AD_PROTOCOL),
        Step::Jump(JMP | JEQ | K, ETHERTYPE_IPV4, To::Next, To::Ipv6),
        // IPv4: X = its header's length.
        Step::Plain(LD | W | LEN, 0),
        Step::Jump(JMP | JGT | K, cuttable, To::Next, To::Whole),
        Step::Plain(LD | B | ABS, net(0)),
        Step::Plain(ALU | AND | K, 0x0f),
        Step::Plain(ALU | LSH | K, 2),
        Step::Plain(MISC | TAX, 0),
        Step::Plain(LD | B | ABS, net(9)),
        Step::Jump(JMP | JEQ | K, TCP, To::Tcp, To::Next),
        Step::Jump(JMP | JEQ | K, UDP, To::Udp, To::Cut),
        Step::Label(To::Ipv6),
        Step::Jump(JMP | JEQ | K, ETHERTYPE_IPV6, To::Next, To::Whole),
        Step::Plain(LD | W | LEN, 0),
        Step::Jump(JMP | JGT | K, cuttable, To::Next, To::Whole),
        Step::Plain(LDX | W | IMM, 40),
        Step::Plain(LD | B | ABS, net(6)),
        Step::Jump(JMP | JEQ | K, TCP, To::Tcp, To::Next),
        Step::Jump(JMP | JEQ | K, UDP, To::Udp, To::Whole),
        // UDP at X: DNS, or a QUIC long header to port 443.
        Step::Label(To::Udp),
        Step::Plain(LD | H | IND, net(0)),
        Step::Jump(JMP | JEQ | K, DNS_PORT, To::Whole, To::Next),
        Step::Plain(LD | H | IND, net(2)),
        Step::Jump(JMP | JEQ | K, DNS_PORT, To::Whole, To::Next),
        Step::Jump(JMP | JEQ | K, QUIC_PORT, To::Next, To::Cut),
        Step::Plain(LD | B | IND, net(8)),
        Step::Jump(JMP | JSET | K, 0x80, To::Whole, To::Cut),
        // TCP at X: a segment short of full size, DNS, then X += the TCP header's length and
        // the payload's first bytes.
        Step::Label(To::Tcp),
        Step::Plain(LD | W | LEN, 0),
        Step::Jump(JMP | JGT | K, link + WHOLE_TCP_UP_TO, To::Next, To::Whole),
        Step::Plain(LD | H | IND, net(0)),
        Step::Jump(JMP | JEQ | K, DNS_PORT, To::Whole, To::Next),
        Step::Plain(LD | H | IND, net(2)),
        Step::Jump(JMP | JEQ | K, DNS_PORT, To::Whole, To::Next),
        Step::Plain(LD | B | IND, net(12)),
        Step::Plain(ALU | RSH | K, 2),
        Step::Plain(ALU | AND | K, 0x3c),
        Step::Plain(ALU | ADD | X, 0),
        Step::Plain(MISC | TAX, 0),
        Step::Plain(LD | B | IND, net(0)),
        Step::Jump(JMP | JEQ | K, TLS_HANDSHAKE, To::Whole, To::Next),
        Step::Plain(LD | W | IND, net(0)),
    ];
    steps.extend(http::request_starts().map(|start| {
        Step::Jump(
            JMP | JEQ | K,
            u32::from_be_bytes(start),
            To::Whole,
            To::Next,
        )
    }));
    steps.extend([
        Step::Label(To::Cut),
        Step::Plain(RET | K, CUT_LEN),
        Step::Label(To::Whole),
        Step::Plain(RET | K, whole),
    ]);
    resolve(&steps)
}

/// The instructions of `steps`, each jump's targets as the number of instructions skipped.
fn resolve(steps: &[Step]) -> Vec<Insn> {
    let mut labels = Vec::new();
    let mut at = 0;
    for step in steps {
        match step {
            Step::Label(label) => labels.push((*label, at)),
            _ => at += 1,
        }
    }
    let place = |to: To, at: usize| -> u8 {
        let target = match to {
            To::Next => at + 1,
            label => labels
                .iter()
                .find(|(name, _)| *name == label)
                .map_or(at + 1, |(_, target)| *target),
        };
        // Every jump goes forward (the tests check that each lands on an instruction).
        u8::try_from(target.saturating_sub(at + 1)).unwrap_or(u8::MAX)
    };
    steps
        .iter()
        .filter(|step| !matches!(step, Step::Label(_)))
        .enumerate()
        .filter_map(|(at, step)| match *step {
            Step::Plain(code, k) => Some(Insn {
                code,
                jt: 0,
                jf: 0,
                k,
            }),
            Step::Jump(code, k, yes, no) => Some(Insn {
                code,
                jt: place(yes, at),
                jf: place(no, at),
                k,
            }),
            Step::Label(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
