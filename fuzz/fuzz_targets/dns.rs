//! UDP and TCP DNS payloads read as responses: answers or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon_core::domains::dns;

fuzz_target!(|data: &[u8]| {
    if let Ok(answers) = dns::parse_response(data) {
        assert!(answers.len() <= data.len(), "more answers than bytes");
    }
    let _ = dns::parse_tcp_responses(data);
});
