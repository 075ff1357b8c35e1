//! netmon's menubar: the daemon's API client ([`api`]), the menu computed from its answers
//! ([`model`]), the high-usage notification rule ([`notify`]) and the polling that ties them
//! together ([`watch`]), all platform-neutral; the macOS status item ([`macos`]) only renders.

pub mod api;
#[cfg(target_os = "macos")]
pub mod macos;
pub mod model;
pub mod notify;
pub mod runner;
pub mod watch;
