//! What a client may hold of the server (api.md, "Holding up"). A request's head must
//! arrive within 10 s and its body within 30 s; a keep-alive connection left idle is
//! closed after 60 s; at most `--max-connections` are open at once, and one more is
//! answered 503 at once and closed while those already open go on. The limit is kept
//! below the open-file limit, so connections never take the descriptors that requests
//! need (the database, run logs, a supervisor's pipes): a flood of half-open sockets
//! costs the server nothing but the sockets the limit allows.
//!
//! Connections are served by hyper directly: `axum::serve` sets no timeout and no limit.
//! hyper's header timeout does the head; its clock (`HeadClock`) lets the wait for a
//! keep-alive connection's next request run to the idle limit, and starts the head's
//! 10 s at that request's first byte.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::rt::{Sleep, Timer};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Semaphore;

use super::ApiError;
use crate::core::error::{Error, Result};
use crate::core::units::parse_duration;

/// The most connections open at once unless `--max-connections` says otherwise.
pub(crate) const MAX_CONNECTIONS: u32 = 1024;
/// The largest request body: axum's own default, so buffering it here changes no answer.
const BODY_LIMIT: usize = 2 << 20;
/// How long open answers get to end once the server stops (api.md: all within 2 s).
const GRACE: Duration = Duration::from_millis(1500);
/// Refusals under way at once; past them, new connections wait in the listen queue.
const REFUSING: usize = 16;
/// How long a refused client has to send its request (read and dropped) before the
/// socket is closed, and how long it has for the rest once some of it came.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_REST: Duration = Duration::from_millis(50);

/// How long a client may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// A request's head, from its first byte (a new connection's first: from the connect).
    pub(crate) header: Duration,
    /// A request's body, from the end of its head.
    pub(crate) body: Duration,
    /// The wait for a keep-alive connection's next request.
    pub(crate) idle: Duration,
}

impl Timeouts {
    /// The spec's timeouts, or those of `JOBCTL_HTTP_TIMEOUTS` (`header=2s,body=3s,idle=4s`,
    /// any of them): the tests' way to see them act without waiting a minute.
    pub(crate) fn from_env() -> Result<Timeouts> {
        let mut t = Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        };
        let Ok(spec) = std::env::var("JOBCTL_HTTP_TIMEOUTS") else {
            return Ok(t);
        };
        for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let bad = || {
                Error::Usage(format!(
                    "JOBCTL_HTTP_TIMEOUTS: {part:?} is not NAME=DURATION"
                ))
            };
            let (name, value) = part.split_once('=').ok_or_else(bad)?;
            let d = parse_duration(value.trim()).map_err(|_| bad())?;
            match name.trim() {
                "header" => t.header = d,
                "body" => t.body = d,
                "idle" => t.idle = d,
                _ => return Err(bad()),
            }
        }
        Ok(t)
    }
}

/// The connections the open-file limit leaves room for, at most `max`. A quarter of the
/// limit (at least 64 descriptors) is kept for what requests open; a soft limit lower
/// than `max` needs is raised toward the hard one first, no further than that.
pub(crate) fn connection_cap(max: usize) -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let spare = |limit: u64| (limit / 4).max(64);
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return max;
    };
    let want = (max as u64 + 64).max((max as u64 * 4).div_ceil(3));
    let soft = if soft < want && setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard).is_ok() {
        want.min(hard)
    } else {
        soft
    };
    let room = usize::try_from(soft.saturating_sub(spare(soft))).unwrap_or(usize::MAX);
    if room < max {
        tracing::warn!(
            "at most {room} connections at once: the open-file limit is {soft} (raise it for {max})"
        );
    }
    max.min(room).max(1)
}

/// Serves `app` on every connection `listener` accepts until `stop` completes; then open
/// answers get `GRACE` to end (event streams and followed logs end on the server's own
/// shutdown signal) and the rest are dropped with the runtime.
pub(crate) async fn serve<L: axum::serve::Listener>(
    mut listener: L,
    app: Router,
    timeouts: Timeouts,
    max: usize,
    stop: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(REFUSING));
    let full = AtomicBool::new(false);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        // axum's accept waits a second after an error such as EMFILE, and logs it: a
        // descriptor shortage never spins the loop or ends the server.
        let (io, _) = tokio::select! {
            _ = &mut stop => break,
            got = listener.accept() => got,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            if !full.swap(true, Ordering::Relaxed) {
                tracing::warn!("{max} connections open, the limit: refusing new ones (503)");
            }
            let turn = tokio::select! {
                _ = &mut stop => break,
                turn = refusing.clone().acquire_owned() => turn,
            };
            tokio::spawn(async move {
                refuse(io, max).await;
                drop(turn);
            });
            continue;
        };
        full.store(false, Ordering::Relaxed);
        let activity = Arc::new(Activity::default());
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(HeadClock {
            activity: activity.clone(),
            timeouts,
        })
        .header_read_timeout(timeouts.header);
        let io = TokioIo::new(Watched { io, activity });
        let conn = graceful.watch(http.serve_connection(io, TowerToHyperService::new(app.clone())));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("a connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("answers still open after {GRACE:?}: closing them");
    }
}

/// The 503 of a connection past the limit, written before anything is read: a refused
/// client costs no parsing, and one that sends nothing can't hold the descriptor long.
/// What it sent is read and dropped before closing, so the close is not a reset that
/// could discard the answer on its way.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, max: usize) {
    let body = serde_json::json!({"error": {
        "code": "UNAVAILABLE",
        "message": format!("the server has {max} connections open, its limit: try again"),
        "details": {},
    }})
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut until = tokio::time::Instant::now() + LINGER;
    let wrote = tokio::time::timeout_at(until, io.write_all(answer.as_bytes())).await;
    if !matches!(wrote, Ok(Ok(()))) || io.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    while let Ok(Ok(1..)) = tokio::time::timeout_at(until, io.read(&mut sink)).await {
        until = until.min(tokio::time::Instant::now() + LINGER_REST);
    }
}

/// Reads a request's whole body within the body timeout (from the end of its head), so a
/// client trickling it can't hold the request: 408, and the connection is closed.
/// tower-http's body timeout restarts at each chunk, which a byte every few seconds
/// would satisfy forever.
pub(crate) async fn body_deadline(State(t): State<Timeouts>, req: Request, next: Next) -> Response {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the body is larger than {} MiB", BODY_LIMIT >> 20),
        )
        .into_response()
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return closing(too_large());
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(t.body, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(e)) => {
            let large = e
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            closing(if large {
                too_large()
            } else {
                ApiError::bad_request("the request body could not be read").into_response()
            })
        }
        Err(_) => closing(
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                format!("the request body did not arrive within {:?}", t.body),
            )
            .into_response(),
        ),
    }
}

/// An answer after which the connection is closed: what is left of the body is unread.
fn closing(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// What a connection's reads and writes tell its head clock.
#[derive(Default)]
struct Activity {
    phase: Mutex<Phase>,
}

#[derive(Default)]
struct Phase {
    /// When hyper began to wait for the current request head.
    since: Option<Instant>,
    /// The head's first byte came then.
    first_byte: Option<Instant>,
    /// The connection had answered a request when the wait began: it is idle.
    idle: bool,
    /// Something was written: a request was answered.
    answered: bool,
}

impl Activity {
    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn head_begins(&self) {
        let mut p = self.phase();
        p.since = Some(Instant::now());
        p.first_byte = None;
        p.idle = p.answered;
    }

    fn read(&self) {
        let mut p = self.phase();
        if p.first_byte.is_none() {
            p.first_byte = Some(Instant::now());
        }
    }

    fn wrote(&self) {
        self.phase().answered = true;
    }

    /// When the wait for the current head ends: a new connection's first head within the
    /// header timeout of the connect; a later one within the header timeout of its first
    /// byte, which may come up to the idle timeout after the previous answer.
    fn deadline(&self, t: Timeouts) -> Instant {
        let p = self.phase();
        let since = p.since.unwrap_or_else(Instant::now);
        match (p.idle, p.first_byte) {
            (false, _) => since + t.header,
            (true, Some(first)) => first + t.header,
            (true, None) => since + t.idle,
        }
    }
}

/// The clock of hyper's header timeout for one connection. hyper asks it for a sleep
/// each time it begins to read a request head, which for a keep-alive connection is as
/// soon as the previous answer is out: its own clock would close an idle connection at
/// the header timeout.
#[derive(Clone)]
struct HeadClock {
    activity: Arc<Activity>,
    timeouts: Timeouts,
}

impl Timer for HeadClock {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Sleep>> {
        TokioTimer::new().sleep(d)
    }

    fn sleep_until(&self, _: Instant) -> Pin<Box<dyn Sleep>> {
        self.activity.head_begins();
        let at = self.activity.deadline(self.timeouts);
        Box::pin(HeadSleep {
            activity: self.activity.clone(),
            timeouts: self.timeouts,
            sleep: Box::pin(tokio::time::sleep_until(at.into())),
        })
    }
}

/// The wait for one head. hyper polls it after every read that left the head
/// incomplete, so the deadline moves as soon as the first byte comes.
struct HeadSleep {
    activity: Arc<Activity>,
    timeouts: Timeouts,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let at = tokio::time::Instant::from(self.activity.deadline(self.timeouts));
        if self.sleep.deadline() != at {
            self.sleep.as_mut().reset(at);
        }
        self.sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadSleep {}

/// A connection's socket, telling its `Activity` of each read and write.
struct Watched<S> {
    io: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
