//! Every query over ranges that straddle the raw, hourly and daily tiers and DST changes,
//! against expectations computed from the written samples: a sample counts in a range when the
//! start of its finest kept bucket does (its own start while raw rows are kept, its UTC hour
//! while hourly rows are, its local day after that), and days and weeks are New York's.

mod new_york;

use new_york::{ny, zone};

use std::collections::BTreeMap;

use netmon_core::sample::{Destination, SampleStats, Usage};
use netmon_core::store::{self, Range, Store, StoreError};
use netmon_core::{Direction, Sample};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const STEP: i64 = 15 * MINUTE;
const ZEN_BYTES: u64 = 100;
const MAIL_BYTES: u64 = 7;

fn local_day(ms: i64) -> i64 {
    store::local_day_start(ms, &zone())
}

fn floor_hour(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR)
}

fn host_of(start_ms: i64) -> &'static str {
    if (start_ms / STEP) % 2 == 0 {
        "www.netflix.com"
    } else {
        "api.netflix.com"
    }
}

/// Every 15 minutes: zen receives 100 bytes from a netflix.com host, mail sends 7 bytes.
fn sample(start_ms: i64) -> Sample {
    let usage = |app: &str, direction, bytes, destination: Option<Destination>| Usage {
        app: app.into(),
        destination,
        direction,
        bytes,
        packets: 1,
    };
    let netflix = Destination {
        host: host_of(start_ms).into(),
        domain: "netflix.com".into(),
        provenance: netmon_core::sample::Provenance::Sni,
    };
    Sample {
        start_ms,
        end_ms: start_ms + 5000,
        usage: vec![
            usage("zen", Direction::Received, ZEN_BYTES, Some(netflix)),
            usage("mail", Direction::Sent, MAIL_BYTES, None),
        ],
        processes: vec![],
        stats: SampleStats::default(),
    }
}

/// A store with `days` of samples before `now`, retention applied (7 raw days, 30 hourly)
/// when `retained`, and the time each sample is counted at.
struct Scenario {
    store: Store,
    now: i64,
    /// (counted at, sample start, kept at hour granularity or finer)
    keys: Vec<(i64, i64, bool)>,
}

impl Scenario {
    fn new(now: i64, days: i64, retained: bool) -> Self {
        let mut store = Store::in_memory(zone()).unwrap();
        let starts: Vec<i64> = (1..=days * DAY / STEP)
            .map(|k| now - k * STEP)
            .rev()
            .collect();
        let samples: Vec<Sample> = starts.iter().map(|start| sample(*start)).collect();
        samples.chunks(500).for_each(|batch| {
            store.write(batch).unwrap();
        });
        let (raw_from, hourly_from) = if retained {
            store.apply_retention(now, 7, 30).unwrap();
            (floor_hour(now - 7 * DAY), local_day(now - 30 * DAY))
        } else {
            (i64::MIN, i64::MIN)
        };
        let keys = starts
            .iter()
            .map(|&start| match start {
                start if start >= raw_from => (start, start, true),
                start if start >= hourly_from => (floor_hour(start), start, true),
                start => (local_day(start), start, false),
            })
            .collect();
        Scenario { store, now, keys }
    }

    /// Samples counted in `range`: (counted at, sample start, hour granularity).
    fn counted(&self, range: Range) -> impl Iterator<Item = (i64, i64, bool)> + '_ {
        self.keys
            .iter()
            .copied()
            .filter(move |(key, _, _)| *key >= range.start_ms && *key < range.end_ms)
    }

    fn count(&self, range: Range) -> u64 {
        self.counted(range).count() as u64
    }

    /// Expected (bucket start, mail sent, zen received) of a timeline.
    fn expected_timeline(&self, range: Range, bucket: i64) -> BTreeMap<i64, (u64, u64)> {
        self.counted(range)
            .fold(BTreeMap::new(), |mut points, (key, _, _)| {
                // Buckets of whole hours read whole hours as hourly rows, counted at their start.
                let whole_hours = range.start_ms + (HOUR - range.start_ms.rem_euclid(HOUR)) % HOUR
                    ..floor_hour(range.end_ms);
                let key = if bucket < DAY && bucket % HOUR == 0 && whole_hours.contains(&key) {
                    floor_hour(key)
                } else {
                    key
                };
                let start = if bucket >= DAY {
                    local_day(key)
                } else {
                    range.start_ms + (key - range.start_ms).div_euclid(bucket) * bucket
                };
                let point = points.entry(start).or_insert((0, 0));
                *point = (point.0 + MAIL_BYTES, point.1 + ZEN_BYTES);
                points
            })
    }

    fn check(&self, range: Range) {
        let s = &self.store;
        let n = self.count(range);
        let what = format!("{range:?}");
        let totals = s.totals(range).unwrap();
        assert_eq!(
            (totals.sent, totals.received),
            (n * MAIL_BYTES, n * ZEN_BYTES),
            "totals {what}"
        );
        let apps: Vec<(String, u64, u64)> = s
            .top_apps(range, 10)
            .unwrap()
            .into_iter()
            .map(|app| (app.app, app.sent, app.received))
            .collect();
        let expected_apps = if n == 0 {
            vec![]
        } else {
            vec![
                ("zen".to_string(), 0, n * ZEN_BYTES),
                ("mail".to_string(), n * MAIL_BYTES, 0),
            ]
        };
        assert_eq!(apps, expected_apps, "top apps {what}");

        let per_host = self
            .counted(range)
            .fold(BTreeMap::new(), |mut hosts, (_, start, _)| {
                *hosts.entry(host_of(start).to_string()).or_insert(0) += ZEN_BYTES;
                hosts
            });
        let hosts: BTreeMap<String, u64> = s
            .hostnames("netflix.com", range, 10)
            .unwrap()
            .into_iter()
            .map(|host| (host.hostname, host.received))
            .collect();
        assert_eq!(hosts, per_host, "hostnames {what}");
        let domains: Vec<(String, u64, u64)> = s
            .top_domains(range, 10)
            .unwrap()
            .into_iter()
            .map(|domain| (domain.domain, domain.received, domain.hostnames))
            .collect();
        let expected_domains = if n == 0 {
            vec![]
        } else {
            vec![(
                "netflix.com".to_string(),
                n * ZEN_BYTES,
                per_host.len() as u64,
            )]
        };
        assert_eq!(domains, expected_domains, "top domains {what}");

        let mut exported: BTreeMap<(String, bool), u64> = BTreeMap::new();
        s.export(range, |row| {
            *exported
                .entry((row.app, row.direction == Direction::Sent))
                .or_default() += row.bytes;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let expected_export: BTreeMap<(String, bool), u64> = if n == 0 {
            BTreeMap::new()
        } else {
            [
                (("zen".to_string(), false), n * ZEN_BYTES),
                (("mail".to_string(), true), n * MAIL_BYTES),
            ]
            .into()
        };
        assert_eq!(exported, expected_export, "export {what}");
    }

    fn check_timeline(&self, range: Range, bucket: i64) {
        let expected = self.expected_timeline(range, bucket);
        let points = self.store.timeline(range, bucket).unwrap();
        let nonzero: BTreeMap<i64, (u64, u64)> = points
            .iter()
            .filter(|point| point.sent + point.received > 0)
            .map(|point| (point.start_ms, (point.sent, point.received)))
            .collect();
        assert_eq!(nonzero, expected, "timeline {range:?} by {bucket} ms");
        let detail = self
            .store
            .app_detail("zen", range, bucket)
            .unwrap()
            .expect("zen is known");
        let zen: BTreeMap<i64, u64> = detail
            .points
            .iter()
            .filter(|point| point.received > 0)
            .map(|point| (point.start_ms, point.received))
            .collect();
        let expected_zen: BTreeMap<i64, u64> = expected
            .iter()
            .map(|(start, (_, received))| (*start, *received))
            .collect();
        assert_eq!(zen, expected_zen, "app detail {range:?} by {bucket} ms");
    }

    fn check_heatmap(&self, range: Range) {
        let mut expected = [[0u64; 24]; 7];
        self.counted(range)
            .filter(|(_, _, hourly)| *hourly)
            .for_each(|(key, _, _)| {
                let local = jiff::Timestamp::from_millisecond(floor_hour(key))
                    .unwrap()
                    .to_zoned_datetime(zone());
                let weekday = local.weekday().to_monday_zero_offset() as usize;
                expected[weekday][local.hour() as usize] += ZEN_BYTES + MAIL_BYTES;
            });
        assert_eq!(
            self.store.heatmap(range).unwrap(),
            expected,
            "heatmap {range:?}"
        );
    }

    fn check_periods(&self) {
        let now = self.now;
        let summary = self.store.summary(now).unwrap();
        let since = |start_ms| {
            self.count(Range {
                start_ms,
                end_ms: now + 1,
            }) * ZEN_BYTES
        };
        let today = local_day(now);
        assert_eq!(summary.today.received, since(today));
        let local = jiff::Timestamp::from_millisecond(now)
            .unwrap()
            .to_zoned_datetime(zone());
        let monday =
            local_day(today - i64::from(local.weekday().to_monday_zero_offset()) * DAY + 6 * HOUR);
        assert_eq!(summary.week.received, since(monday));
        let month = local.first_of_month().unwrap().start_of_day().unwrap();
        assert_eq!(
            summary.month.received,
            since(month.timestamp().as_millisecond())
        );
        let weeks = self.store.weekly_trend(now, 6).unwrap();
        assert_eq!(weeks.last().unwrap().start_ms, monday);
        weeks.windows(2).for_each(|pair| {
            let range = Range {
                start_ms: pair[0].start_ms,
                end_ms: pair[1].start_ms,
            };
            assert_eq!(
                pair[0].received,
                self.count(range) * ZEN_BYTES,
                "week {range:?}"
            );
        });
        let months = self.store.month_comparison(now).unwrap();
        let previous = month.checked_sub(jiff::Span::new().months(1)).unwrap();
        let previous_month = Range {
            start_ms: previous.timestamp().as_millisecond(),
            end_ms: month.timestamp().as_millisecond(),
        };
        assert_eq!(
            months.previous_month.sent,
            self.count(previous_month) * MAIL_BYTES
        );
        assert_eq!(
            months.this_month.sent,
            since(month.timestamp().as_millisecond()) / ZEN_BYTES * MAIL_BYTES
        );
    }
}

fn range(start_ms: i64, end_ms: i64) -> Range {
    Range { start_ms, end_ms }
}

fn local_date(date: &str) -> Range {
    let start = ny(&format!("{date}T00:00:00"));
    range(start, local_day(start + DAY + 6 * HOUR))
}

/// Ranges around the tier boundaries of a scenario ending at `now`.
fn straddling(now: i64) -> Vec<Range> {
    let raw_from = floor_hour(now - 7 * DAY);
    let hourly_from = local_day(now - 30 * DAY);
    vec![
        range(now - 35 * DAY + 17 * MINUTE, now - 3 * DAY + 41 * MINUTE),
        range(
            hourly_from - 3 * HOUR + 5 * MINUTE,
            raw_from + 2 * HOUR + MINUTE,
        ),
        range(hourly_from + 2 * DAY + 20 * MINUTE, hourly_from + 4 * DAY),
        range(raw_from - 90 * MINUTE, raw_from + 30 * MINUTE),
        range(raw_from + 7 * MINUTE, raw_from + 8 * MINUTE),
        range(now - HOUR - 3 * MINUTE, now),
        range(0, i64::MAX),
        range(now, now + DAY),
    ]
}

fn check_all(scenario: &Scenario) {
    let now = scenario.now;
    let raw_from = floor_hour(now - 7 * DAY);
    straddling(now)
        .into_iter()
        .for_each(|range| scenario.check(range));
    scenario.check_timeline(range(now - 35 * DAY + 17 * MINUTE, now), DAY);
    scenario.check_timeline(range(raw_from - 2 * DAY, raw_from + DAY), HOUR);
    scenario.check_timeline(
        range(raw_from - 2 * HOUR + 7 * MINUTE, raw_from + 3 * HOUR),
        5 * MINUTE,
    );
    scenario.check_timeline(range(now - DAY, now), 5 * MINUTE);
    scenario.check_timeline(range(now - 7 * DAY + 13 * MINUTE, now - 7 * MINUTE), HOUR);
    scenario.check_timeline(
        range(raw_from - DAY - 20 * MINUTE, raw_from + 50 * MINUTE),
        2 * HOUR,
    );
    scenario.check_heatmap(range(now - 35 * DAY, now));
    scenario.check_periods();
}

#[test]
fn queries_across_tiers_and_the_november_dst_change_in_the_raw_tier() {
    let scenario = Scenario::new(ny("2026-11-05T12:00:00"), 40, true);
    check_all(&scenario);
    // 2026-11-01 has 25 hours in New York: 100 samples.
    assert_eq!(
        scenario
            .store
            .totals(local_date("2026-11-01"))
            .unwrap()
            .received,
        100 * ZEN_BYTES
    );
    scenario.check(local_date("2026-11-01"));
}

#[test]
fn queries_across_tiers_and_the_march_dst_change_in_the_hourly_tier() {
    let scenario = Scenario::new(ny("2026-04-01T12:00:00"), 100, true);
    check_all(&scenario);
    // 2026-03-08 has 23 hours in New York: 92 samples, read from hourly rows.
    assert_eq!(
        scenario
            .store
            .totals(local_date("2026-03-08"))
            .unwrap()
            .received,
        92 * ZEN_BYTES
    );
    scenario.check(local_date("2026-03-08"));
    scenario.check_timeline(
        range(ny("2026-03-07T00:00:00"), ny("2026-03-10T00:00:00")),
        DAY,
    );
    scenario.check_timeline(
        range(ny("2026-03-08T00:00:00"), ny("2026-03-09T00:00:00")),
        HOUR,
    );
}

#[test]
fn queries_across_tiers_and_a_dst_change_in_the_daily_tier() {
    let scenario = Scenario::new(ny("2026-12-15T12:00:00"), 60, true);
    check_all(&scenario);
    assert_eq!(
        scenario
            .store
            .totals(local_date("2026-11-01"))
            .unwrap()
            .received,
        100 * ZEN_BYTES
    );
    scenario.check(local_date("2026-11-01"));
    let nov = range(ny("2026-10-30T00:00:00"), ny("2026-11-04T00:00:00"));
    scenario.check_timeline(nov, DAY);
    scenario.check_timeline(nov, HOUR);
}

#[test]
fn queries_before_any_retention_read_the_write_time_tiers() {
    let scenario = Scenario::new(ny("2026-11-05T12:00:00"), 40, false);
    check_all(&scenario);
    scenario.check(local_date("2026-11-01"));
}
