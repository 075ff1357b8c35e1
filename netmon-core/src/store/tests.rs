//! Store tests against hand-computed expectations, in New York time (DST on 2025-03-09 and
//! 2025-11-02) so that the answers do not depend on the machine's zone.

use std::fs;
use std::path::Path;

use jiff::civil::{date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use rusqlite::Connection;

use super::query::{AppSort, Filter, Traffic};
use super::time::{plan, Horizons, Segment, Tier};
use super::*;
use crate::sample::{Destination, Direction, ProcessSeen, Sample, SampleStats, Usage};

/// America/New_York's rule since 2007, as a POSIX TZ string (no tz database needed).
pub(crate) fn new_york() -> TimeZone {
    TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
}

fn local(civil: &str) -> Timestamp {
    civil
        .parse::<DateTime>()
        .unwrap()
        .to_zoned_datetime(new_york())
        .unwrap()
        .timestamp()
}

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A 5-second sample of one application (and hostname), `sent` and `received` bytes.
fn sample(
    start: Timestamp,
    app: &str,
    host: Option<(&str, &str)>,
    sent: u64,
    received: u64,
) -> Sample {
    let destination = host.map(|(host, domain)| Destination {
        host: host.into(),
        domain: domain.into(),
    });
    let usage = |direction, bytes| Usage {
        app: app.into(),
        destination: destination.clone(),
        direction,
        bytes,
        packets: 1,
    };
    Sample {
        start_ms: start.as_millisecond(),
        end_ms: start.as_millisecond() + 5000,
        usage: vec![
            usage(Direction::Sent, sent),
            usage(Direction::Received, received),
        ],
        processes: vec![ProcessSeen {
            pid: 100 + app.len() as u32,
            app: app.into(),
            name: app.to_lowercase(),
            exe: Some(format!("/usr/bin/{}", app.to_lowercase())),
        }],
        stats: SampleStats::default(),
    }
}

/// The hand-made history most tests read:
///
/// | sample | local time (New York)      | app   | host      | sent | received |
/// |--------|----------------------------|-------|-----------|------|----------|
/// | F      | Wed 2025-02-05 08:00 EST   | Slack | –         | 50   | 50       |
/// | A      | Sat 2025-03-08 23:30 EST   | Zen   | www.a.com | 100  | 1000     |
/// | B      | Sun 2025-03-09 01:59:55 EST| curl  | –         | 10   | 20       |
/// | C      | Sun 2025-03-09 03:00 EDT   | Zen   | api.a.com | 200  | 2000     |
/// | D      | Sun 2025-03-09 12:00 EDT   | Slack | –         | 5    | 50       |
/// | E      | Mon 2025-03-10 09:00 EDT   | Zen   | b.org     | 1    | 9        |
fn history() -> Vec<Sample> {
    vec![
        sample(local("2025-02-05T08:00"), "Slack", None, 50, 50),
        sample(
            local("2025-03-08T23:30"),
            "Zen",
            Some(("www.a.com", "a.com")),
            100,
            1000,
        ),
        sample(local("2025-03-09T01:59:55"), "curl", None, 10, 20),
        sample(
            local("2025-03-09T03:00"),
            "Zen",
            Some(("api.a.com", "a.com")),
            200,
            2000,
        ),
        sample(local("2025-03-09T12:00"), "Slack", None, 5, 50),
        sample(
            local("2025-03-10T09:00"),
            "Zen",
            Some(("b.org", "b.org")),
            1,
            9,
        ),
    ]
}

/// When the tests ask: Monday 2025-03-10 10:00 EDT.
fn now() -> Timestamp {
    local("2025-03-10T10:00")
}

fn open(dir: &Path) -> Store {
    Store::open_in(&dir.join("network_monitor.db"), new_york()).unwrap()
}

fn filled(dir: &Path) -> Store {
    let mut store = open(dir);
    store.write_batch(&history()).unwrap();
    store
}

fn dates(first: (i16, i8, i8), last: (i16, i8, i8)) -> TimeRange {
    TimeRange::dates(
        date(first.0, first.1, first.2),
        date(last.0, last.1, last.2),
        &new_york(),
    )
    .unwrap()
}

fn range(start: Timestamp, end: Timestamp) -> TimeRange {
    TimeRange::new(start, end).unwrap()
}

fn totals_of(points: &[query::Point]) -> Vec<(String, u64)> {
    points
        .iter()
        .map(|point| (point.local.clone(), point.traffic.total))
        .collect()
}

fn owned(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs
        .iter()
        .map(|(label, total)| (label.to_string(), *total))
        .collect()
}

#[cfg(unix)]
#[test]
fn a_new_database_is_private_in_wal_mode_at_the_latest_version() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let journal: String = store
        .conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_database_from_a_newer_netmon_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("network_monitor.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
        .unwrap();
    drop(conn);
    let before = fs::read(&path).unwrap();
    let error = Store::open_in(&path, new_york()).err().unwrap();
    assert!(
        matches!(
            error,
            StoreError::NewerSchema {
                found: 99,
                supported: SCHEMA_VERSION,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("newer netmon (schema version 99"),
        "{error}"
    );
    assert_eq!(fs::read(&path).unwrap(), before);
    assert!(!dir.path().join("network_monitor.db-wal").exists());
}

#[test]
fn a_file_that_is_not_a_database_is_named_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("network_monitor.db");
    fs::write(&path, vec![b'x'; 4096]).unwrap();
    let error = Store::open_in(&path, new_york()).err().unwrap();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error
        .to_string()
        .contains("is not a netmon database or is corrupt"));
}

#[test]
fn a_version_1_database_upgrades_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("network_monitor.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(schema::MIGRATIONS[0].sql).unwrap();
    let day = local("2025-03-09T00:00").as_second();
    let hour = local("2025-03-09T12:00").as_second();
    conn.execute_batch(&format!(
        "INSERT INTO applications VALUES (1, 'Slack', {hour}, {hour});
         INSERT INTO domains VALUES (1, 'www.a.com', 'a.com');
         INSERT INTO network_samples VALUES ({hour}, 1, 1, 5, 50, 1, 1);
         INSERT INTO hourly_aggregates VALUES ({hour}, 1, 5, 50, 1, 1);
         INSERT INTO daily_aggregates VALUES ({day}, 1, 5, 50, 1, 1);
         INSERT INTO hourly_domain_aggregates VALUES ({hour}, 1, 1, 5, 50, 1, 1);
         INSERT INTO daily_domain_aggregates VALUES ({day}, 1, 1, 5, 50, 1, 1);
         INSERT INTO config VALUES ('note', 'kept');
         PRAGMA user_version = 1;"
    ))
    .unwrap();
    drop(conn);

    let mut store = Store::open_in(&path, new_york()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    assert_eq!(store.setting("note").unwrap().as_deref(), Some("kept"));
    let whole = dates((2025, 3, 9), (2025, 3, 9));
    let apps = store.top_apps(&whole, 10, AppSort::Total).unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(
        (apps[0].name.as_str(), apps[0].traffic),
        ("Slack", Traffic::new(5, 50))
    );
    assert_eq!(store.top_domains(&whole, 10).unwrap()[0].domain, "a.com");
    // The v2 table is usable right away.
    store
        .write_batch(&[sample(local("2025-03-09T13:00"), "Slack", None, 1, 1)])
        .unwrap();
    let detail = store.app_detail("Slack", &whole).unwrap().unwrap();
    assert_eq!(detail.traffic, Traffic::new(6, 51));
    assert_eq!(detail.processes.len(), 1);
}

#[test]
fn totals_count_today_this_week_and_this_month_in_local_time() {
    let dir = tempfile::tempdir().unwrap();
    let totals = filled(dir.path()).totals(now()).unwrap();
    assert_eq!(totals.today, Traffic::new(1, 9));
    assert_eq!(
        totals.this_week,
        Traffic::new(1, 9),
        "weeks start on Monday"
    );
    assert_eq!(totals.this_month, Traffic::new(316, 3079));
}

#[test]
fn day_buckets_follow_local_midnights_across_the_spring_gap() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let timeline = store
        .timeline_in(
            &dates((2025, 3, 8), (2025, 3, 10)),
            Bucket::Day,
            &Filter::All,
        )
        .unwrap();
    assert_eq!(
        totals_of(&timeline.points),
        owned(&[
            ("2025-03-08T00:00:00-05:00", 1100),
            ("2025-03-09T00:00:00-05:00", 2285),
            ("2025-03-10T00:00:00-04:00", 10),
        ])
    );
    // The 9th is 23 hours long.
    assert_eq!(
        timeline.points[2].start_ms - timeline.points[1].start_ms,
        23 * 3_600_000
    );
}

#[test]
fn hour_buckets_skip_the_missing_hour_in_spring() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let night = range(local("2025-03-09T00:00"), local("2025-03-09T05:00"));
    let timeline = store
        .timeline_in(&night, Bucket::Hour, &Filter::All)
        .unwrap();
    assert_eq!(
        totals_of(&timeline.points),
        owned(&[
            ("2025-03-09T00:00:00-05:00", 0),
            ("2025-03-09T01:00:00-05:00", 30),
            ("2025-03-09T03:00:00-04:00", 2200),
            ("2025-03-09T04:00:00-04:00", 0),
        ])
    );
}

#[test]
fn the_repeated_autumn_hour_is_two_buckets_and_the_day_has_25_hours() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store
        .write_batch(&[
            sample(utc("2025-11-02T05:30:00Z"), "Zen", None, 1, 1),
            sample(utc("2025-11-02T06:30:00Z"), "Zen", None, 2, 2),
            sample(utc("2025-11-03T04:59:55Z"), "Zen", None, 4, 4),
        ])
        .unwrap();
    let night = range(utc("2025-11-02T05:00:00Z"), utc("2025-11-02T07:00:00Z"));
    let hours = store
        .timeline_in(&night, Bucket::Hour, &Filter::All)
        .unwrap();
    assert_eq!(
        totals_of(&hours.points),
        owned(&[
            ("2025-11-02T01:00:00-04:00", 2),
            ("2025-11-02T01:00:00-05:00", 4)
        ])
    );
    let day = store
        .timeline_in(
            &dates((2025, 11, 2), (2025, 11, 2)),
            Bucket::Day,
            &Filter::All,
        )
        .unwrap();
    assert_eq!(
        totals_of(&day.points),
        owned(&[("2025-11-02T00:00:00-04:00", 14)])
    );
}

#[test]
fn minute_buckets_read_raw_samples() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let around = range(local("2025-03-09T01:58"), local("2025-03-09T03:02"));
    // 4 real minutes across the gap: 01:58, 01:59, 03:00, 03:01 local.
    let timeline = store.timeline(&around, &Filter::All).unwrap();
    assert_eq!(timeline.bucket, Bucket::Seconds(60));
    let minutes = store
        .timeline_in(&around, Bucket::Seconds(60), &Filter::All)
        .unwrap();
    let nonzero: Vec<_> = totals_of(&minutes.points)
        .into_iter()
        .filter(|(_, total)| *total > 0)
        .collect();
    assert_eq!(
        nonzero,
        owned(&[
            ("2025-03-09T01:59:00-05:00", 30),
            ("2025-03-09T03:00:00-04:00", 2200)
        ])
    );
    assert_eq!(minutes.points.len(), 4);
}

#[test]
fn timelines_filter_by_app_domain_and_host() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let days = dates((2025, 3, 8), (2025, 3, 10));
    let per_day = |filter: Filter| {
        let timeline = store.timeline_in(&days, Bucket::Day, &filter).unwrap();
        timeline
            .points
            .iter()
            .map(|p| p.traffic.total)
            .collect::<Vec<_>>()
    };
    assert_eq!(per_day(Filter::App("Zen".into())), [1100, 2200, 10]);
    assert_eq!(per_day(Filter::Domain("a.com".into())), [1100, 2200, 0]);
    assert_eq!(per_day(Filter::Host("api.a.com".into())), [0, 2200, 0]);
    assert_eq!(per_day(Filter::App("nobody".into())), [0, 0, 0]);
}

#[test]
fn the_timeline_bucket_grows_with_the_range() {
    let hour = 3600;
    assert_eq!(Bucket::for_span(hour), Bucket::Seconds(60));
    assert_eq!(Bucket::for_span(24 * hour), Bucket::Hour);
    assert_eq!(Bucket::for_span(7 * 24 * hour), Bucket::Hour);
    assert_eq!(Bucket::for_span(30 * 24 * hour), Bucket::Day);
    assert_eq!(Bucket::for_span(3 * 365 * 24 * hour), Bucket::Week);
    assert_eq!(Bucket::for_span(10 * 365 * 24 * hour), Bucket::Month);
}

#[test]
fn top_apps_sort_by_each_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let all = dates((2025, 2, 1), (2025, 3, 31));
    let names = |sort| {
        store
            .top_apps(&all, 10, sort)
            .unwrap()
            .into_iter()
            .map(|app| (app.name, app.traffic.total))
            .collect::<Vec<_>>()
    };
    let expected = |pairs: &[(&str, u64)]| owned(pairs);
    assert_eq!(
        names(AppSort::Total),
        expected(&[("Zen", 3310), ("Slack", 155), ("curl", 30)])
    );
    assert_eq!(
        names(AppSort::Sent),
        expected(&[("Zen", 3310), ("Slack", 155), ("curl", 30)])
    );
    assert_eq!(
        names(AppSort::Name),
        expected(&[("Slack", 155), ("Zen", 3310), ("curl", 30)])
    );
    let received = store.top_apps(&all, 2, AppSort::Received).unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].traffic, Traffic::new(55, 100));
}

#[test]
fn domains_roll_up_hostnames_and_name_their_apps() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let all = dates((2025, 3, 1), (2025, 3, 31));
    let domains = store.top_domains(&all, 10).unwrap();
    let summary: Vec<_> = domains
        .iter()
        .map(|d| (d.domain.as_str(), d.traffic.total, d.hostnames))
        .collect();
    assert_eq!(summary, [("a.com", 3300, 2), ("b.org", 10, 1)]);
    let hosts: Vec<_> = store
        .domain_hosts("a.com", &all)
        .unwrap()
        .into_iter()
        .map(|h| (h.hostname, h.traffic))
        .collect();
    assert_eq!(
        hosts,
        [
            ("api.a.com".to_string(), Traffic::new(200, 2000)),
            ("www.a.com".to_string(), Traffic::new(100, 1000)),
        ]
    );
    let apps = store.domain_apps("a.com", &all, 10).unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(
        (apps[0].name.as_str(), apps[0].traffic.total),
        ("Zen", 3300)
    );
    assert!(store
        .domain_hosts("nowhere.example", &all)
        .unwrap()
        .is_empty());
}

#[test]
fn the_heatmap_places_bytes_by_local_weekday_and_hour() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let heatmap = store.heatmap(&dates((2025, 3, 3), (2025, 3, 16))).unwrap();
    let cells: Vec<(usize, usize, u64)> = heatmap
        .cells
        .iter()
        .enumerate()
        .flat_map(|(day, hours)| {
            hours
                .iter()
                .enumerate()
                .filter(|(_, bytes)| **bytes > 0)
                .map(move |(hour, bytes)| (day, hour, *bytes))
        })
        .collect();
    assert_eq!(
        cells,
        [
            (0, 9, 10),
            (5, 23, 1100),
            (6, 1, 30),
            (6, 3, 2200),
            (6, 12, 55)
        ]
    );
}

#[test]
fn weekly_trend_and_month_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let weeks = store.weekly_trend(3, now()).unwrap();
    assert_eq!(
        totals_of(&weeks),
        owned(&[
            ("2025-02-24T00:00:00-05:00", 0),
            ("2025-03-03T00:00:00-05:00", 3385),
            ("2025-03-10T00:00:00-04:00", 10),
        ])
    );
    let months = store.month_comparison(now()).unwrap();
    assert_eq!(months.this_month.local, "2025-03-01T00:00:00-05:00");
    assert_eq!(months.this_month.traffic.total, 3395);
    assert_eq!(months.previous_month.local, "2025-02-01T00:00:00-05:00");
    assert_eq!(months.previous_month.traffic.total, 100);
    assert_eq!(months.previous_month_to_date.total, 100);
    assert_eq!(months.change_percent, Some(3295.0));
}

#[test]
fn app_detail_lists_processes_and_an_unknown_app_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = filled(dir.path());
    let mut later = sample(local("2025-03-10T09:30"), "Zen", None, 0, 0);
    later.processes[0].pid = 7;
    store.write_batch(&[later]).unwrap();
    let days = dates((2025, 3, 8), (2025, 3, 10));
    let detail = store.app_detail("Zen", &days).unwrap().unwrap();
    assert_eq!(detail.traffic, Traffic::new(301, 3009));
    assert_eq!(
        detail.first_seen_ms,
        local("2025-03-08T23:30").as_millisecond()
    );
    assert_eq!(
        detail.last_seen_ms,
        local("2025-03-10T09:30").as_millisecond()
    );
    assert_eq!(detail.timeline.bucket, Bucket::Hour);
    assert_eq!(detail.processes.len(), 1);
    let process = &detail.processes[0];
    assert_eq!(
        (process.name.as_str(), process.exe.as_deref()),
        ("zen", Some("/usr/bin/zen"))
    );
    assert_eq!(process.pids, [7, 103], "most recent first");
    assert!(store.app_detail("nobody", &days).unwrap().is_none());
}

#[test]
fn current_rate_is_the_newest_sample() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(open(dir.path()).current_rate().unwrap(), None);
    let store = filled(dir.path());
    let rate = store.current_rate().unwrap().unwrap();
    assert_eq!(rate.start_ms, local("2025-03-10T09:00").as_millisecond());
    assert_eq!((rate.sent_per_second, rate.received_per_second), (0.2, 1.8));
}

#[test]
fn ranges_straddling_the_tiers_count_each_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let total = |start, end| {
        store
            .range_summary(&range(start, end))
            .unwrap()
            .traffic
            .total
    };
    // Raw edge (23:30:02..midnight), the whole 9th (daily), 00:00..09:00 on the 10th (hourly).
    assert_eq!(
        total(local("2025-03-08T23:30:02"), local("2025-03-10T09:00")),
        2285
    );
    assert_eq!(
        total(local("2025-03-08T23:29"), local("2025-03-10T09:00:05")),
        3395
    );
    assert_eq!(
        total(local("2025-03-09T01:59:55"), local("2025-03-09T03:00:01")),
        2230
    );
    assert_eq!(
        total(local("2025-03-09T01:59:56"), local("2025-03-09T03:00")),
        0
    );
}

#[test]
fn plans_split_ranges_into_days_hours_and_raw_edges() {
    let tz = new_york();
    let everything = Horizons {
        raw: i64::MIN,
        hourly: i64::MIN,
    };
    let s = |civil: &str| local(civil).as_second();
    let window = range(local("2025-03-08T23:30:02"), local("2025-03-10T09:00:30"));
    let segments = plan(&window, Tier::Daily, everything, &tz).unwrap();
    let expected = [
        (Tier::Raw, s("2025-03-08T23:30:02"), s("2025-03-09T00:00")),
        (Tier::Daily, s("2025-03-09T00:00"), s("2025-03-10T00:00")),
        (Tier::Hourly, s("2025-03-10T00:00"), s("2025-03-10T09:00")),
        (Tier::Raw, s("2025-03-10T09:00"), s("2025-03-10T09:00:30")),
    ]
    .map(|(tier, start, end)| Segment { tier, start, end });
    assert_eq!(segments, expected);
    // With raw rows kept only since 09:00 on the 10th, the older raw edge is read hourly.
    let later = Horizons {
        raw: s("2025-03-10T09:00"),
        hourly: i64::MIN,
    };
    let segments = plan(&window, Tier::Daily, later, &tz).unwrap();
    assert_eq!(segments[0].tier, Tier::Hourly);
    assert_eq!(segments[3].tier, Tier::Raw);
}

#[test]
fn retention_is_idempotent_and_answers_stay_the_same_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = filled(dir.path());
    let days = dates((2025, 2, 1), (2025, 3, 31));
    let per_day = |store: &Store| store.timeline_in(&days, Bucket::Day, &Filter::All).unwrap();
    let apps = |store: &Store| store.top_apps(&days, 10, AppSort::Total).unwrap();
    let (days_before, apps_before) = (per_day(&store), apps(&store));
    let later = local("2025-04-20T12:00");
    let policy = Retention {
        raw_days: 7,
        hourly_days: 30,
    };
    let first = store.apply_retention(policy, later).unwrap();
    assert_eq!(
        (first.raw_rows_removed, first.hourly_rows_removed),
        (6, 6 + 3)
    );
    assert_eq!(
        first.hourly_kept_since,
        local("2025-03-21T00:00").as_second()
    );
    let second = store.apply_retention(policy, later).unwrap();
    assert_eq!(
        (second.raw_rows_removed, second.hourly_rows_removed),
        (0, 0)
    );
    assert_eq!(per_day(&store), days_before);
    assert_eq!(apps(&store), apps_before);
    // Only daily rows are left: an hour view shows each day's bytes at its midnight.
    let night = range(local("2025-03-09T00:00"), local("2025-03-09T05:00"));
    let hours = store
        .timeline_in(&night, Bucket::Hour, &Filter::All)
        .unwrap();
    assert_eq!(hours.points[0].traffic.total, 2285);
}

#[test]
fn purge_before_a_date_and_purge_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = filled(dir.path());
    let all = dates((2025, 2, 1), (2025, 3, 31));
    let total = |store: &Store| store.range_summary(&all).unwrap().traffic.total;
    store
        .purge(Purge::Before(local("2025-03-09T00:00")))
        .unwrap();
    assert_eq!(total(&store), 3495 - 1100 - 100);
    store.purge(Purge::All).unwrap();
    assert_eq!(total(&store), 0);
    assert!(store.top_apps(&all, 10, AppSort::Total).unwrap().is_empty());
    assert_eq!(store.current_rate().unwrap(), None);
}

#[test]
fn the_batch_writer_flushes_when_due_and_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let start = local("2025-03-10T09:00");
    let at = |seconds: i64| {
        sample(
            start + jiff::SignedDuration::from_secs(seconds),
            "Zen",
            None,
            1,
            0,
        )
    };
    let mut writer = BatchWriter::new(open(dir.path()), std::time::Duration::from_secs(30));
    let reports: Vec<_> = (0..8).map(|i| writer.push(at(i * 5)).unwrap()).collect();
    // Samples 0..=5 end 30 s after the first one starts.
    assert_eq!(reports.iter().position(Option::is_some), Some(5));
    assert_eq!(reports[5].unwrap().samples, 6);
    assert_eq!(writer.pending(), 2);
    drop(writer);
    let store = open(dir.path());
    let total = store.range_summary(&range(start, now())).unwrap().traffic;
    assert_eq!(total.sent, 8);
}

#[test]
fn bad_ranges_are_errors_not_panics() {
    let error = TimeRange::new(now(), now()).unwrap_err();
    assert!(error.to_string().starts_with("invalid range"), "{error}");
    assert!(TimeRange::last(i64::MAX, now()).is_err());
}
