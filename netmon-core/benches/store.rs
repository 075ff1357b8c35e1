//! `cargo bench -p netmon-core --bench store`: 90 days of synthetic heavy use, then the p95
//! latency of every dashboard query and the database size per day of history.

use std::hint::black_box;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use netmon_core::store::demo::{self, DemoOptions};
use netmon_core::store::query::{AppSort, Filter};
use netmon_core::store::{BatchWriter, Retention, Store, TimeRange};

const DAYS: u32 = 90;
const RUNS: usize = 40;

type Query<'a> = (&'a str, Box<dyn Fn(&Store) + 'a>);

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("network_monitor.db");
    // America/New_York's rule, without needing a tz database.
    let tz = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").expect("time zone");
    let now: Timestamp = "2026-11-24T17:00:00Z".parse().expect("timestamp");
    let store = Store::open_in(&path, tz.clone()).expect("open");
    let fill_started = Instant::now();
    let mut writer = BatchWriter::new(store, Duration::from_secs(30));
    let options = DemoOptions {
        tz: tz.clone(),
        ..DemoOptions::new(DAYS, now, 42)
    };
    let report = demo::fill(&mut writer, &options, |progress| {
        if progress.done_seconds % (10 * 86_400) < 3600 {
            eprintln!(
                "  generated {} of {DAYS} days",
                progress.done_seconds / 86_400
            );
        }
    })
    .expect("fill");
    writer.close().expect("close");
    let mut store = Store::open_in(&path, tz).expect("reopen");
    let retention = Retention {
        raw_days: 7,
        hourly_days: 90,
    };
    store.apply_retention(retention, now).expect("retention");
    store.checkpoint().expect("checkpoint");
    eprintln!(
        "filled {} samples, {:.1} GB, in {:.1} s",
        report.samples,
        report.bytes as f64 / 1e9,
        fill_started.elapsed().as_secs_f64()
    );
    let size = store.size_on_disk();

    println!("| query | p95 (ms) | max (ms) |");
    println!("|---|---:|---:|");
    for (name, query) in queries(now) {
        let (p95, max) = measure(&store, query.as_ref());
        println!("| {name} | {p95:.2} | {max:.2} |");
    }
    println!();
    println!(
        "database: {:.1} MB for {DAYS} days = {:.2} MB per day of history",
        size as f64 / 1e6,
        size as f64 / 1e6 / f64::from(DAYS)
    );
}

fn queries<'a>(now: Timestamp) -> Vec<Query<'a>> {
    let last = move |hours: i64| TimeRange::last(hours * 3600, now).expect("range");
    let (day, week, month, quarter) = (last(24), last(24 * 7), last(24 * 30), last(24 * 89));
    let hour = last(1);
    let domain = "example.org".to_string();
    let older = TimeRange::new(now - (60 * 24).hours(), now - (30 * 24).hours()).expect("range");
    vec![
        (
            "totals (today/week/month)",
            Box::new(move |s: &Store| {
                black_box(s.totals(now).unwrap());
            }),
        ),
        (
            "current rate",
            Box::new(|s: &Store| {
                black_box(s.current_rate().unwrap());
            }),
        ),
        (
            "timeline 1 h",
            Box::new(move |s: &Store| {
                black_box(s.timeline(&hour, &Filter::All).unwrap());
            }),
        ),
        (
            "timeline 24 h",
            Box::new(move |s: &Store| {
                black_box(s.timeline(&day, &Filter::All).unwrap());
            }),
        ),
        (
            "timeline 7 d",
            Box::new(move |s: &Store| {
                black_box(s.timeline(&week, &Filter::All).unwrap());
            }),
        ),
        (
            "timeline 30 d",
            Box::new(move |s: &Store| {
                black_box(s.timeline(&month, &Filter::All).unwrap());
            }),
        ),
        (
            "timeline 89 d",
            Box::new(move |s: &Store| {
                black_box(s.timeline(&quarter, &Filter::All).unwrap());
            }),
        ),
        (
            "top 10 apps 24 h",
            Box::new(move |s: &Store| {
                black_box(s.top_apps(&day, 10, AppSort::Total).unwrap());
            }),
        ),
        (
            "all apps 30 d by sent",
            Box::new(move |s: &Store| {
                black_box(s.top_apps(&month, 100, AppSort::Sent).unwrap());
            }),
        ),
        (
            "app detail Zen 7 d",
            Box::new(move |s: &Store| {
                black_box(s.app_detail("Zen", &week).unwrap());
            }),
        ),
        (
            "app detail Slack 30 d",
            Box::new(move |s: &Store| {
                black_box(s.app_detail("Slack", &month).unwrap());
            }),
        ),
        (
            "top 20 domains 24 h",
            Box::new(move |s: &Store| {
                black_box(s.top_domains(&day, 20).unwrap());
            }),
        ),
        (
            "top 20 domains 30 d",
            Box::new(move |s: &Store| {
                black_box(s.top_domains(&month, 20).unwrap());
            }),
        ),
        (
            "hostnames of top domain 30 d",
            Box::new(move |s: &Store| {
                let top = s.top_domains(&month, 1).unwrap();
                let name = top.first().map_or(domain.clone(), |d| d.domain.clone());
                black_box(s.domain_hosts(&name, &month).unwrap());
                black_box(s.domain_apps(&name, &month, 10).unwrap());
            }),
        ),
        (
            "heatmap 4 weeks",
            Box::new(move |s: &Store| {
                black_box(s.heatmap(&last(24 * 28)).unwrap());
            }),
        ),
        (
            "heatmap 89 d",
            Box::new(move |s: &Store| {
                black_box(s.heatmap(&quarter).unwrap());
            }),
        ),
        (
            "weekly trend 12 weeks",
            Box::new(move |s: &Store| {
                black_box(s.weekly_trend(12, now).unwrap());
            }),
        ),
        (
            "month vs month",
            Box::new(move |s: &Store| {
                black_box(s.month_comparison(now).unwrap());
            }),
        ),
        (
            "range summary 60..30 d ago",
            Box::new(move |s: &Store| {
                black_box(s.range_summary(&older).unwrap());
            }),
        ),
    ]
}

/// p95 and maximum of `RUNS` runs after one warm-up, in milliseconds.
fn measure(store: &Store, query: &dyn Fn(&Store)) -> (f64, f64) {
    query(store);
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            query(store);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let p95 = times[(times.len() * 95).div_ceil(100) - 1];
    (p95, times[times.len() - 1])
}
