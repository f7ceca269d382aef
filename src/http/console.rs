//! The web console: one page, its script and its style sheet, embedded in the binary at
//! build time (three files: `include_str!` is all it takes), so installing jobctl needs no
//! Node build step and the console is never out of step with the API it calls. The words
//! of the run state machine the page needs (statuses, triggers, which moves each status
//! allows) are served from the Rust types as `vocabulary.json`, never copied into the script.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::core::run::{ASK_JOB, RunStatus, Trigger};

const INDEX: &str = include_str!("console/index.html");
const APP_JS: &str = include_str!("console/app.js");
const APP_CSS: &str = include_str!("console/app.css");

/// The page: it holds nothing secret; the token it signs in with stays in the tab.
pub(crate) async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
            ),
            (
                header::HeaderName::from_static("referrer-policy"),
                "no-referrer",
            ),
        ],
        INDEX,
    )
        .into_response()
}

pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "vocabulary.json" => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                vocabulary().to_string(),
            )
                .into_response();
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// The run moves a status allows from the API (`POST /runs/{id}/pause|resume|cancel`), by
/// the state machine's rules (`core::control`): the server refuses the rest anyway.
fn moves(s: RunStatus) -> Vec<&'static str> {
    let mut m = Vec::new();
    if s.can_become(RunStatus::Paused) && s.takes_request(RunStatus::Paused) {
        m.push("pause");
    }
    if s == RunStatus::Paused && s.can_become(RunStatus::Running) {
        m.push("resume");
    }
    if s.takes_request(RunStatus::Cancelled) {
        m.push("cancel");
    }
    m
}

/// What the page knows of the state machine, from the types that define it.
fn vocabulary() -> serde_json::Value {
    let moves: serde_json::Map<_, _> = RunStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), json!(moves(*s))))
        .collect();
    json!({
        "statuses": RunStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "ended": RunStatus::ALL.iter().filter(|s| s.is_end()).map(|s| s.as_str()).collect::<Vec<_>>(),
        "triggers": Trigger::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "moves": moves,
        "ask_job": ASK_JOB,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_allows_the_moves_of_the_state_machine() {
        assert_eq!(moves(RunStatus::Running), ["pause", "cancel"]);
        assert_eq!(moves(RunStatus::Paused), ["resume", "cancel"]);
        assert_eq!(moves(RunStatus::Queued), ["cancel"]);
        assert_eq!(moves(RunStatus::Retrying), ["cancel"]);
        for s in RunStatus::ALL.iter().filter(|s| s.is_end()) {
            assert!(moves(*s).is_empty(), "{s}");
        }
    }
}
