//! History as the CLI and the API both present it, on top of the [`store`](crate::store):
//!
//! - [`span`]: the one grammar of points and spans (`24h`, `7d`, `2026-11-01`, …) with one
//!   error wording;
//! - [`views`]: one JSON shape per view (timeline, heatmap, application detail) — what
//!   `netmon … --json` prints and the API answers (docs/api.md documents them);
//! - [`export`]: one export (format, fixed columns) written to any `io::Write`: the CLI passes
//!   a file or stdout plus a progress callback, the server its chunked response body.
//!
//! With the `openapi` feature the view and record types also describe themselves to
//! poem-openapi, so the server documents the very types it serialises.

pub mod export;
pub mod span;
pub mod views;
