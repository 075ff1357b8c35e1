//! `/metrics` scraped by a real Prometheus server (the Debian package `prometheus`): netmon
//! captures in the lab's client namespace while an application named `pusher` (iperf3 paced at
//! 4 Mbit/s) sends for 10 s; a Prometheus in the same namespace scrapes netmon every second on
//! loopback. Its query API must then return pusher's bytes (the veth's IP bytes) and pusher's
//! rate during the transfer (the veth's rate).

mod support;

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use netmon_core::Config;
use support::{assert_within, Lab, SERVER_V4};

const PROMETHEUS_PORT: u16 = 9090;
const IPERF_PORT: u16 = 5299;
const SECONDS: u64 = 10;

/// The prometheus binary, or a failure saying how to install it (never a silent skip).
fn prometheus() -> PathBuf {
    ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .expect(
            "prometheus is not installed: run `sudo scripts/test.sh --deps-only` \
             (it installs the Debian package prometheus)",
        )
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Starts Prometheus in the client namespace, scraping netmon's `/metrics` every second.
fn start_prometheus(lab: &mut Lab) {
    let dir = lab.temp.path().join("prometheus");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: netmon\n    scrape_interval: 1s\n    \
             static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            support::API_PORT
        ),
    )
    .unwrap();
    let mut command = lab.command(&lab.client, prometheus());
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"));
    lab.spawn(command);
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = format!("http://127.0.0.1:{PROMETHEUS_PORT}/-/ready");
    let answers = || {
        let mut curl = lab.command(&lab.client, "curl");
        curl.args(["-sf", "-o", "/dev/null", "--max-time", "2", &ready]);
        curl.status().is_ok_and(|status| status.success())
    };
    while !answers() {
        assert!(
            Instant::now() < deadline,
            "Prometheus was not ready within 30 s"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// A Prometheus instant query `query` at `time` (Unix seconds): each result's labels and value.
fn query(lab: &Lab, query: &str, time: f64) -> Vec<(serde_json::Value, f64)> {
    let mut curl = lab.command(&lab.client, "curl");
    curl.args(["-sS", "--fail", "--max-time", "5", "-G"])
        .arg(format!("http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query"))
        .args(["--data-urlencode", &format!("query={query}")])
        .args(["--data-urlencode", &format!("time={time:.3}")]);
    let output = curl.output().expect("run curl");
    assert!(
        output.status.success(),
        "query {query}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON answer");
    assert_eq!(answer["status"], "success", "{answer}");
    answer["data"]["result"]
        .as_array()
        .expect("a vector result")
        .iter()
        .map(|result| {
            let value = result["value"][1]
                .as_str()
                .expect("a value")
                .parse()
                .unwrap();
            (result["metric"].clone(), value)
        })
        .collect()
}

/// The one value of `expression` now, waiting up to `timeout` for it to satisfy `ready`.
fn value_when(lab: &Lab, expression: &str, timeout: Duration, ready: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + timeout;
    loop {
        let values = query(lab, expression, now_seconds());
        if let [(_, value)] = values.as_slice() {
            if ready(*value) {
                return *value;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{expression} never became ready within {timeout:?}: {values:?}"
        );
        thread::sleep(Duration::from_millis(250));
    }
}

/// Every query of docs/grafana-dashboard.json, with Grafana's variables filled in, is accepted
/// by the real Prometheus; the per-application panels show pusher.
fn dashboard_queries_run(lab: &Lab) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/grafana-dashboard.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let expressions: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().iter())
        .map(|target| {
            target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "5s")
                .replace("$__range", "1m")
                .replace("$job", ".*")
        })
        .collect();
    assert!(expressions.len() >= 8, "{expressions:?}");
    for expression in &expressions {
        let results = query(lab, expression, now_seconds());
        if expression.contains("by (application)") {
            assert!(
                results
                    .iter()
                    .any(|(labels, _)| labels["application"] == "pusher"),
                "{expression}: {results:?}"
            );
        }
    }
}

#[test]
fn a_real_prometheus_scrapes_the_per_application_bytes_and_rate() {
    let prometheus_binary = prometheus();
    let mut lab = Lab::new();
    lab.write_config(&Config {
        metrics_enabled: true,
        sampling_interval_seconds: 1,
        ..Config::default()
    });
    let netmon = lab.start_netmon_on_veth(1);
    netmon.wait_ready();
    lab.wait_for_api();
    lab.api_get("/metrics")
        .expect("/metrics answers while metrics_enabled");
    start_prometheus(&mut lab);
    let up = value_when(&lab, r#"up{job="netmon"}"#, Duration::from_secs(30), |up| {
        up == 1.0
    });
    assert_eq!(up, 1.0, "{} scrapes netmon", prometheus_binary.display());

    lab.start_iperf_server(IPERF_PORT);
    let pusher = lab.program_named("iperf3", "pusher");
    let before = lab.counters();
    let started = now_seconds();
    let mut iperf = lab.command(&lab.client, &pusher);
    iperf.args(["-c", SERVER_V4, "-p", &IPERF_PORT.to_string()]);
    iperf.args(["-t", &SECONDS.to_string(), "-b", "4M"]);
    lab.run(iperf);
    let after = lab.counters();
    let sent = (after.tx_bytes - before.tx_bytes)
        - support::ETHERNET_HEADER * (after.tx_packets - before.tx_packets);
    let all = after.ip_bytes_since(&before);

    // The counter: every byte pusher moved, once netmon's last sample has been scraped.
    let counted = value_when(
        &lab,
        r#"sum(netmon_application_bytes_total{application="pusher"})"#,
        Duration::from_secs(20),
        |bytes| bytes as u64 >= all * 98 / 100,
    );
    assert_within(
        "pusher, all bytes, from Prometheus",
        counted as u64,
        all,
        2.0,
    );

    // The rate over five seconds in the middle of the transfer: the veth's average rate.
    let middle = started + 8.0;
    let rates = query(
        &lab,
        r#"rate(netmon_application_bytes_total{application="pusher",direction="sent"}[5s])"#,
        middle,
    );
    let [(labels, rate)] = rates.as_slice() else {
        panic!("one rate for pusher's sent bytes, got {rates:?}");
    };
    assert_eq!(labels["direction"], "sent", "{labels}");
    let expected = sent as f64 / SECONDS as f64;
    eprintln!("pusher: Prometheus rate {rate:.0} B/s, veth average {expected:.0} B/s");
    assert!(
        (rate - expected).abs() / expected < 0.25,
        "pusher's rate from Prometheus, {rate:.0} B/s, is not the veth's {expected:.0} B/s ± 25 %"
    );
    assert!(
        (400_000.0..650_000.0).contains(rate),
        "4 Mbit/s of payload is about 500 kB/s of IP bytes, Prometheus says {rate:.0} B/s"
    );
    dashboard_queries_run(&lab);
    let samples = query(&lab, "netmon_samples_total", now_seconds());
    assert!(
        samples
            .first()
            .is_some_and(|(_, value)| *value >= SECONDS as f64),
        "{samples:?}"
    );
    // netmon, then Prometheus (a child of the lab) stop when dropped.
    drop(netmon);
}
