//! Export: the usage rows of a range from the finest tier that still holds each time (raw rows,
//! then hourly rows where raw ones are gone, then daily rows), streamed row by row so a year of
//! history never sits in memory. Each byte is exported once, and each row says which tier it
//! came from (the store knows; nothing guesses it from the row's duration).

use serde::Serialize;

use super::rows::direction_of;
use super::tiers::{usage_cte, Filter, Kind, Tier};
use super::{Range, Store, StoreError};
use crate::sample::Direction;

/// The usage rows of `usage` (one piece of one tier) with names resolved, oldest first.
const EXPORT: &str =
    "SELECT usage.ts, usage.duration_ms, applications.name, domains.hostname, domains.domain,
           usage.direction, usage.bytes, usage.packets
    FROM usage
    JOIN applications ON applications.id = usage.app_id
    LEFT JOIN domains ON domains.id = usage.domain_id
    ORDER BY usage.ts";

/// One stored usage row: an application's bytes in one direction during one period, with the
/// destination when one was known. Periods are a sample (raw), one hour, or one local day
/// (`duration_ms` is nominal for days: 24 h).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRow {
    pub start_ms: i64,
    pub duration_ms: i64,
    /// The tier the row was read from.
    pub tier: Tier,
    pub app: String,
    pub host: Option<String>,
    pub domain: Option<String>,
    pub direction: Direction,
    pub bytes: u64,
    pub packets: u64,
}

impl Store {
    /// Calls `each` with every usage row in `range`, in time order, without collecting them;
    /// returns how many rows were passed. The first error `each` returns stops the export.
    pub fn export<E: From<StoreError>>(
        &self,
        range: Range,
        mut each: impl FnMut(ExportRow) -> Result<(), E>,
    ) -> Result<u64, E> {
        // Pieces follow each other in time, so reading them in turn keeps the rows in order.
        let mut count = 0;
        for piece in self.pieces(range, Tier::Raw)? {
            let sql = format!(
                "{} {EXPORT}",
                usage_cte(Kind::Hosts, &[piece], Filter::None)
            );
            let mut statement = self.connection.prepare(&sql).map_err(StoreError::from)?;
            let mut rows = statement.query([]).map_err(StoreError::from)?;
            while let Some(row) = rows.next().map_err(StoreError::from)? {
                each(export_row(row, piece.tier).map_err(StoreError::from)?)?;
                count += 1;
            }
        }
        Ok(count)
    }
}

fn export_row(row: &rusqlite::Row<'_>, tier: Tier) -> rusqlite::Result<ExportRow> {
    Ok(ExportRow {
        start_ms: row.get(0)?,
        duration_ms: row.get(1)?,
        tier,
        app: row.get(2)?,
        host: row.get(3)?,
        domain: row.get(4)?,
        direction: direction_of(row.get(5)?),
        bytes: row.get::<_, i64>(6)?.max(0) as u64,
        packets: row.get::<_, i64>(7)?.max(0) as u64,
    })
}
