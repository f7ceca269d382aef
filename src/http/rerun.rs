//! `POST /api/v1/runs/{id}/rerun`: an ended run made again (`engine::rerun`): the same job,
//! prompt, environment and metadata, recorded as done by `api:SUBJECT`. A 202 with the new
//! run, as a submit is.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Need;
use super::error::ErrorDoc;
use super::extract::{ApiPath, no_body};
use super::idempotency;
use super::runs::visible_run;
use super::{ApiError, Shared};
use crate::core::control::Actor;
use crate::engine::rerun;
use crate::engine::views::RunView;

#[utoipa::path(
    post, path = "/api/v1/runs/{id}/rerun",
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 202, description = "the new run (trigger `rerun`), queued or started; Location: /api/v1/runs/ID", body = Object),
        (status = 404, description = "no such run (for this token)", body = ErrorDoc),
        (status = 409, description = "the run has not ended, is an ask, or its job is no longer in the config", body = ErrorDoc),
    ),
    security(("bearer" = []))
)]
pub(super) async fn rerun_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Write)?;
    visible_run(&state, &claims, id).await?;
    no_body(&body)?;
    let path = format!("/api/v1/runs/{id}/rerun");
    idempotency::once(&state, &headers, &path, &body, move |state| async move {
        let by = Actor::Api(claims.sub.clone());
        let run = state
            .engine(move |e| rerun::rerun(e, id, false, &by))
            .await?;
        tracing::info!(run = run.id, of = id, by = %claims.sub, "run made again over the API");
        Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/api/v1/runs/{}", run.id))],
            Json(RunView::from(&run)),
        )
            .into_response())
    })
    .await
}
