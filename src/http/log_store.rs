//! A run's output where the store keeps it (a state several hosts share: the run may have
//! run on another host, whose state directory is not here). The same answers as from a
//! log file: a slice by output position, or followed until the run ends.

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::log::{FOLLOW_EVERY, Follower, LOG_PIECE, LogParams, READ};
use super::{ApiError, Shared};
use crate::config::Config;
use crate::engine::{Connections, Engine};

/// The answer to `GET /runs/{id}/log` from the store.
pub async fn answer(state: &Shared, id: i64, p: &LogParams) -> Result<Response, ApiError> {
    let (tail, offset, follow) = (p.tail, p.offset, p.follow == Some(true));
    // Where to start, and (without `follow`) the slice from there, in one visit.
    let (from, piece) = state
        .engine(move |e| {
            let from = match (tail, offset) {
                (Some(t), _) => e.store.read_log(id, 0, 0)?.end.saturating_sub(t),
                (None, Some(o)) => o,
                (None, None) => 0,
            };
            let piece = (!follow)
                .then(|| e.store.read_log(id, from, LOG_PIECE))
                .transpose()?;
            Ok((from, piece))
        })
        .await?;
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    let Some(piece) = piece else {
        let (out, body) = Follower::open(state);
        let (cfg, conns) = state.for_engine();
        std::thread::spawn(move || follow_log(&cfg, &conns, id, from, &out));
        return Ok((text, [("x-accel-buffering", "no")], body).into_response());
    };
    Ok((text, [("x-log-next", piece.next.to_string())], piece.data).into_response())
}

/// Sends the output from `from` as it comes until the run has ended (then what is left),
/// the client goes, or the server stops.
fn follow_log(cfg: &Config, conns: &Connections, run: i64, mut from: u64, out: &Follower) {
    let mut e = match Engine::open_reusing(cfg, conns) {
        Ok(e) => e,
        Err(err) => {
            tracing::warn!("can't follow the log of run {run}: {err}");
            return;
        }
    };
    let mut running = true;
    loop {
        match e.store.read_log(run, from, READ) {
            Ok(piece) if !piece.data.is_empty() => {
                from = piece.next;
                if !out.send(Bytes::from(piece.data)) {
                    return;
                }
                continue;
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!("reading the log of run {run}: {err}");
                return;
            }
        }
        if !running || out.done() {
            return;
        }
        // The supervisor copies the last output in before it records the end: once the
        // end is seen, one more read has all of it.
        running = e
            .recover()
            .and_then(|_| e.store.get_run(run))
            .map(|r| r.is_some_and(|r| !r.status.is_end()))
            .unwrap_or(false);
        if running {
            std::thread::sleep(FOLLOW_EVERY);
        }
    }
}
