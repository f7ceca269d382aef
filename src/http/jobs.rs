//! The job endpoints (`/api/v1/jobs…`): listing, one job's detail, forcing a run,
//! pausing and resuming its schedule; and the rule every handler naming a job applies (a
//! job this token may not see does not exist for it).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{Claims, Need};
use super::error::ErrorDoc;
use super::extract::{ApiPath, no_body};
use super::idempotency;
use super::reach::Reach;
use super::{ApiError, Shared};
use crate::core::clock::{self, rfc3339};
use crate::core::control::Actor;
use crate::engine::views::{self, RunView};
use crate::engine::{jobs, supervise};

/// 400 for a name no job can have (a control character: `core::text`); 404 for a job
/// this token may not see, as if it did not exist.
pub(super) fn check_job(claims: &Claims, name: &str) -> Result<(), ApiError> {
    if let Some(bad) = crate::core::text::name_problem(name) {
        return Err(ApiError::bad_request(format!(
            "the job name {name:?} holds {bad}"
        )));
    }
    if claims.sees_job(name) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no job named {name:?}")))
    }
}

#[utoipa::path(
    get, path = "/api/v1/jobs",
    responses((status = 200, description = "the `list --json` rows", body = [Object]), (status = 401, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub(crate) async fn list_jobs(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reach = Reach::new(&state.config(), &state.authorize(&headers, Need::Read)?);
    let rows = state.engine(views::list).await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| reach.job(&r.name))
        .map(|mut r| {
            reach.row(&mut r);
            r
        })
        .collect();
    Ok(Json(rows).into_response())
}

/// One job: its `list` row, what its config says, and its next slots.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobDetail {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub(crate) row: views::ListRow,
    pub(crate) config: JobSummary,
    pub(crate) next_slots: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobSummary {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) schedule: String,
    pub(crate) timezone: String,
    pub(crate) timeout_ms: u64,
    pub(crate) enabled: bool,
    pub(crate) catch_up: bool,
    pub(crate) workdir: String,
    pub(crate) agent: Option<String>,
    pub(crate) scope: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/jobs/{name}",
    params(("name" = String, Path)),
    responses((status = 200, body = JobDetail), (status = 400, description = "a control character in the name", body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub(crate) async fn get_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Read)?;
    check_job(&claims, &name)?;
    let reach = Reach::new(&state.config(), &claims);
    let detail = state
        .engine(move |e| {
            let cfg = e.cfg;
            let job = cfg.job(&name)?;
            let mut row = views::list(e)?
                .into_iter()
                .find(|r| r.name == name)
                .expect("a job of the config has a row");
            reach.row(&mut row);
            let next = views::next_slots(cfg, &name, 5, clock::now)?.unwrap_or_default();
            let (agent, scope) = match &job.kind {
                crate::config::JobKind::Agent(a) => (a.agent.clone(), Some(a.scope.clone())),
                crate::config::JobKind::Script(_) => (None, None),
            };
            Ok(JobDetail {
                config: JobSummary {
                    kind: job.type_name().into(),
                    schedule: row.schedule.clone(),
                    timezone: job.timezone.name().to_string(),
                    timeout_ms: job.timeout.as_millis() as u64,
                    enabled: job.enabled,
                    catch_up: job.catch_up,
                    workdir: job.workdir.display().to_string(),
                    agent,
                    scope,
                },
                next_slots: next.iter().map(|t| rfc3339(t.as_millisecond())).collect(),
                row,
            })
        })
        .await?;
    Ok(Json(detail).into_response())
}

#[utoipa::path(
    post, path = "/api/v1/jobs/{name}/run",
    params(("name" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 202, description = "the new run; Location: /api/v1/runs/ID", body = Object),
        (status = 400, description = "a control character in the name", body = ErrorDoc),
        (status = 404, body = ErrorDoc),
        (status = 409, description = "the job is running", body = ErrorDoc),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn run_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Write)?;
    check_job(&claims, &name)?;
    no_body(&body)?;
    let path = format!("/api/v1/jobs/{name}/run");
    idempotency::once(&state, &headers, &path, &body, move |state| async move {
        let by = claims.sub.clone();
        let actor = Actor::Api(by.clone());
        let run = state
            .engine(move |e| supervise::start_detached(e, &name, &actor))
            .await?;
        tracing::info!(run = run.id, job = %run.job, by = %by, "run started over the API");
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

async fn pause_or_resume(
    state: Shared,
    headers: HeaderMap,
    name: String,
    body: Bytes,
    pause: bool,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Write)?;
    check_job(&claims, &name)?;
    no_body(&body)?;
    let path = format!(
        "/api/v1/jobs/{name}/{}",
        if pause { "pause" } else { "resume" }
    );
    idempotency::once(&state, &headers, &path, &body, move |state| async move {
        let v = state
            .engine(move |e| jobs::set_paused(e, &name, pause))
            .await?;
        tracing::info!(job = %v.job, paused = pause, by = %claims.sub, "job schedule changed over the API");
        Ok(Json(v).into_response())
    })
    .await
}

#[utoipa::path(
    post, path = "/api/v1/jobs/{name}/pause",
    params(("name" = String, Path)),
    responses((status = 200, body = Object), (status = 400, description = "a control character in the name", body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub(crate) async fn pause_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    pause_or_resume(state, headers, name, body, true).await
}

#[utoipa::path(
    post, path = "/api/v1/jobs/{name}/resume",
    params(("name" = String, Path)),
    responses((status = 200, body = Object), (status = 400, description = "a control character in the name", body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub(crate) async fn resume_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    pause_or_resume(state, headers, name, body, false).await
}
