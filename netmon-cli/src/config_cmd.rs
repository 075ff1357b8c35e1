//! `netmon config`: where the configuration lives and what it says.

use clap::Subcommand;
use netmon_core::{Config, Paths};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the path of config.json.
    Path,
    /// Print the configuration in effect (the file, with defaults for missing keys).
    Show,
}

/// Exit code for a configuration that cannot be used (EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

pub fn run(command: ConfigCommand) -> u8 {
    let paths = match Paths::resolve() {
        Ok(paths) => paths,
        Err(error) => {
            eprintln!("netmon: {error}");
            return EXIT_CONFIG;
        }
    };
    match command {
        ConfigCommand::Path => {
            println!("{}", paths.config().display());
            0
        }
        ConfigCommand::Show => match load(&paths) {
            Some(config) => {
                print!("{}", config.to_json_pretty());
                0
            }
            None => EXIT_CONFIG,
        },
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
            None
        }
    }
}
