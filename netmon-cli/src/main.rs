//! `netmon`: the command-line face of netmon.

mod config_cmd;
mod demo;
mod history;
mod install;
mod query;
mod run;
mod serve;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Where your bandwidth goes: bytes per application every few seconds, kept locally.
#[derive(Debug, Parser)]
#[command(name = "netmon", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Capture traffic and attribute every byte to a process.
    ///
    /// Example: sudo netmon run --foreground
    Run(run::RunArgs),
    /// Show or check the configuration file.
    ///
    /// Example: netmon config show
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Totals for today, this week and this month.
    ///
    /// Example: netmon summary --bytes
    Summary(query::Output),
    /// Applications by usage, busiest first.
    ///
    /// Example: netmon apps --since 7d --limit 10
    Apps(query::AppsArgs),
    /// Fill an empty database with synthetic history (to try the dashboard).
    ///
    /// Example: NETMON_HOME=/tmp/netmon-demo netmon demo-data --days 30
    DemoData(demo::DemoArgs),
    #[command(flatten)]
    Install(install::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Config(command) => config_cmd::run(command),
        Command::DemoData(args) => demo::run(args),
        Command::Summary(args) => query::summary(args),
        Command::Apps(args) => query::apps(args),
        Command::Install(command) => install::run(command),
    };
    ExitCode::from(code)
}
