//! The security gate in front of every route.
//!
//! - **Host**: only `127.0.0.1:PORT` and `localhost:PORT` are served, so a DNS-rebinding page
//!   (its own hostname resolving to 127.0.0.1) is refused.
//! - **State-changing requests** (anything but GET, HEAD, OPTIONS) must be JSON
//!   (`Content-Type: application/json`, which a page cannot send to another origin without a
//!   CORS preflight this server never grants) and, when they carry an `Origin`, it must be the
//!   dashboard itself or a browser extension (`moz-extension://`, `chrome-extension://`).
//!   Programs (the CLI, the menubar, curl) send no Origin and are served.
//!
//! - **Bodies** of state-changing requests are read up to [`MAX_BODY_BYTES`]; a larger one
//!   (stated in Content-Length or streamed) gets 413.
//!
//! Everything refused gets its status and a sentence saying why (403 for the origin rules).

use poem::error::ReadBodyError;
use poem::http::{header, Method, StatusCode};
use poem::{Endpoint, Middleware, Request, Response, Result};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: u64 = 1 << 20;

/// Origins of browser extensions, which may write to the API.
const EXTENSION_SCHEMES: [&str; 2] = ["moz-extension://", "chrome-extension://"];

/// The middleware: see the module documentation.
#[derive(Debug, Clone)]
pub struct LocalOnly {
    hosts: [String; 2],
    origins: [String; 2],
}

impl LocalOnly {
    pub fn new(port: u16) -> Self {
        let hosts = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
        let origins = hosts.clone().map(|host| format!("http://{host}"));
        Self { hosts, origins }
    }

    /// Why a request is refused (its status and a sentence), or `None` when it may pass.
    pub fn refusal(&self, request: &Request) -> Option<(StatusCode, String)> {
        let forbidden = |reason: String| Some((StatusCode::FORBIDDEN, reason));
        let host = header_text(request, header::HOST.as_str());
        if !host.is_some_and(|host| self.hosts.iter().any(|known| known == host)) {
            return forbidden(format!(
                "refused: Host {} is not this machine's netmon (use http://{})",
                host.unwrap_or("(none)"),
                self.hosts[0]
            ));
        }
        if is_safe(request.method()) {
            return None;
        }
        if let Some(origin) = header_text(request, header::ORIGIN.as_str()) {
            if !self.allows_origin(origin) {
                return forbidden(format!(
                    "refused: requests from {origin} may not change netmon"
                ));
            }
        }
        let content_type = header_text(request, header::CONTENT_TYPE.as_str()).unwrap_or("");
        if !content_type.starts_with("application/json") {
            return forbidden("refused: changes must be sent as application/json".into());
        }
        body_refusal(request)
    }

    fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|own| own == origin)
            || EXTENSION_SCHEMES
                .iter()
                .any(|scheme| origin.starts_with(scheme))
    }
}

/// A stated body length over the limit (streamed bodies are checked while read).
fn body_refusal(request: &Request) -> Option<(StatusCode, String)> {
    header_text(request, header::CONTENT_LENGTH.as_str())
        .and_then(|length| length.parse::<u64>().ok())
        .filter(|length| *length > MAX_BODY_BYTES)
        .map(|length| too_large(&format!("{length} bytes")))
}

fn too_large(size: &str) -> (StatusCode, String) {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("refused: the body has {size}, at most {MAX_BODY_BYTES} bytes are accepted"),
    )
}

fn refuse(status: StatusCode, reason: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .body(reason)
}

fn is_safe(method: &Method) -> bool {
    [Method::GET, Method::HEAD, Method::OPTIONS].contains(method)
}

fn header_text<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

impl<E: Endpoint> Middleware<E> for LocalOnly {
    type Output = LocalOnlyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        LocalOnlyEndpoint {
            gate: self.clone(),
            inner,
        }
    }
}

/// [`LocalOnly`] wrapped around an endpoint.
pub struct LocalOnlyEndpoint<E> {
    gate: LocalOnly,
    inner: E,
}

impl<E: Endpoint> Endpoint for LocalOnlyEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut request: Request) -> Result<Self::Output> {
        if let Some((status, reason)) = self.gate.refusal(&request) {
            tracing::warn!(method = %request.method(), uri = %request.uri(), %reason, "request refused");
            return Ok(refuse(status, reason));
        }
        if !is_safe(request.method()) {
            let limit = MAX_BODY_BYTES as usize;
            match request.take_body().into_bytes_limit(limit).await {
                Ok(body) => request.set_body(body),
                Err(ReadBodyError::PayloadTooLarge) => {
                    let (status, reason) = too_large("more bytes");
                    return Ok(refuse(status, reason));
                }
                Err(error) => {
                    let reason = format!("refused: the body could not be read: {error}");
                    return Ok(refuse(StatusCode::BAD_REQUEST, reason));
                }
            }
        }
        Ok(match self.inner.call(request).await {
            Ok(response) => poem::IntoResponse::into_response(response),
            Err(error) => as_plain_text(error.into_response()),
        })
    }
}

/// Errors (unparseable parameters or bodies, unknown paths) carry a sentence: it is labelled
/// as plain text, as the OpenAPI document says.
fn as_plain_text(mut response: Response) -> Response {
    if !response.headers().contains_key(header::CONTENT_TYPE) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}
