//! The daemon's local API as the menubar reads it: the answers' shapes, the SSE line format,
//! and a small blocking client for `http://127.0.0.1:PORT`.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use netmon_core::condition::Condition;
use serde::Deserialize;

/// Bytes sent and received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Totals {
    pub sent: u64,
    pub received: u64,
}

impl Totals {
    pub fn total(&self) -> u64 {
        self.sent.saturating_add(self.received)
    }
}

/// `/api/summary` (the month is not shown, so not read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Summary {
    pub today: Totals,
    pub week: Totals,
}

/// One application of `/api/apps`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AppTotals {
    pub app: String,
    pub sent: u64,
    pub received: u64,
}

impl AppTotals {
    pub fn total(&self) -> u64 {
        self.sent.saturating_add(self.received)
    }
}

/// The rates of one `/api/live` event.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
pub struct LiveRates {
    pub received_bytes_per_second: f64,
    pub sent_bytes_per_second: f64,
}

impl LiveRates {
    /// Both directions together.
    pub fn total(&self) -> f64 {
        self.received_bytes_per_second + self.sent_bytes_per_second
    }
}

/// The part of `/api/status` the menubar needs: the pause flag and how the monitor runs
/// (capture mode, files set aside or ignored at start; absent fields from an older daemon
/// read as nothing wrong).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Status {
    pub paused: bool,
    #[serde(flatten)]
    pub condition: Condition,
}

/// The payload of an SSE `data:` line, if the line is one.
pub fn sse_data(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("data:")?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// A live event's rates; `None` for anything else (keep-alives, comments, malformed data).
pub fn live_event(line: &str) -> Option<LiveRates> {
    sse_data(line).and_then(|data| serde_json::from_str(data).ok())
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the netmon daemon does not answer at {url}: {source}")]
    Unreachable { url: String, source: ureq::Error },
    #[error("the netmon daemon answered {url} with status {status}")]
    Status { url: String, status: u16 },
    #[error("cannot read the answer of {url}: {source}")]
    Body { url: String, source: ureq::Error },
}

impl ApiError {
    /// Whether the daemon is not there at all (rather than answering badly).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ApiError::Unreachable { .. })
    }
}

/// A blocking client of the daemon on 127.0.0.1.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    stream: ureq::Agent,
}

impl Client {
    pub fn new(port: u16) -> Self {
        let agent = |timeout: Option<Duration>| -> ureq::Agent {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(2)))
                .timeout_global(timeout)
                .build()
                .into()
        };
        Self {
            base: format!("http://127.0.0.1:{port}"),
            agent: agent(Some(Duration::from_secs(10))),
            stream: agent(None),
        }
    }

    /// The dashboard's address.
    pub fn dashboard_url(&self) -> &str {
        &self.base
    }

    pub fn status(&self) -> Result<Status, ApiError> {
        self.get_json("/api/status", &[])
    }

    pub fn summary(&self) -> Result<Summary, ApiError> {
        self.get_json("/api/summary", &[])
    }

    /// Applications from `start_ms` until now, busiest first.
    pub fn apps_since(&self, start_ms: i64, end_ms: i64) -> Result<Vec<AppTotals>, ApiError> {
        let (start, end, limit) = (start_ms.to_string(), end_ms.to_string(), "3".to_string());
        self.get_json(
            "/api/apps",
            &[("start_ms", &start), ("end_ms", &end), ("limit", &limit)],
        )
    }

    /// The newest alerts the daemon raised (`/api/alerts`).
    pub fn alerts(&self) -> Result<Vec<crate::notify::RaisedAlert>, ApiError> {
        self.get_json("/api/alerts", &[("limit", "20")])
    }

    /// The user's budgets (`/api/budgets`).
    pub fn budgets(&self) -> Result<Vec<crate::notify::ListedBudget>, ApiError> {
        self.get_json("/api/budgets", &[])
    }

    /// Pauses (`true`) or resumes monitoring.
    pub fn set_paused(&self, paused: bool) -> Result<(), ApiError> {
        let path = if paused {
            "/api/monitoring/pause"
        } else {
            "/api/monitoring/resume"
        };
        let url = format!("{}{path}", self.base);
        let sent = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send_empty();
        answered(&url, sent).map(|_| ())
    }

    /// Follows `/api/live`, calling `on_rates` for every sample, until the stream ends or fails.
    pub fn follow_live(&self, mut on_rates: impl FnMut(LiveRates)) -> Result<(), ApiError> {
        let url = format!("{}/api/live", self.base);
        let sent = self
            .stream
            .get(&url)
            .header("Accept", "text/event-stream")
            .call();
        let mut response = answered(&url, sent)?;
        BufReader::new(response.body_mut().as_reader())
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| live_event(&line))
            .for_each(&mut on_rates);
        Ok(())
    }

    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.base);
        let sent = self
            .agent
            .get(&url)
            .query_pairs(query.iter().copied())
            .call();
        answered(&url, sent)?
            .body_mut()
            .read_json()
            .map_err(|source| ApiError::Body { url, source })
    }
}

/// The response to a request sent to `url`, or why there is none: the daemon did not answer,
/// or answered with a status other than 2xx.
fn answered(
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<ureq::http::Response<ureq::Body>, ApiError> {
    let response = sent.map_err(|source| ApiError::Unreachable {
        url: url.to_string(),
        source,
    })?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        Ok(response)
    } else {
        Err(ApiError::Status {
            url: url.to_string(),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_lines_give_live_rates_only() {
        let event = r#"data: {"start_ms":1,"end_ms":2,"received_bytes_per_second":1500.5,"sent_bytes_per_second":20.0,"packets_per_second":3.0,"active_flows":1,"apps":[]}"#;
        assert_eq!(
            live_event(event),
            Some(LiveRates {
                received_bytes_per_second: 1500.5,
                sent_bytes_per_second: 20.0
            })
        );
        assert_eq!(sse_data("data:{}"), Some("{}"));
        for other in [
            "",
            ": keep-alive",
            "event: message",
            "id: 3",
            "data: not json",
        ] {
            assert_eq!(live_event(other), None, "{other:?}");
        }
    }

    #[test]
    fn summary_and_apps_parse_the_api_shapes() {
        let summary: Summary = serde_json::from_str(
            r#"{"today":{"sent":1,"received":2},"week":{"sent":3,"received":4},"month":{"sent":5,"received":6}}"#,
        )
        .unwrap();
        assert_eq!(summary.week.total(), 7);
        let apps: Vec<AppTotals> =
            serde_json::from_str(r#"[{"app":"curl","sent":1,"received":9,"last_seen_ms":5}]"#)
                .unwrap();
        assert_eq!(apps[0].total(), 10);
    }

    #[test]
    fn status_reads_the_condition_and_tolerates_an_older_daemon() {
        let status: Status = serde_json::from_str(
            r#"{"paused":false,"capture":"nettop","capture_fix":"sudo netmon install","problems":[],"database_set_aside":"/h/x.corrupt-1"}"#,
        )
        .unwrap();
        assert_eq!(
            status.condition.capture,
            Some(netmon_core::condition::CaptureMode::Nettop)
        );
        assert_eq!(
            status.condition.database_set_aside.as_deref(),
            Some("/h/x.corrupt-1")
        );
        let older: Status = serde_json::from_str(r#"{"paused":true,"version":"0.1.0"}"#).unwrap();
        assert_eq!(older.condition, Condition::default());
    }

    #[test]
    fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = Client::new(port).status().unwrap_err();
        assert!(error.is_unreachable(), "{error}");
        assert!(error.to_string().contains("does not answer"), "{error}");
    }
}
