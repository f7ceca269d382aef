//! `mcp = true` with the real claude, codex and gemini CLIs (mcp.md, "Proven with the real
//! CLIs"): each CLI, talking to the model-API stub on loopback, starts `jobctl mcp` itself
//! from the wiring jobctl gives it, the stub answers with a call of one of jobctl's tools,
//! and the tool acts as the run: a sub-run of the right job at depth 1 that runs, its
//! result in the model's next request; a depth limit reached, or a run outside the
//! caller's tree, is a tool error the model reads, and the run goes on.

use crate::realcli::{log_of, outcomes, stub_env_with};
use crate::support::model_stub::{ModelStub, Script};
use crate::support::*;

use serde_json::Value;

/// An env with the agents pointed at `stub` and a `manager` job of `agent` with
/// `mcp = true`, whose tools may submit `worker`; `runner_extra` goes into `[runner]`.
fn mcp_env(stub: &ModelStub, agent: &str, runner_extra: &str) -> (Env, Sweep) {
    stub_env_with(
        stub,
        runner_extra,
        &format!(
            "[jobs.manager]\ntype = \"agent\"\nagent = \"{agent}\"\nmcp = true\nprompt = \"hand the work to a worker\"\nworkdir = \"work\"\ntimeout = \"2m\"\n\n\
             [jobs.worker]\ntype = \"script\"\ncommand = \"echo worker ran\"\n"
        ),
    )
}

/// Forces `manager`; it succeeds through `agent` whatever its tool answered.
fn run_manager(env: &Env, agent: &str) -> Value {
    let o = env.run(&["force", "manager"]);
    ok(&o);
    let run = env.last_run("manager");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        outcomes(&run),
        [(agent.to_string(), "succeeded".to_string())],
        "{run:#}"
    );
    let log = log_of(env, &run);
    assert!(
        log.contains(&format!("jobctl's MCP tools wired into {agent}")),
        "{log}"
    );
    run
}

/// The stub's requests after the tool call, with JSON strings' quotes unescaped: where the
/// tool's answer reached the model.
fn seen_by_model(stub: &ModelStub) -> String {
    stub.bodies().join("\n").replace("\\\"", "\"")
}

fn events(env: &Env, id: i64) -> Vec<Value> {
    let o = env.run(&["events", "--run", &id.to_string(), "--json", "-n", "1000"]);
    ok(&o);
    serde_json::from_slice(&o.stdout).expect("events --json")
}

fn submits_a_sub_run(agent: &str) {
    let stub = ModelStub::start(Script::Mcp {
        tool: "submit_run",
        args: r#"{"job":"worker","wait":true}"#,
    });
    let (env, _s) = mcp_env(&stub, agent, "");
    let manager = run_manager(&env, agent);
    let mid = manager["run_id"].as_i64().unwrap();
    let worker = env.last_run("worker");
    assert_eq!(worker["status"], "succeeded", "the sub-run ran: {worker:#}");
    assert_eq!(worker["parent_run_id"], mid, "{worker:#}");
    assert_eq!(worker["depth"], 1, "{worker:#}");
    assert_eq!(worker["trigger"], "submit", "{worker:#}");
    let wid = worker["run_id"].as_i64().unwrap();
    let queued = events(&env, wid)
        .into_iter()
        .find(|e| e["kind"] == "run_queued")
        .unwrap();
    assert_eq!(queued["by"], format!("mcp:{mid}"), "{queued}");
    assert_eq!(
        queued["reason"],
        format!("submitted by run {mid} of manager"),
        "{queued}"
    );
    let seen = seen_by_model(&stub);
    assert!(
        seen.contains(&format!("\"parent_run_id\":{mid}"))
            && seen.contains(&format!("\"run_id\":{wid}")),
        "the tool's result reached the model's next request: {seen}"
    );
    // The parent records the child: its tree.
    let o = env.run(&["history", "--tree", "--json"]);
    ok(&o);
    let tree: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        tree.iter()
            .any(|r| r["run_id"] == wid && r["parent_run_id"] == mid),
        "{}",
        both(&o)
    );
    assert!(
        !env.state_dir()
            .join("mcp")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "what the wiring made for the call is gone"
    );
}

fn a_depth_limit_is_a_tool_error(agent: &str) {
    let stub = ModelStub::start(Script::Mcp {
        tool: "submit_run",
        args: r#"{"job":"worker"}"#,
    });
    let (env, _s) = mcp_env(&stub, agent, "max_depth = 0\n");
    let manager = run_manager(&env, agent);
    let mid = manager["run_id"].as_i64().unwrap();
    let seen = seen_by_model(&stub);
    let want = format!(
        "depth limit 0 reached: a run of worker submitted by run {mid} would be at depth 1"
    );
    assert!(seen.contains(&want), "the model read the refusal: {seen}");
    assert!(
        env.history_json(&["worker"]).is_empty(),
        "nothing submitted"
    );
    assert!(
        events(&env, mid)
            .iter()
            .any(|e| e["kind"] == "submit_refused"),
        "the refusal is an event of the run"
    );
}

fn a_run_outside_its_tree_is_refused(agent: &str) {
    let stub = ModelStub::start(Script::Mcp {
        tool: "cancel_run",
        args: r#"{"run_id":1}"#,
    });
    let (env, _s) = mcp_env(&stub, agent, "");
    let o = env.run(&["submit", "--wait", "worker"]);
    ok(&o);
    let manager = run_manager(&env, agent);
    let mid = manager["run_id"].as_i64().unwrap();
    assert_eq!(mid, 2);
    let seen = seen_by_model(&stub);
    assert!(
        seen.contains("run 1 (worker) is outside the tree of run 2"),
        "{seen}"
    );
    assert!(
        !events(&env, 1)
            .iter()
            .any(|e| e["kind"] == "cancel_requested"),
        "nothing asked of run 1"
    );
}

#[test]
fn claude_submits_a_sub_run_through_jobctl_mcp() {
    if have("claude") {
        submits_a_sub_run("claude");
    }
}

#[test]
fn claude_reads_a_depth_limit_as_a_tool_error() {
    if have("claude") {
        a_depth_limit_is_a_tool_error("claude");
    }
}

#[test]
fn claude_is_refused_a_run_outside_its_tree() {
    if have("claude") {
        a_run_outside_its_tree_is_refused("claude");
    }
}

#[test]
fn codex_submits_a_sub_run_through_jobctl_mcp() {
    if have("codex") {
        submits_a_sub_run("codex");
    }
}

#[test]
fn codex_reads_a_depth_limit_as_a_tool_error() {
    if have("codex") {
        a_depth_limit_is_a_tool_error("codex");
    }
}

#[test]
fn codex_is_refused_a_run_outside_its_tree() {
    if have("codex") {
        a_run_outside_its_tree_is_refused("codex");
    }
}

#[test]
fn gemini_submits_a_sub_run_through_jobctl_mcp() {
    if have("gemini") {
        submits_a_sub_run("gemini");
    }
}

#[test]
fn gemini_reads_a_depth_limit_as_a_tool_error() {
    if have("gemini") {
        a_depth_limit_is_a_tool_error("gemini");
    }
}

#[test]
fn gemini_is_refused_a_run_outside_its_tree() {
    if have("gemini") {
        a_run_outside_its_tree_is_refused("gemini");
    }
}
