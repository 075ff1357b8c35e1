//! `/alerts`: the alerts raised (budgets at 80 % and 100 %, unusual hours, new applications),
//! newest first; `/alerts/unusual`, the applications and domains whose current hour is already
//! unusual (the dashboard's "unusual now"); `/alerts/live`, each new alert as a Server-Sent
//! Event the moment the daemon records it; `/alerts/band`, an application's usual band per hour
//! (the app detail draws it around its timeline).

use std::pin::Pin;

use netmon_core::alert::{Alert, BandPoint, Unusual};
use netmon_core::alerts;
use netmon_core::clock::unix_ms;
use netmon_core::store::SeriesOf;
use poem_openapi::param::Query;
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::{ApiResponse, OpenApi};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

use super::common::{checked_limit, resolve_range, stored, Problems, Tag};
use crate::state::AppState;

type AlertStream = Pin<Box<dyn Stream<Item = Alert> + Send>>;

#[derive(ApiResponse)]
enum AlertsResponse<T: poem_openapi::types::ToJSON> {
    #[oai(status = 200)]
    Ok(Json<T>),
    /// A parameter is not valid.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// There is no database, or it failed.
    #[oai(status = 503)]
    Unavailable(Json<Problems>),
}

/// Alerts.
pub(crate) struct AlertsApi {
    state: AppState,
}

impl AlertsApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl AlertsApi {
    /// The alert history, newest first: at most `limit` (1–1000, default 100) from `since_ms` on.
    #[oai(path = "/alerts", method = "get", tag = "Tag::Alerts")]
    async fn list(
        &self,
        #[oai(default = "default_limit")] limit: Query<u32>,
        since_ms: Query<Option<i64>>,
    ) -> AlertsResponse<Vec<Alert>> {
        if let Err(problems) = checked_limit(limit.0) {
            return AlertsResponse::Invalid(Json(Problems { problems }));
        }
        let since = since_ms.0.unwrap_or(i64::MIN);
        answer(
            self.state
                .with_history(|store| store.alerts(since, limit.0 as usize)),
        )
    }

    /// Applications and domains whose current hour is already far above the same hour of past
    /// weeks, most unusual first (sensitivity from the configuration).
    #[oai(path = "/alerts/unusual", method = "get", tag = "Tag::Alerts")]
    async fn unusual(&self) -> AlertsResponse<Vec<Unusual>> {
        let sensitivity = self.state.config().sensitivity();
        answer(
            self.state
                .with_history(|store| alerts::unusual_now(store, unix_ms(), &sensitivity)),
        )
    }

    /// The usual band (median, lower and upper bound) of an application's hours in a range
    /// (`range` as the history endpoints take it, or `start_ms` and `end_ms`; at most the last
    /// 8 days of it): hours with fewer than 3 weeks of history before them have none.
    #[oai(path = "/alerts/band", method = "get", tag = "Tag::Alerts")]
    async fn band(
        &self,
        app: Query<String>,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> AlertsResponse<Vec<BandPoint>> {
        let range = match resolve_range(range.0.as_deref(), start_ms.0, end_ms.0) {
            Ok(range) => range,
            Err(problems) => return AlertsResponse::Invalid(Json(Problems { problems })),
        };
        let sensitivity = self.state.config().sensitivity();
        answer(self.state.with_history(|store| {
            let first_seen = store.app_first_seen(&app.0)?;
            alerts::band(
                store,
                SeriesOf::Apps,
                &app.0,
                range,
                first_seen,
                &sensitivity,
            )
        }))
    }

    /// Each new alert as it is raised.
    #[oai(path = "/alerts/live", method = "get", tag = "Tag::Alerts")]
    async fn live(&self) -> EventStream<AlertStream> {
        let raised = BroadcastStream::new(self.state.subscribe_alerts())
            .filter_map(|alert| alert.ok().map(|alert| (*alert).clone()));
        EventStream::new(Box::pin(raised) as AlertStream)
            .keep_alive(std::time::Duration::from_secs(15))
    }
}

fn default_limit() -> u32 {
    100
}

fn answer<T: poem_openapi::types::ToJSON>(
    result: Option<Result<T, netmon_core::store::StoreError>>,
) -> AlertsResponse<T> {
    match stored(result) {
        Ok(answer) => AlertsResponse::Ok(Json(answer)),
        Err(problems) => AlertsResponse::Unavailable(Json(problems)),
    }
}
