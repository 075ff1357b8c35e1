//! History from the database: `/summary`, `/timeline`, `/apps`, `/domains`, `/heatmap`,
//! `/trends/…`, and `/purge`, which deletes it.
//!
//! Every answer is a type of netmon-core (`store::AppTotal`, `history::views::TimelineView`, …),
//! the very shape `netmon … --json` prints; ranges and purge points follow core's
//! `history::span` grammar, as the CLI's do.

use netmon_core::history::{span, views};
use netmon_core::store::{
    AppTotal, DomainTotal, HostTotal, MonthComparison, Store, StoreError, Summary, WeekTotal,
};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::common::{checked_limit, resolve_range, stored, Problems, Tag};
use crate::state::AppState;

/// The heatmap's range when none is given: four whole weeks, so each weekday counts four times.
const HEATMAP_RANGE: &str = "28d";

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

/// What to purge: everything, or the history before a point.
#[derive(Debug, Object)]
struct PurgeRequest {
    /// A local date (`2026-11-01`: before its local midnight) or a duration back from now
    /// (`30d`, `2w`, `12h`, `90m`); omitted or null purges everything.
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
    /// `before` is neither a date nor a duration; nothing was deleted.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// There is no database, or it failed.
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
    async fn summary(&self) -> HistoryResponse<Summary> {
        let now = netmon_core::clock::unix_ms();
        self.history(Ok(()), |store, ()| store.summary(now))
    }

    /// Usage over time: `range` is a duration back from now (`24h`, `7d`, `30d`, `90m`, `2w`;
    /// default `24h`) or a local date to start from (`2026-11-01`), or give `start_ms` and
    /// `end_ms`. Buckets: 5 minutes up to a day, hours up to 8 days, local days beyond.
    #[oai(path = "/timeline", method = "get", tag = "Tag::History")]
    async fn timeline(
        &self,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> HistoryResponse<views::TimelineView> {
        let range = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0);
        self.history(range, |store, range| views::timeline(store, range, None))
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
    ) -> HistoryResponse<Vec<AppTotal>> {
        let limit = limit.0.unwrap_or(50);
        let query = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0)
            .and_then(|range| checked_limit(limit).map(|()| range));
        self.history(query, |store, range| store.top_apps(range, limit as usize))
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
    ) -> HistoryResponse<Vec<DomainTotal>> {
        let limit = limit.0.unwrap_or(50);
        let query = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0)
            .and_then(|range| checked_limit(limit).map(|()| range));
        self.history(query, |store, range| {
            store.top_domains(range, limit as usize)
        })
    }

    /// One application: its timeline in a range (as for `/timeline`) and its processes.
    #[oai(path = "/apps/:app", method = "get", tag = "Tag::History")]
    async fn app_detail(
        &self,
        app: Path<String>,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> HistoryResponse<views::AppDetailView> {
        let range = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0);
        let name = app.0;
        self.history(range, |store, range| views::app_detail(store, &name, range))
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
        domain: Path<String>,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> HistoryResponse<Vec<HostTotal>> {
        let range = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0);
        let domain = domain.0.to_ascii_lowercase();
        self.history(range, |store, range| store.hostnames(&domain, range, 1000))
    }

    /// Usage by local weekday and hour in a range (as for the timeline; default 28 days).
    #[oai(path = "/heatmap", method = "get", tag = "Tag::History")]
    async fn heatmap(
        &self,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> HistoryResponse<views::HeatmapView> {
        let custom = start_ms.0.is_some() || end_ms.0.is_some();
        let named = range.0.as_deref().or((!custom).then_some(HEATMAP_RANGE));
        let range = resolve_range(named, start_ms.0, end_ms.0);
        self.history(range, views::heatmap)
    }

    /// Usage of the last `weeks` local weeks (1–104, default 12), oldest first.
    #[oai(path = "/trends/weekly", method = "get", tag = "Tag::History")]
    async fn weekly(&self, weeks: Query<Option<u32>>) -> HistoryResponse<Vec<WeekTotal>> {
        let weeks = weeks.0.unwrap_or(12);
        let checked = if (1..=104).contains(&weeks) {
            Ok(weeks as usize)
        } else {
            Err(vec![format!("\"weeks\": {weeks} is not from 1 to 104")])
        };
        let now = netmon_core::clock::unix_ms();
        self.history(checked, |store, weeks| store.weekly_trend(now, weeks))
    }

    /// This month so far against the previous month.
    #[oai(path = "/trends/months", method = "get", tag = "Tag::History")]
    async fn months(&self) -> HistoryResponse<MonthComparison> {
        let now = netmon_core::clock::unix_ms();
        self.history(Ok(()), |store, ()| store.month_comparison(now))
    }

    /// Deletes the history before a local date or a duration back from now (or all of it);
    /// answers the rows deleted.
    #[oai(path = "/purge", method = "post", tag = "Tag::History")]
    async fn purge(&self, request: Json<PurgeRequest>) -> PurgeResponse {
        let now = netmon_core::clock::unix_ms();
        let zone = jiff::tz::TimeZone::system();
        let before = request.0.before.as_deref();
        let cutoff = match before.map(|text| span::point(text, now, &zone)).transpose() {
            Ok(cutoff) => cutoff,
            Err(error) => {
                return PurgeResponse::Invalid(Json(Problems {
                    problems: vec![format!("\"before\" {error}")],
                }))
            }
        };
        match stored(self.state.with_history_mut(|store| store.purge(cutoff))) {
            Ok(rows) => PurgeResponse::Purged(Json(Purged {
                rows_deleted: rows as u64,
            })),
            Err(problems) => PurgeResponse::Unavailable(Json(problems)),
        }
    }
}

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
        match stored(self.state.with_history(|store| query(store, parameters))) {
            Ok(answer) => HistoryResponse::Ok(Json(answer)),
            Err(problems) => HistoryResponse::Unavailable(Json(problems)),
        }
    }
}
