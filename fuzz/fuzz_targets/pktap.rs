//! PKTAP records (macOS per-packet process headers): parse, read the inner packet and pick the
//! owning process, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon_core::capture::pktap;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = pktap::parse(data) {
        assert!(
            record.frame.len() < data.len(),
            "frame is not inside the record"
        );
        let _ = record.packet();
        if let Some(owner) = record.owner() {
            assert!(owner.is_known(), "an unknown process was named the owner");
        }
    }
});
