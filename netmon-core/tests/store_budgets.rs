//! Budgets and alerts in the store: a version-5 database (built with that version's migrations
//! and usage in every tier) upgrades to version 6 with its usage intact; budgets are kept,
//! changed and removed; a budget's usage is counted per scope; each crossing is recorded once,
//! also after the database is reopened; the former `high_usage_threshold_gb` becomes a daily
//! budget once; unusual hours and new applications are found from the hourly tier.

mod older;

use jiff::tz::TimeZone;
use netmon_core::alert::AlertKind;
use netmon_core::alerts;
use netmon_core::anomaly::{Sensitivity, MB};
use netmon_core::budget::{BudgetSpec, Period, Scope};
use netmon_core::sample::{Destination, Provenance, SampleStats};
use netmon_core::store::{self, Range, Store};
use netmon_core::{Direction, Sample, Usage};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// 2026-10-30 12:00 UTC.
const NOON: i64 = 1_793_361_600_000;
const VERSION_BEFORE_BUDGETS: i64 = 5;

fn usage(app: &str, domain: Option<&str>, bytes: u64) -> Usage {
    Usage {
        app: app.into(),
        destination: domain.map(|domain| Destination {
            host: format!("www.{domain}"),
            domain: domain.into(),
            provenance: Provenance::Sni,
        }),
        direction: Direction::Received,
        bytes,
        packets: 1,
    }
}

fn sample(start_ms: i64, usage: Vec<Usage>) -> Sample {
    Sample {
        start_ms,
        end_ms: start_ms + 5000,
        usage,
        processes: vec![],
        stats: SampleStats::default(),
    }
}

fn spec(scope: Scope, period: Period, limit_bytes: u64) -> BudgetSpec {
    BudgetSpec::new(Ok(scope), Ok(period), limit_bytes, None).unwrap()
}

#[test]
fn a_version_5_database_upgrades_with_its_usage_and_keeps_budgets() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    older::database(&path, VERSION_BEFORE_BUDGETS, NOON - HOUR);
    let mut store = Store::open_in_zone(&path, TimeZone::UTC).unwrap();
    assert_eq!(store.schema_version().unwrap(), 6);
    assert_eq!(store::current_version(), 6);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert!(store.budgets().unwrap().is_empty());
    let app = Scope::App("zen".into());
    let today = Range {
        start_ms: NOON - 12 * HOUR,
        end_ms: NOON,
    };
    assert_eq!(
        store.scope_usage(&app, today).unwrap(),
        9600,
        "old usage kept"
    );

    let budget = store
        .add_budget(&spec(app.clone(), Period::Day, 10_000), NOON)
        .unwrap();
    let monthly = BudgetSpec::new(Ok(Scope::All), Ok(Period::Month), 5 * MB, Some(15)).unwrap();
    let second = store.add_budget(&monthly, NOON).unwrap();
    assert_eq!(
        store.budgets().unwrap(),
        vec![budget.clone(), second.clone()]
    );
    assert!(store
        .update_budget(budget.id, &spec(app, Period::Week, 20_000))
        .unwrap());
    assert_eq!(
        store.budget(budget.id).unwrap().unwrap().spec.period,
        Period::Week
    );
    assert!(store.remove_budget(second.id).unwrap());
    assert!(!store.remove_budget(second.id).unwrap(), "already gone");
    assert!(!store.update_budget(999, &monthly).unwrap());
    drop(store);
    let store = Store::open_in_zone(&path, TimeZone::UTC).unwrap();
    assert_eq!(store.budgets().unwrap().len(), 1, "kept across opening");
}

#[test]
fn usage_is_counted_per_scope() {
    let mut store = Store::in_memory(TimeZone::UTC).unwrap();
    store
        .write(&[
            sample(
                NOON,
                vec![
                    usage("zen", Some("netflix.com"), 1000),
                    usage("curl", None, 50),
                ],
            ),
            sample(NOON + 5000, vec![usage("curl", Some("netflix.com"), 7)]),
        ])
        .unwrap();
    let range = Range {
        start_ms: NOON - DAY,
        end_ms: NOON + DAY,
    };
    let used = |scope: Scope| store.scope_usage(&scope, range).unwrap();
    assert_eq!(used(Scope::All), 1057);
    assert_eq!(used(Scope::App("curl".into())), 57);
    assert_eq!(used(Scope::App("nobody".into())), 0);
    assert_eq!(used(Scope::Domain("netflix.com".into())), 1007);
}

#[test]
fn each_crossing_is_recorded_once_per_period_even_after_reopening() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    let sensitivity = Sensitivity::default();
    let mut store = Store::open_in_zone(&path, TimeZone::UTC).unwrap();
    store
        .add_budget(&spec(Scope::App("curl".into()), Period::Day, 1000), NOON)
        .unwrap();
    store
        .write(&[sample(NOON, vec![usage("curl", None, 700)])])
        .unwrap();
    assert!(alerts::evaluate(&mut store, NOON + 10_000, &sensitivity)
        .unwrap()
        .is_empty());
    store
        .write(&[sample(NOON + 10_000, vec![usage("curl", None, 150)])])
        .unwrap();
    let warned = alerts::evaluate(&mut store, NOON + 20_000, &sensitivity).unwrap();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(
        (warned[0].kind, warned[0].level),
        (AlertKind::Budget, Some(80))
    );
    assert_eq!(
        warned[0].message,
        "curl has used 80 % of its daily budget: 850 B of 1.0 KB"
    );
    assert!(alerts::evaluate(&mut store, NOON + 30_000, &sensitivity)
        .unwrap()
        .is_empty());
    drop(store);

    let mut store = Store::open_in_zone(&path, TimeZone::UTC).unwrap();
    assert!(
        alerts::evaluate(&mut store, NOON + 40_000, &sensitivity)
            .unwrap()
            .is_empty(),
        "no duplicate after a restart"
    );
    store
        .write(&[sample(NOON + 40_000, vec![usage("curl", None, 500)])])
        .unwrap();
    let exceeded = alerts::evaluate(&mut store, NOON + 50_000, &sensitivity).unwrap();
    assert_eq!(exceeded.len(), 1);
    assert_eq!(exceeded[0].level, Some(100));
    // The next day is a new period: both levels again.
    store
        .write(&[sample(NOON + DAY, vec![usage("curl", None, 2000)])])
        .unwrap();
    let next_day = alerts::evaluate(&mut store, NOON + DAY + 10_000, &sensitivity).unwrap();
    assert_eq!(
        next_day.iter().map(|alert| alert.level).collect::<Vec<_>>(),
        [Some(80), Some(100)]
    );
    let history = store.alerts(0, 100).unwrap();
    assert_eq!(history.len(), 4);
    assert!(
        history
            .windows(2)
            .all(|pair| pair[0].at_ms >= pair[1].at_ms),
        "newest first"
    );
    // Purge forgets alerts with usage.
    store.purge(Some(NOON + DAY)).unwrap();
    assert_eq!(store.alerts(0, 100).unwrap().len(), 2);
}

#[test]
fn the_threshold_becomes_a_daily_budget_once() {
    let mut store = Store::in_memory(TimeZone::UTC).unwrap();
    let adopted = store.adopt_threshold(10.0, NOON).unwrap().unwrap();
    assert_eq!(adopted.spec, spec(Scope::All, Period::Day, 10_000_000_000));
    assert!(store.adopt_threshold(10.0, NOON).unwrap().is_none());
    store.remove_budget(adopted.id).unwrap();
    assert!(
        store.adopt_threshold(12.0, NOON).unwrap().is_none(),
        "a budget the user removed does not come back"
    );
    let mut own = Store::in_memory(TimeZone::UTC).unwrap();
    own.add_budget(&spec(Scope::All, Period::Day, 5), NOON)
        .unwrap();
    assert!(
        own.adopt_threshold(10.0, NOON).unwrap().is_none(),
        "the user's own kept"
    );
    assert_eq!(own.budgets().unwrap().len(), 1);
}

#[test]
fn an_unusual_hour_and_a_new_app_are_found_in_the_hourly_tier() {
    let mut store = Store::in_memory(TimeZone::UTC).unwrap();
    let sensitivity = Sensitivity::default();
    // Four weeks of dropbox moving about 2 MB at this hour of the week, then 60 MB.
    let weeks: Vec<Sample> = (1..=4)
        .rev()
        .map(|weeks| {
            sample(
                NOON - weeks * WEEK,
                vec![usage(
                    "dropbox",
                    Some("dropbox.com"),
                    2 * MB + weeks as u64 * 1000,
                )],
            )
        })
        .collect();
    store.write(&weeks).unwrap();
    store
        .write(&[sample(
            NOON,
            vec![usage("dropbox", Some("dropbox.com"), 60 * MB)],
        )])
        .unwrap();
    let unusual = alerts::unusual_now(&store, NOON + 60_000, &sensitivity).unwrap();
    let names: Vec<(&str, &str)> = unusual
        .iter()
        .map(|u| (u.of.as_str(), u.name.as_str()))
        .collect();
    assert_eq!(names, [("app", "dropbox"), ("domain", "dropbox.com")]);
    assert!(
        (unusual[0].factor - 30.0).abs() < 0.1,
        "{}",
        unusual[0].factor
    );
    // The usual band of dropbox's hour: about 2 MB, from three weeks of history on.
    let band = alerts::band(
        &store,
        store::SeriesOf::Apps,
        "dropbox",
        Range {
            start_ms: NOON - HOUR,
            end_ms: NOON + HOUR,
        },
        store.app_first_seen("dropbox").unwrap(),
        &sensitivity,
    )
    .unwrap();
    assert_eq!(
        band.len(),
        1,
        "only the hour with past weeks has a band: {band:?}"
    );
    assert_eq!(band[0].hour_ms, NOON);
    assert_eq!(band[0].median_bytes, 2 * MB + 2500);
    assert!(
        band[0].lower_bytes < band[0].median_bytes && band[0].median_bytes < band[0].upper_bytes
    );
    assert!(
        band[0].upper_bytes < 60 * MB,
        "the unusual hour lies above the band"
    );
    // The next hour is not unusual yet.
    assert!(alerts::unusual_now(&store, NOON + HOUR, &sensitivity)
        .unwrap()
        .is_empty());

    // A new application's 150 MB in its first hour, and its first hour has no baseline.
    store
        .write(&[sample(
            NOON + 120_000,
            vec![usage("newapp", None, 150 * MB)],
        )])
        .unwrap();
    let raised = alerts::evaluate(&mut store, NOON + 180_000, &sensitivity).unwrap();
    let kinds: Vec<(AlertKind, &str)> = raised
        .iter()
        .map(|a| (a.kind, a.subject.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (AlertKind::Unusual, "dropbox"),
            (AlertKind::Unusual, "dropbox.com"),
            (AlertKind::NewApp, "newapp")
        ]
    );
    assert!(
        raised[0]
            .message
            .starts_with("dropbox is using 30× its usual"),
        "{}",
        raised[0].message
    );
    assert!(
        alerts::evaluate(&mut store, NOON + 240_000, &sensitivity)
            .unwrap()
            .is_empty(),
        "once each"
    );
}
