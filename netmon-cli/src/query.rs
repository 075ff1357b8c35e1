//! `netmon summary` and `netmon apps`: history from the database, daemon running or not.

use clap::Args;
use netmon_core::store::{AppTotal, Range, Store, Totals};
use netmon_core::{monitor, units, Paths};

const DAY_MS: i64 = 86_400_000;

/// How the history commands print.
#[derive(Debug, Args)]
pub struct Output {
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    bytes: bool,
}

#[derive(Debug, Args)]
pub struct AppsArgs {
    /// Start of the range: a duration back from now (`24h`, `7d`, `90m`) or a date
    /// (`2026-11-01`, local midnight).
    #[arg(long, default_value = "24h")]
    since: String,
    #[command(flatten)]
    output: Output,
    /// At most this many applications.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
}

pub fn summary(args: Output) -> u8 {
    report(&args, None, |store, _range| {
        let summary = store.summary(monitor::unix_ms())?;
        let text = [
            ("today", summary.today),
            ("week", summary.week),
            ("month", summary.month),
        ]
        .iter()
        .map(|(period, totals)| format!("{period:<6} {}\n", totals_text(*totals, args.bytes)))
        .collect();
        Ok((serde_json::to_value(summary)?, text))
    })
}

pub fn apps(args: AppsArgs) -> u8 {
    let bytes = args.output.bytes;
    report(&args.output, Some(&args.since), |store, range| {
        let apps = store.top_apps(range, args.limit as usize)?;
        let text = apps.iter().map(|app| app_line(app, bytes)).collect();
        Ok((serde_json::to_value(apps)?, text))
    })
}

/// Opens the database, runs `query` on the range from `since` (all time when `None`) to now,
/// prints JSON or text.
fn report(
    output: &Output,
    since_text: Option<&str>,
    query: impl FnOnce(&Store, Range) -> Result<(serde_json::Value, String), Box<dyn std::error::Error>>,
) -> u8 {
    let outcome = open().and_then(|store| {
        let now = monitor::unix_ms();
        let start_ms = since_text
            .map(|text| since(text, now, store.zone()))
            .transpose()?
            .unwrap_or(i64::MIN);
        query(
            &store,
            Range {
                start_ms,
                end_ms: now + 1,
            },
        )
    });
    match outcome {
        Ok((json, _)) if output.json => {
            println!("{json}");
            0
        }
        Ok((_, text)) => {
            print!("{text}");
            0
        }
        Err(error) => {
            eprintln!("netmon: {error}");
            1
        }
    }
}

fn open() -> Result<Store, Box<dyn std::error::Error>> {
    let paths = Paths::resolve()?;
    let path = paths.database();
    if !path.exists() {
        return Err(format!(
            "no history yet: {} does not exist (start `netmon run`)",
            path.display()
        )
        .into());
    }
    Ok(Store::open(&path)?)
}

/// `24h`, `7d`, `90m` back from `now_ms`, or a local date's midnight.
pub fn since(text: &str, now_ms: i64, zone: &jiff::tz::TimeZone) -> Result<i64, String> {
    let text = text.trim();
    let unit_ms = |unit: char| match unit {
        'm' => Some(60_000),
        'h' => Some(3_600_000),
        'd' => Some(DAY_MS),
        'w' => Some(7 * DAY_MS),
        _ => None,
    };
    let duration = text
        .char_indices()
        .last()
        .and_then(|(at, unit)| Some((text[..at].parse::<i64>().ok()?, unit_ms(unit)?)))
        .filter(|(count, _)| *count > 0);
    if let Some((count, unit)) = duration {
        return Ok(now_ms - count.saturating_mul(unit));
    }
    text.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|date| date.to_zoned_datetime(zone.clone()).ok())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .ok_or_else(|| format!("--since {text:?}: give a duration such as 24h, 7d, 90m, or a date such as 2026-11-01"))
}

fn amount(bytes: u64, exact: bool) -> String {
    if exact {
        bytes.to_string()
    } else {
        units::bytes(bytes)
    }
}

fn totals_text(totals: Totals, exact: bool) -> String {
    format!(
        "{:>10}  ↓ {:>10}  ↑ {:>10}",
        amount(totals.sent + totals.received, exact),
        amount(totals.received, exact),
        amount(totals.sent, exact)
    )
}

fn app_line(app: &AppTotal, exact: bool) -> String {
    let totals = Totals {
        sent: app.sent,
        received: app.received,
    };
    format!(
        "{:<28} {}\n",
        app.app.chars().take(28).collect::<String>(),
        totals_text(totals, exact)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_dates() {
        let zone = jiff::tz::TimeZone::UTC;
        let now = 1_800_000_000_000;
        assert_eq!(since("24h", now, &zone), Ok(now - DAY_MS));
        assert_eq!(since("7d", now, &zone), Ok(now - 7 * DAY_MS));
        assert_eq!(since("90m", now, &zone), Ok(now - 90 * 60_000));
        assert_eq!(since("2026-11-01", now, &zone), Ok(1_793_491_200_000));
        for bad in ["", "7", "0d", "-3d", "yesterday", "2026-13-01"] {
            let error = since(bad, now, &zone).unwrap_err();
            assert!(error.contains("24h, 7d, 90m"), "{bad}: {error}");
        }
    }

    #[test]
    fn lines_in_human_or_exact_units() {
        let app = AppTotal {
            app: "zen".into(),
            sent: 2_000,
            received: 3_000_000,
            last_seen_ms: 0,
        };
        assert!(app_line(&app, false).contains("3.0 MB"));
        assert!(app_line(&app, true).contains("3002000"));
    }
}
