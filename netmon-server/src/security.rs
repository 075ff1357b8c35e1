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
//! Everything refused gets 403 with a sentence saying why.

use poem::http::{header, Method, StatusCode};
use poem::{Endpoint, Middleware, Request, Response, Result};

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

    /// Why a request is refused, or `None` when it may pass.
    pub fn refusal(&self, request: &Request) -> Option<String> {
        let host = header_text(request, header::HOST.as_str());
        if !host.is_some_and(|host| self.hosts.iter().any(|known| known == host)) {
            return Some(format!(
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
                return Some(format!(
                    "refused: requests from {origin} may not change netmon"
                ));
            }
        }
        let content_type = header_text(request, header::CONTENT_TYPE.as_str()).unwrap_or("");
        if !content_type.starts_with("application/json") {
            return Some("refused: changes must be sent as application/json".into());
        }
        None
    }

    fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|own| own == origin)
            || EXTENSION_SCHEMES
                .iter()
                .any(|scheme| origin.starts_with(scheme))
    }
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

    async fn call(&self, request: Request) -> Result<Self::Output> {
        match self.gate.refusal(&request) {
            Some(reason) => {
                tracing::warn!(method = %request.method(), uri = %request.uri(), %reason, "request refused");
                Ok(Response::builder()
                    .status(StatusCode::FORBIDDEN)
                    .content_type("text/plain; charset=utf-8")
                    .body(reason))
            }
            None => self
                .inner
                .call(request)
                .await
                .map(poem::IntoResponse::into_response),
        }
    }
}
