//! netmon-core: capture, attribution, domain rollup, storage and queries for netmon.
//!
//! A pure library: the frontends (`netmon` CLI, `netmon-server`, `netmon-menubar`) only wire
//! these pieces together. ARCHITECTURE.md at the repository root maps the modules.

pub mod config;
pub mod paths;
pub mod sample;
pub mod store;

pub use config::Config;
pub use paths::Paths;
pub use sample::{Direction, Sample, Usage};
