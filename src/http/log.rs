//! `GET /api/v1/runs/{id}/log`: a slice of a run's output (its tail, or from a position),
//! or with `follow=true` the output as it grows, streamed until the run ends, so a page
//! showing a live log never polls. The log is read by output position (`exec::logfile`):
//! a follower gets each byte once and in order while the supervisor frees or compacts it.
//! A followed log ends when the server stops, as event streams do.

use std::convert::Infallible;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use utoipa::IntoParams;

use super::auth::Need;
use super::error::ErrorDoc;
use super::extract::{ApiPath, ApiQuery};
use super::routes::visible_run;
use super::{ApiError, Shared};
use crate::core::error::Error;
use crate::exec::logfile::{Chunk, LogReader};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// The last this many bytes of output.
    pub tail: Option<u64>,
    /// Output from this position (`X-Log-Next` of the previous answer).
    pub offset: Option<u64>,
    /// Keep the answer open and send output as it comes, until the run ends.
    pub follow: Option<bool>,
}

/// The most one answer carries without `follow`; `X-Log-Next` says where to go on.
pub(super) const LOG_PIECE: usize = 1 << 20;
/// How much is read at a time.
pub(super) const READ: usize = 64 << 10;
/// How often a follower looks for more output and for the end of the run.
pub(super) const FOLLOW_EVERY: Duration = Duration::from_millis(100);
/// How often it looks while the supervisor compacts the log.
const BUSY_EVERY: Duration = Duration::from_millis(10);

#[utoipa::path(
    get, path = "/api/v1/runs/{id}/log",
    params(("id" = i64, Path), LogParams),
    responses(
        (status = 200, description = "text/plain output; X-Log-Next: the position after it (without follow)", content_type = "text/plain"),
        (status = 404, body = ErrorDoc),
    ),
    security(("bearer" = []))
)]
pub async fn run_log(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<LogParams>,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Read)?;
    if p.tail.is_some() && p.offset.is_some() {
        return Err(ApiError::bad_request("give tail or offset, not both"));
    }
    let run = visible_run(&state, &claims, id).await?;
    if state.engine(|e| Ok(e.store.keeps_logs())).await? {
        return super::log_store::answer(&state, id, &p).await;
    }
    let path = run.log_path.clone().unwrap_or_default();
    let running = !run.status.is_end();
    // A run just started may not have its log yet: it is empty until it does.
    let reader = match LogReader::open(Path::new(&path)) {
        Ok(r) => Some(r),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && running => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found("the run has no stored output"));
        }
        Err(e) => return Err(ApiError::from(Error::from(e))),
    };
    let from = match &reader {
        Some(r) => start(r, &p)?,
        None => p.offset.or(p.tail.map(|_| 0)),
    };
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    if p.follow == Some(true) {
        let (out, body) = Follower::open(&state);
        let (cfg, conns) = state.for_engine();
        std::thread::spawn(move || follow(&cfg, &conns, id, &path, reader, from, &out));
        return Ok((text, [("x-accel-buffering", "no")], body).into_response());
    }
    let Some(reader) = reader else {
        return Ok((text, [("x-log-next", from.unwrap_or(0).to_string())], "").into_response());
    };
    let (out, next) = tokio::task::spawn_blocking(move || slice(&reader, from, running))
        .await
        .map_err(|e| ApiError::from(Error::internal(anyhow::anyhow!("{e}"))))??;
    Ok((text, [("x-log-next", next.to_string())], out).into_response())
}

/// Where a followed log goes (from a thread of its own), and whether it still should.
pub(super) struct Follower {
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    stop: watch::Receiver<bool>,
}

impl Follower {
    /// A follower, and the body of the answer it feeds.
    pub(super) fn open(state: &Shared) -> (Follower, Body) {
        let (tx, rx) = mpsc::channel(8);
        let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
        let stop = state.shutdown.clone();
        (Follower { tx, stop }, body)
    }

    /// Sends a piece of output; `false` once the client is gone.
    pub(super) fn send(&self, piece: Bytes) -> bool {
        self.tx.blocking_send(Ok(piece)).is_ok()
    }

    /// The client went, or the server stops (its answers end within 2 s).
    pub(super) fn done(&self) -> bool {
        self.tx.is_closed() || *self.stop.borrow()
    }
}

/// Where the answer starts: `None` is the start of the file (a trimmed log's header line
/// first).
fn start(r: &LogReader, p: &LogParams) -> Result<Option<u64>, ApiError> {
    let io = |e: std::io::Error| ApiError::from(Error::from(e));
    Ok(match (p.tail, p.offset) {
        (Some(t), _) => Some(r.end().map_err(io)?.saturating_sub(t)),
        (None, Some(o)) => Some(o),
        (None, None) => None,
    })
}

/// Up to `LOG_PIECE` bytes of output from `from`, and the position after them.
fn slice(r: &LogReader, mut from: Option<u64>, running: bool) -> Result<(Vec<u8>, u64), ApiError> {
    let io = |e: std::io::Error| ApiError::from(Error::from(e));
    let mut out = Vec::new();
    let mut buf = vec![0u8; READ];
    let deadline = Instant::now() + Duration::from_secs(1);
    while out.len() < LOG_PIECE {
        // A supervisor that keeps compacting past the deadline is taken as settled.
        let settle = !running || Instant::now() > deadline;
        match r.read(from, settle, &mut buf).map_err(io)? {
            Chunk::Data { len, next } => {
                out.extend_from_slice(&buf[..len]);
                from = Some(next);
            }
            Chunk::End => break,
            Chunk::Busy => std::thread::sleep(BUSY_EVERY),
        }
    }
    let next = match from {
        Some(n) => n,
        None => r.end().map_err(io)?,
    };
    Ok((out, next))
}

/// Sends the output from `from` as it comes until the run has ended (then one last read:
/// the supervisor trims the log before it records the end), the client goes, or the
/// server stops.
fn follow(
    cfg: &crate::config::Config,
    conns: &crate::engine::Connections,
    run: i64,
    path: &str,
    mut reader: Option<LogReader>,
    mut from: Option<u64>,
    out: &Follower,
) {
    let mut engine = match crate::engine::Engine::open_reusing(cfg, conns) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("can't follow the log of run {run}: {e}");
            return;
        }
    };
    let mut running = true;
    let mut buf = vec![0u8; READ];
    loop {
        if reader.is_none() {
            reader = LogReader::open(Path::new(path)).ok();
        }
        while let Some(r) = &reader {
            match r.read(from, !running, &mut buf) {
                Ok(Chunk::Data { len, next }) => {
                    if !out.send(Bytes::copy_from_slice(&buf[..len])) {
                        return;
                    }
                    from = Some(next);
                }
                Ok(Chunk::End) => break,
                Ok(Chunk::Busy) => std::thread::sleep(BUSY_EVERY),
                Err(e) => {
                    tracing::warn!("reading the log of run {run}: {e}");
                    return;
                }
            }
        }
        if !running || out.done() {
            return;
        }
        // Closing the run as lost if its supervisor vanished, as `logs -f` does.
        let ended = engine
            .recover()
            .and_then(|_| engine.store.get_run(run))
            .map(|r| r.is_none_or(|r| r.status.is_end()))
            .unwrap_or(true);
        if ended {
            running = false; // one last read, settled
        } else {
            std::thread::sleep(FOLLOW_EVERY);
        }
    }
}
