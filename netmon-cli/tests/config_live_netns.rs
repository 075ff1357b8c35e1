//! End to end: configuration changed while `netmon run` captures real traffic between two
//! network namespaces, each live key both through the API (`PUT /api/config`) and by a hand
//! edit of config.json (written beside it and renamed over it, as editors do). Each change must
//! show its effect in the running daemon — sample lengths, database writes, retention, domains,
//! the capture interface, the log — while no sample is lost or counted twice: samples stay
//! back to back, the traffic's bytes match the interface counters, and the database holds
//! exactly what was sampled. Only `web_server_port` answers "restart needed"; an invalid edit
//! keeps the running configuration and is shown by `/api/status` and `netmon doctor`.

mod support;

use std::fs;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use netmon_core::store::Store;
use netmon_core::{Config, Direction, Sample, Usage};
use serde_json::{json, Value};
use support::{assert_within, bytes_of_app, total_bytes, Lab, Netmon, SERVER_V4};

/// Lets the last packets of a transfer (FIN, ACK) cross before the counters are read.
const SETTLE: Duration = Duration::from_millis(400);
const DAY_MS: i64 = 86_400_000;

/// Changes `key` the way an editor saves: a new file renamed over config.json.
fn edit_config(lab: &Lab, key: &str, value: Value) {
    let path = lab.netmon_home().join("config.json");
    let mut config: Value =
        serde_json::from_str(&fs::read_to_string(&path).expect("read config.json"))
            .expect("config.json is JSON");
    config[key] = value;
    write_by_hand(lab, &serde_json::to_string_pretty(&config).unwrap());
}

fn write_by_hand(lab: &Lab, text: &str) {
    let path = lab.netmon_home().join("config.json");
    let swap = path.with_file_name(".config.json.swp");
    fs::write(&swap, text).expect("write the edited copy");
    fs::rename(&swap, &path).expect("rename it over config.json");
}

/// `PUT /api/config` of one key; returns the answer, which must be 200.
fn put(lab: &Lab, key: &str, value: Value) -> Value {
    let (status, body) = lab.api_put("/api/config", &json!({ key: value }).to_string());
    assert_eq!(status, 200, "PUT {key}: {body}");
    serde_json::from_str(&body).expect("a JSON answer")
}

fn api_json(lab: &Lab, path: &str) -> Value {
    serde_json::from_str(&lab.api_get(path).expect("the API answers")).expect("JSON")
}

/// Waits until the running configuration has `key` = `value` (a hand edit is read once the
/// file has been quiet for a moment).
fn wait_applied(lab: &Lab, key: &str, value: Value) {
    wait_until(
        &format!("{key} = {value} applied"),
        Duration::from_secs(5),
        || api_json(lab, "/api/config")[key] == value,
    );
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn length_ms(sample: &Sample) -> i64 {
    sample.end_ms - sample.start_ms
}

/// Samples follow each other with no gap and no overlap.
fn assert_back_to_back(samples: &[Sample]) {
    samples.windows(2).for_each(|pair| {
        assert_eq!(
            pair[0].end_ms, pair[1].start_ms,
            "samples are back to back: none lost, none doubled"
        );
    });
}

/// A running netmon and every sample it printed so far.
struct Run {
    netmon: Netmon,
    seen: Vec<Sample>,
}

impl Run {
    fn start(lab: &Lab, netmon: Netmon) -> Run {
        let first = netmon.wait_ready();
        lab.wait_for_api();
        Run {
            netmon,
            seen: vec![first],
        }
    }

    /// Reads samples until one matches `wanted` (returned), failing after `timeout`.
    fn until(&mut self, what: &str, timeout: Duration, wanted: impl Fn(&Sample) -> bool) -> Sample {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let sample = self
                .netmon
                .next_sample(left)
                .unwrap_or_else(|| panic!("{what}: no such sample within {timeout:?}"));
            self.seen.push(sample.clone());
            if wanted(&sample) {
                return sample;
            }
        }
    }

    /// Reads samples until one starts at or after `ms`; returns those read.
    fn through(&mut self, ms: i64) -> Vec<Sample> {
        let from = self.seen.len();
        self.until(
            "a sample after the traffic",
            Duration::from_secs(10),
            |sample| sample.start_ms >= ms,
        );
        self.seen[from..].to_vec()
    }

    /// Stops netmon with SIGINT; every sample it printed.
    fn stop(mut self) -> Vec<Sample> {
        let first = self.seen.remove(0);
        let rest = self.netmon.stop(first);
        let mut all = vec![rest[0].clone()];
        all.extend(self.seen);
        all.extend(rest.into_iter().skip(1));
        all
    }
}

/// Starts UDP traffic from `program` at `rate` for `seconds` in the background.
fn udp_traffic(lab: &Lab, program: &std::path::Path, rate: &str, seconds: u64) -> Child {
    let mut command = lab.command(&lab.client, program);
    command
        .args([
            "-c", SERVER_V4, "-p", "5201", "-u", "-b", rate, "-l", "1200",
        ])
        .args(["-t", &seconds.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.spawn().expect("start iperf3")
}

fn stored_bytes(lab: &Lab) -> u64 {
    let totals = lab.stored_totals();
    totals.sent + totals.received
}

#[test]
fn sampling_and_batch_intervals_change_while_capturing() {
    let mut lab = Lab::new();
    lab.start_iperf_server(5201);
    let sender = lab.program_named("iperf3", "udpsteady");
    let mut run = Run::start(&lab, lab.start_netmon_on_veth(1));
    let before = lab.counters();
    let mut traffic = udp_traffic(&lab, &sender, "4M", 16);

    run.until("two more samples", Duration::from_secs(5), |_| true);
    run.until("two more samples", Duration::from_secs(5), |_| true);
    assert_eq!(
        stored_bytes(&lab),
        0,
        "batch_write_seconds 30: nothing written yet"
    );
    // Through the API: every second.
    let answer = put(&lab, "batch_write_seconds", json!(1));
    assert_eq!(answer["restart_required"], json!([]), "{answer}");
    wait_until("a batch written", Duration::from_secs(4), || {
        stored_bytes(&lab) > 0
    });
    // Through the API: 2-second samples from the next window on.
    put(&lab, "sampling_interval_seconds", json!(2));
    run.until("a 2 s sample", Duration::from_secs(8), |sample| {
        (1950..2300).contains(&length_ms(sample))
    });
    // By hand: no batch for an hour.
    edit_config(&lab, "batch_write_seconds", json!(3600));
    wait_applied(&lab, "batch_write_seconds", json!(3600));
    run.until("a sample", Duration::from_secs(5), |_| true);
    let written = stored_bytes(&lab);
    run.until("a sample", Duration::from_secs(5), |_| true);
    run.until("a sample", Duration::from_secs(5), |_| true);
    assert_eq!(stored_bytes(&lab), written, "no batch after the edit");
    // By hand: 3-second samples.
    edit_config(&lab, "sampling_interval_seconds", json!(3));
    run.until("a 3 s sample", Duration::from_secs(10), |sample| {
        (2950..3300).contains(&length_ms(sample))
    });

    assert!(traffic.wait().expect("iperf3 ran").success());
    thread::sleep(SETTLE);
    let after = lab.counters();
    run.through(netmon_core::clock::unix_ms());
    let samples = run.stop();
    support::print_apps(&samples);
    assert_back_to_back(&samples);
    assert_within(
        "udpsteady across four changes",
        bytes_of_app(&samples, "udpsteady"),
        after.ip_bytes_since(&before),
        1.0,
    );
    assert_eq!(
        stored_bytes(&lab),
        total_bytes(&samples),
        "the database holds every sample once"
    );
}

/// A sample of 1 kB for application `old`, `days` ago.
fn old_sample(days: i64) -> Sample {
    let start_ms = netmon_core::clock::unix_ms() - days * DAY_MS;
    Sample {
        start_ms,
        end_ms: start_ms + 5000,
        usage: vec![Usage {
            app: "old".into(),
            destination: None,
            direction: Direction::Received,
            bytes: 1000,
            packets: 1,
        }],
        processes: Vec::new(),
        stats: Default::default(),
    }
}

fn oldest_raw_ms(lab: &Lab) -> Option<i64> {
    let store = Store::open(&lab.netmon_home().join("network_monitor.db")).expect("open");
    store.tier_spans().expect("tier spans").raw_oldest_ms
}

#[test]
fn retention_changes_remove_rows_at_the_next_pass() {
    let mut lab = Lab::new();
    lab.start_iperf_server(5201);
    lab.write_config(&Config {
        data_retention_days_raw: 30,
        batch_write_seconds: 1,
        ..Config::default()
    });
    let database = lab.netmon_home().join("network_monitor.db");
    Store::open(&database)
        .expect("create the database")
        .write(&[old_sample(10), old_sample(3)])
        .expect("write old samples");
    let sender = lab.program_named("iperf3", "udpkeep");
    let mut run = Run::start(&lab, lab.start_netmon_on_veth(1));
    let mut traffic = udp_traffic(&lab, &sender, "2M", 6);
    let now = netmon_core::clock::unix_ms();
    let oldest = oldest_raw_ms(&lab).expect("raw rows");
    assert!(
        oldest < now - 9 * DAY_MS,
        "30 days keep the 10-day-old sample"
    );

    put(&lab, "data_retention_days_raw", json!(7));
    wait_until(
        "the 10-day-old sample removed",
        Duration::from_secs(5),
        || oldest_raw_ms(&lab).is_some_and(|oldest| oldest > now - 4 * DAY_MS),
    );
    edit_config(&lab, "data_retention_days_raw", json!(1));
    wait_until(
        "the 3-day-old sample removed",
        Duration::from_secs(6),
        || oldest_raw_ms(&lab).is_none_or(|oldest| oldest > now - 2 * DAY_MS),
    );

    assert!(traffic.wait().expect("iperf3 ran").success());
    run.through(netmon_core::clock::unix_ms() + SETTLE.as_millis() as i64);
    let samples = run.stop();
    assert_back_to_back(&samples);
    assert!(
        bytes_of_app(&samples, "udpkeep") > 1_000_000,
        "traffic was captured"
    );
}

/// The destinations (registrable domain, or hostname without rollup) that `app`'s usage had.
fn domains_of(samples: &[Sample], app: &str) -> Vec<Option<String>> {
    let mut domains: Vec<Option<String>> = samples
        .iter()
        .flat_map(|sample| sample.usage.iter())
        .filter(|usage| usage.app == app)
        .map(|usage| usage.destination.as_ref().map(|to| to.domain.clone()))
        .collect();
    domains.sort();
    domains.dedup();
    domains
}

#[test]
fn domain_tracking_browsers_and_rollup_change_while_capturing() {
    const HOST: &str = "media.bbc.co.uk";
    const ADDRESS: &str = "10.200.0.14";
    let mut lab = Lab::new();
    lab.add_server_address(&format!("{ADDRESS}/24"));
    lab.start_tls_server(HOST, 443, 2_000_000);
    let client = lab.program_named("curl", "tlsget");
    let mut run = Run::start(&lab, lab.start_netmon_on_veth(1));
    let fetch = |run: &mut Run| {
        let mut command = lab.command(&lab.client, &client);
        command
            .args(["-sS", "-4", "-k", "-o", "/dev/null", "--resolve"])
            .arg(format!("{HOST}:443:{ADDRESS}"))
            .arg(format!("https://{HOST}/big.bin"));
        lab.run(command);
        thread::sleep(SETTLE);
        let samples = run.through(netmon_core::clock::unix_ms());
        domains_of(&samples, "tlsget")
    };
    let unnamed = vec![None];
    assert_eq!(fetch(&mut run), unnamed, "tlsget is no browser");
    put(&lab, "browser_apps", json!(["zen", "tlsget"]));
    assert_eq!(fetch(&mut run), [Some("bbc.co.uk".to_string())]);
    edit_config(&lab, "domain_rollup", json!(false));
    wait_applied(&lab, "domain_rollup", json!(false));
    assert_eq!(fetch(&mut run), [Some(HOST.to_string())]);
    edit_config(&lab, "domain_tracking", json!("off"));
    wait_applied(&lab, "domain_tracking", json!("off"));
    assert_eq!(fetch(&mut run), unnamed);
    put(&lab, "browser_apps", json!(["zen"]));
    put(&lab, "domain_tracking", json!("all"));
    assert_eq!(fetch(&mut run), [Some(HOST.to_string())]);
    edit_config(&lab, "browser_apps", json!(["tlsget"]));
    edit_config(&lab, "domain_tracking", json!("browsers"));
    wait_applied(&lab, "domain_tracking", json!("browsers"));
    assert_eq!(
        fetch(&mut run),
        [Some(HOST.to_string())],
        "browsers by hand"
    );
    let samples = run.stop();
    assert_back_to_back(&samples);
}

#[test]
fn capture_reopens_on_another_interface_without_losing_or_doubling() {
    let mut lab = Lab::new();
    lab.start_iperf_server(5201);
    let sender = lab.program_named("iperf3", "udpswitch");
    let veth = lab.client_if.clone();
    let mut run = Run::start(&lab, lab.start_netmon_on_veth(1));
    let source = |lab: &Lab| api_json(lab, "/api/status")["capture_source"].clone();
    assert_eq!(source(&lab), json!(format!("pcap on {veth}")));

    let before = lab.counters();
    let mut traffic = udp_traffic(&lab, &sender, "8M", 6);
    thread::sleep(Duration::from_millis(1500));
    // Through the API: every interface, the veth among them.
    put(&lab, "capture_interface", json!("any"));
    wait_until("capture on any", Duration::from_secs(3), || {
        source(&lab) == json!("pcap on any")
    });
    thread::sleep(Duration::from_millis(1500));
    // By hand: back to the veth alone.
    edit_config(&lab, "capture_interface", json!(veth));
    wait_until("capture on the veth", Duration::from_secs(5), || {
        source(&lab) == json!(format!("pcap on {veth}"))
    });
    assert!(traffic.wait().expect("iperf3 ran").success());
    thread::sleep(SETTLE);
    let after = lab.counters();
    let during = run.through(netmon_core::clock::unix_ms());

    // Then loopback only: the veth's traffic is no longer seen, the API's requests are.
    put(&lab, "capture_interface", json!("lo"));
    wait_until("capture on lo", Duration::from_secs(3), || {
        source(&lab) == json!("pcap on lo")
    });
    let mut quiet = udp_traffic(&lab, &sender, "2M", 2);
    let started = netmon_core::clock::unix_ms();
    (0..5).for_each(|_| {
        lab.api_get("/api/status").expect("the API answers");
        thread::sleep(Duration::from_millis(300));
    });
    assert!(quiet.wait().expect("iperf3 ran").success());
    let on_lo = run.through(netmon_core::clock::unix_ms());
    let samples = run.stop();
    support::print_apps(&samples);
    assert_back_to_back(&samples);
    eprintln!("{} samples during the switches", during.len());
    // The new capture counts from the instant the old one's last read stops: a switch loses
    // nothing (closing the old capture unread lost the ~30 ms its successor took to open,
    // 0.5 % of this traffic per two switches, 1.1 % on a busy machine).
    assert_within(
        "udpswitch across veth → any → veth",
        bytes_of_app(&samples, "udpswitch"),
        after.ip_bytes_since(&before),
        0.25,
    );
    let after_lo: Vec<&Sample> = on_lo
        .iter()
        .filter(|sample| sample.start_ms >= started)
        .collect();
    assert!(!after_lo.is_empty());
    assert!(
        after_lo
            .iter()
            .all(|sample| sample.bytes_of("udpswitch", Direction::Sent) == 0),
        "on lo the veth's traffic is not captured"
    );
    assert!(
        after_lo.iter().any(|sample| sample.stats.local_bytes > 0),
        "on lo the API's own requests are seen"
    );
}

/// The lines of daemon.log from byte `from` on.
fn log_lines(lab: &Lab, from: usize) -> Vec<String> {
    let text = fs::read_to_string(lab.netmon_home().join("logs/daemon.log")).unwrap_or_default();
    text.get(from..)
        .unwrap_or("")
        .lines()
        .map(String::from)
        .collect()
}

fn log_len(lab: &Lab) -> usize {
    fs::metadata(lab.netmon_home().join("logs/daemon.log")).map_or(0, |meta| meta.len() as usize)
}

/// TCP at full speed for `seconds` from `program`.
/// iperf3 at full speed over `streams` parallel connections for `seconds`.
fn full_speed(lab: &Lab, program: &std::path::Path, seconds: u64, streams: u32) {
    let mut command = lab.command(&lab.client, program);
    command.args(["-c", SERVER_V4, "-p", "5201", "-t", &seconds.to_string()]);
    command.args(["-P", &streams.to_string()]);
    lab.run(command);
}

const PACKET_LIMIT: usize = netmon_core::packet_log::LINES_PER_SECOND as usize;

#[test]
fn debug_mode_logs_packets_under_the_limit_and_sql_and_info_logs_neither() {
    let mut lab = Lab::new();
    lab.start_iperf_server(5201);
    lab.write_config(&Config {
        batch_write_seconds: 1,
        ..Config::default()
    });
    let sender = lab.program_named("iperf3", "tcpfull");
    let run = Run::start(&lab, lab.start_netmon_on_veth(1));
    let is_packet = |line: &String| line.contains("netmon::packet");
    let is_sql = |line: &String| line.contains("netmon::sql");

    full_speed(&lab, &sender, 2, 1);
    thread::sleep(Duration::from_millis(1500));
    let info = log_lines(&lab, 0);
    assert!(!info.iter().any(is_packet), "INFO: no packet lines");
    assert!(!info.iter().any(is_sql), "INFO: no SQL lines");

    let start = log_len(&lab);
    put(&lab, "log_level", json!("DEBUG"));
    let began = Instant::now();
    // Lines describe what the monitor is handed: a run of one flow's packets takes one. Eight
    // connections' runs (data and ACKs) come to more lines a second than the limit.
    full_speed(&lab, &sender, 3, 8);
    let seconds = began.elapsed().as_secs_f64();
    thread::sleep(Duration::from_millis(1500));
    let debug = log_lines(&lab, start);
    let packets: Vec<&String> = debug
        .iter()
        .filter(|line| is_packet(line) && line.contains(" packet flow="))
        .collect();
    let sql: Vec<&String> = debug.iter().filter(|line| is_sql(line)).collect();
    eprintln!(
        "{} packet lines in {seconds:.1} s; {} SQL lines",
        packets.len(),
        sql.len()
    );
    assert!(!packets.is_empty(), "DEBUG: packet lines");
    let full = packets
        .iter()
        .find(|line| line.contains("flow=tcp:") && line.contains(":5201"))
        .expect("a line of the iperf3 flow");
    for part in ["direction=", "length=", "reader=tls", "named="] {
        assert!(full.contains(part), "{part} in {full}");
    }
    // Timestamps start each line (RFC 3339): per second of the log, at most the limit.
    let mut per_second = std::collections::BTreeMap::<&str, usize>::new();
    packets
        .iter()
        .for_each(|line| *per_second.entry(&line[..19]).or_default() += 1);
    let busiest = per_second.values().max().copied().unwrap_or_default();
    assert!(
        busiest <= PACKET_LIMIT,
        "{busiest} packet lines in one second; the limit is {PACKET_LIMIT}"
    );
    assert!(
        debug
            .iter()
            .any(|line| line.contains("packet not described")),
        "full speed exceeds the limit, and the rest is counted"
    );
    assert!(
        sql.iter()
            .any(|line| line.contains("INSERT") && line.contains("micros=")),
        "DEBUG: statements with their duration"
    );

    // By hand back to INFO: the lines stop.
    edit_config(&lab, "log_level", json!("INFO"));
    wait_applied(&lab, "log_level", json!("INFO"));
    thread::sleep(Duration::from_millis(200));
    let quiet_from = log_len(&lab);
    full_speed(&lab, &sender, 2, 1);
    thread::sleep(Duration::from_millis(1500));
    let after = log_lines(&lab, quiet_from);
    assert!(
        !after.iter().any(is_packet) && !after.iter().any(is_sql),
        "INFO again"
    );
    let samples = run.stop();
    assert_back_to_back(&samples);
}

#[test]
fn the_port_needs_a_restart_and_an_invalid_edit_is_kept_out_until_fixed() {
    let mut lab = Lab::new();
    lab.start_iperf_server(5201);
    let sender = lab.program_named("iperf3", "udpport");
    let run = Run::start(&lab, lab.start_netmon_on_veth(1));
    let mut traffic = udp_traffic(&lab, &sender, "1M", 6);

    let set = lab.run({
        let mut command = lab.command(&lab.client, env!("CARGO_BIN_EXE_netmon"));
        command
            .args(["config", "set", "web_server_port", "7602"])
            .env("NETMON_HOME", lab.netmon_home());
        command
    });
    let said = String::from_utf8_lossy(&set.stdout);
    assert!(said.contains("takes effect when netmon restarts"), "{said}");
    let answer = put(&lab, "web_server_port", json!(7601));
    assert_eq!(
        answer["restart_required"],
        json!(["web_server_port"]),
        "{answer}"
    );
    assert!(lab.api_get("/api/status").is_ok(), "still serving on 7500");
    // Thresholds and notifications apply at once, both ways.
    let answer = put(&lab, "high_usage_threshold_gb", json!(2.5));
    assert_eq!(
        answer["restart_required"],
        json!(["web_server_port"]),
        "still pending"
    );
    put(&lab, "enable_notifications", json!(true));
    edit_config(&lab, "high_usage_threshold_gb", json!(3.5));
    wait_applied(&lab, "high_usage_threshold_gb", json!(3.5));
    assert_eq!(
        api_json(&lab, "/api/config")["enable_notifications"],
        json!(true)
    );

    // An invalid hand edit: two problems, neither applied, both shown until fixed.
    let running = api_json(&lab, "/api/config");
    write_by_hand(
        &lab,
        r#"{"log_level": "LOUD", "data_retention_days_raw": 99, "sampling_interval_seconds": 2}"#,
    );
    wait_until("the problems shown", Duration::from_secs(5), || {
        api_json(&lab, "/api/status")["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("LOUD") && error.contains("99"))
    });
    assert_eq!(
        api_json(&lab, "/api/config"),
        running,
        "the running configuration is kept"
    );
    let logged = log_lines(&lab, 0);
    assert!(logged
        .iter()
        .any(|line| line.contains("ERROR") && line.contains("LOUD")));
    assert!(logged
        .iter()
        .any(|line| line.contains("ERROR") && line.contains("99")));
    let doctor = |lab: &Lab| {
        let mut command = lab.command(&lab.client, env!("CARGO_BIN_EXE_netmon"));
        command.arg("doctor").env("NETMON_HOME", lab.netmon_home());
        String::from_utf8_lossy(&command.output().expect("run doctor").stdout).into_owned()
    };
    let report = doctor(&lab);
    assert!(
        report
            .lines()
            .any(|line| line.starts_with("FAIL config") && line.contains("LOUD")),
        "{report}"
    );
    let (status, body) = lab.api_put("/api/config", r#"{"domain_rollup": false}"#);
    assert_ne!(
        status, 200,
        "a change through the API would overwrite the edit: {body}"
    );
    assert!(fs::read_to_string(lab.netmon_home().join("config.json"))
        .unwrap()
        .contains("LOUD"));

    write_by_hand(&lab, r#"{"sampling_interval_seconds": 2}"#);
    wait_applied(&lab, "sampling_interval_seconds", json!(2));
    assert_eq!(api_json(&lab, "/api/status")["last_error"], Value::Null);
    assert!(doctor(&lab)
        .lines()
        .any(|line| line.starts_with("ok   config")));
    assert!(traffic.wait().expect("iperf3 ran").success());
    let samples = run.stop();
    assert_back_to_back(&samples);
    assert!(samples
        .iter()
        .any(|sample| (1950..2300).contains(&length_ms(sample))));
}
