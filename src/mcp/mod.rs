//! jobctl's control as MCP tools (mcp.md): `jobctl mcp` serves them over stdio, the
//! transport every agent CLI starts itself, and `jobctl serve` at `/mcp` over Streamable
//! HTTP behind the API's tokens. Built on the official Rust SDK (`rmcp`): the protocol,
//! its versions and its transports are the SDK's; jobctl's part is the tools, which call
//! the same engine use-cases as the command line and the API.
//!
//! - `caller.rs`: who calls (a user, a run, a token) and what it may see and do;
//! - `tools.rs`: the tools, their schemas and descriptions;
//! - `act.rs`: each tool's work on an engine;
//! - this file: the server (tools listed and called by caller, resources) and stdio.
//!
//! Nothing of this module is touched by the other commands: the tick never pays for it.

mod act;
pub(crate) mod caller;
mod tools;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde::Serialize;

use crate::config::Config;
use crate::core::error::{Error, Result};
use crate::engine::{Connections, Engine};
pub(crate) use caller::{Caller, Reach, Token};

/// What the server tells a client it is for.
const INSTRUCTIONS: &str = "jobctl runs scheduled jobs: scripts and AI coding agents. \
These tools list its jobs, start runs of them (from inside a jobctl run: sub-runs of that run), \
wait for runs and read their results and logs, pause, resume or cancel them, and show the agents' budgets. \
Each run's record is also a resource, jobctl://runs/ID, and its log jobctl://runs/ID/log.";

/// The MCP server: one caller's view of one jobctl state.
#[derive(Clone)]
pub(crate) struct Jobctl {
    cfg: Arc<Config>,
    conns: Connections,
    /// Who calls, when the transport says it once for all (stdio); over HTTP each
    /// request carries its own (`Caller` in the request's extensions).
    caller: Option<Caller>,
    tools: ToolRouter<Jobctl>,
}

impl Jobctl {
    pub(crate) fn new(cfg: Arc<Config>, conns: Connections, caller: Option<Caller>) -> Jobctl {
        Jobctl {
            cfg,
            conns,
            caller,
            tools: Self::tool_router(),
        }
    }

    /// The same server over another config (a server's, reloaded).
    pub(crate) fn for_state(&self, cfg: Arc<Config>, conns: Connections) -> Jobctl {
        Jobctl {
            cfg,
            conns,
            caller: self.caller.clone(),
            tools: self.tools.clone(),
        }
    }

    /// Who makes this request.
    fn caller_of(&self, ctx: &RequestContext<RoleServer>) -> Option<Caller> {
        let from_request = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>().cloned());
        from_request.or_else(|| self.caller.clone())
    }

    /// Runs `f` on an engine off the async threads, as the caller; its answer as the
    /// tool's JSON, its error as a tool error with the command line's message. A client
    /// that cancels the request sets the stop flag a waiting tool looks at.
    async fn act<T: Serialize + Send + 'static>(
        &self,
        ctx: &RequestContext<RoleServer>,
        f: impl FnOnce(&mut Engine<'_>, &Caller, &dyn Fn() -> bool) -> Result<T> + Send + 'static,
    ) -> CallToolResult {
        let Some(caller) = self.caller_of(ctx) else {
            return tool_error("no caller: the request carries no token");
        };
        let (cfg, conns) = (self.cfg.clone(), self.conns.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let work = tokio::task::spawn_blocking(move || {
            let mut e = Engine::open_reusing(&cfg, &conns)?;
            f(&mut e, &caller, &|| stopped.load(Ordering::Relaxed))
        });
        let ct = ctx.ct.clone();
        let stopping = async move {
            ct.cancelled().await;
            stop.store(true, Ordering::Relaxed);
            std::future::pending::<()>().await;
        };
        let done = tokio::select! {
            done = work => done,
            () = stopping => unreachable!("stopping never ends"),
        };
        match done {
            Ok(Ok(v)) => match serde_json::to_value(v) {
                Ok(v) => CallToolResult::structured(v),
                Err(e) => tool_error(e.to_string()),
            },
            Ok(Err(e)) => tool_error(e.to_string()),
            Err(e) => tool_error(format!("the call failed: {e}")),
        }
    }

    /// The tools this caller may call: a token without the write scope gets only those
    /// that read.
    fn tools_for(&self, caller: Option<&Caller>) -> Vec<Tool> {
        let acts = caller.is_some_and(Caller::may_act);
        self.tools
            .list_all()
            .into_iter()
            .filter(|t| acts || reads_only(t))
            .collect()
    }
}

/// Whether the tool only reads (its `readOnlyHint`).
fn reads_only(t: &Tool) -> bool {
    t.annotations
        .as_ref()
        .and_then(|a| a.read_only_hint)
        .unwrap_or(false)
}

/// A tool error: the model reads `text`.
fn tool_error(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

impl ServerHandler for Jobctl {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("jobctl", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult {
            tools: self.tools_for(self.caller_of(&ctx).as_ref()),
            ..Default::default()
        })
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let caller = self.caller_of(&ctx);
        let known = self.tools.get(&request.name).cloned();
        if let Some(t) = &known
            && !reads_only(t)
            && !caller.as_ref().is_some_and(Caller::may_act)
        {
            let who = match &caller {
                Some(Caller::Token(t)) => format!("the token of {}", t.subject),
                _ => "this caller".into(),
            };
            return Ok(tool_error(format!(
                "{who} can't call {}: it needs the scope write",
                request.name
            ))
            .into());
        }
        self.tools
            .call(ToolCallContext::new(self, request, ctx))
            .await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourcesResult, ErrorData> {
        let Some(caller) = self.caller_of(&ctx) else {
            return Ok(ListResourcesResult::default());
        };
        let (cfg, conns) = (self.cfg.clone(), self.conns.clone());
        let runs = tokio::task::spawn_blocking(move || {
            let mut e = Engine::open_reusing(&cfg, &conns)?;
            act::resource_runs(&mut e, &caller)
        })
        .await
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let mut r = ListResourcesResult::default();
        for run in runs {
            let what = format!("run {} of {} ({})", run.id, run.job, run.status);
            r.resources.push(
                Resource::new(format!("jobctl://runs/{}", run.id), what.clone())
                    .with_mime_type("application/json"),
            );
            r.resources.push(
                Resource::new(
                    format!("jobctl://runs/{}/log", run.id),
                    format!("{what}: log"),
                )
                .with_mime_type("text/plain"),
            );
        }
        Ok(r)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult {
            resource_templates: vec![
                ResourceTemplate::new("jobctl://runs/{id}", "run")
                    .with_description("a run's record: the `jobctl show` document")
                    .with_mime_type("application/json"),
                ResourceTemplate::new("jobctl://runs/{id}/log", "run log")
                    .with_description("the end of a run's output log")
                    .with_mime_type("text/plain"),
            ],
            ..Default::default()
        })
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ReadResourceResponse, ErrorData> {
        let Some(caller) = self.caller_of(&ctx) else {
            return Err(ErrorData::invalid_request("no caller", None));
        };
        let (cfg, conns) = (self.cfg.clone(), self.conns.clone());
        let uri = request.uri.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut e = Engine::open_reusing(&cfg, &conns)?;
            act::resource(&mut e, &caller, &uri)
        })
        .await
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        match read {
            Ok(Some((text, mime))) => Ok(ReadResourceResult::new(vec![
                ResourceContents::text(text, request.uri).with_mime_type(mime),
            ])
            .into()),
            Ok(None) | Err(Error::NotFound(_)) => Err(ErrorData::resource_not_found(
                format!("no resource {}", request.uri),
                None,
            )),
            Err(e) => Err(ErrorData::invalid_params(e.to_string(), None)),
        }
    }
}

/// `jobctl mcp`: serves the tools over stdio until the client closes it or stops the
/// process. Inside a run of this state (its marks), the caller is that run.
pub(crate) fn serve_stdio(cfg: Config) -> Result<u8> {
    // The first open brings the state up to date and says where it is.
    let state_dir = Engine::open(&cfg)?.state_dir().to_path_buf();
    let caller = match crate::engine::env::calling_run(&state_dir) {
        Some(id) => Caller::Run(id),
        None => Caller::User,
    };
    let conns = Connections::for_config(&cfg);
    let server = Jobctl::new(Arc::new(cfg), conns, Some(caller));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("can't start the MCP server: {e}")))?;
    let served = rt.block_on(async move {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Error::Failed(format!("MCP over stdio: {e}")))?;
        running
            .waiting()
            .await
            .map_err(|e| Error::Failed(format!("MCP over stdio: {e}")))?;
        Ok::<u8, Error>(0)
    });
    // A tool still waiting on a blocking thread (the client went) is not waited for.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    served
}
