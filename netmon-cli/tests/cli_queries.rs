//! The history commands on a seeded database: human tables and `--json` with the fields
//! docs/cli.md documents.

mod cli_support;

use cli_support::{assert_fields, json, stderr, stdout, Home};
use serde_json::Value;

fn names(rows: &Value, field: &str) -> Vec<String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| row[field].as_str().unwrap().to_string())
        .collect()
}

fn bytes_of(rows: &Value, field: &str, name: &str, column: &str) -> u64 {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row[field] == name)
        .unwrap_or_else(|| panic!("{name} missing: {rows}"))[column]
        .as_u64()
        .unwrap()
}

#[test]
fn apps_as_json_and_tables() {
    let home = Home::seeded();
    let apps = json(&home.netmon(&["apps", "--json"]));
    assert_eq!(names(&apps, "app"), ["zen", "curl", "ssh"]);
    apps.as_array()
        .unwrap()
        .iter()
        .for_each(|app| assert_fields(app, &["app", "sent", "received", "last_seen_ms"]));
    assert_eq!(bytes_of(&apps, "app", "zen", "received"), 4_000_000);
    assert_eq!(bytes_of(&apps, "app", "zen", "sent"), 20_000);
    assert_eq!(bytes_of(&apps, "app", "ssh", "sent"), 7_000);

    let table = stdout(&home.netmon(&["apps"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("APPLICATION") && lines[0].contains("RECEIVED"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("zen") && lines[1].contains("4.0 MB"),
        "{table}"
    );
    let exact = stdout(&home.netmon(&["apps", "--bytes"]));
    assert!(
        exact.contains("4020000") && exact.contains("4000000"),
        "{exact}"
    );
}

#[test]
fn apps_take_since_limit_and_sort() {
    let home = Home::seeded();
    let week = json(&home.netmon(&["apps", "--json", "--since", "7d"]));
    assert_eq!(names(&week, "app"), ["firefox", "zen", "curl", "ssh"]);
    let by_name = json(&home.netmon(&["apps", "--json", "--sort", "name", "--limit", "2"]));
    assert_eq!(names(&by_name, "app"), ["curl", "ssh"]);
    let by_sent = json(&home.netmon(&["apps", "--json", "--sort", "sent"]));
    assert_eq!(names(&by_sent, "app"), ["zen", "ssh", "curl"]);
    let old = json(&home.netmon(&["apps", "--json", "--since", "7d", "--until", "1d"]));
    assert_eq!(names(&old, "app"), ["firefox"]);

    let bad = home.netmon(&["apps", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("--since \"yesterday\": give a duration such as 24h"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn domains_and_their_hostnames() {
    let home = Home::seeded();
    let domains = json(&home.netmon(&["domains", "--json"]));
    assert_eq!(names(&domains, "domain"), ["netflix.com", "github.com"]);
    domains.as_array().unwrap().iter().for_each(|row| {
        assert_fields(
            row,
            &["domain", "sent", "received", "hostnames", "provenance"],
        )
    });
    assert_eq!(bytes_of(&domains, "domain", "netflix.com", "hostnames"), 2);
    assert_eq!(
        domains[0]["provenance"],
        serde_json::json!({"sni": 3_020_000, "dns": 1_000_000}),
        "how netflix.com's bytes were named"
    );
    assert_eq!(
        bytes_of(&domains, "domain", "netflix.com", "received"),
        4_000_000
    );

    let hosts = json(&home.netmon(&["domains", "netflix.com", "--json"]));
    assert_eq!(
        names(&hosts, "hostname"),
        ["www.netflix.com", "assets.netflix.com"]
    );
    hosts
        .as_array()
        .unwrap()
        .iter()
        .for_each(|row| assert_fields(row, &["hostname", "sent", "received"]));

    let table = stdout(&home.netmon(&["domains"]));
    assert!(
        table.lines().next().unwrap().ends_with("HOSTS  NAMED BY"),
        "{table}"
    );
    let netflix = table.lines().nth(1).unwrap();
    assert!(
        netflix.starts_with("netflix.com") && netflix.ends_with("sni 75% dns 25%"),
        "{table}"
    );
    let none = stdout(&home.netmon(&["domains", "example.org"]));
    assert_eq!(none, "no traffic to example.org in this range\n");
}

#[test]
fn an_application_s_domains() {
    let home = Home::seeded();
    let zen = json(&home.netmon(&["apps", "zen", "--domains", "--json"]));
    assert_eq!(names(&zen, "domain"), ["netflix.com"]);
    assert_fields(&zen[0], &["domain", "sent", "received", "hostnames"]);
    assert_eq!(
        bytes_of(&zen, "domain", "netflix.com", "received"),
        4_000_000
    );
    let firefox = json(&home.netmon(&["apps", "firefox", "--domains", "--since", "7d", "--json"]));
    assert_eq!(
        bytes_of(&firefox, "domain", "netflix.com", "received"),
        9_000_000
    );
    let table = stdout(&home.netmon(&["apps", "zen", "--domains"]));
    assert!(
        table.starts_with("DOMAIN") && table.lines().nth(1).unwrap().starts_with("netflix.com"),
        "{table}"
    );
    let ssh = stdout(&home.netmon(&["apps", "ssh", "--domains"]));
    assert!(ssh.starts_with("no destinations kept for ssh"), "{ssh}");
    let unknown = home.netmon(&["apps", "nobody", "--domains"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no application \"nobody\""),
        "{}",
        stderr(&unknown)
    );
    let without_flag = home.netmon(&["apps", "zen"]);
    assert!(!without_flag.status.success(), "APP needs --domains");
}

#[test]
fn timeline_buckets_add_up() {
    let home = Home::seeded();
    let timeline = json(&home.netmon(&["timeline", "--json", "--since", "1h", "--bucket", "5m"]));
    assert_fields(&timeline, &["start_ms", "end_ms", "bucket_ms", "points"]);
    let span = timeline["end_ms"].as_i64().unwrap() - timeline["start_ms"].as_i64().unwrap();
    assert_eq!(span, 3_600_000, "the last hour");
    assert_eq!(timeline["bucket_ms"], 300_000);
    let points = timeline["points"].as_array().unwrap();
    points
        .iter()
        .for_each(|point| assert_fields(point, &["start_ms", "sent", "received"]));
    let received: u64 = points.iter().map(|p| p["received"].as_u64().unwrap()).sum();
    let sent: u64 = points.iter().map(|p| p["sent"].as_u64().unwrap()).sum();
    assert_eq!((received, sent), (4_500_000, 28_000));

    let table = stdout(&home.netmon(&["timeline", "--since", "1h", "--bucket", "5m"]));
    assert_eq!(table.lines().count(), points.len() + 1, "{table}");
    assert!(table.starts_with("START"), "{table}");
    let bad = home.netmon(&["timeline", "--bucket", "soon"]);
    assert!(
        stderr(&bad).contains("--bucket \"soon\""),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn heatmap_cells_add_up() {
    let home = Home::seeded();
    let heatmap = json(&home.netmon(&["heatmap", "--json"]));
    assert_fields(&heatmap, &["weekdays", "bytes", "max_bytes"]);
    let rows = heatmap["bytes"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|row| row.as_array().unwrap().len() == 24));
    let total: u64 = rows
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .map(|cell| cell.as_u64().unwrap())
        .sum();
    assert_eq!(total, 9_000_000 + 4_528_000);

    let table = stdout(&home.netmon(&["heatmap"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 9, "{table}");
    assert!(
        lines[1].starts_with("Mon") && lines[7].starts_with("Sun"),
        "{table}"
    );
    assert!(table.contains('█'), "the busiest hour is darkest: {table}");
    assert!(lines[8].contains("9.0 MB"), "{table}");
}

#[test]
fn summary_today_week_month() {
    let home = Home::seeded();
    let summary = json(&home.netmon(&["summary", "--json"]));
    assert_fields(&summary, &["today", "week", "month"]);
    for period in ["today", "week", "month"] {
        assert_fields(&summary[period], &["sent", "received"]);
    }
    assert_eq!(summary["today"]["sent"], 28_000);
    let text = stdout(&home.netmon(&["summary", "--bytes"]));
    assert!(
        text.starts_with("today") && text.contains("4528000"),
        "{text}"
    );
}

#[test]
fn no_database_is_a_clear_error() {
    let home = Home::empty();
    let output = home.netmon(&["apps"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no history yet"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("start `netmon run`"));
}

#[test]
fn status_without_a_daemon_gives_database_facts() {
    let home = Home::seeded();
    let port = cli_support::free_port();
    home.write_config(&format!("{{\"web_server_port\": {port}}}"));
    let output = home.netmon(&["status", "--json"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_fields(&status, &["running", "port", "daemon", "database"]);
    assert_eq!(status["running"], false);
    assert_eq!(status["port"], port);
    assert!(status["daemon"].is_null());
    let database = &status["database"];
    assert_fields(
        database,
        &[
            "path",
            "exists",
            "bytes",
            "schema_version",
            "today",
            "oldest_ms",
        ],
    );
    assert_eq!(database["today"]["sent"], 28_000);

    let text = stdout(&home.netmon(&["status", "--bytes"]));
    assert!(
        text.starts_with(&format!(
            "netmon is not running (nothing answers on 127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(text.contains("today:    ↓ 4500000  ↑ 28000"), "{text}");
}

#[test]
fn top_without_a_daemon_says_so() {
    let home = Home::empty();
    home.write_config(&format!(
        "{{\"web_server_port\": {}}}",
        cli_support::free_port()
    ));
    let output = home.netmon(&["top"]);
    assert_eq!(output.status.code(), Some(69));
    assert!(
        stderr(&output).contains("top needs the running daemon"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn completions_for_each_shell() {
    let home = Home::empty();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&home.netmon(&["completions", shell]));
        assert!(
            script.contains("doctor") && script.contains("export"),
            "{shell}: {script}"
        );
    }
    let bad = home.netmon(&["completions", "cmd"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn every_command_has_an_example_and_exit_codes_are_listed() {
    let home = Home::empty();
    let help = stdout(&home.netmon(&["--help"]));
    assert!(
        help.contains("Exit codes:") && help.contains("78  the configuration"),
        "{help}"
    );
    let commands = [
        "run",
        "status",
        "top",
        "summary",
        "apps",
        "domains",
        "timeline",
        "heatmap",
        "export",
        "config",
        "doctor",
        "purge",
        "logs",
        "completions",
        "demo-data",
    ];
    for command in commands {
        let text = stdout(&home.netmon(&[command, "--help"]));
        assert!(text.contains("Example: "), "{command}: {text}");
    }
    for command in ["path", "show", "get", "set", "edit"] {
        let text = stdout(&home.netmon(&["config", command, "--help"]));
        assert!(
            text.contains("Example: ") && text.contains("netmon config"),
            "config {command}: {text}"
        );
    }
}

#[test]
fn tables_exactly() {
    let home = Home::seeded();
    assert_eq!(
        stdout(&home.netmon(&["apps", "--bytes"])),
        "\
APPLICATION                       TOTAL      RECEIVED          SENT
zen                             4020000  ↓    4000000  ↑      20000
curl                             501000  ↓     500000  ↑       1000
ssh                                7000  ↓          0  ↑       7000
"
    );
    assert_eq!(
        stdout(&home.netmon(&["domains"])),
        "\
DOMAIN                            TOTAL      RECEIVED          SENT  HOSTS  NAMED BY
netflix.com                      4.0 MB  ↓     4.0 MB  ↑    20.0 KB      2  sni 75% dns 25%
github.com                     501.0 KB  ↓   500.0 KB  ↑     1.0 KB      1  sni 100%
"
    );
}
