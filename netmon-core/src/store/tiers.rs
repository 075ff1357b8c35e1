//! Which tier answers which part of a range.
//!
//! Every sample is added to all three tiers when it is written (raw rows, hourly and daily
//! totals), so each tier is complete for the times it still covers: raw from `raw_from_ms`,
//! hourly from `hourly_from_ms` (both moved forward by retention), daily for all time. A query
//! splits its range into pieces: raw for the partial hours at its edges, hourly for the partial
//! local days, daily for the whole local days between; a piece whose tier no longer covers it
//! falls back to the next coarser tier, whose rows count when their bucket starts in the piece.
//! So a 90-day query reads about 90 daily rows per application instead of millions of samples.

use rusqlite::OptionalExtension;

use super::{local_day_start, Range, Store, StoreError, DAY_MS, HOUR_MS};

/// A storage tier, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// One row per sample (kept `data_retention_days_raw`).
    Raw,
    /// One row per UTC hour (kept `data_retention_days_hourly`).
    Hourly,
    /// One row per local day (kept for ever).
    Daily,
}

impl Tier {
    /// The tier's name in exports and JSON: `raw`, `hourly`, `daily`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Hourly => "hourly",
            Self::Daily => "daily",
        }
    }
}

/// What a query groups by: the tables of each tier it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// All traffic, per direction.
    Totals,
    /// Per application.
    Apps,
    /// Per hostname (traffic with a known destination only).
    Hostnames,
    /// Per application and hostname.
    Hosts,
}

/// Keeps only some rows of every piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    None,
    /// One application, by id.
    App(i64),
    /// Hostnames whose registrable domain is the SQL parameter `?1`.
    DomainParam,
}

/// A half-open span of time read from one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub tier: Tier,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// From when the raw and hourly tiers are complete (retention moves these forward).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Coverage {
    pub raw_from_ms: i64,
    pub hourly_from_ms: i64,
}

pub(crate) const RAW_FROM_KEY: &str = "raw_from_ms";
pub(crate) const HOURLY_FROM_KEY: &str = "hourly_from_ms";

pub(crate) fn floor_hour(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

fn ceil_hour(ms: i64) -> i64 {
    match ms.rem_euclid(HOUR_MS) {
        0 => ms,
        rest => ms.saturating_add(HOUR_MS - rest),
    }
}

/// The start of the local day after the one starting at `day_start` (days are 23 to 25 hours).
pub(crate) fn next_local_day(day_start: i64, zone: &jiff::tz::TimeZone) -> i64 {
    local_day_start(day_start.saturating_add(DAY_MS + DAY_MS / 4), zone)
}

/// The first local day start at or after `ms`.
fn first_day_from(ms: i64, zone: &jiff::tz::TimeZone) -> i64 {
    match local_day_start(ms, zone) {
        start if start == ms => start,
        start => next_local_day(start, zone),
    }
}

/// `range` as pieces read from tiers no coarser than `coarsest`, assuming every tier covers it.
pub(crate) fn split(range: Range, coarsest: Tier, zone: &jiff::tz::TimeZone) -> Vec<Piece> {
    let piece = |tier, start_ms, end_ms| Piece {
        tier,
        start_ms,
        end_ms,
    };
    let (start, end) = (range.start_ms, range.end_ms);
    let (first_hour, last_hour) = (ceil_hour(start), floor_hour(end));
    if coarsest == Tier::Raw || first_hour >= last_hour {
        return vec![piece(Tier::Raw, start, end)];
    }
    let (first_day, last_day) = (
        first_day_from(first_hour, zone),
        local_day_start(last_hour, zone),
    );
    // Local days that do not start on a UTC hour (zones such as +05:30) are read by the hour.
    let days_fit = coarsest == Tier::Daily
        && first_day < last_day
        && first_day.rem_euclid(HOUR_MS) == 0
        && last_day.rem_euclid(HOUR_MS) == 0;
    let middle = if days_fit {
        vec![
            piece(Tier::Hourly, first_hour, first_day),
            piece(Tier::Daily, first_day, last_day),
            piece(Tier::Hourly, last_day, last_hour),
        ]
    } else {
        vec![piece(Tier::Hourly, first_hour, last_hour)]
    };
    std::iter::once(piece(Tier::Raw, start, first_hour))
        .chain(middle)
        .chain(std::iter::once(piece(Tier::Raw, last_hour, end)))
        .filter(|piece| piece.start_ms < piece.end_ms)
        .collect()
}

/// `piece` read from the tiers that still cover it: the part a tier no longer covers is read
/// from the next coarser tier.
pub(crate) fn resolve(piece: Piece, coverage: Coverage) -> Vec<Piece> {
    let (boundary, coarser) = match piece.tier {
        Tier::Raw => (coverage.raw_from_ms, Tier::Hourly),
        Tier::Hourly => (coverage.hourly_from_ms, Tier::Daily),
        Tier::Daily => return vec![piece],
    };
    let below = Piece {
        tier: coarser,
        start_ms: piece.start_ms,
        end_ms: piece.end_ms.min(boundary),
    };
    let covered = Piece {
        start_ms: piece.start_ms.max(boundary),
        ..piece
    };
    let mut pieces: Vec<Piece> = if below.start_ms < below.end_ms {
        resolve(below, coverage)
    } else {
        Vec::new()
    };
    if covered.start_ms < covered.end_ms {
        pieces.push(covered);
    }
    pieces
}

/// One piece as a SELECT of (ts, duration_ms, app_id, domain_id, naming, direction, bytes,
/// packets), from the table of its tier for the kind of query.
fn select(kind: Kind, piece: Piece, filter: Filter) -> String {
    let (by_app, by_hostname) = match kind {
        Kind::Totals => (false, false),
        Kind::Apps => (true, false),
        Kind::Hostnames => (false, true),
        Kind::Hosts => (true, true),
    };
    let column = |wanted: bool, name: &'static str| if wanted { name } else { "NULL" };
    let (app, domain) = (column(by_app, "app_id"), column(by_hostname, "domain_id"));
    // Raw rows and the per-hostname totals know how each hostname was named.
    let naming = column(kind == Kind::Hostnames, "naming");
    let (table, time, duration, only_hostnames) = match piece.tier {
        Tier::Raw if kind == Kind::Totals => ("sample_totals", "ts_ms", "duration_ms", ""),
        Tier::Raw if kind == Kind::Hostnames => (
            "network_samples",
            "ts_ms",
            "duration_ms",
            " AND domain_id != 0",
        ),
        Tier::Raw => ("network_samples", "ts_ms", "duration_ms", ""),
        tier => {
            let aggregate = AGGREGATES
                .iter()
                .find(|table| {
                    table.tier == tier && table.by_app == by_app && table.by_hostname == by_hostname
                })
                .expect("every kind has hourly and daily tables");
            let duration = if tier == Tier::Daily {
                "86400000"
            } else {
                "3600000"
            };
            (aggregate.table, aggregate.time_column(), duration, "")
        }
    };
    let condition = match filter {
        Filter::None => only_hostnames.to_string(),
        Filter::App(id) => format!(" AND app_id = {id}"),
        Filter::DomainParam => {
            " AND domain_id IN (SELECT id FROM domains WHERE domain = ?1)".to_string()
        }
    };
    format!(
        "SELECT {time}, {duration}, {app}, {domain}, {naming}, direction, bytes, packets FROM {table}
         WHERE {time} >= {} AND {time} < {}{condition}",
        piece.start_ms, piece.end_ms
    )
}

/// `WITH usage (ts, duration_ms, app_id, domain_id, naming, direction, bytes, packets) AS (...)`
/// over `pieces` (`naming` for [`Kind::Hostnames`] only); an empty list gives an empty `usage`.
pub(crate) fn usage_cte(kind: Kind, pieces: &[Piece], filter: Filter) -> String {
    let selects: Vec<String> = pieces
        .iter()
        .map(|piece| select(kind, *piece, filter))
        .collect();
    let body = if selects.is_empty() {
        "SELECT 0, 0, 0, 0, 0, 0, 0, 0 WHERE 0".to_string()
    } else {
        selects.join(" UNION ALL ")
    };
    format!(
        "WITH usage (ts, duration_ms, app_id, domain_id, naming, direction, bytes, packets) AS ({body})"
    )
}

impl Store {
    /// From when the raw and hourly tiers are complete.
    pub(crate) fn coverage(&self) -> Result<Coverage, StoreError> {
        let read = |key: &str| -> Result<i64, StoreError> {
            Ok(self
                .connection
                .prepare_cached("SELECT CAST(value AS INTEGER) FROM config WHERE key = ?1")?
                .query_row([key], |row| row.get::<_, i64>(0))
                .optional()?
                .unwrap_or(i64::MIN))
        };
        Ok(Coverage {
            raw_from_ms: read(RAW_FROM_KEY)?,
            hourly_from_ms: read(HOURLY_FROM_KEY)?,
        })
    }

    /// The pieces that answer `range`, from tiers no coarser than `coarsest`.
    pub(crate) fn pieces(&self, range: Range, coarsest: Tier) -> Result<Vec<Piece>, StoreError> {
        let coverage = self.coverage()?;
        Ok(split(range, coarsest, self.zone())
            .into_iter()
            .flat_map(|piece| resolve(piece, coverage))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Coverage = Coverage {
        raw_from_ms: i64::MIN,
        hourly_from_ms: i64::MIN,
    };

    fn piece(tier: Tier, start_ms: i64, end_ms: i64) -> Piece {
        Piece {
            tier,
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn a_range_is_raw_edges_hourly_partial_days_and_daily_whole_days() {
        let zone = jiff::tz::TimeZone::UTC;
        let range = Range {
            start_ms: DAY_MS - 90 * 60_000,
            end_ms: 3 * DAY_MS + HOUR_MS + 60_000,
        };
        assert_eq!(
            split(range, Tier::Daily, &zone),
            vec![
                piece(Tier::Raw, DAY_MS - 90 * 60_000, DAY_MS - HOUR_MS),
                piece(Tier::Hourly, DAY_MS - HOUR_MS, DAY_MS),
                piece(Tier::Daily, DAY_MS, 3 * DAY_MS),
                piece(Tier::Hourly, 3 * DAY_MS, 3 * DAY_MS + HOUR_MS),
                piece(
                    Tier::Raw,
                    3 * DAY_MS + HOUR_MS,
                    3 * DAY_MS + HOUR_MS + 60_000
                ),
            ]
        );
        assert_eq!(
            split(range, Tier::Raw, &zone),
            vec![piece(Tier::Raw, range.start_ms, range.end_ms)]
        );
    }

    #[test]
    fn pieces_a_tier_no_longer_covers_fall_back_to_the_coarser_tier() {
        let coverage = Coverage {
            raw_from_ms: 10 * HOUR_MS,
            hourly_from_ms: 2 * HOUR_MS,
        };
        assert_eq!(
            resolve(piece(Tier::Raw, 0, 12 * HOUR_MS), coverage),
            vec![
                piece(Tier::Daily, 0, 2 * HOUR_MS),
                piece(Tier::Hourly, 2 * HOUR_MS, 10 * HOUR_MS),
                piece(Tier::Raw, 10 * HOUR_MS, 12 * HOUR_MS),
            ]
        );
        assert_eq!(
            resolve(piece(Tier::Hourly, 0, HOUR_MS), NONE),
            vec![piece(Tier::Hourly, 0, HOUR_MS)]
        );
    }
}

/// A table of the hourly or daily tier: its name, its time column and the key columns after
/// the time, in the order of [`AggregateKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Aggregate {
    pub table: &'static str,
    pub tier: Tier,
    pub by_app: bool,
    pub by_hostname: bool,
    /// Keyed by how the hostname was named too (the per-hostname totals).
    pub by_naming: bool,
}

impl Aggregate {
    pub fn time_column(&self) -> &'static str {
        match self.tier {
            Tier::Daily => "day_ms",
            _ => "hour_ms",
        }
    }

    /// The key columns after the time.
    pub fn key_columns(&self) -> Vec<&'static str> {
        [
            self.by_app.then_some("app_id"),
            self.by_hostname.then_some("domain_id"),
            self.by_naming.then_some("naming"),
            Some("direction"),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The hourly table a daily table sums.
    pub fn hourly_source(&self) -> Option<Aggregate> {
        (self.tier == Tier::Daily).then(|| {
            AGGREGATES
                .iter()
                .copied()
                .find(|other| {
                    other.tier == Tier::Hourly
                        && other.by_app == self.by_app
                        && other.by_hostname == self.by_hostname
                })
                .expect("every daily table has an hourly one")
        })
    }

    /// Whether a raw row with this hostname id (0 = none) belongs in the table.
    pub fn takes(&self, domain_id: i64) -> bool {
        !self.by_hostname || self.by_app || domain_id != 0
    }
}

/// Every table of the hourly and daily tiers: per application and hostname (export, hostname
/// details), per application, per hostname (rows with a hostname only) and all traffic.
pub(crate) const AGGREGATES: [Aggregate; 8] = [
    aggregate("hourly_aggregates", Tier::Hourly, true, true),
    aggregate("daily_aggregates", Tier::Daily, true, true),
    aggregate("hourly_app_totals", Tier::Hourly, true, false),
    aggregate("daily_app_totals", Tier::Daily, true, false),
    aggregate("hourly_hostname_totals", Tier::Hourly, false, true),
    aggregate("daily_hostname_totals", Tier::Daily, false, true),
    aggregate("hourly_totals", Tier::Hourly, false, false),
    aggregate("daily_totals", Tier::Daily, false, false),
];

/// A table of the hourly and daily tiers; the per-hostname totals are keyed by naming too.
const fn aggregate(table: &'static str, tier: Tier, by_app: bool, by_hostname: bool) -> Aggregate {
    Aggregate {
        table,
        tier,
        by_app,
        by_hostname,
        by_naming: by_hostname && !by_app,
    }
}
