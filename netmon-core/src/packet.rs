//! Reads one captured frame into the few facts the monitor needs: the IP endpoints, the
//! transport protocol and ports, and the IP packet's length.
//!
//! Bytes are counted as the IP packet's length taken from its header (IPv4 total length, IPv6
//! payload length + 40), so a capture with a small snap length still counts full packets. That
//! is the interface's byte counter minus the link-layer header.
//!
//! Parsing is lax about truncation (captures are cut at the snap length) and strict about
//! everything else: any input gives a value or an error, never a panic.
//!
//! Every captured frame comes through here, so the link header (Ethernet with its VLAN tags
//! and MACsec, Linux cooked v1/v2, loopback) is stepped over in place and only the IP header
//! and the TCP or UDP header are sliced, with etherparse's lax slices: no whole-packet
//! structure is built or copied. `packet/oracle.rs` keeps the earlier whole-packet parser, and
//! a proptest holds this one to it.

use std::net::IpAddr;

use etherparse::err::{ip::LaxHeaderSliceError, macsec, LenError};
use etherparse::{
    ArpPacketSlice, EtherType, IpNumber, LaxIpPayloadSlice, LaxIpSlice, LaxMacsecPayloadSlice,
    LaxMacsecSlice, LenSource, SingleVlanSlice, TcpSlice, UdpSlice,
};

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

    /// The TCP flags of a TCP packet.
    pub fn tcp_flags(&self) -> Option<TcpFlags> {
        match self.transport {
            Transport::Tcp { flags, .. } => Some(flags),
            _ => None,
        }
    }

    /// A TCP connection's first packet (see [`TcpFlags::opens_connection`]).
    pub fn opens_connection(&self) -> bool {
        self.tcp_flags().is_some_and(TcpFlags::opens_connection)
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
    let Parsed { meta, payload } = parse_frame(link, frame)?;
    Ok((with_wire_len(link, frame, wire_len, meta), payload))
}

/// `meta` of `frame` (`wire_len` bytes on the wire), its length taken from the wire where the
/// IP header states none: 0 (BIG TCP), or an IPv6 jumbogram's. Public for the parser's oracle
/// (`packet/oracle.rs`, also built into `benches/parse.rs`).
#[doc(hidden)]
pub fn with_wire_len(
    link: LinkType,
    frame: &[u8],
    wire_len: u32,
    mut meta: PacketMeta,
) -> PacketMeta {
    // An IPv6 jumbogram states payload length 0 (so 40 here) and is longer than any stated
    // length could be; a short IPv6 packet padded to Ethernet's minimum frame is not one.
    let jumbogram = meta.dst.is_ipv6() && meta.ip_len == 40 && wire_len > MAX_STATED_LEN;
    if meta.ip_len == 0 || jumbogram {
        meta.ip_len = wire_len.saturating_sub(link_header_len(link, frame, &meta));
    }
    meta
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
        LinkType::Ethernet => parse_ethernet(frame),
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
    parse_ip_at(packet, Position::START)
}

/// A big-endian 16-bit field at the start of `bytes` (which holds at least two).
fn be16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

/// Ethernet II (14 bytes): destination (6), source (6), ether type (2).
fn parse_ethernet(frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    const HEADER_LEN: usize = 14;
    let protocol = frame
        .get(12..HEADER_LEN)
        .map(be16)
        .ok_or(PacketError::Truncated("Ethernet"))?;
    parse_ether_payload(EtherType(protocol), &frame[HEADER_LEN..], HEADER_LEN)
}

/// SLL (16 bytes): packet type (2), ARPHRD (2), address length (2), address (8), protocol
/// type (2). The protocol type is read whatever the device's ARPHRD: tun devices and WireGuard
/// (ARPHRD_NONE), whose packets etherparse's SLL reader refuses, carry IP with its ether type
/// there like Ethernet devices do.
fn parse_sll(frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    const HEADER_LEN: usize = 16;
    let protocol = frame
        .get(14..HEADER_LEN)
        .map(be16)
        .ok_or(PacketError::Truncated("Linux SLL"))?;
    let rest = frame.get(HEADER_LEN..).unwrap_or_default();
    parse_ether_payload(EtherType(protocol), rest, 0)
}

/// SLL2 (20 bytes): protocol type (2), reserved (2), interface index (4), ARPHRD (2),
/// packet type (1), address length (1), address (8).
fn parse_sll2(frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    const HEADER_LEN: usize = 20;
    let protocol = frame
        .get(..2)
        .map(be16)
        .ok_or(PacketError::Truncated("Linux SLL2"))?;
    let rest = frame
        .get(HEADER_LEN..)
        .ok_or(PacketError::Truncated("Linux SLL2"))?;
    parse_ether_payload(EtherType(protocol), rest, 0)
}

/// BSD loopback: the address family in host byte order, then the IP packet.
fn parse_null(frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    loopback_ip(frame).and_then(parse_ip_payload)
}

/// The IP packet of a BSD loopback frame, after its address family (in host byte order), which
/// must be IPv4's or IPv6's. Public for the parser's oracle (`packet/oracle.rs`), which reads
/// loopback frames the same way.
#[doc(hidden)]
pub fn loopback_ip(frame: &[u8]) -> Result<&[u8], PacketError> {
    let family = frame
        .get(..4)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .ok_or(PacketError::Truncated("loopback"))?;
    let rest = frame.get(4..).unwrap_or_default();
    let family = [u32::from_ne_bytes(family), u32::from_be_bytes(family)];
    // AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD.
    if family.iter().any(|f| matches!(f, 2 | 24 | 28 | 30)) {
        Ok(rest)
    } else {
        Err(PacketError::UnknownFamily(family[0]))
    }
}

/// Link extensions (VLAN tags, MACsec) read before giving up on a frame, as etherparse's
/// packet slicer does.
const MAX_LINK_EXTS: usize = 3;

/// Where a layer starts in the bytes parsed (from the frame's start for Ethernet, from the end
/// of the cooked header for SLL and SLL2, from the IP header for raw IP and loopback, as
/// netmon's earlier whole-packet slicing counted) and what bounds its length (the slice, or a
/// MACsec short length). Only error messages state them.
#[derive(Debug, Clone, Copy)]
struct Position {
    offset: usize,
    len_source: LenSource,
}

impl Position {
    const START: Self = Self {
        offset: 0,
        len_source: LenSource::Slice,
    };

    /// A layer too short to read, stated from the start of the parsed bytes.
    fn too_short(self, mut error: LenError) -> PacketError {
        error.layer_start_offset += self.offset;
        if error.len_source == LenSource::Slice {
            error.len_source = self.len_source;
        }
        PacketError::BadIp(error.to_string())
    }

    /// The same place, for a link header whose length errors etherparse states against the
    /// slice whatever bounds it.
    fn no_source(self) -> Self {
        Self {
            len_source: LenSource::Slice,
            ..self
        }
    }
}

/// Follows an ether type through VLAN tags and unencrypted MACsec to the IP packet.
fn parse_ether_payload(
    mut ether_type: EtherType,
    mut payload: &[u8],
    offset: usize,
) -> Result<Parsed<'_>, PacketError> {
    use etherparse::ether_type::{
        ARP, IPV4, IPV6, MACSEC, PROVIDER_BRIDGING, VLAN_DOUBLE_TAGGED_FRAME, VLAN_TAGGED_FRAME,
    };
    let mut at = Position {
        offset,
        ..Position::START
    };
    let mut exts = 0;
    loop {
        (ether_type, payload) = match ether_type {
            IPV4 | IPV6 => return parse_ip_at(payload, at),
            ARP => return Err(not_ip_arp(payload, at)),
            VLAN_TAGGED_FRAME | PROVIDER_BRIDGING | VLAN_DOUBLE_TAGGED_FRAME
                if exts < MAX_LINK_EXTS =>
            {
                skip_vlan(payload, &mut at)?
            }
            MACSEC if exts < MAX_LINK_EXTS => skip_macsec(payload, &mut at)?,
            other => return Err(PacketError::NotIp(other.0)),
        };
        exts += 1;
    }
}

/// A VLAN tag's inner ether type and payload.
fn skip_vlan<'a>(
    payload: &'a [u8],
    at: &mut Position,
) -> Result<(EtherType, &'a [u8]), PacketError> {
    let vlan =
        SingleVlanSlice::from_slice(payload).map_err(|error| at.no_source().too_short(error))?;
    at.offset += vlan.header_len();
    Ok((vlan.ether_type(), vlan.payload_slice()))
}

/// An unencrypted MACsec frame's inner ether type and payload; an encrypted or modified one
/// is not read (etherparse names no ether type for it).
fn skip_macsec<'a>(
    payload: &'a [u8],
    at: &mut Position,
) -> Result<(EtherType, &'a [u8]), PacketError> {
    let macsec = LaxMacsecSlice::from_slice(payload).map_err(|error| match error {
        macsec::HeaderSliceError::Len(error) => at.no_source().too_short(error),
        macsec::HeaderSliceError::Content(error) => PacketError::BadIp(error.to_string()),
    })?;
    at.offset += macsec.header.header_len();
    match macsec.payload {
        LaxMacsecPayloadSlice::Unmodified(inner) => {
            if inner.len_source != LenSource::Slice {
                at.len_source = inner.len_source;
            }
            Ok((inner.ether_type, inner.payload))
        }
        // Its payload's ether type is not known: 0, as the whole-packet slicing said.
        LaxMacsecPayloadSlice::Modified { .. } => Err(PacketError::NotIp(0)),
    }
}

/// An ARP packet is not IP; a truncated one is reported as too short.
fn not_ip_arp(payload: &[u8], at: Position) -> PacketError {
    match ArpPacketSlice::from_slice(payload) {
        Ok(_) => PacketError::NotIp(etherparse::ether_type::ARP.0),
        Err(error) => at.too_short(error),
    }
}

/// Reads the IP packet at the start of `packet`, lax about truncation: the length comes from
/// the IP header, the transport header and payload as far as captured.
fn parse_ip_at(packet: &[u8], at: Position) -> Result<Parsed<'_>, PacketError> {
    let (ip, ext_error) = LaxIpSlice::from_slice(packet).map_err(|error| match error {
        LaxHeaderSliceError::Len(error) => at.too_short(error),
        LaxHeaderSliceError::Content(error) => PacketError::BadIp(error.to_string()),
    })?;
    let (src, dst, ip_len) = match &ip {
        LaxIpSlice::Ipv4(ipv4) => {
            let header = ipv4.header();
            (
                IpAddr::from(header.source_addr()),
                IpAddr::from(header.destination_addr()),
                u32::from(header.total_len()),
            )
        }
        LaxIpSlice::Ipv6(ipv6) => {
            let header = ipv6.header();
            (
                IpAddr::from(header.source_addr()),
                IpAddr::from(header.destination_addr()),
                u32::from(header.payload_length()) + 40,
            )
        }
    };
    let carried = ip.payload();
    // A fragment, or a packet whose extension headers could not be read, has no transport
    // header to read.
    let (transport, payload) = if carried.fragmented || ext_error.is_some() {
        no_transport(carried)
    } else {
        read_transport(carried)
    };
    Ok(Parsed {
        meta: PacketMeta {
            src,
            dst,
            transport,
            ip_len,
        },
        payload,
    })
}

/// The TCP or UDP header and payload an IP packet carries; any other protocol (or a TCP or
/// UDP header too short to read) gives its protocol number and no payload.
fn read_transport<'a>(carried: &LaxIpPayloadSlice<'a>) -> (Transport, &'a [u8]) {
    let other = no_transport(carried);
    match carried.ip_number {
        IpNumber::TCP => TcpSlice::from_slice(carried.payload).map_or(other, |tcp| {
            let flags = TcpFlags {
                syn: tcp.syn(),
                ack: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
            };
            let transport = Transport::Tcp {
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                flags,
            };
            (transport, tcp.payload())
        }),
        IpNumber::UDP => UdpSlice::from_slice_lax(carried.payload).map_or(other, |udp| {
            let transport = Transport::Udp {
                src_port: udp.source_port(),
                dst_port: udp.destination_port(),
            };
            (transport, udp.payload())
        }),
        _ => other,
    }
}

/// An IP packet counted by its protocol number alone, without ports or payload.
fn no_transport<'a>(carried: &LaxIpPayloadSlice<'_>) -> (Transport, &'a [u8]) {
    let protocol = carried.ip_number.0;
    (Transport::Other { protocol }, &[])
}

#[cfg(test)]
mod oracle;

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{
        IpFragOffset, IpHeaders, Ipv4Extensions, Ipv4Header, Ipv6Extensions, Ipv6FragmentHeader,
        Ipv6Header, Ipv6RawExtHeader, MacsecAn, MacsecHeader, MacsecPType, MacsecShortLen,
        PacketBuilder,
    };
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

    /// One link extension between the link header and the IP packet.
    #[derive(Debug, Clone)]
    enum LinkExt {
        /// A VLAN tag of the given ether type (0x8100, 0x88a8, 0x9100) and tag control bits.
        Vlan(u16, u16),
        /// A MACsec SecTAG: encrypted or modified when `modified`, else carrying an ether type.
        Macsec {
            modified: bool,
            short_len: u8,
            sci: Option<u64>,
        },
    }

    impl LinkExt {
        fn ether_type(&self) -> u16 {
            match self {
                LinkExt::Vlan(ether_type, _) => *ether_type,
                LinkExt::Macsec { .. } => 0x88e5,
            }
        }

        /// The extension's bytes after its own ether type, naming `next` where it carries one.
        fn bytes(&self, next: u16) -> Vec<u8> {
            match self {
                LinkExt::Vlan(_, tci) => [tci.to_be_bytes(), next.to_be_bytes()].concat(),
                LinkExt::Macsec {
                    modified,
                    short_len,
                    sci,
                } => MacsecHeader {
                    ptype: if *modified {
                        MacsecPType::Encrypted
                    } else {
                        MacsecPType::Unmodified(EtherType(next))
                    },
                    endstation_id: false,
                    scb: false,
                    an: MacsecAn::try_new(1).unwrap(),
                    short_len: MacsecShortLen::try_from_u8(*short_len).unwrap(),
                    packet_nr: 7,
                    sci: *sci,
                }
                .to_bytes()
                .to_vec(),
            }
        }
    }

    /// What an IP packet carries.
    #[derive(Debug, Clone, Copy)]
    enum Carried {
        /// TCP with these flag bits (FIN 1, SYN 2, RST 4, ACK 16).
        Tcp(u8),
        Udp,
        Icmp,
    }

    /// How to build one valid frame, before it is cut and corrupted.
    #[derive(Debug, Clone)]
    struct Recipe {
        link: LinkType,
        exts: Vec<LinkExt>,
        /// The ether type naming the IP packet, when not the one its version calls for.
        ether_type: Option<u16>,
        v6: bool,
        /// IPv4 fragment (more fragments, offset), or an IPv6 fragment header with them.
        fragment: Option<(bool, u16)>,
        /// IPv6 hop-by-hop options before the transport header.
        hop_by_hop: bool,
        carried: Carried,
        payload_len: usize,
        /// The IP header states no length (BIG TCP, jumbograms).
        no_stated_len: bool,
        /// BSD loopback's address family.
        family: u32,
    }

    fn ip_packet(recipe: &Recipe) -> Vec<u8> {
        let (more_fragments, offset) = recipe.fragment.unwrap_or((false, 0));
        let offset = IpFragOffset::try_new(offset).unwrap();
        let ip = if recipe.v6 {
            let fragment = recipe
                .fragment
                .map(|_| Ipv6FragmentHeader::new(IpNumber::UDP, offset, more_fragments, 9));
            let hop_by_hop = recipe
                .hop_by_hop
                .then(|| Ipv6RawExtHeader::new_raw(IpNumber::UDP, &[0; 6]).unwrap());
            let header = Ipv6Header {
                hop_limit: 64,
                source: [0xfd; 16],
                destination: [0xfe; 16],
                ..Default::default()
            };
            let exts = Ipv6Extensions {
                hop_by_hop_options: hop_by_hop,
                fragment,
                ..Default::default()
            };
            IpHeaders::Ipv6(header, exts)
        } else {
            let mut header =
                Ipv4Header::new(0, 64, IpNumber::UDP, [10, 0, 0, 1], [10, 0, 0, 2]).unwrap();
            header.more_fragments = more_fragments;
            header.fragment_offset = offset;
            IpHeaders::Ipv4(header, Ipv4Extensions::default())
        };
        let builder = PacketBuilder::ip(ip);
        let payload = vec![0x5a; recipe.payload_len];
        let mut packet = Vec::new();
        match recipe.carried {
            Carried::Tcp(bits) => {
                let mut tcp = builder.tcp(40000, 443, 1, 65535);
                tcp = if bits & 1 != 0 { tcp.fin() } else { tcp };
                tcp = if bits & 2 != 0 { tcp.syn() } else { tcp };
                tcp = if bits & 4 != 0 { tcp.rst() } else { tcp };
                tcp = if bits & 16 != 0 { tcp.ack(5) } else { tcp };
                tcp.write(&mut packet, &payload)
            }
            Carried::Udp => builder.udp(5353, 53).write(&mut packet, &payload),
            Carried::Icmp if recipe.v6 => builder
                .icmpv6_echo_request(1, 2)
                .write(&mut packet, &payload),
            Carried::Icmp => builder
                .icmpv4_echo_request(1, 2)
                .write(&mut packet, &payload),
        }
        .unwrap();
        if recipe.no_stated_len {
            // IPv4 total length, or IPv6 payload length.
            let at = if recipe.v6 { 4 } else { 2 };
            packet[at..at + 2].fill(0);
        }
        packet
    }

    /// The frame a recipe describes, link header and extensions included.
    fn frame(recipe: &Recipe) -> Vec<u8> {
        let packet = ip_packet(recipe);
        let ip_type = recipe
            .ether_type
            .unwrap_or(if recipe.v6 { 0x86dd } else { 0x0800 });
        let types: Vec<u16> = recipe
            .exts
            .iter()
            .map(LinkExt::ether_type)
            .chain([ip_type])
            .collect();
        let chain: Vec<u8> = recipe
            .exts
            .iter()
            .zip(&types[1..])
            .flat_map(|(ext, next)| ext.bytes(*next))
            .chain(packet.iter().copied())
            .collect();
        let first = types[0].to_be_bytes();
        match recipe.link {
            LinkType::Ethernet => [&[1; 6][..], &[2; 6], &first, &chain].concat(),
            LinkType::LinuxSll => [
                &[0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0][..],
                &first,
                &chain,
            ]
            .concat(),
            LinkType::LinuxSll2 => [
                &first[..],
                &[0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0],
                &chain,
            ]
            .concat(),
            LinkType::RawIp => packet,
            LinkType::Null => [&recipe.family.to_ne_bytes()[..], &packet].concat(),
        }
    }

    fn any_ext() -> impl Strategy<Value = LinkExt> {
        prop_oneof![
            (
                prop::sample::select(vec![0x8100u16, 0x88a8, 0x9100]),
                any::<u16>()
            )
                .prop_map(|(ether_type, tci)| LinkExt::Vlan(ether_type, tci)),
            (any::<bool>(), 0u8..64, prop::option::of(any::<u64>())).prop_map(
                |(modified, short_len, sci)| LinkExt::Macsec {
                    modified,
                    short_len,
                    sci
                }
            ),
        ]
    }

    prop_compose! {
        fn any_recipe()(
            link in any_link(),
            exts in prop::collection::vec(any_ext(), 0..5),
            ether_type in prop::option::weighted(0.1, prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806, 0x88e5, 0x1234])),
            v6 in any::<bool>(),
            fragment in prop::option::weighted(0.3, (any::<bool>(), prop_oneof![Just(0u16), 1u16..0x2000])),
            hop_by_hop in any::<bool>(),
            carried in prop_oneof![any::<u8>().prop_map(Carried::Tcp), Just(Carried::Udp), Just(Carried::Icmp)],
            payload_len in prop_oneof![0usize..64, 1300usize..1500],
            no_stated_len in prop::bool::weighted(0.1),
            family in prop::sample::select(vec![2u32, 24, 28, 30, 2u32.swap_bytes(), 30u32.swap_bytes(), 99]),
        ) -> Recipe {
            Recipe { link, exts, ether_type, v6, fragment, hop_by_hop, carried, payload_len, no_stated_len, family }
        }
    }

    /// A wire length for a frame of `len` captured bytes: the same, a little more (a snap
    /// length), or more than any IP header can state (BIG TCP, jumbograms).
    fn any_wire_len(len: usize) -> impl Strategy<Value = u32> {
        let len = len as u32;
        prop_oneof![
            Just(len),
            (0u32..2000).prop_map(move |extra| len + extra),
            (MAX_STATED_LEN - 100..200_000),
            Just(0),
        ]
    }

    /// The new parser answers as the old one did: the same facts, payload and error.
    fn same_as_oracle(link: LinkType, frame: &[u8], wire_len: u32) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            parse_with_payload(link, frame, wire_len),
            oracle::parse_with_payload(link, frame, wire_len)
        );
        prop_assert_eq!(
            parse_ip(frame),
            oracle::parse_with_payload(LinkType::RawIp, frame, 0).map(|(meta, _)| meta)
        );
        Ok(())
    }

    fn corrupt(mut frame: Vec<u8>, flips: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
        flips.iter().for_each(|&(at, value)| {
            if let Some(byte) = frame.get_mut(at) {
                *byte ^= value;
            }
        });
        frame.truncate(cut.unwrap_or(usize::MAX));
        frame
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_parse_as_before(
            (link, bytes, wire_len) in (any_link(), prop::collection::vec(any::<u8>(), 0..200))
                .prop_flat_map(|(link, bytes)| {
                    let len = bytes.len();
                    (Just(link), Just(bytes), any_wire_len(len))
                })
        ) {
            same_as_oracle(link, &bytes, wire_len)?;
        }

        #[test]
        fn built_frames_parse_as_before(
            (recipe, wire_len, flips, cut) in any_recipe().prop_flat_map(|recipe| {
                let len = frame(&recipe).len();
                (
                    Just(recipe),
                    any_wire_len(len),
                    prop::collection::vec((0..len.min(120), any::<u8>()), 0..3),
                    prop::option::weighted(0.3, 0..=len),
                )
            })
        ) {
            let frame = corrupt(frame(&recipe), &flips, cut);
            same_as_oracle(recipe.link, &frame, wire_len)?;
        }
    }

    #[test]
    fn recipes_build_the_frames_they_describe() {
        let recipe = Recipe {
            link: LinkType::Ethernet,
            exts: vec![
                LinkExt::Vlan(0x8100, 5),
                LinkExt::Macsec {
                    modified: false,
                    short_len: 0,
                    sci: Some(3),
                },
            ],
            ether_type: None,
            v6: true,
            fragment: Some((false, 0)),
            hop_by_hop: true,
            carried: Carried::Tcp(2),
            payload_len: 10,
            no_stated_len: false,
            family: 2,
        };
        let built = frame(&recipe);
        let (meta, payload) = parse_with_payload(LinkType::Ethernet, &built, 0).unwrap();
        assert!(meta.opens_connection());
        assert_eq!(meta.ip_len, 40 + 8 + 8 + 20 + 10);
        assert_eq!(payload, &[0x5a; 10]);
        let fragment = Recipe {
            v6: false,
            fragment: Some((true, 0)),
            carried: Carried::Udp,
            ..recipe
        };
        let meta = parse(LinkType::Ethernet, &frame(&fragment)).unwrap();
        assert_eq!(meta.transport, Transport::Other { protocol: 17 });
    }
}
