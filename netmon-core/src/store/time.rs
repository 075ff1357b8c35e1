//! Time ranges, local buckets and the plan that reads each part of a range from a tier.
//!
//! Rows are keyed by the UTC start of their period: a 5-second sample (raw), an hour (hourly)
//! or a local day (daily). A row belongs to a range when its start does. A range is split into
//! whole local days (daily tier), whole hours (hourly tier) and the ragged ends (raw tier);
//! parts older than a tier's retention are read from the next coarser tier instead.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use super::{Result, StoreError};

const HOUR: i64 = 3600;

/// A half-open interval of time `[start_ms, end_ms)`, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl TimeRange {
    /// A range from two instants; the start must come before the end.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self> {
        if start >= end {
            return Err(StoreError::InvalidRange(format!(
                "the start {start} is not before the end {end}"
            )));
        }
        Ok(Self {
            start_ms: start.as_millisecond(),
            end_ms: end.as_millisecond(),
        })
    }

    /// The `seconds` before `now`.
    pub fn last(seconds: i64, now: Timestamp) -> Result<Self> {
        let start = now.checked_sub(jiff::SignedDuration::from_secs(seconds))?;
        Self::new(start, now)
    }

    /// Local days `first..=last` (whole days, midnight to midnight in `tz`).
    pub fn dates(first: Date, last: Date, tz: &TimeZone) -> Result<Self> {
        let start = first.to_zoned_datetime(tz.clone())?.timestamp();
        let end = last.tomorrow()?.to_zoned_datetime(tz.clone())?.timestamp();
        Self::new(start, end)
    }

    pub(crate) fn start_s(&self) -> i64 {
        self.start_ms.div_euclid(1000)
    }

    /// Whole seconds, rounded up so that a row starting in the last partial second counts.
    pub(crate) fn end_s(&self) -> i64 {
        self.end_ms.div_euclid(1000) + i64::from(self.end_ms.rem_euclid(1000) != 0)
    }

    pub(crate) fn seconds(&self) -> i64 {
        self.end_s() - self.start_s()
    }
}

/// Width of a timeline bucket, in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "unit", content = "seconds")]
pub enum Bucket {
    /// A fixed number of seconds that divides an hour.
    Seconds(i64),
    Hour,
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
}

impl Bucket {
    /// The bucket a timeline of `seconds` is drawn with: at most a few hundred points.
    pub fn for_span(seconds: i64) -> Self {
        const DAY: i64 = 24 * HOUR;
        match seconds {
            s if s <= HOUR => Bucket::Seconds(60),
            s if s <= 6 * HOUR => Bucket::Seconds(300),
            s if s <= 14 * DAY => Bucket::Hour,
            s if s <= 400 * DAY => Bucket::Day,
            s if s <= 5 * 365 * DAY => Bucket::Week,
            _ => Bucket::Month,
        }
    }

    /// The coarsest tier whose rows fit inside one bucket.
    pub(crate) fn coarsest_tier(self) -> Tier {
        match self {
            Bucket::Seconds(_) => Tier::Raw,
            Bucket::Hour => Tier::Hourly,
            Bucket::Day | Bucket::Week | Bucket::Month => Tier::Daily,
        }
    }

    /// Start of the bucket holding `ts` (Unix seconds).
    pub(crate) fn start_of(self, ts: i64, tz: &TimeZone) -> Result<i64> {
        match self {
            Bucket::Seconds(width) => Ok(floor_local(ts, width, tz)?),
            Bucket::Hour => Ok(floor_local(ts, HOUR, tz)?),
            Bucket::Day => local_day_start(ts, tz),
            Bucket::Week => {
                let date = local_date(ts, tz)?;
                let monday =
                    date.checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())?;
                date_start(monday, tz)
            }
            Bucket::Month => date_start(local_date(ts, tz)?.first_of_month(), tz),
        }
    }

    /// Start of the bucket after the one starting at `start`.
    pub(crate) fn next(self, start: i64, tz: &TimeZone) -> Result<i64> {
        let date = || local_date(start, tz);
        match self {
            Bucket::Seconds(width) => Ok(start + width.max(1)),
            Bucket::Hour => Ok(start + HOUR),
            Bucket::Day => date_start(date()?.tomorrow()?, tz),
            Bucket::Week => date_start(date()?.checked_add(1.week())?, tz),
            Bucket::Month => date_start(date()?.checked_add(1.month())?, tz),
        }
    }

    /// Every bucket start covering `range`, in order.
    pub(crate) fn starts(self, range: &TimeRange, tz: &TimeZone) -> Result<Vec<i64>> {
        let end = range.end_s();
        let first = self.start_of(range.start_s(), tz)?;
        let mut starts = vec![first];
        while let Some(&last) = starts.last() {
            let next = self.next(last, tz)?;
            if next >= end || next <= last {
                break;
            }
            starts.push(next);
        }
        Ok(starts)
    }
}

/// Storage tiers, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    Raw,
    Hourly,
    Daily,
}

/// Whether a query needs the hostname of each row or only the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Apps,
    Hosts,
}

impl Tier {
    /// The table holding this tier at `level` (raw samples serve both).
    pub(crate) fn table(self, level: Level) -> &'static str {
        match (self, level) {
            (Tier::Raw, _) => "network_samples",
            (Tier::Hourly, Level::Apps) => "hourly_aggregates",
            (Tier::Daily, Level::Apps) => "daily_aggregates",
            (Tier::Hourly, Level::Hosts) => "hourly_domain_aggregates",
            (Tier::Daily, Level::Hosts) => "daily_domain_aggregates",
        }
    }
}

/// Where the raw and hourly tiers begin after retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Horizons {
    pub raw: i64,
    pub hourly: i64,
}

/// A part of a range read from one tier: rows whose start is in `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub tier: Tier,
    pub start: i64,
    pub end: i64,
}

/// Splits `range` into segments that together hold every row starting in it exactly once,
/// reading the coarsest tier allowed (`coarsest`) where whole periods fit.
pub(crate) fn plan(
    range: &TimeRange,
    coarsest: Tier,
    horizons: Horizons,
    tz: &TimeZone,
) -> Result<Vec<Segment>> {
    let (start, end) = (range.start_s(), range.end_s());
    let shaped = if coarsest == Tier::Daily {
        split_days(start, end, tz)?
    } else {
        vec![Segment {
            tier: Tier::Hourly,
            start,
            end,
        }]
    };
    Ok(shaped
        .into_iter()
        .flat_map(|segment| match (segment.tier, coarsest) {
            (Tier::Hourly, Tier::Raw) => vec![Segment {
                tier: Tier::Raw,
                ..segment
            }],
            (Tier::Hourly, _) => split_hours(segment.start, segment.end),
            _ => vec![segment],
        })
        .flat_map(|segment| fall_back(segment, horizons))
        .filter(|segment| segment.start < segment.end)
        .collect())
}

/// Whole local days as a daily segment, the rest as hour-level segments.
fn split_days(start: i64, end: i64, tz: &TimeZone) -> Result<Vec<Segment>> {
    let first = local_day_start(start, tz)?;
    let day_from = if first == start {
        start
    } else {
        Bucket::Day.next(first, tz)?
    };
    let day_to = local_day_start(end, tz)?;
    if day_from >= day_to {
        return Ok(vec![Segment {
            tier: Tier::Hourly,
            start,
            end,
        }]);
    }
    Ok(vec![
        Segment {
            tier: Tier::Hourly,
            start,
            end: day_from,
        },
        Segment {
            tier: Tier::Daily,
            start: day_from,
            end: day_to,
        },
        Segment {
            tier: Tier::Hourly,
            start: day_to,
            end,
        },
    ])
}

/// Whole hours as an hourly segment, the ragged ends as raw segments.
fn split_hours(start: i64, end: i64) -> Vec<Segment> {
    let hour_from = floor_hour(start + HOUR - 1);
    let hour_to = floor_hour(end);
    if hour_from >= hour_to {
        return vec![Segment {
            tier: Tier::Raw,
            start,
            end,
        }];
    }
    vec![
        Segment {
            tier: Tier::Raw,
            start,
            end: hour_from,
        },
        Segment {
            tier: Tier::Hourly,
            start: hour_from,
            end: hour_to,
        },
        Segment {
            tier: Tier::Raw,
            start: hour_to,
            end,
        },
    ]
}

/// Reads the part of a segment that retention removed from its tier from the next coarser one.
fn fall_back(segment: Segment, horizons: Horizons) -> Vec<Segment> {
    let (horizon, coarser) = match segment.tier {
        Tier::Raw => (horizons.raw, Tier::Hourly),
        Tier::Hourly => (horizons.hourly, Tier::Daily),
        Tier::Daily => return vec![segment],
    };
    if segment.start >= horizon {
        return vec![segment];
    }
    let split = horizon.min(segment.end);
    let older = Segment {
        tier: coarser,
        end: split,
        ..segment
    };
    let newer = Segment {
        start: split,
        ..segment
    };
    let mut parts = fall_back(older, horizons);
    parts.push(newer);
    parts
}

/// Start of the UTC hour holding `ts`.
pub(crate) fn floor_hour(ts: i64) -> i64 {
    ts - ts.rem_euclid(HOUR)
}

/// Start of the local period of `width` seconds holding `ts` (offsets are whole minutes and
/// DST moves them by whole hours, so minute and hour buckets stay `width` apart).
fn floor_local(ts: i64, width: i64, tz: &TimeZone) -> Result<i64> {
    let offset = i64::from(tz.to_offset(Timestamp::from_second(ts)?).seconds());
    Ok(ts - (ts + offset).rem_euclid(width.max(1)))
}

/// The local calendar date of `ts`.
pub(crate) fn local_date(ts: i64, tz: &TimeZone) -> Result<Date> {
    Ok(Timestamp::from_second(ts)?
        .to_zoned_datetime(tz.clone())
        .date())
}

/// The first instant of `date` in `tz`, in Unix seconds.
pub(crate) fn date_start(date: Date, tz: &TimeZone) -> Result<i64> {
    Ok(date.to_zoned_datetime(tz.clone())?.timestamp().as_second())
}

/// Start of the local day holding `ts`, in Unix seconds.
pub(crate) fn local_day_start(ts: i64, tz: &TimeZone) -> Result<i64> {
    date_start(local_date(ts, tz)?, tz)
}

/// `ts` as local time, e.g. `2025-03-09T03:00:00-04:00`.
pub(crate) fn local_label(ts: i64, tz: &TimeZone) -> Result<String> {
    Ok(Timestamp::from_second(ts)?
        .to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string())
}
