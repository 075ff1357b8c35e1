//! netmon-core: capture, attribution, domain rollup, storage and queries for netmon.
//!
//! A pure library: the frontends (`netmon` CLI, `netmon-server`, `netmon-menubar`) only wire
//! these pieces together. ARCHITECTURE.md at the repository root maps the modules.

pub mod alert;
pub mod alerts;
pub mod anomaly;
pub mod attribution;
pub mod budget;
pub mod capture;
pub mod clock;
pub mod condition;
pub mod config;
pub mod domains;
pub mod flow;
pub mod history;
pub mod live;
pub mod logging;
pub mod monitor;
pub mod options;
pub mod os;
pub mod packet;
pub mod packet_log;
pub mod paths;
pub mod process;
pub mod sample;
pub mod service;
pub mod store;
pub mod tracker;
pub mod tunnel;
pub mod units;

pub use config::Config;
pub use paths::Paths;
pub use sample::{Direction, Sample, Usage};
