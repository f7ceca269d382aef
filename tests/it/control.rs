//! Run control against the real binary, real processes and real signals: pausing and
//! resuming a run's whole tree (a `setsid` escapee too), a paused run's timeout standing
//! still and `max_pause`, the refusals and idempotence of requests, retries at their
//! backoff times and cancelled during one, and `needs` dependencies (docs/run-control.md).

use crate::support::*;

use std::time::{Duration, Instant};

use jobctl::core::run::RunStatus;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn env_with(jobs: &str, runner_extra: &str) -> Env {
    let env = Env::new();
    env.config(&format!("{}\n{jobs}", runner(&env, runner_extra)));
    env
}

/// `jobctl submit JOB`: the run id (the run starts detached).
fn submit(env: &Env, job: &str) -> i64 {
    let o = env.run(&["submit", job]);
    ok(&o);
    stdout(&o).trim().parse().expect("submit prints the run id")
}

/// The run's status as `jobctl history` shows it now.
fn status_now(env: &Env, id: i64) -> RunStatus {
    status_of(&Cli(env).doc(id))
}

fn events(env: &Env, id: i64) -> Vec<Value> {
    let o = env.run(&["events", "--run", &id.to_string(), "--json", "-n", "1000"]);
    ok(&o);
    serde_json::from_slice(&o.stdout).expect("events --json")
}

fn ms(v: &Value) -> i64 {
    v.as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond()
}

// ---------------------------------------------------------------------------------------
// pause and resume
// ---------------------------------------------------------------------------------------

#[test]
fn pause_stops_the_whole_tree_with_a_setsid_escapee_and_resume_continues_it() {
    let env = Env::new();
    let ticks = env.home().join("ticks");
    env.config(&format!(
        "{}\n[jobs.tree]\ntype = \"script\"\ntimeout = \"2m\"\ncommand = \"\"\"\n\
         sleep 60 &\nsetsid sh -c 'while true; do sleep 0.1; done' &\n\
         while true; do echo x >> {t}; sleep 0.05; done\n\"\"\"\n",
        runner(&env, ""),
        t = ticks.display()
    ));
    let _sweep = Sweep::new(&env);
    let id = submit(&env, "tree");
    wait_status(&Cli(&env), id, RunStatus::Running, LIMIT);
    // The escapee is there: a session of its own, outside the run's process group.
    let procs = wait_for("the tree and its escapee", LIMIT, || {
        let (live, _) = run_processes(&env.state_dir(), id);
        let sessions: std::collections::HashSet<String> = live
            .iter()
            .filter_map(|p| {
                let s = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
                s[s.rfind(')')? + 2..].split(' ').nth(3).map(str::to_string)
            })
            .collect();
        (live.len() >= 4 && sessions.len() >= 2).then_some(live)
    });

    let o = env.run(&["pause", &id.to_string()]);
    ok(&o);
    assert!(
        stdout(&o).contains(&format!("paused run {id} of tree")),
        "{}",
        both(&o)
    );
    assert_eq!(status_now(&env, id), "paused");
    let (live, _) = run_processes(&env.state_dir(), id);
    assert!(live.len() >= procs.len() - 1, "{live:?} vs {procs:?}");
    // A process in uninterruptible sleep (`D`, on a busy machine) takes its SIGSTOP when it
    // leaves it: each must show `T` soon, not necessarily at the instant pause answers.
    for p in &live {
        wait_for(
            &format!("process {p} of the run to be stopped"),
            LIMIT,
            || matches!(proc_state(*p), Some('T') | None).then_some(()),
        );
    }
    // Stopped: the job writes nothing while paused.
    let before = std::fs::read_to_string(&ticks).unwrap().len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(std::fs::read_to_string(&ticks).unwrap().len(), before);

    // Shown paused by status, list and history.
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    let row = &st["running"][0];
    assert_eq!(
        (&row["run_id"], &row["status"]),
        (&Value::from(id), &Value::from("paused"))
    );
    let list = env.run(&["list"]);
    assert!(
        stdout(&list).contains(&format!("paused run {id}")),
        "{}",
        both(&list)
    );
    assert!(stdout(&env.run(&["history"])).contains("paused"));

    // Idempotent, and resume continues every process.
    let o = env.run(&["pause", "--job", "tree"]);
    ok(&o);
    assert!(stdout(&o).contains("already paused"), "{}", both(&o));
    ok(&env.run(&["resume", &id.to_string()]));
    assert_eq!(status_now(&env, id), "running");
    let (live, _) = run_processes(&env.state_dir(), id);
    for p in &live {
        assert_ne!(proc_state(*p), Some('T'), "process {p} was not continued");
    }
    wait_for("the job to write again", LIMIT, || {
        (std::fs::read_to_string(&ticks).unwrap().len() > before).then_some(())
    });
    let o = env.run(&["resume", &id.to_string()]);
    ok(&o);
    assert!(stdout(&o).contains("already running"), "{}", both(&o));

    // Every change of state is an event with who asked.
    let moves: Vec<(String, String, String)> = events(&env, id)
        .iter()
        .filter(|e| !e["to"].is_null())
        .map(|e| {
            (
                e["from"].as_str().unwrap_or("-").to_string(),
                e["to"].as_str().unwrap().to_string(),
                e["by"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [("running", "paused", "cli"), ("paused", "running", "cli")];
    for w in want {
        assert!(
            moves
                .iter()
                .any(|m| (m.0.as_str(), m.1.as_str(), m.2.as_str()) == w),
            "{w:?} in {moves:?}"
        );
    }

    // Cancelling a paused run stops everything, escapee included.
    ok(&env.run(&["pause", &id.to_string()]));
    ok(&env.run(&["cancel", &id.to_string()]));
    assert_eq!(status_now(&env, id), "cancelled");
    wait_for("no process of the run", LIMIT, || {
        run_processes(&env.state_dir(), id)
            .0
            .is_empty()
            .then_some(())
    });
}

#[test]
fn a_paused_run_outlives_its_timeout_and_is_not_killed() {
    let env = env_with(
        "[jobs.short]\ntype = \"script\"\ntimeout = \"3s\"\ncommand = \"sleep 1; echo done\"\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    let id = submit(&env, "short");
    wait_status(&Cli(&env), id, RunStatus::Running, LIMIT);
    ok(&env.run(&["pause", &id.to_string()]));
    // Past the timeout while paused: still paused, its processes still there.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(status_now(&env, id), "paused");
    assert!(!run_processes(&env.state_dir(), id).0.is_empty());
    ok(&env.run(&["resume", &id.to_string()]));
    let r = wait_ended(&Cli(&env), id, LIMIT);
    assert_eq!(r["status"], "succeeded", "{r:#}");
    assert!(r["duration_ms"].as_i64().unwrap() >= 4000, "{r:#}");
}

#[test]
fn a_run_paused_longer_than_max_pause_is_cancelled() {
    let env = env_with(
        "[jobs.s]\ntype = \"script\"\ntimeout = \"1m\"\nmax_pause = \"1s\"\ncommand = \"sleep 30\"\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    let id = submit(&env, "s");
    wait_status(&Cli(&env), id, RunStatus::Running, LIMIT);
    let t = Instant::now();
    ok(&env.run(&["pause", &id.to_string()]));
    let r = wait_ended(&Cli(&env), id, LIMIT);
    assert_eq!(r["status"], "cancelled", "{r:#}");
    assert!(
        r["error"].as_str().unwrap().contains("max_pause (1s)"),
        "{r:#}"
    );
    assert!(t.elapsed() >= Duration::from_secs(1));
    wait_for("no process of the run", LIMIT, || {
        run_processes(&env.state_dir(), id)
            .0
            .is_empty()
            .then_some(())
    });
}

#[test]
fn a_request_a_run_cannot_take_is_refused_with_its_state() {
    let env = env_with(
        "[jobs.done]\ntype = \"script\"\ncommand = \"true\"\n\n\
         [jobs.other]\ntype = \"script\"\ncommand = \"true\"\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    ok(&env.run(&["force", "done"]));
    let id = env.history_json(&[])[0]["run_id"].as_i64().unwrap();
    for verb in ["pause", "resume"] {
        let o = env.run(&[verb, &id.to_string()]);
        assert_eq!(code(&o), 1, "{}", both(&o));
        assert!(
            stderr(&o).contains(&format!("cannot {verb} run {id}: it is succeeded")),
            "{}",
            both(&o)
        );
        let o = env.run(&[verb, &id.to_string(), "--json"]);
        let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(doc["error"]["exit_code"], 1);
    }
    let o = env.run(&["pause", "999"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(stderr(&o).contains("no run 999"), "{}", both(&o));
    let o = env.run(&["pause", "--job", "other"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(
        stderr(&o).contains("job other has no running run"),
        "{}",
        both(&o)
    );
    let o = env.run(&["pause"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
}

// ---------------------------------------------------------------------------------------
// retries
// ---------------------------------------------------------------------------------------

#[test]
fn retries_happen_at_the_backoff_times_under_one_supervisor() {
    let env = env_with(
        "[jobs.flaky]\ntype = \"script\"\ncommand = \"echo try; exit 3\"\n\
         retries = 2\nretry_backoff = \"1s\"\nretry_backoff_max = \"10s\"\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    let o = env.run(&["force", "flaky"]);
    assert_eq!(code(&o), 3, "the last attempt's exit code\n{}", both(&o));
    assert_eq!(stdout(&o).matches("try").count(), 3, "{}", both(&o));
    let mut runs = env.history_json(&["flaky"]);
    runs.reverse();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let first = runs[0]["run_id"].clone();
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r["status"], "failed");
        assert_eq!(r["attempt"], i as u64 + 1);
        assert_eq!(
            r["scheduled_for"], runs[0]["scheduled_for"],
            "the same slot"
        );
        if i > 0 {
            assert_eq!(r["trigger"], "retry");
            assert_eq!(r["retry_of"], first);
        }
    }
    // 1 s, then 2 s (±10%), each from the end of the attempt before.
    let gap = |i: usize| ms(&runs[i]["started_at"]) - ms(&runs[i - 1]["ended_at"]);
    assert!((850..1600).contains(&gap(1)), "first backoff {} ms", gap(1));
    assert!(
        (1750..2800).contains(&gap(2)),
        "second backoff {} ms",
        gap(2)
    );
    // Its retry waited as `retrying` and was started by the same supervisor.
    let evs = events(&env, runs[1]["run_id"].as_i64().unwrap());
    let tos: Vec<&str> = evs.iter().filter_map(|e| e["to"].as_str()).collect();
    assert_eq!(tos, vec!["retrying", "running", "failed"], "{evs:#?}");
    assert!(evs.iter().all(|e| e["by"] == "supervisor"), "{evs:#?}");
}

#[test]
fn a_retry_waiting_out_its_backoff_can_be_cancelled_and_ends_are_retried_only_when_asked() {
    let env = env_with(
        "[jobs.flaky]\ntype = \"script\"\ncommand = \"exit 1\"\nretries = 3\nretry_backoff = \"1m\"\n\n\
         [jobs.slow]\ntype = \"script\"\ncommand = \"sleep 5\"\ntimeout = \"1s\"\nretries = 2\n\n\
         [jobs.slow-retried]\ntype = \"script\"\ncommand = \"sleep 5\"\ntimeout = \"1s\"\nretries = 1\n\
         retry_backoff = \"100ms\"\nretry_on = [\"timed_out\"]\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    let id = submit(&env, "flaky");
    let retry = wait_for("the retry to wait", LIMIT, || {
        env.history_json(&["flaky"])
            .into_iter()
            .find(|r| r["status"] == "retrying")
    });
    assert_eq!(status_now(&env, id), "failed");
    let rid = retry["run_id"].as_i64().unwrap();
    let list = env.run(&["list"]);
    assert!(
        stdout(&list).contains(&format!("retrying (run {rid})")),
        "{}",
        both(&list)
    );
    // It holds the job's lock: no second run meanwhile.
    let o = env.run(&["force", "flaky"]);
    assert_eq!(code(&o), 75, "{}", both(&o));
    let o = env.run(&["cancel", &rid.to_string()]);
    ok(&o);
    assert_eq!(status_now(&env, rid), "cancelled");
    assert_eq!(env.history_json(&["flaky"]).len(), 2, "no more attempts");
    let cancelled = events(&env, rid);
    assert_eq!(cancelled.last().unwrap()["by"], "cli", "{cancelled:#?}");

    // timed_out is retried only when retry_on says so.
    let o = env.run(&["force", "slow"]);
    assert_eq!(code(&o), 124, "{}", both(&o));
    assert_eq!(env.history_json(&["slow"]).len(), 1);
    let o = env.run(&["force", "slow-retried"]);
    assert_eq!(code(&o), 124, "{}", both(&o));
    let runs = env.history_json(&["slow-retried"]);
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(runs.iter().all(|r| r["status"] == "timed_out"));
}

// ---------------------------------------------------------------------------------------
// needs
// ---------------------------------------------------------------------------------------

#[test]
fn a_job_runs_when_everything_it_needs_has_succeeded_started_by_the_last_one() {
    let env = Env::new();
    let out = env.home().join("report.txt");
    let fail = env.home().join("fail-b");
    env.config(&format!(
        "{}\n[jobs.fetch-a]\ntype = \"script\"\ncommand = \"true\"\n\n\
         [jobs.fetch-b]\ntype = \"script\"\ncommand = \"test ! -e {f}\"\n\n\
         [jobs.report]\ntype = \"script\"\nneeds = [\"fetch-a\", \"fetch-b\"]\ncommand = \"echo run >> {o}\"\n",
        runner(&env, ""),
        f = fail.display(),
        o = out.display()
    ));
    let _sweep = Sweep::new(&env);
    let next = |env: &Env| -> String {
        let list = stdout(&env.run(&["list"]));
        list.lines()
            .find(|l| l.trim_start().starts_with("report"))
            .unwrap()
            .to_string()
    };
    assert!(
        next(&env).contains("waiting for fetch-a, fetch-b"),
        "{}",
        next(&env)
    );
    ok(&env.run(&["force", "fetch-a"]));
    assert!(next(&env).contains("waiting for fetch-b"), "{}", next(&env));
    let rows = env.list_json();
    let row = rows.iter().find(|r| r["name"] == "report").unwrap();
    assert_eq!(row["waiting_for"], serde_json::json!(["fetch-b"]));
    assert!(env.history_json(&["report"]).is_empty());

    // A failed need starts nothing.
    std::fs::write(&fail, "").unwrap();
    assert_eq!(code(&env.run(&["force", "fetch-b"])), 1);
    assert!(env.history_json(&["report"]).is_empty());
    std::fs::remove_file(&fail).unwrap();

    // The last need's success starts it at once (its supervisor does, no tick).
    let t = Instant::now();
    ok(&env.run(&["force", "fetch-b"]));
    let r = wait_for("the report to run", LIMIT, || {
        env.history_json(&["report"])
            .into_iter()
            .find(|r| r["status"] == "succeeded")
    });
    assert!(t.elapsed() < Duration::from_secs(20));
    assert_eq!(r["trigger"], "dependency");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "run\n");
    assert!(
        next(&env).contains("waiting for fetch-a, fetch-b"),
        "{}",
        next(&env)
    );

    // Both again, in the other order: once more, and only once.
    ok(&env.run(&["force", "fetch-b"]));
    assert_eq!(env.history_json(&["report"]).len(), 1);
    ok(&env.run(&["force", "fetch-a"]));
    wait_for("the report to run again", LIMIT, || {
        (std::fs::read_to_string(&out).unwrap() == "run\nrun\n").then_some(())
    });
    ok(&env.run(&["run"]));
    assert_eq!(env.history_json(&["report"]).len(), 2);
}

#[test]
fn dependency_cycles_unknown_needs_and_a_schedule_beside_needs_are_config_errors() {
    let env = Env::with_config(
        "[jobs.a]\ntype = \"script\"\ncommand = \"true\"\nneeds = [\"b\"]\n\n\
         [jobs.b]\ntype = \"script\"\ncommand = \"true\"\nneeds = [\"c\"]\n\n\
         [jobs.c]\ntype = \"script\"\ncommand = \"true\"\nneeds = [\"a\"]\n\n\
         [jobs.d]\ntype = \"script\"\ncommand = \"true\"\nneeds = [\"nope\", \"d\"]\nevery = \"1h\"\n",
    );
    let o = env.run(&["check"]);
    assert_eq!(code(&o), 78, "{}", both(&o));
    let err = stderr(&o);
    assert!(err.contains("a dependency cycle: a → b → c → a"), "{err}");
    assert_eq!(
        err.matches("a dependency cycle").count(),
        2,
        "each cycle once: {err}"
    );
    assert!(
        err.contains("jobs.d.needs: \"nope\" is not a job of this file"),
        "{err}"
    );
    assert!(err.contains("a dependency cycle: d → d"), "{err}");
    assert!(err.contains("has no schedule of its own"), "{err}");
    assert!(!env.state_dir().exists(), "nothing created");
}
