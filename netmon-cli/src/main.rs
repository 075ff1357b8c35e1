//! `netmon`: the command-line face of netmon.

mod config_cmd;
mod daemon;
mod demo;
mod doctor;
mod exit;
mod export;
mod history;
mod install;
mod live;
mod logs;
mod progress;
mod purge;
mod query;
mod run;
mod serve;
mod status;
mod table;
mod top;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Where your bandwidth goes: bytes per application every few seconds, kept locally.
#[derive(Debug, Parser)]
#[command(name = "netmon", version, about, long_about = None, after_help = exit::help())]
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
    /// Is the daemon running, which capture source, since when; today's totals.
    ///
    /// Exits 3 when no daemon answers. Example: netmon status --json
    Status(status::StatusArgs),
    /// Live view of the running daemon: applications by current rate, redrawn in place.
    ///
    /// Press q to quit. Example: netmon top --limit 10
    Top(top::TopArgs),
    /// Totals for today, this week and this month.
    ///
    /// Example: netmon summary --bytes
    Summary(query::Output),
    /// Applications by usage, busiest first; with APP --domains, the domains APP's bytes went to.
    ///
    /// Example: netmon apps --since 7d --limit 10 --sort received; netmon apps firefox --domains
    Apps(query::AppsArgs),
    /// Registrable domains by usage, or the hostnames under one domain.
    ///
    /// Example: netmon domains netflix.com --since 2026-11-01
    Domains(query::DomainsArgs),
    /// Usage over time in buckets (5 minutes, hours or days).
    ///
    /// Example: netmon timeline --since 7d --bucket 1d
    Timeline(query::TimelineArgs),
    /// Usage by weekday and hour of the day.
    ///
    /// Example: netmon heatmap --since 28d
    Heatmap(query::HeatmapArgs),
    /// Export history as CSV or JSON, streamed (constant memory).
    ///
    /// Example: netmon export --format csv --since 30d -o usage.csv
    Export(export::ExportArgs),
    /// Show, check or change the configuration file.
    ///
    /// Example: netmon config set log_level DEBUG
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Check the setup (capture permission, port, database, file modes, ...), one line each
    /// with a fix.
    ///
    /// Exits 0 when no check fails, 3 otherwise. Example: netmon doctor
    Doctor(doctor::DoctorArgs),
    /// Delete usage history (all of it, or before a date), after confirmation.
    ///
    /// Example: netmon purge --before 2026-01-01 --yes
    Purge(purge::PurgeArgs),
    /// Print or follow a log file.
    ///
    /// Example: netmon logs -f daemon
    Logs(logs::LogsArgs),
    /// Print a shell completion script.
    ///
    /// Example: netmon completions zsh > ~/.zfunc/_netmon
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Fill an empty database with synthetic history (to try the dashboard).
    ///
    /// Example: NETMON_HOME=/tmp/netmon-demo netmon demo-data --days 30
    DemoData(demo::DemoArgs),
    #[command(flatten)]
    Install(install::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        die_quietly_on_closed_pipe();
    }
    let code = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Status(args) => status::run(args),
        Command::Top(args) => top::run(args),
        Command::Summary(args) => query::summary(args),
        Command::Apps(args) => query::apps(args),
        Command::Domains(args) => query::domains(args),
        Command::Timeline(args) => query::timeline(args),
        Command::Heatmap(args) => query::heatmap(args),
        Command::Export(args) => export::run(args),
        Command::Config(command) => config_cmd::run(command),
        Command::Doctor(args) => doctor::run(args),
        Command::Purge(args) => purge::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "netmon", &mut std::io::stdout());
            exit::OK
        }
        Command::DemoData(args) => demo::run(args),
        Command::Install(command) => install::run(command),
    };
    ExitCode::from(code)
}

/// `netmon apps | head` ends quietly when `head` closes the pipe, like other Unix tools (the
/// daemon keeps Rust's default of ignoring SIGPIPE: its sockets must not kill it).
fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default SIGPIPE disposition before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
