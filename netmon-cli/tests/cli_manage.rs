//! `config get/set/edit`, `purge` and `logs` against a temporary home.

mod cli_support;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use cli_support::{stderr, stdout, Home};

fn config_value(home: &Home, key: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(home.paths().config()).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()[key].clone()
}

#[test]
fn config_get_prints_one_key() {
    let home = Home::empty();
    home.write_config(r#"{"web_server_port": 7123}"#);
    assert_eq!(
        stdout(&home.netmon(&["config", "get", "web_server_port"])),
        "7123\n"
    );
    assert_eq!(
        stdout(&home.netmon(&["config", "get", "log_level"])),
        "\"INFO\"\n"
    );
    let unknown = home.netmon(&["config", "get", "colour"]);
    assert_eq!(unknown.status.code(), Some(78));
    assert!(
        stderr(&unknown)
            .contains("no configuration key \"colour\"; the keys are: sampling_interval_seconds"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn config_set_validates_and_says_when_it_applies() {
    let home = Home::empty();
    home.write_config(&format!(
        "{{\"web_server_port\": {}}}",
        cli_support::free_port()
    ));
    let set = home.netmon(&["config", "set", "log_level", "DEBUG"]);
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(
        stdout(&set).contains("log_level = \"DEBUG\": saved to"),
        "{}",
        stdout(&set)
    );
    assert!(
        stdout(&set).ends_with("takes effect when netmon starts\n"),
        "{}",
        stdout(&set)
    );
    assert_eq!(config_value(&home, "log_level"), "DEBUG");

    let list = home.netmon(&["config", "set", "browser_apps", r#"["zen","curl"]"#]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(
        config_value(&home, "browser_apps"),
        serde_json::json!(["zen", "curl"])
    );

    let bad = home.netmon(&["config", "set", "data_retention_days_raw", "400"]);
    assert_eq!(bad.status.code(), Some(78));
    assert!(stderr(&bad).contains("\"data_retention_days_raw\": 400 is out of range, expected a whole number from 1 to 30"), "{}", stderr(&bad));
    assert_eq!(
        config_value(&home, "data_retention_days_raw"),
        7,
        "file unchanged"
    );
    let unknown = home.netmon(&["config", "set", "colour", "blue"]);
    assert_eq!(unknown.status.code(), Some(78));
}

/// Writes an executable editor script that runs `body` on its file argument "$1".
fn editor(home: &Home, body: &str) -> String {
    let path = home.path().join("editor.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    cli_support::set_mode(&path, 0o700);
    path.display().to_string()
}

#[test]
fn config_edit_applies_a_valid_edit_and_names_restart_keys() {
    let home = Home::empty();
    home.write_config(r#"{"web_server_port": 7100, "domain_rollup": true}"#);
    let script = editor(
        &home,
        r#"sed -i 's/"web_server_port": 7100/"web_server_port": 7200/; s/"domain_rollup": true/"domain_rollup": false/' "$1""#,
    );
    let output = home
        .command(&["config", "edit"])
        .env("EDITOR", &script)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(config_value(&home, "web_server_port"), 7200);
    assert_eq!(config_value(&home, "domain_rollup"), false);
    let text = stdout(&output);
    assert!(
        text.contains("changed: web_server_port, domain_rollup"),
        "{text}"
    );
    assert!(
        text.contains("restart netmon for these to take effect: web_server_port"),
        "{text}"
    );
}

#[test]
fn config_edit_keeps_the_old_file_when_the_edit_is_invalid() {
    let home = Home::empty();
    home.write_config(r#"{"web_server_port": 7100}"#);
    let before = std::fs::read_to_string(home.paths().config()).unwrap();
    let script = editor(
        &home,
        r#"sed -i 's/"web_server_port": 7100/"web_server_port": 99/' "$1""#,
    );
    let output = home
        .command(&["config", "edit"])
        .env("EDITOR", &script)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert_eq!(
        std::fs::read_to_string(home.paths().config()).unwrap(),
        before
    );
    let message = stderr(&output);
    assert!(
        message.contains("\"web_server_port\": 99 is out of range"),
        "{message}"
    );
    assert!(
        message.contains("was left unchanged; your edit is kept in"),
        "{message}"
    );
    let kept = home.paths().tmp().join("config.edit.json");
    assert!(std::fs::read_to_string(kept).unwrap().contains("99"));
}

#[test]
fn purge_refuses_without_a_terminal_or_yes() {
    let home = Home::seeded();
    let before = home.totals();
    let output = home.netmon(&["purge"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("stdin is not a terminal; pass --yes"),
        "{}",
        stderr(&output)
    );
    assert_eq!(home.totals(), before);
}

#[test]
fn purge_before_a_date_keeps_newer_usage() {
    let home = Home::seeded();
    let output = home.netmon(&["purge", "--before", "1d", "--yes"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("deleted 1 usage rows (all usage before "),
        "{}",
        stdout(&output)
    );
    let totals = home.totals();
    assert_eq!((totals.received, totals.sent), (4_500_000, 28_000));

    let all = home.netmon(&["purge", "--yes"]);
    assert!(
        stdout(&all).contains("(ALL usage history)"),
        "{}",
        stdout(&all)
    );
    assert_eq!(home.totals(), netmon_core::store::Totals::default());
    let bad = home.netmon(&["purge", "--before", "someday", "--yes"]);
    assert!(
        stderr(&bad).contains("--before \"someday\""),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn logs_print_the_tail_and_follow() {
    let home = Home::empty();
    let log = home.paths().log_file("daemon.log");
    std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
    assert_eq!(stdout(&home.netmon(&["logs", "-n", "2"])), "two\nthree\n");
    let missing = home.netmon(&["logs", "extension"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("extension.log does not exist yet"),
        "{}",
        stderr(&missing)
    );

    let mut follow = home
        .command(&["logs", "-f", "-n", "1", "daemon"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "three");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"four\n")
        .unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "four");
    // Rotation: the file is truncated, then replaced by a new file.
    std::fs::write(&log, "five\n").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "five");
    let rotated = home.paths().logs().join("daemon.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    std::fs::write(&log, "six seven eight nine ten\n").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "six seven eight nine ten");
    follow.kill().unwrap();
    follow.wait().unwrap();
}

/// Runs `netmon ARGS` in a pseudo-terminal (`script`), typing `input`; returns the screen.
fn in_terminal(home: &Home, args: &str, input: &str) -> (bool, String) {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_netmon"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NETMON_HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) gives netmon a terminal");
    // Type only once the question is on the screen.
    let mut screen = Vec::new();
    let mut output = child.stdout.take().unwrap();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&screen).contains("Type yes to confirm") {
        let read = std::io::Read::read(&mut output, &mut chunk).unwrap();
        assert!(read > 0, "{}", String::from_utf8_lossy(&screen));
        screen.extend_from_slice(&chunk[..read]);
    }
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    std::io::Read::read_to_end(&mut output, &mut screen).unwrap();
    let status = child.wait().unwrap();
    (
        status.success(),
        String::from_utf8_lossy(&screen).into_owned(),
    )
}

#[test]
fn purge_in_a_terminal_asks_first() {
    let home = Home::seeded();
    let before = home.totals();
    let (ok, screen) = in_terminal(&home, "purge", "no\n");
    assert!(!ok, "{screen}");
    assert!(
        screen.contains("Delete ALL usage history? This cannot be undone."),
        "{screen}"
    );
    assert!(screen.contains("nothing deleted"), "{screen}");
    assert_eq!(home.totals(), before);

    let (ok, screen) = in_terminal(&home, "purge", "yes\n");
    assert!(ok, "{screen}");
    assert!(screen.contains("deleted 7 usage rows"), "{screen}");
    assert_eq!(home.totals(), netmon_core::store::Totals::default());
}
