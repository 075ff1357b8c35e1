//! `netmon run`'s side of the live configuration (`netmon_core::live`): who follows which change.
//! The monitor loop and the history writer poll the configuration themselves; this module wires
//! the rest — the log level (a listener), config.json's watcher, and the capture reopen, whose
//! outcome the API's status shows.

use std::sync::Arc;

use netmon_core::capture::choose::open_with_mode;
use netmon_core::live::{LiveConfig, MonitorSteering, OpenCapture};
use netmon_core::logging::LevelHandle;
use netmon_core::Config;
use netmon_server::AppState;

use crate::watch::{self, ConfigWatch};

/// Follows `live` for the log level (when logging is set up) and config.json's hand edits.
/// The watch runs until the returned value is dropped; without it, only changes made through
/// the API apply (the reason is logged).
pub fn follow(live: &LiveConfig, level: Option<LevelHandle>) -> Option<ConfigWatch> {
    if let Some(level) = level {
        live.on_change(move |config: &Config| level.set(config.log_level));
    }
    watch::watch(live.clone())
        .map_err(|error| tracing::warn!(%error, "hand edits of config.json apply at restart"))
        .ok()
}

/// The monitor's steering: interval, domain policy, and a capture source opened anew when
/// `capture_method` or `capture_interface` changed. A source that cannot be opened leaves the
/// running one in place, and the reason is logged and shown by `/api/status`.
pub fn steering(live: &LiveConfig, state: &AppState) -> MonitorSteering {
    let state = state.clone();
    let open: Arc<OpenCapture> = Arc::new(move |config: &Config| match open_with_mode(config) {
        Ok((source, mode)) => {
            tracing::info!(source = %source.describe(), mode = mode.describe(), "capture reopened for the new configuration");
            state.set_source(source.describe());
            state.set_capture_mode(mode);
            Some(source)
        }
        Err(error) => {
            tracing::error!(%error, "cannot open the capture the configuration asks for; the running capture goes on");
            state.record_error(format!(
                "capture not switched ({error}); still capturing with {}",
                state.source()
            ));
            None
        }
    });
    MonitorSteering::new(live, open)
}
