//! Each VPN's tunnel per hour (`hourly_tunnels`, schema version 5): the clear bytes its tunnels
//! carried and the outer bytes of its transport. Usage rows hold only the overhead under the
//! VPN, so every total counts each byte once; these rows are the VPN's raw outer bytes for its
//! detail (docs/vpn.md). Kept as long as the hourly tier, deleted with it and by purge.

use std::collections::HashMap;

use rusqlite::{params, Transaction};
use serde::Serialize;

use super::rows::{direction_code, direction_of, upsert_app};
use super::{Range, Store, StoreError, HOUR_MS};
use crate::sample::{Direction, Sample};

/// One VPN's tunnel over a range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TunnelTotal {
    /// The VPN's application (or its tunnel interfaces' names for a kernel VPN).
    pub vpn: String,
    /// Clear bytes its tunnels carried (counted under the applications).
    pub inner_sent: u64,
    pub inner_received: u64,
    /// Its transport's bytes on the physical link (of which usage counts only the overhead).
    pub outer_sent: u64,
    pub outer_received: u64,
}

/// Adds a sample's tunnels to their hours.
pub(super) fn write(
    transaction: &Transaction<'_>,
    app_ids: &mut HashMap<String, i64>,
    sample: &Sample,
) -> Result<(), StoreError> {
    let hour_ms = hour_of(sample.start_ms);
    let mut insert = transaction.prepare_cached(
        "INSERT INTO hourly_tunnels (hour_ms, app_id, direction, inner_bytes, outer_bytes)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (hour_ms, app_id, direction) DO UPDATE SET
             inner_bytes = inner_bytes + excluded.inner_bytes,
             outer_bytes = outer_bytes + excluded.outer_bytes",
    )?;
    for tunnel in &sample.stats.tunnels {
        let app_id = match app_ids.get(&tunnel.vpn) {
            Some(id) => *id,
            None => {
                let id = upsert_app(transaction, &tunnel.vpn, None, sample.end_ms)?;
                app_ids.insert(tunnel.vpn.clone(), id);
                id
            }
        };
        let directions = [
            (Direction::Sent, tunnel.inner_sent, tunnel.outer_sent),
            (
                Direction::Received,
                tunnel.inner_received,
                tunnel.outer_received,
            ),
        ];
        for (direction, inner, outer) in directions {
            if inner.saturating_add(outer) > 0 {
                let bytes = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
                let code = direction_code(direction);
                insert.execute(params![hour_ms, app_id, code, bytes(inner), bytes(outer)])?;
            }
        }
    }
    Ok(())
}

/// The start of the hour holding `ms` (the earliest time for times before it).
fn hour_of(ms: i64) -> i64 {
    ms.saturating_sub(ms.rem_euclid(HOUR_MS))
}

/// Deletes the tunnels' hours that end by `before_ms` (all of them when `None`).
pub(super) fn delete_before(
    transaction: &Transaction<'_>,
    before_ms: Option<i64>,
) -> Result<usize, StoreError> {
    Ok(transaction.execute(
        "DELETE FROM hourly_tunnels WHERE hour_ms < ?1",
        [before_ms.map_or(i64::MAX, hour_of)],
    )?)
}

impl Store {
    /// Each VPN's inner and outer bytes over the hours that `range` touches, busiest first.
    pub fn tunnels(&self, range: Range) -> Result<Vec<TunnelTotal>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT a.name, t.direction, sum(t.inner_bytes), sum(t.outer_bytes)
             FROM hourly_tunnels t JOIN applications a ON a.id = t.app_id
             WHERE t.hour_ms >= ?1 AND t.hour_ms < ?2
             GROUP BY a.name, t.direction",
        )?;
        let rows = statement.query_map(params![hour_of(range.start_ms), range.end_ms], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?;
        let mut totals: Vec<TunnelTotal> = Vec::new();
        for row in rows {
            let (vpn, direction, inner, outer) = row?;
            let (inner, outer) = (inner.max(0) as u64, outer.max(0) as u64);
            let at = match totals.iter().position(|total| total.vpn == vpn) {
                Some(at) => at,
                None => {
                    totals.push(TunnelTotal {
                        vpn,
                        ..TunnelTotal::default()
                    });
                    totals.len() - 1
                }
            };
            let total = &mut totals[at];
            match direction_of(direction) {
                Direction::Sent => (total.inner_sent, total.outer_sent) = (inner, outer),
                Direction::Received => {
                    (total.inner_received, total.outer_received) = (inner, outer)
                }
            }
        }
        totals.sort_by_key(|total| std::cmp::Reverse(total.outer_sent + total.outer_received));
        Ok(totals)
    }
}
