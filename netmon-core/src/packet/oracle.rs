//! netmon's packet parser as it was before it stopped building etherparse's whole
//! `LaxSlicedPacket` for every frame, kept unchanged as the oracle the new parser is proved
//! against (`packet::tests`) and measured against (`benches/parse.rs`, which includes this file).
//! Test and bench only; not compiled into netmon.

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

use super::{LinkType, PacketError, PacketMeta, TcpFlags, Transport};

/// The old `parse_with_payload` (the length from the wire is the new parser's own).
pub fn parse_with_payload(
    link: LinkType,
    frame: &[u8],
    wire_len: u32,
) -> Result<(PacketMeta, &[u8]), PacketError> {
    let Parsed { meta, payload } = parse_frame(link, frame)?;
    Ok((super::with_wire_len(link, frame, wire_len, meta), payload))
}

/// A parsed packet and its transport payload.
struct Parsed<'a> {
    meta: PacketMeta,
    payload: &'a [u8],
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

/// BSD loopback (the family check is the new parser's own).
fn parse_null(frame: &[u8]) -> Result<Parsed<'_>, PacketError> {
    super::loopback_ip(frame).and_then(parse_ip_payload)
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
