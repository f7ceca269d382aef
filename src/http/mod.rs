//! `jobctl serve`: the control API, its live event stream, metrics and the web console, over
//! the same engine as the command line (api.md). Handlers open an engine per request, call
//! the engine's use-cases and serialize its views; there is no SQL here. The server never
//! runs jobs itself: forcing a job starts a detached supervisor as the tick does.
//!
//! Nothing of this module is touched by the other commands: the tick's start-up never pays
//! for the server.

mod agents;
pub(crate) mod auth;
mod connections;
mod console;
mod control;
mod error;
mod extract;
mod idempotency;
mod jobs;
mod jwt;
mod log;
mod mcp;
mod metrics;
mod openapi;
mod reach;
mod rerun;
mod routes;
mod runs;
mod stream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use tokio::sync::{broadcast, watch};

use crate::config::Config;
use crate::core::error::{Error, Result};
use crate::engine::{Connections, Engine};
use crate::store::Event;
use auth::{Claims, KeyFile, Need};
pub(crate) use error::ApiError;
pub use routes::API_ROUTES;

/// The OpenAPI document of the API, as `GET /api/v1/openapi.json` serves it.
pub fn openapi_document() -> serde_json::Value {
    openapi::generate()
}

/// Where and how to serve.
pub(crate) struct ServeOptions {
    pub(crate) config: PathBuf,
    pub(crate) listen: SocketAddr,
    pub(crate) socket: Option<PathBuf>,
    /// The most connections open at once (`--max-connections`).
    pub(crate) max_connections: usize,
    /// `--schedule`: also run the scheduler's loop, logging as this says.
    pub(crate) schedule: Option<crate::scheduler::Log>,
}

pub(crate) use connections::MAX_CONNECTIONS;

/// What every request shares.
pub(crate) struct AppState {
    config_path: PathBuf,
    config: RwLock<Arc<Config>>,
    /// Why the config file could not be loaded again, while the previous one is kept.
    config_error: RwLock<Option<String>>,
    key: KeyFile,
    /// Every new event of the event log, as it is committed.
    events: broadcast::Sender<Arc<Event>>,
    /// Set when the server is shutting down: open streams end.
    shutdown: watch::Receiver<bool>,
    /// One per Idempotency-Key, held while a request with it acts and stores its answer.
    idempotent: idempotency::KeyLocks,
    /// Connections kept between requests (a PostgreSQL state's).
    conns: Connections,
}

pub(crate) type Shared = Arc<AppState>;

impl AppState {
    pub(crate) fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub(crate) fn config_error(&self) -> Option<String> {
        self.config_error.read().ok().and_then(|e| e.clone())
    }

    /// The config and the kept connections, for a thread that opens an engine of its own.
    pub(crate) fn for_engine(&self) -> (Arc<Config>, Connections) {
        (self.config(), self.conns.clone())
    }

    /// Runs `f` on an engine over the state, off the async threads (the store is
    /// blocking).
    pub(crate) async fn engine<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine<'_>) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, ApiError> {
        let (cfg, conns) = self.for_engine();
        tokio::task::spawn_blocking(move || {
            let mut e = Engine::open_reusing(&cfg, &conns)?;
            f(&mut e)
        })
        .await
        .map_err(|e| ApiError::from(Error::Internal(anyhow::anyhow!("a request failed: {e}"))))?
        .map_err(ApiError::from)
    }

    /// The claims of the request's bearer token, if it allows `need`: 401 without a valid
    /// token, 403 with one that can't do this.
    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        need: Need,
    ) -> std::result::Result<Claims, ApiError> {
        let claims = self
            .key
            .key()
            .verify(bearer(headers)?)
            .map_err(ApiError::unauthorized)?;
        if !claims.allows(need) {
            return Err(ApiError::forbidden(format!(
                "the token of {} can't do this: it needs the scope {}",
                claims.sub,
                match need {
                    Need::Read => auth::READ,
                    Need::Write => auth::WRITE,
                }
            )));
        }
        Ok(claims)
    }
}

/// The bearer token of a request.
fn bearer(headers: &HeaderMap) -> std::result::Result<&str, ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "no token: send Authorization: Bearer TOKEN (jobctl token create)",
        ));
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("the Authorization header is not Bearer TOKEN"))
}

/// Serves until SIGTERM or SIGINT; open answers are ended, then exit 0.
pub(crate) fn serve(opts: ServeOptions) -> Result<u8> {
    // Taken before the load: a change made while the server starts is seen as a change.
    let stamp = config_stamp(&opts.config);
    let cfg = crate::config::load_file(&opts.config)?;
    // The first open brings a PostgreSQL state's schema up to date: the connections kept
    // between requests take that as done.
    let state_dir = Engine::open(&cfg)?.state_dir().to_path_buf();
    let conns = Connections::for_config(&cfg);
    let key = KeyFile::open(&state_dir)?;
    let timeouts = connections::Timeouts::from_env()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("can't start the server: {e}")))?;
    let served = rt.block_on(run(opts, cfg, stamp, key, conns, timeouts));
    // What still runs on a blocking thread (a request cut off at shutdown) is not waited
    // for: the stop stays within its 2 s.
    rt.shutdown_timeout(Duration::from_millis(100));
    served
}

async fn run(
    opts: ServeOptions,
    cfg: Config,
    stamp: Option<Stamp>,
    key: KeyFile,
    conns: Connections,
    timeouts: connections::Timeouts,
) -> Result<u8> {
    let (events, _) = broadcast::channel(4096);
    let (stop, shutdown) = watch::channel(false);
    let state = Arc::new(AppState {
        config_path: opts.config.clone(),
        config: RwLock::new(Arc::new(cfg)),
        config_error: RwLock::new(None),
        key,
        events,
        shutdown,
        idempotent: idempotency::KeyLocks::default(),
        conns,
    });
    tokio::spawn(stream::follow_event_log(state.clone()));
    tokio::spawn(watch_config(state.clone(), stamp));
    let app = routes::router(state.clone())
        .merge(mcp::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            timeouts,
            connections::body_deadline,
        ));
    let max = connections::connection_cap(opts.max_connections);
    let stop_signal = stop_signals()?;
    let schedule = opts
        .schedule
        .map(|log| crate::scheduler::spawn_beside(opts.config.clone(), log));
    let stopping = async move {
        stop_signal.await;
        let _ = stop.send(true);
        if let Some(s) = schedule {
            s.stop();
        }
    };
    match &opts.socket {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            let listener = tokio::net::UnixListener::bind(path)
                .map_err(|e| Error::Failed(format!("can't listen on {}: {e}", path.display())))?;
            tracing::info!("serving on unix socket {}", path.display());
            connections::serve(listener, app, timeouts, max, stopping).await;
        }
        None => {
            let listener = tokio::net::TcpListener::bind(opts.listen)
                .await
                .map_err(|e| Error::Failed(format!("can't listen on {}: {e}", opts.listen)))?;
            let addr = listener.local_addr().unwrap_or(opts.listen);
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    "serving on {addr}, beyond this machine, without TLS: put a TLS proxy in front"
                );
            }
            // The address, for whoever started the server on port 0.
            eprintln!("jobctl: serving on http://{addr}");
            connections::serve(listener, app, timeouts, max, stopping).await;
        }
    }
    Ok(0)
}

/// SIGTERM or SIGINT. The handlers are in place when this returns, before the server says
/// it listens: a stop sent the moment it does is a graceful stop, not a kill.
fn stop_signals() -> Result<impl std::future::Future<Output = ()>> {
    use crate::exec::signal::{Event, Handler, Listen};
    let mut events = Handler::install(Listen::Server).map_err(Error::Internal)?;
    Ok(async move { while !matches!(events.recv().await, Event::Stop(_)) {} })
}

/// What tells one version of the config file from the next.
type Stamp = (u64, SystemTime, u64, i64, i64);

fn config_stamp(p: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| {
        let modified = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        (m.len(), modified, m.ino(), m.ctime(), m.ctime_nsec())
    })
}

/// Loads the config again when its file changes; an invalid one keeps the previous and is
/// reported in `/api/v1/status`.
async fn watch_config(state: Shared, mut last: Option<Stamp>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = config_stamp(&state.config_path);
        if now == last {
            continue;
        }
        last = now;
        let path = state.config_path.clone();
        let loaded = tokio::task::spawn_blocking(move || crate::config::load_file(&path)).await;
        match loaded {
            Ok(Ok(cfg)) => {
                if let Ok(mut c) = state.config.write() {
                    *c = Arc::new(cfg);
                }
                if let Ok(mut e) = state.config_error.write() {
                    *e = None;
                }
                tracing::info!("config reloaded");
            }
            Ok(Err(err)) => {
                tracing::warn!("the config is invalid; keeping the previous one: {err}");
                if let Ok(mut e) = state.config_error.write() {
                    *e = Some(err.to_string());
                }
            }
            Err(_) => {}
        }
    }
}
