//! Crash resilience of run control (reliability.md): jobctl SIGKILLed at each crash point
//! of the queue, pausing and retries (`JOBCTL_FAULT=<point>`, `src/faults.rs`). After the
//! next command no run is left `queued`, `paused` or `retrying` for good, a queued run is
//! never started twice, no process of a run is left stopped (SIGSTOP) or running, no
//! reservation is leaked, every run has one end event, and the db is intact.

use crate::support::*;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn env_with(jobs: &str, runner_extra: &str) -> Env {
    let env = Env::new();
    env.config(&format!("{}\n{jobs}", runner(&env, runner_extra)));
    env
}

/// `jobctl ARGS` with `JOBCTL_FAULT=point`, output to files (a detached supervisor
/// inherits them, and may outlive the command).
fn with_fault(env: &Env, point: &str, args: &[&str]) -> std::process::Output {
    let out = env.home().join(format!("{point}.out"));
    let err = env.home().join(format!("{point}.err"));
    let status = env
        .cmd(args)
        .env("JOBCTL_FAULT", point)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    std::process::Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

/// Nothing waits for good, the db is intact, every run ended once with one end event, and
/// none left a process, stopped or not.
#[track_caller]
fn assert_settled(env: &Env) {
    let all = wait_for("every run to end", LIMIT, || {
        let all = raw_runs(env);
        all.iter().all(|(_, _, s)| s.is_end()).then_some(all)
    });
    let c = env.db();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    for (id, job, status) in &all {
        let ends: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM events WHERE run_id = ?1 AND kind IN ('run_ended', 'run_lost')",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            ends, 1,
            "run {id} of {job} ({status}) has {ends} end events"
        );
        let starts: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM events WHERE run_id = ?1 AND kind = 'run_started'",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert!(starts <= 1, "run {id} started {starts} times");
        let (live, _) = run_processes(&env.state_dir(), *id);
        assert!(live.is_empty(), "run {id} left processes {live:?}");
    }
}

fn used(env: &Env) -> f64 {
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    st["agents"][0]["used"].as_f64().unwrap()
}

const AGENT: &str =
    "[agents.fake]\npreset = \"command\"\ndaily_budget = 10\ncommand = [\"AGENT\", \"{prompt}\"]\n";

/// An env with a script job `work` (it notes each start in `starts`) and an agent job
/// `think` on a fake agent that prints, then waits while `hold` exists.
fn work_env(extra_jobs: &str, runner_extra: &str) -> Env {
    let env = env_with(
        &format!(
            "{AGENT}\n[jobs.work]\ntype = \"script\"\ncommand = \"echo x >> STARTS; sleep 0.2\"\n\n\
             [jobs.think]\ntype = \"agent\"\nagent = \"fake\"\nprompt = \"p\"\ntimeout = \"5m\"\n\n{extra_jobs}"
        ),
        runner_extra,
    );
    let hold = env.home().join("hold");
    let agent = env.script(
        "bin/agent.sh",
        &format!(
            "#!/bin/sh\necho thinking\nwhile [ -e {} ]; do sleep 0.05; done\necho done\n",
            hold.display()
        ),
    );
    env.config(
        &std::fs::read_to_string(env.config_path())
            .unwrap()
            .replace("AGENT", &agent.display().to_string())
            .replace("STARTS", &env.home().join("starts").display().to_string()),
    );
    env
}

fn starts(env: &Env) -> usize {
    std::fs::read_to_string(env.home().join("starts"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn killed_after_recording_a_submitted_run_the_next_command_starts_it() {
    let env = work_env("", "");
    let _sweep = Sweep::new(&env);
    let o = with_fault(&env, "enqueue_after_record", &["submit", "work"]);
    assert_eq!(o.status.signal(), Some(9), "{}", both(&o));
    assert_eq!(raw_runs(&env)[0].2, "queued");
    ok(&env.run(&["list"]));
    assert_settled(&env);
    assert_eq!(raw_runs(&env)[0].2, "succeeded");
    assert_eq!(starts(&env), 1, "started once");
}

#[test]
fn killed_after_claiming_a_queued_run_it_is_lost_never_started_twice() {
    let env = work_env("", "");
    let _sweep = Sweep::new(&env);
    for job in ["work", "think"] {
        let o = with_fault(&env, "drain_after_claim", &["submit", job]);
        assert_eq!(o.status.signal(), Some(9), "{}", both(&o));
    }
    ok(&env.run(&["list"]));
    assert_settled(&env);
    let all = raw_runs(&env);
    assert!(all.iter().all(|(_, _, s)| *s == "lost"), "{all:?}");
    assert_eq!(starts(&env), 0, "never started");
    assert_eq!(used(&env), 0.0, "no reservation was made");
    // The jobs run again.
    ok(&env.run(&["force", "work"]));
    ok(&env.run(&["force", "think"]));
    assert_eq!((starts(&env), used(&env)), (1, 1.0));
}

#[test]
fn a_supervisor_killed_before_starting_the_next_queued_run_leaves_it_to_the_next_command() {
    let env = work_env(
        "[jobs.a]\ntype = \"script\"\ncommand = \"sleep 0.3\"\nevery = \"1h\"\n\n\
         [jobs.b]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n",
        "max_running = 1",
    );
    let _sweep = Sweep::new(&env);
    // The tick starts one and queues the other; the first's supervisor dies as it
    // drains the queue.
    let o = with_fault(&env, "drain_before_claim", &["run", "--job", "a"]);
    ok(&o);
    let o = with_fault(&env, "drain_before_claim", &["run", "--job", "b"]);
    ok(&o);
    wait_for(
        "the first run to end and its supervisor to die",
        LIMIT,
        || {
            let all = raw_runs(&env);
            (all.iter().any(|(_, _, s)| *s == "succeeded")
                && all.iter().any(|(_, _, s)| *s == "queued"))
            .then_some(())
        },
    );
    wait_for("the killed supervisor to be gone", LIMIT, || {
        jobctl_processes(&env).is_empty().then_some(())
    });
    assert!(
        raw_runs(&env).iter().any(|(_, _, s)| *s == "queued"),
        "{:?}",
        raw_runs(&env)
    );
    ok(&env.run(&["list"]));
    assert_settled(&env);
    assert!(
        raw_runs(&env).iter().all(|(_, _, s)| *s == "succeeded"),
        "{:?}",
        raw_runs(&env)
    );
}

#[test]
fn a_supervisor_killed_while_pausing_leaves_no_stopped_process_after_the_next_command() {
    let env = work_env(
        "[jobs.tree]\ntype = \"script\"\ntimeout = \"5m\"\n\
         command = \"sleep 60 & setsid sleep 61 & while true; do sleep 0.05; done\"\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    std::fs::write(env.home().join("hold"), "").unwrap();
    for job in ["tree", "think"] {
        let o = with_fault(&env, "pause_after_stop", &["submit", job]);
        ok(&o);
        let id: i64 = stdout(&o).trim().parse().unwrap();
        wait_for("the run's processes", LIMIT, || {
            (run_processes(&env.state_dir(), id).0.len() >= 2).then_some(())
        });
        let o = env.run(&["pause", &id.to_string()]);
        assert_eq!(code(&o), 1, "its supervisor died pausing it\n{}", both(&o));
        assert!(
            stderr(&o).contains(&format!("cannot pause run {id}: it is lost")),
            "{}",
            both(&o)
        );
    }
    assert_settled(&env);
    assert_eq!(
        used(&env),
        1.0,
        "the agent started: charged once, never twice"
    );
    let stopped: Vec<i32> = raw_runs(&env)
        .iter()
        .flat_map(|(id, _, _)| run_processes(&env.state_dir(), *id).0)
        .collect();
    assert!(stopped.is_empty(), "{stopped:?}");
}

#[test]
fn a_supervisor_killed_after_recording_a_retry_leaves_it_lost_not_retrying() {
    let env = work_env(
        "[jobs.flaky]\ntype = \"script\"\ncommand = \"exit 1\"\nretries = 2\nretry_backoff = \"1s\"\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    let o = with_fault(&env, "retry_after_record", &["force", "flaky"]);
    assert_eq!(o.status.signal(), Some(9), "{}", both(&o));
    let all = raw_runs(&env);
    assert_eq!(
        all.iter().map(|(_, _, s)| s.as_str()).collect::<Vec<_>>(),
        vec!["failed", "retrying"]
    );
    ok(&env.run(&["list"]));
    assert_settled(&env);
    let all = raw_runs(&env);
    assert_eq!(
        all.iter().map(|(_, _, s)| s.as_str()).collect::<Vec<_>>(),
        vec!["failed", "lost"]
    );
    // The job's lock is free again.
    assert_eq!(code(&env.run(&["force", "flaky"])), 1);
    assert_eq!(raw_runs(&env).len(), 5, "a fresh run and its two retries");
}
