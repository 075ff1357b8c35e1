//! UDP and TCP DNS payloads read as responses: answers or an error, never a panic. The input is
//! a message and two bytes that choose where to cut it: the cut message gives a prefix of the
//! whole message's answers (the records that arrived whole, in order, none named differently).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon_core::domains::dns;

fuzz_target!(|input: &[u8]| {
    let Some((data, cut)) = input.split_last_chunk::<2>() else {
        return;
    };
    let whole = dns::parse_response(data);
    if let Ok(answers) = &whole {
        assert!(answers.len() <= data.len(), "more answers than bytes");
    }
    let cut = usize::from(u16::from_be_bytes(*cut)) % (data.len() + 1);
    if let (Ok(whole), Ok(part)) = (&whole, dns::parse_response(&data[..cut])) {
        assert!(
            whole.starts_with(&part),
            "cut at {cut}: {part:?} is not a prefix of {whole:?}"
        );
    }
    let _ = dns::parse_tcp_responses(data);
});
