//! The human tables of the history commands on the seeded database (cli_support's `seed`), as
//! `insta` snapshots (tests/snapshots/): a change to a column, a unit or an alignment shows up
//! as a reviewed diff. The summary, timeline and heatmap, whose rows depend on the clock (the
//! history is relative to now, and "today", "week" and "month" start at local calendar
//! boundaries), are checked by cli_queries.rs instead.
//! After an intended change: `INSTA_UPDATE=always cargo test -p netmon-cli --test cli_tables`
//! (or `cargo insta review`), then read the diff before committing it.

mod cli_support;

use cli_support::{stderr, stdout, Home};

/// The table `netmon ARGS` prints, after checking it succeeded.
fn table(home: &Home, args: &[&str]) -> String {
    let output = home.netmon(args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    stdout(&output)
}

#[test]
fn history_tables() {
    let home = Home::seeded();
    for (name, args) in [
        ("apps", &["apps"][..]),
        ("apps_bytes", &["apps", "--bytes"]),
        (
            "apps_week_by_sent",
            &["apps", "--since", "7d", "--sort", "sent"],
        ),
        ("domains", &["domains"]),
        ("domain_hostnames", &["domains", "netflix.com"]),
    ] {
        insta::assert_snapshot!(name, table(&home, args), &args.join(" "));
    }
}
