//! Exports under `/api/export`: every stored usage row of a range as CSV or JSON, streamed
//! while the database is read (a year of history never sits in memory), and the apps, domains
//! and timeline views as CSV.

use std::io::{self, Write};

use netmon_core::store::{self, ExportRow, Range, Store, StoreError};
use poem::http::{header, StatusCode};
use poem::{Body, IntoResponse, Response};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::common::{checked_limit, name_of, resolve_range, Problems, Tag};
use crate::state::AppState;

/// Bytes gathered before a piece of the body is handed to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Pieces queued ahead of a slow client; the database read waits beyond that.
const CHUNKS_AHEAD: usize = 8;
const CSV_TYPE: &str = "text/csv; charset=utf-8";
const JSON_TYPE: &str = "application/json; charset=utf-8";
/// Column names of the usage CSV, in the order of [`UsageRow`]'s fields.
const USAGE_COLUMNS: [&str; 8] = [
    "start_ms",
    "duration_ms",
    "app",
    "host",
    "domain",
    "direction",
    "bytes",
    "packets",
];

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub(crate) enum ExportFormat {
    Csv,
    Json,
}

/// A view of the history that can be exported as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub(crate) enum ExportView {
    Apps,
    Domains,
    Timeline,
}

/// One stored usage row: an application's bytes in one direction during one period (5 s raw,
/// one hour, or one local day), with the destination when it was known.
#[derive(Debug, Object, Serialize)]
#[oai(skip_serializing_if_is_none)]
pub(crate) struct UsageRow {
    start_ms: i64,
    duration_ms: i64,
    app: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    /// `sent` or `received`.
    direction: String,
    bytes: u64,
    packets: u64,
}

impl From<ExportRow> for UsageRow {
    fn from(row: ExportRow) -> Self {
        Self {
            start_ms: row.start_ms,
            duration_ms: row.duration_ms,
            app: row.app,
            host: row.host,
            domain: row.domain,
            direction: name_of(row.direction),
            bytes: row.bytes,
            packets: row.packets,
        }
    }
}

impl UsageRow {
    fn csv_fields(&self) -> [String; 8] {
        [
            self.start_ms.to_string(),
            self.duration_ms.to_string(),
            self.app.clone(),
            self.host.clone().unwrap_or_default(),
            self.domain.clone().unwrap_or_default(),
            self.direction.clone(),
            self.bytes.to_string(),
            self.packets.to_string(),
        ]
    }
}

/// Why an export was refused.
#[derive(ApiResponse)]
pub(crate) enum ExportRefused {
    /// The range or another parameter is not valid.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// The database could not answer.
    #[oai(status = 503)]
    Unavailable(Json<Problems>),
}

impl ExportRefused {
    fn unavailable(problem: impl ToString) -> Self {
        Self::Unavailable(Json(Problems {
            problems: vec![problem.to_string()],
        }))
    }
}

/// The streamed usage export: a CSV or JSON file, or why not.
pub(crate) enum UsageExport {
    File {
        format: ExportFormat,
        filename: String,
        body: Body,
    },
    Refused(ExportRefused),
}

/// A view exported as CSV, or why not.
#[derive(ApiResponse)]
pub(crate) enum ViewExport {
    /// The view as a CSV file (a header line, then one line per row).
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(
        PlainText<String>,
        /// `attachment; filename="…"`.
        #[oai(header = "Content-Disposition")]
        String,
    ),
    /// The range or another parameter is not valid.
    #[oai(status = 422)]
    Invalid(Json<Problems>),
    /// The database could not answer.
    #[oai(status = 503)]
    Unavailable(Json<Problems>),
}

pub(crate) struct ExportApi {
    state: AppState,
}

impl ExportApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl ExportApi {
    /// Every stored usage row in a range (as for `/timeline`), oldest first, as a CSV file
    /// (`format=csv`, the default) or a JSON array (`format=json`), streamed while it is read.
    #[oai(path = "/export", method = "get", tag = "Tag::History")]
    async fn export(
        &self,
        format: Query<Option<ExportFormat>>,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> UsageExport {
        let format = format.0.unwrap_or(ExportFormat::Csv);
        let range = match resolve_range(range.0.as_deref(), start_ms.0, end_ms.0) {
            Ok(range) => range,
            Err(problems) => {
                return UsageExport::Refused(ExportRefused::Invalid(Json(Problems { problems })))
            }
        };
        match self.open_reader().await {
            Ok(store) => UsageExport::File {
                format,
                filename: file_name("usage", range, format),
                body: stream_usage(store, range, format),
            },
            Err(refused) => UsageExport::Refused(refused),
        }
    }

    /// The apps, domains (at most `limit`, 1–1000, default 1000) or timeline of a range (as for
    /// `/timeline`) as a CSV file.
    #[oai(path = "/export/:view", method = "get", tag = "Tag::History")]
    async fn export_view(
        &self,
        view: Path<ExportView>,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
        limit: Query<Option<u32>>,
    ) -> ViewExport {
        let limit = limit.0.unwrap_or(1000);
        let query = resolve_range(range.0.as_deref(), start_ms.0, end_ms.0)
            .and_then(|range| checked_limit(limit).map(|()| range));
        let range = match query {
            Ok(range) => range,
            Err(problems) => return ViewExport::Invalid(Json(Problems { problems })),
        };
        let answer = self
            .state
            .with_history(|store| view_csv(store, view.0, range, limit as usize));
        let unavailable = |problem: String| {
            ViewExport::Unavailable(Json(Problems {
                problems: vec![problem],
            }))
        };
        match answer {
            Some(Ok(csv)) => {
                let name = file_name(view_name(view.0), range, ExportFormat::Csv);
                ViewExport::Csv(PlainText(csv), attachment(&name))
            }
            Some(Err(error)) => unavailable(error.to_string()),
            None => unavailable("this server has no history database".into()),
        }
    }
}

impl ExportApi {
    /// A connection of the export's own, so a long download does not hold up other queries
    /// (WAL lets it read while samples are written).
    async fn open_reader(&self) -> Result<Store, ExportRefused> {
        if self.state.with_history(|_| ()).is_none() {
            return Err(ExportRefused::unavailable(
                "this server has no history database",
            ));
        }
        let path = self.state.database_path();
        tokio::task::spawn_blocking(move || Store::open(&path))
            .await
            .map_err(ExportRefused::unavailable)?
            .map_err(ExportRefused::unavailable)
    }
}

/// The body of a usage export: the rows are read on a blocking thread and handed over in
/// pieces through a bounded channel, so the client's pace sets the reading pace; a client
/// that goes away stops the read.
fn stream_usage(store: Store, range: Range, format: ExportFormat) -> Body {
    let (sender, receiver) = mpsc::channel(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let failed = sender.clone();
        if let Err(error) = write_usage(&store, range, format, ChunkSink::new(sender)) {
            if error.kind() != io::ErrorKind::BrokenPipe {
                tracing::error!(%error, "export failed");
                let _ = failed.blocking_send(Err(error));
            }
        }
    });
    Body::from_bytes_stream(ReceiverStream::new(receiver))
}

/// Writes every usage row of `range` to `sink` in `format`.
fn write_usage(
    store: &Store,
    range: Range,
    format: ExportFormat,
    sink: ChunkSink,
) -> io::Result<()> {
    let rows = |each: &mut dyn FnMut(UsageRow) -> io::Result<()>| {
        store
            .export(range, |row| each(UsageRow::from(row)).map_err(Stop::Write))
            .map_err(io::Error::from)
    };
    match format {
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(sink);
            writer.write_record(USAGE_COLUMNS)?;
            rows(&mut |row| Ok(writer.write_record(row.csv_fields())?))?;
            writer.flush()?;
            writer
                .into_inner()
                .map_err(|error| error.into_error())?
                .finish()
        }
        ExportFormat::Json => {
            let mut sink = sink;
            sink.write_all(b"[")?;
            let mut first = true;
            rows(&mut |row| {
                let separator: &[u8] = if first { b"\n" } else { b",\n" };
                first = false;
                sink.write_all(separator)?;
                serde_json::to_writer(&mut sink, &row).map_err(io::Error::from)
            })?;
            sink.write_all(b"\n]\n")?;
            sink.finish()
        }
    }
}

/// Why an export stopped early.
enum Stop {
    Store(StoreError),
    Write(io::Error),
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<Stop> for io::Error {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Store(error) => io::Error::other(error),
            Stop::Write(error) => error,
        }
    }
}

/// Collects written bytes and sends them to the client in pieces of [`CHUNK_BYTES`].
struct ChunkSink {
    buffer: Vec<u8>,
    sender: mpsc::Sender<io::Result<Vec<u8>>>,
}

impl ChunkSink {
    fn new(sender: mpsc::Sender<io::Result<Vec<u8>>>) -> Self {
        Self {
            buffer: Vec::with_capacity(CHUNK_BYTES),
            sender,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.sender
            .blocking_send(Ok(piece))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }

    /// Sends what is left.
    fn finish(mut self) -> io::Result<()> {
        self.send()
    }
}

impl Write for ChunkSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A view of `range` as CSV text.
fn view_csv(store: &Store, view: ExportView, range: Range, limit: usize) -> Result<String, String> {
    let (header, rows) = view_rows(store, view, range, limit).map_err(|error| error.to_string())?;
    csv_text(header, rows)
}

/// The column names and rows of a view.
type ViewRows = ([&'static str; 4], Vec<[String; 4]>);

fn view_rows(
    store: &Store,
    view: ExportView,
    range: Range,
    limit: usize,
) -> Result<ViewRows, StoreError> {
    Ok(match view {
        ExportView::Apps => (
            ["app", "sent", "received", "last_seen_ms"],
            store
                .top_apps(range, limit)?
                .into_iter()
                .map(|app| {
                    [
                        app.app,
                        app.sent.to_string(),
                        app.received.to_string(),
                        app.last_seen_ms.to_string(),
                    ]
                })
                .collect(),
        ),
        ExportView::Domains => (
            ["domain", "sent", "received", "hostnames"],
            store
                .top_domains(range, limit)?
                .into_iter()
                .map(|domain| {
                    [
                        domain.domain,
                        domain.sent.to_string(),
                        domain.received.to_string(),
                        domain.hostnames.to_string(),
                    ]
                })
                .collect(),
        ),
        ExportView::Timeline => {
            let bucket_ms = store::bucket_for_span(range.end_ms - range.start_ms);
            (
                ["start_ms", "bucket_ms", "sent", "received"],
                store
                    .timeline(range, bucket_ms)?
                    .into_iter()
                    .map(|point| {
                        [
                            point.start_ms.to_string(),
                            bucket_ms.to_string(),
                            point.sent.to_string(),
                            point.received.to_string(),
                        ]
                    })
                    .collect(),
            )
        }
    })
}

/// The header and rows as CSV text, or why it could not be written.
fn csv_text<const N: usize>(header: [&str; N], rows: Vec<[String; N]>) -> Result<String, String> {
    let failed = |error: &dyn std::fmt::Display| format!("cannot write the CSV: {error}");
    let mut writer = csv::Writer::from_writer(Vec::new());
    std::iter::once(header.map(String::from))
        .chain(rows)
        .try_for_each(|record| writer.write_record(record))
        .map_err(|error| failed(&error))?;
    let bytes = writer.into_inner().map_err(|error| failed(error.error()))?;
    String::from_utf8(bytes).map_err(|error| failed(&error))
}

fn view_name(view: ExportView) -> &'static str {
    match view {
        ExportView::Apps => "apps",
        ExportView::Domains => "domains",
        ExportView::Timeline => "timeline",
    }
}

fn file_name(what: &str, range: Range, format: ExportFormat) -> String {
    let extension = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Json => "json",
    };
    format!(
        "netmon-{what}-{}-{}.{extension}",
        range.start_ms, range.end_ms
    )
}

fn attachment(filename: &str) -> String {
    format!("attachment; filename=\"{filename}\"")
}

impl IntoResponse for UsageExport {
    fn into_response(self) -> Response {
        match self {
            UsageExport::File {
                format,
                filename,
                body,
            } => Response::builder()
                .status(StatusCode::OK)
                .content_type(match format {
                    ExportFormat::Csv => CSV_TYPE,
                    ExportFormat::Json => JSON_TYPE,
                })
                .header(header::CONTENT_DISPOSITION, attachment(&filename))
                .body(body),
            UsageExport::Refused(refused) => refused.into_response(),
        }
    }
}

impl ApiResponse for UsageExport {
    fn meta() -> MetaResponses {
        let file = MetaResponse {
            description: "The rows as a CSV file (a header line, then one line per row) or a JSON array, as `format` asks.",
            status: Some(200),
            status_range: None,
            content: vec![
                MetaMediaType {
                    content_type: CSV_TYPE,
                    schema: String::schema_ref(),
                },
                MetaMediaType {
                    content_type: JSON_TYPE,
                    schema: <Vec<UsageRow>>::schema_ref(),
                },
            ],
            headers: vec![MetaHeader {
                name: "Content-Disposition".into(),
                description: Some("`attachment; filename=\"…\"`.".into()),
                required: true,
                deprecated: false,
                schema: String::schema_ref(),
            }],
        };
        MetaResponses {
            responses: std::iter::once(file)
                .chain(ExportRefused::meta().responses)
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        <Vec<UsageRow>>::register(registry);
        ExportRefused::register(registry);
    }
}
