//! netmon-server: the local HTTP API (JSON, OpenAPI document, Swagger UI, Server-Sent Events).
//!
//! It binds 127.0.0.1 only, and [`security::LocalOnly`] refuses requests that a web page could
//! forge (foreign Host headers, foreign origins), so no website can read from or write to it.
//! The API reads [`state::AppState`]; `netmon run` feeds that state with every sample.

mod api;
pub mod metrics;
mod openapi;
pub mod security;
pub mod state;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use netmon_core::logging;
use poem::endpoint::EmbeddedFilesEndpoint;
use poem::listener::{Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApi, OpenApiService};

pub use api::range_at;
pub use state::AppState;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("port {port} on 127.0.0.1 is already in use (is netmon already running?); stop the other program or set web_server_port in config.json to another port from 7000 to 7999")]
    PortInUse { port: u16 },
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: io::Error },
    #[error("the web server failed: {0}")]
    Serve(io::Error),
}

/// How long open requests may finish after shutdown starts; then they are closed (live event
/// streams never finish by themselves).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The only address the server listens on: loopback, never another interface.
pub fn local_address(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// The dashboard (`web/`), embedded in the binary.
#[derive(rust_embed::RustEmbed)]
#[folder = "../web/"]
#[exclude = "test/*"]
#[exclude = "build/*"]
struct Dashboard;

/// The whole application: the dashboard, `/api/…`, the OpenAPI document, Swagger UI, behind the
/// security gate.
pub fn app(state: AppState) -> impl Endpoint {
    let port = state.port();
    let metrics = metrics_endpoint(state.clone());
    let docs = swagger_ui(api_service(state.clone()));
    let api = api_service(state);
    let document = openapi::document(&api.spec());
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(document.clone())
    });
    Route::new()
        .nest("/", EmbeddedFilesEndpoint::<Dashboard>::new())
        .nest("/api", api)
        .at("/api/openapi.json", spec)
        .nest("/docs", docs)
        .at("/metrics", poem::get(metrics))
        .with(security::LocalOnly::new(port))
        .around(access_log)
}

/// The operations under `/api`, described for OpenAPI.
fn api_service(state: AppState) -> OpenApiService<impl OpenApi + Send + Sync + 'static, ()> {
    let port = state.port();
    OpenApiService::new(api::all(state), "netmon", env!("CARGO_PKG_VERSION"))
        .description("The local API of netmon: what the dashboard, menubar, CLI and browser extension speak.")
        .server(format!("http://127.0.0.1:{port}/api"))
}

/// Swagger UI (`/docs`), its page made for each request: the page carries a 1.6 MB script,
/// which poem-openapi's own endpoint copies onto the heap at start, so a netmon nobody reads the
/// docs of held it (and the script's pages of the executable) resident all along (3 MB).
fn swagger_ui(api: OpenApiService<impl OpenApi + Send + Sync + 'static, ()>) -> impl Endpoint {
    Route::new().at(
        "/",
        poem::endpoint::make_sync(move |_| poem::web::Html(api.swagger_ui_html())),
    )
}

/// `GET /metrics`: the OpenMetrics text while `metrics_enabled`, else 404 saying how to turn
/// it on.
fn metrics_endpoint(state: AppState) -> impl Endpoint {
    poem::endpoint::make_sync(move |_| {
        if !state.config().metrics_enabled {
            return poem::Response::builder()
                .status(poem::http::StatusCode::NOT_FOUND)
                .content_type("text/plain; charset=utf-8")
                .body("metrics are off: set metrics_enabled to true (netmon config set metrics_enabled true)");
        }
        poem::Response::builder()
            .content_type(metrics::CONTENT_TYPE)
            .body(metrics::exposition(&state.metrics()))
    })
}

/// Logs every request to `logs/webserver.log`: method, path (never the query), status and time
/// taken; refused requests included.
async fn access_log<E: Endpoint>(
    next: std::sync::Arc<E>,
    request: poem::Request,
) -> poem::Result<poem::Response> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = std::time::Instant::now();
    let result = next
        .call(request)
        .await
        .map(poem::IntoResponse::into_response);
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.status(),
    };
    let ms = started.elapsed().as_millis() as u64;
    if status.is_server_error() {
        tracing::error!(target: logging::WEBSERVER, %method, path, status = status.as_u16(), ms, "request failed");
    } else {
        tracing::info!(target: logging::WEBSERVER, %method, path, status = status.as_u16(), ms, "request");
    }
    result
}

/// A listening socket on 127.0.0.1, ready to serve.
pub struct Bound {
    acceptor: TcpAcceptor,
    port: u16,
}

/// Listens on 127.0.0.1:`port` (and nowhere else).
pub async fn bind(port: u16) -> Result<Bound, ServerError> {
    let acceptor = TcpListener::bind(local_address(port))
        .into_acceptor()
        .await
        .map_err(|source| match source.kind() {
            io::ErrorKind::AddrInUse => ServerError::PortInUse { port },
            _ => ServerError::Listen { port, source },
        })?;
    Ok(Bound { acceptor, port })
}

impl Bound {
    /// Serves the application until `shutdown` completes.
    pub async fn serve(
        self,
        state: AppState,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let port = self.port;
        tracing::info!(%port, "web server listening on http://127.0.0.1:{port}");
        poem::Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app(state), shutdown, Some(SHUTDOWN_GRACE))
            .await
            .map_err(ServerError::Serve)
    }
}

/// Binds the configured port and serves until `shutdown` completes.
pub async fn serve(
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    bind(state.port()).await?.serve(state, shutdown).await
}
