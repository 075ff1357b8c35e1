//! `netmon top`: the running daemon's live samples (its `/api/live` stream), busiest
//! applications first, redrawn in place; `q` quits. At each sample `--connections` adds the
//! daemon's open flows (`/api/connections`), `--domains` the stored domains.

use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;
use netmon_core::store::{Range, Store};
use netmon_core::{clock, units, Config, Paths};
use serde_json::Value;

use crate::{daemon, exit, query};

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Rows shown.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: u32,
    /// Print one sample and exit (no screen redraw).
    #[arg(long)]
    once: bool,
    /// Print every sample as one JSON line (fields: docs/cli.md) instead of a table.
    #[arg(long)]
    json: bool,
    /// Also show domains by rate over the last minutes the daemon has written to the database
    /// (the live stream carries applications only).
    #[arg(long)]
    domains: bool,
    /// Also show the open connections, busiest first (the daemon's `/api/connections`):
    /// process, remote address, hostname and how it was named, rates and bytes so far.
    #[arg(long)]
    connections: bool,
}

pub fn run(args: TopArgs) -> u8 {
    let config = Paths::resolve()
        .ok()
        .and_then(|paths| Config::load(&paths.config()).ok())
        .unwrap_or_default();
    let port = config.web_server_port;
    if daemon::status(port).is_none() {
        eprintln!("netmon: top needs the running daemon, and nothing answers on 127.0.0.1:{port}: start it with `sudo netmon run` (history works without it: `netmon apps`)");
        return exit::UNAVAILABLE;
    }
    let store = match args.domains.then(query::open).transpose() {
        Ok(store) => store,
        Err(error) => {
            eprintln!("netmon: --domains reads the database: {error}");
            return exit::FAILURE;
        }
    };
    // Domains reach the database every batch_write_seconds: look back over two batches.
    let window_ms = (2 * config.batch_write_seconds * 1000).max(60_000) as i64;
    let stop = Arc::new(AtomicBool::new(false));
    let interactive = !args.once && !args.json && std::io::stdin().is_terminal();
    let _raw = interactive.then(|| RawInput::start(Arc::clone(&stop)));
    let redraw = !args.once && !args.json && std::io::stdout().is_terminal();
    let keep_going = || !stop.load(Ordering::Relaxed);
    let result = daemon::live(port, &keep_going, |mut sample| {
        if let Some(store) = &store {
            sample["domains"] = domain_rates(store, window_ms);
            sample["domains_window_seconds"] = (window_ms / 1000).into();
        }
        if args.connections {
            sample["connections"] = open_connections(port, args.limit);
        }
        let mut stdout = std::io::stdout().lock();
        let text = if args.json {
            format!("{sample}\n")
        } else {
            let clear = if redraw { "\x1b[H\x1b[2J" } else { "" };
            format!("{clear}{}", render(&sample, args.limit as usize))
        };
        let written = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
        written.is_ok() && !args.once
    });
    match result {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!("netmon: the live stream from 127.0.0.1:{port} broke: {error}");
            exit::UNAVAILABLE
        }
    }
}

/// One live sample as a header and one line per application.
pub fn render(sample: &Value, limit: usize) -> String {
    let rate = |value: &Value| units::rate(value.as_f64().unwrap_or(0.0));
    let header = format!(
        "netmon top — ↓ {}  ↑ {}  {:.0} pkt/s  {} flows   (q quits)\n{:<28} {:>12}  {:>12}\n",
        rate(&sample["received_bytes_per_second"]),
        rate(&sample["sent_bytes_per_second"]),
        sample["packets_per_second"].as_f64().unwrap_or(0.0),
        sample["active_flows"],
        "APPLICATION",
        "↓ RECEIVE",
        "↑ SEND"
    );
    let rows: String = sample["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .take(limit)
        .map(|app| {
            format!(
                "{:<28} {:>12}  {:>12}\n",
                app["app"]
                    .as_str()
                    .unwrap_or("?")
                    .chars()
                    .take(28)
                    .collect::<String>(),
                rate(&app["received_bytes_per_second"]),
                rate(&app["sent_bytes_per_second"])
            )
        })
        .collect();
    let domains: String = sample["domains"]
        .as_array()
        .map(|domains| {
            let lines: String = domains
                .iter()
                .take(limit)
                .map(|domain| {
                    format!(
                        "{:<28} {:>12}  {:>12}\n",
                        domain["domain"]
                            .as_str()
                            .unwrap_or("?")
                            .chars()
                            .take(28)
                            .collect::<String>(),
                        rate(&domain["received_bytes_per_second"]),
                        rate(&domain["sent_bytes_per_second"])
                    )
                })
                .collect();
            format!(
                "\n{:<28} {:>12}  {:>12}   (last {} s written)\n{lines}",
                "DOMAIN", "↓ RECEIVE", "↑ SEND", sample["domains_window_seconds"]
            )
        })
        .unwrap_or_default();
    header + &rows + &domains + &render_connections(&sample["connections"], limit)
}

/// The open connections of `/api/connections`: one line each, under a header that counts them.
fn render_connections(answer: &Value, limit: usize) -> String {
    let Some(connections) = answer["connections"].as_array() else {
        return String::new();
    };
    let rate = |value: &Value| units::rate(value.as_f64().unwrap_or(0.0));
    let cut = |text: &str, width: usize| text.chars().take(width).collect::<String>();
    let lines: String = connections
        .iter()
        .take(limit)
        .map(|connection| {
            let process = match connection["pid"].as_u64() {
                Some(pid) => format!("{} ({pid})", connection["app"].as_str().unwrap_or("?")),
                None => connection["app"].as_str().unwrap_or("?").to_string(),
            };
            let remote = format!(
                "{} {}:{}",
                connection["protocol"].as_str().unwrap_or("?"),
                connection["remote_address"].as_str().unwrap_or("?"),
                connection["remote_port"]
            );
            let host = match (
                connection["host"].as_str(),
                connection["provenance"].as_str(),
            ) {
                (Some(host), Some(provenance)) => format!("{host} [{provenance}]"),
                (None, Some(provenance)) => format!("[{provenance}]"),
                _ => "-".to_string(),
            };
            let so_far = connection["received_bytes"].as_u64().unwrap_or(0)
                + connection["sent_bytes"].as_u64().unwrap_or(0);
            format!(
                "{:<22} {:<30} {:<34} {:>11} {:>11} {:>9}\n",
                cut(&process, 22),
                cut(&remote, 30),
                cut(&host, 34),
                rate(&connection["received_bytes_per_second"]),
                rate(&connection["sent_bytes_per_second"]),
                units::bytes(so_far)
            )
        })
        .collect();
    format!(
        "\n{:<22} {:<30} {:<34} {:>11} {:>11} {:>9}   ({} open)\n{lines}",
        "PROCESS (PID)",
        "REMOTE",
        "HOST [NAMED BY]",
        "↓ RECEIVE",
        "↑ SEND",
        "SO FAR",
        answer["open"]
    )
}

/// The `limit` busiest open connections from the daemon, or `null` when it does not answer.
fn open_connections(port: u16, limit: u32) -> Value {
    let path = format!("/api/connections?limit={limit}");
    daemon::request(port, "GET", &path, "")
        .ok()
        .filter(|reply| reply.status == 200)
        .and_then(|reply| serde_json::from_str(&reply.body).ok())
        .unwrap_or(Value::Null)
}

/// Domains by rate over the last `window_ms` of stored history, busiest first.
fn domain_rates(store: &Store, window_ms: i64) -> Value {
    let now = clock::unix_ms();
    let range = Range {
        start_ms: now - window_ms,
        end_ms: now + 1,
    };
    let seconds = window_ms as f64 / 1000.0;
    let domains = store.top_domains(range, 50).unwrap_or_default();
    Value::Array(
        domains
            .iter()
            .map(|domain| {
                serde_json::json!({
                    "domain": domain.domain,
                    "received_bytes_per_second": domain.received as f64 / seconds,
                    "sent_bytes_per_second": domain.sent as f64 / seconds,
                })
            })
            .collect(),
    )
}

/// The terminal in non-canonical, no-echo mode while `top` runs, so a single `q` quits; the
/// previous mode comes back on drop.
struct RawInput {
    saved: Option<libc::termios>,
}

impl RawInput {
    fn start(stop: Arc<AtomicBool>) -> Self {
        let saved = set_raw();
        std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            let mut stdin = std::io::stdin();
            while stdin.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
                if matches!(byte[0], b'q' | b'Q' | 3) {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
            }
        });
        Self { saved }
    }
}

impl Drop for RawInput {
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            // SAFETY: tcsetattr on stdin with a termios that tcgetattr filled.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved);
            }
        }
    }
}

fn set_raw() -> Option<libc::termios> {
    // SAFETY: tcgetattr/tcsetattr on stdin with a zeroed termios that tcgetattr fills; errors
    // are checked and leave the terminal as it was.
    unsafe {
        let mut saved: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
            return None;
        }
        let mut raw = saved;
        raw.c_lflag &= !(libc::ICANON | libc::ECHO);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        (libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) == 0).then_some(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_busiest_apps_with_rates() {
        let sample = serde_json::json!({
            "received_bytes_per_second": 2_000_000.0, "sent_bytes_per_second": 1000.0,
            "packets_per_second": 40.0, "active_flows": 3,
            "apps": [
                {"app": "zen", "received_bytes_per_second": 1_500_000.0, "sent_bytes_per_second": 900.0},
                {"app": "curl", "received_bytes_per_second": 500_000.0, "sent_bytes_per_second": 100.0}
            ]
        });
        let text = render(&sample, 1);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("40 pkt/s  3 flows"), "{text}");
        assert!(lines[2].starts_with("zen"), "{text}");
        assert!(lines[2].contains("1.5 MB/s"), "{text}");
    }

    #[test]
    fn renders_connections_when_asked() {
        let sample = serde_json::json!({
            "apps": [],
            "connections": {"open": 7, "connections": [
                {"protocol": "tcp", "remote_address": "192.0.2.7", "remote_port": 443, "pid": 42,
                 "app": "firefox", "host": "www.netflix.com", "provenance": "sni",
                 "received_bytes_per_second": 2_000_000.0, "sent_bytes_per_second": 100.0,
                 "received_bytes": 5_000_000, "sent_bytes": 0},
                {"protocol": "udp", "remote_address": "198.51.100.1", "remote_port": 53, "pid": null,
                 "app": "unknown", "host": null, "provenance": null,
                 "received_bytes_per_second": 0.0, "sent_bytes_per_second": 0.0,
                 "received_bytes": 80, "sent_bytes": 60}
            ]}
        });
        let text = render(&sample, 1);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[3].starts_with("PROCESS (PID)") && lines[3].ends_with("(7 open)"),
            "{text}"
        );
        assert!(lines[4].starts_with("firefox (42)"), "{text}");
        assert!(lines[4].contains("tcp 192.0.2.7:443"), "{text}");
        assert!(lines[4].contains("www.netflix.com [sni]"), "{text}");
        assert!(lines[4].contains("2.0 MB/s"), "{text}");
        assert_eq!(lines.len(), 5, "limited to one: {text}");
        let all = render(&sample, 5);
        assert!(all.lines().nth(5).unwrap().starts_with("unknown "), "{all}");
    }

    #[test]
    fn renders_domains_when_asked() {
        let sample = serde_json::json!({
            "apps": [], "domains_window_seconds": 60,
            "domains": [{"domain": "netflix.com", "received_bytes_per_second": 2_000_000.0, "sent_bytes_per_second": 0.0}]
        });
        let text = render(&sample, 5);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[3].starts_with("DOMAIN") && lines[3].ends_with("(last 60 s written)"),
            "{text}"
        );
        assert!(
            lines[4].starts_with("netflix.com") && lines[4].contains("2.0 MB/s"),
            "{text}"
        );
    }
}
