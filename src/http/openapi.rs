//! `GET /api/v1/openapi.json`: the OpenAPI 3 document of the API, generated from the
//! handlers' declarations (utoipa), so it can't drift from the routes served (a test
//! compares the two).

use axum::Json;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{agents, control, error, jobs, log, metrics, rerun, routes, runs, stream};

#[path = "openapi_declared.rs"]
mod declared;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "jobctl", description = "The control API of jobctl serve: jobs, runs, agents, live events."),
    paths(
        document,
        routes::healthz,
        metrics::metrics,
        jobs::list_jobs,
        jobs::get_job,
        jobs::run_job,
        jobs::pause_job,
        jobs::resume_job,
        runs::list_runs,
        runs::get_run,
        runs::run_events,
        log::run_log,
        control::submit_run,
        control::pause_run,
        control::resume_run,
        control::cancel_run,
        rerun::rerun_run,
        agents::list_agents,
        agents::enable_agent,
        agents::disable_agent,
        agents::status,
        stream::events_stream,
    ),
    components(schemas(error::ErrorDoc, error::ErrorBody, agents::AgentToggle, control::SubmitBody)),
    modifiers(&Bearer)
)]
pub(crate) struct ApiDoc;

#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "this document")))]
pub(crate) async fn document() -> impl IntoResponse {
    Json(generate())
}

pub(crate) fn generate() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    declared::answers_every_operation_gives(&mut doc);
    doc
}
