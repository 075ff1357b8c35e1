//! `netmon export`: usage rows, per-application/per-domain totals or the timeline as CSV or
//! JSON. The file is core's one export (`history::export`: the columns, the formats), the same
//! the API's `/api/export…` serves; this command gives it a file (or stdout) and a progress bar.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use netmon_core::clock;
use netmon_core::history::export::{self, Export, ExportError, Format, Table};
use netmon_core::store::{Range, Store, StoreError, Tier};

use crate::exit;
use crate::query::{self, Window};

const HOUR_MS: i64 = 3_600_000;

/// The file format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
}

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// Every stored usage row, each time from the finest tier still holding it.
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
    /// The timeline, in buckets sized for the range.
    Timeline,
}

impl What {
    fn table(self) -> Table {
        match self {
            Self::Usage => Table::Usage,
            Self::Samples => Table::UsageOf(Tier::Raw),
            Self::Hourly => Table::UsageOf(Tier::Hourly),
            Self::Daily => Table::UsageOf(Tier::Daily),
            Self::Apps => Table::Apps,
            Self::Domains => Table::Domains,
            Self::Timeline => Table::Timeline,
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    format: FormatArg,
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

/// Why `netmon export` stopped: the export itself, or before it (no database, a bad range).
enum Failure {
    Export(ExportError),
    Other(String),
}

impl From<ExportError> for Failure {
    fn from(error: ExportError) -> Self {
        Self::Export(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Export(error.into())
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Self::Export(error.into())
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
        Err(Failure::Export(ExportError::Write(error)))
            if error.kind() == io::ErrorKind::BrokenPipe =>
        {
            exit::OK
        }
        Err(Failure::Export(ExportError::Write(error))) => {
            let target = args
                .output
                .as_ref()
                .map_or("stdout".to_string(), |path| path.display().to_string());
            eprintln!("netmon: cannot write to {target}: {error}");
            exit::IO
        }
        Err(Failure::Export(ExportError::Store(error))) => {
            eprintln!("netmon: {error}");
            exit::FAILURE
        }
        Err(Failure::Other(message)) => {
            eprintln!("netmon: {message}");
            exit::FAILURE
        }
    }
}

fn export(args: &ExportArgs) -> Result<u64, Failure> {
    let store = query::open().map_err(|error| Failure::Other(error.to_string()))?;
    let range = range(args, &store)?;
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(create_private(path)?),
        None => Box::new(io::stdout().lock()),
    };
    let sink = BufWriter::with_capacity(64 * 1024, sink);
    let progress = Progress::new(&store, range, args.output.is_some())?;
    let export = Export {
        table: args.what.table(),
        format: match args.format {
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
        },
        range,
        limit: usize::MAX >> 1,
    };
    let rows = export::write(&store, &export, sink, |start_ms, written| {
        progress.update(start_ms, written)
    })?;
    progress.bar.finish_and_clear();
    Ok(rows)
}

/// The range of `--since`/`--until`: all history when neither is given.
fn range(args: &ExportArgs, store: &Store) -> Result<Range, Failure> {
    if args.since.is_none() && args.until.is_none() {
        return Ok(Range {
            start_ms: i64::MIN,
            end_ms: i64::MAX,
        });
    }
    let window = Window {
        since: args.since.clone().unwrap_or_else(|| "1970-01-01".into()),
        until: args.until.clone(),
    };
    query::window_range(&window, clock::unix_ms(), store.zone()).map_err(Failure::Other)
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
        let end_ms = range.end_ms.min(clock::unix_ms());
        let hours = ((end_ms - start_ms).max(0) / HOUR_MS) as u64;
        let bar = crate::progress::bar(hours, "{bar:40} {percent:>3}% of the history, {msg}");
        Ok(Self { bar, start_ms })
    }

    fn update(&self, row_start_ms: i64, written: u64) {
        self.bar
            .set_position(((row_start_ms - self.start_ms).max(0) / HOUR_MS) as u64);
        self.bar.set_message(format!("{written} rows"));
    }
}
