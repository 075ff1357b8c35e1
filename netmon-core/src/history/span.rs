//! The one grammar for points and spans of history, spoken by `netmon … --since/--until/--before`
//! and by the API's `range=`, `start_ms`/`end_ms` and purge `before`:
//!
//! - a **point** is a duration back from now (`90m`, `24h`, `7d`, `2w`: a positive whole number
//!   and one of `m`, `h`, `d`, `w`) or a local date (`2026-11-01`: its local midnight);
//! - a **span** runs from a start point to an end point (now when left out), end excluded;
//! - every time lies from 1970 to 2999, the start before the end.
//!
//! Errors say what was given and what is accepted; callers put the name of the parameter in
//! front (`--since "1y": give …`, `"range": "1y": give …`), so the wording is the same everywhere.

use jiff::tz::TimeZone;

use crate::store::Range;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The latest time a span may reach (the start of the year 3000, in ms): a timeline over wider
/// spans would need more buckets than memory holds.
pub const MAX_TIME_MS: i64 = 32_503_680_000_000;

/// Why a point or span was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("{0:?}: give a duration such as 24h, 7d, 90m or 2w, or a date such as 2026-11-01")]
    Unreadable(String),
    #[error("{date} has no local midnight in this time zone ({reason})")]
    NoMidnight { date: String, reason: String },
    #[error("{0} is not a time from 1970 to 2999 in milliseconds")]
    OutOfRange(i64),
    #[error("{start} is not before {end}: give a start earlier than the end")]
    Empty { start: String, end: String },
}

/// `5m`, `24h`, `7d`, `2w` as milliseconds (`None` for anything else, zero and negatives
/// included).
pub fn duration_ms(text: &str) -> Option<i64> {
    let unit_ms = |unit: char| match unit {
        'm' => Some(MINUTE_MS),
        'h' => Some(HOUR_MS),
        'd' => Some(DAY_MS),
        'w' => Some(7 * DAY_MS),
        _ => None,
    };
    let text = text.trim();
    text.char_indices()
        .last()
        .and_then(|(at, unit)| Some((text[..at].parse::<i64>().ok()?, unit_ms(unit)?)))
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| count.saturating_mul(unit))
}

/// The local midnight starting `date` in `zone`, in ms.
pub fn local_midnight(date: jiff::civil::Date, zone: &TimeZone) -> Result<i64, SpanError> {
    date.to_zoned_datetime(zone.clone())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .map_err(|error| SpanError::NoMidnight {
            date: date.to_string(),
            reason: error.to_string(),
        })
}

/// A point as of `now_ms`: a duration back from now (never before 1970) or a local date's
/// midnight (from 1970 to 2999).
pub fn point(text: &str, now_ms: i64, zone: &TimeZone) -> Result<i64, SpanError> {
    if let Some(ms) = duration_ms(text) {
        return Ok(now_ms.saturating_sub(ms).max(0));
    }
    let date = text
        .trim()
        .parse::<jiff::civil::Date>()
        .map_err(|_| SpanError::Unreadable(text.to_string()))?;
    checked_time(local_midnight(date, zone)?)
}

/// `ms` when it lies from 1970 to 2999.
pub fn checked_time(ms: i64) -> Result<i64, SpanError> {
    if (0..=MAX_TIME_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(SpanError::OutOfRange(ms))
    }
}

/// Which end of a span a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Start,
    End,
}

/// A problem with one end of a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanProblem {
    pub end: End,
    pub error: SpanError,
}

impl SpanProblem {
    /// The problem in the caller's words: the name of the parameter at fault (`--since` or
    /// `--until`, `"start_ms"` or `"end_ms"`) before the error.
    pub fn describe(&self, start_name: &str, end_name: &str) -> String {
        let name = match self.end {
            End::Start => start_name,
            End::End => end_name,
        };
        format!("{name} {}", self.error)
    }
}

/// The span from point `since` to point `until` (now when `None`, not included) as of `now_ms`.
pub fn window(
    since: &str,
    until: Option<&str>,
    now_ms: i64,
    zone: &TimeZone,
) -> Result<Range, SpanProblem> {
    let start_ms = point(since, now_ms, zone).map_err(|error| SpanProblem {
        end: End::Start,
        error,
    })?;
    let end_ms = match until {
        Some(text) => point(text, now_ms, zone).map_err(|error| SpanProblem {
            end: End::End,
            error,
        })?,
        None => now_ms,
    };
    between(start_ms, end_ms).map_err(|problem| match problem.error {
        SpanError::Empty { .. } => SpanProblem {
            error: SpanError::Empty {
                start: since.trim().to_string(),
                end: until.unwrap_or("now").trim().to_string(),
            },
            ..problem
        },
        _ => problem,
    })
}

/// The span of two times in ms, each from 1970 to 2999, the start before the end.
pub fn between(start_ms: i64, end_ms: i64) -> Result<Range, SpanProblem> {
    let problem = |end, error| SpanProblem { end, error };
    checked_time(start_ms).map_err(|error| problem(End::Start, error))?;
    checked_time(end_ms).map_err(|error| problem(End::End, error))?;
    if start_ms >= end_ms {
        return Err(problem(
            End::Start,
            SpanError::Empty {
                start: start_ms.to_string(),
                end: end_ms.to_string(),
            },
        ));
    }
    Ok(Range { start_ms, end_ms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn points_are_durations_or_dates() {
        let zone = TimeZone::UTC;
        assert_eq!(point("24h", NOW, &zone), Ok(NOW - DAY_MS));
        assert_eq!(point(" 7d ", NOW, &zone), Ok(NOW - 7 * DAY_MS));
        assert_eq!(point("90m", NOW, &zone), Ok(NOW - 90 * MINUTE_MS));
        assert_eq!(point("2w", NOW, &zone), Ok(NOW - 14 * DAY_MS));
        assert_eq!(point("2026-11-01", NOW, &zone), Ok(1_793_491_200_000));
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            point("2026-11-01", NOW, &paris),
            Ok(1_793_491_200_000 - HOUR_MS)
        );
    }

    #[test]
    fn long_durations_stop_at_1970() {
        assert_eq!(point("999999999w", NOW, &TimeZone::UTC), Ok(0));
    }

    #[test]
    fn unreadable_points_say_what_is_accepted() {
        for bad in [
            "",
            "7",
            "0d",
            "-3d",
            "1y",
            "yesterday",
            "2026-13-01",
            "24 h",
        ] {
            let error = point(bad, NOW, &TimeZone::UTC).unwrap_err().to_string();
            assert_eq!(
                error,
                format!("{bad:?}: give a duration such as 24h, 7d, 90m or 2w, or a date such as 2026-11-01")
            );
        }
    }

    #[test]
    fn dates_outside_1970_to_2999_are_refused() {
        for (date, ms) in [("1969-12-31", -DAY_MS), ("3000-01-01", MAX_TIME_MS)] {
            let expected = if ms == MAX_TIME_MS {
                Ok(ms)
            } else {
                Err(SpanError::OutOfRange(ms))
            };
            assert_eq!(point(date, NOW, &TimeZone::UTC), expected, "{date}");
        }
        assert_eq!(
            point("3000-01-02", NOW, &TimeZone::UTC),
            Err(SpanError::OutOfRange(MAX_TIME_MS + DAY_MS))
        );
    }

    #[test]
    fn windows_end_now_unless_told_and_must_not_be_empty() {
        let zone = TimeZone::UTC;
        assert_eq!(
            window("1d", None, NOW, &zone),
            Ok(Range {
                start_ms: NOW - DAY_MS,
                end_ms: NOW
            })
        );
        let problem = window("1d", Some("2d"), NOW, &zone).unwrap_err();
        assert_eq!(
            problem.describe("--since", "--until"),
            "--since 1d is not before 2d: give a start earlier than the end"
        );
        assert_eq!(
            window("1d", Some("x"), NOW, &zone)
                .unwrap_err()
                .describe("--since", "--until"),
            "--until \"x\": give a duration such as 24h, 7d, 90m or 2w, or a date such as 2026-11-01"
        );
        assert_eq!(
            window("x", Some("2d"), NOW, &zone).unwrap_err().end,
            End::Start
        );
        assert_eq!(
            window("2d", Some("x"), NOW, &zone).unwrap_err().end,
            End::End
        );
    }

    #[test]
    fn spans_of_times_are_bounded_and_ordered() {
        assert_eq!(
            between(1, 2),
            Ok(Range {
                start_ms: 1,
                end_ms: 2
            })
        );
        assert_eq!(between(-1, 2).unwrap_err().end, End::Start);
        assert_eq!(between(1, MAX_TIME_MS + 1).unwrap_err().end, End::End);
        assert!(matches!(
            between(2, 2).unwrap_err().error,
            SpanError::Empty { .. }
        ));
    }

    proptest! {
        #[test]
        fn every_duration_is_a_point_that_far_back(count in 1i64..100_000, unit in "[mhdw]") {
            let unit_ms = match unit.as_str() {
                "m" => MINUTE_MS, "h" => HOUR_MS, "d" => DAY_MS, _ => 7 * DAY_MS,
            };
            let text = format!("{count}{unit}");
            prop_assert_eq!(point(&text, NOW, &TimeZone::UTC), Ok((NOW - count * unit_ms).max(0)));
        }

        #[test]
        fn any_text_is_a_point_or_a_clear_error(text in "\\PC{0,12}") {
            match point(&text, NOW, &TimeZone::UTC) {
                Ok(ms) => prop_assert!((0..=MAX_TIME_MS).contains(&ms)),
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }
    }
}
