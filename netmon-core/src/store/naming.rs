//! How the stored bytes of each domain were named (schema version 4 on), and the domains of one
//! application.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::rows::provenance_of;
use super::tiers::{usage_cte, Filter, Kind, Tier};
use super::{Range, Store, StoreError};

/// The name of bytes stored before provenance was recorded (schema versions before 4).
pub const UNRECORDED: &str = "unrecorded";

/// Bytes (sent and received) per provenance name: `sni`, `http`, `extension`, `dns`,
/// `unresolved`, or [`UNRECORDED`].
pub type ProvenanceBytes = BTreeMap<String, u64>;

/// One registrable domain's usage in a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DomainTotal {
    pub domain: String,
    pub sent: u64,
    pub received: u64,
    /// Hostnames under the domain that carried traffic.
    pub hostnames: u64,
    /// The bytes by how their hostnames were named (`sni`, `http`, `extension`, `dns`,
    /// `unresolved`; `unrecorded` before schema version 4); empty where not kept.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: ProvenanceBytes,
}

impl Store {
    /// Per registrable domain in `range`, its bytes by how their hostnames were named.
    pub fn domain_provenance(
        &self,
        range: Range,
    ) -> Result<HashMap<String, ProvenanceBytes>, StoreError> {
        let pieces = self.pieces(range, Tier::Daily)?;
        let sql = format!(
            "{}, grouped AS (
                SELECT domain_id, naming, sum(bytes) AS bytes FROM usage GROUP BY 1, 2)
             SELECT d.domain, u.naming, sum(u.bytes)
             FROM grouped u JOIN domains d ON d.id = u.domain_id GROUP BY 1, 2",
            usage_cte(Kind::Hostnames, &pieces, Filter::None)
        );
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)? as u64,
            ))
        })?;
        let mut domains: HashMap<String, ProvenanceBytes> = HashMap::new();
        for row in rows {
            let (domain, code, bytes) = row?;
            let name = provenance_of(code).map_or(UNRECORDED, |known| known.as_str());
            *domains
                .entry(domain)
                .or_default()
                .entry(name.to_owned())
                .or_default() += bytes;
        }
        Ok(domains)
    }

    /// The registrable domains `app`'s bytes went to in `range`, busiest first, at most
    /// `limit` (no provenance: it is kept per hostname, not per application); `None` for an
    /// unknown application.
    pub fn app_domains(
        &self,
        app: &str,
        range: Range,
        limit: usize,
    ) -> Result<Option<Vec<DomainTotal>>, StoreError> {
        let id: Option<i64> = self
            .connection
            .prepare_cached("SELECT id FROM applications WHERE name = ?1")?
            .query_row([app], |row| row.get(0))
            .optional()?;
        let Some(id) = id else {
            return Ok(None);
        };
        let pieces = self.pieces(range, Tier::Daily)?;
        let sql = format!(
            "{}, grouped AS (
                SELECT domain_id,
                       coalesce(sum(bytes) FILTER (WHERE direction = 1), 0) AS up,
                       coalesce(sum(bytes) FILTER (WHERE direction = 0), 0) AS down
                FROM usage WHERE domain_id != 0 GROUP BY domain_id)
             SELECT d.domain, count(DISTINCT d.hostname), sum(u.up) AS sent, sum(u.down) AS received
             FROM grouped u JOIN domains d ON d.id = u.domain_id
             GROUP BY d.domain ORDER BY sent + received DESC, 1 LIMIT ?1",
            usage_cte(Kind::Hosts, &pieces, Filter::App(id))
        );
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement.query_map(params![limit as i64], |row| {
            Ok(DomainTotal {
                domain: row.get(0)?,
                hostnames: row.get::<_, i64>(1)? as u64,
                sent: row.get::<_, i64>(2)? as u64,
                received: row.get::<_, i64>(3)? as u64,
                provenance: ProvenanceBytes::new(),
            })
        })?;
        Ok(Some(rows.collect::<Result<_, _>>()?))
    }
}
