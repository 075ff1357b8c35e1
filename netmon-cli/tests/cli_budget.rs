//! `netmon budget add|list|remove` and `netmon alerts` on a seeded database: a budget's usage
//! and progress, refused budgets with every problem and exit code 2 (nothing stored), removal,
//! and the alert history with the fields of core's `Alert`.

mod cli_support;

use cli_support::{assert_fields, json, stderr, stdout, Home};
use netmon_core::alerts;
use netmon_core::anomaly::Sensitivity;
use netmon_core::store::Store;

#[test]
fn budgets_are_added_listed_and_removed() {
    let home = Home::seeded();
    let added = json(&home.netmon(&[
        "budget",
        "add",
        "--domain",
        "netflix.com",
        "--per",
        "day",
        "--limit",
        "5MB",
        "--json",
    ]));
    assert_fields(
        &added,
        &[
            "id",
            "scope",
            "name",
            "period",
            "limit_bytes",
            "month_start_day",
            "created_ms",
            "progress",
        ],
    );
    assert_eq!(added["name"], "netflix.com");
    assert_eq!(added["limit_bytes"], 5_000_000);
    assert_eq!(
        added["progress"]["used_bytes"], 4_020_000,
        "zen's netflix bytes today"
    );
    assert_eq!(added["progress"]["percent"], 80.4);

    let everything = stdout(&home.netmon(&["budget", "add", "--per", "week", "--limit", "1GB"]));
    assert!(everything.starts_with("added budget 2\n"), "{everything}");
    let table = stdout(&home.netmon(&["budget", "list"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("PROJECTED"),
        "{table}"
    );
    assert!(
        lines[1].contains("netflix.com") && lines[1].contains("80.4"),
        "{table}"
    );
    assert!(
        lines[2].contains("everything") && lines[2].contains("1.0 GB"),
        "{table}"
    );

    let removed = home.netmon(&["budget", "remove", "1"]);
    assert_eq!(stdout(&removed), "removed budget 1\n");
    let again = home.netmon(&["budget", "remove", "1"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("no budget has id 1"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        json(&home.netmon(&["budget", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_bad_budget_names_its_problems_and_stores_nothing() {
    let home = Home::seeded();
    let refused = home.netmon(&[
        "budget",
        "add",
        "--per",
        "week",
        "--limit",
        "0",
        "--first-day",
        "40",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let text = stderr(&refused);
    assert!(text.contains("--limit: 0 is not from 1"), "{text}");
    assert!(
        text.contains("--first-day: 40 is not from 1 to 28"),
        "{text}"
    );
    let unit = home.netmon(&["budget", "add", "--limit", "5 furlongs"]);
    assert_eq!(unit.status.code(), Some(2));
    assert!(stderr(&unit).contains("the unit must be one of B, KB, MB, GB, TB, PB"));
    assert_eq!(
        json(&home.netmon(&["budget", "list", "--json"])),
        serde_json::json!([])
    );
}

#[test]
fn alerts_list_the_history_newest_first() {
    let home = Home::seeded();
    assert_eq!(stdout(&home.netmon(&["alerts"])), "no alerts yet\n");
    home.netmon(&[
        "budget", "add", "--app", "zen", "--per", "day", "--limit", "4MB",
    ]);
    let mut store = Store::open(&home.database()).unwrap();
    let raised =
        alerts::evaluate(&mut store, cli_support::now_ms(), &Sensitivity::default()).unwrap();
    assert_eq!(raised.len(), 2, "zen's 4.02 MB is past 80 % and 100 %");
    let listed = json(&home.netmon(&["alerts", "--json"]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    listed.iter().for_each(|alert| {
        assert_fields(
            alert,
            &[
                "id",
                "at_ms",
                "kind",
                "subject",
                "budget_id",
                "level",
                "bytes",
                "reference_bytes",
                "message",
            ],
        )
    });
    assert_eq!(listed[0]["level"], 100, "newest first");
    let text = stdout(&home.netmon(&["alerts", "--limit", "1"]));
    assert!(
        text.contains("budget") && text.contains("zen has used all of its daily budget"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1);
}
