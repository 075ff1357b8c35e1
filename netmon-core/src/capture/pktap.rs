//! macOS PKTAP: packets prefixed with a header that names the process that sent or received
//! them.
//!
//! The `pktap` pseudo-interface (root only) delivers every interface's packets with link type
//! DLT_PKTAP. Each record is a `struct pktap_header` (xnu `bsd/net/pktap.h`; tcpdump's
//! `print-pktap.c` reads the same fields), then the packet with its own link layer. The fields
//! netmon reads, at their offsets (integers in host byte order, little-endian on every Mac):
//!
//! | offset | field | |
//! | --- | --- | --- |
//! | 0 | `pth_length` (u32) | length of this header; the packet starts here |
//! | 4 | `pth_type_next` (u32) | record type: 1 = a packet follows |
//! | 8 | `pth_dlt` (u32) | link type (DLT) of the packet that follows |
//! | 12 | `pth_ifname[24]` | interface name, NUL-terminated |
//! | 36 | `pth_flags` (u32) | 1 = inbound, 2 = outbound |
//! | 40 | `pth_protocol_family` (u32) | |
//! | 44 | `pth_frame_pre_length` (u32) | |
//! | 48 | `pth_frame_post_length` (u32) | |
//! | 52 | `pth_pid` (i32) | process that owns the socket |
//! | 56 | `pth_comm[17]` | its name (MAXCOMLEN + 1), NUL-terminated; 3 bytes of padding follow |
//! | 76 | `pth_svc` (u32) | service class |
//! | 80 | `pth_iftype` (u16), 82 `pth_ifunit` (u16) | |
//! | 84 | `pth_epid` (i32) | *effective* process: the one the traffic is done for |
//! | 88 | `pth_ecomm[17]` | its name; padding to 108 |
//!
//! Later fields (flow id, IP protocol, timestamp, UUIDs) are not read. The header's own length
//! is always honoured, so a kernel with a longer header still parses; a header shorter than the
//! fields above is an error.
//!
//! **Which process gets the bytes**: the *effective* one when it is set and differs from the
//! socket's owner. A daemon that sends on an app's behalf (`nsurlsessiond` downloading for an
//! app, a network extension) is then not credited with the app's traffic: users ask "how much
//! did this app use", and the effective process is the app's answer (DESIGN §2). PID 0 or an
//! empty name means the kernel did not know the process: the packet is then left for the
//! socket tables (a plain [`Observation::Packet`], or [`Observation::Named`]).
//!
//! **Server names**: the inner packet's payload goes through the capture's domain
//! [`Inspector`] like any captured packet, so DNS answers and TLS/QUIC ClientHello server names
//! arrive with the packet ([`Observation::OwnedPacket`]'s naming).
//!
//! The live source is [`super::pcap::PcapSource::open_pktap`]: libpcap on the `pktap` device,
//! whose frames this module reads. Parsing is platform-neutral, so PKTAP captures from a Mac
//! are read the same anywhere.

use std::sync::Arc;

use super::Observation;
use crate::domains::Inspector;
use crate::packet::{self, LinkType, PacketError};
use crate::process::ProcessInfo;

/// DLT_PKTAP as a live macOS capture reports it (Apple's libpcap uses DLT_USER2).
pub const DLT_PKTAP_APPLE: i32 = 149;
/// LINKTYPE_PKTAP, the value pcap files (and non-Apple libpcap) use.
pub const LINKTYPE_PKTAP: i32 = 258;

/// Whether a capture's link type is PKTAP.
pub fn is_pktap(dlt: i32) -> bool {
    matches!(dlt, DLT_PKTAP_APPLE | LINKTYPE_PKTAP)
}

/// The libpcap device for PKTAP on `interface`: `pktap` for every interface (`any`), else
/// `pktap,IFACE` (Apple's libpcap accepts a comma-separated interface list after `pktap`).
pub fn device(interface: &str) -> String {
    match interface {
        "any" | "" | "pktap" => "pktap".into(),
        one => format!("pktap,{one}"),
    }
}

/// Record type of a header followed by a packet (`PTH_TYPE_PACKET`).
const RECORD_PACKET: u32 = 1;
/// Bytes up to the end of `pth_ecomm` and its padding: the shortest header netmon reads.
pub const MIN_HEADER_LEN: usize = 108;
/// `MAXCOMLEN + 1`: room for a process name and its NUL.
const COMM_LEN: usize = 17;
/// `PKTAP_IFXNAMESIZE`.
const IFNAME_LEN: usize = 24;

mod offset {
    pub const LENGTH: usize = 0;
    pub const TYPE_NEXT: usize = 4;
    pub const DLT: usize = 8;
    pub const IFNAME: usize = 12;
    pub const FLAGS: usize = 36;
    pub const PID: usize = 52;
    pub const COMM: usize = 56;
    pub const EPID: usize = 84;
    pub const ECOMM: usize = 88;
}

/// `pth_flags`: the packet came in.
pub const FLAG_INBOUND: u32 = 0x1;
/// `pth_flags`: the packet went out.
pub const FLAG_OUTBOUND: u32 = 0x2;

/// A process named in a PKTAP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub pid: i32,
    pub name: String,
}

impl Tagged {
    /// Whether the kernel named a real process (PID above 0 and a name).
    pub fn is_known(&self) -> bool {
        self.pid > 0 && !self.name.is_empty()
    }
}

/// One PKTAP record: the header's facts and the packet that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PktapRecord<'a> {
    /// Interface the packet crossed (`en0`, `utun3`).
    pub interface: String,
    /// `pth_flags` (see [`FLAG_INBOUND`], [`FLAG_OUTBOUND`]).
    pub flags: u32,
    /// The socket's owner.
    pub process: Tagged,
    /// The process the traffic is done for.
    pub effective: Tagged,
    /// Link type (DLT) of [`Self::frame`].
    pub inner_dlt: u32,
    /// The packet, starting with its own link-layer header.
    pub frame: &'a [u8],
}

impl PktapRecord<'_> {
    /// The process credited with the packet: the effective one when it is known and differs
    /// from the socket's owner, else the owner; `None` when neither is known.
    pub fn owner(&self) -> Option<&Tagged> {
        let effective = Some(&self.effective)
            .filter(|effective| effective.is_known() && effective.pid != self.process.pid);
        effective.or(Some(&self.process).filter(|process| process.is_known()))
    }

    /// Reads the inner packet with [`packet::parse`].
    pub fn packet(&self) -> Result<packet::PacketMeta, PktapError> {
        self.packet_and_payload().map(|(meta, _)| meta)
    }

    /// Reads the inner packet and its transport payload (as far as it was captured).
    pub fn packet_and_payload(&self) -> Result<(packet::PacketMeta, &[u8]), PktapError> {
        let dlt = i32::try_from(self.inner_dlt).unwrap_or(i32::MAX);
        let link = LinkType::from_dlt(dlt).ok_or(PktapError::UnknownLink(self.inner_dlt))?;
        let wire_len = u32::try_from(self.frame.len()).unwrap_or(u32::MAX);
        packet::parse_with_payload(link, self.frame, wire_len).map_err(PktapError::Packet)
    }
}

/// Why a PKTAP record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PktapError {
    #[error("PKTAP record of {got} bytes is shorter than its {needed}-byte header")]
    Truncated { needed: usize, got: usize },
    #[error("PKTAP header states a length of {0} bytes, less than the {MIN_HEADER_LEN} bytes of its fields")]
    ShortHeader(u32),
    #[error("PKTAP record of type {0} carries no packet")]
    NotAPacket(u32),
    #[error("PKTAP packet has link type {0}, which netmon cannot read")]
    UnknownLink(u32),
    #[error("PKTAP packet: {0}")]
    Packet(PacketError),
}

/// Reads one PKTAP record (header and packet). Never panics, whatever the bytes.
pub fn parse(record: &[u8]) -> Result<PktapRecord<'_>, PktapError> {
    let truncated = |needed| PktapError::Truncated {
        needed,
        got: record.len(),
    };
    let declared = read_u32(record, offset::LENGTH).ok_or(truncated(MIN_HEADER_LEN))?;
    let header_len = usize::try_from(declared)
        .ok()
        .filter(|&len| len >= MIN_HEADER_LEN)
        .ok_or(PktapError::ShortHeader(declared))?;
    let frame = record.get(header_len..).ok_or(truncated(header_len))?;
    let field = |at| read_u32(record, at).ok_or(truncated(header_len));
    let record_type = field(offset::TYPE_NEXT)?;
    if record_type != RECORD_PACKET {
        return Err(PktapError::NotAPacket(record_type));
    }
    let tagged = |pid_at, name_at| -> Result<Tagged, PktapError> {
        Ok(Tagged {
            pid: i32::from_ne_bytes(field(pid_at)?.to_ne_bytes()),
            name: read_name(record, name_at, COMM_LEN),
        })
    };
    Ok(PktapRecord {
        interface: read_name(record, offset::IFNAME, IFNAME_LEN),
        flags: field(offset::FLAGS)?,
        process: tagged(offset::PID, offset::COMM)?,
        effective: tagged(offset::EPID, offset::ECOMM)?,
        inner_dlt: field(offset::DLT)?,
        frame,
    })
}

/// Turns one PKTAP record into an observation, naming its process through `process_of`
/// (which adds what the header lacks, such as the executable path, and may cache) and reading
/// its payload with `inspector` (DNS answers, TLS and QUIC server names), as for any capture.
pub fn observe(
    record: &[u8],
    inspector: &mut Inspector,
    process_of: impl FnOnce(&Tagged) -> Arc<ProcessInfo>,
) -> Observation {
    let Ok(record) = parse(record) else {
        return Observation::Unreadable;
    };
    match (record.packet_and_payload(), record.owner()) {
        (Ok((meta, payload)), Some(owner)) => {
            Observation::owned(inspector, meta, process_of(owner), payload)
        }
        (Ok((meta, payload)), None) => Observation::inspected(inspector, meta, payload),
        (Err(_), _) => Observation::Unreadable,
    }
}

/// The u32 at `at`. PKTAP headers are in the capturing host's byte order; every Mac (Intel and
/// Apple silicon) is little-endian, and reading them as little-endian on any host keeps pcap
/// files from Macs readable elsewhere.
fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let field = bytes.get(at..end)?;
    <[u8; 4]>::try_from(field).ok().map(u32::from_le_bytes)
}

/// A NUL-terminated name in a fixed-size field; invalid UTF-8 is replaced.
fn read_name(bytes: &[u8], at: usize, len: usize) -> String {
    let field = at
        .checked_add(len)
        .and_then(|end| bytes.get(at..end))
        .unwrap_or_default();
    let name = field.split(|&byte| byte == 0).next().unwrap_or_default();
    String::from_utf8_lossy(name).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    /// A SYNTHETIC PKTAP header built from the documented struct layout (not captured on a
    /// Mac): every field at its offset, little-endian.
    struct Header {
        length: u32,
        record_type: u32,
        dlt: u32,
        ifname: &'static str,
        flags: u32,
        pid: i32,
        comm: &'static str,
        epid: i32,
        ecomm: &'static str,
    }

    impl Default for Header {
        fn default() -> Self {
            Self {
                length: 156,
                record_type: RECORD_PACKET,
                dlt: 1,
                ifname: "en0",
                flags: FLAG_OUTBOUND,
                pid: 812,
                comm: "curl",
                epid: 812,
                ecomm: "curl",
            }
        }
    }

    impl Header {
        fn bytes(&self, frame: &[u8]) -> Vec<u8> {
            let size = usize::try_from(self.length).unwrap().max(MIN_HEADER_LEN);
            let mut out = vec![0u8; size];
            let mut put =
                |at: usize, bytes: &[u8]| out[at..at + bytes.len()].copy_from_slice(bytes);
            put(offset::LENGTH, &self.length.to_le_bytes());
            put(offset::TYPE_NEXT, &self.record_type.to_le_bytes());
            put(offset::DLT, &self.dlt.to_le_bytes());
            put(offset::IFNAME, self.ifname.as_bytes());
            put(offset::FLAGS, &self.flags.to_le_bytes());
            put(40, &2u32.to_le_bytes()); // pth_protocol_family: AF_INET
            put(44, &14u32.to_le_bytes()); // pth_frame_pre_length: Ethernet header
            put(offset::PID, &self.pid.to_le_bytes());
            put(offset::COMM, self.comm.as_bytes());
            put(76, &0x64u32.to_le_bytes()); // pth_svc
            put(80, &6u16.to_le_bytes()); // pth_iftype: IFT_ETHER
            put(offset::EPID, &self.epid.to_le_bytes());
            put(offset::ECOMM, self.ecomm.as_bytes());
            out.extend_from_slice(frame);
            out
        }
    }

    fn ethernet_tcp() -> Vec<u8> {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 168, 1, 5], [17, 253, 144, 10], 64)
            .tcp(53000, 443, 1, 65535)
            .write(&mut frame, &[0; 60])
            .unwrap();
        frame
    }

    fn raw_udp_v6() -> Vec<u8> {
        let mut packet = Vec::new();
        PacketBuilder::ipv6([0xfd; 16], [0x20; 16], 64)
            .udp(5353, 53)
            .write(&mut packet, &[1; 20])
            .unwrap();
        packet
    }

    fn named(tagged: &Tagged) -> Arc<ProcessInfo> {
        Arc::new(ProcessInfo::new(
            u32::try_from(tagged.pid).unwrap(),
            tagged.name.clone(),
            None,
        ))
    }

    #[test]
    fn reads_every_field_of_a_synthetic_header() {
        let frame = ethernet_tcp();
        let bytes = Header::default().bytes(&frame);
        let record = parse(&bytes).unwrap();
        assert_eq!(record.interface, "en0");
        assert_eq!(record.flags, FLAG_OUTBOUND);
        assert_eq!(
            record.process,
            Tagged {
                pid: 812,
                name: "curl".into()
            }
        );
        assert_eq!(record.inner_dlt, 1);
        assert_eq!(record.frame, &frame[..]);
        let meta = record.packet().unwrap();
        assert_eq!(meta.ports(), (53000, 443));
        assert_eq!(meta.ip_len, u32::try_from(frame.len() - 14).unwrap());
    }

    #[test]
    fn a_longer_header_is_skipped_by_its_stated_length() {
        let frame = raw_udp_v6();
        let bytes = Header {
            length: 200,
            dlt: 12,
            ..Header::default()
        }
        .bytes(&frame);
        let record = parse(&bytes).unwrap();
        assert_eq!(record.frame, &frame[..]);
        assert_eq!(record.packet().unwrap().ports(), (5353, 53));
    }

    #[test]
    fn the_shortest_header_parses() {
        let frame = raw_udp_v6();
        let length = u32::try_from(MIN_HEADER_LEN).unwrap();
        let bytes = Header {
            length,
            dlt: 12,
            ..Header::default()
        }
        .bytes(&frame);
        assert_eq!(parse(&bytes).unwrap().frame, &frame[..]);
    }

    #[test]
    fn loopback_and_tunnel_frames_use_the_null_link() {
        let mut frame = 30u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&raw_udp_v6());
        let bytes = Header {
            dlt: 0,
            ifname: "utun3",
            ..Header::default()
        }
        .bytes(&frame);
        let record = parse(&bytes).unwrap();
        assert_eq!(record.interface, "utun3");
        assert!(record.packet().is_ok());
    }

    #[test]
    fn the_effective_process_is_credited_when_it_differs() {
        let header = Header {
            pid: 301,
            comm: "nsurlsessiond",
            epid: 4242,
            ecomm: "Music",
            ..Header::default()
        };
        let bytes = header.bytes(&ethernet_tcp());
        match observe(&bytes, &mut Inspector::default(), named) {
            Observation::OwnedPacket(_, process, _) => {
                assert_eq!((process.pid, process.name.as_str()), (4242, "Music"));
            }
            other => panic!("not owned: {other:?}"),
        }
    }

    #[test]
    fn the_socket_owner_is_credited_without_a_distinct_effective_process() {
        for (epid, ecomm) in [(812, "curl"), (0, ""), (0, "kernel_task"), (99, "")] {
            let bytes = Header {
                epid,
                ecomm,
                ..Header::default()
            }
            .bytes(&ethernet_tcp());
            let record = parse(&bytes).unwrap();
            assert_eq!(
                record.owner().map(|owner| owner.pid),
                Some(812),
                "{epid} {ecomm}"
            );
        }
    }

    #[test]
    fn unknown_processes_leave_the_packet_to_the_socket_tables() {
        for (pid, comm) in [(0, "kernel_task"), (0, ""), (77, ""), (-1, "x")] {
            let header = Header {
                pid,
                comm,
                epid: 0,
                ecomm: "",
                ..Header::default()
            };
            let bytes = header.bytes(&ethernet_tcp());
            assert!(
                matches!(
                    observe(&bytes, &mut Inspector::default(), named),
                    Observation::Packet(_)
                ),
                "{pid} {comm:?}"
            );
        }
    }

    #[test]
    fn names_stop_at_the_nul_and_fill_their_field() {
        let header = Header {
            comm: "AirPlayXPCHelper",
            ..Header::default()
        };
        let bytes = header.bytes(&ethernet_tcp());
        assert_eq!(parse(&bytes).unwrap().process.name, "AirPlayXPCHelper");
    }

    #[test]
    fn broken_records_are_errors() {
        let frame = ethernet_tcp();
        assert!(matches!(
            parse(&[1, 2, 3]),
            Err(PktapError::Truncated { .. })
        ));
        let short = Header {
            length: 40,
            ..Header::default()
        }
        .bytes(&frame);
        assert_eq!(parse(&short), Err(PktapError::ShortHeader(40)));
        let cut = Header::default().bytes(&frame);
        assert!(matches!(
            parse(&cut[..120]),
            Err(PktapError::Truncated { needed: 156, .. })
        ));
        let other = Header {
            record_type: 0,
            ..Header::default()
        }
        .bytes(&frame);
        assert_eq!(parse(&other), Err(PktapError::NotAPacket(0)));
        let odd = Header {
            dlt: 4000,
            ..Header::default()
        }
        .bytes(&frame);
        assert_eq!(
            parse(&odd).unwrap().packet(),
            Err(PktapError::UnknownLink(4000))
        );
        assert_eq!(
            observe(&odd, &mut Inspector::default(), named),
            Observation::Unreadable
        );
        let mut huge = Header::default().bytes(&frame);
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(parse(&huge), Err(PktapError::Truncated { .. })));
    }

    #[test]
    fn devices() {
        assert_eq!(device("any"), "pktap");
        assert_eq!(device("en0"), "pktap,en0");
    }

    #[test]
    fn both_pktap_link_values_are_recognised() {
        assert!(is_pktap(149) && is_pktap(258));
        assert!(!is_pktap(1));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = observe(&bytes, &mut Inspector::default(), named_lossy);
        }

        #[test]
        fn corrupted_synthetic_records_never_panic(
            cut in 0usize..300,
            flips in proptest::collection::vec((0usize..300, any::<u8>()), 0..12),
        ) {
            let mut bytes = Header::default().bytes(&ethernet_tcp());
            flips.iter().for_each(|&(at, value)| {
                if let Some(byte) = bytes.get_mut(at) { *byte ^= value; }
            });
            bytes.truncate(cut);
            let _ = observe(&bytes, &mut Inspector::default(), named_lossy);
        }
    }

    fn named_lossy(tagged: &Tagged) -> Arc<ProcessInfo> {
        Arc::new(ProcessInfo::new(
            u32::try_from(tagged.pid).unwrap_or_default(),
            tagged.name.clone(),
            None,
        ))
    }
}
