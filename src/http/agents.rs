//! The agent and status endpoints: agents × scopes as `status` shows them, enabling and
//! disabling a scope, and the status document.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Need;
use super::error::ErrorDoc;
use super::extract::{ApiPath, json_body};
use super::idempotency;
use super::reach::Reach;
use super::{ApiError, Shared};
use crate::core::clock::rfc3339;
use crate::engine::budgets;
use crate::engine::views::{self};

#[utoipa::path(
    get, path = "/api/v1/agents",
    responses((status = 200, description = "agents × scopes: enabled, reason, used, budget", body = [Object])),
    security(("bearer" = []))
)]
pub(crate) async fn list_agents(
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
pub(crate) struct AgentToggle {
    /// One scope (default: every scope).
    pub(crate) scope: Option<String>,
    /// Why (disable only), stored as `manual: REASON`.
    pub(crate) reason: Option<String>,
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
pub(crate) async fn enable_agent(
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
pub(crate) async fn disable_agent(
    State(state): State<Shared>,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    toggle_agent(state, headers, name, body, false).await
}

/// `status --json`, plus the last tick and a config the server could not load.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusDoc {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub(crate) report: views::StatusReport,
    pub(crate) last_tick: Option<String>,
    pub(crate) config_error: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/status",
    responses((status = 200, body = StatusDoc)),
    security(("bearer" = []))
)]
pub(crate) async fn status(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
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
