//! `Idempotency-Key` on every POST (api.md): the same key with the same request within
//! 24 h returns the first answer and does nothing again; with a different request, 422.
//! Answers are kept in the store, so a restarted server still knows them. A request is
//! told from another by a SHA-256 of its method, path and body; one request per key acts
//! at a time, and requests with other keys never wait for it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{ApiError, Shared};
use crate::core::clock::{self, to_ms};
use crate::store::StoredAnswer;

const DAY_MS: i64 = 24 * 3_600_000;
/// The largest answer kept.
const MAX_BODY: usize = 1 << 20;

/// The method of every request that takes a key.
const METHOD: &str = "POST";

/// What identifies a request: its method and path, to read, and a SHA-256 of method, path
/// and body (the method and the path each preceded by its length, so that no two requests
/// hash the same bytes).
fn request_id(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(body);
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{method} {path} sha256:{hex}")
}

/// A lock per idempotency key: made when a request with the key comes, dropped with the
/// last request holding or awaiting it.
#[derive(Default)]
pub(crate) struct KeyLocks {
    held: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyLocks {
    /// Waits until no other request with `key` acts.
    async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let lock = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let entry = Entry {
            locks: self,
            key: key.to_string(),
            lock: Some(lock.clone()),
        };
        KeyGuard {
            _held: lock.lock_owned().await,
            _entry: entry,
        }
    }
}

/// A key's lock held; released on drop, then the key's entry goes unless another request
/// awaits it.
struct KeyGuard<'a> {
    // Dropped first: the lock is released before its entry is looked at.
    _held: tokio::sync::OwnedMutexGuard<()>,
    _entry: Entry<'a>,
}

/// A request's share of a key's entry, also while it waits (a request dropped while
/// waiting leaves nothing behind).
struct Entry<'a> {
    locks: &'a KeyLocks,
    key: String,
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        let mut held = self.locks.held.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.lock.take());
        // Shares are taken and given back under the map's lock: a count of one is the
        // map's own, and nobody can take another meanwhile.
        if held
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            held.remove(&self.key);
        }
    }
}

/// Runs `act` once per idempotency key (or every time, without one).
pub(crate) async fn once<F, Fut>(
    state: &Shared,
    headers: &HeaderMap,
    path: &str,
    body: &Bytes,
    act: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Shared) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let Some(key) = headers.get("idempotency-key") else {
        return act(state.clone()).await;
    };
    // What the OpenAPI document's pattern says: printable ASCII, spaces inside only (the
    // header's own rules also let a tab through).
    let visible = |k: &&str| {
        let b = k.as_bytes();
        (1..=200).contains(&b.len())
            && b.iter().all(|c| (b' '..=b'~').contains(c))
            && b[0] != b' '
            && b[b.len() - 1] != b' '
    };
    let key = key
        .to_str()
        .ok()
        .filter(visible)
        .ok_or_else(|| {
            ApiError::bad_request("Idempotency-Key must be 1 to 200 visible characters")
        })?
        .to_string();
    let request = request_id(METHOD, path, body);
    // One request per key at a time: two sent at once with one key must not both act.
    let _one = state.idempotent.lock(&key).await;
    let since = to_ms(clock::real_now()) - DAY_MS;
    let k = key.clone();
    if let Some(first) = state.engine(move |e| e.store.answer(&k, since)).await? {
        if first.request != request {
            return Err(ApiError::unprocessable(
                "this Idempotency-Key was used for a different request",
            ));
        }
        return Ok(replay(first));
    }
    let answer = act(state.clone())
        .await
        .unwrap_or_else(IntoResponse::into_response);
    let (parts, b) = answer.into_parts();
    let bytes = axum::body::to_bytes(b, MAX_BODY).await.unwrap_or_default();
    let stored = StoredAnswer {
        request,
        status: parts.status.as_u16(),
        location: parts
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: bytes.to_vec(),
        at: to_ms(clock::real_now()),
    };
    let keep = stored.clone();
    state
        .engine(move |e| e.store.keep_answer(&key, &keep, keep.at - DAY_MS))
        .await?;
    Ok(replay(stored))
}

fn replay(a: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    let mut r = (status, a.body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(loc) = a.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_its_method_path_and_whole_body() {
        let a = request_id("POST", "/api/v1/runs", br#"{"job":"a"}"#);
        assert_eq!(a, request_id("POST", "/api/v1/runs", br#"{"job":"a"}"#));
        assert_ne!(a, request_id("POST", "/api/v1/runs", br#"{"job":"b"}"#));
        assert_ne!(a, request_id("PUT", "/api/v1/runs", br#"{"job":"a"}"#));
        // The same bytes cut elsewhere between path and body are another request.
        assert_ne!(
            request_id("POST", "/a", b"bc"),
            request_id("POST", "/ab", b"c")
        );
        assert!(a.starts_with("POST /api/v1/runs sha256:") && a.len() == 25 + 64);
    }
}
