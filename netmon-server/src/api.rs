//! The typed JSON API under `/api` (documented in `/api/openapi.json`, browsable at `/docs`).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use netmon_core::store::{self, Range, Store, StoreError, Totals};
use netmon_core::{logging, Config, Direction, Sample};
use poem_openapi::param::Query;
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde_json::Value;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

use crate::state::{ActiveTab, AppState, ConfigChangeError, HostTraffic};

/// Longest hostname (RFC 1035).
const MAX_DOMAIN: usize = 253;
/// Longest browser name accepted from the extension.
const MAX_BROWSER: usize = 32;
/// Earliest plausible report time (2020-01-01) and the allowed clock skew ahead of now.
const EARLIEST_TIMESTAMP: i64 = 1_577_836_800;
const MAX_FUTURE_SECONDS: i64 = 86_400;
/// Most hostnames in one report from the extension.
const MAX_HOSTS_PER_REPORT: usize = 1000;

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

pub struct Api {
    state: AppState,
}

impl Api {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// What the monitor is doing.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct Status {
    version: String,
    /// The capture source, e.g. `pcap on any`.
    capture_source: String,
    /// Whether netmon runs as root (needed for packet capture).
    privileged: bool,
    uptime_seconds: u64,
    /// Samples taken since start.
    samples: u64,
    paused: bool,
    last_error: Option<String>,
    /// Size of network_monitor.db, when it exists.
    database_bytes: Option<u64>,
}

/// Every configuration option (see docs/configuration.md).
#[derive(Debug, Object)]
struct ConfigDocument {
    sampling_interval_seconds: u64,
    web_server_port: u16,
    log_level: String,
    data_retention_days_raw: u64,
    data_retention_days_hourly: u64,
    capture_method: String,
    domain_rollup: bool,
    high_usage_threshold_gb: f64,
    enable_notifications: bool,
    batch_write_seconds: u64,
    domain_tracking: String,
    browser_apps: Vec<String>,
    capture_interface: String,
}

/// The configuration after a change.
#[derive(Debug, Object)]
struct ConfigChanged {
    config: ConfigDocument,
    /// Changed keys that take effect only after netmon restarts.
    restart_required: Vec<String>,
}

/// Why a request was refused.
#[derive(Debug, Object)]
pub(crate) struct Problems {
    pub(crate) problems: Vec<String>,
}

#[derive(ApiResponse)]
enum ConfigResponse {
    /// The change was applied and saved.
    #[oai(status = 200)]
    Changed(Json<ConfigChanged>),
    /// Nothing was changed: each problem names the key, the value and what is allowed.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// The change was valid but config.json could not be written.
    #[oai(status = 500)]
    NotSaved(Json<Problems>),
}

/// Whether monitoring is paused.
#[derive(Debug, Object)]
struct Monitoring {
    paused: bool,
}

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

/// Bytes sent and received.
#[derive(Debug, Object)]
struct TotalsView {
    sent: u64,
    received: u64,
}

/// Usage today, this week (from Monday) and this month, in this machine's time zone.
#[derive(Debug, Object)]
struct SummaryView {
    today: TotalsView,
    week: TotalsView,
    month: TotalsView,
}

/// One bucket of a timeline.
#[derive(Debug, Object)]
struct PointView {
    start_ms: i64,
    sent: u64,
    received: u64,
}

/// Usage over time, in buckets sized for the range.
#[derive(Debug, Object)]
struct TimelineView {
    start_ms: i64,
    end_ms: i64,
    bucket_ms: i64,
    points: Vec<PointView>,
}

/// One application's usage in a range.
#[derive(Debug, Object)]
struct AppView {
    app: String,
    sent: u64,
    received: u64,
    last_seen_ms: i64,
}

/// One registrable domain's usage in a range.
#[derive(Debug, Object)]
struct DomainView {
    domain: String,
    sent: u64,
    received: u64,
    /// Hostnames under the domain that carried traffic.
    hostnames: u64,
}

/// One application in detail: its timeline and the processes seen for it.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct AppDetailView {
    app: String,
    exe: Option<String>,
    first_seen_ms: i64,
    last_seen_ms: i64,
    processes: Vec<ProcessView>,
    bucket_ms: i64,
    points: Vec<PointView>,
}

/// A process seen for an application.
#[derive(Debug, Object)]
struct ProcessView {
    pid: u32,
    name: String,
    last_seen_ms: i64,
}

/// One hostname's usage under a domain.
#[derive(Debug, Object)]
struct HostnameView {
    hostname: String,
    sent: u64,
    received: u64,
}

/// Bytes per local weekday (row 0 = Monday) and hour (column 0 = midnight).
#[derive(Debug, Object)]
struct HeatmapView {
    bytes: Vec<Vec<u64>>,
}

/// One local week's usage (weeks start on Monday).
#[derive(Debug, Object)]
struct WeekView {
    start_ms: i64,
    sent: u64,
    received: u64,
}

/// This month so far against the previous month, whole and up to the same point.
#[derive(Debug, Object)]
struct MonthsView {
    this_month: TotalsView,
    previous_month: TotalsView,
    previous_month_to_date: TotalsView,
}

/// An answer from the history database.
#[derive(ApiResponse)]
enum HistoryResponse<T: poem_openapi::types::ToJSON> {
    #[oai(status = 200)]
    Ok(Json<T>),
    /// No such application (or domain).
    #[oai(status = 404)]
    NotFound(Json<Problems>),
    /// The range or another parameter is not valid.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// The database could not answer.
    #[oai(status = 503)]
    Unavailable(Json<Problems>),
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

/// Rates of one application during the last sample.
#[derive(Debug, Object)]
struct AppRate {
    app: String,
    received_bytes_per_second: f64,
    sent_bytes_per_second: f64,
}

/// One sample's rates, streamed as it is taken.
#[derive(Debug, Object)]
struct LiveSample {
    start_ms: i64,
    end_ms: i64,
    received_bytes_per_second: f64,
    sent_bytes_per_second: f64,
    packets_per_second: f64,
    active_flows: u64,
    /// Applications, busiest first.
    apps: Vec<AppRate>,
}

type LiveStream = Pin<Box<dyn Stream<Item = LiveSample> + Send>>;

#[OpenApi]
impl Api {
    /// The monitor's status: capture source, privileges, uptime, samples, last error, DB size.
    #[oai(path = "/status", method = "get", tag = "Tag::Status")]
    async fn status(&self) -> Json<Status> {
        let state = &self.state;
        Json(Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            capture_source: state.source(),
            privileged: is_root(),
            uptime_seconds: state.uptime_seconds(),
            samples: state.samples(),
            paused: state.paused(),
            last_error: state.last_error(),
            database_bytes: state.database_bytes(),
        })
    }

    /// The configuration in effect.
    #[oai(path = "/config", method = "get", tag = "Tag::Config")]
    async fn get_config(&self) -> Json<ConfigDocument> {
        Json(ConfigDocument::from(&self.state.config()))
    }

    /// Changes some keys of the configuration (all or nothing) and saves config.json.
    #[oai(path = "/config", method = "put", tag = "Tag::Config")]
    async fn put_config(&self, changes: Json<BTreeMap<String, Value>>) -> ConfigResponse {
        let changes: Vec<(String, Value)> = changes.0.into_iter().collect();
        match self.state.change_config(&changes) {
            Ok((config, restart_required)) => ConfigResponse::Changed(Json(ConfigChanged {
                config: ConfigDocument::from(&config),
                restart_required,
            })),
            Err(ConfigChangeError::Invalid(problems)) => ConfigResponse::Invalid(Json(Problems {
                problems: problems.iter().map(ToString::to_string).collect(),
            })),
            Err(ConfigChangeError::Save(error)) => ConfigResponse::NotSaved(Json(Problems {
                problems: vec![error.to_string()],
            })),
        }
    }

    /// Pauses monitoring: traffic is not counted until resumed.
    #[oai(path = "/monitoring/pause", method = "post", tag = "Tag::Status")]
    async fn pause(&self) -> Json<Monitoring> {
        self.state.set_paused(true);
        Json(Monitoring { paused: true })
    }

    /// Resumes monitoring.
    #[oai(path = "/monitoring/resume", method = "post", tag = "Tag::Status")]
    async fn resume(&self) -> Json<Monitoring> {
        self.state.set_paused(false);
        Json(Monitoring { paused: false })
    }

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

    /// Totals for today, this week and this month.
    #[oai(path = "/summary", method = "get", tag = "Tag::History")]
    async fn summary(&self) -> HistoryResponse<SummaryView> {
        let now = netmon_core::monitor::unix_ms();
        self.history(Ok(()), |store, ()| {
            store.summary(now).map(|summary| SummaryView {
                today: totals_view(summary.today),
                week: totals_view(summary.week),
                month: totals_view(summary.month),
            })
        })
    }

    /// Usage over time: `range` is `24h`, `7d` or `30d` (default `24h`), or give `start_ms` and
    /// `end_ms`. Buckets: 5 minutes up to a day, hours up to 8 days, local days beyond.
    #[oai(path = "/timeline", method = "get", tag = "Tag::History")]
    async fn timeline(
        &self,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> HistoryResponse<TimelineView> {
        let range = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0);
        self.history(range, |store, range| {
            let bucket_ms = store::bucket_for_span(range.end_ms - range.start_ms);
            store.timeline(range, bucket_ms).map(|points| TimelineView {
                start_ms: range.start_ms,
                end_ms: range.end_ms,
                bucket_ms,
                points: points.into_iter().map(point_view).collect(),
            })
        })
    }

    /// Applications by usage in a range (as for the timeline), busiest first.
    #[oai(path = "/apps", method = "get", tag = "Tag::History")]
    async fn apps(
        &self,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
        /// At most this many applications (1–1000, default 50).
        limit: Query<Option<u32>>,
    ) -> HistoryResponse<Vec<AppView>> {
        let limit = limit.0.unwrap_or(50);
        let query = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0)
            .and_then(|range| checked_limit(limit).map(|()| range));
        self.history(query, |store, range| {
            store.top_apps(range, limit as usize).map(|apps| {
                apps.into_iter()
                    .map(|app| AppView {
                        app: app.app,
                        sent: app.sent,
                        received: app.received,
                        last_seen_ms: app.last_seen_ms,
                    })
                    .collect()
            })
        })
    }

    /// Registrable domains by usage in a range (as for the timeline), busiest first.
    #[oai(path = "/domains", method = "get", tag = "Tag::History")]
    async fn domains(
        &self,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
        /// At most this many domains (1–1000, default 50).
        limit: Query<Option<u32>>,
    ) -> HistoryResponse<Vec<DomainView>> {
        let limit = limit.0.unwrap_or(50);
        let query = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0)
            .and_then(|range| checked_limit(limit).map(|()| range));
        self.history(query, |store, range| {
            store.top_domains(range, limit as usize).map(|domains| {
                domains
                    .into_iter()
                    .map(|domain| DomainView {
                        domain: domain.domain,
                        sent: domain.sent,
                        received: domain.received,
                        hostnames: domain.hostnames,
                    })
                    .collect()
            })
        })
    }

    /// One application: its timeline in a range (as for `/timeline`) and its processes.
    #[oai(path = "/apps/:app", method = "get", tag = "Tag::History")]
    async fn app_detail(
        &self,
        app: poem_openapi::param::Path<String>,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> HistoryResponse<AppDetailView> {
        let range = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0);
        let name = app.0;
        self.history(range, |store, range| {
            let bucket_ms = store::bucket_for_span(range.end_ms - range.start_ms);
            let detail = store.app_detail(&name, range, bucket_ms)?;
            Ok(detail.map(|detail| AppDetailView {
                app: detail.app,
                exe: detail.exe,
                first_seen_ms: detail.first_seen_ms,
                last_seen_ms: detail.last_seen_ms,
                processes: detail
                    .processes
                    .into_iter()
                    .map(|process| ProcessView {
                        pid: process.pid,
                        name: process.name,
                        last_seen_ms: process.last_seen_ms,
                    })
                    .collect(),
                bucket_ms,
                points: detail.points.into_iter().map(point_view).collect(),
            }))
        })
        .found()
    }

    /// Hostnames under a registrable domain in a range, busiest first (the subdomain rollup).
    #[oai(
        path = "/domains/:domain/hostnames",
        method = "get",
        tag = "Tag::History"
    )]
    async fn hostnames(
        &self,
        domain: poem_openapi::param::Path<String>,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> HistoryResponse<Vec<HostnameView>> {
        let range = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0);
        let domain = domain.0.to_ascii_lowercase();
        self.history(range, |store, range| {
            store.hostnames(&domain, range, 1000).map(|hosts| {
                hosts
                    .into_iter()
                    .map(|host| HostnameView {
                        hostname: host.hostname,
                        sent: host.sent,
                        received: host.received,
                    })
                    .collect()
            })
        })
    }

    /// Usage by local weekday and hour in a range (default 30 days).
    #[oai(path = "/heatmap", method = "get", tag = "Tag::History")]
    async fn heatmap(
        &self,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> HistoryResponse<HeatmapView> {
        let custom = start_ms.0.is_some() || end_ms.0.is_some();
        let named = range.0.as_deref().or((!custom).then_some("30d"));
        let range = resolve_range(named, start_ms.0, end_ms.0);
        self.history(range, |store, range| {
            store.heatmap(range).map(|grid| HeatmapView {
                bytes: grid.iter().map(|hours| hours.to_vec()).collect(),
            })
        })
    }

    /// Usage of the last `weeks` local weeks (1–104, default 12), oldest first.
    #[oai(path = "/trends/weekly", method = "get", tag = "Tag::History")]
    async fn weekly(&self, weeks: Query<Option<u32>>) -> HistoryResponse<Vec<WeekView>> {
        let weeks = weeks.0.unwrap_or(12);
        let checked = if (1..=104).contains(&weeks) {
            Ok(weeks as usize)
        } else {
            Err(vec![format!("\"weeks\": {weeks} is not from 1 to 104")])
        };
        let now = netmon_core::monitor::unix_ms();
        self.history(checked, |store, weeks| {
            store.weekly_trend(now, weeks).map(|weeks| {
                weeks
                    .into_iter()
                    .map(|week| WeekView {
                        start_ms: week.start_ms,
                        sent: week.sent,
                        received: week.received,
                    })
                    .collect()
            })
        })
    }

    /// This month so far against the previous month.
    #[oai(path = "/trends/months", method = "get", tag = "Tag::History")]
    async fn months(&self) -> HistoryResponse<MonthsView> {
        let now = netmon_core::monitor::unix_ms();
        self.history(Ok(()), |store, ()| {
            store.month_comparison(now).map(|months| MonthsView {
                this_month: totals_view(months.this_month),
                previous_month: totals_view(months.previous_month),
                previous_month_to_date: totals_view(months.previous_month_to_date),
            })
        })
    }

    // Purge (types and helpers in the purge block below).
    /// Deletes the history before a local date (or all of it); answers the rows deleted.
    #[oai(path = "/purge", method = "post", tag = "Tag::History")]
    async fn purge(&self, request: Json<PurgeRequest>) -> PurgeResponse {
        let before = match request
            .0
            .before
            .as_deref()
            .map(parse_local_date)
            .transpose()
        {
            Ok(before) => before,
            Err(problem) => {
                return PurgeResponse::Invalid(Json(Problems {
                    problems: vec![problem],
                }))
            }
        };
        let purged = self.state.with_history_mut(|store| {
            let cutoff = before
                .map(|date| local_midnight_ms(date, store.zone()))
                .transpose()?;
            store.purge(cutoff).map_err(|error| error.to_string())
        });
        let unavailable = |problem| {
            PurgeResponse::Unavailable(Json(Problems {
                problems: vec![problem],
            }))
        };
        match purged {
            Some(Ok(rows)) => PurgeResponse::Purged(Json(Purged {
                rows_deleted: rows as u64,
            })),
            Some(Err(problem)) => unavailable(problem),
            None => unavailable("this server has no history database".into()),
        }
    }

    /// Live rates: one event per sample, total and per application.
    #[oai(path = "/live", method = "get", tag = "Tag::Live")]
    async fn live(&self) -> EventStream<LiveStream> {
        let samples = BroadcastStream::new(self.state.subscribe())
            .filter_map(|sample| sample.ok().map(|sample| live_sample(&sample)));
        EventStream::new(Box::pin(samples) as LiveStream)
            .keep_alive(std::time::Duration::from_secs(15))
    }
}

// --- Purge: delete history, all of it or before a local date. ---

/// What to purge: everything, or the history before a local date.
#[derive(Debug, Object)]
struct PurgeRequest {
    /// `YYYY-MM-DD` in this machine's time zone; omitted or null purges everything.
    before: Option<String>,
}

/// What a purge deleted.
#[derive(Debug, Object)]
struct Purged {
    rows_deleted: u64,
}

#[derive(ApiResponse)]
enum PurgeResponse {
    /// The history was purged.
    #[oai(status = 200)]
    Purged(Json<Purged>),
    /// The date is not a `YYYY-MM-DD` date; nothing was deleted.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// There is no database, or it failed.
    #[oai(status = 503)]
    Unavailable(Json<Problems>),
}

fn parse_local_date(text: &str) -> Result<jiff::civil::Date, String> {
    text.trim()
        .parse::<jiff::civil::Date>()
        .map_err(|error| format!("\"before\": {text:?} is not a date as YYYY-MM-DD ({error})"))
}

fn local_midnight_ms(date: jiff::civil::Date, zone: &jiff::tz::TimeZone) -> Result<i64, String> {
    date.to_zoned_datetime(zone.clone())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .map_err(|error| format!("\"before\": {date} has no local midnight ({error})"))
}

// --- End of purge. ---

impl<T: poem_openapi::types::ToJSON> HistoryResponse<Option<T>> {
    /// 404 when the answer is `None`.
    fn found(self) -> HistoryResponse<T> {
        match self {
            HistoryResponse::Ok(Json(Some(answer))) => HistoryResponse::Ok(Json(answer)),
            HistoryResponse::Ok(Json(None)) => HistoryResponse::NotFound(Json(Problems {
                problems: vec!["no such application in the history".into()],
            })),
            HistoryResponse::NotFound(problems) => HistoryResponse::NotFound(problems),
            HistoryResponse::Invalid(problems) => HistoryResponse::Invalid(problems),
            HistoryResponse::Unavailable(problems) => HistoryResponse::Unavailable(problems),
        }
    }
}

impl Api {
    /// Answers from the history database: 422 for invalid parameters, 503 without a database
    /// or when it fails.
    fn history<P, T: poem_openapi::types::ToJSON>(
        &self,
        parameters: Result<P, Vec<String>>,
        query: impl FnOnce(&Store, P) -> Result<T, StoreError>,
    ) -> HistoryResponse<T> {
        let parameters = match parameters {
            Ok(parameters) => parameters,
            Err(problems) => return HistoryResponse::Invalid(Json(Problems { problems })),
        };
        let unavailable = |problem: String| {
            HistoryResponse::Unavailable(Json(Problems {
                problems: vec![problem],
            }))
        };
        match self.state.with_history(|store| query(store, parameters)) {
            Some(Ok(answer)) => HistoryResponse::Ok(Json(answer)),
            Some(Err(error)) => unavailable(error.to_string()),
            None => unavailable("this server has no history database".into()),
        }
    }

    /// Counts an extension report and answers it.
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

fn live_sample(sample: &Arc<Sample>) -> LiveSample {
    let seconds = sample.seconds();
    let mut per_app: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    sample.usage.iter().for_each(|usage| {
        let entry = per_app.entry(usage.app.as_str()).or_default();
        match usage.direction {
            Direction::Received => entry.0 += usage.bytes,
            Direction::Sent => entry.1 += usage.bytes,
        }
    });
    let mut apps: Vec<AppRate> = per_app
        .into_iter()
        .map(|(app, (received, sent))| AppRate {
            app: app.to_string(),
            received_bytes_per_second: received as f64 / seconds,
            sent_bytes_per_second: sent as f64 / seconds,
        })
        .collect();
    apps.sort_by(|a, b| {
        let total = |rate: &AppRate| rate.received_bytes_per_second + rate.sent_bytes_per_second;
        total(b).total_cmp(&total(a))
    });
    let direction_total = |wanted: Direction| -> f64 {
        sample
            .usage
            .iter()
            .filter(|usage| usage.direction == wanted)
            .map(|usage| usage.bytes)
            .sum::<u64>() as f64
            / seconds
    };
    LiveSample {
        start_ms: sample.start_ms,
        end_ms: sample.end_ms,
        received_bytes_per_second: direction_total(Direction::Received),
        sent_bytes_per_second: direction_total(Direction::Sent),
        packets_per_second: sample.stats.packets as f64 / seconds,
        active_flows: sample.stats.active_flows,
        apps,
    }
}

impl From<&Config> for ConfigDocument {
    fn from(config: &Config) -> Self {
        Self {
            sampling_interval_seconds: config.sampling_interval_seconds,
            web_server_port: config.web_server_port,
            log_level: name_of(config.log_level),
            data_retention_days_raw: config.data_retention_days_raw,
            data_retention_days_hourly: config.data_retention_days_hourly,
            capture_method: name_of(config.capture_method),
            domain_rollup: config.domain_rollup,
            high_usage_threshold_gb: config.high_usage_threshold_gb,
            enable_notifications: config.enable_notifications,
            batch_write_seconds: config.batch_write_seconds,
            domain_tracking: name_of(config.domain_tracking),
            browser_apps: config.browser_apps.clone(),
            capture_interface: config.capture_interface.clone(),
        }
    }
}

/// The name an option value has in config.json.
pub(crate) fn name_of(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

/// Checks an active-tab report: a bare hostname (no scheme, path, port or query), a plausible
/// time, a short browser name. Returns the report normalised (lower case) or every problem.
fn validate_tab(report: ActiveTabReport) -> Result<ActiveTab, Vec<String>> {
    let domain = normal_hostname(&report.domain);
    let mut problems = common_problems(&report.browser, report.timestamp);
    if domain.is_none() {
        problems.insert(0, format!("\"domain\": {:?} is not a hostname such as netflix.com (send the domain only, never a URL)", report.domain));
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

pub(crate) fn checked_limit(limit: u32) -> Result<(), Vec<String>> {
    if (1..=1000).contains(&limit) {
        Ok(())
    } else {
        Err(vec![format!("\"limit\": {limit} is not from 1 to 1000")])
    }
}

fn point_view(point: store::TimelinePoint) -> PointView {
    PointView {
        start_ms: point.start_ms,
        sent: point.sent,
        received: point.received,
    }
}

fn totals_view(totals: Totals) -> TotalsView {
    TotalsView {
        sent: totals.sent,
        received: totals.received,
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
            "\"hostname\": {:?} is not a hostname (send hostnames only, never URLs)",
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

/// Lower case, without a trailing dot, if it is a hostname.
fn normal_hostname(text: &str) -> Option<String> {
    let host = text.trim().trim_end_matches('.').to_ascii_lowercase();
    is_hostname(&host).then_some(host)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

/// Letters, digits and hyphens in dot-separated labels of 1–63 characters.
fn is_hostname(text: &str) -> bool {
    (1..=MAX_DOMAIN).contains(&text.len())
        && text.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_root() -> bool {
    // SAFETY: geteuid only reads the process's effective user id.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_only() {
        assert!(is_hostname("netflix.com"));
        assert!(is_hostname("xn--bcher-kva.example"));
        for bad in [
            "",
            "https://netflix.com",
            "netflix.com/path",
            "a..b",
            "-a.com",
            "a b.com",
            "netflix.com:443",
        ] {
            assert!(!is_hostname(bad), "{bad}");
        }
    }
}
