//! Storage benchmark: 90 days of synthetic heavy use (50 apps, 500 hostnames, daily and weekly
//! rhythm, bursts) written through the store — 5-second samples for the last 7 days, one a
//! minute before that, rolled up by retention as time passes — then the p50/p95 latency of each
//! dashboard query and the database size per day of history.
//!
//! Run: `cargo bench -p netmon-core --bench store` (prints a table; a benchmark, not a test).

use std::hint::black_box;
use std::time::{Duration, Instant};

use netmon_core::store::{bucket_for_span, demo, Range, Store};

const DAY_MS: i64 = 86_400_000;
const RUNS: usize = 40;
const BATCH: usize = 2000;

/// Keeps a query's answer from being optimised away.
fn sink<T>(value: T) {
    black_box(value);
}

/// One dashboard query, run against the filled store.
type Query = Box<dyn Fn(&Store)>;

fn main() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let path = temp.path().join("bench.db");
    let mut store = Store::open_in_zone(&path, jiff::tz::TimeZone::UTC).expect("open");
    let now = 1_795_000_000_000_i64;
    let started = Instant::now();
    let older = demo::samples(83, now - 7 * DAY_MS, 60_000, 1);
    let recent = demo::samples(7, now, 5_000, 2);
    let mut written = 0usize;
    let mut batch = Vec::with_capacity(BATCH);
    for sample in older.chain(recent) {
        let end = sample.end_ms;
        batch.push(sample);
        if batch.len() == BATCH {
            written += store.write(&batch).expect("write").rows;
            batch.clear();
            store.apply_retention(end, 7, 90).expect("retention");
        }
    }
    written += store.write(&batch).expect("write").rows;
    store.apply_retention(now, 7, 90).expect("retention");
    let fill = started.elapsed();
    drop(store);
    let size = std::fs::metadata(&path)
        .map(|m| m.len())
        .unwrap_or_default()
        + std::fs::metadata(path.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or_default();
    let store = Store::open_in_zone(&path, jiff::tz::TimeZone::UTC).expect("reopen");

    let last = move |days: i64| Range {
        start_ms: now - days * DAY_MS,
        end_ms: now,
    };
    let queries: Vec<(&str, Query)> = vec![
        (
            "summary (today, week, month)",
            Box::new(move |s: &Store| sink(s.summary(now).unwrap())),
        ),
        (
            "timeline 24 h (5 min)",
            Box::new(move |s: &Store| sink(s.timeline(last(1), bucket_for_span(DAY_MS)).unwrap())),
        ),
        (
            "timeline 7 d (1 h)",
            Box::new(move |s: &Store| {
                sink(s.timeline(last(7), bucket_for_span(7 * DAY_MS)).unwrap())
            }),
        ),
        (
            "timeline 30 d (1 day)",
            Box::new(move |s: &Store| {
                sink(s.timeline(last(30), bucket_for_span(30 * DAY_MS)).unwrap())
            }),
        ),
        (
            "timeline 90 d (1 day)",
            Box::new(move |s: &Store| {
                sink(s.timeline(last(90), bucket_for_span(90 * DAY_MS)).unwrap())
            }),
        ),
        (
            "top apps 24 h",
            Box::new(move |s: &Store| sink(s.top_apps(last(1), 50).unwrap())),
        ),
        (
            "top apps 30 d",
            Box::new(move |s: &Store| sink(s.top_apps(last(30), 50).unwrap())),
        ),
        (
            "top domains 30 d",
            Box::new(move |s: &Store| sink(s.top_domains(last(30), 50).unwrap())),
        ),
        (
            "hostnames of a domain 30 d",
            Box::new(move |s: &Store| sink(s.hostnames("netflix.com", last(30), 50).unwrap())),
        ),
        (
            "app detail 7 d",
            Box::new(move |s: &Store| {
                sink(
                    s.app_detail("zen", last(7), bucket_for_span(7 * DAY_MS))
                        .unwrap(),
                )
            }),
        ),
        (
            "heatmap 30 d",
            Box::new(move |s: &Store| sink(s.heatmap(last(30)).unwrap())),
        ),
        (
            "weekly trend 12 weeks",
            Box::new(move |s: &Store| sink(s.weekly_trend(now, 12).unwrap())),
        ),
        (
            "month comparison",
            Box::new(move |s: &Store| sink(s.month_comparison(now).unwrap())),
        ),
        (
            "current rate",
            Box::new(|s: &Store| sink(s.current_rate().unwrap())),
        ),
    ];

    println!("90 days written: {written} rows in {:.1} s; database {:.1} MB = {:.2} MB per day of history", fill.as_secs_f64(), size as f64 / 1e6, size as f64 / 1e6 / 90.0);
    println!("{:<32} {:>10} {:>10}", "query", "p50 ms", "p95 ms");
    queries.iter().for_each(|(name, query)| {
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                query(&store);
                start.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<32} {:>10.2} {:>10.2}",
            ms(times[RUNS / 2]),
            ms(times[RUNS * 95 / 100])
        );
    });
}
