//! jobctl's tools over MCP (mcp.md), through the real binary: `jobctl mcp` spoken to line
//! by line over stdio as an agent CLI speaks to it. Each tool acts through the engine
//! (the runs, their events and `by`, as the command line sees them); errors are tool
//! errors with the command line's words and the server keeps answering after them; from
//! inside a run (its marks) the tools act as that run: its submits are sub-runs, under
//! `max_depth` and `depth_limits`, and it reaches only its own tree.

use crate::support::mcp::McpClient;
use crate::support::*;

use std::time::Duration;

use jobctl::core::run::RunStatus;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);

fn env_with(jobs: &str, runner_extra: &str) -> Env {
    let env = Env::new();
    env.config(&format!("{}\n{jobs}", runner(&env, runner_extra)));
    env
}

const JOBS: &str = r#"
[jobs.worker]
type = "script"
command = "echo worker says $GREETING; echo meta=$JOBCTL_RUN_METADATA"

[jobs.sleeper]
type = "script"
command = "sleep 30"

[jobs.manager]
type = "script"
command = "sleep 30"
concurrency = 2
"#;

/// `jobctl mcp` as a user's own agent session starts it.
fn user(env: &Env) -> McpClient {
    McpClient::start(env.cmd(&["mcp"]))
}

/// `jobctl mcp` as started inside run `id` (the marks every process of a run has).
fn inside(env: &Env, id: i64) -> McpClient {
    let mut c = env.cmd(&["mcp"]);
    c.env("JOBCTL_RUN_ID", id.to_string())
        .env("JOBCTL_STATE_DIR", env.state_dir());
    McpClient::start(c)
}

fn events(env: &Env, id: i64) -> Vec<Value> {
    let o = env.run(&["events", "--run", &id.to_string(), "--json", "-n", "1000"]);
    ok(&o);
    serde_json::from_slice(&o.stdout).expect("events --json")
}

fn run_id(v: &Value) -> i64 {
    v["run_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no run_id: {v}"))
}

#[test]
fn every_tool_answers_over_stdio_and_acts_through_the_engine() {
    let env = env_with(JOBS, "");
    let mut c = user(&env);
    let mut names = c.tool_names();
    names.sort();
    assert_eq!(
        names,
        [
            "budgets",
            "cancel_run",
            "get_run",
            "list_jobs",
            "pause_run",
            "resume_run",
            "run_log",
            "submit_run",
            "wait_runs"
        ]
    );
    let tools = c.request("tools/list", json!({}));
    let submit = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "submit_run")
        .unwrap()
        .clone();
    assert_eq!(
        submit["inputSchema"]["required"],
        json!(["job"]),
        "{submit}"
    );
    for arg in ["job", "prompt", "env", "metadata", "wait"] {
        assert!(
            submit["inputSchema"]["properties"][arg]["description"].is_string(),
            "{arg} is described: {submit}"
        );
    }

    let jobs = c.ok("list_jobs", json!({}));
    let jobs: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["manager", "sleeper", "worker"]);

    // Submitted and waited for: its result, and the run as the command line sees it.
    let done = c.ok(
        "submit_run",
        json!({"job": "worker", "env": {"GREETING": "hi"}, "metadata": {"ticket": 7}, "wait": true}),
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["exit_code"], 0);
    assert_eq!(done["trigger"], "submit");
    assert_eq!(done["depth"], 0);
    let id = run_id(&done);
    let cli = Cli(&env).doc(id);
    assert_eq!(status_of(&cli), RunStatus::Succeeded);
    let queued = events(&env, id)
        .into_iter()
        .find(|e| e["kind"] == "run_queued")
        .expect("a run_queued event");
    assert_eq!(queued["by"], "mcp", "{queued}");

    let log = c.ok("run_log", json!({"run_id": id}));
    let text = log["text"].as_str().unwrap();
    assert!(text.contains("worker says hi"), "{log}");
    assert!(text.contains(r#"meta={"ticket":7}"#), "{log}");
    assert_eq!(log["ended"], true);
    let next = log["next_offset"].as_u64().unwrap();
    let rest = c.ok("run_log", json!({"run_id": id, "offset": next}));
    assert_eq!(rest["text"], "", "nothing after the end: {rest}");
    let tail = c.ok("run_log", json!({"run_id": id, "tail": 5}));
    assert_eq!(tail["text"].as_str().unwrap().len(), 5, "{tail}");

    let shown = c.ok("get_run", json!({"run_id": id}));
    assert_eq!(shown["run_id"], id);
    assert!(shown["events"].as_array().unwrap().len() >= 2, "{shown}");
    assert!(shown["log_tail"].is_array(), "{shown}");

    // Not waited for; then wait_runs, pause, resume and cancel of a long one.
    let quick = c.ok("submit_run", json!({"job": "worker"}));
    let long = c.ok("submit_run", json!({"job": "sleeper"}));
    let (quick, long) = (run_id(&quick), run_id(&long));
    let waited = c.ok(
        "wait_runs",
        json!({"run_ids": [quick, long], "timeout_s": 3}),
    );
    assert_eq!(waited["timed_out"], true, "{waited}");
    assert_eq!(waited["ended"][0]["run_id"], quick, "{waited}");
    assert_eq!(waited["pending"][0]["run_id"], long, "{waited}");
    wait_status(&Cli(&env), long, RunStatus::Running, LIMIT);
    let paused = c.ok("pause_run", json!({"run_id": long}));
    assert_eq!(
        (paused["status"].as_str(), paused["changed"].as_bool()),
        (Some("paused"), Some(true)),
        "{paused}"
    );
    let resumed = c.ok("resume_run", json!({"run_id": long}));
    assert_eq!(resumed["status"], "running", "{resumed}");
    let cancelled = c.ok("cancel_run", json!({"run_id": long}));
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_nothing_left(&env, long);
    let by: Vec<(String, String)> = events(&env, long)
        .iter()
        .filter_map(|e| {
            let by = e["by"].as_str().or(e["detail"]["actor"].as_str())?;
            Some((e["kind"].as_str()?.to_string(), by.to_string()))
        })
        .collect();
    for kind in ["run_paused", "run_resumed", "cancel_requested"] {
        assert!(
            by.iter().any(|(k, b)| k == kind && b == "mcp"),
            "{kind} by mcp: {by:?}"
        );
    }

    let budgets = c.ok("budgets", json!({}));
    assert!(
        budgets["scopes"].is_array() && budgets["budget_day"].is_string(),
        "{budgets}"
    );

    // Resources: each run's record and log.
    let listed = c.request("resources/list", json!({}));
    let uris: Vec<&str> = listed["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(
        uris.contains(&format!("jobctl://runs/{id}/log").as_str()),
        "{listed}"
    );
    let read = c.request(
        "resources/read",
        json!({"uri": format!("jobctl://runs/{id}/log")}),
    );
    let text = read["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(text.contains("worker says hi"), "{read}");
    let read = c.request(
        "resources/read",
        json!({"uri": format!("jobctl://runs/{id}")}),
    );
    let doc: Value =
        serde_json::from_str(read["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(doc["status"], "succeeded");
    let none = c.request("resources/read", json!({"uri": "jobctl://runs/999"}));
    assert!(none["error"].is_object(), "{none}");
}

#[test]
fn bad_calls_are_tool_errors_with_the_cli_words_and_the_server_keeps_answering() {
    let env = env_with(JOBS, "");
    let mut c = user(&env);
    let e = c.err("submit_run", json!({"job": "worke"}));
    assert_eq!(e, "no such job 'worke' (did you mean 'worker'?)");
    let cli = env.run(&["submit", "worke"]);
    assert!(stderr(&cli).contains(&e), "the CLI's words: {}", both(&cli));
    let e = c.err("submit_run", json!({"jobs": "worker"}));
    assert!(e.contains("missing field `job`"), "{e}");
    let e = c.err("submit_run", json!({"job": "worker", "prompt": "hi"}));
    assert!(e.contains("--prompt is for agent jobs"), "{e}");
    let e = c.err(
        "submit_run",
        json!({"job": "worker", "env": {"JOBCTL_RUN_ID": "1"}}),
    );
    assert!(e.contains("JOBCTL_"), "{e}");
    let e = c.err("get_run", json!({"run_id": 4242}));
    assert_eq!(e, "no run 4242 in the history");
    let e = c.err("cancel_run", json!({"run_id": 4242}));
    assert_eq!(e, "no run 4242 in the history");
    let e = c.err("run_log", json!({"run_id": 1, "tail": 1, "offset": 1}));
    assert_eq!(e, "give tail or offset, not both");
    let e = c.err("wait_runs", json!({"run_ids": []}));
    assert!(e.contains("run_ids is empty"), "{e}");
    // An unknown tool is a protocol error; a line that is not JSON is passed over.
    let v = c.request(
        "tools/call",
        json!({"name": "no_such_tool", "arguments": {}}),
    );
    assert!(v["error"]["code"].is_i64(), "{v}");
    c.send_line("{not json");
    // Gemini adds an argument of its own to every call: it is let through.
    let ran = c.ok(
        "submit_run",
        json!({"job": "worker", "wait": true, "wait_for_previous": true}),
    );
    assert_eq!(ran["status"], "succeeded", "{ran}");
    assert_eq!(c.tool_names().len(), 9, "still answering");
    // Nothing was recorded by the refused calls.
    assert_eq!(env.history_json(&["-n", "100"]).len(), 1);
}

#[test]
fn inside_a_run_it_submits_sub_runs_and_reaches_only_its_own_tree() {
    let env = env_with(JOBS, "max_depth = 1\ndepth_limits = [10, 1]");
    let o = env.run(&["submit", "manager"]);
    ok(&o);
    let manager: i64 = stdout(&o).trim().parse().unwrap();
    let o = env.run(&["submit", "manager"]);
    let stranger: i64 = stdout(&o).trim().parse().unwrap();
    wait_status(&Cli(&env), manager, RunStatus::Running, LIMIT);
    wait_status(&Cli(&env), stranger, RunStatus::Running, LIMIT);

    let mut c = inside(&env, manager);
    let child = c.ok("submit_run", json!({"job": "sleeper"}));
    assert_eq!(
        (child["parent_run_id"].as_i64(), child["depth"].as_i64()),
        (Some(manager), Some(1)),
        "{child}"
    );
    let child = run_id(&child);
    let queued = events(&env, child)
        .into_iter()
        .find(|e| e["kind"] == "run_queued")
        .unwrap();
    assert_eq!(queued["by"], format!("mcp:{manager}"), "{queued}");
    // depth_limits: one run at depth 1; the next waits, and says why.
    let second = c.ok("submit_run", json!({"job": "worker"}));
    assert_eq!(second["status"], "queued", "{second}");
    assert_eq!(
        second["waiting_for"], "depth_limits: 1 at depth 1",
        "{second}"
    );

    // Its tree: itself and below. Another run is out of reach, for reading and acting.
    c.ok("get_run", json!({"run_id": manager}));
    c.ok("get_run", json!({"run_id": child}));
    for tool in ["get_run", "cancel_run", "pause_run", "run_log"] {
        let e = c.err(tool, json!({"run_id": stranger}));
        assert!(
            e.contains(&format!("outside the tree of run {manager}")),
            "{tool}: {e}"
        );
    }
    let e = c.err("wait_runs", json!({"run_ids": [child, stranger]}));
    assert!(e.contains("outside the tree"), "{e}");
    assert_eq!(
        status_of(&Cli(&env).doc(stranger)),
        RunStatus::Running,
        "untouched"
    );

    // From a run at max_depth, a submit is a tool error naming the limit.
    let mut deep = inside(&env, child);
    let e = deep.err("submit_run", json!({"job": "worker"}));
    assert_eq!(
        e,
        format!(
            "depth limit 1 reached: a run of worker submitted by run {child} would be at depth 2"
        )
    );
    let e = deep.err("get_run", json!({"run_id": manager}));
    assert!(
        e.contains(&format!("outside the tree of run {child}")),
        "the parent is above it: {e}"
    );

    // Cancelling its own sub-run: recorded as done by it.
    let done = c.ok("cancel_run", json!({"run_id": child}));
    assert_eq!(done["status"], "cancelled");
    let req = events(&env, child)
        .into_iter()
        .find(|e| e["kind"] == "cancel_requested")
        .unwrap();
    assert_eq!(req["detail"]["actor"], format!("mcp:{manager}"), "{req}");
    for id in [manager, stranger] {
        ok(&env.run(&["cancel", &id.to_string()]));
    }
}

#[test]
fn mcp_on_a_command_agent_is_a_config_error_and_on_a_job_is_taken() {
    let env = env_with(
        "[agents.local]\npreset = \"command\"\ndaily_budget = 1\ncommand = [\"echo\", \"{prompt}\"]\nmcp = true\n\n\
         [jobs.hunt]\ntype = \"agent\"\nagent = \"local\"\nprompt = \"p\"\nmcp = true\n",
        "",
    );
    let o = env.run(&["check"]);
    assert_eq!(code(&o), 78, "{}", both(&o));
    let err = stderr(&o);
    assert!(err.contains("agents.local.mcp"), "{err}");
    assert!(
        !err.contains("jobs.hunt.mcp"),
        "the job key is known: {err}"
    );
}
