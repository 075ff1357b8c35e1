//! Questions the dashboard, CLI and menubar ask, each part of a range answered from the
//! coarsest tier that fits it (see `tiers`).

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::naming::DomainTotal;
use super::tiers::{next_local_day, usage_cte, Filter, Kind, Tier};
use super::{local_day_start, Store, StoreError, DAY_MS, HOUR_MS};

/// The coarsest tier a timeline with buckets of `bucket_ms` can read: daily rows for day
/// buckets, hourly rows for buckets of whole hours (an hour counts in the bucket its start is
/// in, as for hourly rows kept by retention), else raw rows.
fn coarsest_for(bucket_ms: i64) -> Tier {
    if bucket_ms >= DAY_MS {
        Tier::Daily
    } else if bucket_ms % HOUR_MS == 0 {
        Tier::Hourly
    } else {
        Tier::Raw
    }
}

/// Most buckets one timeline may have (a thousand years of days fit).
pub const MAX_BUCKETS: i64 = 1_000_000;

/// A half-open time range, milliseconds since the epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Bytes sent and received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Totals {
    pub sent: u64,
    pub received: u64,
}

/// Totals for today, this week (from Monday) and this month, in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Summary {
    pub today: Totals,
    pub week: Totals,
    pub month: Totals,
}

/// One application's usage in a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct AppTotal {
    pub app: String,
    pub sent: u64,
    pub received: u64,
    pub last_seen_ms: i64,
}

/// Usage in one bucket of a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TimelinePoint {
    pub start_ms: i64,
    pub sent: u64,
    pub received: u64,
}

/// The bucket a timeline over `span_ms` uses: 5 minutes up to a day, hours up to 8 days, local
/// days beyond (so a 30-day view is 30 points, not half a million samples).
pub fn bucket_for_span(span_ms: i64) -> i64 {
    match span_ms {
        span if span <= DAY_MS => 5 * 60_000,
        span if span <= 8 * DAY_MS => super::HOUR_MS,
        _ => DAY_MS,
    }
}

impl Store {
    /// Bytes sent and received in `range`.
    pub fn totals(&self, range: Range) -> Result<Totals, StoreError> {
        let pieces = self.pieces(range, Tier::Daily)?;
        let sql = format!(
            "{} SELECT coalesce(sum(bytes) FILTER (WHERE direction = 1), 0),
                       coalesce(sum(bytes) FILTER (WHERE direction = 0), 0) FROM usage",
            usage_cte(Kind::Totals, &pieces, Filter::None)
        );
        Ok(self.connection.prepare(&sql)?.query_row([], |row| {
            Ok(Totals {
                sent: row.get::<_, i64>(0)? as u64,
                received: row.get::<_, i64>(1)? as u64,
            })
        })?)
    }

    /// Today, this week and this month as of `now_ms`, in the store's time zone.
    pub fn summary(&self, now_ms: i64) -> Result<Summary, StoreError> {
        let (day, week, month) = period_starts(now_ms, self.zone())?;
        let until = |start_ms| Range {
            start_ms,
            end_ms: now_ms + 1,
        };
        Ok(Summary {
            today: self.totals(until(day))?,
            week: self.totals(until(week))?,
            month: self.totals(until(month))?,
        })
    }

    /// Applications in `range`, busiest first, at most `limit`.
    pub fn top_apps(&self, range: Range, limit: usize) -> Result<Vec<AppTotal>, StoreError> {
        self.ranked(
            Kind::Apps,
            "a.name, a.last_seen_ms",
            "JOIN applications a ON a.id = u.app_id GROUP BY a.id",
            range,
            limit,
            |row, sent, received| {
                Ok(AppTotal {
                    app: row.get(0)?,
                    last_seen_ms: row.get(1)?,
                    sent,
                    received,
                })
            },
        )
    }

    /// Registrable domains in `range`, busiest first, at most `limit`, with how their bytes were
    /// named.
    pub fn top_domains(&self, range: Range, limit: usize) -> Result<Vec<DomainTotal>, StoreError> {
        let mut provenance = self.domain_provenance(range)?;
        let mut domains = self.ranked(
            Kind::Hostnames,
            "d.domain, count(DISTINCT d.hostname)",
            "JOIN domains d ON d.id = u.domain_id GROUP BY d.domain",
            range,
            limit,
            |row, sent, received| {
                Ok(DomainTotal {
                    domain: row.get(0)?,
                    hostnames: row.get::<_, i64>(1)? as u64,
                    sent,
                    received,
                    provenance: BTreeMap::new(),
                })
            },
        )?;
        domains.iter_mut().for_each(|total| {
            total.provenance = provenance.remove(&total.domain).unwrap_or_default();
        });
        Ok(domains)
    }

    /// Groups of usage in `range`, busiest first, at most `limit`: two `columns` are selected
    /// from `usage u` with `join_group` (its joins and GROUP BY); `row` reads those two columns
    /// and gets the group's bytes sent and received.
    fn ranked<T>(
        &self,
        kind: Kind,
        columns: &str,
        join_group: &str,
        range: Range,
        limit: usize,
        row: impl Fn(&rusqlite::Row<'_>, u64, u64) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let pieces = self.pieces(range, Tier::Daily)?;
        // Summed per application and hostname id before the join, so the join sees few rows.
        let sql = format!(
            "{}, grouped AS (
                SELECT app_id, domain_id,
                       coalesce(sum(bytes) FILTER (WHERE direction = 1), 0) AS up,
                       coalesce(sum(bytes) FILTER (WHERE direction = 0), 0) AS down
                FROM usage GROUP BY app_id, domain_id)
             SELECT {columns}, sum(u.up) AS sent, sum(u.down) AS received
             FROM grouped u {join_group} ORDER BY sent + received DESC, 1 LIMIT ?1",
            usage_cte(kind, &pieces, Filter::None)
        );
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement.query_map(params![limit as i64], |r| {
            row(r, r.get::<_, i64>(2)? as u64, r.get::<_, i64>(3)? as u64)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Usage in `range` in buckets of `bucket_ms` (a day or longer: local days), empty buckets
    /// included.
    pub fn timeline(&self, range: Range, bucket_ms: i64) -> Result<Vec<TimelinePoint>, StoreError> {
        self.timeline_of(range, bucket_ms, None)
    }

    /// The timeline of one application (all of them when `app_id` is `None`).
    fn timeline_of(
        &self,
        range: Range,
        bucket_ms: i64,
        app_id: Option<i64>,
    ) -> Result<Vec<TimelinePoint>, StoreError> {
        let bucket_ms = bucket_ms.max(1);
        let buckets = range.end_ms.saturating_sub(range.start_ms) / bucket_ms;
        if buckets > MAX_BUCKETS {
            return Err(StoreError::TooManyBuckets {
                buckets,
                limit: MAX_BUCKETS,
            });
        }
        let pieces = self.pieces(range, coarsest_for(bucket_ms))?;
        let (kind, filter) = match app_id {
            Some(id) => (Kind::Apps, Filter::App(id)),
            None => (Kind::Totals, Filter::None),
        };
        let sql = format!(
            "{} SELECT ts, direction, sum(bytes) FROM usage GROUP BY ts, direction",
            usage_cte(kind, &pieces, filter)
        );
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut points: Vec<TimelinePoint> = self
            .bucket_starts(range, bucket_ms)
            .map(|start_ms| TimelinePoint {
                start_ms,
                sent: 0,
                received: 0,
            })
            .collect();
        rows.into_iter().for_each(|(ts, direction, bytes)| {
            let start = self.bucket_start(ts, range.start_ms, bucket_ms);
            let index = points.partition_point(|point| point.start_ms <= start);
            if let Some(point) = index.checked_sub(1).and_then(|index| points.get_mut(index)) {
                match direction {
                    1 => point.sent += bytes as u64,
                    _ => point.received += bytes as u64,
                }
            }
        });
        Ok(points)
    }

    /// The bucket a time falls in: local days for day-long buckets, else fixed steps from the
    /// range's start.
    fn bucket_start(&self, ts: i64, origin: i64, bucket_ms: i64) -> i64 {
        if bucket_ms >= DAY_MS {
            local_day_start(ts, self.zone())
        } else {
            origin + (ts - origin).div_euclid(bucket_ms) * bucket_ms
        }
    }

    fn bucket_starts(&self, range: Range, bucket_ms: i64) -> impl Iterator<Item = i64> + '_ {
        let first = self.bucket_start(range.start_ms, range.start_ms, bucket_ms);
        std::iter::successors(Some(first), move |start| {
            let next = if bucket_ms >= DAY_MS {
                // The next local day: a day is 23 or 25 hours long across a DST change.
                next_local_day(*start, self.zone())
            } else {
                start + bucket_ms
            };
            (next < range.end_ms).then_some(next)
        })
    }
}

/// Starts of the local day, week (Monday) and month holding `now_ms`.
fn period_starts(now_ms: i64, zone: &jiff::tz::TimeZone) -> Result<(i64, i64, i64), StoreError> {
    let failed = |error: jiff::Error| StoreError::Time(error.to_string());
    let now = jiff::Timestamp::from_millisecond(now_ms)
        .map_err(failed)?
        .to_zoned_datetime(zone.clone());
    let day = now.start_of_day().map_err(failed)?;
    let days_since_monday = i64::from(day.weekday().to_monday_zero_offset());
    let week = day
        .checked_sub(jiff::Span::new().days(days_since_monday))
        .map_err(failed)?
        .start_of_day()
        .map_err(failed)?;
    let month = day
        .first_of_month()
        .map_err(failed)?
        .start_of_day()
        .map_err(failed)?;
    Ok((
        day.timestamp().as_millisecond(),
        week.timestamp().as_millisecond(),
        month.timestamp().as_millisecond(),
    ))
}

/// The oldest time each tier holds (`None` when it is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TierSpans {
    pub raw_oldest_ms: Option<i64>,
    pub hourly_oldest_ms: Option<i64>,
    pub daily_oldest_ms: Option<i64>,
}

impl TierSpans {
    /// The oldest time any tier holds; `None` for an empty history.
    pub fn oldest_ms(&self) -> Option<i64> {
        [
            self.raw_oldest_ms,
            self.hourly_oldest_ms,
            self.daily_oldest_ms,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Store {
    /// How far back each tier reaches.
    pub fn tier_spans(&self) -> Result<TierSpans, StoreError> {
        Ok(self.connection.query_row(
            "SELECT (SELECT min(ts_ms) FROM sample_totals),
                    (SELECT min(hour_ms) FROM hourly_app_totals),
                    (SELECT min(day_ms) FROM daily_app_totals)",
            [],
            |row| {
                Ok(TierSpans {
                    raw_oldest_ms: row.get(0)?,
                    hourly_oldest_ms: row.get(1)?,
                    daily_oldest_ms: row.get(2)?,
                })
            },
        )?)
    }
}

/// One application in detail: its timeline and the processes seen for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppDetail {
    pub app: String,
    pub exe: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub processes: Vec<ProcessRecord>,
    pub points: Vec<TimelinePoint>,
}

/// A process seen for an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ProcessRecord {
    pub pid: u32,
    pub name: String,
    pub last_seen_ms: i64,
}

/// One hostname's usage under a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct HostTotal {
    pub hostname: String,
    pub sent: u64,
    pub received: u64,
}

/// Bytes per local weekday (0 = Monday) and hour.
pub type Heatmap = [[u64; 24]; 7];

/// One local week's usage (weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct WeekTotal {
    pub start_ms: i64,
    pub sent: u64,
    pub received: u64,
}

/// This month so far against the previous month, whole and up to the same point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MonthComparison {
    pub this_month: Totals,
    pub previous_month: Totals,
    pub previous_month_to_date: Totals,
}

/// The rate of the newest sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurrentRate {
    pub start_ms: i64,
    pub end_ms: i64,
    pub sent_per_second: f64,
    pub received_per_second: f64,
}

impl Store {
    /// `app`'s timeline in `range` and its process details; `None` for an unknown application.
    pub fn app_detail(
        &self,
        app: &str,
        range: Range,
        bucket_ms: i64,
    ) -> Result<Option<AppDetail>, StoreError> {
        let found = self
            .connection
            .prepare_cached(
                "SELECT id, exe, first_seen_ms, last_seen_ms FROM applications WHERE name = ?1",
            )?
            .query_row([app], |row| {
                Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()?;
        let Some((id, exe, first_seen_ms, last_seen_ms)) = found else {
            return Ok(None);
        };
        let processes = self
            .connection
            .prepare_cached(
                "SELECT pid, name, last_seen_ms FROM application_processes
                 WHERE app_id = ?1 ORDER BY last_seen_ms DESC, pid",
            )?
            .query_map([id], |row| {
                Ok(ProcessRecord {
                    pid: row.get(0)?,
                    name: row.get(1)?,
                    last_seen_ms: row.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(AppDetail {
            app: app.to_string(),
            exe,
            first_seen_ms,
            last_seen_ms,
            processes,
            points: self.timeline_of(range, bucket_ms, Some(id))?,
        }))
    }

    /// Hostnames under the registrable `domain` in `range`, busiest first.
    pub fn hostnames(
        &self,
        domain: &str,
        range: Range,
        limit: usize,
    ) -> Result<Vec<HostTotal>, StoreError> {
        let pieces = self.pieces(range, Tier::Daily)?;
        let sql = format!(
            "{}, grouped AS (
                SELECT domain_id,
                       coalesce(sum(bytes) FILTER (WHERE direction = 1), 0) AS up,
                       coalesce(sum(bytes) FILTER (WHERE direction = 0), 0) AS down
                FROM usage GROUP BY domain_id)
             SELECT d.hostname, sum(u.up) AS sent, sum(u.down) AS received
             FROM grouped u JOIN domains d ON d.id = u.domain_id WHERE d.domain = ?1
             GROUP BY d.hostname ORDER BY sent + received DESC, 1 LIMIT ?2",
            usage_cte(Kind::Hostnames, &pieces, Filter::DomainParam)
        );
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement.query_map(params![domain, limit as i64], |row| {
            Ok(HostTotal {
                hostname: row.get(0)?,
                sent: row.get::<_, i64>(1)? as u64,
                received: row.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Bytes per local weekday and hour in `range`, from the tiers that keep hours (raw and
    /// hourly; days rolled into the daily tier have no hours left).
    pub fn heatmap(&self, range: Range) -> Result<Heatmap, StoreError> {
        let pieces: Vec<_> = self
            .pieces(range, Tier::Hourly)?
            .into_iter()
            .filter(|piece| piece.tier != Tier::Daily)
            .collect();
        let sql = format!(
            "{} SELECT ts - ((ts % 3600000) + 3600000) % 3600000, sum(bytes) FROM usage GROUP BY 1",
            usage_cte(Kind::Totals, &pieces, Filter::None)
        );
        let mut statement = self.connection.prepare(&sql)?;
        let hours = statement
            .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut grid: Heatmap = [[0; 24]; 7];
        hours.into_iter().for_each(|(hour_ms, bytes)| {
            if let Some((weekday, hour)) = local_weekday_hour(hour_ms, self.zone()) {
                grid[weekday][hour] += bytes as u64;
            }
        });
        Ok(grid)
    }

    /// The last `weeks` local weeks (Monday to Monday) up to `now_ms`, oldest first.
    pub fn weekly_trend(&self, now_ms: i64, weeks: usize) -> Result<Vec<WeekTotal>, StoreError> {
        let (_, this_week, _) = period_starts(now_ms, self.zone())?;
        let starts: Vec<i64> = std::iter::successors(Some(this_week), |start| {
            Some(local_day_start(
                start - 6 * DAY_MS - DAY_MS / 2,
                self.zone(),
            ))
        })
        .take(weeks)
        .collect();
        starts
            .iter()
            .rev()
            .map(|start_ms| {
                let end_ms = starts
                    .iter()
                    .filter(|later| *later > start_ms)
                    .min()
                    .copied()
                    .unwrap_or(now_ms + 1);
                let totals = self.totals(Range {
                    start_ms: *start_ms,
                    end_ms,
                })?;
                Ok(WeekTotal {
                    start_ms: *start_ms,
                    sent: totals.sent,
                    received: totals.received,
                })
            })
            .collect()
    }

    /// This month so far against the previous month, in the store's time zone.
    pub fn month_comparison(&self, now_ms: i64) -> Result<MonthComparison, StoreError> {
        let failed = |error: jiff::Error| StoreError::Time(error.to_string());
        let now = jiff::Timestamp::from_millisecond(now_ms)
            .map_err(failed)?
            .to_zoned_datetime(self.zone().clone());
        let this_month = now
            .first_of_month()
            .map_err(failed)?
            .start_of_day()
            .map_err(failed)?;
        let previous = this_month
            .checked_sub(jiff::Span::new().months(1))
            .map_err(failed)?;
        let same_point = now
            .checked_sub(jiff::Span::new().months(1))
            .map_err(failed)?;
        let ms = |zoned: &jiff::ZonedDateTime| zoned.timestamp().as_millisecond();
        let range = |start_ms, end_ms| Range { start_ms, end_ms };
        Ok(MonthComparison {
            this_month: self.totals(range(ms(&this_month), now_ms + 1))?,
            previous_month: self.totals(range(ms(&previous), ms(&this_month)))?,
            previous_month_to_date: self.totals(range(ms(&previous), ms(&same_point) + 1))?,
        })
    }

    /// The rate of the newest raw sample, if any.
    pub fn current_rate(&self) -> Result<Option<CurrentRate>, StoreError> {
        let newest = self
            .connection
            .prepare_cached(
                "SELECT ts_ms, max(duration_ms),
                        coalesce(sum(bytes) FILTER (WHERE direction = 1), 0),
                        coalesce(sum(bytes) FILTER (WHERE direction = 0), 0)
                 FROM sample_totals WHERE ts_ms = (SELECT max(ts_ms) FROM sample_totals)
                 GROUP BY ts_ms",
            )?
            .query_row([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        Ok(newest.map(|(start_ms, duration_ms, sent, received)| {
            let seconds = duration_ms.max(1) as f64 / 1000.0;
            CurrentRate {
                start_ms,
                end_ms: start_ms + duration_ms,
                sent_per_second: sent as f64 / seconds,
                received_per_second: received as f64 / seconds,
            }
        }))
    }
}

/// Local weekday (0 = Monday) and hour of a time.
fn local_weekday_hour(ms: i64, zone: &jiff::tz::TimeZone) -> Option<(usize, usize)> {
    let local = jiff::Timestamp::from_millisecond(ms)
        .ok()?
        .to_zoned_datetime(zone.clone());
    let weekday = usize::try_from(local.weekday().to_monday_zero_offset()).ok()?;
    let hour = usize::try_from(local.hour()).ok()?;
    (weekday < 7 && hour < 24).then_some((weekday, hour))
}
