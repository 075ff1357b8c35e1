//! Exports under `/api/export`: every stored usage row of a range as CSV or JSON, streamed
//! while the database is read (a year of history never sits in memory), and the apps, domains
//! and timeline views as CSV. The files are core's one export (`history::export`: format,
//! columns), the same `netmon export` writes; this module gives it a sink and a response.

use std::io::{self, Write};

use netmon_core::history::export::{self, Export, Format, Table, UsageRecord};
use netmon_core::store::Store;
use poem::http::{header, StatusCode};
use poem::{Body, IntoResponse, Response};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Enum, OpenApi};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::common::{checked_limit, resolve_range, Problems, Tag};
use crate::state::AppState;

/// Bytes gathered before a piece of the body is handed to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Pieces queued ahead of a slow client; the database read waits beyond that.
const CHUNKS_AHEAD: usize = 8;
const CSV_TYPE: &str = "text/csv; charset=utf-8";
const JSON_TYPE: &str = "application/json; charset=utf-8";
/// A view of the history that can be exported as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub(crate) enum ExportView {
    Apps,
    Domains,
    Timeline,
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
        format: Format,
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
        format: Query<Option<Format>>,
        range: Query<Option<String>>,
        start_ms: Query<Option<i64>>,
        end_ms: Query<Option<i64>>,
    ) -> UsageExport {
        let format = format.0.unwrap_or(Format::Csv);
        let range = match resolve_range(range.0.as_deref(), start_ms.0, end_ms.0) {
            Ok(range) => range,
            Err(problems) => {
                return UsageExport::Refused(ExportRefused::Invalid(Json(Problems { problems })))
            }
        };
        match self.open_reader().await {
            Ok(store) => {
                let export = Export {
                    table: Table::Usage,
                    format,
                    range,
                    limit: usize::MAX,
                };
                UsageExport::File {
                    format,
                    filename: export.file_name(),
                    body: stream_usage(store, export),
                }
            }
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
        let export = Export {
            table: match view.0 {
                ExportView::Apps => Table::Apps,
                ExportView::Domains => Table::Domains,
                ExportView::Timeline => Table::Timeline,
            },
            format: Format::Csv,
            range,
            limit: limit as usize,
        };
        let answer = self.state.with_history(|store| {
            let mut csv = Vec::new();
            export::write(store, &export, &mut csv, |_, _| {})
                .map(|_| String::from_utf8_lossy(&csv).into_owned())
        });
        let unavailable = |problem: String| {
            ViewExport::Unavailable(Json(Problems {
                problems: vec![problem],
            }))
        };
        match answer {
            Some(Ok(csv)) => ViewExport::Csv(PlainText(csv), attachment(&export.file_name())),
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
fn stream_usage(store: Store, export: Export) -> Body {
    let (sender, receiver) = mpsc::channel(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let failed = sender.clone();
        let mut sink = ChunkSink::new(sender);
        let written = export::write(&store, &export, &mut sink, |_, _| {})
            .map_err(|error| match error {
                export::ExportError::Write(error) => error,
                other => io::Error::other(other),
            })
            .and_then(|_| sink.finish());
        if let Err(error) = written {
            if error.kind() != io::ErrorKind::BrokenPipe {
                tracing::error!(%error, "export failed");
                let _ = failed.blocking_send(Err(error));
            }
        }
    });
    Body::from_bytes_stream(ReceiverStream::new(receiver))
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
                    Format::Csv => CSV_TYPE,
                    Format::Json => JSON_TYPE,
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
                    schema: <Vec<UsageRecord>>::schema_ref(),
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
        <Vec<UsageRecord>>::register(registry);
        ExportRefused::register(registry);
    }
}
