//! Crash resilience (reliability.md, "What is never lost"): jobctl is SIGKILLed at every
//! crash point of `src/faults.rs` (`JOBCTL_FAULT=<point>`), in a scheduled run (`jobctl
//! run`: the tick, then its detached supervisor) and in a forced run (`jobctl force`, its
//! own supervisor), for a script job and for an agent job on a `command`-preset fake agent.
//!
//! After each crash, without the fault: `jobctl list` recovers, and then no run is left
//! `running`, the db passes `PRAGMA integrity_check`, no process of the run is alive, the
//! agent's budget usage equals the agent calls that actually started (a reservation whose
//! agent never started is given back, never charged twice), every run has exactly one end
//! event, and the job runs again, forced and by a later tick.

use crate::support::*;

use std::panic::AssertUnwindSafe;
use std::process::Output;
use std::time::{Duration, Instant};

use std::os::unix::process::ExitStatusExt;

/// A Monday morning, UTC, in the past of the machine's clock.
const T: &str = "2026-06-01T10:00:00Z";
/// An hour and a minute later, the same budget day: an `every = "1h"` job is due again.
const T_NEXT: &str = "2026-06-01T11:01:00Z";

const LIMIT: Duration = Duration::from_secs(30);

/// The crash points, in the order a run passes them (`jobctl::faults::POINTS`).
const POINTS: &[&str] = &[
    "enqueue_after_record",
    "drain_before_claim",
    "drain_after_claim",
    "tick_after_claim",
    "supervisor_start",
    "after_reserve",
    "before_spawn",
    "after_spawn",
    "during_output",
    "pause_after_stop",
    "before_end_record",
    "retry_after_record",
];

/// The points of run control (the queue, pausing, retries): off the path of a plain
/// scheduled or forced run; `crash_control::` kills jobctl at each of them.
const CONTROL_POINTS: &[&str] = &[
    "enqueue_after_record",
    "drain_before_claim",
    "drain_after_claim",
    "pause_after_stop",
    "retry_after_record",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// `jobctl run` with the job due: the tick claims it, a detached supervisor runs it.
    Tick,
    /// `jobctl force NAME`: the forced process supervises the run itself.
    Force,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Script,
    Agent,
}

impl Kind {
    fn job(self) -> &'static str {
        match self {
            Kind::Script => "script-job",
            Kind::Agent => "agent-job",
        }
    }
}

/// What a crash at `point` must leave behind once recovered.
struct Expect {
    /// The point is on this run's path, so jobctl died there.
    killed: bool,
    /// The run's status after recovery.
    status: &'static str,
    /// Agent calls that started (budget units charged, rate 1).
    charged: f64,
}

fn expect(mode: Mode, kind: Kind, point: &str) -> Expect {
    let on_path = match point {
        // Only the tick claims runs; a forced run never passes this point.
        "tick_after_claim" => mode == Mode::Tick,
        // Only an agent job reserves budget.
        "after_reserve" => kind == Kind::Agent,
        _ => true,
    };
    let agent_started = kind == Kind::Agent
        && (!on_path || matches!(point, "after_spawn" | "during_output" | "before_end_record"));
    Expect {
        killed: on_path,
        status: if on_path { "lost" } else { "succeeded" },
        charged: if agent_started { 1.0 } else { 0.0 },
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// An env with a script job and an agent job (a `command`-preset fake agent, daily budget
/// 5, rate 1), both every hour, both printing a few lines.
fn crash_env() -> Env {
    let env = Env::new();
    // While `hold` exists the job (or agent) stays alive after its first output, so a
    // supervisor killed `during_output` leaves it orphaned for recovery to find.
    let hold = env.home().join("hold");
    let job = env.script(
        "bin/job.sh",
        &format!(
            "#!/bin/sh\necho 'job output 1'\nwhile [ -e '{h}' ]; do sleep 0.02; done\n\
             echo 'job output 2'\necho 'job output 3' >&2\n",
            h = hold.display()
        ),
    );
    let agent = env.script(
        "bin/agent.sh",
        &format!(
            "#!/bin/sh\necho \"thinking about: $1\"\nwhile [ -e '{h}' ]; do sleep 0.02; done\n\
             echo 'the answer is 42'\n",
            h = hold.display()
        ),
    );
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n\
         [agents.fake]\npreset = \"command\"\ndaily_budget = 5\ncommand = ['{}', \"{{prompt}}\"]\n\n\
         [jobs.script-job]\ntype = \"script\"\ncommand = ['{}']\nevery = \"1h\"\ntimeout = \"1m\"\n\n\
         [jobs.agent-job]\ntype = \"agent\"\nagent = \"fake\"\nprompt = \"what is the answer?\"\n\
         every = \"1h\"\ntimeout = \"1m\"\n",
        agent.display(),
        job.display()
    ));
    env
}

fn spawn_at(env: &Env, args: &[&str], now: &str, fault: Option<&str>) -> Proc {
    let mut c = env.cmd(args);
    c.env("JOBCTL_NOW", now).env_remove("JOBCTL_FAULT");
    if let Some(f) = fault {
        c.env("JOBCTL_FAULT", f);
    }
    Proc::start(env, c)
}

/// `jobctl ARGS` at `now`, without a fault, to its exit.
fn jobctl(env: &Env, now: &str, args: &[&str]) -> Output {
    spawn_at(env, args, now, None).wait(LIMIT).0
}

/// Waits until no `jobctl` process of this env is alive: the killed one is gone and any
/// supervisor that was not killed has finished.
fn wait_no_jobctl(env: &Env) {
    wait_for("the env's jobctl processes to be gone", LIMIT, || {
        jobctl_processes(env).is_empty().then_some(())
    });
}

/// (id, status) of every run, oldest first, read straight from the db (no recovery).
fn runs(env: &Env) -> Vec<(i64, String)> {
    raw_runs(env)
        .into_iter()
        .map(|(id, _, status)| (id, status.to_string()))
        .collect()
}

#[track_caller]
fn assert_integrity(env: &Env) {
    let rows: Vec<String> = {
        let c = env.db();
        let mut st = c.prepare("PRAGMA integrity_check").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(rows, vec!["ok".to_string()], "PRAGMA integrity_check");
}

/// Every run has exactly one end event (`run_ended` or `run_lost`), and no end event
/// names a run that doesn't exist.
#[track_caller]
fn assert_one_end_event_per_run(env: &Env) {
    let c = env.db();
    let mut st = c
        .prepare(
            "SELECT r.id, r.status, \
             (SELECT COUNT(*) FROM events e WHERE e.run_id = r.id AND e.kind IN ('run_ended', 'run_lost')), \
             (SELECT group_concat(e.kind) FROM events e WHERE e.run_id = r.id AND e.kind IN ('run_ended', 'run_lost')) \
             FROM runs r ORDER BY r.id",
        )
        .unwrap();
    let rows: Vec<(i64, String, i64, Option<String>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (id, status, n, kinds) in &rows {
        assert_eq!(
            *n, 1,
            "run {id} ({status}) has {n} end events ({kinds:?}); all runs: {rows:?}"
        );
        let want = if status == "lost" {
            "run_lost"
        } else {
            "run_ended"
        };
        assert_eq!(kinds.as_deref(), Some(want), "run {id} ({status})");
    }
    let orphans: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind IN ('run_ended', 'run_lost') \
             AND run_id NOT IN (SELECT id FROM runs)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "end events of runs that don't exist");
}

/// The agent's usage of the budget day of `now`, from `jobctl status --json` (one row per
/// scope; usage is shared, so all rows must agree).
fn used(env: &Env, now: &str) -> f64 {
    let o = jobctl(env, now, &["status", "--json"]);
    assert_eq!(code(&o), 0, "status --json\n{}", both(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status --json is JSON");
    let rows: Vec<f64> = v["agents"]
        .as_array()
        .expect("agents[]")
        .iter()
        .filter(|a| a["agent"] == "fake")
        .map(|a| a["used"].as_f64().expect("used is a number"))
        .collect();
    assert!(!rows.is_empty(), "no agent rows in {v}");
    assert!(
        rows.iter().all(|u| *u == rows[0]),
        "the scopes disagree on the shared usage: {v}"
    );
    rows[0]
}

#[track_caller]
fn assert_no_process_alive(env: &Env, id: i64) {
    let (live, _zombies) = run_processes(&env.state_dir(), id);
    assert!(live.is_empty(), "run {id} left live processes: {live:?}");
}

// ---------------------------------------------------------------------------------------
// One scenario: crash at `point`, recover, check, run again
// ---------------------------------------------------------------------------------------

fn scenario(mode: Mode, kind: Kind, point: &str) {
    let env = crash_env();
    let _sweep = Sweep::new(&env);
    let job = kind.job();
    let want = expect(mode, kind, point);

    // 1. The crash. Killed while the job prints, the job is kept alive past its supervisor.
    let hold = env.home().join("hold");
    if point == "during_output" {
        std::fs::write(&hold, "").unwrap();
    }
    match mode {
        Mode::Tick => {
            let o = spawn_at(&env, &["run", "--job", job], T, Some(point))
                .wait(LIMIT)
                .0;
            if point == "tick_after_claim" {
                assert_eq!(
                    o.status.signal(),
                    Some(9),
                    "the tick kills itself at {point}\n{}",
                    both(&o)
                );
            } else {
                assert_eq!(code(&o), 0, "the tick itself ends normally\n{}", both(&o));
            }
        }
        Mode::Force => {
            let o = spawn_at(&env, &["force", job], T, Some(point))
                .wait(LIMIT)
                .0;
            if want.killed {
                assert_eq!(
                    o.status.signal(),
                    Some(9),
                    "the forced run kills itself at {point}\n{}",
                    both(&o)
                );
            } else {
                assert_eq!(code(&o), 0, "{point} is not on this path\n{}", both(&o));
            }
        }
    }
    // The killed process (and any supervisor the fault did not stop) is gone.
    wait_no_jobctl(&env);
    let before = runs(&env);
    assert_eq!(before.len(), 1, "one run was recorded: {before:?}");
    let id = before[0].0;
    if point == "during_output" {
        let (live, _) = run_processes(&env.state_dir(), id);
        assert!(
            !live.is_empty(),
            "the job outlived its killed supervisor (this test needs it alive)"
        );
        // `hold` stays: recovery must kill it, it won't end by itself.
    }

    // 2. Recovery, without the fault.
    let o = jobctl(&env, T, &["list"]);
    assert_eq!(code(&o), 0, "list recovers\n{}", both(&o));
    let after = runs(&env);
    assert_eq!(
        after,
        vec![(id, want.status.to_string())],
        "the run after recovery (was {before:?})"
    );
    assert_integrity(&env);
    assert_no_process_alive(&env, id);
    assert_one_end_event_per_run(&env);
    assert_eq!(
        used(&env, T),
        want.charged,
        "budget usage = agent calls that started"
    );
    // Recovering again changes nothing: the run is closed exactly once.
    let o = jobctl(&env, T, &["history", "--json"]);
    assert_eq!(code(&o), 0, "history\n{}", both(&o));
    assert_eq!(runs(&env), after);
    assert_one_end_event_per_run(&env);
    assert_eq!(used(&env, T), want.charged, "usage after a second recovery");

    let _ = std::fs::remove_file(&hold);

    // 3. The job runs again: forced...
    let o = jobctl(&env, T, &["force", job]);
    assert_eq!(code(&o), 0, "force after the crash\n{}", both(&o));
    // ...and by a later tick.
    let o = jobctl(&env, T_NEXT, &["run", "--job", job]);
    assert_eq!(code(&o), 0, "a later tick\n{}", both(&o));
    wait_no_jobctl(&env);
    let all = runs(&env);
    assert_eq!(
        all.len(),
        3,
        "the crashed run, the forced one, the tick's: {all:?}"
    );
    assert_eq!(all[0], (id, want.status.to_string()));
    for (rid, status) in &all[1..] {
        assert_eq!(status, "succeeded", "run {rid} after the crash: {all:?}");
    }
    assert_integrity(&env);
    assert_one_end_event_per_run(&env);
    for (rid, _) in &all {
        assert_no_process_alive(&env, *rid);
    }
    let extra = if kind == Kind::Agent { 2.0 } else { 0.0 };
    assert_eq!(
        used(&env, T_NEXT),
        want.charged + extra,
        "usage after two more agent calls"
    );
}

/// Runs every (kind, point) scenario of `mode`, collecting every failure before failing.
fn every_point(mode: Mode) {
    let mut failures = Vec::new();
    for kind in [Kind::Script, Kind::Agent] {
        for point in POINTS.iter().filter(|p| !CONTROL_POINTS.contains(p)) {
            let start = Instant::now();
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| scenario(mode, kind, point)));
            eprintln!("{mode:?} {kind:?} {point}: {:?}", start.elapsed());
            if let Err(e) = r {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{mode:?} / {kind:?} / {point}: {msg}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} crash scenario(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_crash_points_are_the_ones_of_the_binary() {
    assert_eq!(POINTS, jobctl::faults::POINTS);
}

#[test]
fn a_scheduled_run_killed_at_every_crash_point_is_recovered() {
    every_point(Mode::Tick);
}

#[test]
fn a_forced_run_killed_at_every_crash_point_is_recovered() {
    every_point(Mode::Force);
}
