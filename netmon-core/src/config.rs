//! `config.json`: every option of the spec plus netmon's own, validated key by key.
//!
//! A missing file is written with the defaults. A key that is unknown, of the wrong type or out
//! of range is reported with the key, the value and what is allowed; every problem in the file
//! is reported at once. Keys left out of the file take their defaults. `docs/configuration.md`
//! documents each key.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::paths::{self, Paths};

/// netmon's configuration, as read from `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Length of one sample, in seconds.
    pub sampling_interval_seconds: u64,
    /// Port of the local web server (always bound to 127.0.0.1).
    pub web_server_port: u16,
    pub log_level: LogLevel,
    /// Days raw 5-second samples are kept before they are rolled into hourly rows.
    pub data_retention_days_raw: u64,
    /// Days hourly rows are kept before they are rolled into daily rows (daily rows are kept).
    pub data_retention_days_hourly: u64,
    pub capture_method: CaptureMethod,
    /// Roll hostnames up to their registrable domain (`api.netflix.com` → `netflix.com`).
    pub domain_rollup: bool,
    /// Daily usage, in GB, above which a notification is raised.
    pub high_usage_threshold_gb: f64,
    pub enable_notifications: bool,
    /// Seconds between database write batches.
    pub batch_write_seconds: u64,
    /// Which applications' traffic is broken down by domain.
    pub domain_tracking: DomainTracking,
    /// Application names treated as web browsers (matched without regard to case).
    pub browser_apps: Vec<String>,
    /// Interface to capture on; `any` captures every interface.
    pub capture_interface: String,
    /// Serve `GET /metrics` (Prometheus/OpenMetrics text, docs/metrics.md).
    pub metrics_enabled: bool,
    /// How many applications, and how many domains, get a metric series of their own; the
    /// rest are summed as `other`.
    pub metrics_top_n: usize,
}

/// Log verbosity, with the spec's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

/// How packets are captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureMethod {
    /// libpcap when the process may capture, else `nettop` on macOS.
    Auto,
    /// libpcap (PKTAP on macOS). The spec's `packet_sniffing` means this too.
    Pcap,
    /// macOS `nettop`, which needs no root.
    Nettop,
}

/// Whose traffic gets a per-domain breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainTracking {
    Browsers,
    All,
    Off,
}

/// One thing wrong with one key of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: String,
    pub value: Value,
    pub kind: ProblemKind,
    /// What would have been accepted, in words.
    pub allowed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    UnknownKey,
    WrongType,
    OutOfRange,
    NotAChoice,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path} is not valid JSON: {source}")]
    Syntax {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} must hold one JSON object ({{\"key\": value, …}}), found {found}")]
    NotAnObject { path: PathBuf, found: &'static str },
    #[error("{path} has {} problem(s):{}", problems.len(), list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error(transparent)]
    Paths(#[from] paths::PathsError),
}

/// Every key, in the order the file is written.
pub const KEYS: &[&str] = &[
    "sampling_interval_seconds",
    "web_server_port",
    "log_level",
    "data_retention_days_raw",
    "data_retention_days_hourly",
    "capture_method",
    "domain_rollup",
    "high_usage_threshold_gb",
    "enable_notifications",
    "batch_write_seconds",
    "domain_tracking",
    "browser_apps",
    "capture_interface",
    "metrics_enabled",
    "metrics_top_n",
];

/// Keys read only when netmon starts; every other key applies to a running netmon at once
/// (`crate::live`).
pub const RESTART_KEYS: &[&str] = &["web_server_port"];

pub const SAMPLING_INTERVAL: RangeInclusive<u64> = 1..=3600;
pub const WEB_SERVER_PORT: RangeInclusive<u64> = 7000..=7999;
pub const RETENTION_DAYS_RAW: RangeInclusive<u64> = 1..=30;
pub const RETENTION_DAYS_HOURLY: RangeInclusive<u64> = 30..=90;
pub const BATCH_WRITE_SECONDS: RangeInclusive<u64> = 1..=3600;
pub const HIGH_USAGE_GB: RangeInclusive<f64> = 0.001..=1_000_000.0;
pub const METRICS_TOP_N: RangeInclusive<u64> = 1..=1000;
const MAX_BROWSER_APPS: usize = 100;
const MAX_NAME_LEN: usize = 64;

impl Default for Config {
    fn default() -> Self {
        Self {
            sampling_interval_seconds: 5,
            web_server_port: 7500,
            log_level: LogLevel::Info,
            data_retention_days_raw: 7,
            data_retention_days_hourly: 90,
            capture_method: CaptureMethod::Auto,
            domain_rollup: true,
            high_usage_threshold_gb: 10.0,
            enable_notifications: false,
            batch_write_seconds: 30,
            domain_tracking: DomainTracking::Browsers,
            browser_apps: [
                "zen",
                "firefox",
                "chrome",
                "chromium",
                "google chrome",
                "safari",
                "edge",
                "microsoft edge",
                "msedge",
                "brave",
                "brave browser",
                "arc",
                "opera",
                "vivaldi",
            ]
            .map(String::from)
            .to_vec(),
            capture_interface: "any".into(),
            metrics_enabled: false,
            metrics_top_n: 20,
        }
    }
}

impl Config {
    /// Reads `config.json` below `paths`, writing the defaults there first when it is missing.
    /// Returns the configuration and whether the file was created.
    pub fn load_or_create(paths: &Paths) -> Result<(Self, bool), ConfigError> {
        let path = paths.config();
        if path.exists() {
            return Self::load(&path).map(|config| (config, false));
        }
        paths.ensure()?;
        let config = Self::default();
        config.save(&path)?;
        Ok((config, true))
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses configuration text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|source| ConfigError::Syntax {
            path: path.to_path_buf(),
            source,
        })?;
        let map = match value {
            Value::Object(map) => map,
            other => {
                return Err(ConfigError::NotAnObject {
                    path: path.to_path_buf(),
                    found: json_type(&other),
                })
            }
        };
        Self::from_map(&map).map_err(|problems| ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        })
    }

    /// Builds a configuration from the defaults and the given keys, reporting every problem.
    pub fn from_map(map: &Map<String, Value>) -> Result<Self, Vec<Problem>> {
        let mut config = Self::default();
        let problems: Vec<Problem> = map
            .iter()
            .filter_map(|(key, value)| config.set(key, value).err())
            .collect();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Sets one key after validating its value; the configuration is unchanged on error.
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), Problem> {
        let field = Field { key, value };
        match key {
            "sampling_interval_seconds" => {
                self.sampling_interval_seconds = field.integer(SAMPLING_INTERVAL)?
            }
            "web_server_port" => self.web_server_port = field.integer(WEB_SERVER_PORT)? as u16,
            "log_level" => self.log_level = field.choice(LogLevel::CHOICES)?,
            "data_retention_days_raw" => {
                self.data_retention_days_raw = field.integer(RETENTION_DAYS_RAW)?
            }
            "data_retention_days_hourly" => {
                self.data_retention_days_hourly = field.integer(RETENTION_DAYS_HOURLY)?
            }
            "capture_method" => self.capture_method = field.choice(CaptureMethod::CHOICES)?,
            "domain_rollup" => self.domain_rollup = field.boolean()?,
            "high_usage_threshold_gb" => {
                self.high_usage_threshold_gb = field.number(HIGH_USAGE_GB)?
            }
            "enable_notifications" => self.enable_notifications = field.boolean()?,
            "batch_write_seconds" => {
                self.batch_write_seconds = field.integer(BATCH_WRITE_SECONDS)?
            }
            "domain_tracking" => self.domain_tracking = field.choice(DomainTracking::CHOICES)?,
            "browser_apps" => self.browser_apps = field.names(MAX_BROWSER_APPS)?,
            "capture_interface" => self.capture_interface = field.name()?,
            "metrics_enabled" => self.metrics_enabled = field.boolean()?,
            "metrics_top_n" => self.metrics_top_n = field.integer(METRICS_TOP_N)? as usize,
            _ => return Err(field.problem(ProblemKind::UnknownKey, KEYS.join(", "))),
        }
        Ok(())
    }

    /// The configuration as the pretty JSON that `config.json` holds.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("the configuration always serialises") + "\n"
    }

    /// Writes the configuration atomically (temporary file, then rename), mode 600.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let write_error = |source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        };
        let temp = path.with_extension("json.tmp");
        let mut file = private_file(&temp).map_err(write_error)?;
        file.write_all(self.to_json_pretty().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(write_error)?;
        fs::rename(&temp, path).map_err(write_error)
    }

    /// Whether a change of `key` takes effect only when netmon restarts (the rest apply live).
    pub fn needs_restart(key: &str) -> bool {
        RESTART_KEYS.contains(&key)
    }

    /// The keys whose values differ between `self` and `other`, in file order.
    pub fn changed_keys(&self, other: &Config) -> Vec<&'static str> {
        let (before, after) = (self.to_value(), other.to_value());
        KEYS.iter()
            .copied()
            .filter(|key| before.get(key) != after.get(key))
            .collect()
    }

    /// Gives `key` the value it has in `source` (validated like any other change).
    pub fn copy_key(&mut self, key: &str, source: &Config) -> Result<(), Problem> {
        let value = source.to_value().get(key).cloned().unwrap_or(Value::Null);
        self.set(key, &value)
    }

    fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("the configuration always serialises")
    }

    /// True when `app` (a process or application name) is one of the configured browsers.
    pub fn is_browser(&self, app: &str) -> bool {
        self.browser_apps
            .iter()
            .any(|browser| browser.eq_ignore_ascii_case(app))
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(paths::FILE_MODE)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> io::Result<fs::File> {
    fs::File::create(path)
}

/// A value named by its key, with the checks each kind of key needs.
struct Field<'a> {
    key: &'a str,
    value: &'a Value,
}

impl Field<'_> {
    fn problem(&self, kind: ProblemKind, allowed: impl Into<String>) -> Problem {
        Problem {
            key: self.key.to_string(),
            value: self.value.clone(),
            kind,
            allowed: allowed.into(),
        }
    }

    fn integer(&self, range: RangeInclusive<u64>) -> Result<u64, Problem> {
        let allowed = format!("a whole number from {} to {}", range.start(), range.end());
        let number = self
            .value
            .as_u64()
            .or_else(|| self.value.as_i64().map(|_| u64::MAX))
            .ok_or_else(|| self.problem(ProblemKind::WrongType, allowed.clone()))?;
        if range.contains(&number) {
            Ok(number)
        } else {
            Err(self.problem(ProblemKind::OutOfRange, allowed))
        }
    }

    fn number(&self, range: RangeInclusive<f64>) -> Result<f64, Problem> {
        let allowed = format!("a number from {} to {}", range.start(), range.end());
        let number = self
            .value
            .as_f64()
            .ok_or_else(|| self.problem(ProblemKind::WrongType, allowed.clone()))?;
        if range.contains(&number) {
            Ok(number)
        } else {
            Err(self.problem(ProblemKind::OutOfRange, allowed))
        }
    }

    fn boolean(&self) -> Result<bool, Problem> {
        self.value
            .as_bool()
            .ok_or_else(|| self.problem(ProblemKind::WrongType, "true or false"))
    }

    fn choice<T: Copy>(&self, choices: &[(&str, T)]) -> Result<T, Problem> {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let allowed = format!("one of {}", names.join(", "));
        let text = self
            .value
            .as_str()
            .ok_or_else(|| self.problem(ProblemKind::WrongType, allowed.clone()))?;
        choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
            .map(|(_, choice)| *choice)
            .ok_or_else(|| self.problem(ProblemKind::NotAChoice, allowed))
    }

    fn name(&self) -> Result<String, Problem> {
        let allowed = format!("a non-empty string of at most {MAX_NAME_LEN} characters");
        let text = self
            .value
            .as_str()
            .ok_or_else(|| self.problem(ProblemKind::WrongType, allowed.clone()))?;
        valid_name(text)
            .then(|| text.trim().to_string())
            .ok_or_else(|| self.problem(ProblemKind::OutOfRange, allowed))
    }

    fn names(&self, max: usize) -> Result<Vec<String>, Problem> {
        let allowed = format!(
            "a list of at most {max} non-empty strings of at most {MAX_NAME_LEN} characters"
        );
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.problem(ProblemKind::WrongType, allowed.clone()))?;
        let names: Option<Vec<String>> = items
            .iter()
            .map(|item| item.as_str().filter(|text| valid_name(text)))
            .map(|name| name.map(|text| text.trim().to_string()))
            .collect();
        match names {
            Some(names) if names.len() <= max => Ok(names),
            Some(_) => Err(self.problem(ProblemKind::OutOfRange, allowed)),
            None => Err(self.problem(ProblemKind::WrongType, allowed)),
        }
    }
}

fn valid_name(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty() && text.chars().count() <= MAX_NAME_LEN
}

impl LogLevel {
    pub const CHOICES: &'static [(&'static str, LogLevel)] = &[
        ("DEBUG", LogLevel::Debug),
        ("INFO", LogLevel::Info),
        ("WARNING", LogLevel::Warning),
        ("ERROR", LogLevel::Error),
        ("CRITICAL", LogLevel::Critical),
    ];
}

impl CaptureMethod {
    pub const CHOICES: &'static [(&'static str, CaptureMethod)] = &[
        ("auto", CaptureMethod::Auto),
        ("pcap", CaptureMethod::Pcap),
        ("nettop", CaptureMethod::Nettop),
        ("packet_sniffing", CaptureMethod::Pcap),
    ];
}

impl DomainTracking {
    pub const CHOICES: &'static [(&'static str, DomainTracking)] = &[
        ("browsers", DomainTracking::Browsers),
        ("all", DomainTracking::All),
        ("off", DomainTracking::Off),
    ];
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (key, value, allowed) = (&self.key, &self.value, &self.allowed);
        match self.kind {
            ProblemKind::UnknownKey => {
                write!(
                    f,
                    "unknown key \"{key}\" (value {value}); known keys: {allowed}"
                )
            }
            ProblemKind::WrongType => write!(
                f,
                "\"{key}\": {value} is {}, expected {allowed}",
                json_type(value)
            ),
            ProblemKind::OutOfRange => {
                write!(f, "\"{key}\": {value} is out of range, expected {allowed}")
            }
            ProblemKind::NotAChoice => {
                write!(f, "\"{key}\": {value} is not allowed, expected {allowed}")
            }
        }
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("\n  - {problem}"))
        .collect()
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problem_of(key: &str, value: Value) -> String {
        let mut map = Map::new();
        map.insert(key.to_string(), value);
        let problems = Config::from_map(&map).unwrap_err();
        assert_eq!(problems.len(), 1);
        problems[0].to_string()
    }

    #[test]
    fn defaults_match_the_spec() {
        let config = Config::default();
        assert_eq!(config.sampling_interval_seconds, 5);
        assert_eq!(config.web_server_port, 7500);
        assert_eq!(config.log_level, LogLevel::Info);
        assert_eq!(config.data_retention_days_raw, 7);
        assert_eq!(config.data_retention_days_hourly, 90);
        assert!(config.domain_rollup);
        assert_eq!(config.high_usage_threshold_gb, 10.0);
        assert!(!config.enable_notifications);
        assert_eq!(config.batch_write_seconds, 30);
        assert!(!config.metrics_enabled, "metrics are off by default");
        assert_eq!(config.metrics_top_n, 20);
    }

    #[test]
    fn the_written_file_lists_every_key_in_order_and_reads_back() {
        let text = Config::default().to_json_pretty();
        let value: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted_keys = KEYS.to_vec();
        sorted_keys.sort_unstable();
        assert_eq!(keys, sorted_keys, "every key, no other");
        let ordered: Vec<usize> = KEYS.iter().map(|key| text.find(key).unwrap()).collect();
        assert!(ordered.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
        assert_eq!(
            Config::parse(&text, Path::new("c")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn the_spec_example_is_accepted() {
        let text = r#"{
          "sampling_interval_seconds": 5, "web_server_port": 7500, "log_level": "INFO",
          "data_retention_days_raw": 7, "data_retention_days_hourly": 90,
          "capture_method": "packet_sniffing", "domain_rollup": true,
          "high_usage_threshold_gb": 10, "enable_notifications": false }"#;
        let config = Config::parse(text, Path::new("c")).unwrap();
        assert_eq!(config.capture_method, CaptureMethod::Pcap);
        assert_eq!(config.high_usage_threshold_gb, 10.0);
    }

    #[test]
    fn missing_keys_take_their_defaults() {
        let config = Config::parse(r#"{"web_server_port": 7600}"#, Path::new("c")).unwrap();
        assert_eq!(config.web_server_port, 7600);
        assert_eq!(config.sampling_interval_seconds, 5);
    }

    #[test]
    fn every_key_reports_a_wrong_type_with_key_value_and_allowed() {
        let expected = [
            ("sampling_interval_seconds", "a whole number from 1 to 3600"),
            ("web_server_port", "a whole number from 7000 to 7999"),
            ("log_level", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
            ("data_retention_days_raw", "a whole number from 1 to 30"),
            ("data_retention_days_hourly", "a whole number from 30 to 90"),
            (
                "capture_method",
                "one of auto, pcap, nettop, packet_sniffing",
            ),
            ("domain_rollup", "true or false"),
            ("high_usage_threshold_gb", "a number from 0.001 to 1000000"),
            ("enable_notifications", "true or false"),
            ("batch_write_seconds", "a whole number from 1 to 3600"),
            ("domain_tracking", "one of browsers, all, off"),
            ("browser_apps", "a list of at most 100 non-empty strings"),
            (
                "capture_interface",
                "a non-empty string of at most 64 characters",
            ),
            ("metrics_enabled", "true or false"),
            ("metrics_top_n", "a whole number from 1 to 1000"),
        ];
        assert_eq!(expected.len(), KEYS.len(), "every key is covered");
        for (key, allowed) in expected {
            let message = problem_of(key, json!({"x": 1}));
            assert!(
                message.starts_with(&format!("\"{key}\": {{\"x\":1}} is an object")),
                "{message}"
            );
            assert!(message.contains(allowed), "{key}: {message}");
        }
    }

    #[test]
    fn every_bounded_key_reports_out_of_range_values() {
        let cases = [
            ("sampling_interval_seconds", json!(0), "from 1 to 3600"),
            ("sampling_interval_seconds", json!(3601), "from 1 to 3600"),
            ("web_server_port", json!(80), "from 7000 to 7999"),
            ("web_server_port", json!(8000), "from 7000 to 7999"),
            ("web_server_port", json!(-7500), "from 7000 to 7999"),
            ("data_retention_days_raw", json!(0), "from 1 to 30"),
            ("data_retention_days_hourly", json!(29), "from 30 to 90"),
            ("data_retention_days_hourly", json!(91), "from 30 to 90"),
            ("high_usage_threshold_gb", json!(0), "from 0.001 to 1000000"),
            (
                "high_usage_threshold_gb",
                json!(-1.5),
                "from 0.001 to 1000000",
            ),
            ("batch_write_seconds", json!(0), "from 1 to 3600"),
            ("capture_interface", json!(""), "non-empty string"),
            ("browser_apps", json!(vec!["zen"; 101]), "at most 100"),
            ("metrics_top_n", json!(0), "from 1 to 1000"),
            ("metrics_top_n", json!(1001), "from 1 to 1000"),
        ];
        for (key, value, allowed) in cases {
            let message = problem_of(key, value.clone());
            let head = format!("\"{key}\": {value} is out of range, expected");
            assert!(message.starts_with(&head), "{message}");
            assert!(message.contains(allowed), "{message}");
        }
    }

    #[test]
    fn fractional_integers_are_wrong_types() {
        let message = problem_of("web_server_port", json!(7500.5));
        assert!(
            message.contains("7500.5 is a number, expected a whole number"),
            "{message}"
        );
    }

    #[test]
    fn choices_name_the_allowed_values() {
        let message = problem_of("log_level", json!("LOUD"));
        assert_eq!(
            message,
            "\"log_level\": \"LOUD\" is not allowed, expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        );
        let lower = Config::parse(r#"{"log_level": "debug"}"#, Path::new("c")).unwrap();
        assert_eq!(lower.log_level, LogLevel::Debug);
    }

    #[test]
    fn browser_lists_must_hold_strings() {
        let message = problem_of("browser_apps", json!(["zen", 3]));
        assert!(
            message.contains("is a list, expected a list of at most 100"),
            "{message}"
        );
    }

    #[test]
    fn unknown_keys_are_named_with_the_known_ones() {
        let message = problem_of("sampling_interval", json!(5));
        assert!(message.starts_with("unknown key \"sampling_interval\" (value 5); known keys: sampling_interval_seconds, web_server_port"), "{message}");
    }

    #[test]
    fn every_problem_of_a_file_is_reported() {
        let text = r#"{"web_server_port": 1, "log_level": 3, "colour": "red"}"#;
        let error = Config::parse(text, Path::new("/x/config.json")).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("/x/config.json has 3 problem(s):"),
            "{message}"
        );
        for key in ["web_server_port", "log_level", "colour"] {
            assert!(message.contains(key), "{message}");
        }
    }

    #[test]
    fn broken_json_and_non_objects_are_named() {
        let syntax = Config::parse("{\"web_server_port\": }", Path::new("/c.json")).unwrap_err();
        assert!(
            syntax
                .to_string()
                .starts_with("/c.json is not valid JSON: "),
            "{syntax}"
        );
        assert!(syntax.to_string().contains("line 1"), "{syntax}");
        let array = Config::parse("[1]", Path::new("/c.json")).unwrap_err();
        assert_eq!(
            array.to_string(),
            "/c.json must hold one JSON object ({\"key\": value, …}), found a list"
        );
    }

    #[test]
    fn a_rejected_set_leaves_the_config_unchanged() {
        let mut config = Config::default();
        assert!(config.set("web_server_port", &json!(1)).is_err());
        assert_eq!(config, Config::default());
        config.set("web_server_port", &json!(7001)).unwrap();
        assert_eq!(config.web_server_port, 7001);
    }

    #[test]
    fn changed_keys_are_listed_in_file_order_and_copied_back() {
        let mut edited = Config::default();
        edited.set("capture_interface", &json!("eth0")).unwrap();
        edited.set("log_level", &json!("debug")).unwrap();
        let original = Config::default();
        assert_eq!(
            original.changed_keys(&edited),
            ["log_level", "capture_interface"]
        );
        assert!(edited.changed_keys(&edited).is_empty());
        let mut copy = Config::default();
        for key in original.changed_keys(&edited) {
            copy.copy_key(key, &edited).unwrap();
        }
        assert_eq!(copy, edited);
    }

    #[test]
    fn only_the_port_needs_a_restart() {
        assert_eq!(RESTART_KEYS, ["web_server_port"]);
        assert!(KEYS
            .iter()
            .all(|key| Config::needs_restart(key) == (*key == "web_server_port")));
    }

    #[test]
    fn browsers_match_without_case() {
        let config = Config::default();
        assert!(config.is_browser("Firefox"));
        assert!(config.is_browser("Google Chrome"));
        assert!(!config.is_browser("curl"));
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_file_is_written_with_defaults_mode_600() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let paths = Paths::at(temp.path().join("home"));
        let (config, created) = Config::load_or_create(&paths).unwrap();
        assert!(created);
        assert_eq!(config, Config::default());
        let mode = fs::metadata(paths.config()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(&paths.home).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let text = fs::read_to_string(paths.config()).unwrap();
        assert_eq!(text, Config::default().to_json_pretty());
        let (again, created_again) = Config::load_or_create(&paths).unwrap();
        assert!(!created_again);
        assert_eq!(again, config);
    }

    #[test]
    fn an_existing_invalid_file_is_not_overwritten() {
        let temp = tempfile::tempdir().unwrap();
        let paths = Paths::at(temp.path());
        fs::write(paths.config(), "{\"web_server_port\": 1}").unwrap();
        assert!(Config::load_or_create(&paths).is_err());
        assert_eq!(
            fs::read_to_string(paths.config()).unwrap(),
            "{\"web_server_port\": 1}"
        );
    }
}
