//! What the API's resources share: the tags that group operations, the refusal body, the
//! range and limit parameters of history queries, and option names as config.json spells them.

use netmon_core::store::Range;
use poem_openapi::{Object, Tags};
use serde_json::Value;

#[derive(Tags)]
pub(crate) enum Tag {
    /// Usage history from the database.
    History,
    /// The monitor's state.
    Status,
    /// config.json, read and changed with the same validation as the file.
    Config,
    /// Live rates as Server-Sent Events.
    Live,
    /// Reports from the browser extension.
    Browser,
}

/// Why a request was refused.
#[derive(Debug, Object)]
pub(crate) struct Problems {
    pub(crate) problems: Vec<String>,
}

/// The name an option value has in config.json.
pub(crate) fn name_of(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

pub(crate) fn checked_limit(limit: u32) -> Result<(), Vec<String>> {
    if (1..=1000).contains(&limit) {
        Ok(())
    } else {
        Err(vec![format!("\"limit\": {limit} is not from 1 to 1000")])
    }
}

/// The range a history request asks for, ending now unless both ends are given.
/// The latest time a range may reach (the start of the year 3000, in ms): a timeline over wider
/// ranges would need more buckets than memory holds.
const MAX_TIME_MS: i64 = 32_503_680_000_000;

pub(crate) fn resolve_range(
    named: Option<&str>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Result<Range, Vec<String>> {
    const HOUR_MS: i64 = 3_600_000;
    let now = netmon_core::monitor::unix_ms();
    match (named, start_ms, end_ms) {
        (None, Some(start_ms), Some(_)) if !(0..=MAX_TIME_MS).contains(&start_ms) => {
            Err(vec![format!(
                "\"start_ms\" {start_ms} is not a time from 1970 to 2999 in milliseconds"
            )])
        }
        (None, Some(_), Some(end_ms)) if !(0..=MAX_TIME_MS).contains(&end_ms) => {
            Err(vec![format!(
                "\"end_ms\" {end_ms} is not a time from 1970 to 2999 in milliseconds"
            )])
        }
        (None, Some(start_ms), Some(end_ms)) if start_ms < end_ms => Ok(Range { start_ms, end_ms }),
        (None, Some(start_ms), Some(end_ms)) => Err(vec![format!(
            "\"start_ms\" {start_ms} must be before \"end_ms\" {end_ms}"
        )]),
        (named, None, None) => {
            let hours = match named.unwrap_or("24h") {
                "24h" => 24,
                "7d" => 7 * 24,
                "30d" => 30 * 24,
                other => {
                    return Err(vec![format!(
                        "\"range\": {other:?} is not one of 24h, 7d, 30d"
                    )])
                }
            };
            Ok(Range {
                start_ms: now - hours * HOUR_MS,
                end_ms: now,
            })
        }
        _ => Err(vec![
            "give either \"range\" or both \"start_ms\" and \"end_ms\"".into(),
        ]),
    }
}
