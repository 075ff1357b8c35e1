//! Alerts: a budget crossing 80 % or 100 % in its period, an unusual hour of an application or
//! domain (`anomaly`), a new application that moved a lot in its first hour. [`evaluate`] runs
//! after each batch write: it asks the store for usage, judges it with the pure rules of
//! `budget` and `anomaly`, and records each finding under a key unique to it (budget, period and
//! level; application and hour), so an alert is raised once — and not again after a restart.
//! The daemon streams what it returns, logs it, and the menubar shows it.

pub use crate::alert::Alert;
use serde::Serialize;

use crate::alert::{AlertKind, BandPoint, NewAlert, Unusual};
use crate::anomaly::{self, Sensitivity};
use crate::budget::{self, Budget, Level, Progress};
use crate::store::{HourlySeries, Range, SeriesOf, Store, StoreError, HOUR_MS};
use crate::units;

const WEEK_MS: i64 = 7 * 24 * HOUR_MS;

/// A budget and where it stands: the shape the API, the CLI's `--json` and the dashboard share.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(skip_serializing_if_is_none)
)]
pub struct BudgetStatus {
    pub id: i64,
    /// `all`, `app` or `domain`.
    pub scope: String,
    /// The application or domain (none for everything).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `day`, `week` or `month`.
    pub period: String,
    pub limit_bytes: u64,
    /// The day of the month a monthly period starts on.
    pub month_start_day: u8,
    pub created_ms: i64,
    pub progress: Progress,
}

impl BudgetStatus {
    fn of(budget: &Budget, progress: Progress) -> Self {
        let spec = &budget.spec;
        Self {
            id: budget.id,
            scope: spec.scope.kind().into(),
            name: Some(spec.scope.name().to_string()).filter(|name| !name.is_empty()),
            period: spec.period.name().into(),
            limit_bytes: spec.limit_bytes,
            month_start_day: spec.month_start_day,
            created_ms: budget.created_ms,
            progress,
        }
    }
}

/// Each budget's progress in the period holding `now_ms`.
pub fn budget_statuses(store: &Store, now_ms: i64) -> Result<Vec<BudgetStatus>, StoreError> {
    Ok(progresses(store, now_ms)?
        .iter()
        .map(|(budget, progress)| BudgetStatus::of(budget, *progress))
        .collect())
}

/// The status of the budget with `id`, if there is one.
pub fn budget_status(
    store: &Store,
    id: i64,
    now_ms: i64,
) -> Result<Option<BudgetStatus>, StoreError> {
    store
        .budget(id)?
        .map(|budget| {
            Ok(BudgetStatus::of(
                &budget,
                progress_of(store, &budget, now_ms)?,
            ))
        })
        .transpose()
}

fn progresses(store: &Store, now_ms: i64) -> Result<Vec<(Budget, Progress)>, StoreError> {
    store
        .budgets()?
        .into_iter()
        .map(|budget| {
            let progress = progress_of(store, &budget, now_ms)?;
            Ok((budget, progress))
        })
        .collect()
}

fn progress_of(store: &Store, budget: &Budget, now_ms: i64) -> Result<Progress, StoreError> {
    let period = budget
        .spec
        .period_at(now_ms, store.zone())
        .map_err(|error| StoreError::Time(error.to_string()))?;
    let used = store.scope_usage(
        &budget.spec.scope,
        Range {
            start_ms: period.start_ms,
            end_ms: now_ms + 1,
        },
    )?;
    Ok(budget::progress(
        used,
        budget.spec.limit_bytes,
        period,
        now_ms,
    ))
}

/// Applications and domains whose hour holding `now_ms` is already unusual, most unusual first.
pub fn unusual_now(
    store: &Store,
    now_ms: i64,
    sensitivity: &Sensitivity,
) -> Result<Vec<Unusual>, StoreError> {
    let hour = now_ms - now_ms.rem_euclid(HOUR_MS);
    let past: Vec<i64> = (1..=anomaly::WEEKS as i64)
        .map(|weeks| hour - weeks * WEEK_MS)
        .collect();
    let recorded = store.recorded_hours(&past)?;
    let hours: Vec<i64> = std::iter::once(hour).chain(recorded).collect();
    let judged = [(SeriesOf::Apps, "app"), (SeriesOf::Domains, "domain")]
        .into_iter()
        .map(|(of, label)| {
            let series = store.hourly_series(of, &hours)?;
            Ok(series
                .into_iter()
                .filter_map(|series| judge_series(label, &series, &hours, sensitivity))
                .collect::<Vec<_>>())
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut unusual: Vec<Unusual> = judged.into_iter().flatten().collect();
    unusual.sort_by(|a, b| b.factor.total_cmp(&a.factor));
    Ok(unusual)
}

/// Most hours a band is drawn for (8 days, as the timelines with hourly buckets).
pub const MAX_BAND_HOURS: i64 = 8 * 24;

/// The usual band of `name` (an application or a domain) for each hour of `range` that has a
/// baseline (at least [`anomaly::MIN_WEEKS`] recorded weeks before it, since the application was
/// first seen): the app detail's band around its timeline. At most [`MAX_BAND_HOURS`] hours.
pub fn band(
    store: &Store,
    of: SeriesOf,
    name: &str,
    range: Range,
    first_seen_ms: Option<i64>,
    sensitivity: &Sensitivity,
) -> Result<Vec<BandPoint>, StoreError> {
    let first = range.start_ms - range.start_ms.rem_euclid(HOUR_MS);
    let first = first.max(range.end_ms - MAX_BAND_HOURS * HOUR_MS);
    let history = Range {
        start_ms: first - anomaly::WEEKS as i64 * WEEK_MS,
        end_ms: range.end_ms,
    };
    let bytes = store.hourly_usage_of(of, name, history)?;
    let recorded: std::collections::BTreeSet<i64> =
        store.recorded_hours_in(history)?.into_iter().collect();
    let seen_from = first_seen_ms.map_or(i64::MIN, |ms| ms - ms.rem_euclid(HOUR_MS));
    let points = (0..)
        .map(|index| first + index * HOUR_MS)
        .take_while(|hour| *hour < range.end_ms)
        .filter_map(|hour| {
            let past: Vec<u64> = (1..=anomaly::WEEKS as i64)
                .map(|weeks| hour - weeks * WEEK_MS)
                .filter(|earlier| recorded.contains(earlier) && *earlier >= seen_from)
                .map(|earlier| bytes.get(&earlier).copied().unwrap_or(0))
                .collect();
            let baseline = anomaly::Baseline::of(&past)?;
            let (lower, upper) = baseline.band(sensitivity);
            Some(BandPoint {
                hour_ms: hour,
                lower_bytes: lower as u64,
                median_bytes: baseline.median as u64,
                upper_bytes: upper as u64,
            })
        })
        .collect();
    Ok(points)
}

/// One series' current hour (`hours[0]`) judged against the weeks before, counting only weeks
/// since the application was first seen.
fn judge_series(
    of: &str,
    series: &HourlySeries,
    hours: &[i64],
    sensitivity: &Sensitivity,
) -> Option<Unusual> {
    let seen_from = series
        .first_seen_ms
        .map_or(i64::MIN, |ms| ms - ms.rem_euclid(HOUR_MS));
    let past: Vec<u64> = hours
        .iter()
        .zip(&series.bytes)
        .skip(1)
        .filter(|(hour, _)| **hour >= seen_from)
        .map(|(_, bytes)| *bytes)
        .collect();
    let current = series.bytes[0];
    anomaly::judge(current, &past, sensitivity).map(|baseline| Unusual {
        of: of.to_string(),
        name: series.name.clone(),
        hour_ms: hours[0],
        bytes: current,
        upper_bytes: baseline.upper(sensitivity) as u64,
        factor: anomaly::factor(current, &baseline),
        baseline,
    })
}

/// Judges budgets, the current hour and new applications as of `now_ms`, records what it finds,
/// and returns the alerts not raised before.
pub fn evaluate(
    store: &mut Store,
    now_ms: i64,
    sensitivity: &Sensitivity,
) -> Result<Vec<Alert>, StoreError> {
    let mut found = budget_findings(store, now_ms)?;
    found.extend(
        unusual_now(store, now_ms, sensitivity)?
            .iter()
            .map(|unusual| unusual_finding(unusual, now_ms)),
    );
    found.extend(new_app_findings(store, now_ms, sensitivity)?);
    found
        .iter()
        .filter_map(|alert| store.record_alert(alert).transpose())
        .collect()
}

fn budget_findings(store: &Store, now_ms: i64) -> Result<Vec<NewAlert>, StoreError> {
    Ok(progresses(store, now_ms)?
        .iter()
        .flat_map(|(budget, progress)| {
            budget::levels_reached(progress.used_bytes, progress.limit_bytes)
                .into_iter()
                .map(move |level| budget_alert(budget, progress, level, now_ms))
        })
        .collect())
}

/// The alert of `budget` reaching `level`, keyed by budget, period and level.
fn budget_alert(budget: &Budget, progress: &Progress, level: Level, now_ms: i64) -> NewAlert {
    let subject = budget.spec.scope.describe();
    let verb = match level {
        Level::Warning => "has used 80 % of",
        Level::Exceeded => "has used all of",
    };
    NewAlert {
        at_ms: now_ms,
        kind: AlertKind::Budget,
        key: format!(
            "budget:{}:{}:{}",
            budget.id,
            progress.period_start_ms,
            level.percent()
        ),
        message: format!(
            "{subject} {verb} its {} budget: {} of {}",
            match budget.spec.period {
                budget::Period::Day => "daily",
                budget::Period::Week => "weekly",
                budget::Period::Month => "monthly",
            },
            units::bytes(progress.used_bytes),
            units::bytes(progress.limit_bytes)
        ),
        subject,
        budget_id: Some(budget.id),
        level: Some(level),
        bytes: progress.used_bytes,
        reference_bytes: progress.limit_bytes,
    }
}

fn unusual_finding(unusual: &Unusual, now_ms: i64) -> NewAlert {
    NewAlert {
        at_ms: now_ms,
        kind: AlertKind::Unusual,
        key: format!(
            "unusual:{}:{}:{}",
            unusual.of, unusual.name, unusual.hour_ms
        ),
        subject: unusual.name.clone(),
        budget_id: None,
        level: None,
        bytes: unusual.bytes,
        reference_bytes: unusual.baseline.median as u64,
        message: format!(
            "{} is using {:.0}× its usual for this hour of the week: {} (usually {})",
            unusual.name,
            unusual.factor,
            units::bytes(unusual.bytes),
            units::bytes(unusual.baseline.median as u64)
        ),
    }
}

fn new_app_findings(
    store: &Store,
    now_ms: i64,
    sensitivity: &Sensitivity,
) -> Result<Vec<NewAlert>, StoreError> {
    store
        .apps_first_seen_since(now_ms - HOUR_MS)?
        .into_iter()
        .map(|(app, first_seen_ms)| {
            let range = Range {
                start_ms: first_seen_ms - first_seen_ms.rem_euclid(HOUR_MS),
                end_ms: now_ms + 1,
            };
            let bytes = store.scope_usage(&budget::Scope::App(app.clone()), range)?;
            Ok(
                anomaly::new_app_alarming(first_seen_ms, now_ms, bytes, sensitivity).then(|| {
                    NewAlert {
                        at_ms: now_ms,
                        kind: AlertKind::NewApp,
                        key: format!("new_app:{app}"),
                        message: format!(
                            "new application {app} moved {} in its first hour",
                            units::bytes(bytes)
                        ),
                        subject: app,
                        budget_id: None,
                        level: None,
                        bytes,
                        reference_bytes: sensitivity.new_app_bytes,
                    }
                }),
            )
        })
        .filter_map(Result::transpose)
        .collect()
}
