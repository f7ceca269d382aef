//! Errors as the API answers them: `{"error": {"code", "message", "details"}}` with the
//! status an error's kind calls for (api.md). The engine's errors map here through
//! `Error::http_status`, never by their text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::core::error::Error;

#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) details: serde_json::Value,
}

/// The error document.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDoc {
    pub(crate) error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// A stable name: `BAD_REQUEST`, `UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`,
    /// `REQUEST_TIMEOUT`, `INVALID_STATE_TRANSITION`, `JOB_RUNNING`, `PAYLOAD_TOO_LARGE`,
    /// `UNPROCESSABLE`, `UNAVAILABLE`, `INTERNAL`.
    pub(crate) code: String,
    pub(crate) message: String,
    #[schema(value_type = Object)]
    pub(crate) details: serde_json::Value,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: serde_json::json!({}),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "UNPROCESSABLE", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = match &e {
            Error::Usage(_) => "BAD_REQUEST",
            Error::Config(_) => "UNPROCESSABLE",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Conflict(_) => "INVALID_STATE_TRANSITION",
            Error::Busy(_) => "JOB_RUNNING",
            Error::Unavailable(_) => "UNAVAILABLE",
            Error::State(_)
            | Error::Unreachable(_)
            | Error::Fenced { .. }
            | Error::Internal(_)
            | Error::Failed(_)
            | Error::TimedOut(_) => "INTERNAL",
        };
        let details = match &e {
            Error::Config(c) => serde_json::to_value(&c.issues).unwrap_or_default(),
            _ => serde_json::json!({}),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
            details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let doc = ErrorDoc {
            error: ErrorBody {
                code: self.code.to_string(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, axum::Json(doc)).into_response()
    }
}
