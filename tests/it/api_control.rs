//! Run control over real HTTP (api.md, control.md): `POST /runs` (submit, with `env`,
//! `metadata` and `Idempotency-Key`), pausing and resuming a run's whole tree, the 409 of a
//! move its state doesn't allow, who did it in the events, `?parent=` for sub-runs, and the
//! runs in each state in `/metrics`.

use crate::support::*;

use crate::support::server::{Server, token};

use std::time::Duration;

use jobctl::core::run::RunStatus;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);

fn setup(jobs: &str) -> (Env, Server, String, String) {
    let env = Env::new();
    // Its jobs find `jobctl` (this very binary) on their PATH.
    std::fs::create_dir_all(env.home().join("bin")).unwrap();
    std::os::unix::fs::symlink(BIN, env.home().join("bin/jobctl")).unwrap();
    env.config(&format!("{}\n{jobs}", runner(&env, "")));
    let write = token(&env, &["--scope", "write", "--sub", "manager"]);
    let read = token(&env, &["--scope", "read", "--sub", "viewer"]);
    let server = Server::start(&env);
    (env, server, write, read)
}

#[test]
fn a_run_submitted_over_the_api_gets_its_env_and_metadata() {
    let (env, s, write, read) = setup(
        "[jobs.echo]\ntype = \"script\"\n\
         command = \"printf '%s|%s' \\\"$JOBCTL_RUN_METADATA\\\" \\\"$GREETING\\\"\"\n",
    );
    let body = r#"{"job": "echo", "env": {"GREETING": "hi there"}, "metadata": {"ticket": "OPS-7", "n": 3}}"#;
    let r = s.request(
        "POST",
        "/api/v1/runs",
        Some(&write),
        Some(body),
        &[("Idempotency-Key", "k1")],
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/runs/{id}").as_str())
    );
    assert_eq!(r.json()["trigger"], "submit");
    let run = wait_status(&s.api(&read), id, RunStatus::Succeeded, LIMIT);
    assert_eq!(
        run["metadata"],
        json!({"ticket": "OPS-7", "n": 3}),
        "{run:#}"
    );
    let log = s.get(&format!("/api/v1/runs/{id}/log"), Some(&read));
    let (meta, greeting) = log.body.trim().split_once('|').unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(meta).unwrap(),
        json!({"ticket": "OPS-7", "n": 3})
    );
    assert_eq!(greeting, "hi there");
    // The first event says who submitted it.
    let evs = s
        .get(&format!("/api/v1/runs/{id}/events"), Some(&read))
        .json();
    assert_eq!(evs[0]["kind"], "run_queued", "{evs:#}");
    assert_eq!(
        (&evs[0]["by"], &evs[0]["subject"]),
        (&json!("api"), &json!("manager"))
    );
    // `history --json` and `show --json` carry the metadata too.
    let h = env.history_json(&["echo"]);
    assert_eq!(h[0]["metadata"], json!({"ticket": "OPS-7", "n": 3}));

    // The same key and body: the first answer, no second run.
    let again = s.request(
        "POST",
        "/api/v1/runs",
        Some(&write),
        Some(body),
        &[("Idempotency-Key", "k1")],
    );
    assert_eq!(
        (again.status, again.json()["run_id"].as_i64()),
        (202, Some(id))
    );
    assert_eq!(env.history_json(&["echo"]).len(), 1);

    // Bad input: each its own status and code.
    for (body, status, code) in [
        ("", 400, "BAD_REQUEST"),
        (r#"{"job": "echo", "colour": "red"}"#, 400, "BAD_REQUEST"),
        (r#"{"job": "nope"}"#, 404, "NOT_FOUND"),
        (r#"{"job": "echo", "metadata": [1]}"#, 422, "UNPROCESSABLE"),
        (
            r#"{"job": "echo", "env": {"JOBCTL_RUN_ID": "1"}}"#,
            400,
            "BAD_REQUEST",
        ),
        (r#"{"job": "echo", "prompt": "hi"}"#, 400, "BAD_REQUEST"),
    ] {
        let r = s.post("/api/v1/runs", Some(&write), Some(body));
        assert_eq!(
            (r.status, r.error_code()),
            (status, code.to_string()),
            "{body}: {}",
            r.body
        );
    }
    let r = s.post("/api/v1/runs", Some(&read), Some(r#"{"job": "echo"}"#));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(env.history_json(&["echo"]).len(), 1);
}

#[test]
fn a_run_paused_and_resumed_over_the_api_stops_and_continues_its_tree() {
    let (env, s, write, read) = setup(
        "[jobs.tree]\ntype = \"script\"\ntimeout = \"2m\"\n\
         command = \"sleep 120 & setsid sleep 120 & while true; do sleep 0.05; done\"\n\
         [jobs.quick]\ntype = \"script\"\ncommand = \"true\"\n",
    );
    let _sweep = Sweep::new(&env);
    let r = s.post("/api/v1/jobs/tree/run", Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    let procs = wait_for("the run's processes", LIMIT, || {
        let (live, _) = run_processes(&env.state_dir(), id);
        (live.len() >= 4).then_some(live)
    });

    let p = s.post(&format!("/api/v1/runs/{id}/pause"), Some(&write), None);
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        (&p.json()["status"], &p.json()["changed"]),
        (&json!("paused"), &json!(true))
    );
    for pid in &procs {
        if let Some(st) = proc_state(*pid) {
            assert_eq!(st, 'T', "process {pid} of the paused run is not stopped");
        }
    }
    // Asked again: nothing changes, still 200. A read token may not.
    let p = s.post(&format!("/api/v1/runs/{id}/pause"), Some(&write), None);
    assert_eq!(
        (p.status, &p.json()["changed"]),
        (200, &json!(false)),
        "{}",
        p.body
    );
    assert_eq!(
        s.post(&format!("/api/v1/runs/{id}/resume"), Some(&read), None)
            .status,
        403
    );
    // Metrics count it paused.
    let m = s.get("/metrics", Some(&read));
    assert!(
        m.body.contains("jobctl_runs_now{status=\"paused\"} 1"),
        "{}",
        m.body
    );

    let r = s.post(&format!("/api/v1/runs/{id}/resume"), Some(&write), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "running");
    for pid in &procs {
        assert_ne!(
            proc_state(*pid),
            Some('T'),
            "process {pid} was not continued"
        );
    }
    let evs = s
        .get(&format!("/api/v1/runs/{id}/events"), Some(&read))
        .json();
    let moves: Vec<(Value, Value, Value)> = evs
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"] == "running" || e["from"] == "paused")
        .map(|e| (e["from"].clone(), e["to"].clone(), e["subject"].clone()))
        .collect();
    assert_eq!(
        moves[..2],
        [
            (json!("running"), json!("paused"), json!("manager")),
            (json!("paused"), json!("running"), json!("manager"))
        ],
        "{evs:#}"
    );

    // Cancelled over the API; then a move its state doesn't allow is a 409.
    let c = s.post(&format!("/api/v1/runs/{id}/cancel"), Some(&write), None);
    assert_eq!(c.status, 200, "{}", c.body);
    wait_for("every process of the run to be gone", LIMIT, || {
        run_processes(&env.state_dir(), id)
            .0
            .is_empty()
            .then_some(())
    });
    for verb in ["pause", "resume"] {
        let r = s.post(&format!("/api/v1/runs/{id}/{verb}"), Some(&write), None);
        assert_eq!(r.status, 409, "{verb}: {}", r.body);
        assert_eq!(r.error_code(), "INVALID_STATE_TRANSITION");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cancelled"),
            "{}",
            r.body
        );
    }
    let r = s.post("/api/v1/runs/999999/pause", Some(&write), None);
    assert_eq!(r.status, 404, "{}", r.body);
}

#[test]
fn sub_runs_are_listed_by_parent() {
    let (env, s, write, read) = setup(
        "[jobs.parent]\ntype = \"script\"\n\
         command = \"jobctl submit child && jobctl submit child --wait\"\n\
         [jobs.child]\ntype = \"script\"\ncommand = \"echo child\"\n\
         [jobs.other]\ntype = \"script\"\ncommand = \"true\"\n",
    );
    let other = s.post("/api/v1/runs", Some(&write), Some(r#"{"job": "other"}"#));
    assert_eq!(other.status, 202, "{}", other.body);
    let r = s.post("/api/v1/runs", Some(&write), Some(r#"{"job": "parent"}"#));
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["run_id"].as_i64().unwrap();
    let parent = wait_status(&s.api(&read), id, RunStatus::Succeeded, LIMIT);
    assert_eq!(parent["depth"], 0);
    let page = s
        .get(&format!("/api/v1/runs?parent={id}"), Some(&read))
        .json();
    let kids = page["runs"].as_array().unwrap();
    assert_eq!(kids.len(), 2, "{page:#}");
    for k in kids {
        assert_eq!(
            (&k["job"], &k["parent_run_id"], &k["depth"]),
            (&json!("child"), &json!(id), &json!(1))
        );
    }
    // None below a run that submitted nothing; a parent that isn't a number is a 400.
    let none = s.get(
        &format!("/api/v1/runs?parent={}", kids[0]["run_id"]),
        Some(&read),
    );
    assert_eq!(none.json()["runs"], json!([]));
    let bad = s.get("/api/v1/runs?parent=abc", Some(&read));
    assert_eq!(bad.status, 400, "{}", bad.body);
    drop(env);
}
