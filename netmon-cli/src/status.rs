//! `netmon status`: is the daemon running (asked over its API), which capture source, since
//! when, and today's totals and the database's facts (read directly, daemon or not).

use clap::Args;
use netmon_core::{clock, units, Config, Paths};
use serde_json::{json, Value};

use crate::{daemon, exit, query};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    output: query::Output,
}

pub fn run(args: StatusArgs) -> u8 {
    let paths = match Paths::resolve() {
        Ok(paths) => paths,
        Err(error) => {
            eprintln!("netmon: {error}");
            return exit::FAILURE;
        }
    };
    let port = configured_port(&paths);
    let daemon = daemon::status(port).map(with_every_field);
    let database = database_facts(&paths);
    let json = json!({
        "running": daemon.is_some(),
        "port": port,
        "daemon": daemon,
        "database": database,
    });
    if args.output.json {
        println!("{json}");
    } else {
        print!("{}", text(&json, args.output.bytes));
    }
    if daemon.is_some() {
        exit::OK
    } else {
        exit::NOT_HEALTHY
    }
}

/// `web_server_port` from config.json; the default (with a warning) when the file is invalid.
pub fn configured_port(paths: &Paths) -> u16 {
    let path = paths.config();
    if !path.exists() {
        return Config::default().web_server_port;
    }
    Config::load(&path)
        .map_err(|_| {
            eprintln!(
                "netmon: {} is invalid (`netmon doctor` says why); looking for the daemon on the default port",
                path.display()
            )
        })
        .unwrap_or_default()
        .web_server_port
}

/// Path, size, schema version, oldest data and today's totals, or why they are unknown.
/// The daemon's status with `last_error` always present (`null` when there is none): the API
/// leaves unset fields out, `--json` documents every field.
fn with_every_field(mut status: Value) -> Value {
    if let Some(fields) = status.as_object_mut() {
        fields.entry("last_error").or_insert(Value::Null);
    }
    status
}

fn database_facts(paths: &Paths) -> Value {
    let path = paths.database();
    let mut facts = json!({ "path": path.display().to_string(), "exists": path.exists() });
    if !path.exists() {
        return facts;
    }
    facts["bytes"] = json!(std::fs::metadata(&path).map(|meta| meta.len()).ok());
    match query::open().and_then(|store| {
        let summary = store.summary(clock::unix_ms())?;
        let spans = store.tier_spans()?;
        let oldest = spans.oldest_ms();
        Ok((store.schema_version()?, summary.today, oldest))
    }) {
        Ok((version, today, oldest)) => {
            facts["schema_version"] = json!(version);
            facts["today"] = json!(today);
            facts["oldest_ms"] = json!(oldest);
        }
        Err(error) => facts["error"] = json!(error.to_string()),
    }
    facts
}

fn text(status: &Value, exact: bool) -> String {
    let daemon = &status["daemon"];
    let port = &status["port"];
    let head = if daemon.is_null() {
        format!("netmon is not running (nothing answers on 127.0.0.1:{port}; start it with `sudo netmon run`)\n")
    } else {
        let uptime = daemon["uptime_seconds"].as_u64().unwrap_or(0);
        let since = query::local_time(
            clock::unix_ms() - uptime as i64 * 1000,
            &jiff::tz::TimeZone::system(),
        );
        let paused = if daemon["paused"].as_bool() == Some(true) {
            " (paused)"
        } else {
            ""
        };
        let error = daemon["last_error"]
            .as_str()
            .map(|error| format!("last error: {error}\n"))
            .unwrap_or_default();
        let dropped = match daemon["dropped_packets"].as_u64().unwrap_or(0) {
            0 => String::new(),
            dropped => format!(
                "dropped:  {dropped} packets the capture could not keep up with (counts since start are short)\n"
            ),
        };
        format!(
            "netmon is running{paused} on http://127.0.0.1:{port}\ncapture:  {}\nsince:    {since} ({} samples)\n{dropped}{error}",
            daemon["capture_source"].as_str().unwrap_or("?"),
            daemon["samples"]
        )
    };
    let database = &status["database"];
    let path = database["path"].as_str().unwrap_or("?");
    let body = if database["exists"].as_bool() != Some(true) {
        format!("database: {path} (none yet)\n")
    } else if let Some(error) = database["error"].as_str() {
        format!("database: {path}\n  cannot read it: {error}\n")
    } else {
        let amount = |value: &Value| query::amount(value.as_u64().unwrap_or(0), exact);
        let today = &database["today"];
        let oldest = database["oldest_ms"]
            .as_i64()
            .map(|ms| query::local_time(ms, &jiff::tz::TimeZone::system()))
            .unwrap_or_else(|| "no data yet".into());
        format!(
            "database: {path} ({}, schema {})\nhistory:  from {oldest}\ntoday:    ↓ {}  ↑ {}\n",
            units::bytes(database["bytes"].as_u64().unwrap_or(0)),
            database["schema_version"],
            amount(&today["received"]),
            amount(&today["sent"]),
        )
    };
    head + &body
}
