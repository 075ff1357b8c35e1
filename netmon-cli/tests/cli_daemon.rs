//! The commands that talk to a running daemon (`status`, `top`, `config set`, `doctor`'s port
//! check), against a real `netmon run` capturing on the loopback interface (needs root).

mod cli_support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cli_support::{assert_fields, json, stderr, stdout, Home};

/// `netmon run` on `lo`, stopped (SIGTERM) on drop.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(home: &Home) -> Self {
        let child = home
            .command(&["run", "--interface", "lo", "--interval", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start netmon run");
        let daemon = Self { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while home.netmon(&["status"]).status.code() != Some(0) {
            assert!(
                Instant::now() < deadline,
                "netmon run did not answer in 30 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        daemon
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn status_top_and_config_with_a_running_daemon() {
    let home = Home::seeded();
    let port = cli_support::free_port();
    // Domains in `top --domains` come from the last two write batches: 12 minutes here, so
    // the seeded samples of 5 and 10 minutes ago count.
    home.write_config(&format!(
        "{{\"web_server_port\": {port}, \"batch_write_seconds\": 360}}"
    ));
    let _daemon = Daemon::start(&home);

    let status = json(&home.netmon(&["status", "--json"]));
    assert_eq!(status["running"], true);
    assert_fields(
        &status["daemon"],
        &[
            "version",
            "capture_source",
            "privileged",
            "uptime_seconds",
            "samples",
            "dropped_packets",
            "paused",
            "last_error",
            "database_bytes",
            "capture",
            "problems",
        ],
    );
    assert!(
        status["daemon"]["capture_source"]
            .as_str()
            .unwrap()
            .contains("lo"),
        "{status}"
    );
    let text = stdout(&home.netmon(&["status"]));
    assert!(
        text.starts_with(&format!(
            "netmon is running on http://127.0.0.1:{port}\ncapture:  "
        )),
        "{text}"
    );
    assert!(text.contains("today:    ↓ 4.5 MB"), "{text}");

    let sample = json(&home.netmon(&["top", "--once", "--json"]));
    assert_fields(
        &sample,
        &[
            "start_ms",
            "end_ms",
            "received_bytes_per_second",
            "sent_bytes_per_second",
            "packets_per_second",
            "active_flows",
            "apps",
        ],
    );
    let table = home.netmon(&["top", "--once"]);
    assert!(table.status.success(), "{}", stderr(&table));
    assert!(
        stdout(&table).starts_with("netmon top — ↓ "),
        "{}",
        stdout(&table)
    );
    assert!(stdout(&table)
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("APPLICATION"));

    let with_domains = json(&home.netmon(&["top", "--once", "--json", "--domains"]));
    assert_eq!(with_domains["domains_window_seconds"], 720);
    let netflix = &with_domains["domains"][0];
    assert_fields(
        netflix,
        &[
            "domain",
            "received_bytes_per_second",
            "sent_bytes_per_second",
        ],
    );
    assert_eq!(netflix["domain"], "netflix.com");
    let rate = netflix["received_bytes_per_second"].as_f64().unwrap();
    assert!((rate - 4_000_000.0 / 720.0).abs() < 0.01, "{netflix}");

    assert_q_quits_top(&home);

    let live = home.netmon(&["config", "set", "high_usage_threshold_gb", "5"]);
    assert!(
        stdout(&live).contains("applied to the running netmon"),
        "{}{}",
        stdout(&live),
        stderr(&live)
    );
    let level = home.netmon(&["config", "set", "log_level", "DEBUG"]);
    assert!(
        stdout(&level).contains("applied to the running netmon"),
        "{}{}",
        stdout(&level),
        stderr(&level)
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.paths().config()).unwrap()).unwrap();
    assert_eq!(saved["high_usage_threshold_gb"], 5.0);
    assert_eq!(saved["log_level"], "DEBUG");

    let doctor = json(&home.netmon(&["doctor", "--json"]));
    let port_check = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["check"] == "port")
        .unwrap()
        .clone();
    assert_eq!(port_check["status"], "pass");
    assert!(
        port_check["detail"]
            .as_str()
            .unwrap()
            .contains("held by the running netmon"),
        "{port_check}"
    );

    // Only the port waits for a restart, and `config set` says so.
    let port = saved["web_server_port"].as_u64().unwrap();
    let other = if port == 7999 { 7998 } else { port + 1 };
    let restart = home.netmon(&["config", "set", "web_server_port", &other.to_string()]);
    assert!(
        stdout(&restart).contains("takes effect when netmon restarts"),
        "{}{}",
        stdout(&restart),
        stderr(&restart)
    );
}

/// `top` in a terminal (a pseudo-terminal from `script`) redraws until `q` is pressed.
fn assert_q_quits_top(home: &Home) {
    use std::io::{Read, Write};
    let command = format!("{} top --limit 3", env!("CARGO_BIN_EXE_netmon"));
    let mut top = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NETMON_HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs top in a pseudo-terminal");
    let mut screen = Vec::new();
    let mut output = top.stdout.take().unwrap();
    let mut chunk = [0u8; 4096];
    while String::from_utf8_lossy(&screen)
        .matches("netmon top")
        .count()
        < 2
    {
        let read = output.read(&mut chunk).unwrap();
        assert!(
            read > 0,
            "top ended early: {}",
            String::from_utf8_lossy(&screen)
        );
        screen.extend_from_slice(&chunk[..read]);
    }
    assert!(
        String::from_utf8_lossy(&screen).contains("\x1b[H\x1b[2J"),
        "redrawn in place"
    );
    top.stdin.as_mut().unwrap().write_all(b"q").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = top.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "q did not quit top");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}
