//! Frames of every link type netmon reads, with any wire length: the parser returns an error
//! or packet facts, never panics, and the facts fit the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon_core::packet::{self, LinkType};

const LINKS: [LinkType; 5] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Null,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(selector) % LINKS.len()];
    // The high bits of the selector stretch the wire length past the captured bytes, as a
    // snap length or segmentation offload does.
    let extra = u32::from(selector >> 3) * 8192;
    let wire_len = u32::try_from(rest.len())
        .unwrap_or(u32::MAX)
        .saturating_add(extra);
    if let Ok((_meta, payload)) = packet::parse_with_payload(link, rest, wire_len) {
        assert!(payload.len() <= rest.len(), "payload longer than the frame");
    }
    let _ = packet::parse(link, rest);
    let _ = packet::parse_ip(rest);
});
