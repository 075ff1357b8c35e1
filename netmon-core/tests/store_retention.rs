//! Retention over 100 days of synthetic history: raw rows end up within `raw_days`, hourly rows
//! within `hourly_days`, and the bytes of every application on every local day are unchanged.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use netmon_core::store::demo::{self, DemoOptions};
use netmon_core::store::query::AppSort;
use netmon_core::store::{BatchWriter, Retention, Store, TimeRange};

type PerAppDay = BTreeMap<(Date, String), u64>;

fn new_york() -> TimeZone {
    TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
}

fn options(now: Timestamp) -> DemoOptions {
    DemoOptions {
        fine_days: 100,
        fine_step_seconds: 600,
        tz: new_york(),
        ..DemoOptions::new(100, now, 7)
    }
}

/// Bytes per application per local day, straight from the generated samples.
fn expected(options: &DemoOptions) -> PerAppDay {
    demo::samples(options)
        .flat_map(|sample| {
            let day = Timestamp::from_millisecond(sample.start_ms)
                .unwrap()
                .to_zoned_datetime(new_york())
                .date();
            sample
                .usage
                .into_iter()
                .map(move |usage| ((day, usage.app), usage.bytes))
        })
        .fold(BTreeMap::new(), |mut days, (key, bytes)| {
            *days.entry(key).or_default() += bytes;
            days
        })
}

/// Bytes per application per local day, as the queries answer.
fn measured(store: &Store, days: impl Iterator<Item = Date>) -> PerAppDay {
    days.flat_map(|day| {
        let range = TimeRange::dates(day, day, &new_york()).unwrap();
        store
            .top_apps(&range, 100, AppSort::Total)
            .unwrap()
            .into_iter()
            .map(move |app| ((day, app.name), app.traffic.total))
    })
    .collect()
}

#[test]
fn a_hundred_days_roll_up_without_changing_any_app_day() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("network_monitor.db");
    let now: Timestamp = "2025-06-15T16:00:00Z".parse().unwrap();
    let options = options(now);
    let truth = expected(&options);
    let days: Vec<Date> = truth
        .keys()
        .map(|(day, _)| *day)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(days.len() >= 100, "{} days", days.len());

    let mut writer = BatchWriter::new(
        Store::open_in(&db, new_york()).unwrap(),
        Duration::from_secs(30),
    );
    demo::fill(&mut writer, &options, |_| {}).unwrap();
    writer.close().unwrap();
    let mut store = Store::open_in(&db, new_york()).unwrap();
    assert_eq!(
        measured(&store, days.iter().copied()),
        truth,
        "before retention"
    );
    let before = store.tier_spans().unwrap();
    assert!(before.raw.unwrap().0 < now.as_second() - 99 * 86_400);

    let policy = Retention {
        raw_days: 7,
        hourly_days: 30,
    };
    let report = store.apply_retention(policy, now).unwrap();
    assert!(report.raw_rows_removed > 0 && report.hourly_rows_removed > 0);
    let spans = store.tier_spans().unwrap();
    let (raw_first, _) = spans.raw.unwrap();
    let (hourly_first, _) = spans.hourly.unwrap();
    assert!(
        raw_first >= now.as_second() - 7 * 86_400,
        "raw kept {}",
        now.as_second() - raw_first
    );
    assert!(hourly_first >= now.as_second() - 30 * 86_400 - 86_400);
    assert!(hourly_first >= report.hourly_kept_since);
    assert_eq!(spans.daily, before.daily, "daily rows are kept");
    assert_eq!(
        measured(&store, days.iter().copied()),
        truth,
        "after retention"
    );

    let again = store.apply_retention(policy, now).unwrap();
    assert_eq!((again.raw_rows_removed, again.hourly_rows_removed), (0, 0));
    assert_eq!(store.integrity_check().unwrap(), "ok");
}
