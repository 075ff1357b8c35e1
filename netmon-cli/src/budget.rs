//! `netmon budget add|list|remove` and `netmon alerts`: budgets and the alert history, read from
//! and written to the database directly (the running daemon reads budgets at each batch write,
//! so a new budget applies within `batch_write_seconds`). Budgets are validated by core's
//! `budget::BudgetSpec::new`, the API's rules; `--json` prints core's `alerts::BudgetStatus` and
//! `alert::Alert`, the API's shapes.

use clap::{Args, Subcommand, ValueEnum};
use netmon_core::alerts;
use netmon_core::budget::{BudgetSpec, Period, Scope};
use netmon_core::store::Store;
use netmon_core::{clock, units};

use crate::exit;
use crate::query::{local_time, open};

#[derive(Debug, Subcommand)]
pub enum BudgetCommand {
    /// Add a budget: a limit on everything, one application or one domain per day, week or month.
    ///
    /// Example: netmon budget add --app Dropbox --per month --limit 50GB --first-day 15
    Add(AddArgs),
    /// List budgets with used, limit and projected use at the current pace.
    List(ListArgs),
    /// Remove a budget by its id (as `netmon budget list` shows it); its alerts stay.
    Remove { id: i64 },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Per {
    Day,
    Week,
    Month,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Count only this application (as `netmon apps` names it).
    #[arg(long, conflicts_with = "domain")]
    app: Option<String>,
    /// Count only this registrable domain (e.g. netflix.com).
    #[arg(long)]
    domain: Option<String>,
    /// The period.
    #[arg(long, value_enum, default_value_t = Per::Month)]
    per: Per,
    /// The limit: 50GB, 700MB, 1.5TB (decimal units) or bytes.
    #[arg(long)]
    limit: String,
    /// For a monthly budget, the day of the month its period starts on (1–28): a billing cycle.
    #[arg(long)]
    first_day: Option<u8>,
    /// Print the budget as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub fn run(command: BudgetCommand) -> u8 {
    match command {
        BudgetCommand::Add(args) => add(args),
        BudgetCommand::List(args) => list(args),
        BudgetCommand::Remove { id } => remove(id),
    }
}

type Outcome = Result<String, Box<dyn std::error::Error>>;

/// Prints what `outcome` says; a refused budget is a usage error.
fn finish(outcome: Result<Outcome, Vec<String>>) -> u8 {
    match outcome {
        Ok(Ok(text)) => {
            print!("{text}");
            exit::OK
        }
        Ok(Err(error)) => {
            eprintln!("netmon: {error}");
            exit::FAILURE
        }
        Err(problems) => {
            problems
                .iter()
                .for_each(|problem| eprintln!("netmon: {problem}"));
            exit::USAGE
        }
    }
}

fn spec_of(args: &AddArgs) -> Result<BudgetSpec, Vec<String>> {
    let scope = match (&args.app, &args.domain) {
        (Some(app), _) => Scope::parse("app", Some(app)),
        (None, Some(domain)) => Scope::parse("domain", Some(domain)),
        (None, None) => Ok(Scope::All),
    };
    let period = Period::parse(match args.per {
        Per::Day => "day",
        Per::Week => "week",
        Per::Month => "month",
    });
    let limit =
        units::parse_bytes(&args.limit).map_err(|problem| vec![format!("--limit {problem}")])?;
    BudgetSpec::new(scope, period, limit, args.first_day).map_err(|problems| {
        problems
            .into_iter()
            .map(|problem| {
                problem
                    .replace("\"limit_bytes\"", "--limit")
                    .replace("\"month_start_day\"", "--first-day")
            })
            .collect()
    })
}

fn add(args: AddArgs) -> u8 {
    let outcome = spec_of(&args).map(|spec| -> Outcome {
        let mut store = open()?;
        let now = clock::unix_ms();
        let id = store.add_budget(&spec, now)?.id;
        let status = alerts::budget_status(&store, id, now)?.ok_or("the budget was not kept")?;
        if args.json {
            return Ok(format!("{}\n", serde_json::to_value(&status)?));
        }
        Ok(format!(
            "added budget {id}\n{}",
            table(&store, vec![status])
        ))
    });
    finish(outcome)
}

fn list(args: ListArgs) -> u8 {
    finish(Ok((|| -> Outcome {
        let store = open()?;
        let statuses = alerts::budget_statuses(&store, clock::unix_ms())?;
        if args.json {
            return Ok(format!("{}\n", serde_json::to_value(&statuses)?));
        }
        if statuses.is_empty() {
            return Ok("no budgets: `netmon budget add --limit 50GB` adds one\n".into());
        }
        Ok(table(&store, statuses))
    })()))
}

fn remove(id: i64) -> u8 {
    finish(Ok((|| -> Outcome {
        let mut store = open()?;
        if store.remove_budget(id)? {
            Ok(format!("removed budget {id}\n"))
        } else {
            Err(format!("no budget has id {id}: `netmon budget list` shows them").into())
        }
    })()))
}

fn table(store: &Store, statuses: Vec<alerts::BudgetStatus>) -> String {
    let header = format!(
        "{:<4} {:<24} {:<6} {:>10} {:>10} {:>6} {:>10}  {}\n",
        "ID", "SCOPE", "PER", "USED", "LIMIT", "%", "PROJECTED", "SINCE"
    );
    let rows = statuses.iter().map(|status| {
        let progress = &status.progress;
        format!(
            "{:<4} {:<24} {:<6} {:>10} {:>10} {:>6.1} {:>10}  {}\n",
            status.id,
            status.name.as_deref().unwrap_or("everything"),
            status.period,
            units::bytes(progress.used_bytes),
            units::bytes(progress.limit_bytes),
            progress.percent,
            units::bytes(progress.projected_bytes),
            local_time(progress.period_start_ms, store.zone())
        )
    });
    std::iter::once(header).chain(rows).collect()
}

/// `netmon alerts`: the alert history, newest first.
pub fn history(args: AlertsArgs) -> u8 {
    finish(Ok((|| -> Outcome {
        let store = open()?;
        let alerts = store.alerts(i64::MIN, args.limit as usize)?;
        if args.json {
            return Ok(format!("{}\n", serde_json::to_value(&alerts)?));
        }
        if alerts.is_empty() {
            return Ok("no alerts yet\n".into());
        }
        Ok(alerts
            .iter()
            .map(|alert| {
                format!(
                    "{}  {:<8} {}\n",
                    local_time(alert.at_ms, store.zone()),
                    alert.kind.name(),
                    alert.message
                )
            })
            .collect())
    })()))
}
