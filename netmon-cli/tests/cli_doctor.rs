//! `netmon doctor` on a healthy setup and on broken ones: each problem is found by looking at
//! the real thing, and each line names its fix. Needs root (capture, switching to `nobody`).

mod cli_support;

use cli_support::{json, set_mode, stderr, stdout, Home};
use serde_json::Value;

/// A seeded home with a valid config on a free port, all modes right.
fn healthy() -> (Home, u16) {
    let home = Home::seeded();
    let port = cli_support::free_port();
    home.write_config(&format!("{{\"web_server_port\": {port}}}"));
    (home, port)
}

/// Runs doctor (JSON), checks the exit code matches the verdict, returns the checks by name.
fn doctor(home: &Home) -> (bool, Vec<Value>) {
    let output = home.netmon(&["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}{}", stdout(&output), stderr(&output)));
    cli_support::assert_fields(&report, &["healthy", "checks"]);
    let healthy = report["healthy"].as_bool().unwrap();
    assert_eq!(output.status.code(), Some(if healthy { 0 } else { 3 }));
    let checks = report["checks"].as_array().unwrap().clone();
    checks.iter().for_each(|check| {
        cli_support::assert_fields(check, &["check", "status", "detail", "fix"]);
        let passed = check["status"] == "pass";
        assert_eq!(
            check["fix"].is_null(),
            passed,
            "a problem always names its fix: {check}"
        );
    });
    (healthy, checks)
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|check| check["check"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {checks:?}"))
}

/// The only failing checks are `expected`.
fn assert_failing(checks: &[Value], expected: &[&str]) {
    let failing: Vec<&str> = checks
        .iter()
        .filter(|check| check["status"] == "fail")
        .map(|check| check["check"].as_str().unwrap())
        .collect();
    assert_eq!(failing, expected, "{checks:#?}");
}

fn fix(check: &Value) -> &str {
    check["fix"].as_str().unwrap()
}

#[test]
fn a_healthy_setup_passes() {
    let (home, port) = healthy();
    let (healthy, checks) = doctor(&home);
    assert!(healthy, "{checks:#?}");
    assert_failing(&checks, &[]);
    for name in ["config", "file modes", "capture", "port", "database"] {
        assert_eq!(
            check(&checks, name)["status"],
            "pass",
            "{name}: {checks:#?}"
        );
    }
    assert!(check(&checks, "port")["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("{port} is free")));
    let text = home.netmon(&["doctor"]);
    assert_eq!(text.status.code(), Some(0));
    let text = stdout(&text);
    assert!(
        text.lines().any(|line| line.starts_with("ok   database")),
        "{text}"
    );
    assert_eq!(text.lines().count(), checks.len(), "one line each: {text}");
}

#[test]
fn a_bad_config_is_named_with_its_fix() {
    let (home, _) = healthy();
    home.write_config(r#"{"web_server_port": 80, "log_level": "LOUD"}"#);
    let (healthy, checks) = doctor(&home);
    assert!(!healthy);
    assert_failing(&checks, &["config"]);
    let config = check(&checks, "config");
    assert!(
        config["detail"]
            .as_str()
            .unwrap()
            .contains("\"web_server_port\": 80 is out of range"),
        "{config}"
    );
    assert!(fix(config).contains("netmon config edit"), "{config}");
    let text = stdout(&home.netmon(&["doctor"]));
    assert!(
        text.contains("FAIL config") && text.contains("— fix: correct the keys"),
        "{text}"
    );
}

#[test]
fn a_readable_file_is_named_with_chmod() {
    let (home, _) = healthy();
    let config = home.paths().config();
    set_mode(&config, 0o644);
    set_mode(home.path(), 0o755);
    let (_, checks) = doctor(&home);
    assert_failing(&checks, &["file modes"]);
    let modes = check(&checks, "file modes");
    let detail = modes["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("{} is 644", config.display())),
        "{modes}"
    );
    assert_eq!(
        fix(modes),
        format!(
            "chmod 700 {}; chmod 600 {}",
            home.path().display(),
            config.display()
        )
    );
}

#[test]
fn a_port_taken_by_another_program_is_named() {
    let (home, port) = healthy();
    let _held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (_, checks) = doctor(&home);
    assert_failing(&checks, &["port"]);
    let port_check = check(&checks, "port");
    assert!(
        port_check["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{port} is used by another program")),
        "{port_check}"
    );
    assert!(
        fix(port_check).contains("netmon config set web_server_port 7"),
        "{port_check}"
    );
}

#[test]
fn a_corrupt_database_is_named_with_how_to_start_over() {
    let (home, _) = healthy();
    let database = home.database();
    std::fs::write(
        &database,
        b"this is not an SQLite database, it is a shopping list",
    )
    .unwrap();
    set_mode(&database, 0o600);
    let (_, checks) = doctor(&home);
    assert_failing(&checks, &["database"]);
    let check = check(&checks, "database");
    assert!(
        check["detail"].as_str().unwrap().contains("not a database"),
        "{check}"
    );
    assert!(
        fix(check).contains(&format!("mv {0} {0}.damaged", database.display())),
        "{check}"
    );
}

#[test]
fn a_damaged_page_fails_integrity_check() {
    let (home, _) = healthy();
    let database = home.database();
    // Bulk up the tables so pages beyond the header exist, then scribble over one.
    let mut store = netmon_core::store::Store::open(&database).unwrap();
    let samples: Vec<_> =
        netmon_core::store::demo::samples(1, cli_support::now_ms(), 60_000, 7).collect();
    store.write(&samples).unwrap();
    drop(store);
    let mut bytes = std::fs::read(&database).unwrap();
    assert!(bytes.len() > 40_000, "{}", bytes.len());
    let page = 4096 * 6;
    bytes[page..page + 4096]
        .iter_mut()
        .for_each(|byte| *byte = 0x5a);
    std::fs::write(&database, &bytes).unwrap();
    let (_, checks) = doctor(&home);
    assert_failing(&checks, &["database"]);
    assert!(fix(check(&checks, "database")).contains(".damaged"));
}

/// Runs doctor as the unprivileged `nobody` user (no capabilities): the capture check opens
/// the capture for real and fails.
#[test]
fn no_capture_permission_is_named_with_setcap() {
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    netmon_core::Paths::at(&home).ensure().unwrap();
    let port = cli_support::free_port();
    std::fs::write(
        home.join("config.json"),
        format!("{{\"web_server_port\": {port}}}"),
    )
    .unwrap();
    set_mode(&home.join("config.json"), 0o600);
    let output = cli_support::run_as_nobody(temp.path(), &home, &["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let report = json(&std::process::Output {
        status: std::process::ExitStatus::default(),
        ..output
    });
    let checks = report["checks"].as_array().unwrap();
    assert_failing(checks, &["capture"]);
    let capture = check(checks, "capture");
    assert!(
        capture["detail"]
            .as_str()
            .unwrap()
            .contains("not permitted"),
        "{capture}"
    );
    assert!(fix(capture).contains("setcap cap_net_raw"), "{capture}");
    assert!(fix(capture).contains("sudo netmon run"), "{capture}");
}
