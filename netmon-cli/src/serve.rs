//! The web server inside `netmon run`: its own small tokio runtime on a background thread,
//! bound before capture starts so a taken port is reported at once.

use std::sync::Arc;
use std::thread::JoinHandle;

use netmon_core::live::LiveConfig;
use netmon_core::store::Store;
use netmon_core::Paths;
use netmon_server::{AppState, ServerError};
use tokio::sync::Notify;

/// The running server; [`Server::stop`] shuts it down gracefully.
pub struct Server {
    pub state: AppState,
    shutdown: Arc<Notify>,
    thread: JoinHandle<()>,
}

impl Server {
    /// Binds 127.0.0.1:`web_server_port` and starts serving `config` (the daemon's live
    /// configuration); the monitor pauses through `paused`.
    pub fn start(
        paths: Paths,
        config: LiveConfig,
        paused: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<Self, ServerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("netmon-web")
            .enable_all()
            .build()
            .map_err(ServerError::Serve)?;
        let port = config.current().web_server_port;
        let bound = runtime.block_on(netmon_server::bind(port))?;
        // The API reads history through a connection of its own (WAL lets it read while the
        // capture loop writes).
        let store = Store::open(&paths.database())
            .map_err(|error| {
                tracing::error!(%error, "the API serves no history: cannot open the database")
            })
            .ok();
        let state = AppState::sharing(paths, config, paused, store);
        let shutdown = Arc::new(Notify::new());
        let thread = {
            let (state, shutdown) = (state.clone(), Arc::clone(&shutdown));
            std::thread::spawn(move || {
                let served = runtime.block_on(bound.serve(state, async move {
                    shutdown.notified().await;
                }));
                if let Err(error) = served {
                    tracing::error!(%error, "web server stopped");
                }
            })
        };
        Ok(Self {
            state,
            shutdown,
            thread,
        })
    }

    /// Stops accepting requests and waits for the server thread.
    pub fn stop(self) {
        self.shutdown.notify_one();
        if self.thread.join().is_err() {
            tracing::error!("web server thread panicked");
        }
    }
}
