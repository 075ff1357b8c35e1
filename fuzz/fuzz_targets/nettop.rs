//! nettop's CSV output (macOS per-process counters), line by line and whole: snapshots or
//! nothing, never a panic; a process's bytes outside its connections never exceed its total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon_core::capture::nettop;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let snapshots = nettop::parse_all(&text);
    let mut deltas = nettop::Deltas::default();
    snapshots.iter().for_each(|snapshot| {
        let _ = nettop::remote_endpoints(snapshot);
        deltas.next(snapshot).iter().for_each(|delta| {
            let (received, sent) = delta.outside_connections();
            assert!(received <= delta.received && sent <= delta.sent);
        });
    });
    text.lines().for_each(|line| {
        line.split(',').for_each(|field| {
            let _ = nettop::split_process(field);
            let _ = nettop::parse_connection(field);
        });
    });
});
