//! Many jobctl processes at once, as on a busy machine: ticks, forced runs, `ask` calls and
//! every read command side by side against one state directory. None of them may fail for
//! the database being busy, and no command may mistake another's live run for a lost one.

use crate::support::*;

use std::collections::BTreeMap;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn config(env: &Env, keep_runs: u32) -> String {
    env.script(
        "bin/slow-agent",
        "#!/bin/sh\nsleep \"${ANSWER_AFTER:-0}\"\necho \"answer to: $1\"\n",
    );
    let mut t = format!(
        "{}max_running = 50\nkeep_runs = {keep_runs}\n\n[agents.local]\npreset = \"command\"\ndaily_budget = 100000\n\
         command = [\"{}/bin/slow-agent\", \"{{prompt}}\"]\n\n[fallback]\norder = [\"local\"]\n\n",
        runner(env, ""),
        env.home().display(),
    );
    for i in 0..6 {
        t.push_str(&format!(
            "[jobs.j{i}]\ntype = \"script\"\ncommand = \"echo j{i}\"\nevery = \"1m\"\n\n"
        ));
    }
    t.push_str("[jobs.a0]\ntype = \"agent\"\nprompt = \"hi\"\nevery = \"1m\"\n");
    t
}

#[test]
fn a_busy_database_never_fails_a_command() {
    let env = Env::new();
    env.config(&config(&env, 2));
    let _s = Sweep::new(&env);
    ok(&env.run(&["check"]));
    let counts: Arc<Mutex<BTreeMap<i32, usize>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    std::thread::scope(|scope| {
        for t in 0..16 {
            let (env, counts, failures) = (&env, counts.clone(), failures.clone());
            scope.spawn(move || {
                for i in 0..40 {
                    let job = format!("j{}", (t + i) % 6);
                    // Mostly runs that end (their end record and pruning read, then write).
                    let args: Vec<&str> = match (t + i) % 8 {
                        0 => vec!["run"],
                        1 => vec!["list"],
                        2 => vec!["status"],
                        3 | 6 => vec!["ask", "--agent", "local", "q"],
                        4 | 7 => vec!["force", &job],
                        _ => vec!["reset", "budgets"],
                    };
                    let o: Output = env.run(&args);
                    *counts.lock().unwrap().entry(code(&o)).or_default() += 1;
                    // 75: the job is already running (a forced run racing a tick): expected.
                    if ![0, 75].contains(&code(&o)) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{args:?}\n{}", both(&o)));
                    }
                }
            });
        }
    });
    let counts = counts.lock().unwrap();
    eprintln!("exit codes of 640 concurrent commands: {counts:?}");
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} commands failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn an_ask_is_never_taken_for_a_lost_run() {
    let env = Env::new();
    env.config(&config(&env, 20));
    let _s = Sweep::new(&env);
    // Five asks that take a while, and every other command beside them.
    let asks: Vec<_> = (0..5)
        .map(|i| {
            env.cmd(&["ask", "--agent", "local", &format!("question {i}")])
                .env("ANSWER_AFTER", "2")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_for("the asks to be running", Duration::from_secs(10), || {
        let st = env.run(&["status", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).ok()?;
        (v["running"].as_array()?.len() == 5).then_some(())
    });
    for args in [
        &["run"][..],
        &["list"],
        &["status"],
        &["history"],
        &["force", "j1"],
        &["logs", "--job", "j1"],
        &["cancel", "--job", "j2"],
    ] {
        let _ = env.run(args);
    }
    for (i, a) in asks.into_iter().enumerate() {
        let o = a.wait_with_output().unwrap();
        ok(&o);
        assert_eq!(stdout(&o).trim(), format!("answer to: question {i}"));
    }
    let h = env.history_json(&["ask"]);
    assert_eq!(h.len(), 5, "{h:#?}");
    for r in &h {
        assert_eq!(r["status"], "succeeded", "no ask was closed as lost: {r:#}");
    }
    let locks = std::fs::read_dir(env.state_dir().join("locks/ask"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(locks, 0, "every ask removed its lock file");
}

#[test]
fn a_killed_ask_is_recovered_like_any_run() {
    let env = Env::new();
    env.config(&config(&env, 20));
    let _s = Sweep::new(&env);
    let mut a = env
        .cmd(&["ask", "--agent", "local", "slow question"])
        .env("ANSWER_AFTER", "30")
        .spawn()
        .unwrap();
    let run_id = wait_for("the ask's agent to run", Duration::from_secs(10), || {
        let h = env.history_json(&["ask"]);
        let id = h.first()?["run_id"].as_i64()?;
        (!run_processes(&env.state_dir(), id).0.is_empty()).then_some(id)
    });
    a.kill().unwrap();
    a.wait().unwrap();
    ok(&env.run(&["list"]));
    let r = &env.history_json(&["ask"])[0];
    assert_eq!(r["status"], "lost", "{r:#}");
    assert_eq!(r["agent"], "local", "a lost run keeps its agent: {r:#}");
    wait_for("the agent to be gone", Duration::from_secs(10), || {
        run_processes(&env.state_dir(), run_id)
            .0
            .is_empty()
            .then_some(())
    });
}

#[test]
fn a_writer_waits_for_another_writer_instead_of_failing() {
    // One run's supervisor is paused inside pruning its job's history, between reading
    // what to delete and deleting it, while another command writes. Begun as a reader,
    // the pruning could not write after that (SQLITE_BUSY_SNAPSHOT, at once, whatever the
    // busy timeout); begun as a writer, the other command waits its turn and both succeed.
    let env = Env::new();
    env.config(&config(&env, 2));
    let _s = Sweep::new(&env);
    for _ in 0..2 {
        ok(&env.run(&["force", "j1"]));
    }
    let mark = env.home().join("paused");
    let paused = env
        .cmd(&["force", "j1"])
        .env("JOBCTL_PAUSE", "prune_read:1500")
        .env("JOBCTL_PAUSE_MARK", &mark)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the pruning to pause", Duration::from_secs(10), || {
        mark.exists().then_some(())
    });
    let o = env.run(&["force", "j2"]);
    ok(&o);
    let o = paused.wait_with_output().unwrap();
    ok(&o);
    assert!(
        !stderr(&o).contains("can't prune"),
        "pruning raced a writer and lost:\n{}",
        both(&o)
    );
    assert_eq!(
        env.history_json(&["j1"]).len(),
        2,
        "keep_runs = 2 was applied"
    );
}
