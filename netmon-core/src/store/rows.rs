//! The vocabulary every writer and reader of the store shares: how enums are stored as integer
//! codes, and the application row that samples and tunnel totals both point at.

use rusqlite::{params, Transaction};

use super::StoreError;
use crate::sample::{Direction, Provenance};

/// The id of the application row named `name`, inserted or brought up to date.
pub(super) fn upsert_app(
    transaction: &Transaction<'_>,
    name: &str,
    exe: Option<&str>,
    seen_ms: i64,
) -> Result<i64, StoreError> {
    Ok(transaction
        .prepare_cached(
            "INSERT INTO applications (name, exe, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (name) DO UPDATE SET exe = coalesce(excluded.exe, exe),
                 last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)
             RETURNING id",
        )?
        .query_row(params![name, exe, seen_ms], |row| row.get(0))?)
}

/// How a hostname's provenance is stored (0: written before schema version 4, not recorded).
pub(super) fn naming_code(provenance: Provenance) -> i64 {
    match provenance {
        Provenance::Sni => 1,
        Provenance::Http => 2,
        Provenance::Extension => 3,
        Provenance::Dns => 4,
        Provenance::Unresolved => 5,
    }
}

/// The provenance a stored naming code stands for; `None` for 0 (not recorded).
pub(super) fn provenance_of(code: i64) -> Option<Provenance> {
    Provenance::ALL
        .into_iter()
        .find(|provenance| naming_code(*provenance) == code)
}

/// How a direction is stored.
pub(super) fn direction_code(direction: Direction) -> i64 {
    match direction {
        Direction::Received => 0,
        Direction::Sent => 1,
    }
}

/// The direction a stored code stands for (the inverse of [`direction_code`]).
pub(super) fn direction_of(code: i64) -> Direction {
    match code {
        1 => Direction::Sent,
        _ => Direction::Received,
    }
}
