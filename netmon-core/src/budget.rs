//! Budgets: a limit in bytes on a scope (everything, one application, one registrable domain)
//! per day, week or month, the month starting on a chosen day (a billing cycle). Pure: the
//! period holding a moment, used / limit / projected at the current pace, and which of the
//! 80 % and 100 % levels a budget has reached. The store keeps budgets and the alerts already
//! raised (`store::budgets`), so each level alerts once per period; `alerts` ties them together.

use jiff::tz::TimeZone;
use jiff::{Span, ZonedDateTime as Zoned};
use serde::{Deserialize, Serialize};

/// Largest limit a budget may have: 1 PB.
pub const MAX_LIMIT_BYTES: u64 = 1_000_000_000_000_000;
/// First days of the month a billing cycle may start on (every month has them).
pub const MONTH_START_DAYS: std::ops::RangeInclusive<u8> = 1..=28;
/// Longest application or domain name a budget names.
const MAX_NAME_LEN: usize = 253;

/// What a budget counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Scope {
    /// Every byte, sent and received.
    All,
    /// One application, by its name in history.
    App(String),
    /// One registrable domain (`netflix.com`).
    Domain(String),
}

impl Scope {
    /// `all`, `app` or `domain`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::App(_) => "app",
            Self::Domain(_) => "domain",
        }
    }

    /// The application or domain (empty for everything).
    pub fn name(&self) -> &str {
        match self {
            Self::All => "",
            Self::App(name) | Self::Domain(name) => name,
        }
    }

    /// Builds a scope from its kind and name, naming what is wrong.
    pub fn parse(kind: &str, name: Option<&str>) -> Result<Self, String> {
        let name = name.map(str::trim).filter(|name| !name.is_empty());
        let named = |make: fn(String) -> Self, what: &str| {
            match name {
            Some(name) if name.len() <= MAX_NAME_LEN && !name.chars().any(char::is_control) => {
                Ok(make(name.to_string()))
            }
            Some(_) => Err(format!(
                "\"name\": the {what} name must be at most {MAX_NAME_LEN} characters, without control characters"
            )),
            None => Err(format!("\"name\": a budget on one {what} needs its name")),
        }
        };
        match kind {
            "all" if name.is_none() => Ok(Self::All),
            "all" => Err("\"name\": a budget on everything takes no name".into()),
            "app" => named(Self::App, "application"),
            "domain" => named(|name| Self::Domain(name.to_ascii_lowercase()), "domain"),
            other => Err(format!(
                "\"scope\": {other:?} is not one of all, app, domain"
            )),
        }
    }

    /// How a person reads the scope: `everything`, `Dropbox`, `netflix.com`.
    pub fn describe(&self) -> String {
        match self {
            Self::All => "everything".into(),
            Self::App(name) | Self::Domain(name) => name.clone(),
        }
    }
}

/// How long a budget's period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    /// From Monday.
    Week,
    /// From the budget's first day of the month.
    Month,
}

impl Period {
    pub const CHOICES: [(&'static str, Self); 3] = [
        ("day", Self::Day),
        ("week", Self::Week),
        ("month", Self::Month),
    ];

    pub fn name(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(_, period)| *period == self)
            .map_or("day", |(name, _)| name)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::CHOICES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, period)| *period)
            .ok_or_else(|| format!("\"period\": {text:?} is not one of day, week, month"))
    }
}

/// A budget as the user defines it (validated by [`BudgetSpec::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetSpec {
    pub scope: Scope,
    pub period: Period,
    pub limit_bytes: u64,
    /// The day of the month a monthly period starts on (1 for other periods).
    pub month_start_day: u8,
}

impl BudgetSpec {
    /// Validates every field at once; the problems name the field and what is allowed.
    pub fn new(
        scope: Result<Scope, String>,
        period: Result<Period, String>,
        limit_bytes: u64,
        month_start_day: Option<u8>,
    ) -> Result<Self, Vec<String>> {
        let limit = (1..=MAX_LIMIT_BYTES)
            .contains(&limit_bytes)
            .then_some(limit_bytes)
            .ok_or(format!(
                "\"limit_bytes\": {limit_bytes} is not from 1 to {MAX_LIMIT_BYTES}"
            ));
        let day = match (period.as_ref().ok(), month_start_day) {
            (_, Some(day)) if !MONTH_START_DAYS.contains(&day) => Err(format!(
                "\"month_start_day\": {day} is not from 1 to 28 (every month has those days)"
            )),
            (Some(Period::Month), day) => Ok(day.unwrap_or(1)),
            (_, Some(day)) if day != 1 => {
                Err("\"month_start_day\": only a monthly budget has a first day".into())
            }
            _ => Ok(1),
        };
        match (scope, period, limit, day) {
            (Ok(scope), Ok(period), Ok(limit_bytes), Ok(month_start_day)) => Ok(Self {
                scope,
                period,
                limit_bytes,
                month_start_day,
            }),
            (scope, period, limit, day) => Err([scope.err(), period.err(), limit.err(), day.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// The period holding `now_ms` in `zone`: local midnights, Mondays, or the budget's first
    /// day of the month.
    pub fn period_at(&self, now_ms: i64, zone: &TimeZone) -> Result<Range, jiff::Error> {
        let now = jiff::Timestamp::from_millisecond(now_ms)?.to_zoned_datetime(zone.clone());
        let today = now.start_of_day()?;
        let (start, step) = match self.period {
            Period::Day => (today, Span::new().days(1)),
            Period::Week => {
                let back = i64::from(today.weekday().to_monday_zero_offset());
                (back_days(&today, back)?, Span::new().weeks(1))
            }
            Period::Month => (
                month_start(&today, self.month_start_day)?,
                Span::new().months(1),
            ),
        };
        let end = start.checked_add(step)?.start_of_day()?;
        Ok(Range {
            start_ms: start.timestamp().as_millisecond(),
            end_ms: end.timestamp().as_millisecond(),
        })
    }
}

/// `days` local days before `day`'s midnight.
fn back_days(day: &Zoned, days: i64) -> Result<Zoned, jiff::Error> {
    day.checked_sub(Span::new().days(days))?.start_of_day()
}

/// The midnight of the latest `first` day of a month that is not after `today`.
fn month_start(today: &Zoned, first: u8) -> Result<Zoned, jiff::Error> {
    let this_month = today
        .first_of_month()?
        .checked_add(Span::new().days(i64::from(first) - 1))?;
    let start = if this_month.date() <= today.date() {
        this_month
    } else {
        this_month.checked_sub(Span::new().months(1))?
    };
    start.start_of_day()
}

/// A half-open span of time, ms since the epoch (as `store::Range`, which the store reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// A budget kept in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub id: i64,
    pub spec: BudgetSpec,
    pub created_ms: i64,
}

/// One budget's state in its current period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Progress {
    pub period_start_ms: i64,
    pub period_end_ms: i64,
    pub used_bytes: u64,
    pub limit_bytes: u64,
    /// Bytes at the end of the period if the pace so far goes on.
    pub projected_bytes: u64,
    /// `used_bytes` as a percentage of the limit.
    pub percent: f64,
}

/// Used, limit and projection of a budget whose period is `period`, as of `now_ms`. The pace
/// is measured over at least an hour, so a period's first minutes do not project wildly.
pub fn progress(used_bytes: u64, limit_bytes: u64, period: Range, now_ms: i64) -> Progress {
    let length = (period.end_ms - period.start_ms).max(1) as f64;
    let elapsed = (now_ms - period.start_ms).clamp(0, period.end_ms - period.start_ms) as f64;
    let elapsed = elapsed.max((3_600_000f64).min(length));
    let projected = (used_bytes as f64 * length / elapsed).max(used_bytes as f64);
    Progress {
        period_start_ms: period.start_ms,
        period_end_ms: period.end_ms,
        used_bytes,
        limit_bytes,
        projected_bytes: projected.min(u64::MAX as f64) as u64,
        percent: used_bytes as f64 * 100.0 / limit_bytes.max(1) as f64,
    }
}

/// A level of a budget that raises an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 80 % used.
    Warning,
    /// The whole limit used.
    Exceeded,
}

impl Level {
    pub const ALL: [Self; 2] = [Self::Warning, Self::Exceeded];

    /// The percentage of the limit at which the level is reached.
    pub fn percent(self) -> u64 {
        match self {
            Self::Warning => 80,
            Self::Exceeded => 100,
        }
    }
}

/// The levels `used_bytes` has reached of `limit_bytes`, lowest first (exact integer test:
/// 80 % is reached at `used * 100 >= limit * 80`).
pub fn levels_reached(used_bytes: u64, limit_bytes: u64) -> Vec<Level> {
    Level::ALL
        .into_iter()
        .filter(|level| {
            u128::from(used_bytes) * 100 >= u128::from(limit_bytes) * u128::from(level.percent())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn zone() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::ZonedDateTime>()
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn spec(period: Period, day: Option<u8>) -> BudgetSpec {
        BudgetSpec::new(Ok(Scope::All), Ok(period), 1000, day).unwrap()
    }

    #[test]
    fn periods_start_at_local_midnight_monday_and_the_chosen_day() {
        let now = ms("2026-11-30T10:00[Europe/Berlin]"); // a Monday
        let day = spec(Period::Day, None).period_at(now, &zone()).unwrap();
        assert_eq!(day.start_ms, ms("2026-11-30T00:00[Europe/Berlin]"));
        assert_eq!(day.end_ms, ms("2026-12-01T00:00[Europe/Berlin]"));
        let sunday = ms("2026-11-29T23:59[Europe/Berlin]");
        let week = spec(Period::Week, None).period_at(sunday, &zone()).unwrap();
        assert_eq!(week.start_ms, ms("2026-11-23T00:00[Europe/Berlin]"));
        assert_eq!(week.end_ms, ms("2026-11-30T00:00[Europe/Berlin]"));
        let billing = spec(Period::Month, Some(15));
        let month = billing.period_at(now, &zone()).unwrap();
        assert_eq!(month.start_ms, ms("2026-11-15T00:00[Europe/Berlin]"));
        assert_eq!(month.end_ms, ms("2026-12-15T00:00[Europe/Berlin]"));
        let before = billing
            .period_at(ms("2026-11-14T23:00[Europe/Berlin]"), &zone())
            .unwrap();
        assert_eq!(before.start_ms, ms("2026-10-15T00:00[Europe/Berlin]"));
        assert_eq!(before.end_ms, ms("2026-11-15T00:00[Europe/Berlin]"));
        // The day of a change to summer time has 23 hours.
        let short = spec(Period::Day, None)
            .period_at(ms("2026-03-29T12:00[Europe/Berlin]"), &zone())
            .unwrap();
        assert_eq!(short.end_ms - short.start_ms, 23 * 3_600_000);
    }

    #[test]
    fn bad_budgets_name_every_problem() {
        let problems = BudgetSpec::new(
            Scope::parse("app", None),
            Period::parse("year"),
            0,
            Some(31),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("needs its name"));
        assert!(problems[1].contains("\"year\" is not one of day, week, month"));
        assert!(problems[2].contains("\"limit_bytes\": 0"));
        assert!(problems[3].contains("31 is not from 1 to 28"));
        let weekly = BudgetSpec::new(Ok(Scope::All), Ok(Period::Week), 5, Some(3)).unwrap_err();
        assert!(weekly[0].contains("only a monthly budget"), "{weekly:?}");
        assert!(Scope::parse("all", Some("x")).is_err());
        assert!(Scope::parse("host", None)
            .unwrap_err()
            .contains("all, app, domain"));
        assert_eq!(
            Scope::parse("domain", Some(" Netflix.COM ")),
            Ok(Scope::Domain("netflix.com".into()))
        );
    }

    #[test]
    fn progress_projects_the_pace_over_the_whole_period() {
        let period = Range {
            start_ms: 0,
            end_ms: 10 * 3_600_000,
        };
        let half = progress(400, 1000, period, 5 * 3_600_000);
        assert_eq!(half.projected_bytes, 800);
        assert_eq!(half.percent, 40.0);
        // Minutes into a period: the pace is taken over an hour, not a minute.
        let early = progress(100, 1000, period, 60_000);
        assert_eq!(early.projected_bytes, 1000);
        let after = progress(1200, 1000, period, 20 * 3_600_000);
        assert_eq!(after.projected_bytes, 1200);
    }

    #[test]
    fn levels_are_reached_at_exactly_80_and_100_percent() {
        assert!(levels_reached(799, 1000).is_empty());
        assert_eq!(levels_reached(800, 1000), vec![Level::Warning]);
        assert_eq!(levels_reached(999, 1000), vec![Level::Warning]);
        assert_eq!(
            levels_reached(1000, 1000),
            vec![Level::Warning, Level::Exceeded]
        );
        assert_eq!(levels_reached(u64::MAX, MAX_LIMIT_BYTES).len(), 2);
    }

    proptest! {
        #[test]
        fn any_moment_lies_in_its_period(now in 0i64..4_000_000_000_000, day in 1u8..=28, which in 0usize..3) {
            let spec = spec(Period::CHOICES[which].1, (which == 2).then_some(day));
            let period = spec.period_at(now, &zone()).unwrap();
            prop_assert!(period.start_ms <= now && now < period.end_ms);
            // The next period starts where this one ends.
            let next = spec.period_at(period.end_ms, &zone()).unwrap();
            prop_assert_eq!(next.start_ms, period.end_ms);
        }

        #[test]
        fn levels_grow_with_use(used in 0u64..10_000, more in 0u64..10_000, limit in 1u64..10_000) {
            let before = levels_reached(used, limit);
            let after = levels_reached(used + more, limit);
            prop_assert!(before.iter().all(|level| after.contains(level)));
        }
    }
}
