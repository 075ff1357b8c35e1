//! Each configuration option described for people: a one-line explanation, its unit, and what
//! it allows — the last taken from `Config::set`'s own rules (the text its refusal names), so
//! the description never drifts from the validation. The API puts these into its schema of the
//! configuration; the dashboard's Configuration page reads them from there.

use serde_json::json;

use crate::config::{Config, KEYS};

/// One option, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDoc {
    pub key: &'static str,
    /// One line: what it does.
    pub summary: &'static str,
    /// The unit of a number (empty for other values).
    pub unit: &'static str,
    /// What is allowed, in words (`a whole number from 1 to 3600`).
    pub allowed: String,
    /// The names allowed, for options that take one of a set.
    pub choices: Vec<String>,
}

/// The explanation and unit of each key.
const TEXTS: &[(&str, &str, &str)] = &[
    (
        "sampling_interval_seconds",
        "length of one sample",
        "seconds",
    ),
    (
        "web_server_port",
        "port of the local web server (always 127.0.0.1); applies at restart",
        "",
    ),
    ("log_level", "log verbosity", ""),
    (
        "data_retention_days_raw",
        "days per-sample rows are kept before only hours remain",
        "days",
    ),
    (
        "data_retention_days_hourly",
        "days hourly rows are kept before only days remain",
        "days",
    ),
    (
        "capture_method",
        "how packets are counted: pcap (root), nettop (macOS, no root), auto picks",
        "",
    ),
    (
        "domain_rollup",
        "roll hostnames up to their registrable domain",
        "",
    ),
    (
        "high_usage_threshold_gb",
        "daily usage that raises the menubar's notification",
        "GB",
    ),
    (
        "enable_notifications",
        "show notifications in the menubar",
        "",
    ),
    (
        "batch_write_seconds",
        "seconds between database writes (and alert checks)",
        "seconds",
    ),
    (
        "domain_tracking",
        "whose traffic is broken down by domain",
        "",
    ),
    (
        "browser_apps",
        "application names treated as browsers (comma-separated)",
        "",
    ),
    (
        "capture_interface",
        "interface to capture on; any is every interface",
        "",
    ),
    (
        "anomaly_sensitivity",
        "how far above its usual an hour must be to be unusual",
        "robust standard deviations",
    ),
    (
        "anomaly_floor_mb",
        "an hour below this is never unusual",
        "MB per hour",
    ),
    (
        "new_app_alert_mb",
        "a new application moving more in its first hour raises an alert",
        "MB",
    ),
    (
        "metrics_enabled",
        "serve GET /metrics (Prometheus text)",
        "",
    ),
    (
        "metrics_top_n",
        "applications and domains with a metric series of their own",
        "names",
    ),
];

/// Every option in file order; an option without an explanation is described by its key.
pub fn describe() -> Vec<OptionDoc> {
    KEYS.iter().map(|key| describe_key(key)).collect()
}

fn describe_key(key: &'static str) -> OptionDoc {
    let (summary, unit) = TEXTS
        .iter()
        .find(|(name, _, _)| *name == key)
        .map_or((key, ""), |(_, summary, unit)| (*summary, *unit));
    // An object is no option's type: the refusal names what is allowed.
    let allowed = Config::default()
        .set(key, &json!({}))
        .err()
        .map(|problem| problem.allowed)
        .unwrap_or_default();
    let choices = allowed
        .strip_prefix("one of ")
        .map(|names| names.split(", ").map(String::from).collect())
        .unwrap_or_default();
    OptionDoc {
        key,
        summary,
        unit,
        allowed,
        choices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_explained_with_what_it_allows() {
        let options = describe();
        assert_eq!(options.len(), KEYS.len());
        for option in &options {
            assert_ne!(
                option.summary, option.key,
                "{} has no explanation",
                option.key
            );
            assert!(!option.allowed.is_empty(), "{}", option.key);
        }
        let interval = &options[0];
        assert_eq!(interval.allowed, "a whole number from 1 to 3600");
        assert_eq!(interval.unit, "seconds");
        let level = options.iter().find(|o| o.key == "log_level").unwrap();
        assert_eq!(
            level.choices,
            ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
        );
        assert!(
            TEXTS.iter().all(|(key, _, _)| KEYS.contains(key)),
            "no text for a removed key"
        );
    }
}
