//! `/budgets`: the user's budgets with their progress (used, limit, projected at the current
//! pace), created, changed and deleted. A budget is validated whole by core's
//! `budget::BudgetSpec::new` — the CLI's rules too — and an invalid one is refused with 422
//! and every problem named; nothing is stored.

use netmon_core::alerts::{self, BudgetStatus};
use netmon_core::budget::{BudgetSpec, Period, Scope};
use netmon_core::clock::unix_ms;
use netmon_core::store::{Store, StoreError};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::common::{stored, Problems, Tag};
use crate::state::AppState;

/// A budget as the user defines it.
#[derive(Debug, Object)]
struct BudgetRequest {
    /// What the budget counts: `all`, `app` or `domain`.
    scope: String,
    /// The application (as history names it) or registrable domain; none for `all`.
    name: Option<String>,
    /// `day`, `week` (from Monday) or `month`.
    period: String,
    /// The limit in bytes, from 1 to 10^15.
    limit_bytes: i64,
    /// For a monthly budget, the day its period starts on (1–28; 1 when omitted).
    month_start_day: Option<i64>,
}

impl BudgetRequest {
    /// The validated budget, or every problem.
    fn spec(&self) -> Result<BudgetSpec, Vec<String>> {
        let limit = u64::try_from(self.limit_bytes).unwrap_or(0);
        let day = self
            .month_start_day
            .map(|day| u8::try_from(day).unwrap_or(u8::MAX));
        BudgetSpec::new(
            Scope::parse(&self.scope, self.name.as_deref()),
            Period::parse(&self.period),
            limit,
            day,
        )
        .map_err(|mut problems| {
            if self.limit_bytes < 1 {
                problems
                    .iter_mut()
                    .filter(|p| p.starts_with("\"limit_bytes\""))
                    .for_each(|p| {
                        *p = format!(
                            "\"limit_bytes\": {} is not a positive number of bytes",
                            self.limit_bytes
                        )
                    });
            }
            problems
        })
    }
}

#[derive(ApiResponse)]
enum BudgetResponse {
    #[oai(status = 200)]
    Ok(Json<BudgetStatus>),
    /// The budget was created.
    #[oai(status = 201)]
    Created(Json<BudgetStatus>),
    /// No budget has this id.
    #[oai(status = 404)]
    NotFound(Json<Problems>),
    /// The budget is not valid: each problem names the field; nothing was stored.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// There is no database, or it failed.
    #[oai(status = 503)]
    Unavailable(Json<Problems>),
}

#[derive(ApiResponse)]
enum BudgetsResponse {
    #[oai(status = 200)]
    Ok(Json<Vec<BudgetStatus>>),
    /// There is no database, or it failed.
    #[oai(status = 503)]
    Unavailable(Json<Problems>),
}

#[derive(ApiResponse)]
enum DeleteResponse {
    /// The budget was deleted (its alerts stay in the history).
    #[oai(status = 204)]
    Deleted,
    /// No budget has this id.
    #[oai(status = 404)]
    NotFound(Json<Problems>),
    /// There is no database, or it failed.
    #[oai(status = 503)]
    Unavailable(Json<Problems>),
}

/// Budgets.
pub(crate) struct BudgetsApi {
    state: AppState,
}

impl BudgetsApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }

    /// Runs `change` on the store; `Err` carries the 503 problem.
    fn on_store<T>(
        &self,
        change: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, Problems> {
        stored(self.state.with_history_mut(change))
    }
}

fn no_such(id: i64) -> Problems {
    Problems {
        problems: vec![format!("no budget has id {id}")],
    }
}

#[OpenApi]
impl BudgetsApi {
    /// Every budget with its progress in its current period.
    #[oai(path = "/budgets", method = "get", tag = "Tag::Alerts")]
    async fn list(&self) -> BudgetsResponse {
        match self.on_store(|store| alerts::budget_statuses(store, unix_ms())) {
            Ok(statuses) => BudgetsResponse::Ok(Json(statuses)),
            Err(problems) => BudgetsResponse::Unavailable(Json(problems)),
        }
    }

    /// Creates a budget.
    #[oai(path = "/budgets", method = "post", tag = "Tag::Alerts")]
    async fn create(&self, request: Json<BudgetRequest>) -> BudgetResponse {
        let spec = match request.0.spec() {
            Ok(spec) => spec,
            Err(problems) => return BudgetResponse::Invalid(Json(Problems { problems })),
        };
        let now = unix_ms();
        let created = self.on_store(|store| {
            let id = store.add_budget(&spec, now)?.id;
            alerts::budget_status(store, id, now)
        });
        match created {
            Ok(Some(status)) => BudgetResponse::Created(Json(status)),
            Ok(None) => BudgetResponse::Unavailable(Json(Problems {
                problems: vec!["the budget was not kept".into()],
            })),
            Err(problems) => BudgetResponse::Unavailable(Json(problems)),
        }
    }

    /// Changes a budget (the whole definition).
    #[oai(path = "/budgets/:id", method = "put", tag = "Tag::Alerts")]
    async fn update(&self, id: Path<i64>, request: Json<BudgetRequest>) -> BudgetResponse {
        let spec = match request.0.spec() {
            Ok(spec) => spec,
            Err(problems) => return BudgetResponse::Invalid(Json(Problems { problems })),
        };
        let updated = self.on_store(|store| {
            store.update_budget(id.0, &spec)?;
            alerts::budget_status(store, id.0, unix_ms())
        });
        match updated {
            Ok(Some(status)) => BudgetResponse::Ok(Json(status)),
            Ok(None) => BudgetResponse::NotFound(Json(no_such(id.0))),
            Err(problems) => BudgetResponse::Unavailable(Json(problems)),
        }
    }

    /// Deletes a budget.
    #[oai(path = "/budgets/:id", method = "delete", tag = "Tag::Alerts")]
    async fn delete(&self, id: Path<i64>) -> DeleteResponse {
        match self.on_store(|store| store.remove_budget(id.0)) {
            Ok(true) => DeleteResponse::Deleted,
            Ok(false) => DeleteResponse::NotFound(Json(no_such(id.0))),
            Err(problems) => DeleteResponse::Unavailable(Json(problems)),
        }
    }
}
