//! `/config`: config.json, read and changed with the same validation as the file.

use std::collections::BTreeMap;

use netmon_core::Config;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;

use super::common::{name_of, Problems, Tag};
use crate::state::{AppState, ConfigChangeError};

/// Every configuration option (see docs/configuration.md).
#[derive(Debug, Object)]
struct ConfigDocument {
    sampling_interval_seconds: u64,
    web_server_port: u16,
    log_level: String,
    data_retention_days_raw: u64,
    data_retention_days_hourly: u64,
    capture_method: String,
    domain_rollup: bool,
    high_usage_threshold_gb: f64,
    enable_notifications: bool,
    batch_write_seconds: u64,
    domain_tracking: String,
    browser_apps: Vec<String>,
    capture_interface: String,
    metrics_enabled: bool,
    metrics_top_n: u64,
}

/// The configuration after a change.
#[derive(Debug, Object)]
struct ConfigChanged {
    config: ConfigDocument,
    /// Changed keys that take effect only after netmon restarts.
    restart_required: Vec<String>,
}

#[derive(ApiResponse)]
enum ConfigResponse {
    /// The change was applied and saved.
    #[oai(status = 200)]
    Changed(Json<ConfigChanged>),
    /// Nothing was changed: each problem names the key, the value and what is allowed.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// The change was valid but config.json could not be written.
    #[oai(status = 500)]
    NotSaved(Json<Problems>),
}

/// The configuration.
pub(crate) struct ConfigApi {
    state: AppState,
}

impl ConfigApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl ConfigApi {
    /// The configuration in effect.
    #[oai(path = "/config", method = "get", tag = "Tag::Config")]
    async fn get_config(&self) -> Json<ConfigDocument> {
        Json(ConfigDocument::from(&self.state.config()))
    }

    /// Changes some keys of the configuration (all or nothing) and saves config.json.
    #[oai(path = "/config", method = "put", tag = "Tag::Config")]
    async fn put_config(&self, changes: Json<BTreeMap<String, Value>>) -> ConfigResponse {
        let changes: Vec<(String, Value)> = changes.0.into_iter().collect();
        match self.state.change_config(&changes) {
            Ok((config, restart_required)) => ConfigResponse::Changed(Json(ConfigChanged {
                config: ConfigDocument::from(&config),
                restart_required,
            })),
            Err(ConfigChangeError::Invalid(problems)) => ConfigResponse::Invalid(Json(Problems {
                problems: problems.iter().map(ToString::to_string).collect(),
            })),
            Err(ConfigChangeError::Save(error)) => ConfigResponse::NotSaved(Json(Problems {
                problems: vec![error.to_string()],
            })),
        }
    }
}

impl From<&Config> for ConfigDocument {
    fn from(config: &Config) -> Self {
        Self {
            sampling_interval_seconds: config.sampling_interval_seconds,
            web_server_port: config.web_server_port,
            log_level: name_of(config.log_level),
            data_retention_days_raw: config.data_retention_days_raw,
            data_retention_days_hourly: config.data_retention_days_hourly,
            capture_method: name_of(config.capture_method),
            domain_rollup: config.domain_rollup,
            high_usage_threshold_gb: config.high_usage_threshold_gb,
            enable_notifications: config.enable_notifications,
            batch_write_seconds: config.batch_write_seconds,
            domain_tracking: name_of(config.domain_tracking),
            browser_apps: config.browser_apps.clone(),
            capture_interface: config.capture_interface.clone(),
            metrics_enabled: config.metrics_enabled,
            metrics_top_n: config.metrics_top_n as u64,
        }
    }
}
