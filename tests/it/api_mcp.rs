//! `/mcp` on `jobctl serve` (mcp.md): the same tools over Streamable HTTP, behind the API's
//! tokens. No token is the API's 401; a read token is offered only the tools that read and
//! may call no other; a token limited to some jobs reaches nothing else; what a write
//! token does is recorded as done by `api:SUBJECT`.

use crate::support::server::{Server, token};
use crate::support::*;

use serde_json::{Value, json};

/// One JSON-RPC request to `/mcp` (stateless: no session to open first).
fn rpc(s: &Server, tok: Option<&str>, method: &str, params: Value) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let r = s.request(
        "POST",
        "/mcp",
        tok,
        Some(&body),
        &[("Accept", "application/json, text/event-stream")],
    );
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

fn tools(s: &Server, tok: &str) -> Vec<String> {
    let (status, v) = rpc(s, Some(tok), "tools/list", json!({}));
    assert_eq!(status, 200, "{v}");
    let mut names: Vec<String> = v["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Calls a tool: (is it an error, its text, its JSON).
fn call(s: &Server, tok: &str, tool: &str, args: Value) -> (bool, String, Value) {
    let (status, v) = rpc(
        s,
        Some(tok),
        "tools/call",
        json!({"name": tool, "arguments": args}),
    );
    assert_eq!(status, 200, "{v}");
    let r = &v["result"];
    (
        r["isError"] == json!(true),
        r["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        r["structuredContent"].clone(),
    )
}

#[test]
fn mcp_over_http_is_behind_the_tokens_and_their_scopes_and_jobs() {
    let env = Env::new();
    env.config(&format!(
        "{}\n[jobs.alpha-report]\ntype = \"script\"\ncommand = \"echo alpha\"\n\n\
         [jobs.bravo-report]\ntype = \"script\"\ncommand = \"echo bravo\"\n",
        runner(&env, "")
    ));
    let write = token(&env, &["--scope", "write", "--sub", "ops"]);
    let read = token(&env, &["--scope", "read", "--sub", "dash"]);
    let alpha = token(
        &env,
        &[
            "--scope",
            "write",
            "--jobs",
            "alpha-*",
            "--sub",
            "team-alpha",
        ],
    );
    let s = Server::start(&env);

    let (status, v) = rpc(&s, None, "tools/list", json!({}));
    assert_eq!(status, 401, "{v}");
    let (status, _) = rpc(&s, Some("garbage"), "tools/list", json!({}));
    assert_eq!(status, 401);

    assert_eq!(tools(&s, &write).len(), 9);
    assert_eq!(
        tools(&s, &read),
        ["budgets", "get_run", "list_jobs", "run_log", "wait_runs"],
        "a read token is offered the tools that read"
    );
    let (err, text, _) = call(&s, &read, "submit_run", json!({"job": "alpha-report"}));
    assert!(err, "{text}");
    assert_eq!(
        text,
        "the token of dash can't call submit_run: it needs the scope write"
    );

    let (err, text, run) = call(
        &s,
        &write,
        "submit_run",
        json!({"job": "bravo-report", "wait": true}),
    );
    assert!(!err, "{text}");
    assert_eq!(run["status"], "succeeded", "{run}");
    let bravo = run["run_id"].as_i64().unwrap();
    let o = env.run(&["events", "--run", &bravo.to_string(), "--json"]);
    let evs: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let queued = evs.iter().find(|e| e["kind"] == "run_queued").unwrap();
    assert_eq!(
        (queued["by"].as_str(), queued["subject"].as_str()),
        (Some("api"), Some("ops")),
        "{queued}"
    );
    let (err, _, got) = call(&s, &read, "get_run", json!({"run_id": bravo}));
    assert!(!err && got["status"] == "succeeded", "{got}");

    // The alpha token: its jobs only, as if nothing else existed.
    let (err, text, jobs) = call(&s, &alpha, "list_jobs", json!({}));
    assert!(!err, "{text}");
    let names: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha-report"]);
    let (err, text, _) = call(&s, &alpha, "get_run", json!({"run_id": bravo}));
    assert!(
        err && text == format!("no run {bravo} in the history"),
        "{text}"
    );
    let (err, text, _) = call(&s, &alpha, "run_log", json!({"run_id": bravo}));
    assert!(err && text.contains("no run"), "{text}");
    let (err, text, _) = call(&s, &alpha, "submit_run", json!({"job": "bravo-report"}));
    assert!(err && text == "no job named \"bravo-report\"", "{text}");
    let (err, text, mine) = call(&s, &alpha, "submit_run", json!({"job": "alpha-report"}));
    assert!(!err, "{text}");
    let mine = mine["run_id"].as_i64().unwrap();
    let (err, text, waited) = call(
        &s,
        &alpha,
        "wait_runs",
        json!({"run_ids": [mine], "timeout_s": 30}),
    );
    assert!(
        !err && waited["ended"][0]["status"] == "succeeded",
        "{text}"
    );
    let (status, v) = rpc(
        &s,
        Some(&alpha),
        "resources/read",
        json!({"uri": format!("jobctl://runs/{bravo}/log")}),
    );
    assert!(status == 200 && v["error"].is_object(), "{v}");
    assert_eq!(
        env.history_json(&["bravo-report"]).len(),
        1,
        "nothing more of bravo"
    );
}
