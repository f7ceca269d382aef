//! `Idempotency-Key` on every POST (api.md): the same key with the same request within
//! 24 h returns the first answer and does nothing again; with a different request, 422.
//! Answers are kept in the store, so a restarted server still knows them.

use std::future::Future;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, Shared};
use crate::core::clock::{self, to_ms};
use crate::store::StoredAnswer;

const DAY_MS: i64 = 24 * 3_600_000;
/// The largest answer kept.
const MAX_BODY: usize = 1 << 20;

/// What identifies a request: method, path and a hash of the body.
fn request_id(path: &str, body: &[u8]) -> String {
    format!("POST {path} {:08x}", crc32fast::hash(body))
}

/// Runs `act` once per idempotency key (or every time, without one).
pub async fn once<F, Fut>(
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
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| {
            ApiError::bad_request("Idempotency-Key must be 1 to 200 visible characters")
        })?
        .to_string();
    let request = request_id(path, body);
    // One keyed request at a time: two sent at once with one key must not both act.
    let _one = state.idempotent.lock().await;
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
