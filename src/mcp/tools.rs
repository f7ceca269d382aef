//! The tools as a model sees them (mcp.md): each one's name, its arguments' JSON schema
//! and a description written for a model to read, declared with the SDK's macros. Each
//! tool hands its arguments to `act.rs` on an engine and returns the JSON answer, or a
//! tool error carrying the command line's message. Names and schemas are stable
//! (docs/mcp.md).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::Jobctl;
use super::act::{self, Move};

// No `deny_unknown_fields` on arguments: gemini adds its own (`wait_for_previous`).

#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct SubmitRunArgs {
    /// The job to run: a name `list_jobs` shows.
    pub job: String,
    /// For an agent job: the prompt of this run, instead of the job's own.
    pub prompt: Option<String>,
    /// Variables added to the run's environment (NAME: value; no JOBCTL_* names).
    pub env: Option<BTreeMap<String, String>>,
    /// Any JSON object, stored on the run and given to its processes as JOBCTL_RUN_METADATA.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Return only when the run has ended, with its status, exit code, answer (agent jobs),
    /// usage and changed files. Without it, return at once with the run queued or running.
    pub wait: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct RunIdArgs {
    /// The run's id (`run_id` of `submit_run`'s answer).
    pub run_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct WaitRunsArgs {
    /// The runs to wait for.
    pub run_ids: Vec<i64>,
    /// The most seconds to wait (default 25, at most 3600). Runs still going then are
    /// returned in `pending`: call again to keep waiting.
    pub timeout_s: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct RunLogArgs {
    /// The run's id.
    pub run_id: i64,
    /// The last this many bytes of its output.
    pub tail: Option<u64>,
    /// Its output from this position on (`next_offset` of the previous call).
    pub offset: Option<u64>,
    /// The most bytes to return (default 16384, at most 262144).
    pub max_bytes: Option<u64>,
}

/// How long `wait_runs` waits unless told: within the tool-call time agent CLIs allow
/// (codex's code mode hands back to the model after 30 s).
const WAIT_DEFAULT: Duration = Duration::from_secs(25);
const WAIT_MAX: f64 = 3600.0;

#[tool_router(vis = "pub(super)")]
impl Jobctl {
    #[tool(
        description = "List jobctl's jobs: each job's name, type (script or agent), schedule, next start, whether it is enabled or paused, and how its last run went. Use it to find the job names that submit_run takes.",
        annotations(read_only_hint = true)
    )]
    async fn list_jobs(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        self.act(&ctx, |e, c, _| act::list_jobs(e, c)).await
    }

    #[tool(
        description = "Start a run of a job. From inside a jobctl run, the new run is a sub-run of the calling run (one level deeper; jobctl's depth limits, concurrency and tree budget apply). Returns the run (run_id, status: queued or running, and while queued what it waits for). With wait=true, returns when the run has ended, with its status, exit_code, answer (agent jobs), usage and changes; for long runs prefer submitting several without wait, then wait_runs.",
        annotations(destructive_hint = false)
    )]
    async fn submit_run(
        &self,
        Parameters(p): Parameters<SubmitRunArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let args = act::SubmitArgs {
            job: p.job,
            prompt: p.prompt,
            env: p.env.unwrap_or_default(),
            metadata: p.metadata.map(serde_json::Value::Object),
            wait: p.wait.unwrap_or(false),
        };
        self.act(&ctx, move |e, c, stop| act::submit_run(e, c, args, stop))
            .await
    }

    #[tool(
        description = "A run's full record (the `jobctl show` document): status, times, exit code, error, trigger, parent and depth, agent usage and cost, workspace and changed files, hooks, its events, the last lines of its log, and for an ended agent run its answer.",
        annotations(read_only_hint = true)
    )]
    async fn get_run(
        &self,
        Parameters(p): Parameters<RunIdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.act(&ctx, move |e, c, _| act::get_run(e, c, p.run_id))
            .await
    }

    #[tool(
        description = "Wait for runs to end, up to timeout_s seconds (default 25). Returns `ended` (each run's status, exit_code, answer for agent jobs, usage and changes) and `pending` (the runs still going; timed_out is then true: call again to keep waiting).",
        annotations(read_only_hint = true)
    )]
    async fn wait_runs(
        &self,
        Parameters(p): Parameters<WaitRunsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let wait = match p.timeout_s {
            Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s.min(WAIT_MAX)),
            Some(s) => {
                return super::tool_error(format!(
                    "timeout_s {s} is not a number of seconds from 0 to {WAIT_MAX}"
                ));
            }
            None => WAIT_DEFAULT,
        };
        let deadline = Instant::now() + wait;
        self.act(&ctx, move |e, c, stop| {
            act::wait_runs(e, c, &p.run_ids, deadline, stop)
        })
        .await
    }

    #[tool(
        description = "A slice of a run's output log: by default its last 16 KiB; `tail` for the last N bytes, or `offset` to read on from `next_offset` of a previous call. Returns text, next_offset and whether the run has ended.",
        annotations(read_only_hint = true)
    )]
    async fn run_log(
        &self,
        Parameters(p): Parameters<RunLogArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.act(&ctx, move |e, c, _| {
            act::run_log(e, c, p.run_id, p.tail, p.offset, p.max_bytes)
        })
        .await
    }

    #[tool(
        description = "Cancel a run and every sub-run below it: their processes are stopped and each is recorded cancelled. Returns the run as it ended.",
        annotations(destructive_hint = true)
    )]
    async fn cancel_run(
        &self,
        Parameters(p): Parameters<RunIdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.act(&ctx, move |e, c, _| {
            act::control_run(e, c, p.run_id, Move::Cancel)
        })
        .await
    }

    #[tool(
        description = "Pause a running run: its processes are stopped (SIGSTOP) and its timeout clock stands still; it keeps its slot. `changed: false` if it was paused already.",
        annotations(destructive_hint = false)
    )]
    async fn pause_run(
        &self,
        Parameters(p): Parameters<RunIdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.act(&ctx, move |e, c, _| {
            act::control_run(e, c, p.run_id, Move::Pause)
        })
        .await
    }

    #[tool(
        description = "Resume a paused run. `changed: false` if it was running already.",
        annotations(destructive_hint = false)
    )]
    async fn resume_run(
        &self,
        Parameters(p): Parameters<RunIdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.act(&ctx, move |e, c, _| {
            act::control_run(e, c, p.run_id, Move::Resume)
        })
        .await
    }

    #[tool(
        description = "The agents' budgets for today: for each agent and scope, what was used, the daily budget, whether it is enabled, and if not, why. A run of an agent job whose scope is disabled or spent is skipped.",
        annotations(read_only_hint = true)
    )]
    async fn budgets(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        self.act(&ctx, |e, c, _| act::budgets(e, c)).await
    }
}
