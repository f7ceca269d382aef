//! `GET /api/v1/runs/{id}/log`: a slice of a run's output (its tail, or from a position),
//! or with `follow=true` the output as it grows, streamed until the run ends, so a page
//! showing a live log never polls. The log is read by output position (`exec::logfile`):
//! a follower gets each byte once and in order while the supervisor frees or compacts it.
//! Where the store keeps logs (several hosts), from the store: the same answers. A
//! followed log is the engine's follower (`engine::logfollow`) on a thread of its own,
//! feeding the answer's body; it ends when the server stops, as event streams do.

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
use super::runs::visible_run;
use super::{ApiError, Shared};
use crate::core::error::Error;
use crate::core::run::RunRecord;
use crate::engine::Engine;
use crate::engine::logfollow::{LogFollower, LogSink, Reading, Start};
use crate::exec::logfile::{Chunk, LogReader};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogParams {
    /// The last this many bytes of output.
    pub(crate) tail: Option<u64>,
    /// Output from this position (`X-Log-Next` of the previous answer).
    pub(crate) offset: Option<u64>,
    /// Keep the answer open and send output as it comes, until the run ends.
    pub(crate) follow: Option<bool>,
}

/// The most one answer carries without `follow`; `X-Log-Next` says where to go on.
const LOG_PIECE: usize = 1 << 20;
/// How much is read at a time.
const READ: usize = 64 << 10;
/// How often a follower looks for more output and for the end of the run.
const FOLLOW_EVERY: Duration = Duration::from_millis(100);
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
pub(crate) async fn run_log(
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
    let follow = p.follow == Some(true);
    let start = match (p.tail, p.offset) {
        (Some(t), _) => Start::LastBytes(t),
        (None, Some(o)) => Start::At(o),
        (None, None) => Start::Beginning,
    };
    if state.engine(|e| Ok(e.store.keeps_logs())).await? {
        if follow {
            return Ok(followed(&state, run, start));
        }
        return stored_slice(&state, id, &p).await;
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
    if follow {
        return Ok(followed(&state, run, start));
    }
    let text = [(header::CONTENT_TYPE, TEXT)];
    let Some(reader) = reader else {
        let from = p.offset.or(p.tail.map(|_| 0));
        return Ok((text, [("x-log-next", from.unwrap_or(0).to_string())], "").into_response());
    };
    let from = start_of(&reader, &p)?;
    let (out, next) = tokio::task::spawn_blocking(move || slice(&reader, from, running))
        .await
        .map_err(|e| ApiError::from(Error::internal(anyhow::anyhow!("{e}"))))??;
    Ok((text, [("x-log-next", next.to_string())], out).into_response())
}

const TEXT: &str = "text/plain; charset=utf-8";

/// A slice of a log kept in the store: from the position asked for (or the last bytes),
/// up to `LOG_PIECE`, in one visit.
async fn stored_slice(state: &Shared, id: i64, p: &LogParams) -> Result<Response, ApiError> {
    let (tail, offset) = (p.tail, p.offset);
    let piece = state
        .engine(move |e| {
            let from = match (tail, offset) {
                (Some(t), _) => e.store.read_log(id, 0, 0)?.end.saturating_sub(t),
                (None, Some(o)) => o,
                (None, None) => 0,
            };
            e.store.read_log(id, from, LOG_PIECE)
        })
        .await?;
    let text = [(header::CONTENT_TYPE, TEXT)];
    Ok((text, [("x-log-next", piece.next.to_string())], piece.data).into_response())
}

/// The answer that streams `run`'s log from `start` as it comes: the engine's follower on
/// a thread of its own, until the run has ended, the client goes, or the server stops.
fn followed(state: &Shared, run: RunRecord, start: Start) -> Response {
    let (mut out, body) = Follower::open(state);
    let (cfg, conns) = state.for_engine();
    std::thread::spawn(move || {
        let how = Reading {
            start,
            follow: true,
            piece: READ,
            poll: FOLLOW_EVERY,
            // A failed look at the run ends the answer, as its end would.
            ended_on_error: true,
        };
        let done = Engine::open_reusing(&cfg, &conns)
            .and_then(|mut e| LogFollower::open(&mut e, &run, how)?.run(&mut out));
        if let Err(e) = done {
            tracing::warn!("can't follow the log of run {}: {e}", run.id);
        }
    });
    let text = [(header::CONTENT_TYPE, TEXT)];
    (text, [("x-accel-buffering", "no")], body).into_response()
}

/// Where a followed log goes (from a thread of its own), and whether it still should: the
/// async end of the engine's follower.
struct Follower {
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    stop: watch::Receiver<bool>,
}

impl Follower {
    /// A follower, and the body of the answer it feeds.
    fn open(state: &Shared) -> (Follower, Body) {
        let (tx, rx) = mpsc::channel(8);
        let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
        let stop = state.shutdown.clone();
        (Follower { tx, stop }, body)
    }
}

impl LogSink for Follower {
    /// Sends a piece of output; `false` once the client is gone.
    fn output(&mut self, data: &[u8], _at: Option<u64>) -> bool {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(data)))
            .is_ok()
    }

    /// The client went, or the server stops (its answers end within 2 s).
    fn stopped(&self) -> bool {
        self.tx.is_closed() || *self.stop.borrow()
    }
}

/// Where a slice starts: `None` is the start of the file (a trimmed log's header line
/// first).
fn start_of(r: &LogReader, p: &LogParams) -> Result<Option<u64>, ApiError> {
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
