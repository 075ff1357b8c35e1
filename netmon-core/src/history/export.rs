//! The one export of the history: a table ([`Table`]) of a range as CSV or JSON, with fixed
//! columns, written to any `io::Write` while the store is read (a year of usage rows never sits
//! in memory). `netmon export` writes it to a file or stdout with a progress bar; the server's
//! `/api/export…` to its chunked response body.
//!
//! Columns (CSV header = JSON keys, in this order):
//! - usage rows ([`USAGE_COLUMNS`]): `start_ms, start, duration_ms, tier, app, host, domain,
//!   direction, bytes, packets` — `start` is the UTC time in RFC 3339, `tier` is `raw`, `hourly`
//!   or `daily`; an unknown destination is an empty CSV field and a key left out of JSON;
//! - apps ([`APP_COLUMNS`]): `app, sent, received, last_seen_ms`;
//! - domains ([`DOMAIN_COLUMNS`]): `domain, sent, received, hostnames`;
//! - timeline ([`TIMELINE_COLUMNS`]): `start_ms, bucket_ms, sent, received`.

use std::io::{self, Write};

use serde::Serialize;

use super::views;
use crate::store::{ExportRow, Range, Store, StoreError, Tier};

pub const USAGE_COLUMNS: [&str; 10] = [
    "start_ms",
    "start",
    "duration_ms",
    "tier",
    "app",
    "host",
    "domain",
    "direction",
    "bytes",
    "packets",
];
pub const APP_COLUMNS: [&str; 4] = ["app", "sent", "received", "last_seen_ms"];
pub const DOMAIN_COLUMNS: [&str; 4] = ["domain", "sent", "received", "hostnames"];
pub const TIMELINE_COLUMNS: [&str; 4] = ["start_ms", "bucket_ms", "sent", "received"];

/// Rows written between two progress reports.
const PROGRESS_EVERY: u64 = 4096;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Enum),
    oai(rename = "ExportFormat", rename_all = "lowercase")
)]
pub enum Format {
    /// A header line, then one line per row.
    Csv,
    /// One JSON array of objects.
    Json,
}

impl Format {
    /// The file name extension: `csv` or `json`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Every usage row, each time from the finest tier that still holds it.
    Usage,
    /// The usage rows of one tier only.
    UsageOf(Tier),
    /// One total per application, busiest first.
    Apps,
    /// One total per registrable domain, busiest first.
    Domains,
    /// The timeline, in buckets sized for the range.
    Timeline,
}

impl Table {
    /// The table's name in file names: `usage`, `apps`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::UsageOf(tier) => tier.name(),
            Self::Apps => "apps",
            Self::Domains => "domains",
            Self::Timeline => "timeline",
        }
    }
}

/// An export to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Export {
    pub table: Table,
    pub format: Format,
    pub range: Range,
    /// Most rows of the apps and domains tables.
    pub limit: usize,
}

impl Export {
    /// `netmon-{table}-{start_ms}-{end_ms}.{csv|json}`.
    pub fn file_name(&self) -> String {
        format!(
            "netmon-{}-{}-{}.{}",
            self.table.name(),
            self.range.start_ms,
            self.range.end_ms,
            self.format.extension()
        )
    }
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Write(#[from] io::Error),
}

impl From<csv::Error> for ExportError {
    fn from(error: csv::Error) -> Self {
        Self::Write(error.into())
    }
}

impl From<serde_json::Error> for ExportError {
    fn from(error: serde_json::Error) -> Self {
        Self::Write(error.into())
    }
}

/// One usage row as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(rename = "UsageRow", skip_serializing_if_is_none)
)]
pub struct UsageRecord {
    pub start_ms: i64,
    /// `start_ms` as an RFC 3339 UTC time.
    pub start: String,
    /// A sample's length (raw), 3600000 (hourly) or 86400000 (daily, nominal).
    pub duration_ms: i64,
    /// `raw`, `hourly` or `daily`.
    pub tier: String,
    pub app: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `sent` or `received`.
    pub direction: String,
    pub bytes: u64,
    pub packets: u64,
}

impl From<ExportRow> for UsageRecord {
    fn from(row: ExportRow) -> Self {
        Self {
            start_ms: row.start_ms,
            start: jiff::Timestamp::from_millisecond(row.start_ms)
                .map(|timestamp| timestamp.to_string())
                .unwrap_or_default(),
            duration_ms: row.duration_ms,
            tier: row.tier.name().to_string(),
            app: row.app,
            host: row.host,
            domain: row.domain,
            direction: match row.direction {
                crate::Direction::Sent => "sent",
                crate::Direction::Received => "received",
            }
            .to_string(),
            bytes: row.bytes,
            packets: row.packets,
        }
    }
}

impl UsageRecord {
    /// The CSV fields, in the order of [`USAGE_COLUMNS`] (an unknown destination is empty).
    fn csv_fields(&self) -> [String; 10] {
        [
            self.start_ms.to_string(),
            self.start.clone(),
            self.duration_ms.to_string(),
            self.tier.clone(),
            self.app.clone(),
            self.host.clone().unwrap_or_default(),
            self.domain.clone().unwrap_or_default(),
            self.direction.clone(),
            self.bytes.to_string(),
            self.packets.to_string(),
        ]
    }
}

/// One bucket of an exported timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct TimelineRecord {
    start_ms: i64,
    bucket_ms: i64,
    sent: u64,
    received: u64,
}

/// Writes `export` to `sink`; returns how many rows were written. `progress` is called every
/// few thousand usage rows with the start of the latest row and the rows written so far.
pub fn write(
    store: &Store,
    export: &Export,
    sink: impl Write,
    mut progress: impl FnMut(i64, u64),
) -> Result<u64, ExportError> {
    let Export {
        table,
        format,
        range,
        limit,
    } = *export;
    let wanted = |row: &ExportRow| match table {
        Table::UsageOf(tier) => row.tier == tier,
        _ => true,
    };
    match table {
        Table::Usage | Table::UsageOf(_) => {
            let mut writer = Writer::new(format, sink, &USAGE_COLUMNS)?;
            let mut written = 0u64;
            store.export(range, |row| -> Result<(), ExportError> {
                if !wanted(&row) {
                    return Ok(());
                }
                let start_ms = row.start_ms;
                writer.usage(&UsageRecord::from(row))?;
                written += 1;
                if written.is_multiple_of(PROGRESS_EVERY) {
                    progress(start_ms, written);
                }
                Ok(())
            })?;
            writer.finish()?;
            Ok(written)
        }
        Table::Apps => all(format, sink, &APP_COLUMNS, store.top_apps(range, limit)?),
        Table::Domains => {
            let records = store
                .top_domains(range, limit)?
                .into_iter()
                .map(|total| DomainRecord {
                    domain: total.domain,
                    sent: total.sent,
                    received: total.received,
                    hostnames: total.hostnames,
                });
            all(format, sink, &DOMAIN_COLUMNS, records)
        }
        Table::Timeline => {
            let timeline = views::timeline(store, range, None)?;
            let records = timeline.points.iter().map(|point| TimelineRecord {
                start_ms: point.start_ms,
                bucket_ms: timeline.bucket_ms,
                sent: point.sent,
                received: point.received,
            });
            all(format, sink, &TIMELINE_COLUMNS, records)
        }
    }
}

/// A domain's row: the fixed columns of [`DOMAIN_COLUMNS`] in both formats (a domain's
/// provenance is shown by `/api/domains` and `netmon domains`, not exported).
#[derive(Serialize)]
struct DomainRecord {
    domain: String,
    sent: u64,
    received: u64,
    hostnames: u64,
}

/// Writes the (few) records of a summary table.
fn all<R: Serialize>(
    format: Format,
    sink: impl Write,
    columns: &[&str],
    records: impl IntoIterator<Item = R>,
) -> Result<u64, ExportError> {
    let mut writer = Writer::new(format, sink, columns)?;
    let mut written = 0;
    for record in records {
        writer.record(&record)?;
        written += 1;
    }
    writer.finish()?;
    Ok(written)
}

/// CSV with a header line, or one JSON array written element by element.
enum Writer<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Json { sink: W, first: bool },
}

impl<W: Write> Writer<W> {
    /// A writer whose CSV starts with `columns` (also when no row follows).
    fn new(format: Format, mut sink: W, columns: &[&str]) -> Result<Self, ExportError> {
        Ok(match format {
            Format::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(sink);
                writer.write_record(columns)?;
                Self::Csv(Box::new(writer))
            }
            Format::Json => {
                sink.write_all(b"[")?;
                Self::Json { sink, first: true }
            }
        })
    }

    /// A record whose fields are all columns, in order.
    fn record(&mut self, record: &impl Serialize) -> Result<(), ExportError> {
        match self {
            Self::Csv(writer) => writer.serialize(record)?,
            Self::Json { .. } => self.json(record)?,
        }
        Ok(())
    }

    /// A usage row: JSON leaves out an unknown destination, CSV keeps its (empty) columns.
    fn usage(&mut self, record: &UsageRecord) -> Result<(), ExportError> {
        match self {
            Self::Csv(writer) => writer.write_record(record.csv_fields())?,
            Self::Json { .. } => self.json(record)?,
        }
        Ok(())
    }

    fn json(&mut self, record: &impl Serialize) -> Result<(), ExportError> {
        if let Self::Json { sink, first } = self {
            sink.write_all(if *first { b"\n" } else { b",\n" })?;
            serde_json::to_writer(&mut *sink, record)?;
            *first = false;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Destination, Direction, Provenance, Sample, SampleStats, Usage};

    /// Monday 2026-11-02 10:00 UTC.
    const START: i64 = 1_793_613_600_000;

    fn store() -> Store {
        let mut store = Store::in_memory(jiff::tz::TimeZone::UTC).unwrap();
        let usage = |app: &str, host: Option<&str>, direction, bytes| Usage {
            app: app.into(),
            destination: host.map(|host| Destination {
                host: host.into(),
                domain: "netflix.com".into(),
                provenance: Provenance::Sni,
            }),
            direction,
            bytes,
            packets: 2,
        };
        let sample = Sample {
            start_ms: START,
            end_ms: START + 5000,
            usage: vec![
                usage("zen", Some("api.netflix.com"), Direction::Received, 1000),
                usage("curl", None, Direction::Sent, 30),
            ],
            processes: vec![],
            stats: SampleStats::default(),
        };
        store.write(&[sample]).unwrap();
        store
    }

    fn export(table: Table, format: Format) -> String {
        let export = Export {
            table,
            format,
            range: Range {
                start_ms: START - 1000,
                end_ms: START + 10_000,
            },
            limit: 100,
        };
        let mut out = Vec::new();
        write(&store(), &export, &mut out, |_, _| {}).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn usage_rows_have_fixed_columns() {
        let csv = export(Table::Usage, Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], USAGE_COLUMNS.join(","));
        assert!(lines.contains(&"1793613600000,2026-11-02T10:00:00Z,5000,raw,zen,api.netflix.com,netflix.com,received,1000,2"), "{csv}");
        assert!(
            lines.contains(&"1793613600000,2026-11-02T10:00:00Z,5000,raw,curl,,,sent,30,2"),
            "{csv}"
        );
        let json: Vec<serde_json::Value> =
            serde_json::from_str(&export(Table::Usage, Format::Json)).unwrap();
        let curl = json.iter().find(|row| row["app"] == "curl").unwrap();
        assert!(curl.get("host").is_none(), "{curl}");
        assert_eq!(curl["tier"], "raw");
        let zen = json.iter().find(|row| row["app"] == "zen").unwrap();
        let keys: Vec<&String> = zen.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), USAGE_COLUMNS.len());
    }

    #[test]
    fn one_tier_only() {
        assert_eq!(
            export(Table::UsageOf(Tier::Raw), Format::Csv)
                .lines()
                .count(),
            3
        );
        assert_eq!(
            export(Table::UsageOf(Tier::Hourly), Format::Csv)
                .lines()
                .count(),
            1
        );
        assert_eq!(export(Table::UsageOf(Tier::Daily), Format::Json), "[\n]\n");
    }

    #[test]
    fn summary_tables_have_fixed_columns() {
        let apps = export(Table::Apps, Format::Csv);
        assert_eq!(
            apps.lines().collect::<Vec<_>>(),
            [
                "app,sent,received,last_seen_ms",
                &format!("zen,0,1000,{}", START + 5000),
                &format!("curl,30,0,{}", START + 5000),
            ]
        );
        let domains = export(Table::Domains, Format::Json);
        let domains: serde_json::Value = serde_json::from_str(&domains).unwrap();
        assert_eq!(
            domains,
            serde_json::json!([{"domain": "netflix.com", "sent": 0, "received": 1000, "hostnames": 1}])
        );
        let timeline = export(Table::Timeline, Format::Csv);
        assert_eq!(
            timeline.lines().next(),
            Some("start_ms,bucket_ms,sent,received")
        );
        assert!(
            timeline.contains(&format!("{},300000,30,1000", START - 1000)),
            "{timeline}"
        );
    }
}
