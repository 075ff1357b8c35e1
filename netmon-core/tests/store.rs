//! The store against hand-computed expectations.

mod new_york;

use new_york::{ny, zone};

use netmon_core::sample::{Destination, ProcessSeen, SampleStats, Usage};
use netmon_core::store::{self, Range, Store, StoreError};
use netmon_core::{Direction, Sample};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn sample(start_ms: i64, rows: &[(&str, Direction, u64)]) -> Sample {
    Sample {
        start_ms,
        end_ms: start_ms + 5000,
        usage: rows
            .iter()
            .map(|(app, direction, bytes)| Usage {
                app: app.to_string(),
                destination: None,
                direction: *direction,
                bytes: *bytes,
                packets: 1,
            })
            .collect(),
        processes: vec![],
        stats: SampleStats::default(),
    }
}

/// One sample an hour for `days` days before `now`: zen receives 1000 bytes, mail sends 10.
fn hourly_samples(now: i64, days: i64) -> Vec<Sample> {
    (0..days * 24)
        .map(|hour| now - (hour + 1) * HOUR)
        .map(|start| {
            sample(
                start,
                &[
                    ("zen", Direction::Received, 1000),
                    ("mail", Direction::Sent, 10),
                ],
            )
        })
        .collect()
}

fn all_time() -> Range {
    Range {
        start_ms: 0,
        end_ms: i64::MAX,
    }
}

/// A local day in New York as a range.
fn day(date: &str) -> Range {
    let start = ny(&format!("{date}T00:00:00"));
    Range {
        start_ms: start,
        end_ms: store::local_day_start(start + DAY + 6 * HOUR, &zone()),
    }
}

#[test]
fn totals_and_top_apps() {
    let mut store = Store::in_memory(zone()).unwrap();
    let t = ny("2026-11-20T10:00:00");
    store
        .write(&[
            sample(
                t,
                &[
                    ("zen", Direction::Received, 1000),
                    ("zen", Direction::Sent, 100),
                ],
            ),
            sample(
                t + 5000,
                &[
                    ("zen", Direction::Received, 500),
                    ("curl", Direction::Received, 4000),
                ],
            ),
        ])
        .unwrap();
    let totals = store.totals(all_time()).unwrap();
    assert_eq!((totals.sent, totals.received), (100, 5500));
    let apps = store.top_apps(all_time(), 10).unwrap();
    let rows: Vec<(&str, u64, u64)> = apps
        .iter()
        .map(|a| (a.app.as_str(), a.sent, a.received))
        .collect();
    assert_eq!(rows, vec![("curl", 0, 4000), ("zen", 100, 1500)]);
    assert_eq!(store.top_apps(all_time(), 1).unwrap().len(), 1);
    let only_first = Range {
        start_ms: t,
        end_ms: t + 5000,
    };
    assert_eq!(store.totals(only_first).unwrap().received, 1000);
}

#[test]
fn retention_keeps_bytes_per_app_per_day() {
    let mut store = Store::in_memory(zone()).unwrap();
    let now = ny("2026-11-24T12:00:00");
    let samples = hourly_samples(now, 100);
    store.write(&samples).unwrap();
    let days: Vec<Range> = (1..100).map(|back| day_of(now - back * DAY)).collect();
    let before: Vec<_> = days
        .iter()
        .map(|range| store.top_apps(*range, 10).unwrap())
        .collect();
    let total_before = store.totals(all_time()).unwrap();

    let first = store.apply_retention(now, 7, 30).unwrap();
    assert!(first.raw_rows > 0 && first.hourly_rows > 0, "{first:?}");
    let again = store.apply_retention(now, 7, 30).unwrap();
    assert_eq!(again, Default::default(), "a second run changes nothing");

    let after: Vec<_> = days
        .iter()
        .map(|range| store.top_apps(*range, 10).unwrap())
        .collect();
    assert_eq!(
        before, after,
        "bytes per app per day are unchanged by the rollup"
    );
    assert_eq!(store.totals(all_time()).unwrap(), total_before);
    let dst_day = store.top_apps(day("2026-11-01"), 10).unwrap();
    assert_eq!(
        dst_day
            .iter()
            .find(|app| app.app == "zen")
            .unwrap()
            .received,
        25_000,
        "2026-11-01 has 25 hours in New York"
    );
    let tiers = store.tier_spans().unwrap();
    assert!(
        tiers.raw_oldest_ms.unwrap() >= now - 7 * DAY - HOUR,
        "{tiers:?}"
    );
    assert!(
        tiers.hourly_oldest_ms.unwrap() >= now - 31 * DAY,
        "{tiers:?}"
    );
    assert!(
        tiers.daily_oldest_ms.unwrap() <= now - 99 * DAY,
        "{tiers:?}"
    );
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

fn day_of(ms: i64) -> Range {
    let start = store::local_day_start(ms, &zone());
    Range {
        start_ms: start,
        end_ms: store::local_day_start(start + DAY + 6 * HOUR, &zone()),
    }
}

#[test]
fn day_buckets_follow_local_days_across_dst() {
    let mut store = Store::in_memory(zone()).unwrap();
    let samples: Vec<Sample> = (0..72)
        .map(|hour| ny("2026-10-31T00:00:00") + hour * HOUR)
        .map(|start| sample(start, &[("zen", Direction::Received, 1)]))
        .collect();
    store.write(&samples).unwrap();
    let range = Range {
        start_ms: ny("2026-10-31T00:00:00"),
        end_ms: ny("2026-11-03T00:00:00"),
    };
    let per_day: Vec<(i64, u64)> = store
        .timeline(range, DAY)
        .unwrap()
        .iter()
        .map(|p| (p.start_ms, p.received))
        .collect();
    assert_eq!(
        per_day,
        vec![
            (ny("2026-10-31T00:00:00"), 24),
            (ny("2026-11-01T00:00:00"), 25),
            (ny("2026-11-02T00:00:00"), 23),
        ],
        "72 hourly samples from Oct 31 00:00: the 25-hour day holds 25"
    );
}

#[test]
fn hourly_timelines_have_empty_buckets_too() {
    let mut store = Store::in_memory(zone()).unwrap();
    let start = ny("2026-11-20T00:00:00");
    store
        .write(&[sample(
            start + 2 * HOUR + 60_000,
            &[("zen", Direction::Sent, 9)],
        )])
        .unwrap();
    let points = store
        .timeline(
            Range {
                start_ms: start,
                end_ms: start + 4 * HOUR,
            },
            HOUR,
        )
        .unwrap();
    let sent: Vec<u64> = points.iter().map(|p| p.sent).collect();
    assert_eq!(sent, vec![0, 0, 9, 0]);
}

#[test]
fn summary_uses_local_today_week_and_month() {
    let mut store = Store::in_memory(zone()).unwrap();
    let now = ny("2026-11-25T12:00:00"); // a Wednesday
    store
        .write(&[
            sample(
                ny("2026-11-25T08:00:00"),
                &[("zen", Direction::Received, 1)],
            ),
            sample(
                ny("2026-11-23T08:00:00"),
                &[("zen", Direction::Received, 10)],
            ), // Monday
            sample(
                ny("2026-11-22T23:00:00"),
                &[("zen", Direction::Received, 100)],
            ), // Sunday
            sample(
                ny("2026-11-01T00:30:00"),
                &[("zen", Direction::Received, 1000)],
            ),
            sample(
                ny("2026-10-31T23:30:00"),
                &[("zen", Direction::Received, 10000)],
            ),
        ])
        .unwrap();
    let summary = store.summary(now).unwrap();
    assert_eq!(summary.today.received, 1);
    assert_eq!(summary.week.received, 11);
    assert_eq!(summary.month.received, 1111);
}

#[test]
fn applications_and_domains_are_kept_once() {
    let mut store = Store::in_memory(zone()).unwrap();
    let mut first = sample(1000, &[("zen", Direction::Received, 5)]);
    first.usage[0].destination = Some(Destination {
        host: "api.netflix.com".into(),
        domain: "netflix.com".into(),
        provenance: netmon_core::sample::Provenance::Dns,
    });
    first.processes = vec![ProcessSeen {
        pid: 42,
        app: "zen".into(),
        name: "zen".into(),
        exe: Some("/usr/bin/zen".into()),
    }];
    let second = Sample {
        start_ms: 6000,
        end_ms: 11_000,
        ..first.clone()
    };
    let summary = store.write(&[first, second]).unwrap();
    assert_eq!((summary.samples, summary.rows, summary.bytes), (2, 2, 10));
    let apps = store.top_apps(all_time(), 10).unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].last_seen_ms, 11_000);
}

#[test]
fn domains_roll_up_their_hostnames() {
    let mut store = Store::in_memory(zone()).unwrap();
    let named = |host: &str, domain: &str, bytes| {
        let mut one = sample(1000, &[("zen", Direction::Received, bytes)]);
        one.usage[0].destination = Some(Destination {
            host: host.into(),
            domain: domain.into(),
            provenance: netmon_core::sample::Provenance::Dns,
        });
        one
    };
    store
        .write(&[
            named("api.netflix.com", "netflix.com", 100),
            named("www.netflix.com", "netflix.com", 50),
            named("www.bbc.co.uk", "bbc.co.uk", 120),
            sample(1000, &[("zen", Direction::Received, 999)]),
        ])
        .unwrap();
    let domains = store.top_domains(all_time(), 10).unwrap();
    let rows: Vec<(&str, u64, u64)> = domains
        .iter()
        .map(|d| (d.domain.as_str(), d.received, d.hostnames))
        .collect();
    assert_eq!(rows, vec![("netflix.com", 150, 2), ("bbc.co.uk", 120, 1)]);
}

#[test]
fn purge_deletes_usage_before_a_time_or_all() {
    let mut store = Store::in_memory(zone()).unwrap();
    store
        .write(&[
            sample(1000, &[("a", Direction::Sent, 1)]),
            sample(90_000, &[("a", Direction::Sent, 2)]),
        ])
        .unwrap();
    assert_eq!(store.purge(Some(50_000)).unwrap(), 1);
    assert_eq!(store.totals(all_time()).unwrap().sent, 2);
    store.purge(None).unwrap();
    assert_eq!(store.totals(all_time()).unwrap().sent, 0);
}

#[test]
fn an_older_database_is_migrated_with_its_data() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("old.db");
    {
        let mut connection = store::Connection::open(&path).unwrap();
        // Version 2: its raw rows alone are the whole history (version 3 fills the tiers).
        store::migrate_to(&mut connection, 2).unwrap();
        connection
            .execute_batch(
                "INSERT INTO applications (id, name, first_seen_ms, last_seen_ms) VALUES (1, 'zen', 0, 0);
                 INSERT INTO network_samples (ts_ms, duration_ms, app_id, domain_id, direction, bytes, packets)
                 VALUES (1000, 5000, 1, 0, 0, 777, 3);",
            )
            .unwrap();
    }
    let store = Store::open_in_zone(&path, zone()).unwrap();
    assert_eq!(store.schema_version().unwrap(), store::current_version());
    assert_eq!(store.totals(all_time()).unwrap().received, 777);
}

#[test]
fn a_newer_database_is_refused_and_left_untouched() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("new.db");
    {
        let connection = store::Connection::open(&path).unwrap();
        connection
            .pragma_update(None, "user_version", store::current_version() + 1)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = Store::open_in_zone(&path, zone()).err().expect("refused");
    assert!(matches!(error, StoreError::TooNew { .. }), "{error}");
    assert!(error.to_string().contains("newer netmon"), "{error}");
    assert!(std::fs::read(&path).unwrap() == before, "the file changed");
}

#[cfg(unix)]
#[test]
fn the_database_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    Store::open_in_zone(&path, zone()).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn app_detail_has_its_own_timeline_and_processes() {
    let mut store = Store::in_memory(zone()).unwrap();
    let t = ny("2026-11-20T10:00:00");
    let mut first = sample(
        t,
        &[
            ("zen", Direction::Received, 300),
            ("curl", Direction::Received, 7),
        ],
    );
    first.processes = vec![
        ProcessSeen {
            pid: 42,
            app: "zen".into(),
            name: "zen".into(),
            exe: Some("/usr/bin/zen".into()),
        },
        ProcessSeen {
            pid: 43,
            app: "zen".into(),
            name: "Web Content".into(),
            exe: Some("/usr/bin/zen".into()),
        },
    ];
    let second = sample(t + HOUR, &[("zen", Direction::Sent, 20)]);
    store.write(&[first, second]).unwrap();
    let range = Range {
        start_ms: t,
        end_ms: t + 2 * HOUR,
    };
    let detail = store
        .app_detail("zen", range, HOUR)
        .unwrap()
        .expect("zen is known");
    assert_eq!(detail.exe.as_deref(), Some("/usr/bin/zen"));
    let pids: Vec<u32> = detail.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, vec![42, 43]);
    let points: Vec<(u64, u64)> = detail.points.iter().map(|p| (p.received, p.sent)).collect();
    assert_eq!(
        points,
        vec![(300, 0), (0, 20)],
        "curl's bytes are not zen's"
    );
    assert_eq!(store.app_detail("nobody", range, HOUR).unwrap(), None);
}

#[test]
fn hostnames_under_a_domain() {
    let mut store = Store::in_memory(zone()).unwrap();
    let named = |host: &str, domain: &str, bytes| {
        let mut one = sample(1000, &[("zen", Direction::Received, bytes)]);
        one.usage[0].destination = Some(Destination {
            host: host.into(),
            domain: domain.into(),
            provenance: netmon_core::sample::Provenance::Dns,
        });
        one
    };
    store
        .write(&[
            named("api.netflix.com", "netflix.com", 100),
            named("www.netflix.com", "netflix.com", 50),
            named("api.netflix.com", "netflix.com", 1),
            named("www.bbc.co.uk", "bbc.co.uk", 120),
        ])
        .unwrap();
    let hosts: Vec<(String, u64)> = store
        .hostnames("netflix.com", all_time(), 10)
        .unwrap()
        .into_iter()
        .map(|h| (h.hostname, h.received))
        .collect();
    assert_eq!(
        hosts,
        vec![
            ("api.netflix.com".to_string(), 101),
            ("www.netflix.com".to_string(), 50)
        ]
    );
}

#[test]
fn heatmap_is_local_weekday_by_hour_across_tiers_and_dst() {
    let mut store = Store::in_memory(zone()).unwrap();
    let now = ny("2026-11-25T12:00:00");
    store
        .write(&[
            sample(
                ny("2026-11-23T09:15:00"),
                &[("zen", Direction::Received, 100)],
            ), // Monday 9h
            sample(ny("2026-11-22T23:30:00"), &[("zen", Direction::Sent, 7)]), // Sunday 23h
            sample(
                ny("2026-11-04T14:00:00"),
                &[("zen", Direction::Received, 5)],
            ), // Wednesday 14h
        ])
        .unwrap();
    // Sunday 2026-11-01 01:30 happens twice in New York (EDT, then EST).
    let first_130 = ny("2026-11-01T01:30:00");
    store
        .write(&[
            sample(first_130, &[("zen", Direction::Received, 1)]),
            sample(first_130 + HOUR, &[("zen", Direction::Received, 2)]),
        ])
        .unwrap();
    store.apply_retention(now, 7, 90).unwrap(); // the older ones move to the hourly tier
    let grid = store.heatmap(all_time()).unwrap();
    assert_eq!(grid[0][9], 100);
    assert_eq!(grid[6][23], 7);
    assert_eq!(grid[2][14], 5);
    assert_eq!(grid[6][1], 3, "both 01:30s of the DST change are Sunday 1h");
    assert_eq!(grid.iter().flatten().sum::<u64>(), 115);
}

#[test]
fn weekly_trend_counts_local_weeks_from_monday() {
    let mut store = Store::in_memory(zone()).unwrap();
    let now = ny("2026-11-25T12:00:00"); // Wednesday
    store
        .write(&[
            sample(
                ny("2026-11-23T00:10:00"),
                &[("zen", Direction::Received, 1)],
            ),
            sample(
                ny("2026-11-22T23:50:00"),
                &[("zen", Direction::Received, 10)],
            ),
            sample(
                ny("2026-11-16T08:00:00"),
                &[("zen", Direction::Received, 100)],
            ),
            sample(
                ny("2026-11-08T08:00:00"),
                &[("zen", Direction::Received, 1000)],
            ), // older
        ])
        .unwrap();
    let weeks: Vec<(i64, u64)> = store
        .weekly_trend(now, 2)
        .unwrap()
        .iter()
        .map(|w| (w.start_ms, w.received))
        .collect();
    assert_eq!(
        weeks,
        vec![
            (ny("2026-11-16T00:00:00"), 110),
            (ny("2026-11-23T00:00:00"), 1)
        ]
    );
}

#[test]
fn months_compare_whole_and_to_date() {
    let mut store = Store::in_memory(zone()).unwrap();
    let now = ny("2026-11-25T12:00:00");
    store
        .write(&[
            sample(
                ny("2026-11-10T08:00:00"),
                &[("zen", Direction::Received, 10)],
            ),
            sample(
                ny("2026-10-05T08:00:00"),
                &[("zen", Direction::Received, 100)],
            ),
            sample(
                ny("2026-10-28T08:00:00"),
                &[("zen", Direction::Received, 1000)],
            ),
            sample(
                ny("2026-09-30T08:00:00"),
                &[("zen", Direction::Received, 10000)],
            ),
        ])
        .unwrap();
    let months = store.month_comparison(now).unwrap();
    assert_eq!(months.this_month.received, 10);
    assert_eq!(months.previous_month.received, 1100);
    assert_eq!(months.previous_month_to_date.received, 100);
}

#[test]
fn the_current_rate_is_the_newest_sample() {
    let mut store = Store::in_memory(zone()).unwrap();
    assert_eq!(store.current_rate().unwrap(), None);
    store
        .write(&[
            sample(1000, &[("zen", Direction::Received, 999)]),
            sample(
                6000,
                &[
                    ("zen", Direction::Received, 8000),
                    ("mail", Direction::Received, 2000),
                    ("zen", Direction::Sent, 500),
                ],
            ),
        ])
        .unwrap();
    let rate = store.current_rate().unwrap().unwrap();
    assert_eq!((rate.start_ms, rate.end_ms), (6000, 11_000));
    assert_eq!(rate.received_per_second, 2000.0);
    assert_eq!(rate.sent_per_second, 100.0);
}

#[test]
fn export_streams_every_row_of_every_tier_with_the_stored_totals() {
    let mut store = Store::in_memory(zone()).unwrap();
    let now = ny("2026-11-24T12:00:00");
    let samples = hourly_samples(now, 40);
    store.write(&samples).unwrap();
    store.apply_retention(now, 7, 30).unwrap();

    let mut rows = Vec::new();
    let count = store
        .export(all_time(), |row| {
            rows.push(row);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(count as usize, rows.len());
    let durations: std::collections::BTreeSet<i64> = rows.iter().map(|r| r.duration_ms).collect();
    assert_eq!(
        durations.into_iter().collect::<Vec<_>>(),
        vec![5000, HOUR, DAY],
        "raw, hourly and daily rows are all exported"
    );
    let sum = |app: &str, direction: Direction| -> u64 {
        rows.iter()
            .filter(|r| r.app == app && r.direction == direction)
            .map(|r| r.bytes)
            .sum()
    };
    assert_eq!(sum("zen", Direction::Received), 40 * 24 * 1000);
    assert_eq!(sum("mail", Direction::Sent), 40 * 24 * 10);
    assert!(rows
        .windows(2)
        .all(|pair| pair[0].start_ms <= pair[1].start_ms));

    let stopped = store.export(all_time(), |_| Err(StoreError::Time("stop".into())));
    assert!(
        stopped.is_err(),
        "an error from the callback stops the export"
    );
}

#[test]
fn ranges_at_the_limits_of_time_are_answered_not_overflowed() {
    let mut store = Store::in_memory(zone()).unwrap();
    let now = ny("2026-11-24T12:00:00");
    store
        .write(&[sample(now, &[("zen", Direction::Received, 1000)])])
        .unwrap();
    let everything = Range {
        start_ms: i64::MIN,
        end_ms: i64::MAX,
    };
    assert_eq!(store.totals(everything).unwrap().received, 1000);
    assert_eq!(store.top_apps(everything, 5).unwrap().len(), 1);
    let exported = store
        .export(everything, |_| Ok::<_, StoreError>(()))
        .unwrap();
    assert_eq!(exported, 1);
    store.purge(Some(i64::MIN)).unwrap();
    assert_eq!(store.totals(everything).unwrap().received, 1000);
}

#[test]
fn a_timeline_of_too_many_buckets_is_refused_not_allocated() {
    let store = Store::in_memory(zone()).unwrap();
    let error = store
        .timeline(
            Range {
                start_ms: i64::MIN,
                end_ms: i64::MAX,
            },
            DAY,
        )
        .unwrap_err();
    assert!(
        matches!(error, StoreError::TooManyBuckets { .. }),
        "{error}"
    );
}

/// Every table's rows, in order: what the database holds.
fn every_row(path: &std::path::Path) -> Vec<String> {
    let connection = store::Connection::open(path).unwrap();
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .iter()
        .flat_map(|table| {
            let mut statement = connection
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .unwrap();
            let columns = statement.column_count();
            let rows: Vec<String> = statement
                .query_map([], |row| {
                    let values: Vec<String> = (0..columns)
                        .map(|index| format!("{:?}", row.get_ref(index).unwrap()))
                        .collect();
                    Ok(format!("{table}: {}", values.join(", ")))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows
        })
        .collect()
}

#[test]
fn an_idle_window_adds_nothing_to_the_database() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    let mut store = Store::open_in_zone(&path, zone()).unwrap();
    let t = ny("2026-11-20T10:00:00");
    let busy = sample(t, &[("zen", Direction::Received, 1000)]);
    assert!(!store::adds_nothing(&busy));
    store.write(&[busy]).unwrap();
    let before = every_row(&path);
    assert!(before.iter().any(|row| row.starts_with("network_samples")));

    let idle = sample(t + 5000, &[]);
    assert!(store::adds_nothing(&idle));
    store.write(&[idle.clone(), idle.clone()]).unwrap();
    assert_eq!(every_row(&path), before, "an idle window leaves no row");

    // A process seen, even without bytes, is kept (its last-seen time).
    let seen = Sample {
        processes: vec![ProcessSeen {
            app: "zen".into(),
            pid: 7,
            name: "zen".into(),
            exe: None,
        }],
        ..idle
    };
    assert!(!store::adds_nothing(&seen));
}

#[test]
fn data_version_changes_only_with_other_connections_commits() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("network_monitor.db");
    let mut daemon = Store::open_in_zone(&path, zone()).unwrap();
    let mut api = Store::open_in_zone(&path, zone()).unwrap();
    let t = ny("2026-11-20T10:00:00");
    let first = daemon.data_version().unwrap();
    daemon
        .write(&[sample(t, &[("zen", Direction::Received, 1000)])])
        .unwrap();
    assert_eq!(daemon.data_version().unwrap(), first, "its own write");
    api.write(&[sample(t + 5000, &[("zen", Direction::Sent, 10)])])
        .unwrap();
    assert_ne!(daemon.data_version().unwrap(), first, "another's write");
}
