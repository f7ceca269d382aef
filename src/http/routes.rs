//! The API's routes (api.md, "Endpoints"): one table the router is built from and the
//! OpenAPI test reads. Each handler, in the module of what it serves (`jobs.rs`,
//! `runs.rs`, `agents.rs`, `control.rs`, …), checks the token, calls one engine use-case
//! and serializes its view; a job the token may not see does not exist for it (404), and
//! neither do its runs.

use axum::Router;
use axum::routing::get;

use super::{
    ApiError, Shared, agents, console, control, jobs, log, metrics, openapi, rerun, runs, stream,
};

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
    get "/api/v1/jobs" => jobs::list_jobs,
    get "/api/v1/jobs/{name}" => jobs::get_job,
    post "/api/v1/jobs/{name}/run" => jobs::run_job,
    post "/api/v1/jobs/{name}/pause" => jobs::pause_job,
    post "/api/v1/jobs/{name}/resume" => jobs::resume_job,
    get "/api/v1/runs" => runs::list_runs,
    get "/api/v1/runs/{id}" => runs::get_run,
    get "/api/v1/runs/{id}/events" => runs::run_events,
    get "/api/v1/runs/{id}/log" => log::run_log,
    post "/api/v1/runs" => control::submit_run,
    post "/api/v1/runs/{id}/pause" => control::pause_run,
    post "/api/v1/runs/{id}/resume" => control::resume_run,
    post "/api/v1/runs/{id}/cancel" => control::cancel_run,
    post "/api/v1/runs/{id}/rerun" => rerun::rerun_run,
    get "/api/v1/agents" => agents::list_agents,
    post "/api/v1/agents/{name}/enable" => agents::enable_agent,
    post "/api/v1/agents/{name}/disable" => agents::disable_agent,
    get "/api/v1/status" => agents::status,
    get "/api/v1/events/stream" => stream::events_stream,
}

pub(crate) fn router(state: Shared) -> Router {
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
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}
