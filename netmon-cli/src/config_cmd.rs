//! `netmon config`: where the configuration lives, what it says, and changing it with the
//! same validation the daemon applies.

use std::path::Path;

use clap::Subcommand;
use netmon_core::config::ConfigError;
use netmon_core::{Config, Paths};
use serde_json::Value;

use crate::{daemon, exit};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the path of config.json.
    ///
    /// Example: netmon config path
    Path,
    /// Print the configuration in effect (the file, with defaults for missing keys).
    ///
    /// Example: netmon config show
    Show,
    /// Print one key's value (as JSON).
    ///
    /// Example: netmon config get web_server_port
    Get { key: String },
    /// Change one key, validated like the file; says when the change takes effect.
    ///
    /// VALUE is read as JSON when it parses (7501, true, ["zen","curl"]), else as a string.
    /// When netmon runs, the change goes through it so live keys apply at once.
    ///
    /// Example: netmon config set log_level DEBUG
    Set { key: String, value: String },
    /// Open config.json in $VISUAL or $EDITOR (else vi) and validate it afterwards; an invalid
    /// edit leaves the old file in place and keeps the edited copy.
    ///
    /// Example: EDITOR=nano netmon config edit
    Edit,
}

pub fn run(command: ConfigCommand) -> u8 {
    let paths = match Paths::resolve() {
        Ok(paths) => paths,
        Err(error) => {
            eprintln!("netmon: {error}");
            return exit::CONFIG;
        }
    };
    let outcome = match command {
        ConfigCommand::Path => {
            println!("{}", paths.config().display());
            Ok(())
        }
        ConfigCommand::Show => load(&paths)
            .map(|config| print!("{}", config.to_json_pretty()))
            .ok_or(exit::CONFIG),
        ConfigCommand::Get { key } => get(&paths, &key),
        ConfigCommand::Set { key, value } => set(&paths, &key, &value),
        ConfigCommand::Edit => edit(&paths),
    };
    outcome.err().unwrap_or(exit::OK)
}

fn get(paths: &Paths, key: &str) -> Result<(), u8> {
    let config = load(paths).ok_or(exit::CONFIG)?;
    let value = serde_json::to_value(&config).map_err(|_| exit::FAILURE)?;
    match value.get(key) {
        Some(value) => {
            println!("{value}");
            Ok(())
        }
        None => {
            eprintln!(
                "netmon: no configuration key {key:?}; the keys are: {}",
                netmon_core::config::KEYS.join(", ")
            );
            Err(exit::CONFIG)
        }
    }
}

/// `7501` → number, `true` → bool, `DEBUG` → string.
fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn set(paths: &Paths, key: &str, text: &str) -> Result<(), u8> {
    let mut config = load(paths).ok_or(exit::CONFIG)?;
    let port = config.web_server_port;
    let value = parse_value(text);
    if let Err(problem) = config.set(key, &value) {
        eprintln!("netmon: {problem}");
        return Err(exit::CONFIG);
    }
    let running = daemon::status(port).is_some();
    if running {
        set_through_daemon(port, key, &value)?;
    } else if let Err(error) = config.save(&paths.config()) {
        eprintln!("netmon: {error}");
        return Err(exit::IO);
    }
    let when = match (Config::needs_restart(key), running) {
        (true, true) => "takes effect when netmon restarts (restart it now to apply)",
        (true, false) => "takes effect when netmon starts (a running netmon: when it restarts)",
        (false, true) => "applied to the running netmon",
        (false, false) => {
            "a running netmon applies it at once, else it takes effect when netmon starts"
        }
    };
    println!(
        "{key} = {value}: saved to {}; {when}",
        paths.config().display()
    );
    Ok(())
}

/// PUT /api/config on the running daemon, which validates, applies live keys and saves.
fn set_through_daemon(port: u16, key: &str, value: &Value) -> Result<(), u8> {
    let body = serde_json::json!({ key: value }).to_string();
    match daemon::request(port, "PUT", "/api/config", &body) {
        Ok(reply) if reply.status == 200 => Ok(()),
        Ok(reply) => {
            eprintln!(
                "netmon: the running netmon refused the change: {}",
                reply.body
            );
            Err(exit::CONFIG)
        }
        Err(error) => {
            eprintln!("netmon: cannot reach the running netmon on port {port}: {error}");
            Err(exit::UNAVAILABLE)
        }
    }
}

fn edit(paths: &Paths) -> Result<(), u8> {
    let old = load(paths);
    let path = paths.config();
    let copy = paths.tmp().join("config.edit.json");
    let io_error = |error: std::io::Error| {
        eprintln!("netmon: cannot prepare {}: {error}", copy.display());
        exit::IO
    };
    paths.ensure().map_err(|error| {
        eprintln!("netmon: {error}");
        exit::IO
    })?;
    std::fs::copy(&path, &copy).map_err(io_error)?;
    run_editor(&copy)?;
    match Config::load(&copy) {
        Ok(new) => {
            new.save(&path).map_err(|error| {
                eprintln!("netmon: {error}");
                exit::IO
            })?;
            let _ = std::fs::remove_file(&copy);
            report_changes(old.as_ref(), &new);
            Ok(())
        }
        Err(error) => {
            eprintln!(
                "netmon: {error}\nnetmon: {} was left unchanged; your edit is kept in {} (fix it and copy it over, or run `netmon config edit` again)",
                path.display(),
                copy.display()
            );
            Err(exit::CONFIG)
        }
    }
}

fn run_editor(file: &Path) -> Result<(), u8> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    // Through the shell, so EDITOR may carry arguments ("code --wait").
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file)
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => {
            eprintln!("netmon: the editor `{editor}` exited with {status}; config.json was left unchanged");
            Err(exit::FAILURE)
        }
        Err(error) => {
            eprintln!("netmon: cannot start the editor `{editor}`: {error} (set EDITOR)");
            Err(exit::FAILURE)
        }
    }
}

fn report_changes(old: Option<&Config>, new: &Config) {
    let changed = match old {
        Some(old) => old.changed_keys(new),
        None => netmon_core::config::KEYS.to_vec(),
    };
    if changed.is_empty() {
        println!("config.json is valid; nothing changed");
        return;
    }
    let restart: Vec<&str> = changed
        .iter()
        .copied()
        .filter(|key| Config::needs_restart(key))
        .collect();
    println!(
        "config.json is valid; changed: {} (a running netmon applies them at once)",
        changed.join(", ")
    );
    if !restart.is_empty() {
        println!(
            "restart netmon for these to take effect: {}",
            restart.join(", ")
        );
    }
}

/// Reads (or creates) the configuration, printing the reason when it cannot be used.
pub fn load(paths: &Paths) -> Option<Config> {
    match Config::load_or_create(paths) {
        Ok((config, created)) => {
            if created {
                eprintln!(
                    "netmon: wrote the default configuration to {}",
                    paths.config().display()
                );
            }
            Some(config)
        }
        Err(error) => {
            eprintln!("netmon: {error}");
            explain(&error);
            None
        }
    }
}

/// How to fix a file that is not a valid configuration.
pub fn explain(error: &ConfigError) {
    if matches!(
        error,
        ConfigError::Invalid { .. } | ConfigError::Syntax { .. }
    ) {
        eprintln!("netmon: fix it with `netmon config edit`");
    }
}
