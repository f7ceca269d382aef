//! The API's routes and handlers (api.md, "Endpoints"). Each handler checks the token,
//! calls one engine use-case and serializes its view; a job the token may not see does
//! not exist for it (404), and neither do its runs.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Claims, Need};
use super::error::ErrorDoc;
use super::extract::{ApiPath, ApiQuery, json_body, no_body};
use super::idempotency;
use super::reach::Reach;
use super::stream;
use super::{ApiError, Shared, console, control, log, metrics, openapi, rerun};
use crate::core::clock::{self, rfc3339};
use crate::core::control::Actor;
use crate::core::run::RunStatus;
use crate::engine::events::EventView;
use crate::engine::views::{self, RunView};
use crate::engine::{budgets, jobs, report, supervise};
use crate::store::RunQuery;

/// Declares the API's routes once: the router is built from this table, and `API_ROUTES`
/// lists it, so a test can hold the OpenAPI document against what is served.
macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every (method, path) the API serves, console pages aside.
        pub const API_ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn api_router() -> Router<Shared> {
            Router::new()$(.route($path, axum::routing::$method($handler)))*
        }
    };
}

api_routes! {
    get "/healthz" => healthz,
    get "/metrics" => metrics::metrics,
    get "/api/v1/openapi.json" => openapi::document,
    get "/api/v1/jobs" => list_jobs,
    get "/api/v1/jobs/{name}" => get_job,
    post "/api/v1/jobs/{name}/run" => run_job,
    post "/api/v1/jobs/{name}/pause" => pause_job,
    post "/api/v1/jobs/{name}/resume" => resume_job,
    get "/api/v1/runs" => list_runs,
    get "/api/v1/runs/{id}" => get_run,
    get "/api/v1/runs/{id}/events" => run_events,
    get "/api/v1/runs/{id}/log" => log::run_log,
    post "/api/v1/runs" => control::submit_run,
    post "/api/v1/runs/{id}/pause" => control::pause_run,
    post "/api/v1/runs/{id}/resume" => control::resume_run,
    post "/api/v1/runs/{id}/cancel" => control::cancel_run,
    post "/api/v1/runs/{id}/rerun" => rerun::rerun_run,
    get "/api/v1/agents" => list_agents,
    post "/api/v1/agents/{name}/enable" => enable_agent,
    post "/api/v1/agents/{name}/disable" => disable_agent,
    get "/api/v1/status" => status,
    get "/api/v1/events/stream" => stream::events_stream,
}

pub fn router(state: Shared) -> Router {
    api_router()
        .route("/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .fallback(not_found)
        .with_state(state)
}

/// Any other path: the API's 404 document.
async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "the server is up")))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

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
pub async fn list_jobs(
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
pub struct JobDetail {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub row: views::ListRow,
    pub config: JobSummary,
    pub next_slots: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobSummary {
    #[serde(rename = "type")]
    pub kind: String,
    pub schedule: String,
    pub timezone: String,
    pub timeout_ms: u64,
    pub enabled: bool,
    pub catch_up: bool,
    pub workdir: String,
    pub agent: Option<String>,
    pub scope: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/jobs/{name}",
    params(("name" = String, Path)),
    responses((status = 200, body = JobDetail), (status = 400, description = "a control character in the name", body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub async fn get_job(
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
pub async fn run_job(
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
pub async fn pause_job(
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
pub async fn resume_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    pause_or_resume(state, headers, name, body, false).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsParams {
    pub job: Option<String>,
    pub status: Option<String>,
    /// Only the sub-runs of this run.
    pub parent: Option<i64>,
    /// Runs older than this run id (the `next` of the previous page).
    pub before: Option<i64>,
    /// At most this many (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunsPage {
    #[schema(value_type = Vec<Object>)]
    pub runs: Vec<RunView>,
    /// The `before` of the next page (always a run this token may see); null on the last.
    pub next: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/runs",
    params(RunsParams),
    responses((status = 200, body = RunsPage), (status = 400, body = ErrorDoc), (status = 404, description = "`job` or `parent` names a job or run this token may not see", body = ErrorDoc)),
    security(("bearer" = []))
)]
pub async fn list_runs(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<RunsParams>,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Read)?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 500"));
    }
    let status = match p.status.as_deref() {
        None => None,
        Some(s) => Some(
            RunStatus::parse(s)
                .ok_or_else(|| ApiError::bad_request(format!("{s:?} is not a run status")))?,
        ),
    };
    if let Some(j) = &p.job {
        check_job(&claims, j)?;
    }
    let reach = Reach::new(&state.config(), &claims);
    let job = p.job.clone();
    let runs = state
        .engine(move |e| {
            e.recover()?;
            if let Some(parent) = p.parent
                && !reach.run(&*e.store, parent)?
            {
                return Err(crate::core::error::Error::NotFound(format!(
                    "no run {parent}"
                )));
            }
            let runs = reach.find_runs(
                &*e.store,
                &RunQuery {
                    job: job.as_deref(),
                    status,
                    parent: p.parent,
                    before: p.before,
                    limit,
                    ..RunQuery::default()
                },
            )?;
            let mut views: Vec<RunView> = runs.iter().map(RunView::from).collect();
            reach.runs(&*e.store, &mut views)?;
            Ok(views)
        })
        .await?;
    // The last run of a full page: one the token sees (`Reach::find_runs`).
    let next = (runs.len() == limit)
        .then(|| runs.last().map(|r| r.run_id))
        .flatten();
    Ok(Json(RunsPage { runs, next }).into_response())
}

/// The run `id`, if the token may see it.
pub(super) async fn visible_run(
    state: &Shared,
    claims: &Claims,
    id: i64,
) -> Result<crate::core::run::RunRecord, ApiError> {
    let run = state
        .engine(move |e| {
            e.recover()?;
            e.store.get_run(id)
        })
        .await?;
    match run {
        Some(r) if claims.sees_job(&r.job) => Ok(r),
        _ => Err(ApiError::not_found(format!("no run {id}"))),
    }
}

#[utoipa::path(
    get, path = "/api/v1/runs/{id}",
    params(("id" = i64, Path)),
    responses((status = 200, description = "the `show --json` document: the run's record, trigger, workspace and changes, hooks, events and the end of its log", body = Object), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub async fn get_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Read)?;
    visible_run(&state, &claims, id).await?;
    let reach = Reach::new(&state.config(), &claims);
    let report = state
        .engine(move |e| {
            let mut report = report::show(e, report::Which::Run(id))?;
            reach.hide_runs(&*e.store, std::iter::once(&mut report.run.parent_run_id))?;
            report.events = std::mem::take(&mut report.events)
                .into_iter()
                .filter_map(|ev| reach.event(ev))
                .collect();
            Ok(report)
        })
        .await?;
    Ok(Json(report).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Events after this sequence number.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

#[utoipa::path(
    get, path = "/api/v1/runs/{id}/events",
    params(("id" = i64, Path), EventsParams),
    responses((status = 200, description = "the run's events, oldest first (as `events --json`)", body = [Object]), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub async fn run_events(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<EventsParams>,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Read)?;
    visible_run(&state, &claims, id).await?;
    let reach = Reach::new(&state.config(), &claims);
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 1000"));
    }
    let after = p.after.unwrap_or(0);
    let events = state
        .engine(move |e| e.store.events_after(Some(id), after, limit))
        .await?;
    let v: Vec<EventView> = events
        .iter()
        .filter_map(|ev| reach.event(EventView::from(ev)))
        .collect();
    Ok(Json(v).into_response())
}

#[utoipa::path(
    get, path = "/api/v1/agents",
    responses((status = 200, description = "agents × scopes: enabled, reason, used, budget", body = [Object])),
    security(("bearer" = []))
)]
pub async fn list_agents(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reach = Reach::new(&state.config(), &state.authorize(&headers, Need::Read)?);
    let report = state.engine(views::status).await?;
    let rows: Vec<_> = report
        .agents
        .into_iter()
        .filter(|a| reach.agent(&a.agent))
        .collect();
    Ok(Json(rows).into_response())
}

/// `POST /agents/{name}/enable|disable`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentToggle {
    /// One scope (default: every scope).
    pub scope: Option<String>,
    /// Why (disable only), stored as `manual: REASON`.
    pub reason: Option<String>,
}

async fn toggle_agent(
    state: Shared,
    headers: HeaderMap,
    name: String,
    body: Bytes,
    enable: bool,
) -> Result<Response, ApiError> {
    let claims = state.authorize(&headers, Need::Write)?;
    if !Reach::new(&state.config(), &claims).agent(&name) {
        return Err(ApiError::not_found(format!("no agent named {name:?}")));
    }
    let toggle: AgentToggle = json_body(&body)?;
    if enable && toggle.reason.is_some() {
        return Err(ApiError::unprocessable(
            "a reason goes with disable, not enable",
        ));
    }
    let path = format!(
        "/api/v1/agents/{name}/{}",
        if enable { "enable" } else { "disable" }
    );
    idempotency::once(&state, &headers, &path, &body, move |state| async move {
        let states = state
            .engine(move |e| {
                let reason = toggle
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("disabled over the API by {}", claims.sub));
                budgets::configure_agent(
                    e,
                    &name,
                    toggle.scope.as_deref(),
                    (!enable).then_some(reason.as_str()),
                )
            })
            .await?;
        Ok(Json(states).into_response())
    })
    .await
}

#[utoipa::path(
    post, path = "/api/v1/agents/{name}/enable",
    params(("name" = String, Path)),
    request_body(content = AgentToggle, description = "optional"),
    responses((status = 200, body = [Object]), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub async fn enable_agent(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    toggle_agent(state, headers, name, body, true).await
}

#[utoipa::path(
    post, path = "/api/v1/agents/{name}/disable",
    params(("name" = String, Path)),
    request_body(content = AgentToggle, description = "optional"),
    responses((status = 200, body = [Object]), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub async fn disable_agent(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    toggle_agent(state, headers, name, body, false).await
}

/// `status --json`, plus the last tick and a config the server could not load.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusDoc {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub report: views::StatusReport,
    pub last_tick: Option<String>,
    pub config_error: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/status",
    responses((status = 200, body = StatusDoc)),
    security(("bearer" = []))
)]
pub async fn status(State(state): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let reach = Reach::new(&state.config(), &state.authorize(&headers, Need::Read)?);
    let (report, last_tick) = state
        .engine(move |e| {
            let mut r = views::status(e)?;
            reach.status(&*e.store, &mut r)?;
            let t = e.store.last_tick()?;
            Ok((r, t))
        })
        .await?;
    Ok(Json(StatusDoc {
        report,
        last_tick: last_tick.map(|t| rfc3339(t.as_millisecond())),
        config_error: state.config_error(),
    })
    .into_response())
}
