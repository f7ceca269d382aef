//! `jobctl serve` over real HTTP (api.md): every endpoint and its errors, pagination, the
//! token rules, `Idempotency-Key`, the OpenAPI document against the routes served, a run
//! forced and cancelled over the API, config reload, graceful shutdown, and the unix
//! socket. The live event stream has its own file (`api_events.rs`).

use crate::support::*;

use crate::support::server::{Server, token};

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);

fn config(env: &Env) -> String {
    format!(
        "{}\n[agents.claude]\npreset = \"claude\"\ndaily_budget = 5\n\n\
         [jobs.hello]\ntype = \"script\"\ncommand = \"echo hello; echo world\"\nevery = \"1d\"\n\n\
         [jobs.long]\ntype = \"script\"\ncommand = \"sleep 300 & sleep 300; wait\"\nevery = \"1d\"\n\n\
         [jobs.drip]\ntype = \"script\"\ncommand = \"for i in 1 2 3 4 5; do echo line$i; sleep 0.3; done\"\nevery = \"1d\"\n\n\
         [jobs.team-a-report]\ntype = \"script\"\ncommand = \"echo report\"\nevery = \"1d\"\n\n\
         [jobs.review]\ntype = \"agent\"\nagent = \"claude\"\nprompt = \"review\"\nevery = \"1d\"\n",
        runner(env, "")
    )
}

fn setup() -> (Env, Server, String, String) {
    let env = Env::new();
    env.config(&config(&env));
    let write = token(&env, &["--scope", "write", "--sub", "tester"]);
    let read = token(&env, &["--scope", "read", "--sub", "viewer"]);
    let server = Server::start(&env);
    (env, server, write, read)
}

/// Every field but those that move with the clock.
fn steady(rows: &Value) -> Value {
    let mut rows = rows.clone();
    for r in rows.as_array_mut().unwrap() {
        r.as_object_mut()
            .unwrap()
            .retain(|k, _| !k.contains("next") && k != "due");
    }
    rows
}

#[test]
fn jobs_endpoints_match_the_cli() {
    let (env, s, _write, read) = setup();
    let _sweep = Sweep::new(&env);

    let health = s.get("/healthz", None);
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    let jobs = s.get("/api/v1/jobs", Some(&read));
    assert_eq!(jobs.status, 200, "{}", jobs.body);
    assert!(
        jobs.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let cli = Value::Array(env.list_json());
    assert_eq!(steady(&jobs.json()), steady(&cli));

    let one = s.get("/api/v1/jobs/hello", Some(&read)).json();
    assert_eq!(one["name"], "hello");
    assert_eq!(one["config"]["type"], "script");
    assert_eq!(one["config"]["timezone"], "UTC");
    assert_eq!(one["next_slots"].as_array().unwrap().len(), 5, "{one:#}");
    let agent = s.get("/api/v1/jobs/review", Some(&read)).json();
    assert_eq!(agent["config"]["agent"], "claude", "{agent:#}");

    let missing = s.get("/api/v1/jobs/nope", Some(&read));
    assert_eq!(
        (missing.status, missing.error_code()),
        (404, "NOT_FOUND".into())
    );
    let unknown = s.get("/api/v1/nothing-here", Some(&read));
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (404, "NOT_FOUND".into())
    );

    let status = s.get("/api/v1/status", Some(&read)).json();
    assert!(status.get("last_tick").is_some(), "{status:#}");
    assert_eq!(status["config_error"], Value::Null);
    let cli_status: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    for key in cli_status.as_object().unwrap().keys() {
        assert!(status.get(key).is_some(), "status lacks {key}: {status:#}");
    }

    let page = s.get("/", None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html"), "{}", page.body);
    let js = s.get("/console/app.js", None);
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap().contains("javascript"));
    assert_eq!(s.get("/console/nope.js", None).status, 404);
}

#[test]
fn a_run_forced_over_the_api_has_its_record_events_and_log() {
    let (env, s, write, read) = setup();
    let _sweep = Sweep::new(&env);

    let r = s.post("/api/v1/jobs/hello/run", Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/runs/{id}").as_str())
    );
    let run = wait_ended(&s.api(&read), id, LIMIT);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["forced"], true);
    let kinds: Vec<&str> = run["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"run_started"), "{run:#}");
    assert_eq!(kinds.last(), Some(&"run_ended"), "{run:#}");
    // The same document as `jobctl show ID --json`.
    let show = env.run(&["show", &id.to_string(), "--json"]);
    ok(&show);
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(run, show);
    assert_eq!(run["log_tail"], json!(["hello", "world"]));
    let hist = env.history_json(&["hello"]);
    assert_eq!(hist[0]["run_id"], id);
    assert_eq!(hist[0]["status"], "succeeded");

    // Events from a sequence number, with a limit.
    let all = s
        .get(&format!("/api/v1/runs/{id}/events"), Some(&read))
        .json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), kinds.len());
    let first = all[0]["id"].as_i64().unwrap();
    let after = s
        .get(
            &format!("/api/v1/runs/{id}/events?after={first}&limit=1"),
            Some(&read),
        )
        .json();
    assert_eq!(after.as_array().unwrap().len(), 1);
    assert_eq!(after[0]["id"], all[1]["id"]);
    let bad = s.get(&format!("/api/v1/runs/{id}/events?limit=0"), Some(&read));
    assert_eq!((bad.status, bad.error_code()), (400, "BAD_REQUEST".into()));

    // The log, whole, its tail, from an offset.
    let log = s.get(&format!("/api/v1/runs/{id}/log"), Some(&read));
    assert_eq!(log.status, 200);
    assert!(
        log.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(log.body, "hello\nworld\n");
    assert_eq!(log.header("x-log-next"), Some("12"));
    let tail = s.get(&format!("/api/v1/runs/{id}/log?tail=6"), Some(&read));
    assert_eq!(tail.body, "world\n");
    let from = s.get(&format!("/api/v1/runs/{id}/log?offset=12"), Some(&read));
    assert_eq!(
        (from.body.as_str(), from.header("x-log-next")),
        ("", Some("12"))
    );
    let both = s.get(
        &format!("/api/v1/runs/{id}/log?tail=1&offset=1"),
        Some(&read),
    );
    assert_eq!(both.status, 400);

    for (path, code) in [
        ("/api/v1/runs/999999".to_string(), 404),
        ("/api/v1/runs/999999/events".into(), 404),
        ("/api/v1/runs/999999/log".into(), 404),
        ("/api/v1/runs/abc".into(), 400),
        ("/api/v1/runs?status=bogus".into(), 400),
        ("/api/v1/runs?limit=abc".into(), 400),
        ("/api/v1/runs?limit=501".into(), 400),
        ("/api/v1/runs?colour=red".into(), 400),
    ] {
        let r = s.get(&path, Some(&read));
        assert_eq!(r.status, code, "{path}: {}", r.body);
        assert!(
            r.json()["error"]["message"].as_str().is_some(),
            "{path}: {}",
            r.body
        );
    }
}

#[test]
fn a_followed_log_streams_until_the_run_ends() {
    let (env, s, write, read) = setup();
    let _sweep = Sweep::new(&env);
    let r = s.post("/api/v1/jobs/drip/run", Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    let started = std::time::Instant::now();
    let log = s.get(&format!("/api/v1/runs/{id}/log?follow=true"), Some(&read));
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(log.body, "line1\nline2\nline3\nline4\nline5\n");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "ended before the run did"
    );
    let run = s.get(&format!("/api/v1/runs/{id}"), Some(&read)).json();
    assert_eq!(
        run["status"], "succeeded",
        "the answer ended while the run went on"
    );
    // An ended run's log, followed: all of it, at once; from an offset: the rest.
    let again = s.get(
        &format!("/api/v1/runs/{id}/log?follow=true&offset=12"),
        Some(&read),
    );
    assert_eq!(again.body, "line3\nline4\nline5\n");
}

#[test]
fn runs_are_paginated_newest_first_by_cursor() {
    let (env, s, _write, read) = setup();
    for _ in 0..7 {
        ok(&env.run(&["force", "hello"]));
    }
    ok(&env.run(&["force", "team-a-report"]));
    let mut seen = Vec::new();
    let mut path = "/api/v1/runs?job=hello&limit=3".to_string();
    loop {
        let page = s.get(&path, Some(&read)).json();
        for r in page["runs"].as_array().unwrap() {
            assert_eq!(r["job"], "hello");
            seen.push(r["run_id"].as_i64().unwrap());
        }
        match page["next"].as_i64() {
            Some(n) => path = format!("/api/v1/runs?job=hello&limit=3&before={n}"),
            None => break,
        }
    }
    let from_cli: Vec<i64> = env
        .history_json(&["hello"])
        .iter()
        .map(|r| r["run_id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, from_cli);
    assert_eq!(seen.len(), 7);
    let ok_runs = s.get("/api/v1/runs?status=succeeded", Some(&read)).json();
    assert_eq!(ok_runs["runs"].as_array().unwrap().len(), 8);
    assert_eq!(ok_runs["next"], Value::Null);
}

#[test]
fn job_pause_resume_and_agent_scopes_over_the_api() {
    let (env, s, write, read) = setup();

    let p = s.post("/api/v1/jobs/hello/pause", Some(&write), None);
    assert_eq!(p.status, 200, "{}", p.body);
    let row = env
        .list_json()
        .into_iter()
        .find(|r| r["name"] == "hello")
        .unwrap();
    assert_eq!(row["paused"], true);
    let p = s.post("/api/v1/jobs/hello/resume", Some(&write), Some("{}"));
    assert_eq!(p.status, 200, "{}", p.body);
    let row = env
        .list_json()
        .into_iter()
        .find(|r| r["name"] == "hello")
        .unwrap();
    assert_eq!(row["paused"], false);
    let extra = s.post(
        "/api/v1/jobs/hello/pause",
        Some(&write),
        Some(r#"{"until":"never"}"#),
    );
    assert_eq!(
        (extra.status, extra.error_code()),
        (400, "BAD_REQUEST".into())
    );
    let garbage = s.post("/api/v1/jobs/hello/pause", Some(&write), Some("{oops"));
    assert_eq!(garbage.status, 400);

    let agents = s.get("/api/v1/agents", Some(&read)).json();
    assert!(
        agents
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["agent"] == "claude"),
        "{agents:#}"
    );
    let d = s.post(
        "/api/v1/agents/claude/disable",
        Some(&write),
        Some(r#"{"reason":"token expired"}"#),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    let claude = st["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "claude")
        .unwrap()
        .clone();
    assert!(claude.to_string().contains("token expired"), "{claude:#}");
    let e = s.post("/api/v1/agents/claude/enable", Some(&write), None);
    assert_eq!(e.status, 200, "{}", e.body);
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    assert!(!st.to_string().contains("token expired"), "{st:#}");

    let why = s.post(
        "/api/v1/agents/claude/enable",
        Some(&write),
        Some(r#"{"reason":"x"}"#),
    );
    assert_eq!(
        (why.status, why.error_code()),
        (422, "UNPROCESSABLE".into())
    );
    let unknown_field = s.post(
        "/api/v1/agents/claude/disable",
        Some(&write),
        Some(r#"{"scopes":"x"}"#),
    );
    assert_eq!(unknown_field.status, 400, "{}", unknown_field.body);
    let nobody = s.post("/api/v1/agents/nobody/disable", Some(&write), None);
    assert_eq!(nobody.status, 404, "{}", nobody.body);

    // Writes name who made them, in the server's log; the token itself is never logged.
    let log = wait_for("the write in the log", Duration::from_secs(10), || {
        let l = s.log();
        l.contains("tester").then_some(l)
    });
    assert!(
        !log.contains(&write) && !log.contains(&read),
        "a token in the log:\n{log}"
    );
}

#[test]
fn tokens_none_garbage_expired_read_on_write_rotated() {
    let (env, s, write, read) = setup();
    let short = token(&env, &["--scope", "write", "--ttl", "1s"]);

    let none = s.get("/api/v1/jobs", None);
    assert_eq!(
        (none.status, none.error_code()),
        (401, "UNAUTHORIZED".into())
    );
    let garbage = s.get("/api/v1/jobs", Some("not-a-token"));
    assert_eq!(garbage.status, 401);
    let basic = s.request(
        "GET",
        "/api/v1/jobs",
        None,
        None,
        &[("Authorization", "Basic dTpw")],
    );
    assert_eq!(basic.status, 401);
    let mut tampered = write.clone();
    tampered.pop();
    tampered.push(if write.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(s.get("/api/v1/jobs", Some(&tampered)).status, 401);

    let forbidden = s.post("/api/v1/jobs/hello/run", Some(&read), None);
    assert_eq!(
        (forbidden.status, forbidden.error_code()),
        (403, "FORBIDDEN".into())
    );
    assert!(
        env.history_json(&[]).is_empty(),
        "a read token started a run"
    );
    assert_eq!(
        s.get("/api/v1/runs", Some(&write)).status,
        200,
        "write implies read"
    );
    assert_eq!(s.get("/metrics", None).status, 401);

    let expired = wait_for("the 1 s token to expire", Duration::from_secs(10), || {
        let r = s.get("/api/v1/jobs", Some(&short));
        (r.status == 401).then_some(r)
    });
    assert!(expired.body.contains("expired"), "{}", expired.body);

    ok(&env.run(&["token", "rotate"]));
    wait_for(
        "the rotated key to be used",
        Duration::from_secs(10),
        || (s.get("/api/v1/jobs", Some(&read)).status == 401).then_some(()),
    );
    let fresh = token(&env, &["--scope", "read"]);
    assert_eq!(s.get("/api/v1/jobs", Some(&fresh)).status, 200);
    let key = env.state_dir().join("api.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_token_limited_to_some_jobs_sees_nothing_else() {
    let (env, s, write, _read) = setup();
    let team = token(
        &env,
        &["--scope", "write", "--jobs", "team-a-*", "--sub", "team-a"],
    );
    let other = s.post("/api/v1/jobs/hello/run", Some(&write), None).json()["run_id"]
        .as_i64()
        .unwrap();
    wait_ended(&s.api(&write), other, LIMIT);

    let jobs = s.get("/api/v1/jobs", Some(&team)).json();
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["team-a-report"]);
    for path in [
        "/api/v1/jobs/hello".to_string(),
        format!("/api/v1/runs/{other}"),
        format!("/api/v1/runs/{other}/log"),
        format!("/api/v1/runs/{other}/events"),
        format!("/api/v1/events/stream?run={other}"),
    ] {
        assert_eq!(s.get(&path, Some(&team)).status, 404, "{path}");
    }
    assert_eq!(
        s.post("/api/v1/jobs/hello/run", Some(&team), None).status,
        404
    );
    assert_eq!(
        s.post(&format!("/api/v1/runs/{other}/cancel"), Some(&team), None)
            .status,
        404
    );
    // Its jobs use no agent: it sees none, and can't switch one.
    assert_eq!(s.get("/api/v1/agents", Some(&team)).json(), json!([]));
    assert_eq!(
        s.post("/api/v1/agents/claude/disable", Some(&team), None)
            .status,
        404
    );
    let runs = s.get("/api/v1/runs", Some(&team)).json();
    assert_eq!(runs["runs"], json!([]));
    let mine = s.post("/api/v1/jobs/team-a-report/run", Some(&team), None);
    assert_eq!(mine.status, 202, "{}", mine.body);
    let metrics = s.get("/metrics", Some(&team)).body;
    assert!(!metrics.contains("job=\"hello\""), "{metrics}");
}

#[test]
fn idempotent_posts_act_once_and_conflicts_are_409() {
    let (env, s, write, read) = setup();
    let _sweep = Sweep::new(&env);
    let key = [("Idempotency-Key", "k-1")];
    let first = s.request("POST", "/api/v1/jobs/long/run", Some(&write), None, &key);
    assert_eq!(first.status, 202, "{}", first.body);
    let again = s.request("POST", "/api/v1/jobs/long/run", Some(&write), None, &key);
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(
        env.history_json(&["long"]).len(),
        1,
        "a replay started a second run"
    );

    let other_body = s.request(
        "POST",
        "/api/v1/jobs/long/run",
        Some(&write),
        Some("{}"),
        &key,
    );
    assert_eq!(
        (other_body.status, other_body.error_code()),
        (422, "UNPROCESSABLE".into())
    );
    let other_path = s.request("POST", "/api/v1/jobs/hello/run", Some(&write), None, &key);
    assert_eq!(other_path.status, 422);

    // Without a key, forcing a running job is a conflict.
    let busy = s.post("/api/v1/jobs/long/run", Some(&write), None);
    assert_eq!(
        (busy.status, busy.error_code()),
        (409, "JOB_RUNNING".into())
    );

    // A stored answer survives a restart of the server.
    let id = first.json()["run_id"].as_i64().unwrap();
    let base = s.base.clone();
    assert_eq!(s.stop(), 0);
    let s = Server::start(&env);
    assert_ne!(s.base, base);
    let replay = s.request("POST", "/api/v1/jobs/long/run", Some(&write), None, &key);
    assert_eq!(
        (replay.status, replay.body.as_str()),
        (202, first.body.as_str())
    );

    let c = s.post(&format!("/api/v1/runs/{id}/cancel"), Some(&write), None);
    assert_eq!(c.status, 200, "{}", c.body);
    let ended = wait_ended(&s.api(&read), id, LIMIT);
    assert_eq!(ended["status"], "cancelled");
    let twice = s.post(&format!("/api/v1/runs/{id}/cancel"), Some(&write), None);
    assert_eq!(
        (twice.status, twice.error_code()),
        (409, "INVALID_STATE_TRANSITION".into())
    );
}

#[test]
fn a_run_forced_and_cancelled_over_the_api_leaves_no_process() {
    let (env, s, write, read) = setup();
    let _sweep = Sweep::new(&env);
    let r = s.post("/api/v1/jobs/long/run", Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    // The shell and both sleeps.
    let pids = wait_for("the run's processes", Duration::from_secs(20), || {
        let (live, _) = run_processes(&env.state_dir(), id);
        (live.len() >= 3).then_some(live)
    });
    let c = s.post(&format!("/api/v1/runs/{id}/cancel"), Some(&write), None);
    assert_eq!(c.status, 200, "{}", c.body);
    let run = wait_ended(&s.api(&read), id, LIMIT);
    assert_eq!(run["status"], "cancelled", "{run:#}");
    wait_for(
        "every process of the run to be gone",
        Duration::from_secs(20),
        || {
            let (live, _) = run_processes(&env.state_dir(), id);
            live.is_empty().then_some(())
        },
    );
    for p in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{p}")).exists() || {
                let st = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                st.rfind(')').is_some_and(|i| st[i + 2..].starts_with('Z'))
            }
        );
    }
}

#[test]
fn the_openapi_document_describes_exactly_the_routes_served() {
    let (_env, s, _write, read) = setup();
    let served = s.get("/api/v1/openapi.json", None);
    assert_eq!(served.status, 200);
    let doc = served.json();
    assert_eq!(doc, jobctl::http::openapi_document(), "served ≠ generated");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let routes: BTreeSet<(String, String)> = jobctl::http::API_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routes);
    // And each one is served: never the catch-all's "no such endpoint".
    for (method, path) in &routes {
        let concrete = path.replace("{name}", "hello").replace("{id}", "1");
        let r = if method == "get" && concrete.ends_with("/stream") {
            continue;
        } else {
            s.request(&method.to_uppercase(), &concrete, Some(&read), None, &[])
        };
        assert!(
            !r.body.contains("no such endpoint"),
            "{method} {path}: {}",
            r.body
        );
    }
}

/// Every answer the server gives is declared for its operation: no token (401), a read
/// token on a write (403), a malformed parameter (400), a run nobody has (404), an
/// Idempotency-Key reused for another request (422); and the constraints the server
/// enforces are stated (limits, the key's length, `tail` without `offset`), with links
/// from a created run to the operations on it.
#[test]
fn the_openapi_document_declares_every_answer_the_server_gives() {
    let (_env, s, write, read) = setup();
    let doc = s.get("/api/v1/openapi.json", None).json();
    let declared = |method: &str, path: &str, status: u16| {
        let answers = &doc["paths"][path][method]["responses"];
        assert!(
            answers.get(status.to_string()).is_some(),
            "{method} {path} answered {status}, which it does not declare: {answers}"
        );
    };
    // Every operation with a token, without one and with too little of one.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() || path.ends_with("/stream") {
                continue;
            }
            let concrete = path.replace("{name}", "hello").replace("{id}", "1");
            let r = s.request(&method.to_uppercase(), &concrete, None, None, &[]);
            assert_eq!(r.status, 401, "{method} {path}");
            declared(method, path, 401);
            if method == "post" {
                let r = s.request("POST", &concrete, Some(&read), None, &[]);
                assert_eq!(r.status, 403, "{method} {path}");
                declared(method, path, 403);
            }
        }
    }
    let cases: &[(&str, &str, &str, Option<&str>, u16)] = &[
        ("get", "/api/v1/runs/{id}", "/api/v1/runs/abc", None, 400),
        ("get", "/api/v1/runs/{id}", "/api/v1/runs/99999", None, 404),
        (
            "get",
            "/api/v1/runs/{id}/events",
            "/api/v1/runs/99999/events",
            None,
            404,
        ),
        (
            "get",
            "/api/v1/runs/{id}/log",
            "/api/v1/runs/1/log?tail=1&offset=1",
            None,
            400,
        ),
        ("get", "/api/v1/runs", "/api/v1/runs?limit=501", None, 400),
        (
            "get",
            "/api/v1/events/stream",
            "/api/v1/events/stream?run=99999",
            None,
            404,
        ),
        (
            "post",
            "/api/v1/runs/{id}/cancel",
            "/api/v1/runs/99999/cancel",
            None,
            404,
        ),
        (
            "post",
            "/api/v1/agents/{name}/enable",
            "/api/v1/agents/claude/enable",
            Some("{\"reason\": \"x\"}"),
            422,
        ),
    ];
    for (method, path, concrete, body, status) in cases {
        let r = s.request(&method.to_uppercase(), concrete, Some(&write), *body, &[]);
        assert_eq!(r.status, *status, "{concrete}: {}", r.body);
        declared(method, path, *status);
    }
    let key = [("Idempotency-Key", "same-key")];
    let first = s.request("POST", "/api/v1/jobs/hello/run", Some(&write), None, &key);
    assert_eq!(first.status, 202, "{}", first.body);
    let other = s.request("POST", "/api/v1/jobs/drip/run", Some(&write), None, &key);
    assert_eq!(other.status, 422, "{}", other.body);
    declared("post", "/api/v1/jobs/{name}/run", 422);

    let runs = &doc["paths"]["/api/v1/runs"]["get"]["parameters"];
    let limit = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        (
            limit["schema"]["minimum"].as_i64(),
            limit["schema"]["maximum"].as_i64()
        ),
        (Some(1), Some(500))
    );
    let run = &doc["paths"]["/api/v1/jobs/{name}/run"]["post"];
    let key = run["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(key["schema"]["maxLength"], 200);
    let log = &doc["paths"]["/api/v1/runs/{id}/log"]["get"]["parameters"];
    assert!(
        log.to_string()
            .contains(r#""not":{"required":["tail","offset"]}"#),
        "{log}"
    );
    let links = &run["responses"]["202"]["links"];
    for op in [
        "get_run",
        "run_events",
        "run_log",
        "pause_run",
        "resume_run",
        "cancel_run",
    ] {
        assert_eq!(
            links[op]["parameters"]["id"], "$response.body#/run_id",
            "{links}"
        );
    }
}

#[test]
fn metrics_count_runs_by_job_and_status() {
    let (env, s, _write, read) = setup();
    ok(&env.run(&["force", "hello"]));
    ok(&env.run(&["force", "hello"]));
    let m = s.get("/metrics", Some(&read));
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.body;
    assert!(
        text.contains("jobctl_runs{job=\"hello\",status=\"succeeded\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("jobctl_run_duration_seconds_count{job=\"hello\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("jobctl_runs_now{status=\"running\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("jobctl_budget_limit{agent=\"claude\"} 5"),
        "{text}"
    );
    // Every sample line is NAME{labels} VALUE, with a TYPE declared for its family.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
        let family = name.split('{').next().unwrap();
        let family = family
            .strip_suffix("_sum")
            .or_else(|| family.strip_suffix("_count"))
            .unwrap_or(family);
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "no TYPE for {line}"
        );
    }
}

#[test]
fn the_config_is_reloaded_and_an_invalid_one_is_reported() {
    let (env, s, _write, read) = setup();
    let names = |s: &Server| -> Vec<String> {
        s.get("/api/v1/jobs", Some(&read))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect()
    };
    env.config(&format!(
        "{}\n[jobs.added]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n",
        config(&env)
    ));
    wait_for("the new job", Duration::from_secs(20), || {
        names(&s).contains(&"added".to_string()).then_some(())
    });
    env.config(&format!(
        "{}\n[jobs.broken]\ntype = \"script\"\ncomand = \"true\"\n",
        config(&env)
    ));
    let err = wait_for("the config error", Duration::from_secs(20), || {
        let st = s.get("/api/v1/status", Some(&read)).json();
        st["config_error"].as_str().map(str::to_string)
    });
    assert!(err.contains("comand"), "{err}");
    assert!(
        names(&s).contains(&"added".to_string()),
        "the previous config was dropped"
    );
    env.config(&config(&env));
    wait_for("the error to clear", Duration::from_secs(20), || {
        let st = s.get("/api/v1/status", Some(&read)).json();
        st["config_error"].is_null().then_some(())
    });
    assert!(!names(&s).contains(&"added".to_string()));
}

#[test]
fn serving_on_a_unix_socket_and_beyond_loopback() {
    use std::io::{Read, Write};
    let env = Env::new();
    env.config(&config(&env));
    let sock = env.home().join("api.sock");
    let mut child = env
        .cmd(&["serve", "--socket", sock.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stream = wait_for("the socket", Duration::from_secs(20), || {
        std::os::unix::net::UnixStream::connect(&sock).ok()
    });
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));

    let mut wide = env
        .cmd(&["serve", "--listen", "0.0.0.0:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(wide.id() as i32);
    let mut err = std::io::BufReader::new(wide.stderr.take().unwrap());
    let mut seen = String::new();
    let warning = wait_for("the TLS warning", Duration::from_secs(20), || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut err, &mut line).ok()?;
        seen.push_str(&line);
        seen.contains("without TLS").then(|| seen.clone())
    });
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(wide.wait().unwrap().code(), Some(0));
    assert!(warning.contains("0.0.0.0"), "{warning}");
}

#[test]
fn bad_serve_arguments_are_usage_errors() {
    let env = Env::new();
    env.config(&config(&env));
    let out = env.run(&["serve", "--listen", "nowhere"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        stderr(&out).starts_with("error: invalid value 'nowhere'"),
        "{}",
        both(&out)
    );
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let out = env.run(&["serve", "--listen", &addr]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains(&addr), "{}", both(&out));
    let out = env.run(&["token", "create", "--scope", "read", "--ttl", "soon"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    let out = env.run(&["token", "create", "--scope", "admin"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
}

/// The executable replaced under a running server (an upgrade in place: install.sh, or a
/// rebuild, renames a new file over it): the runs it starts afterwards start, under the
/// executable now at that path. (Before, starting a supervisor failed with a 500: the
/// server asked for its own executable, which no longer existed.)
#[test]
fn a_server_whose_executable_was_replaced_still_starts_runs() {
    let env = Env::new();
    env.config(&config(&env));
    let write = token(&env, &["--scope", "write", "--sub", "tester"]);
    let read = token(&env, &["--scope", "read", "--sub", "viewer"]);
    let bin = env.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("jobctl");
    std::fs::copy(BIN, &exe).unwrap();
    let mut c = env.command(&exe);
    c.args(["serve", "--listen", "127.0.0.1:0"]);
    let s = Server::spawn(c);
    let _sweep = Sweep::new(&env);
    // The upgrade: a new file renamed over the one the server runs.
    std::fs::copy(BIN, bin.join("jobctl.new")).unwrap();
    std::fs::rename(bin.join("jobctl.new"), &exe).unwrap();
    let r = s.post("/api/v1/jobs/hello/run", Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    let run = wait_ended(&s.api(&read), id, LIMIT);
    assert_eq!(run["status"], "succeeded", "{run:#}");
}
