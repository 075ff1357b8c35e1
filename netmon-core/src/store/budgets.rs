//! Budgets and alerts in the store (schema version 6): the budgets the user set, the alerts
//! raised (history; each under a unique key, so a level of a budget in one period, or one
//! unusual hour, is recorded — and announced — once, across restarts), a scope's usage over a
//! range, and the hourly usage per application and per domain that the baselines read.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Row};

use super::tiers::{usage_cte, Filter, Kind, Tier};
use super::{Range, Store, StoreError};
use crate::alert::{Alert, AlertKind, NewAlert};
use crate::budget::{Budget, BudgetSpec, Period, Scope};

/// Who an hourly series is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesOf {
    Apps,
    Domains,
}

/// One application's or domain's bytes at given hours (both directions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlySeries {
    pub name: String,
    /// When the application was first seen (`None` for domains).
    pub first_seen_ms: Option<i64>,
    /// Bytes per hour asked for, in the order asked (0 where nothing was used).
    pub bytes: Vec<u64>,
}

/// The store's `config` key recording that `high_usage_threshold_gb` became a budget.
const DEFAULT_BUDGET_KEY: &str = "default_budget_from_threshold";

impl Store {
    /// Keeps a new budget; returns it with its id.
    pub fn add_budget(&mut self, spec: &BudgetSpec, now_ms: i64) -> Result<Budget, StoreError> {
        self.connection.execute(
            "INSERT INTO budgets (scope, name, period, limit_bytes, month_start_day, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                spec.scope.kind(),
                spec.scope.name(),
                spec.period.name(),
                bytes_column(spec.limit_bytes),
                spec.month_start_day,
                now_ms
            ],
        )?;
        Ok(Budget {
            id: self.connection.last_insert_rowid(),
            spec: spec.clone(),
            created_ms: now_ms,
        })
    }

    /// Changes a budget; `false` when there is none with that id.
    pub fn update_budget(&mut self, id: i64, spec: &BudgetSpec) -> Result<bool, StoreError> {
        let changed = self.connection.execute(
            "UPDATE budgets SET scope = ?2, name = ?3, period = ?4, limit_bytes = ?5,
                 month_start_day = ?6 WHERE id = ?1",
            params![
                id,
                spec.scope.kind(),
                spec.scope.name(),
                spec.period.name(),
                bytes_column(spec.limit_bytes),
                spec.month_start_day
            ],
        )?;
        Ok(changed == 1)
    }

    /// Deletes a budget (its alerts stay in the history); `false` when there was none.
    pub fn remove_budget(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .connection
            .execute("DELETE FROM budgets WHERE id = ?1", [id])?
            == 1)
    }

    /// Every budget, oldest first.
    pub fn budgets(&self) -> Result<Vec<Budget>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT id, scope, name, period, limit_bytes, month_start_day, created_ms
             FROM budgets ORDER BY id",
        )?;
        let rows = statement.query_map([], budget_row)?;
        rows.map(|row| row.map_err(StoreError::from).and_then(|budget| budget))
            .collect()
    }

    /// The budget with `id`, if any.
    pub fn budget(&self, id: i64) -> Result<Option<Budget>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT id, scope, name, period, limit_bytes, month_start_day, created_ms
                 FROM budgets WHERE id = ?1",
            )?
            .query_row([id], budget_row)
            .optional()?
            .transpose()
    }

    /// Once per database: a budget on everything per day of `threshold_gb` (the former
    /// `high_usage_threshold_gb`), unless the user already has such a budget. Returns the
    /// budget added.
    pub fn adopt_threshold(
        &mut self,
        threshold_gb: f64,
        now_ms: i64,
    ) -> Result<Option<Budget>, StoreError> {
        let done: Option<String> = self
            .connection
            .query_row(
                "SELECT value FROM config WHERE key = ?1",
                [DEFAULT_BUDGET_KEY],
                |row| row.get(0),
            )
            .optional()?;
        if done.is_some() {
            return Ok(None);
        }
        let limit = (threshold_gb * 1e9).round().max(1.0) as u64;
        let spec = BudgetSpec::new(Ok(Scope::All), Ok(Period::Day), limit, None)
            .map_err(|problems| StoreError::Invalid(problems.join("; ")))?;
        let exists = self
            .budgets()?
            .iter()
            .any(|budget| budget.spec.scope == Scope::All && budget.spec.period == Period::Day);
        let added = (!exists)
            .then(|| self.add_budget(&spec, now_ms))
            .transpose()?;
        self.connection.execute(
            "INSERT INTO config (key, value) VALUES (?1, ?2)",
            params![DEFAULT_BUDGET_KEY, limit.to_string()],
        )?;
        Ok(added)
    }

    /// Bytes (sent and received) of `scope` in `range`.
    pub fn scope_usage(&self, scope: &Scope, range: Range) -> Result<u64, StoreError> {
        let pieces = self.pieces(range, Tier::Daily)?;
        let (kind, filter, name) = match scope {
            Scope::All => (Kind::Totals, Filter::None, None),
            Scope::App(app) => match self.app_id(app)? {
                Some(id) => (Kind::Apps, Filter::App(id), None),
                None => return Ok(0),
            },
            Scope::Domain(domain) => (Kind::Hostnames, Filter::DomainParam, Some(domain)),
        };
        let sql = format!(
            "{} SELECT coalesce(sum(bytes), 0) FROM usage",
            usage_cte(kind, &pieces, filter)
        );
        let mut statement = self.connection.prepare(&sql)?;
        let bytes: i64 = match name {
            Some(name) => statement.query_row([name], |row| row.get(0))?,
            None => statement.query_row([], |row| row.get(0))?,
        };
        Ok(bytes.max(0) as u64)
    }

    fn app_id(&self, app: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .connection
            .prepare_cached("SELECT id FROM applications WHERE name = ?1")?
            .query_row([app], |row| row.get(0))
            .optional()?)
    }

    /// Of `hours` (starts of UTC hours), those in which netmon recorded anything at all.
    pub fn recorded_hours(&self, hours: &[i64]) -> Result<Vec<i64>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM hourly_totals WHERE hour_ms = ?1)")?;
        hours
            .iter()
            .filter_map(
                |&hour| match statement.query_row([hour], |row| row.get(0)) {
                    Ok(true) => Some(Ok(hour)),
                    Ok(false) => None,
                    Err(error) => Some(Err(error.into())),
                },
            )
            .collect()
    }

    /// Each application's (or domain's) bytes in each of `hours`, from the hourly tier; only
    /// those that used something in the first hour.
    pub fn hourly_series(
        &self,
        of: SeriesOf,
        hours: &[i64],
    ) -> Result<Vec<HourlySeries>, StoreError> {
        let Some(&first) = hours.first() else {
            return Ok(Vec::new());
        };
        let (sql, first_seen) = match of {
            SeriesOf::Apps => (
                "SELECT a.name, a.first_seen_ms, t.hour_ms, sum(t.bytes)
                 FROM hourly_app_totals t JOIN applications a ON a.id = t.app_id
                 WHERE t.hour_ms = ?1 AND a.id IN
                     (SELECT app_id FROM hourly_app_totals WHERE hour_ms = ?2)
                 GROUP BY a.id, t.hour_ms",
                true,
            ),
            SeriesOf::Domains => (
                "SELECT d.domain, 0, t.hour_ms, sum(t.bytes)
                 FROM hourly_hostname_totals t JOIN domains d ON d.id = t.domain_id
                 WHERE t.hour_ms = ?1 AND d.domain IN
                     (SELECT d2.domain FROM hourly_hostname_totals t2
                      JOIN domains d2 ON d2.id = t2.domain_id WHERE t2.hour_ms = ?2)
                 GROUP BY d.domain, t.hour_ms",
                false,
            ),
        };
        let mut statement = self.connection.prepare_cached(sql)?;
        let mut series: BTreeMap<String, HourlySeries> = BTreeMap::new();
        for (index, hour) in hours.iter().enumerate() {
            let rows = statement.query_map(params![hour, first], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(3)?,
                ))
            })?;
            for row in rows {
                let (name, seen, bytes) = row?;
                let entry = series.entry(name.clone()).or_insert_with(|| HourlySeries {
                    name,
                    first_seen_ms: first_seen.then_some(seen),
                    bytes: vec![0; hours.len()],
                });
                entry.bytes[index] = bytes.max(0) as u64;
            }
        }
        Ok(series.into_values().collect())
    }

    /// One application's (or domain's) bytes per hour over the hours starting in `range`, from
    /// the hourly tier (hours without use left out).
    pub fn hourly_usage_of(
        &self,
        of: SeriesOf,
        name: &str,
        range: Range,
    ) -> Result<BTreeMap<i64, u64>, StoreError> {
        let sql = match of {
            SeriesOf::Apps => {
                "SELECT t.hour_ms, sum(t.bytes) FROM hourly_app_totals t
                 JOIN applications a ON a.id = t.app_id
                 WHERE a.name = ?1 AND t.hour_ms >= ?2 AND t.hour_ms < ?3 GROUP BY t.hour_ms"
            }
            SeriesOf::Domains => {
                "SELECT t.hour_ms, sum(t.bytes) FROM hourly_hostname_totals t
                 JOIN domains d ON d.id = t.domain_id
                 WHERE d.domain = ?1 AND t.hour_ms >= ?2 AND t.hour_ms < ?3 GROUP BY t.hour_ms"
            }
        };
        let mut statement = self.connection.prepare_cached(sql)?;
        let rows = statement.query_map(params![name, range.start_ms, range.end_ms], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?.max(0) as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The hours starting in `range` in which netmon recorded anything at all.
    pub fn recorded_hours_in(&self, range: Range) -> Result<Vec<i64>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT DISTINCT hour_ms FROM hourly_totals WHERE hour_ms >= ?1 AND hour_ms < ?2
             ORDER BY hour_ms",
        )?;
        let rows = statement.query_map(params![range.start_ms, range.end_ms], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When `app` was first seen (`None` for an unknown application).
    pub fn app_first_seen(&self, app: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .connection
            .prepare_cached("SELECT first_seen_ms FROM applications WHERE name = ?1")?
            .query_row([app], |row| row.get(0))
            .optional()?)
    }

    /// Applications first seen at or after `since_ms`, with when.
    pub fn apps_first_seen_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT name, first_seen_ms FROM applications WHERE first_seen_ms >= ?1 ORDER BY name",
        )?;
        let rows = statement.query_map([since_ms], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records an alert unless one with its key was recorded before: the alert, or `None` when
    /// it is not new.
    pub fn record_alert(&mut self, alert: &NewAlert) -> Result<Option<Alert>, StoreError> {
        let inserted = self.connection.execute(
            "INSERT INTO alerts (at_ms, kind, key, subject, budget_id, level, bytes,
                                 reference_bytes, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (key) DO NOTHING",
            params![
                alert.at_ms,
                alert.kind.name(),
                alert.key,
                alert.subject,
                alert.budget_id,
                alert.level.map(|level| level.percent() as i64),
                bytes_column(alert.bytes),
                bytes_column(alert.reference_bytes),
                alert.message
            ],
        )?;
        Ok((inserted == 1).then(|| alert.recorded(self.connection.last_insert_rowid())))
    }

    /// The newest `limit` alerts, newest first, from `since_ms` on.
    pub fn alerts(&self, since_ms: i64, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT id, at_ms, kind, subject, budget_id, level, bytes, reference_bytes, message
             FROM alerts WHERE at_ms >= ?1 ORDER BY at_ms DESC, id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![since_ms, limit as i64], alert_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Deletes the alerts before `before_ms` (all when `None`): purge forgets them with usage.
pub(super) fn delete_alerts_before(
    transaction: &rusqlite::Transaction<'_>,
    before_ms: Option<i64>,
) -> Result<usize, StoreError> {
    Ok(transaction.execute(
        "DELETE FROM alerts WHERE at_ms < ?1",
        [before_ms.unwrap_or(i64::MAX)],
    )?)
}

fn bytes_column(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// A budget row; a row this version cannot read (edited by hand) is a clear error.
fn budget_row(row: &Row<'_>) -> rusqlite::Result<Result<Budget, StoreError>> {
    let id: i64 = row.get(0)?;
    let (kind, name): (String, String) = (row.get(1)?, row.get(2)?);
    let period: String = row.get(3)?;
    let limit: i64 = row.get(4)?;
    let day: i64 = row.get(5)?;
    let name = (!name.is_empty()).then_some(name.as_str());
    let spec = BudgetSpec::new(
        Scope::parse(&kind, name),
        Period::parse(&period),
        limit.max(0) as u64,
        u8::try_from(day).ok().filter(|_| period == "month"),
    );
    Ok(spec
        .map(|spec| Budget {
            id,
            spec,
            created_ms: row.get(6).unwrap_or_default(),
        })
        .map_err(|problems| {
            StoreError::Invalid(format!(
                "budget {id} cannot be read: {}",
                problems.join("; ")
            ))
        }))
}

fn alert_row(row: &Row<'_>) -> rusqlite::Result<Alert> {
    let kind: String = row.get(2)?;
    let level: Option<u64> = row.get::<_, Option<i64>>(5)?.map(|percent| percent as u64);
    Ok(Alert {
        id: row.get(0)?,
        at_ms: row.get(1)?,
        kind: AlertKind::parse(&kind).unwrap_or(AlertKind::Unusual),
        subject: row.get(3)?,
        budget_id: row.get(4)?,
        level,
        bytes: row.get::<_, i64>(6)?.max(0) as u64,
        reference_bytes: row.get::<_, i64>(7)?.max(0) as u64,
        message: row.get(8)?,
    })
}
