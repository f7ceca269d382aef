//! `/mcp`: jobctl's MCP tools over Streamable HTTP (mcp.md), the same server `jobctl mcp`
//! serves over stdio, behind the API's bearer tokens: a request without a valid token is
//! the API's 401; a read token is offered (and may call) only the tools that read; a token
//! limited to some jobs reaches only them, through the same [`Reach`] every read endpoint
//! answers through. Stateless (no MCP session is kept between requests): each request
//! carries its token, and the server can restart under a client. Actions are recorded
//! as done by `api:SUBJECT`, as the API's are.
//!
//! The Host header is not checked (the SDK's default allows only localhost): a request
//! needs a bearer token, which a page rebinding a name to this server can't send, and
//! `serve` behind a TLS proxy answers under its public name.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::Shared;
use super::auth::Need;
use super::reach::Reach;
use crate::core::error::Result;
use crate::engine::Engine;
use crate::engine::views::{ListRow, RunView};
use crate::mcp::{Caller, Jobctl, Token};

/// The `/mcp` route, its token checked before the MCP service sees the request.
pub(super) fn router(state: Shared) -> Router {
    let (cfg, conns) = state.for_engine();
    let base = Jobctl::new(cfg, conns, None);
    let current = state.clone();
    // Made for each request: with the config as it is then (it is reloaded when it changes).
    let service = StreamableHttpService::new(
        move || {
            let (cfg, conns) = current.for_engine();
            Ok(base.for_state(cfg, conns))
        },
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .disable_allowed_hosts(),
    );
    Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(state, caller))
}

/// The request's token, as the caller the tools act for.
async fn caller(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let claims = match state.authorize(req.headers(), Need::Read) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let reach = Reach::new(&state.config(), &claims);
    req.extensions_mut().insert(Caller::Token(Token {
        subject: claims.sub.clone(),
        write: claims.allows(Need::Write),
        reach: Arc::new(reach),
    }));
    next.run(req).await
}

impl crate::mcp::Reach for Reach {
    fn job(&self, name: &str) -> bool {
        Reach::job(self, name)
    }

    fn agent(&self, name: &str) -> bool {
        Reach::agent(self, name)
    }

    fn row(&self, row: &mut ListRow) {
        Reach::row(self, row);
    }

    fn view(&self, e: &Engine<'_>, view: &mut RunView) -> Result<()> {
        self.hide_runs(&*e.store, std::iter::once(&mut view.parent_run_id))
    }
}
