//! `jobctl scheduler`, run for real on the real clock: runs started on their slot, config
//! edits picked up as they are saved (an invalid one kept out, and said so in the log and
//! in `status`), SIGHUP, SIGTERM (exit 0 at once, running jobs carry on), a slot started
//! exactly once when schedulers and timer ticks race for it, and, as PID 1 of a PID
//! namespace (`unshare --pid --fork`), orphans reaped.
//!
//! A job never seen before is due at once (its first slot is the moment it is first seen),
//! which lets most tests make a slot come by writing the config. Every wait polls with a
//! deadline.

use crate::support::server::{self, token};
use crate::support::*;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(30);

const RUNNER: &str = "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n";

fn hourly(name: &str, command: &str) -> String {
    format!("[jobs.{name}]\ntype = \"script\"\ncommand = \"{command}\"\nevery = \"1h\"\n\n")
}

/// `jobctl scheduler --log-format json` in the background.
fn scheduler(env: &Env) -> Proc {
    spawn(env, &["scheduler", "--log-format", "json"], None)
}

/// The scheduler's log lines so far, as JSON.
fn events(p: &Proc) -> Vec<Value> {
    p.stderr_now()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for an event of `kind` (the `n`th one, counting from 1), returns it.
fn wait_event(p: &Proc, kind: &str, n: usize) -> Value {
    wait_for(&format!("event {kind} #{n}"), LONG, || {
        events(p)
            .into_iter()
            .filter(|e| e["event"] == kind)
            .nth(n - 1)
    })
}

fn runs_of(env: &Env, job: &str) -> Vec<Value> {
    env.history_json(&[job, "-n", "100"])
}

/// Writes job `b` beside hourly `a` (which ran once): b's first slot runs at once, and
/// a's does not run again.
fn add_b_and_see_it_run_once(env: &Env) {
    env.config(&format!(
        "{RUNNER}{}{}",
        hourly("a", "true"),
        hourly("b", "true")
    ));
    wait_for("b's first run", LONG, || {
        (runs_of(env, "b").len() == 1).then_some(())
    });
    assert_eq!(runs_of(env, "a").len(), 1);
}

fn status_json(env: &Env) -> Value {
    let o = env.run(&["status", "--json"]);
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn edits_are_picked_up_at_once() {
    let env = Env::with_config(&format!("{RUNNER}{}", hourly("a", "true")));
    let _sweep = Sweep::new(&env);
    let s = scheduler(&env);
    wait_for("a's first run", LONG, || {
        (runs_of(&env, "a").len() == 1).then_some(())
    });
    // Its presence, with the next wake-up: a's next slot, an hour on.
    let st = wait_for("the scheduler in status", LONG, || {
        let st = status_json(&env);
        (st["schedulers"][0]["next_job"] == "a").then_some(st)
    });
    assert_eq!(st["schedulers"][0]["pid"], s.pid());
    assert_eq!(st["tick_late"], false, "{st}");
    let text = stdout(&env.run(&["status"]));
    assert!(
        text.contains(&format!("scheduler: pid {}", s.pid())),
        "{text}"
    );
    // A new job: its first slot run at once.
    add_b_and_see_it_run_once(&env);
    // A changed schedule: a's next slot, now a year away, is no longer the next wake-up
    // (b's, an hour after it was first seen, is).
    env.config(&format!(
        "{RUNNER}[jobs.a]\ntype = \"script\"\ncommand = \"true\"\ncron = \"0 0 1 1 *\"\n\n{}",
        hourly("b", "true")
    ));
    wait_for("b the next wake-up", LONG, || {
        (status_json(&env)["schedulers"][0]["next_job"] == "b").then_some(())
    });
}

/// An invalid edit keeps the previous config: said in the log and in the status of the
/// server that schedules (`serve --schedule`, whose own config is the previous one too;
/// the command line's `status` reads the file and reports it invalid, as every command
/// does). The next valid edit is taken.
#[test]
fn an_invalid_edit_keeps_the_previous_config_and_says_why() {
    let env = Env::with_config(&format!("{RUNNER}{}", hourly("a", "true")));
    let _sweep = Sweep::new(&env);
    let server = server::Server::start_with(&env, &["--schedule", "--log-format", "json"]);
    let read = token(&env, &["--scope", "read"]);
    wait_for("a's first run", LONG, || {
        (runs_of(&env, "a").len() == 1).then_some(())
    });
    let sched_events = |kind: &str| -> Vec<Value> {
        server
            .log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["event"] == kind)
            .collect()
    };
    env.config(&format!(
        "{RUNNER}{}[jobs.b]\ntype = \"script\"\n",
        hourly("a", "true")
    ));
    let bad = wait_for("config_invalid", LONG, || {
        sched_events("config_invalid").pop()
    });
    assert!(bad["error"].as_str().unwrap().contains("jobs.b"), "{bad}");
    let st = wait_for("the error in status", LONG, || {
        let st = server.get("/api/v1/status", Some(&read)).json();
        st["schedulers"][0]["config_error"]
            .is_string()
            .then_some(st)
    });
    assert!(
        st["schedulers"][0]["config_error"]
            .as_str()
            .unwrap()
            .contains("jobs.b"),
        "{st}"
    );
    assert_eq!(st["schedulers"][0]["pid"], server.pid());
    env.config(&format!(
        "{RUNNER}{}{}",
        hourly("a", "true"),
        hourly("c", "true")
    ));
    wait_for("c's first run", LONG, || {
        (runs_of(&env, "c").len() == 1).then_some(())
    });
    wait_for("the error cleared", LONG, || {
        server.get("/api/v1/status", Some(&read)).json()["schedulers"][0]["config_error"]
            .is_null()
            .then_some(())
    });
    assert_eq!(server.stop(), 0);
}

#[test]
fn a_prompt_file_edit_is_a_config_edit() {
    let env = Env::new();
    let _sweep = Sweep::new(&env);
    env.write("prompt.md", "first\n");
    env.config(&format!(
        "{RUNNER}[agents.local]\npreset = \"command\"\ndaily_budget = 100\ncommand = [\"true\", \"{{prompt}}\"]\n\n\
         {}[jobs.review]\ntype = \"agent\"\nagent = \"local\"\nprompt_file = \"prompt.md\"\n",
        hourly("a", "true")
    ));
    let s = scheduler(&env);
    wait_event(&s, "started", 1);
    env.write("prompt.md", "second\n");
    let changed = wait_event(&s, "config_changed", 1);
    assert!(
        changed["file"].as_str().unwrap().ends_with("prompt.md"),
        "{changed}"
    );
    wait_event(&s, "config_reloaded", 1);
}

#[test]
fn sighup_reloads_and_sigterm_exits_0_at_once_leaving_runs_to_finish() {
    let env = Env::with_config(&format!("{RUNNER}{}", hourly("slow", "sleep 2")));
    let _sweep = Sweep::new(&env);
    let mut s = scheduler(&env);
    let started = wait_event(&s, "started", 1);
    assert_eq!(started["job"], "slow");
    kill(Pid::from_raw(s.pid()), Signal::SIGHUP).unwrap();
    wait_event(&s, "reload_asked", 1);
    wait_event(&s, "config_reloaded", 1);
    assert!(!s.exited(), "SIGHUP does not stop it");
    let run = started["run"].as_i64().unwrap();
    assert_eq!(stored_run(&env, run).status, RunStatus::Running);
    kill(Pid::from_raw(s.pid()), Signal::SIGTERM).unwrap();
    let (out, took) = s.wait(LONG);
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status.signal());
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        stored_run(&env, run).status,
        RunStatus::Running,
        "the run goes on"
    );
    wait_for("the run's end", LONG, || {
        (stored_run(&env, run).status == RunStatus::Succeeded).then_some(())
    });
    assert!(
        status_json(&env)["schedulers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_killed_scheduler_leaves_no_presence_behind() {
    let env = Env::with_config(&format!("{RUNNER}{}", hourly("a", "true")));
    let _sweep = Sweep::new(&env);
    let mut s = scheduler(&env);
    wait_for("the scheduler in status", LONG, || {
        (status_json(&env)["schedulers"].as_array().unwrap().len() == 1).then_some(())
    });
    kill(Pid::from_raw(s.pid()), Signal::SIGKILL).unwrap();
    s.wait(LONG);
    assert!(
        status_json(&env)["schedulers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Two schedulers and timer ticks see 30 new jobs' first slots at the same moment: each
/// slot is run once.
#[test]
fn schedulers_and_timer_ticks_racing_start_each_slot_once() {
    let env = Env::with_config(RUNNER);
    let _sweep = Sweep::new(&env);
    let first = scheduler(&env);
    let second = scheduler(&env);
    wait_event(&first, "scheduler_started", 1);
    wait_event(&second, "scheduler_started", 1);
    let jobs: String = (0..30)
        .map(|i| hourly(&format!("j{i:02}"), "true"))
        .collect();
    env.config(&format!("{RUNNER}{jobs}"));
    let ticks: Vec<Proc> = (0..3).map(|_| spawn(&env, &["run"], None)).collect();
    wait_for("30 runs", LONG, || {
        (stored_runs(&env).len() >= 30).then_some(())
    });
    for mut t in ticks {
        assert_eq!(code(&t.wait(LONG).0), 0);
    }
    // Every tick has decided by now: one more finds nothing due.
    ok(&env.run(&["run"]));
    let runs = stored_runs(&env);
    let mut jobs: Vec<&str> = runs.iter().map(|r| r.job.as_str()).collect();
    jobs.sort();
    jobs.dedup();
    assert_eq!((runs.len(), jobs.len()), (30, 30), "{runs:#?}");
}

/// A job every minute: its second run starts on the minute after its first slot.
#[test]
fn runs_start_on_their_slot() {
    let env = Env::with_config(&format!(
        "{RUNNER}[jobs.m]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1m\"\n"
    ));
    let _sweep = Sweep::new(&env);
    let _s = scheduler(&env);
    let mut runs = wait_for("two runs", Duration::from_secs(90), || {
        let r = stored_runs(&env);
        (r.len() >= 2).then_some(r)
    });
    runs.sort_by_key(|r| r.id);
    let (a, b) = (&runs[0], &runs[1]);
    assert_eq!(b.scheduled_for - a.scheduled_for, 60_000);
    let late = b.started_at - b.scheduled_for;
    assert!((0..500).contains(&late), "started {late} ms after its slot");
}

/// As a PID namespace's first process (a container's main process), it is the reaper of
/// every orphan: here a process it inherited from the shell that exec'd it, and one the
/// shell's subshell orphaned.
#[test]
fn as_pid_1_it_reaps_orphans() {
    let env = Env::with_config(&format!("{RUNNER}{}", hourly("a", "true")));
    let _sweep = Sweep::new(&env);
    let mut c = env.command("unshare");
    c.args(["--pid", "--fork", "--kill-child", "sh", "-c"])
        .arg(format!(
            "sleep 1 & (sleep 1 &); exec {BIN} scheduler --log-format json"
        ));
    let mut p = Proc::start(&env, c);
    let started = wait_event(&p, "scheduler_started", 1);
    assert_eq!(started["pid"], 1, "it is PID 1: {started}");
    let reaped = wait_for("two orphans reaped", LONG, || {
        let r: Vec<Value> = events(&p)
            .into_iter()
            .filter(|e| e["event"] == "reaped")
            .collect();
        (r.len() >= 2).then_some(r)
    });
    assert!(reaped.iter().all(|e| e["exit"] == 0), "{reaped:?}");
    // The supervisor of a's run is its child too, reaped when it ends.
    wait_for("a's run", LONG, || {
        (runs_of(&env, "a").len() == 1).then_some(())
    });
    wait_event(&p, "reaped", 3);
    // SIGTERM to it (the PID 1 inside is this pid outside), not to unshare.
    let unshare = p.pid();
    let inner: i32 = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let t = Instant::now();
    kill(Pid::from_raw(inner), Signal::SIGTERM).unwrap();
    assert_eq!(code(&p.wait(LONG).0), 0);
    assert!(t.elapsed() < Duration::from_secs(1));
}

use jobctl::core::run::RunStatus;

/// The wall clock set while the scheduler sleeps toward a slot an hour away: the kernel
/// cancels its alarm (`TFD_TIMER_CANCEL_ON_SET`), it says so, ticks again at once, runs
/// nothing twice and goes on starting what comes due. The set is the machine's real
/// clock, set to what it reads (a step of microseconds): any set is the same event to
/// the kernel, and a step of hours would move the clock under every other process too.
/// Needs CAP_SYS_TIME (root here and in CI); elsewhere it says why and passes.
#[test]
fn a_clock_set_wakes_it_and_it_carries_on() {
    use nix::time::{ClockId, clock_gettime, clock_settime};
    let env = Env::with_config(&format!("{RUNNER}{}", hourly("a", "true")));
    let _sweep = Sweep::new(&env);
    let p = scheduler(&env);
    wait_event(&p, "started", 1);
    let before = wait_for("a the next wake-up", LONG, || {
        let st = status_json(&env);
        (st["schedulers"][0]["next_job"] == "a").then(|| st["schedulers"][0]["next_wakeup"].clone())
    });
    assert!(before.is_string(), "{before}");
    // Set while it sleeps: its alarm is armed a moment after `status` shows the wake-up
    // (a set before that is no event to it: the alarm, armed after, is already set by the
    // new clock), so the clock is set again until one lands in the sleep. Each that does
    // is noticed within a second.
    let set = || {
        let now = clock_gettime(ClockId::CLOCK_REALTIME).unwrap();
        clock_settime(ClockId::CLOCK_REALTIME, now)
    };
    if let Err(e) = set() {
        assert!(
            std::env::var_os("CI").is_none(),
            "setting the clock needs CAP_SYS_TIME: {e}"
        );
        eprintln!("skipped: setting the clock needs CAP_SYS_TIME ({e})");
        return;
    }
    let noticed = || events(&p).iter().any(|e| e["event"] == "clock_set");
    let deadline = Instant::now() + LONG;
    loop {
        let t = Instant::now();
        while !noticed() && t.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if noticed() {
            assert!(
                t.elapsed() < Duration::from_millis(1100),
                "clock_set {:?} after the set",
                t.elapsed()
            );
            break;
        }
        assert!(Instant::now() < deadline, "no clock_set event in {LONG:?}");
        set().unwrap();
    }
    // It ticked again and sleeps toward the same slot; a's slot was not run again.
    wait_for("the next wake-up kept", LONG, || {
        (status_json(&env)["schedulers"][0]["next_wakeup"] == before).then_some(())
    });
    assert_eq!(runs_of(&env, "a").len(), 1);
    // And it still starts what comes due: a job written now runs at once.
    add_b_and_see_it_run_once(&env);
}

/// What the container image runs (contrib/container/Dockerfile: its ENV, ENTRYPOINT and
/// CMD), run here without a container runtime: the config beside it passes `check`, and
/// the command starts the scheduler, which runs its job and exits 0 on SIGTERM.
#[test]
fn the_container_image_command_schedules_its_config() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/container");
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let exec_form = |key: &str| -> Vec<String> {
        let line = dockerfile
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in the Dockerfile"));
        serde_json::from_str(line.trim()).unwrap()
    };
    let (entry, cmd) = (exec_form("ENTRYPOINT "), exec_form("CMD "));
    assert_eq!(entry, ["jobctl"]);
    assert!(dockerfile.contains("JOBCTL_CONFIG=/etc/jobctl/jobctl.toml"));
    let config = dir.join("jobctl.toml");
    let env = Env::new();
    let check = env
        .cmd(&["check"])
        .env("JOBCTL_CONFIG", &config)
        .output()
        .unwrap();
    ok(&check);
    let mut c = env.cmd(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
    c.env("JOBCTL_CONFIG", &config);
    let _sweep = Sweep::new(&env);
    let mut p = Proc::start(&env, c);
    wait_event(&p, "started", 1);
    wait_for("heartbeat's run", LONG, || {
        (runs_of_config(&env, &config, "heartbeat") == 1).then_some(())
    });
    kill(Pid::from_raw(p.pid()), Signal::SIGTERM).unwrap();
    assert_eq!(code(&p.wait(LONG).0), 0);
}

fn runs_of_config(env: &Env, config: &std::path::Path, job: &str) -> usize {
    let o = env
        .cmd(&["history", "--json", job])
        .env("JOBCTL_CONFIG", config)
        .output()
        .unwrap();
    ok(&o);
    serde_json::from_slice::<Vec<Value>>(&o.stdout)
        .unwrap()
        .len()
}
