//! The progress bars of the long commands (`demo-data`, `export -o FILE`, `purge`, a schema
//! migration): drawn on stderr when it is a terminal (a pseudo-terminal from util-linux's
//! `script`), and not one byte of them when stderr is a pipe.

mod cli_support;

use std::process::{Command, Output, Stdio};

use cli_support::{stderr, Home};
use netmon_core::store;

/// The last schema version before the tiers: opening such a database runs migrations.
const OLD_VERSION: i64 = 2;

/// What the bars say, one distinctive piece each.
const BAR_TEXT: [&str; 4] = [
    "writing synthetic history",
    "% of the history",
    "deleting",
    "upgrading the history database",
];

/// `netmon ARGS` in `home` with stdin, stdout and stderr on a pseudo-terminal: everything the
/// terminal showed.
fn on_a_terminal(home: &Home, args: &[&str]) -> String {
    let line = std::iter::once(env!("CARGO_BIN_EXE_netmon"))
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("NETMON_HOME", home.path())
        .env("TZ", "UTC")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs netmon on a pseudo-terminal");
    assert!(output.status.success(), "{args:?}: {}", transcript(&output));
    transcript(&output)
}

fn transcript(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `netmon ARGS` with stderr piped: its stderr, after checking it succeeded and holds no bar
/// (no bar text, no carriage return, no terminal escape).
fn piped(home: &Home, args: &[&str]) -> String {
    let output = home.netmon(args);
    let text = stderr(&output);
    assert!(output.status.success(), "{args:?}: {text}");
    assert!(
        !text.contains(['\r', '\x1b']) && BAR_TEXT.iter().all(|bar| !text.contains(bar)),
        "{args:?} drew a bar into a pipe: {text:?}"
    );
    text
}

/// An empty database at schema version [`OLD_VERSION`].
fn old_database(home: &Home) {
    let mut connection = store::Connection::open(home.database()).unwrap();
    store::migrate_to(&mut connection, OLD_VERSION).unwrap();
}

fn schema_version(home: &Home) -> i64 {
    store::Store::open(&home.database())
        .unwrap()
        .schema_version()
        .unwrap()
}

#[test]
fn a_pipe_gets_no_bar_output() {
    let home = Home::empty();
    let demo = piped(&home, &["demo-data", "--days", "3", "--step-seconds", "60"]);
    assert_eq!(demo, "netmon: wrote 4320 synthetic samples (3 days)\n");
    let file = home.path().join("export.csv");
    let export = piped(&home, &["export", "-o", file.to_str().unwrap()]);
    // The rows of 3 days of demo data depend on the hour it is made; the file tells how many.
    let rows = std::fs::read_to_string(&file).unwrap().lines().count() - 1;
    assert!(rows > 10_000, "{rows} rows exported");
    assert_eq!(
        export,
        format!("netmon: exported {rows} rows to {}\n", file.display())
    );
    let purge = piped(&home, &["purge", "--yes", "--before", "1d"]);
    assert_eq!(purge, "", "purge with stderr piped");

    let old = Home::empty();
    old_database(&old);
    let apps = piped(&old, &["apps"]);
    assert_eq!(apps, "", "a migration with stderr piped");
    assert_eq!(schema_version(&old), store::current_version());
}

#[test]
fn a_terminal_shows_each_bar() {
    let home = Home::empty();
    let demo = on_a_terminal(&home, &["demo-data", "--days", "3", "--step-seconds", "60"]);
    let file = home.path().join("export.csv");
    let export = on_a_terminal(&home, &["export", "-o", file.to_str().unwrap()]);
    let purge = on_a_terminal(&home, &["purge", "--yes", "--before", "1d"]);
    let old = Home::empty();
    old_database(&old);
    let migration = on_a_terminal(&old, &["apps"]);
    for (shown, text) in [demo, export, purge, migration].iter().zip(BAR_TEXT) {
        assert!(shown.contains(text), "{text:?} not in {shown:?}");
    }
}
