//! Shared by the replay tests: `.pcap` files written with libpcap's own savefile, so
//! `capture::pcap::read_file` reads exactly what a capture tool would have saved.

use std::path::Path;

use pcap::{Capture, Linktype, Packet, PacketHeader};

/// Writes a pcap file of link type `linktype` at `path`: each record's captured bytes and its
/// length on the wire (longer when the capture cut the packet at its snap length).
pub fn write_pcap<'a>(
    path: &Path,
    linktype: i32,
    records: impl IntoIterator<Item = (&'a [u8], usize)>,
) {
    let dead = Capture::dead(Linktype(linktype)).unwrap();
    let mut file = dead.savefile(path).unwrap();
    records.into_iter().for_each(|(captured, wire_len)| {
        let header = PacketHeader {
            ts: libc::timeval {
                tv_sec: 1_764_000_000,
                tv_usec: 0,
            },
            caplen: u32::try_from(captured.len()).unwrap(),
            len: u32::try_from(wire_len).unwrap(),
        };
        file.write(&Packet::new(&header, captured));
    });
    file.flush().unwrap();
}
