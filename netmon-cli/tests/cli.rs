//! The `netmon` binary's behaviour at its edges: configuration errors, capture without
//! permission, help.

mod cli_support;

use std::path::Path;
use std::process::{Command, Output};

use cli_support::stderr;

fn netmon(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netmon"))
        .args(args)
        .env("NETMON_HOME", home)
        .output()
        .expect("run netmon")
}

#[test]
fn a_missing_config_is_written_with_defaults() {
    let temp = tempfile::tempdir().unwrap();
    let output = netmon(temp.path(), &["config", "show"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(temp.path().join("config.json")).unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), written);
    assert!(stderr(&output).contains("wrote the default configuration"));
    let value: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(value["web_server_port"], 7500);
}

#[test]
fn an_invalid_config_stops_run_with_every_problem_named() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(
        temp.path().join("config.json"),
        r#"{"web_server_port": 80, "log_level": "LOUD"}"#,
    )
    .unwrap();
    let output = netmon(temp.path(), &["run"]);
    assert_eq!(output.status.code(), Some(78), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("has 2 problem(s)"), "{message}");
    assert!(
        message.contains(
            "\"web_server_port\": 80 is out of range, expected a whole number from 7000 to 7999"
        ),
        "{message}"
    );
    assert!(
        message.contains("\"log_level\": \"LOUD\" is not allowed"),
        "{message}"
    );
}

#[test]
fn command_line_overrides_are_validated_like_the_file() {
    let temp = tempfile::tempdir().unwrap();
    let output = netmon(temp.path(), &["run", "--interval", "0"]);
    assert_eq!(output.status.code(), Some(78));
    assert!(
        stderr(&output).contains("\"sampling_interval_seconds\": 0 is out of range"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unknown_interface_is_named() {
    let temp = tempfile::tempdir().unwrap();
    let output = netmon(temp.path(), &["run", "--interface", "nosuchif0"]);
    assert_eq!(output.status.code(), Some(69), "{}", stderr(&output));
    assert!(stderr(&output).contains("nosuchif0"), "{}", stderr(&output));
}

/// Runs `netmon run` as the unprivileged `nobody` user: capture must be refused with a clear
/// message and exit code 77.
#[cfg(not(target_os = "macos"))]
#[test]
fn nettop_is_refused_off_macos() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(
        temp.path().join("config.json"),
        r#"{"capture_method": "nettop"}"#,
    )
    .unwrap();
    let output = netmon(temp.path(), &["run"]);
    assert_eq!(output.status.code(), Some(69), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("nettop is a macOS tool"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn capture_without_permission_says_how_to_grant_it() {
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let output = cli_support::run_as_nobody(temp.path(), &home, &["run"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(77), "{message}");
    assert!(
        message.contains("capture on any is not permitted"),
        "{message}"
    );
    assert!(message.contains("run with sudo"), "{message}");
    assert!(message.contains("setcap cap_net_raw"), "{message}");
}

/// A taken web server port stops `netmon run` with the port named (capture opens first, so
/// this needs root).
#[test]
fn a_taken_port_is_named() {
    let held = (7000..=7999)
        .find_map(|port| std::net::TcpListener::bind(("127.0.0.1", port)).ok())
        .expect("a free port from 7000 to 7999");
    let port = held.local_addr().unwrap().port();
    let temp = tempfile::tempdir().unwrap();
    let config = format!("{{\"web_server_port\": {port}}}");
    std::fs::write(temp.path().join("config.json"), config).unwrap();
    let output = netmon(temp.path(), &["run"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(69), "{message}");
    assert!(
        message.contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{message}"
    );
    assert!(message.contains("set web_server_port"), "{message}");
}

#[test]
fn help_gives_an_example() {
    let temp = tempfile::tempdir().unwrap();
    let output = netmon(temp.path(), &["run", "--help"]);
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("Example: sudo netmon run --foreground")
    );
}
