//! The typed JSON API under `/api` (documented in `/api/openapi.json`, browsable at `/docs`),
//! one module per resource, combined into one OpenAPI service by [`all`]:
//!
//! - `status`: `/status`, `/monitoring/pause|resume`;
//! - `config`: `/config` (read and change);
//! - `browser`: `/browser…`, the extension's reports and their validation;
//! - `history`: `/summary`, `/timeline`, `/apps…`, `/domains…`, `/heatmap`, `/trends/…`, `/purge`;
//! - `export`: `/export…`, streamed CSV/JSON files;
//! - `live`: `/live`, Server-Sent Events;
//! - `connections`: `/connections`, the open flows now;
//! - `common`: what they share (tags, the refusal body, range and limit parameters).
//!
//! A new resource is a module with its own `…Api` struct, added to the tuple in [`all`].

mod browser;
mod common;
mod config;
mod connections;
mod export;
mod history;
mod live;
mod status;

use poem_openapi::OpenApi;

use crate::state::AppState;

/// Every resource of the API, as one OpenAPI service.
pub(crate) fn all(state: AppState) -> impl OpenApi {
    (
        status::StatusApi::new(state.clone()),
        config::ConfigApi::new(state.clone()),
        browser::BrowserApi::new(state.clone()),
        history::HistoryApi::new(state.clone()),
        live::LiveApi::new(state.clone()),
        connections::ConnectionsApi::new(state.clone()),
        export::ExportApi::new(state),
    )
}

pub use common::range_at;
