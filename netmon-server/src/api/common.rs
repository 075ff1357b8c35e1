//! What the API's resources share: the tags that group operations, the refusal body, the
//! range and limit parameters of history queries (the range grammar itself is core's
//! `history::span`, the CLI's too), and option names as config.json spells them.

use netmon_core::history::span;
use netmon_core::store::{Range, StoreError};
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
    /// Live rates (Server-Sent Events) and the open connections.
    Live,
    /// Reports from the browser extension.
    Browser,
    /// Budgets and the alerts raised.
    Alerts,
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

/// What the history database answered, or why it could not (the 503 body): there is none, or
/// it failed.
pub(crate) fn stored<T>(answer: Option<Result<T, StoreError>>) -> Result<T, Problems> {
    let problem = |text: String| Problems {
        problems: vec![text],
    };
    match answer {
        Some(Ok(answer)) => Ok(answer),
        Some(Err(error)) => Err(problem(error.to_string())),
        None => Err(problem("this server has no history database".into())),
    }
}

pub(crate) fn checked_limit(limit: u32) -> Result<(), Vec<String>> {
    if (1..=1000).contains(&limit) {
        Ok(())
    } else {
        Err(vec![format!("\"limit\": {limit} is not from 1 to 1000")])
    }
}

/// The range a history request asks for: `range` (a point of the shared grammar — `24h`,
/// `7d`, `90m`, `2w`, or a local date — until now; `24h` when nothing is given) or both
/// `start_ms` and `end_ms`.
pub(crate) fn resolve_range(
    named: Option<&str>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Result<Range, Vec<String>> {
    let zone = jiff::tz::TimeZone::system();
    range_at(
        named,
        start_ms,
        end_ms,
        netmon_core::clock::unix_ms(),
        &zone,
    )
}

/// [`resolve_range`] as of `now_ms` in `zone`: the same span `netmon … --since` gives for the
/// same text (netmon_core::history::span), which a test of the CLI checks.
pub fn range_at(
    named: Option<&str>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    now_ms: i64,
    zone: &jiff::tz::TimeZone,
) -> Result<Range, Vec<String>> {
    match (named, start_ms, end_ms) {
        (None, Some(start_ms), Some(end_ms)) => span::between(start_ms, end_ms)
            .map_err(|problem| vec![problem.describe("\"start_ms\"", "\"end_ms\"")]),
        (named, None, None) => span::window(named.unwrap_or("24h"), None, now_ms, zone)
            .map_err(|problem| vec![problem.describe("\"range\"", "\"range\"")]),
        _ => Err(vec![
            "give either \"range\" or both \"start_ms\" and \"end_ms\"".into(),
        ]),
    }
}
