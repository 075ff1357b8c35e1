//! `netmon demo-data`: fills an empty database with synthetic history (for trying the dashboard
//! and for benchmarks), written through the same store as real samples.

use clap::Args;
use netmon_core::store::{demo, Range};
use netmon_core::{clock, Paths};

/// Samples written per transaction.
const BATCH: usize = 1440;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Days of history to generate.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=400))]
    days: u32,
    /// Seconds per synthetic sample.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(5..=3600))]
    step_seconds: u64,
    /// Seed of the generator (the same seed gives the same history).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(args: DemoArgs) -> u8 {
    match fill(&args) {
        Ok(samples) => {
            eprintln!(
                "netmon: wrote {samples} synthetic samples ({} days)",
                args.days
            );
            0
        }
        Err(message) => {
            eprintln!("netmon: {message}");
            1
        }
    }
}

fn fill(args: &DemoArgs) -> Result<usize, String> {
    let paths = Paths::resolve().map_err(|error| error.to_string())?;
    paths.ensure().map_err(|error| error.to_string())?;
    let path = paths.database();
    let mut store = crate::progress::open_store(&path)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    let everything = Range {
        start_ms: i64::MIN,
        end_ms: i64::MAX,
    };
    let existing = store
        .totals(everything)
        .map_err(|error| error.to_string())?;
    if existing.sent + existing.received > 0 {
        return Err(format!(
            "{} already holds history; demo data only goes into an empty database, e.g. NETMON_HOME=/tmp/netmon-demo netmon demo-data",
            path.display()
        ));
    }
    let now = clock::unix_ms();
    let step_ms = args.step_seconds as i64 * 1000;
    let total = (args.days as i64 * 86_400_000 / step_ms) as usize;
    // Written batch by batch: a long history never sits in memory at once.
    let mut samples = demo::samples(args.days, now, step_ms, args.seed).peekable();
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0;
    let bar = crate::progress::bar(
        total as u64,
        "writing synthetic history {bar:40} {pos}/{len} samples ({eta} left)",
    );
    while samples.peek().is_some() {
        batch.clear();
        batch.extend(samples.by_ref().take(BATCH));
        store.write(&batch).map_err(|error| error.to_string())?;
        written += batch.len();
        bar.set_position(written as u64);
    }
    bar.finish_and_clear();
    store
        .apply_retention(now, 7, 90)
        .map_err(|error| error.to_string())?;
    Ok(written)
}
