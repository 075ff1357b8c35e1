//! History from the database: `/summary`, `/timeline`, `/apps`, `/domains`, `/heatmap`,
//! `/trends/…`, and `/purge`, which deletes it.

use netmon_core::store::{self, Store, StoreError, Totals};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::common::{checked_limit, resolve_range, Problems, Tag};
use crate::state::AppState;

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
    /// How the domain's bytes were named (docs/domains.md).
    provenance: ProvenanceView,
}

/// Bytes (sent and received) of a domain by how their hostnames were named.
#[derive(Debug, Default, Object)]
struct ProvenanceView {
    /// The flow's own TLS or QUIC ClientHello server name (and ECH public names).
    sni: u64,
    /// The Host header of a plain-HTTP request.
    http: u64,
    /// The browser extension's reports of hostnames on the server's address.
    extension: u64,
    /// The DNS answer current when the flow began.
    dns: u64,
    /// Nothing named it: kept by address under `unresolved`.
    unresolved: u64,
    /// Stored before netmon recorded how bytes were named (schema version 4).
    unrecorded: u64,
}

impl From<&store::ProvenanceBytes> for ProvenanceView {
    fn from(bytes: &store::ProvenanceBytes) -> Self {
        let of = |name: &str| bytes.get(name).copied().unwrap_or(0);
        Self {
            sni: of("sni"),
            http: of("http"),
            extension: of("extension"),
            dns: of("dns"),
            unresolved: of("unresolved"),
            unrecorded: of(store::UNRECORDED),
        }
    }
}

/// A registrable domain one application's bytes went to.
#[derive(Debug, Object)]
struct AppDomainView {
    domain: String,
    sent: u64,
    received: u64,
    /// The application's hostnames under the domain.
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
    /// The registrable domains its bytes went to in the range, busiest first (at most 50;
    /// empty unless `domain_tracking` covers the application).
    domains: Vec<AppDomainView>,
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

/// Usage history from the database.
pub(crate) struct HistoryApi {
    state: AppState,
}

impl HistoryApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl HistoryApi {
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
                        provenance: ProvenanceView::from(&domain.provenance),
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
            let domains = store
                .app_domains(&name, range, 50)?
                .unwrap_or_default()
                .into_iter()
                .map(|domain| AppDomainView {
                    domain: domain.domain,
                    sent: domain.sent,
                    received: domain.received,
                    hostnames: domain.hostnames,
                })
                .collect();
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
                domains,
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

impl HistoryApi {
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
