//! Run control over the API (api.md, control.md): submitting a run, and pausing, resuming
//! and cancelling one. Each is recorded as done by `api:SUBJECT` (the token's subject),
//! and a move the run's state doesn't allow is a 409 with the state it is in.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Need;
use super::error::ErrorDoc;
use super::extract::{ApiPath, json_body, no_body};
use super::idempotency;
use super::jobs::check_job;
use super::runs::visible_run;
use super::{ApiError, Shared};
use crate::core::control::Actor;
use crate::core::text::METADATA_MAX;
use crate::engine::cancel::{self, Target};
use crate::engine::control as run_control;
use crate::engine::submit::{self, Submit};
use crate::engine::views::RunView;

/// `POST /runs`: what to submit.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitBody {
    /// The job to run.
    pub(crate) job: String,
    /// For an agent job: this prompt instead of its own.
    pub(crate) prompt: Option<String>,
    /// Variables added to the job's environment (no `JOBCTL_*`).
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Any JSON object, stored on the run and passed to it as `JOBCTL_RUN_METADATA`.
    #[schema(value_type = Option<Object>)]
    pub(crate) metadata: Option<serde_json::Value>,
}

#[utoipa::path(
    post, path = "/api/v1/runs",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = SubmitBody,
    responses(
        (status = 202, description = "the run, queued or started; Location: /api/v1/runs/ID", body = Object),
        (status = 400, body = ErrorDoc),
        (status = 404, description = "no such job (for this token)", body = ErrorDoc),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn submit_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Write)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the body must name the job: {\"job\": NAME}",
        ));
    }
    let b: SubmitBody = json_body(&body)?;
    check_job(&claims, &b.job)?;
    let metadata = match &b.metadata {
        None => None,
        Some(m @ serde_json::Value::Object(object)) => {
            if let Some(bad) = crate::core::text::metadata_key_problem(m) {
                return Err(ApiError::bad_request(bad));
            }
            let text = m.to_string();
            if text.len() > METADATA_MAX {
                return Err(ApiError::unprocessable(format!(
                    "metadata is {} bytes; at most {METADATA_MAX}",
                    text.len()
                )));
            }
            Some(object.clone())
        }
        Some(_) => return Err(ApiError::unprocessable("metadata must be a JSON object")),
    };
    idempotency::once(&state, &headers, "/api/v1/runs", &body, move |state| async move {
        let by = Actor::Api(claims.sub.clone());
        let run = state
            .engine(move |e| {
                let s = Submit {
                    job: &b.job,
                    parent: None,
                    prompt: b.prompt.as_deref(),
                    env: b.env.into_iter().collect(),
                    wait: false,
                    metadata,
                    rerun_of: None,
                };
                submit::submit(e, &s, &by)
            })
            .await?;
        tracing::info!(run = run.id, job = %run.job, by = %claims.sub, "run submitted over the API");
        let location = format!("/api/v1/runs/{}", run.id);
        Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            Json(RunView::from(&run)),
        )
            .into_response())
    })
    .await
}

/// What a run-control request does.
#[derive(Debug, Clone, Copy)]
enum Move {
    Pause,
    Resume,
    Cancel,
}

impl Move {
    fn verb(self) -> &'static str {
        match self {
            Move::Pause => "pause",
            Move::Resume => "resume",
            Move::Cancel => "cancel",
        }
    }
}

async fn control_run(
    state: Shared,
    headers: HeaderMap,
    id: i64,
    body: Bytes,
    m: Move,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Write)?;
    visible_run(&state, &claims, id).await?;
    no_body(&body)?;
    let path = format!("/api/v1/runs/{id}/{}", m.verb());
    idempotency::once(&state, &headers, &path, &body, move |state| async move {
        let by = Actor::Api(claims.sub.clone());
        let view = state
            .engine(move |e| match m {
                Move::Pause | Move::Resume => {
                    let done = if matches!(m, Move::Pause) {
                        run_control::pause(e, Target::Run(id), &by)?
                    } else {
                        run_control::resume(e, Target::Run(id), &by)?
                    };
                    let one = done.into_iter().next();
                    Ok(serde_json::to_value(one).unwrap_or_default())
                }
                Move::Cancel => {
                    let r = cancel::cancel(e, Target::Run(id), &by)?;
                    Ok(serde_json::to_value(RunView::from(&r)).unwrap_or_default())
                }
            })
            .await?;
        tracing::info!(run = id, by = %claims.sub, "run {} over the API", m.verb());
        Ok(Json(view).into_response())
    })
    .await
}

#[utoipa::path(
    post, path = "/api/v1/runs/{id}/pause",
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, description = "the paused run, with `changed: false` if it was paused already", body = Object),
        (status = 409, description = "the run is not running", body = ErrorDoc),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn pause_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    control_run(state, headers, id, body, Move::Pause).await
}

#[utoipa::path(
    post, path = "/api/v1/runs/{id}/resume",
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, description = "the resumed run, with `changed: false` if it was running already", body = Object),
        (status = 409, description = "the run is not paused", body = ErrorDoc),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn resume_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    control_run(state, headers, id, body, Move::Resume).await
}

#[utoipa::path(
    post, path = "/api/v1/runs/{id}/cancel",
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, description = "the cancelled run (and its subtree)", body = Object), (status = 409, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub(crate) async fn cancel_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    control_run(state, headers, id, body, Move::Cancel).await
}
