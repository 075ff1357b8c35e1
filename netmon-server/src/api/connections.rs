//! `/connections`: the open flows right now, busiest first — each with its process, remote
//! address, hostname and how it was named, protocol, rates and bytes so far — from the
//! snapshot the daemon's tracker publishes about once a second (core's
//! `tracker::connections`).

use netmon_core::clock;
use netmon_core::tracker::connections::{Connections, MAX_CONNECTIONS};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::common::{Problems, Tag};
use crate::state::AppState;

/// Connections listed when no `limit` is given.
const DEFAULT_LIMIT: u32 = 50;

#[derive(ApiResponse)]
enum ConnectionsResponse {
    #[oai(status = 200)]
    Ok(Json<Connections>),
    /// `limit` is out of range.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
}

/// Live connections.
pub(crate) struct ConnectionsApi {
    state: AppState,
}

impl ConnectionsApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl ConnectionsApi {
    /// The open flows now, busiest first by rate (received plus sent over the last second):
    /// process, remote address and port, hostname and provenance (for the applications
    /// `domain_tracking` covers), protocol, rates and bytes since each flow began. `open`
    /// counts every open flow; `connections` holds the `limit` busiest.
    #[oai(path = "/connections", method = "get", tag = "Tag::Live")]
    async fn connections(
        &self,
        /// At most this many connections (1–500, default 50).
        limit: Query<Option<u32>>,
    ) -> ConnectionsResponse {
        match checked(limit.0.unwrap_or(DEFAULT_LIMIT)) {
            Ok(limit) => ConnectionsResponse::Ok(Json(
                self.state
                    .connections()
                    .latest()
                    .busiest(limit, clock::unix_ms()),
            )),
            Err(problems) => ConnectionsResponse::Invalid(Json(Problems { problems })),
        }
    }
}

fn checked(limit: u32) -> Result<usize, Vec<String>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if (1..=MAX_CONNECTIONS).contains(&limit) {
        Ok(limit)
    } else {
        Err(vec![format!(
            "\"limit\": {limit} is not from 1 to {MAX_CONNECTIONS}"
        )])
    }
}
