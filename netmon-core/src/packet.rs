//! Reads one captured frame into the few facts the monitor needs: the IP endpoints, the
//! transport protocol and ports, and the IP packet's length.
//!
//! Bytes are counted as the IP packet's length taken from its header (IPv4 total length, IPv6
//! payload length + 40), so a capture with a small snap length still counts full packets. That
//! is the interface's byte counter minus the link-layer header.
//!
//! Parsing is lax about truncation (captures are cut at the snap length) and strict about
//! everything else: any input gives a value or an error, never a panic.

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// How a capture frames its packets (libpcap's DLT_* link types that netmon reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// DLT_EN10MB: Ethernet II (with optional VLAN tags).
    Ethernet,
    /// DLT_LINUX_SLL: Linux "cooked" capture v1, used by the `any` device.
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux "cooked" capture v2.
    LinuxSll2,
    /// DLT_RAW / LINKTYPE_RAW, LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229): the frame is the
    /// IP packet (tunnel and VPN captures).
    RawIp,
    /// DLT_NULL / DLT_LOOP: a 4-byte address family, then the IP packet (BSD loopback, utun).
    Null,
}

impl LinkType {
    /// The link type of a libpcap DLT value, if netmon can read it.
    pub fn from_dlt(dlt: i32) -> Option<Self> {
        match dlt {
            1 => Some(Self::Ethernet),
            113 => Some(Self::LinuxSll),
            276 => Some(Self::LinuxSll2),
            12 | 14 | 101 | 228 | 229 => Some(Self::RawIp),
            0 | 108 => Some(Self::Null),
            _ => None,
        }
    }
}

/// The transport of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp {
        src_port: u16,
        dst_port: u16,
        flags: TcpFlags,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    /// Any other IP protocol (ICMP, ESP, GRE, …), or a TCP/UDP fragment without ports.
    Other {
        protocol: u8,
    },
}

/// The TCP flags the flow table cares about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

impl TcpFlags {
    /// A connection's first packet: SYN without ACK.
    pub fn opens_connection(self) -> bool {
        self.syn && !self.ack
    }
}

/// What netmon reads from one IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport,
    /// Length of the IP packet, headers included, as its header states.
    pub ip_len: u32,
}

impl PacketMeta {
    pub fn protocol(&self) -> u8 {
        match self.transport {
            Transport::Tcp { .. } => 6,
            Transport::Udp { .. } => 17,
            Transport::Other { protocol } => protocol,
        }
    }

    /// A TCP connection's first packet (see [`TcpFlags::opens_connection`]).
    pub fn opens_connection(&self) -> bool {
        matches!(self.transport, Transport::Tcp { flags, .. } if flags.opens_connection())
    }

    /// (source port, destination port); zero for protocols without ports.
    pub fn ports(&self) -> (u16, u16) {
        match self.transport {
            Transport::Tcp {
                src_port, dst_port, ..
            }
            | Transport::Udp { src_port, dst_port } => (src_port, dst_port),
            Transport::Other { .. } => (0, 0),
        }
    }
}

/// Why a frame was not counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("frame too short for its {0} header")]
    Truncated(&'static str),
    #[error("not an IP packet (ether type {0:#06x})")]
    NotIp(u16),
    #[error("malformed IP header: {0}")]
    BadIp(String),
    #[error("unknown address family {0} in a loopback frame")]
    UnknownFamily(u32),
}

/// Longest IP packet a header's length field can state, plus the longest link header.
const MAX_STATED_LEN: u32 = 65_535 + 40 + 32;

/// Reads one frame of the given link type.
pub fn parse(link: LinkType, frame: &[u8]) -> Result<PacketMeta, PacketError> {
    parse_captured(link, frame, frame.len() as u32)
}

/// Reads one captured frame whose length on the wire was `wire_len` (the capture may hold
/// fewer bytes). The wire length only matters for packets whose IP header states no length:
/// IPv4 and IPv6 packets larger than 64 KiB (BIG TCP offload, jumbograms) carry 0 there.
pub fn parse_captured(
    link: LinkType,
    frame: &[u8],
    wire_len: u32,
) -> Result<PacketMeta, PacketError> {
    parse_with_payload(link, frame, wire_len).map(|(meta, _)| meta)
}

/// Like [`parse_captured`], with the transport payload as far as it was captured (empty for
/// protocols other than TCP and UDP).
pub fn parse_with_payload(
    link: LinkType,
    frame: &[u8],
    wire_len: u32,
) -> Result<(PacketMeta, &[u8]), PacketError> {
    let Parsed { mut meta, payload } = parse_frame(link, frame)?;
    // An IPv6 jumbogram states payload length 0 (so 40 here) and is longer than any stated
    // length could be; a short IPv6 packet padded to Ethernet's minimum frame is not one.
    let jumbogram = meta.dst.is_ipv6() && meta.ip_len == 40 && wire_len > MAX_STATED_LEN;
    if meta.ip_len == 0 || jumbogram {
        meta.ip_len = wire_len.saturating_sub(link_header_len(link, frame, &meta));
    }
    Ok((meta, payload))
}

/// A parsed packet and its transport payload.
struct Parsed<'a> {
    meta: PacketMeta,
    payload: &'a [u8],
}

/// Bytes before the IP header: the captured frame's length minus what the IP packet would
/// occupy, found by locating the IP version nibble after the fixed link headers.
fn link_header_len(link: LinkType, frame: &[u8], meta: &PacketMeta) -> u32 {
    let fixed = match link {
        LinkType::Ethernet => 14,
        LinkType::LinuxSll => 16,
        LinkType::LinuxSll2 => 20,
        LinkType::RawIp => 0,
        LinkType::Null => 4,
    };
    let version = if meta.src.is_ipv4() { 4 } else { 6 };
    // VLAN tags (4 bytes each) may sit between the Ethernet header and the IP header.
    (fixed..frame.len())
        .step_by(4)
        .take(3)
        .find(|offset| frame.get(*offset).map(|byte| byte >> 4) == Some(version))
        .unwrap_or(fixed) as u32
}

fn parse_frame(link: LinkType, frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    match link {
        LinkType::Ethernet => {
            let sliced = LaxSlicedPacket::from_ethernet(frame)
                .map_err(|_| PacketError::Truncated("Ethernet"))?;
            from_sliced(&sliced)
        }
        LinkType::LinuxSll => parse_sll(frame),
        LinkType::LinuxSll2 => parse_sll2(frame),
        LinkType::RawIp => parse_ip_payload(frame),
        LinkType::Null => parse_null(frame),
    }
}

/// Reads a frame that starts with the IP header.
pub fn parse_ip(packet: &[u8]) -> Result<PacketMeta, PacketError> {
    parse_ip_payload(packet).map(|parsed| parsed.meta)
}

fn parse_ip_payload(packet: &[u8]) -> Result<Parsed<'_>, PacketError> {
    let sliced =
        LaxSlicedPacket::from_ip(packet).map_err(|error| PacketError::BadIp(error.to_string()))?;
    from_sliced(&sliced)
}

/// SLL (16 bytes): packet type (2), ARPHRD (2), address length (2), address (8), protocol
/// type (2). The protocol type is read whatever the device's ARPHRD: tun devices and WireGuard
/// (ARPHRD_NONE), whose packets etherparse's SLL reader refuses, carry IP with its ether type
/// there like Ethernet devices do.
fn parse_sll(frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    const HEADER_LEN: usize = 16;
    let protocol = frame
        .get(14..HEADER_LEN)
        .map(|bytes| u16::from_be_bytes([bytes[0], bytes[1]]))
        .ok_or(PacketError::Truncated("Linux SLL"))?;
    let rest = frame.get(HEADER_LEN..).unwrap_or_default();
    parse_ether_payload(EtherType(protocol), rest)
}

/// SLL2 (20 bytes): protocol type (2), reserved (2), interface index (4), ARPHRD (2),
/// packet type (1), address length (1), address (8).
fn parse_sll2(frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    const HEADER_LEN: usize = 20;
    let protocol = frame
        .get(..2)
        .map(|bytes| u16::from_be_bytes([bytes[0], bytes[1]]))
        .ok_or(PacketError::Truncated("Linux SLL2"))?;
    let rest = frame
        .get(HEADER_LEN..)
        .ok_or(PacketError::Truncated("Linux SLL2"))?;
    parse_ether_payload(EtherType(protocol), rest)
}

/// BSD loopback: the address family in host byte order, then the IP packet.
fn parse_null(frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    let family = frame
        .get(..4)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .ok_or(PacketError::Truncated("loopback"))?;
    let rest = frame.get(4..).unwrap_or_default();
    let family = [u32::from_ne_bytes(family), u32::from_be_bytes(family)];
    // AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD.
    if family.iter().any(|f| matches!(f, 2 | 24 | 28 | 30)) {
        parse_ip_payload(rest)
    } else {
        Err(PacketError::UnknownFamily(family[0]))
    }
}

fn parse_ether_payload(ether_type: EtherType, rest: &[u8]) -> Result<Parsed<'_>, PacketError> {
    from_sliced(&LaxSlicedPacket::from_ether_type(ether_type, rest))
}

fn from_sliced<'a>(sliced: &LaxSlicedPacket<'a>) -> Result<Parsed<'a>, PacketError> {
    let (src, dst, ip_len) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(ipv4)) => {
            let header = ipv4.header();
            (
                IpAddr::from(header.source_addr()),
                IpAddr::from(header.destination_addr()),
                u32::from(header.total_len()),
            )
        }
        Some(LaxNetSlice::Ipv6(ipv6)) => {
            let header = ipv6.header();
            (
                IpAddr::from(header.source_addr()),
                IpAddr::from(header.destination_addr()),
                u32::from(header.payload_length()) + 40,
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Err(PacketError::NotIp(0x0806)),
        None => return Err(not_ip(sliced)),
    };
    let protocol = sliced
        .net
        .as_ref()
        .and_then(|net| net.ip_payload_ref())
        .map(|payload| payload.ip_number.0)
        .unwrap_or_default();
    let payload = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp.payload(),
        Some(TransportSlice::Udp(udp)) => udp.payload(),
        _ => &[],
    };
    Ok(Parsed {
        meta: PacketMeta {
            src,
            dst,
            transport: transport(sliced.transport.as_ref(), protocol),
            ip_len,
        },
        payload,
    })
}

fn not_ip(sliced: &LaxSlicedPacket<'_>) -> PacketError {
    match &sliced.stop_err {
        Some((error, _)) => PacketError::BadIp(error.to_string()),
        None => PacketError::NotIp(
            sliced
                .ether_payload()
                .map(|payload| payload.ether_type.0)
                .unwrap_or_default(),
        ),
    }
}

fn transport(slice: Option<&TransportSlice<'_>>, protocol: u8) -> Transport {
    match slice {
        Some(TransportSlice::Tcp(tcp)) => Transport::Tcp {
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            flags: TcpFlags {
                syn: tcp.syn(),
                ack: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
            },
        },
        Some(TransportSlice::Udp(udp)) => Transport::Udp {
            src_port: udp.source_port(),
            dst_port: udp.destination_port(),
        },
        _ => Transport::Other { protocol },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    fn tcp_v4(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1, 65535)
            .syn();
        let mut frame = Vec::new();
        builder.write(&mut frame, payload).unwrap();
        frame
    }

    fn udp_v6_ip(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64).udp(5353, 53);
        let mut packet = Vec::new();
        builder.write(&mut packet, payload).unwrap();
        packet
    }

    #[test]
    fn ethernet_tcp_v4() {
        let frame = tcp_v4(&[0; 100]);
        let meta = parse(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(meta.src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(meta.dst, IpAddr::from([10, 0, 0, 2]));
        assert_eq!(meta.ip_len, (frame.len() - 14) as u32);
        assert_eq!(meta.ports(), (40000, 443));
        assert_eq!(meta.protocol(), 6);
        match meta.transport {
            Transport::Tcp { flags, .. } => assert!(flags.opens_connection()),
            other => panic!("not TCP: {other:?}"),
        }
    }

    #[test]
    fn a_truncated_capture_still_counts_the_full_packet() {
        let frame = tcp_v4(&[0; 1400]);
        let meta = parse(LinkType::Ethernet, &frame[..96]).unwrap();
        assert_eq!(meta.ip_len, (frame.len() - 14) as u32);
        assert_eq!(meta.ports(), (40000, 443));
    }

    #[test]
    fn raw_udp_v6() {
        let packet = udp_v6_ip(&[7; 33]);
        let meta = parse(LinkType::RawIp, &packet).unwrap();
        assert_eq!(meta.ip_len, packet.len() as u32);
        assert_eq!(meta.ports(), (5353, 53));
        assert_eq!(meta.protocol(), 17);
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let packet = udp_v6_ip(&[1; 10]);
        let mut sll = vec![0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd];
        sll.extend_from_slice(&packet);
        assert_eq!(
            parse(LinkType::LinuxSll, &sll).unwrap().ip_len,
            packet.len() as u32
        );
        // A tun device's packet (ARPHRD_NONE, no address), as the `any` capture frames it.
        let v4 = tcp_v4(&[2; 20])[14..].to_vec();
        let mut tun = vec![0, 0, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
        tun.extend_from_slice(&v4);
        assert_eq!(
            parse(LinkType::LinuxSll, &tun).unwrap().ip_len,
            v4.len() as u32
        );
        let arp = [0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x06, 0, 1];
        assert!(parse(LinkType::LinuxSll, &arp).is_err());
        assert!(parse(LinkType::LinuxSll, &[0; 15]).is_err());
        let mut sll2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(&packet);
        assert_eq!(
            parse(LinkType::LinuxSll2, &sll2).unwrap().ports(),
            (5353, 53)
        );
    }

    #[test]
    fn bsd_loopback_frames() {
        let packet = udp_v6_ip(&[]);
        let mut frame = 30u32.to_ne_bytes().to_vec();
        frame.extend_from_slice(&packet);
        assert!(parse(LinkType::Null, &frame).is_ok());
        let mut bad = 99u32.to_ne_bytes().to_vec();
        bad.extend_from_slice(&packet);
        assert_eq!(
            parse(LinkType::Null, &bad),
            Err(PacketError::UnknownFamily(99))
        );
    }

    #[test]
    fn other_protocols_are_counted_without_ports() {
        let mut packet = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        packet.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0]);
        let meta = parse_ip(&packet).unwrap();
        assert_eq!(meta.transport, Transport::Other { protocol: 1 });
        assert_eq!(meta.ip_len, 28);
    }

    #[test]
    fn arp_and_garbage_are_errors() {
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&[0; 20]);
        assert!(parse(LinkType::Ethernet, &arp).is_err());
        assert!(parse(LinkType::Ethernet, &[1, 2, 3]).is_err());
        assert!(parse(LinkType::RawIp, &[0x45]).is_err());
        assert!(parse(LinkType::LinuxSll2, &[0x08]).is_err());
    }

    #[test]
    fn packets_that_state_no_length_take_the_wire_length() {
        let mut frame = tcp_v4(&[0; 100]);
        frame[16] = 0; // IPv4 total length 0, as BIG TCP sends packets over 64 KiB
        frame[17] = 0;
        let meta = parse_captured(LinkType::Ethernet, &frame[..80], 70_014).unwrap();
        assert_eq!(meta.ip_len, 70_000);
        let stated = parse_captured(LinkType::Ethernet, &tcp_v4(&[0; 100]), 9999).unwrap();
        assert_eq!(
            stated.ip_len, 140,
            "a stated length wins over the wire length"
        );
        let padded = udp_v6_ip(&[]);
        let short = parse_captured(LinkType::RawIp, &padded, 60).unwrap();
        assert_eq!(short.ip_len, 48, "padding is not counted");
    }

    #[test]
    fn the_transport_payload_comes_with_the_packet() {
        let frame = tcp_v4(b"hello");
        let (meta, payload) =
            parse_with_payload(LinkType::Ethernet, &frame, frame.len() as u32).unwrap();
        assert_eq!(payload, b"hello");
        assert_eq!(meta.ports(), (40000, 443));
        let (_, cut) =
            parse_with_payload(LinkType::Ethernet, &frame[..frame.len() - 2], 999).unwrap();
        assert_eq!(cut, b"hel", "a capture cut short gives what it holds");
    }

    #[test]
    fn dlt_values() {
        assert_eq!(LinkType::from_dlt(113), Some(LinkType::LinuxSll));
        assert_eq!(LinkType::from_dlt(1), Some(LinkType::Ethernet));
        assert_eq!(LinkType::from_dlt(9999), None);
    }

    fn any_link() -> impl Strategy<Value = LinkType> {
        prop_oneof![
            Just(LinkType::Ethernet),
            Just(LinkType::LinuxSll),
            Just(LinkType::LinuxSll2),
            Just(LinkType::RawIp),
            Just(LinkType::Null),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn arbitrary_bytes_never_panic(link in any_link(), bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let _ = parse(link, &bytes);
        }

        #[test]
        fn corrupted_real_frames_never_panic(cut in 0usize..200, flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..8)) {
            let mut frame = tcp_v4(&[0; 150]);
            flips.iter().for_each(|&(at, value)| {
                if let Some(byte) = frame.get_mut(at) { *byte ^= value; }
            });
            frame.truncate(cut);
            let _ = parse(LinkType::Ethernet, &frame);
        }
    }
}
