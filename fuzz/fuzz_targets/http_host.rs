//! TCP payloads read as a plain-HTTP request head: a hostname from its Host header or none,
//! never a panic, and never anything but a hostname (no path, no other header).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon_core::domains::http;

fuzz_target!(|data: &[u8]| {
    let _ = http::looks_like_request(data);
    if let Ok(Some(host)) = http::request_host(data) {
        assert!(!host.is_empty(), "an empty host was reported");
        assert!(
            host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_'),
            "not a normalised hostname: {host:?}"
        );
        let lower = data.to_ascii_lowercase();
        assert!(
            lower.windows(host.len()).any(|window| window == host.as_bytes()),
            "the host is not from the input"
        );
    }
});
