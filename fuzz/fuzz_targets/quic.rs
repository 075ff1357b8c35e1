//! UDP/443 datagrams read as QUIC Initials: a server name, none, or an error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon_core::domains::quic;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(name)) = quic::client_hello_sni(data) {
        assert!(!name.host.is_empty(), "an empty server name was reported");
    }
});
