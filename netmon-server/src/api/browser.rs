//! `/browser/…`: what the browser extension reports (the active tab's domain, per-hostname
//! traffic), validated before anything is kept, and what it has reported so far.

use netmon_core::domains::rollup;
use netmon_core::logging;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::common::{Problems, Tag};
use crate::state::{ActiveTab, AppState, HostTraffic};

/// Longest browser name accepted from the extension.
const MAX_BROWSER: usize = 32;
/// Earliest plausible report time (2020-01-01) and the allowed clock skew ahead of now.
const EARLIEST_TIMESTAMP: i64 = 1_577_836_800;
const MAX_FUTURE_SECONDS: i64 = 86_400;
/// Most hostnames in one report from the extension.
const MAX_HOSTS_PER_REPORT: usize = 1000;

/// The active tab's domain, as the browser extension reports it (domain only, never a URL).
#[derive(Debug, Object)]
struct ActiveTabReport {
    /// A hostname such as `netflix.com`.
    domain: String,
    /// Unix time in seconds.
    timestamp: i64,
    /// The reporting browser, e.g. `zen`.
    browser: String,
}

/// What the browser saw of one hostname since its previous report.
#[derive(Debug, Object)]
struct HostReport {
    /// A hostname such as `api.netflix.com`.
    hostname: String,
    /// The server address the browser connected to, when it knows it.
    remote_ip: Option<String>,
    /// Requests completed.
    requests: u64,
    /// Request bytes sent (headers and body), when the browser reports them.
    #[oai(default)]
    bytes_sent: u64,
    /// Response bytes received (headers and body), when the browser reports them.
    #[oai(default)]
    bytes_received: u64,
}

/// The browser extension's batch of per-hostname traffic.
#[derive(Debug, Object)]
struct RequestsReport {
    /// The reporting browser, e.g. `zen`.
    browser: String,
    /// Unix time in seconds.
    timestamp: i64,
    hosts: Vec<HostReport>,
}

/// A hostname's totals from the extension's reports.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct HostTotals {
    hostname: String,
    remote_ip: Option<String>,
    requests: u64,
    bytes_sent: u64,
    bytes_received: u64,
}

/// The active tab the extension last reported.
#[derive(Debug, Object)]
struct ActiveTabView {
    domain: String,
    timestamp: i64,
    browser: String,
}

/// What the browser extension has told netmon since it started.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct BrowserView {
    active_tab: Option<ActiveTabView>,
    hosts: Vec<HostTotals>,
    reports_accepted: u64,
    reports_rejected: u64,
}

#[derive(ApiResponse)]
enum ReportResponse {
    /// The report was accepted.
    #[oai(status = 202)]
    Accepted,
    /// The report was refused and nothing was kept.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
}

/// Reports from the browser extension.
pub(crate) struct BrowserApi {
    state: AppState,
}

impl BrowserApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl BrowserApi {
    /// What the browser extension has reported: the active tab and per-hostname totals.
    #[oai(path = "/browser", method = "get", tag = "Tag::Browser")]
    async fn browser(&self) -> Json<BrowserView> {
        let (reports_accepted, reports_rejected) = self.state.report_counts();
        Json(BrowserView {
            active_tab: self.state.active_tab().map(|tab| ActiveTabView {
                domain: tab.domain,
                timestamp: tab.timestamp,
                browser: tab.browser,
            }),
            hosts: self
                .state
                .hosts()
                .into_iter()
                .map(|host| HostTotals {
                    hostname: host.hostname,
                    remote_ip: host.remote_ip.map(|ip| ip.to_string()),
                    requests: host.requests,
                    bytes_sent: host.bytes_sent,
                    bytes_received: host.bytes_received,
                })
                .collect(),
            reports_accepted,
            reports_rejected,
        })
    }

    /// The browser extension's report of the active tab's domain.
    #[oai(path = "/browser/active-tab", method = "post", tag = "Tag::Browser")]
    async fn active_tab(&self, report: Json<ActiveTabReport>) -> ReportResponse {
        let state = &self.state;
        self.count(
            "active tab",
            validate_tab(report.0).map(|tab| state.set_active_tab(tab)),
        )
    }

    /// The browser extension's per-hostname traffic since its previous report.
    #[oai(path = "/browser/requests", method = "post", tag = "Tag::Browser")]
    async fn requests(&self, report: Json<RequestsReport>) -> ReportResponse {
        let state = &self.state;
        self.count(
            "requests",
            validate_requests(report.0).map(|hosts| state.record_hosts(hosts)),
        )
    }
}

impl BrowserApi {
    /// Counts an extension report and logs it to `logs/extension.log`: what kind, and whether it
    /// was accepted (a refusal's problems are not logged, as they may quote what was refused).
    fn count(&self, kind: &'static str, outcome: Result<(), Vec<String>>) -> ReportResponse {
        self.state.count_report(outcome.is_ok());
        match &outcome {
            Ok(()) => tracing::info!(target: logging::EXTENSION, kind, "report accepted"),
            Err(problems) => tracing::warn!(
                target: logging::EXTENSION,
                kind,
                problems = problems.len(),
                "report refused"
            ),
        }
        match outcome {
            Ok(()) => ReportResponse::Accepted,
            Err(problems) => ReportResponse::Invalid(Json(Problems { problems })),
        }
    }
}

/// Checks an active-tab report: a bare hostname (no scheme, path, port or query), a plausible
/// time, a short browser name. Returns the report normalised (lower case) or every problem.
fn validate_tab(report: ActiveTabReport) -> Result<ActiveTab, Vec<String>> {
    let domain = normal_hostname(&report.domain);
    let mut problems = common_problems(&report.browser, report.timestamp);
    if domain.is_none() {
        problems.insert(0, format!("\"domain\": {:?} is not a hostname such as netflix.com (send the domain only, never a URL or an IP address)", report.domain));
    }
    match domain {
        Some(domain) if problems.is_empty() => Ok(ActiveTab {
            domain,
            timestamp: report.timestamp,
            browser: report.browser.trim().to_string(),
        }),
        _ => Err(problems),
    }
}

/// Checks a requests report: a browser name, a plausible time, at most
/// `MAX_HOSTS_PER_REPORT` hostnames, each a bare hostname with a parseable IP if one is given.
fn validate_requests(report: RequestsReport) -> Result<Vec<HostTraffic>, Vec<String>> {
    let mut problems = common_problems(&report.browser, report.timestamp);
    if report.hosts.len() > MAX_HOSTS_PER_REPORT {
        problems.push(format!(
            "\"hosts\": {} entries, at most {MAX_HOSTS_PER_REPORT} per report",
            report.hosts.len()
        ));
    }
    let hosts: Vec<Result<HostTraffic, String>> =
        report.hosts.into_iter().map(host_traffic).collect();
    problems.extend(hosts.iter().filter_map(|host| host.as_ref().err().cloned()));
    if problems.is_empty() {
        Ok(hosts.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(problems)
    }
}

fn host_traffic(report: HostReport) -> Result<HostTraffic, String> {
    let hostname = normal_hostname(&report.hostname).ok_or_else(|| {
        format!(
            "\"hostname\": {:?} is not a hostname (send hostnames only, never URLs or IP addresses)",
            report.hostname
        )
    })?;
    let remote_ip = report
        .remote_ip
        .map(|ip| {
            ip.parse()
                .map_err(|_| format!("\"remote_ip\": {ip:?} is not an IP address"))
        })
        .transpose()?;
    Ok(HostTraffic {
        hostname,
        remote_ip,
        requests: report.requests,
        bytes_sent: report.bytes_sent,
        bytes_received: report.bytes_received,
    })
}

/// Problems with the fields every extension report carries.
fn common_problems(browser: &str, timestamp: i64) -> Vec<String> {
    let browser_ok = (1..=MAX_BROWSER).contains(&browser.trim().len());
    let now = unix_now();
    let time_ok = (EARLIEST_TIMESTAMP..=now + MAX_FUTURE_SECONDS).contains(&timestamp);
    [
        (
            browser_ok,
            format!("\"browser\": {browser:?} must be 1 to {MAX_BROWSER} characters"),
        ),
        (
            time_ok,
            format!("\"timestamp\": {timestamp} is not a Unix time in seconds near now"),
        ),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, problem)| problem)
    .collect()
}

/// Lower case, without its trailing dot, if it is a hostname by core's one rule
/// ([`rollup::normalize_name`]): an IP address is not a hostname.
fn normal_hostname(text: &str) -> Option<String> {
    rollup::normalize_name(text.trim())
}

fn unix_now() -> i64 {
    netmon_core::clock::unix_ms() / 1000
}
