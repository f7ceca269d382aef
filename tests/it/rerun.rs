//! Making an ended run again, from the command line (`jobctl rerun RUN_ID [--wait]`) and
//! the API (`POST /api/v1/runs/{id}/rerun`): the same job, variables and metadata, the
//! trigger `rerun` with the original named in its first event, `--wait` exiting with the
//! new run's result as `force` does; a run not ended, an unknown run and a read token
//! refused, each with one clear line and nothing started.

use crate::support::server::{Server, token};
use crate::support::*;

use std::time::Duration;

use serde_json::json;

const T: Duration = Duration::from_secs(30);

fn env() -> Env {
    let env = Env::new();
    env.config(&format!(
        "{}\n[jobs.echo]\ntype = \"script\"\ncommand = \"echo \\\"$COLOUR $JOBCTL_RUN_METADATA\\\"; exit 4\"\nevery = \"1d\"\n\n\
         [jobs.long]\ntype = \"script\"\ncommand = \"sleep 300\"\nevery = \"1d\"\n",
        runner(&env, "")
    ));
    env
}

#[test]
fn rerun_makes_the_same_run_again_and_waits_like_force() {
    let env = env();
    let _sweep = Sweep::new(&env);
    let write = token(&env, &["--scope", "write", "--sub", "ops"]);
    let s = Server::start(&env);
    let r = s.post(
        "/api/v1/runs",
        Some(&write),
        Some(r#"{"job":"echo","env":{"COLOUR":"blue"},"metadata":{"ticket":"T-1"}}"#),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let first = r.json()["run_id"].as_i64().unwrap();
    wait_ended(&s.api(&write), first, T);

    let o = env.run(&["rerun", &first.to_string(), "--wait"]);
    assert_eq!(
        code(&o),
        4,
        "the new run's exit code, as force: {}",
        both(&o)
    );
    let runs = env.history_json(&["echo"]);
    let again = runs[0]["run_id"].as_i64().unwrap();
    assert_ne!(again, first);
    let doc = s.get(&format!("/api/v1/runs/{again}"), Some(&write)).json();
    assert_eq!(doc["trigger"], "rerun");
    assert_eq!(doc["env_names"], json!(["COLOUR"]));
    assert_eq!(doc["metadata"], json!({"ticket": "T-1"}));
    assert_eq!(doc["events"][0]["detail"]["rerun_of"], json!(first));
    assert_eq!(doc["events"][0]["by"], "cli");
    let log = s.get(&format!("/api/v1/runs/{again}/log"), Some(&write));
    assert!(
        log.body.starts_with("blue {\"ticket\":\"T-1\"}\n"),
        "{}",
        log.body
    );

    // Over the API: 202, the new run, recorded as the token's subject's.
    let r = s.post(&format!("/api/v1/runs/{again}/rerun"), Some(&write), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let third = r.json()["run_id"].as_i64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/runs/{third}").as_str())
    );
    let doc = wait_ended(&s.api(&write), third, T);
    assert_eq!(doc["trigger"], "rerun");
    assert_eq!(doc["events"][0]["detail"]["rerun_of"], json!(again));
    assert_eq!(doc["events"][0]["subject"], "ops");
    assert_eq!(doc["metadata"], json!({"ticket": "T-1"}));
    // Without --wait: the new run's id.
    let o = env.run(&["rerun", &third.to_string()]);
    ok(&o);
    let fourth: i64 = stdout(&o).trim().parse().unwrap();
    assert!(fourth > third);
}

#[test]
fn only_an_ended_visible_run_is_made_again() {
    let env = env();
    let _sweep = Sweep::new(&env);
    let write = token(&env, &["--scope", "write"]);
    let read = token(&env, &["--scope", "read"]);
    let s = Server::start(&env);
    let o = env.run(&["submit", "long"]);
    ok(&o);
    let long: i64 = stdout(&o).trim().parse().unwrap();

    let o = env.run(&["rerun", &long.to_string()]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(
        stderr(&o).contains("a run can be made again once it has ended"),
        "{}",
        both(&o)
    );
    let r = s.post(&format!("/api/v1/runs/{long}/rerun"), Some(&write), None);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.error_code(), "INVALID_STATE_TRANSITION");
    assert_eq!(
        s.post(&format!("/api/v1/runs/{long}/rerun"), Some(&read), None)
            .status,
        403
    );
    assert_eq!(
        s.post("/api/v1/runs/999/rerun", Some(&write), None).status,
        404
    );
    let o = env.run(&["rerun", "999"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no run 999"), "{}", both(&o));
    // Nothing was started by any of them.
    assert_eq!(env.history_json(&["long"]).len(), 1);
    ok(&env.run(&["cancel", &long.to_string()]));
}
