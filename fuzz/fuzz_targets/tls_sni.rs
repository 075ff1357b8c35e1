//! TCP payloads read as a TLS ClientHello: a server name or none, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon_core::domains::tls;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(name)) = tls::client_hello_sni(data) {
        assert!(!name.host.is_empty(), "an empty server name was reported");
    }
});
