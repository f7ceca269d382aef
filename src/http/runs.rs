//! The run endpoints that read (`/api/v1/runs…`): a page of runs, one run, its events;
//! and the rule every handler naming a run applies (a run of a job this token may not see
//! does not exist for it). Run control is `control.rs`, the log `log.rs`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Claims, Need};
use super::error::ErrorDoc;
use super::extract::{ApiPath, ApiQuery};
use super::jobs::check_job;
use super::reach::Reach;
use super::{ApiError, Shared};
use crate::core::run::RunStatus;
use crate::engine::events::EventView;
use crate::engine::report;
use crate::engine::views::RunView;
use crate::store::RunQuery;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsParams {
    pub(crate) job: Option<String>,
    pub(crate) status: Option<String>,
    /// Only the sub-runs of this run.
    pub(crate) parent: Option<i64>,
    /// Runs older than this run id (the `next` of the previous page).
    pub(crate) before: Option<i64>,
    /// At most this many (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub(crate) limit: Option<usize>,
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunsPage {
    #[schema(value_type = Vec<Object>)]
    pub(crate) runs: Vec<RunView>,
    /// The `before` of the next page (always a run this token may see); null on the last.
    pub(crate) next: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/runs",
    params(RunsParams),
    responses((status = 200, body = RunsPage), (status = 400, body = ErrorDoc), (status = 404, description = "`job` or `parent` names a job or run this token may not see", body = ErrorDoc)),
    security(("bearer" = []))
)]
pub(crate) async fn list_runs(
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
pub(crate) async fn get_run(
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
pub(crate) struct EventsParams {
    /// Events after this sequence number.
    pub(crate) after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub(crate) limit: Option<usize>,
}

#[utoipa::path(
    get, path = "/api/v1/runs/{id}/events",
    params(("id" = i64, Path), EventsParams),
    responses((status = 200, description = "the run's events, oldest first (as `events --json`)", body = [Object]), (status = 404, body = ErrorDoc)),
    security(("bearer" = []))
)]
pub(crate) async fn run_events(
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
