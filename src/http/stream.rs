//! Live events over Server-Sent Events (api.md, "Live events"): every entry of the event
//! log as `id: SEQ`, `event: KIND`, `data: JSON`, in order, with no gaps and no
//! duplicates. A client reconnecting with `Last-Event-ID` gets everything after it.
//!
//! One thread follows the event log and broadcasts each new entry as it is committed. A
//! stream subscribes to that broadcast *before* it replays the log from the client's
//! position, then forwards only what is newer than the last entry it sent: nothing falls
//! between replay and live, nothing is sent twice. A client too slow for the broadcast is
//! caught up from the log again.
//!
//! A stream lives no longer than its token: it ends when the token expires or the key
//! that signed it is rotated, with a last `event: auth` saying which.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::auth::{Claims, Need};
use super::reach::Reach;
use super::{ApiError, Shared};
use crate::core::backoff::Outage;
use crate::core::run::EventKind;
use crate::engine::events::EventView;
use crate::store::{Event, Store};

/// How often the event log is looked at for new entries.
const FOLLOW_EVERY: Duration = Duration::from_millis(40);
/// Comment lines that keep idle connections (and proxies) open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Entries replayed per query.
const PAGE: usize = 500;
/// How often an open stream's token is checked against the key (a rotation ends it).
const AUTH_EVERY: Duration = Duration::from_millis(500);

/// Follows the event log, broadcasting every new entry (on a thread of its own: the store
/// is blocking).
pub(crate) async fn follow_event_log(state: Shared) {
    let (cfg, conns) = state.for_engine();
    let tx = state.events.clone();
    let mut shutdown = state.shutdown.clone();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        // Opened again after an error (a PostgreSQL state's connection lost: the database
        // restarted, the network went), and read on from the last entry broadcast, so an
        // outage delays entries and loses none.
        let mut store: Option<Box<dyn Store>> = None;
        let mut last: Option<i64> = None;
        // Set while the log can't be read: retries back off (250 ms, doubling, 2 s at
        // most) instead of knocking every 40 ms on a database that is restarting.
        let mut outage: Option<Outage> = None;
        loop {
            if done_rx.try_recv().is_ok() {
                return;
            }
            let read = match store.take() {
                Some(s) => Ok(s),
                None => crate::engine::Engine::open_reusing(&cfg, &conns).map(|e| e.store),
            }
            .and_then(|s| {
                follow_step(s.as_ref(), &mut last, &tx)?;
                Ok(s)
            });
            let wait = match read {
                Ok(s) => {
                    store = Some(s);
                    if let Some(o) = outage.take() {
                        tracing::info!(
                            "reading the event log again after {:.1} s",
                            o.lasted().as_secs_f64()
                        );
                    }
                    FOLLOW_EVERY
                }
                Err(e) => outage
                    .get_or_insert_with(|| {
                        tracing::warn!("can't read the event log (trying again): {e}");
                        Outage::begin()
                    })
                    .next_wait(),
            };
            std::thread::sleep(wait);
        }
    });
    let _ = shutdown.wait_for(|s| *s).await;
    let _ = done_tx.send(());
}

/// Broadcasts the entries after `last` (the first time: notes where the log ends now).
fn follow_step(
    store: &dyn Store,
    last: &mut Option<i64>,
    tx: &broadcast::Sender<Arc<Event>>,
) -> crate::core::error::Result<()> {
    let Some(after) = *last else {
        *last = Some(store.last_event_id()?);
        return Ok(());
    };
    for ev in store.events_after(None, after, PAGE)? {
        *last = Some(ev.id);
        let _ = tx.send(Arc::new(ev));
    }
    Ok(())
}

/// The SSE name of an event kind: `run_ended` → `run.ended`.
pub(crate) fn sse_name(kind: EventKind) -> String {
    kind.as_str().replacen('_', ".", 1)
}

/// Whether `ev` is the last event of its run.
fn ends_run(ev: &Event) -> bool {
    matches!(ev.kind, EventKind::RunEnded | EventKind::RunLost)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamParams {
    /// Only the events of this run; the stream ends with its final event.
    pub(crate) run: Option<i64>,
    /// Start after this sequence number (as `Last-Event-ID` does).
    pub(crate) after: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/events/stream",
    params(StreamParams, ("Last-Event-ID" = Option<String>, Header, description = "resume after this sequence number (as an EventSource sends back the last `id` it saw); a value that is not a number is ignored and `after` counts instead")),
    responses(
        (status = 200, description = "text/event-stream: `id: SEQ`, `event: KIND`, `data: JSON`", content_type = "text/event-stream"),
        (status = 401, body = super::error::ErrorDoc),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn events_stream(
    State(state): State<Shared>,
    headers: HeaderMap,
    super::extract::ApiQuery(p): super::extract::ApiQuery<StreamParams>,
) -> Result<impl IntoResponse, ApiError> {
    let claims = state.authorize(&headers, Need::Read)?;
    let token = super::bearer(&headers)?.to_string();
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(p.after)
        .unwrap_or(0);
    if let Some(run) = p.run {
        let visible_run = state
            .engine(move |e| e.store.get_run(run))
            .await?
            .is_some_and(|r| claims.sees_job(&r.job));
        if !visible_run {
            return Err(ApiError::not_found(format!("no run {run}")));
        }
    }
    // Subscribed before anything is replayed: what is committed meanwhile is in the
    // broadcast, and is passed on if it is newer than what the replay sent.
    let live = state.events.subscribe();
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    let reach = Reach::new(&state.config(), &claims);
    tokio::spawn(pump(
        state,
        reach,
        Bearer { claims, token },
        p.run,
        from,
        live,
        tx,
    ));
    let headers = [("x-accel-buffering", "no"), ("cache-control", "no-cache")];
    let sse = Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    Ok((headers, sse))
}

/// The token a stream was opened with, kept by its pump: the stream ends when it expires
/// or no longer verifies.
struct Bearer {
    claims: Claims,
    token: String,
}

/// Why a stream's token no longer opens it: the data of its last event, `event: auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthEnd {
    Expired,
    KeyRotated,
}

impl AuthEnd {
    fn event(self) -> SseEvent {
        let (reason, message) = match self {
            AuthEnd::Expired => ("token_expired", "the token has expired"),
            AuthEnd::KeyRotated => (
                "key_rotated",
                "the server's key was rotated: the token no longer works",
            ),
        };
        SseEvent::default()
            .event("auth")
            .data(serde_json::json!({"reason": reason, "message": message}).to_string())
    }
}

/// When a token's `exp` (seconds since the epoch) comes, on the runtime's clock.
fn expiry(exp: u64) -> tokio::time::Instant {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(exp);
    let left = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    tokio::time::Instant::now() + left
}

/// Feeds one client: the log after `from`, then the live entries, until the client goes,
/// its run ends, its token stops working, or the server stops.
async fn pump(
    state: Shared,
    reach: Reach,
    bearer: Bearer,
    run: Option<i64>,
    mut sent: i64,
    mut live: broadcast::Receiver<Arc<Event>>,
    tx: mpsc::Sender<Result<SseEvent, Infallible>>,
) {
    if !catch_up(&state, &reach, run, &mut sent, &tx).await {
        return;
    }
    let mut shutdown = state.shutdown.clone();
    let stopping = async move {
        let _ = shutdown.wait_for(|s| *s).await.map(|_| ());
    };
    tokio::pin!(stopping);
    let expired = tokio::time::sleep_until(expiry(bearer.claims.exp));
    tokio::pin!(expired);
    let mut recheck = tokio::time::interval(AUTH_EVERY);
    loop {
        tokio::select! {
            _ = &mut stopping => return,
            _ = &mut expired => {
                let _ = tx.send(Ok(AuthEnd::Expired.event())).await;
                return;
            }
            _ = recheck.tick() => {
                if state.key.key().verify(&bearer.token).is_err() {
                    let why = if tokio::time::Instant::now() >= expiry(bearer.claims.exp) {
                        AuthEnd::Expired
                    } else {
                        AuthEnd::KeyRotated
                    };
                    let _ = tx.send(Ok(why.event())).await;
                    return;
                }
            }
            got = live.recv() => match got {
                Ok(ev) => {
                    if ev.id <= sent || run.is_some_and(|r| ev.run_id != Some(r)) {
                        continue;
                    }
                    sent = ev.id;
                    if !send(&tx, &reach, &ev).await || (run.is_some() && ends_run(&ev)) {
                        return;
                    }
                }
                // Too slow for the broadcast: catch up from the log, where nothing is lost.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if !catch_up(&state, &reach, run, &mut sent, &tx).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Sends the log after `sent`, page by page, until it has nothing newer; `false` when the
/// stream is over (the client went, or the run's final event was sent).
async fn catch_up(
    state: &Shared,
    reach: &Reach,
    run: Option<i64>,
    sent: &mut i64,
    tx: &mpsc::Sender<Result<SseEvent, Infallible>>,
) -> bool {
    loop {
        let after = *sent;
        let Ok(page) = state
            .engine(move |e| e.store.events_after(run, after, PAGE))
            .await
        else {
            return false;
        };
        for ev in &page {
            *sent = ev.id;
            if !send(tx, reach, ev).await || (run.is_some() && ends_run(ev)) {
                return false;
            }
        }
        if page.len() < PAGE {
            return true;
        }
    }
}

/// Sends one event as the token may see it (`Reach::event`; one it may not see is
/// skipped); `false` once the client is gone.
async fn send(tx: &mpsc::Sender<Result<SseEvent, Infallible>>, reach: &Reach, ev: &Event) -> bool {
    let Some(view) = reach.event(EventView::from(ev)) else {
        return true;
    };
    let data = serde_json::to_string(&view).unwrap_or_else(|_| "{}".into());
    let event = SseEvent::default()
        .id(ev.id.to_string())
        .event(sse_name(ev.kind))
        .data(data);
    tx.send(Ok(event)).await.is_ok()
}
