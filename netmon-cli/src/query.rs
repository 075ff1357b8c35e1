//! The history commands (`summary`, `apps`, `domains`, `timeline`, `heatmap`): read the
//! database directly, so they answer with the daemon running or not. Their ranges follow core's
//! `history::span` grammar and their `--json` is core's view types, as the API's are.

use crate::exit;
use clap::{Args, ValueEnum};
use netmon_core::history::{span, views};
use netmon_core::store::{Range, Store, Totals};
use netmon_core::{clock, units, Paths};

/// How the history commands print.
#[derive(Debug, Args)]
pub struct Output {
    /// Print JSON for scripts (fields: docs/cli.md).
    #[arg(long)]
    pub json: bool,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    pub bytes: bool,
}

/// The time range of a history command.
#[derive(Debug, Args)]
pub struct Window {
    /// Start: a duration back from now (`24h`, `7d`, `90m`, `2w`) or a date (`2026-11-01`,
    /// local midnight).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// End (not included), in the same forms as --since; now when left out.
    #[arg(long)]
    pub until: Option<String>,
}

/// Which column orders a ranking.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sort {
    /// Sent plus received, largest first.
    Total,
    /// Received (download), largest first.
    Received,
    /// Sent (upload), largest first.
    Sent,
    /// By name, A to Z.
    Name,
}

#[derive(Debug, Args)]
pub struct RankArgs {
    #[command(flatten)]
    window: Window,
    #[command(flatten)]
    output: Output,
    /// At most this many rows.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    /// Order of the rows.
    #[arg(long, value_enum, default_value_t = Sort::Total)]
    sort: Sort,
}

#[derive(Debug, Args)]
pub struct AppsArgs {
    /// The application whose domains --domains lists (as `netmon apps` names it).
    #[arg(requires = "domains")]
    app: Option<String>,
    /// List the registrable domains APP's bytes went to (tracked applications only: see
    /// `domain_tracking`).
    #[arg(long, requires = "app")]
    domains: bool,
    #[command(flatten)]
    rank: RankArgs,
}

#[derive(Debug, Args)]
pub struct DomainsArgs {
    /// Show the hostnames under this registrable domain (e.g. netflix.com) instead.
    domain: Option<String>,
    #[command(flatten)]
    rank: RankArgs,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    window: Window,
    #[command(flatten)]
    output: Output,
    /// Bucket length (`5m`, `1h`, `1d`); by default 5 minutes up to a day, hours up to 8 days,
    /// days beyond.
    #[arg(long)]
    bucket: Option<String>,
}

#[derive(Debug, Args)]
pub struct HeatmapArgs {
    #[arg(long, default_value = "28d")]
    /// Start, as for the other commands (hours older than the hourly tier are not kept).
    since: String,
    /// End (not included); now when left out.
    #[arg(long)]
    until: Option<String>,
    #[command(flatten)]
    output: Output,
}

type Answer = Result<(serde_json::Value, String), Box<dyn std::error::Error>>;

pub fn summary(args: Output) -> u8 {
    let window = Window {
        since: "1d".into(),
        until: None,
    };
    report(&args, &window, |store, _range| {
        let summary = store.summary(clock::unix_ms())?;
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
    match args.app {
        Some(app) => app_domains(&app, args.rank),
        None => top_apps(args.rank),
    }
}

fn top_apps(args: RankArgs) -> u8 {
    let RankArgs {
        window,
        output,
        limit,
        sort,
    } = args;
    report(&output, &window, |store, range| {
        let mut apps = store.top_apps(range, ALL)?;
        sort_rows(&mut apps, sort, |app| (&app.app, app.sent, app.received));
        apps.truncate(limit as usize);
        let header = header("APPLICATION");
        let text = apps
            .iter()
            .map(|app| row(&app.app, app.sent, app.received, output.bytes))
            .collect::<String>();
        Ok((serde_json::to_value(&apps)?, header + &text))
    })
}

/// `apps APP --domains`: the registrable domains of one application.
fn app_domains(app: &str, args: RankArgs) -> u8 {
    let RankArgs {
        window,
        output,
        limit,
        sort,
    } = args;
    report(&output, &window, |store, range| {
        let mut domains = store.app_domains(app, range, ALL)?.ok_or_else(|| {
            format!("no application {app:?} in the history: `netmon apps` lists them")
        })?;
        sort_rows(&mut domains, sort, |d| (&d.domain, d.sent, d.received));
        domains.truncate(limit as usize);
        let text = if domains.is_empty() {
            format!("no destinations kept for {app} in this range (see domain_tracking)\n")
        } else {
            header("DOMAIN")
                + &domains
                    .iter()
                    .map(|d| row(&d.domain, d.sent, d.received, output.bytes))
                    .collect::<String>()
        };
        Ok((serde_json::to_value(&domains)?, text))
    })
}

/// Rows fetched before sorting and cutting to `--limit`.
const ALL: usize = 100_000;

pub fn domains(args: DomainsArgs) -> u8 {
    let RankArgs {
        window,
        output,
        limit,
        sort,
    } = args.rank;
    let domain = args.domain;
    report(&output, &window, |store, range| match &domain {
        Some(domain) => {
            let mut hosts = store.hostnames(domain, range, ALL)?;
            sort_rows(&mut hosts, sort, |host| {
                (&host.hostname, host.sent, host.received)
            });
            hosts.truncate(limit as usize);
            let text = hosts
                .iter()
                .map(|host| row(&host.hostname, host.sent, host.received, output.bytes))
                .collect::<String>();
            let text = if hosts.is_empty() {
                format!("no traffic to {domain} in this range\n")
            } else {
                header("HOSTNAME") + &text
            };
            Ok((serde_json::to_value(&hosts)?, text))
        }
        None => {
            let mut domains = store.top_domains(range, ALL)?;
            sort_rows(&mut domains, sort, |d| (&d.domain, d.sent, d.received));
            domains.truncate(limit as usize);
            let text = domains
                .iter()
                .map(|d| {
                    let line = row(&d.domain, d.sent, d.received, output.bytes);
                    let naming = naming_text(&d.provenance);
                    format!("{}  {:>5}  {naming}\n", line.trim_end(), d.hostnames)
                })
                .collect::<String>();
            Ok((
                serde_json::to_value(&domains)?,
                format!("{}  HOSTS  NAMED BY\n", header("DOMAIN").trim_end()) + &text,
            ))
        }
    })
}

pub fn timeline(args: TimelineArgs) -> u8 {
    let output = &args.output;
    report(output, &args.window, |store, range| {
        let bucket_ms = args
            .bucket
            .as_deref()
            .map(|text| {
                span::duration_ms(text)
                    .ok_or_else(|| format!("--bucket {text:?}: give a length such as 5m, 1h or 1d"))
            })
            .transpose()?;
        let timeline = views::timeline(store, range, bucket_ms)?;
        let text = header("START")
            + &timeline
                .points
                .iter()
                .map(|point| {
                    row(
                        &local_time(point.start_ms, store.zone()),
                        point.sent,
                        point.received,
                        output.bytes,
                    )
                })
                .collect::<String>();
        Ok((serde_json::to_value(&timeline)?, text))
    })
}

pub fn heatmap(args: HeatmapArgs) -> u8 {
    let window = Window {
        since: args.since.clone(),
        until: args.until.clone(),
    };
    let exact = args.output.bytes;
    report(&args.output, &window, |store, range| {
        let heatmap = views::heatmap(store, range)?;
        let max = heatmap.max_bytes;
        let hours: String = (0..24)
            .map(|hour| match hour % 2 {
                0 => format!("{hour:<2}"),
                _ => "  ".into(),
            })
            .collect();
        let text = std::iter::once(format!("     {}\n", hours.trim_end()))
            .chain(
                heatmap
                    .weekdays
                    .iter()
                    .zip(&heatmap.bytes)
                    .map(|(day, cells)| {
                        let line: String = cells
                            .iter()
                            .map(|bytes| format!("{} ", shade(*bytes, max)))
                            .collect();
                        format!("{day}  {}\n", line.trim_end())
                    }),
            )
            .chain(std::iter::once(format!(
                "scale: ' ' none, ░ ▒ ▓ █ up to {} in one hour\n",
                amount(max, exact)
            )))
            .collect();
        Ok((serde_json::to_value(&heatmap)?, text))
    })
}

/// One of five shades for `bytes` against the busiest cell.
fn shade(bytes: u64, max: u64) -> char {
    const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
    if bytes == 0 || max == 0 {
        return SHADES[0];
    }
    let level = (bytes as f64 / max as f64 * 4.0).ceil() as usize;
    SHADES[level.clamp(1, 4)]
}

fn sort_rows<T>(rows: &mut [T], sort: Sort, key: impl Fn(&T) -> (&String, u64, u64)) {
    match sort {
        Sort::Total => rows.sort_by_key(|row| {
            let (_, sent, received) = key(row);
            std::cmp::Reverse(sent + received)
        }),
        Sort::Received => rows.sort_by_key(|row| std::cmp::Reverse(key(row).2)),
        Sort::Sent => rows.sort_by_key(|row| std::cmp::Reverse(key(row).1)),
        Sort::Name => rows.sort_by(|a, b| key(a).0.cmp(key(b).0)),
    }
}

/// Opens the database, runs `query` on the window, prints JSON or text.
fn report(output: &Output, window: &Window, query: impl FnOnce(&Store, Range) -> Answer) -> u8 {
    let outcome = open().and_then(|store| {
        let range = window_range(window, clock::unix_ms(), store.zone())?;
        query(&store, range)
    });
    match outcome {
        Ok((json, _)) if output.json => {
            println!("{json}");
            exit::OK
        }
        Ok((_, text)) => {
            print!("{text}");
            exit::OK
        }
        Err(error) => {
            eprintln!("netmon: {error}");
            exit::FAILURE
        }
    }
}

/// The range a `--since`/`--until` pair names as of `now_ms` (core's span grammar, the API's
/// `range=` too).
pub fn window_range(
    window: &Window,
    now_ms: i64,
    zone: &jiff::tz::TimeZone,
) -> Result<Range, String> {
    span::window(&window.since, window.until.as_deref(), now_ms, zone)
        .map_err(|problem| problem.describe("--since", "--until"))
}

/// Opens the database, failing with a clear message when there is none yet.
pub fn open() -> Result<Store, Box<dyn std::error::Error>> {
    let paths = Paths::resolve()?;
    let path = paths.database();
    if !path.exists() {
        return Err(format!(
            "no history yet: {} does not exist (start `netmon run`)",
            path.display()
        )
        .into());
    }
    Ok(crate::progress::open_store(&path)
        .map_err(|error| format!("{}: {error}", path.display()))?)
}

/// `2026-11-25 14:05` in `zone`.
pub fn local_time(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|timestamp| {
            timestamp
                .to_zoned_datetime(zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| ms.to_string())
}

pub fn amount(bytes: u64, exact: bool) -> String {
    if exact {
        bytes.to_string()
    } else {
        units::bytes(bytes)
    }
}

pub fn totals_text(totals: Totals, exact: bool) -> String {
    format!(
        "{:>10}  ↓ {:>10}  ↑ {:>10}",
        amount(totals.sent + totals.received, exact),
        amount(totals.received, exact),
        amount(totals.sent, exact)
    )
}

/// How a domain's bytes were named, largest share first: `sni 92% dns 8%`.
fn naming_text(provenance: &std::collections::BTreeMap<String, u64>) -> String {
    let total: u64 = provenance.values().sum();
    let mut shares: Vec<(&String, u64)> = provenance
        .iter()
        .map(|(name, bytes)| (name, *bytes))
        .collect();
    shares.sort_by_key(|(name, bytes)| (std::cmp::Reverse(*bytes), *name));
    shares
        .iter()
        .map(|(name, bytes)| format!("{name} {:.0}%", *bytes as f64 * 100.0 / total.max(1) as f64))
        .collect::<Vec<_>>()
        .join(" ")
}

fn header(first: &str) -> String {
    format!(
        "{first:<28} {:>10}    {:>10}    {:>10}\n",
        "TOTAL", "RECEIVED", "SENT"
    )
}

fn row(name: &str, sent: u64, received: u64, exact: bool) -> String {
    format!(
        "{:<28} {}\n",
        name.chars().take(28).collect::<String>(),
        totals_text(Totals { sent, received }, exact)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn a_window_must_end_after_it_starts() {
        let window = Window {
            since: "1d".into(),
            until: Some("2d".into()),
        };
        let error = window_range(&window, 1_800_000_000_000, &TimeZone::UTC).unwrap_err();
        assert_eq!(
            error,
            "--since 1d is not before 2d: give a start earlier than the end"
        );
    }

    /// Durations, dates (some impossible, some beyond 2999) and any text.
    fn span_text() -> impl Strategy<Value = String> {
        prop_oneof![
            (1i64..100_000, "[mhdw]").prop_map(|(count, unit)| format!("{count}{unit}")),
            (1960i32..3050, 1u8..=13, 1u8..=31)
                .prop_map(|(year, month, day)| format!("{year:04}-{month:02}-{day:02}")),
            "\\PC{0,10}",
        ]
    }

    fn zone() -> impl Strategy<Value = TimeZone> {
        prop_oneof![
            Just("UTC"),
            Just("Europe/Paris"),
            Just("Asia/Kolkata"),
            Just("America/New_York"),
            Just("Pacific/Chatham"),
        ]
        .prop_map(|name| TimeZone::get(name).unwrap())
    }

    proptest! {
        /// `netmon … --since TEXT` and the API's `range=TEXT` read every string as the same
        /// span, or refuse it with the same words after the parameter's name.
        #[test]
        fn the_cli_and_the_api_parse_the_same_spans(
            text in span_text(),
            now in 0i64..32_000_000_000_000,
            zone in zone(),
        ) {
            let window = Window { since: text.clone(), until: None };
            let cli = window_range(&window, now, &zone);
            let api = netmon_server::range_at(Some(&text), None, None, now, &zone);
            match (cli, api) {
                (Ok(cli), Ok(api)) => prop_assert_eq!(cli, api),
                (Err(cli), Err(api)) => {
                    prop_assert_eq!(api.len(), 1);
                    prop_assert_eq!(
                        cli.strip_prefix("--since "),
                        api[0].strip_prefix("\"range\" ")
                    );
                }
                (cli, api) => prop_assert!(false, "CLI {:?}, API {:?}", cli, api),
            }
        }
    }

    #[test]
    fn shades_scale_to_the_busiest_cell() {
        assert_eq!(shade(0, 100), ' ');
        assert_eq!(shade(1, 100), '░');
        assert_eq!(shade(60, 100), '▓');
        assert_eq!(shade(100, 100), '█');
    }

    #[test]
    fn lines_in_human_or_exact_units() {
        assert!(row("zen", 2_000, 3_000_000, false).contains("3.0 MB"));
        assert!(row("zen", 2_000, 3_000_000, true).contains("3002000"));
    }
}
