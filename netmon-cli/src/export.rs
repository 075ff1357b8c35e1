//! `netmon export`: usage rows or per-application/per-domain totals as CSV or JSON, streamed
//! from the store row by row so memory stays flat however long the history is.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netmon_core::store::{ExportRow, Range, Store, StoreError};
use netmon_core::{monitor, Direction};
use serde::Serialize;

use crate::exit;
use crate::query::{self, Window};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// Every stored usage row of every tier (raw samples, hourly and daily rows).
    Usage,
    /// Raw samples only (the last days, at the sampling interval).
    Samples,
    /// Hourly rows only.
    Hourly,
    /// Daily rows only.
    Daily,
    /// One total per application.
    Apps,
    /// One total per registrable domain.
    Domains,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    #[arg(long, value_enum, default_value_t = What::Usage)]
    what: What,
    /// Start: a duration back from now (`24h`, `7d`) or a date (`2026-11-01`); all history
    /// when left out.
    #[arg(long)]
    since: Option<String>,
    /// End (not included), in the same forms; now when left out.
    #[arg(long)]
    until: Option<String>,
    /// Write to this file (created mode 600) instead of stdout; shows progress on stderr.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// One CSV/JSON record of a usage row.
#[derive(Debug, Serialize)]
struct Record<'a> {
    start_ms: i64,
    start: String,
    duration_ms: i64,
    app: &'a str,
    host: Option<&'a str>,
    domain: Option<&'a str>,
    direction: Direction,
    bytes: u64,
    packets: u64,
}

/// The fields of [`Record`], in order.
const USAGE_HEADERS: &[&str] = &[
    "start_ms",
    "start",
    "duration_ms",
    "app",
    "host",
    "domain",
    "direction",
    "bytes",
    "packets",
];

/// The fields of [`TotalRecord`], in order.
const TOTAL_HEADERS: &[&str] = &["name", "sent", "received"];

/// One CSV/JSON record of a total.
#[derive(Debug, Serialize)]
struct TotalRecord<'a> {
    name: &'a str,
    sent: u64,
    received: u64,
}

/// Why an export stopped.
#[derive(Debug)]
enum ExportError {
    Store(StoreError),
    Write(io::Error),
    Other(String),
}

impl From<StoreError> for ExportError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<io::Error> for ExportError {
    fn from(error: io::Error) -> Self {
        Self::Write(error)
    }
}

impl From<csv::Error> for ExportError {
    fn from(error: csv::Error) -> Self {
        let message = error.to_string();
        match error.into_kind() {
            csv::ErrorKind::Io(error) => Self::Write(error),
            _ => Self::Other(message),
        }
    }
}

impl From<serde_json::Error> for ExportError {
    fn from(error: serde_json::Error) -> Self {
        Self::Write(error.into())
    }
}

pub fn run(args: ExportArgs) -> u8 {
    match export(&args) {
        Ok(rows) => {
            if let Some(path) = &args.output {
                eprintln!("netmon: exported {rows} rows to {}", path.display());
            }
            exit::OK
        }
        Err(ExportError::Write(error)) if error.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(ExportError::Write(error)) => {
            let target = args
                .output
                .as_ref()
                .map_or("stdout".to_string(), |path| path.display().to_string());
            eprintln!("netmon: cannot write to {target}: {error}");
            exit::IO
        }
        Err(ExportError::Store(error)) => {
            eprintln!("netmon: {error}");
            exit::FAILURE
        }
        Err(ExportError::Other(message)) => {
            eprintln!("netmon: {message}");
            exit::FAILURE
        }
    }
}

fn export(args: &ExportArgs) -> Result<u64, ExportError> {
    let store = query::open().map_err(|error| ExportError::Other(error.to_string()))?;
    let now = monitor::unix_ms();
    let range = match (&args.since, &args.until) {
        (None, None) => Range {
            start_ms: i64::MIN,
            end_ms: i64::MAX,
        },
        (since, until) => query::window_range(
            &Window {
                since: since.clone().unwrap_or_else(|| "1970-01-01".into()),
                until: until.clone(),
            },
            now,
            store.zone(),
        )
        .map_err(ExportError::Other)?,
    };
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(create_private(path)?),
        None => Box::new(io::stdout().lock()),
    };
    let sink = BufWriter::with_capacity(64 * 1024, sink);
    let progress = Progress::new(&store, range, args.output.is_some())?;
    let rows = match args.what {
        What::Apps | What::Domains => totals(&store, range, args, sink)?,
        tier => usage(&store, range, tier, args.format, sink, &progress)?,
    };
    progress.bar.finish_and_clear();
    Ok(rows)
}

fn create_private(path: &std::path::Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(netmon_core::paths::FILE_MODE);
    }
    options.open(path)
}

/// A bar over the exported time span (rows come oldest first), on stderr, only when writing
/// to a file.
struct Progress {
    bar: ProgressBar,
    start_ms: i64,
}

impl Progress {
    fn new(store: &Store, range: Range, to_file: bool) -> Result<Self, StoreError> {
        let spans = store.tier_spans()?;
        let oldest = spans.oldest_ms().unwrap_or(range.start_ms);
        let start_ms = range.start_ms.max(oldest);
        if !to_file {
            return Ok(Self {
                bar: ProgressBar::hidden(),
                start_ms,
            });
        }
        let end_ms = range.end_ms.min(monitor::unix_ms());
        let hours = ((end_ms - start_ms).max(0) / HOUR_MS) as u64;
        let bar = ProgressBar::with_draw_target(Some(hours), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {percent:>3}% of the history, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Ok(Self { bar, start_ms })
    }

    fn update(&self, row_start_ms: i64, written: u64) {
        self.bar
            .set_position(((row_start_ms - self.start_ms).max(0) / HOUR_MS) as u64);
        self.bar.set_message(format!("{written} rows"));
    }
}

const HOUR_MS: i64 = 3_600_000;

fn in_tier(row: &ExportRow, what: What) -> bool {
    match what {
        What::Hourly => row.duration_ms == HOUR_MS,
        What::Daily => row.duration_ms == 86_400_000,
        What::Samples => row.duration_ms < HOUR_MS,
        _ => true,
    }
}

fn record(row: &ExportRow) -> Record<'_> {
    Record {
        start_ms: row.start_ms,
        start: jiff::Timestamp::from_millisecond(row.start_ms)
            .map(|timestamp| timestamp.to_string())
            .unwrap_or_default(),
        duration_ms: row.duration_ms,
        app: &row.app,
        host: row.host.as_deref(),
        domain: row.domain.as_deref(),
        direction: row.direction,
        bytes: row.bytes,
        packets: row.packets,
    }
}

/// Streams usage rows of the tier(s) `what` selects; returns how many were written.
fn usage(
    store: &Store,
    range: Range,
    what: What,
    format: Format,
    sink: impl Write,
    progress: &Progress,
) -> Result<u64, ExportError> {
    let mut written = 0u64;
    let mut writer = Writer::new(format, sink, USAGE_HEADERS)?;
    store.export(range, |row: ExportRow| -> Result<(), ExportError> {
        if !in_tier(&row, what) {
            return Ok(());
        }
        writer.write(&record(&row))?;
        written += 1;
        if written.is_multiple_of(4096) {
            progress.update(row.start_ms, written);
        }
        Ok(())
    })?;
    writer.finish()?;
    Ok(written)
}

/// Per-application or per-domain totals (small: one row per name).
fn totals(
    store: &Store,
    range: Range,
    args: &ExportArgs,
    sink: impl Write,
) -> Result<u64, ExportError> {
    let rows: Vec<(String, u64, u64)> = if args.what == What::Apps {
        store
            .top_apps(range, usize::MAX >> 1)?
            .into_iter()
            .map(|app| (app.app, app.sent, app.received))
            .collect()
    } else {
        store
            .top_domains(range, usize::MAX >> 1)?
            .into_iter()
            .map(|domain| (domain.domain, domain.sent, domain.received))
            .collect()
    };
    let mut writer = Writer::new(args.format, sink, TOTAL_HEADERS)?;
    rows.iter().try_for_each(|(name, sent, received)| {
        writer.write(&TotalRecord {
            name,
            sent: *sent,
            received: *received,
        })
    })?;
    writer.finish()?;
    Ok(rows.len() as u64)
}

/// CSV with a header row, or one JSON array written element by element.
enum Writer<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Json { sink: W, first: bool },
}

impl<W: Write> Writer<W> {
    /// A writer whose CSV starts with `headers` (also when no row follows).
    fn new(format: Format, mut sink: W, headers: &[&str]) -> Result<Self, ExportError> {
        Ok(match format {
            Format::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(sink);
                writer.write_record(headers)?;
                Self::Csv(Box::new(writer))
            }
            Format::Json => {
                sink.write_all(b"[")?;
                Self::Json { sink, first: true }
            }
        })
    }

    fn write(&mut self, record: &impl Serialize) -> Result<(), ExportError> {
        match self {
            Self::Csv(writer) => writer.serialize(record)?,
            Self::Json { sink, first } => {
                sink.write_all(if *first { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *sink, record)?;
                *first = false;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), ExportError> {
        match self {
            Self::Csv(mut writer) => writer.flush()?,
            Self::Json { mut sink, .. } => {
                sink.write_all(b"\n]\n")?;
                sink.flush()?;
            }
        }
        Ok(())
    }
}
