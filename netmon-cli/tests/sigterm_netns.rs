//! End to end: `netmon run` capturing real traffic between two network namespaces gets SIGTERM
//! (as from a service manager) while a download is still running; afterwards the database
//! holds every byte of every sample it printed — the pending batch is written at stop.

mod support;

use std::thread;
use std::time::Duration;

use support::{total_bytes, Lab, SERVER_V4};

#[test]
fn sigterm_loses_no_printed_sample() {
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let curl = lab.program_named("curl", "dlterm");
    let netmon = lab.start_netmon(1);
    let first = netmon.wait_ready();

    let download = |size: u64, rate: Option<&str>| {
        let mut command = lab.command(&lab.client, &curl);
        command.args(["-sS", "-4", "-o", "/dev/null"]);
        if let Some(rate) = rate {
            command.args(["--limit-rate", rate]);
        }
        command.arg(format!("http://{SERVER_V4}:8080/bytes/{size}"));
        command
    };
    lab.run(download(8_000_000, None));
    thread::sleep(Duration::from_millis(1500));
    // Still downloading when the signal arrives.
    let slow = download(50_000_000, Some("2M"));
    lab.spawn(slow);
    thread::sleep(Duration::from_millis(2500));

    let samples = netmon.stop_with_signal("TERM", first);
    let printed = total_bytes(&samples);
    assert!(
        printed > 8_000_000,
        "netmon saw the downloads: {printed} bytes"
    );
    let stored = lab.stored_totals();
    assert_eq!(
        stored.sent + stored.received,
        printed,
        "the database holds every sample printed before SIGTERM"
    );
}
