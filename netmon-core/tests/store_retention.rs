//! Retention over 100 days of synthetic history: raw rows end up within the raw window, hourly
//! rows within the hourly window, and the bytes of every application on every local day are
//! unchanged — after one run, after a second (which removes nothing), and after retention
//! processes killed at random moments twenty times. Purging shrinks the file.

mod new_york;

use new_york::zone;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use netmon_core::store::{demo, local_day_start, Range, Store};
use netmon_core::Sample;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const CHILD_ENV: &str = "NETMON_RETENTION_CHILD_DB";
const NOW_ENV: &str = "NETMON_RETENTION_CHILD_NOW";

fn now() -> i64 {
    "2026-11-24T17:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond()
}

/// 100 days of synthetic samples, one every 30 minutes.
fn history() -> Vec<Sample> {
    demo::samples(100, now(), 30 * 60_000, 7).collect()
}

type PerAppDay = BTreeMap<(i64, String), u64>;

/// Bytes per (local day, application) of the samples themselves.
fn expected(samples: &[Sample]) -> PerAppDay {
    samples
        .iter()
        .flat_map(|sample| {
            let day = local_day_start(sample.start_ms, &zone());
            sample
                .usage
                .iter()
                .map(move |usage| ((day, usage.app.clone()), usage.bytes))
        })
        .fold(BTreeMap::new(), |mut days, (key, bytes)| {
            *days.entry(key).or_default() += bytes;
            days
        })
}

/// Bytes per (local day, application) as the store answers.
fn measured(store: &Store, days: &BTreeSet<i64>) -> PerAppDay {
    days.iter()
        .flat_map(|&start_ms| {
            let range = Range {
                start_ms,
                end_ms: local_day_start(start_ms + DAY + 6 * HOUR, &zone()),
            };
            store
                .top_apps(range, 100)
                .unwrap()
                .into_iter()
                .map(move |app| ((start_ms, app.app), app.sent + app.received))
        })
        .collect()
}

fn days_of(truth: &PerAppDay) -> BTreeSet<i64> {
    truth.keys().map(|(day, _)| *day).collect()
}

fn filled(path: &Path, samples: &[Sample]) -> Store {
    let mut store = Store::open_in_zone(path, zone()).unwrap();
    samples.chunks(1000).for_each(|batch| {
        store.write(batch).unwrap();
    });
    store
}

#[test]
fn a_hundred_days_roll_up_without_changing_any_app_day() {
    let temp = tempfile::tempdir().unwrap();
    let samples = history();
    let truth = expected(&samples);
    let days = days_of(&truth);
    assert!(days.len() >= 100, "{} days", days.len());
    let mut store = filled(&temp.path().join("network_monitor.db"), &samples);
    assert_eq!(measured(&store, &days), truth, "before retention");

    let first = store.apply_retention(now(), 7, 30).unwrap();
    assert!(first.raw_rows > 0 && first.hourly_rows > 0, "{first:?}");
    let spans = store.tier_spans().unwrap();
    let raw = spans.raw_oldest_ms.unwrap();
    let hourly = spans.hourly_oldest_ms.unwrap();
    assert!(
        raw >= now() - 7 * DAY - HOUR,
        "raw reaches back {} h",
        (now() - raw) / HOUR
    );
    assert!(
        hourly >= now() - 31 * DAY,
        "hourly reaches back {} h",
        (now() - hourly) / HOUR
    );
    assert!(
        spans.daily_oldest_ms.unwrap() <= now() - 99 * DAY,
        "{spans:?}"
    );
    assert_eq!(measured(&store, &days), truth, "after retention");

    let again = store.apply_retention(now(), 7, 30).unwrap();
    assert_eq!(again, Default::default(), "a second run removes nothing");
    assert_eq!(store.tier_spans().unwrap(), spans);
    assert_eq!(measured(&store, &days), truth, "after a second run");
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

/// The child: applies retention as time passes, six hours a step, printing a line per run,
/// until the parent kills it.
#[test]
fn retention_child() {
    let (Some(path), Some(start)) = (std::env::var_os(CHILD_ENV), std::env::var_os(NOW_ENV)) else {
        return; // run by the parent test only
    };
    let start: i64 = start.to_str().unwrap().parse().unwrap();
    let mut store = Store::open_in_zone(path.as_ref(), zone()).unwrap();
    let mut stdout = std::io::stdout();
    for step in 0.. {
        store
            .apply_retention(start + step * 6 * HOUR, 3, 10)
            .unwrap();
        writeln!(stdout, "retention applied").unwrap();
        stdout.flush().unwrap();
    }
}

#[test]
fn retention_killed_mid_run_neither_loses_nor_double_counts() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    let samples = history();
    let truth = expected(&samples);
    let days = days_of(&truth);
    drop(filled(&path, &samples));
    let start = now() - 90 * DAY;
    for round in 0..20u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "retention_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, &path)
            .env(NOW_ENV, (start + round as i64 * 4 * DAY).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let runs = 1 + (round as usize * 3) % 4;
        assert_eq!(
            lines.by_ref().take(runs).count(),
            runs,
            "round {round}: the child ran"
        );
        std::thread::sleep(Duration::from_micros((round * 2713) % 9000));
        child.kill().unwrap();
        child.wait().unwrap();
        let store = Store::open_in_zone(&path, zone()).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
        assert_eq!(
            measured(&store, &days),
            truth,
            "round {round}: bytes per app per day"
        );
        let all = Range {
            start_ms: 0,
            end_ms: i64::MAX,
        };
        let total: u64 = truth.values().sum();
        let totals = store.totals(all).unwrap();
        assert_eq!(
            totals.sent + totals.received,
            total,
            "round {round}: total bytes"
        );
    }
}

fn file_size(path: &Path) -> u64 {
    let wal = path.with_extension("db-wal");
    [path, wal.as_path()]
        .iter()
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|metadata| metadata.len())
        .sum()
}

#[test]
fn purging_shrinks_the_file() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    let samples = history();
    let mut store = filled(&path, &samples);
    store.apply_retention(now(), 7, 30).unwrap();
    let full = file_size(&path);

    let cutoff = now() - 50 * DAY;
    store.purge(Some(cutoff)).unwrap();
    let half = file_size(&path);
    assert!(
        half < full * 9 / 10,
        "purging 50 of 100 days: {full} → {half} bytes"
    );
    let left: u64 = expected(&samples)
        .into_iter()
        // Days (the daily tier at that age) that start before the cutoff go whole.
        .filter(|((day, _), _)| *day >= cutoff)
        .map(|(_, bytes)| bytes)
        .sum();
    let totals = store
        .totals(Range {
            start_ms: 0,
            end_ms: i64::MAX,
        })
        .unwrap();
    assert_eq!(
        totals.sent + totals.received,
        left,
        "the days from the cutoff on are left, nothing else"
    );

    store.purge(None).unwrap();
    let empty = file_size(&path);
    assert!(
        empty < half / 4,
        "purging everything: {half} → {empty} bytes"
    );
    drop(store);
    let store = Store::open_in_zone(&path, zone()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.tier_spans().unwrap().daily_oldest_ms, None);
}
