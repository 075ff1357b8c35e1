//! `netmon purge`: deletes usage history, all of it or before a date, after asking.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use netmon_core::clock;
use netmon_core::history::span;

use crate::{exit, query};

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Delete only usage before this point: a date (`2026-11-01`, local midnight) or a duration
    /// back from now (`30d`, `2w`, `12h`); the API's purge takes the same. Without it, all
    /// usage is deleted.
    #[arg(long, value_name = "DATE")]
    before: Option<String>,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short)]
    yes: bool,
}

pub fn run(args: PurgeArgs) -> u8 {
    match purge(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("netmon: {error}");
            exit::FAILURE
        }
    }
}

fn purge(args: &PurgeArgs) -> Result<u8, Box<dyn std::error::Error>> {
    let mut store = query::open()?;
    let before_ms = args
        .before
        .as_deref()
        .map(|text| span::point(text, clock::unix_ms(), store.zone()))
        .transpose()
        .map_err(|error| format!("--before {error}"))?;
    let what = match before_ms {
        Some(ms) => format!("all usage before {}", query::local_time(ms, store.zone())),
        None => "ALL usage history".into(),
    };
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(format!("refusing to delete {what} without confirmation: stdin is not a terminal; pass --yes").into());
        }
        eprint!("Delete {what}? This cannot be undone. Type yes to confirm: ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            eprintln!("netmon: nothing deleted");
            return Ok(exit::FAILURE);
        }
    }
    let working = crate::progress::spinner(format!("deleting {what}"));
    let deleted = store.purge(before_ms);
    working.finish_and_clear();
    let deleted = deleted?;
    println!("deleted {deleted} usage rows ({what})");
    Ok(exit::OK)
}
