//! The tick (`jobctl run`), forced runs and the commands that change a job's schedule state,
//! run for real against a temp `JOBCTL_HOME`: exit codes, `--dry-run`, `--job`, catch-up
//! after a gap, `max_running`, pause/resume/reset, history pruning, the log cap and what a
//! job's process gets (stdin, environment, argv).
//!
//! "Now" is pinned with `JOBCTL_NOW` wherever the schedule matters; the jobs themselves are
//! tiny and every wait polls with a deadline.

use crate::support::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A Monday morning, UTC.
const T: &str = "2026-06-01T10:00:00Z";

const RUNNER: &str = "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n";

fn ts(s: &str) -> jiff::Timestamp {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not a timestamp: {e}"))
}

/// `T` plus `secs`, as RFC 3339 (what JOBCTL_NOW takes).
fn t_plus(secs: i64) -> String {
    ts(T)
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap()
        .to_string()
}

const MIN: i64 = 60;
const HOUR: i64 = 3600;

/// Every run of `job`, newest first.
fn runs(env: &Env, job: &str) -> Vec<Value> {
    env.history_json(&[job, "-n", "1000"])
}

fn all_runs(env: &Env) -> Vec<Value> {
    env.history_json(&["-n", "1000"])
}

fn sched(run: &Value) -> jiff::Timestamp {
    ts(run["scheduled_for"]
        .as_str()
        .unwrap_or_else(|| panic!("no scheduled_for in {run}")))
}

/// A tick at `now` that waits for the runs it starts.
fn tick_at(env: &Env, now: &str) -> Output {
    env.run_at(now, &["run", "--wait"])
}

/// A TOML literal string of a path (temp paths hold no single quote).
fn lit(p: &Path) -> String {
    format!("'{}'", p.display())
}

// ---------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------

#[test]
fn nothing_due_exits_0_and_starts_nothing() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.manual]\ntype = \"script\"\ncommand = \"true\"\n\n\
         [jobs.hourly]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
    ));
    let _sweep = Sweep::new(&env);
    // First tick: the hourly job is due at once (first seen), the manual one never.
    let o = tick_at(&env, T);
    ok(&o);
    assert_eq!(runs(&env, "hourly").len(), 1);
    // Ten minutes later nothing is due.
    for args in [&["run"][..], &["run", "--wait"][..]] {
        let o = env.run_at(&t_plus(10 * MIN), args);
        assert_eq!(
            code(&o),
            0,
            "nothing due must exit 0 ({args:?})\n{}",
            both(&o)
        );
    }
    assert_eq!(all_runs(&env).len(), 1, "no new run: {:#?}", all_runs(&env));
    assert!(
        runs(&env, "manual").is_empty(),
        "a manual job never runs from a tick"
    );
}

#[test]
fn run_wait_exits_1_when_a_run_failed_and_0_when_all_succeeded() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.fails]\ntype = \"script\"\ncommand = \"exit 3\"\nevery = \"1h\"\n\n\
         [jobs.works]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
    ));
    let _sweep = Sweep::new(&env);
    let o = env.run_at(T, &["run", "--wait"]);
    assert_eq!(
        code(&o),
        1,
        "a failed run makes `run --wait` exit 1\n{}",
        both(&o)
    );
    let f = &runs(&env, "fails")[0];
    assert_eq!(f["status"], "failed", "{f}");
    assert_eq!(f["exit_code"], 3, "{f}");
    assert_eq!(runs(&env, "works")[0]["status"], "succeeded");
    // `--wait` prints one line per run as it ends.
    assert!(
        stdout(&o).contains("fails") && stdout(&o).contains("works"),
        "{}",
        both(&o)
    );

    // Only the successful job due: exit 0.
    let env2 = Env::with_config(&format!(
        "{RUNNER}\n[jobs.works]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
    ));
    let _sweep2 = Sweep::new(&env2);
    ok(&env2.run_at(T, &["run", "--wait"]));
    assert_eq!(runs(&env2, "works")[0]["status"], "succeeded");
}

#[test]
fn force_passes_the_jobs_exit_code_through() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.three]\ntype = \"script\"\ncommand = \"echo about to fail; exit 3\"\n\n\
         [jobs.ok]\ntype = \"script\"\ncommand = \"echo fine\"\n"
    ));
    let _sweep = Sweep::new(&env);
    let o = env.run(&["force", "three"]);
    assert_eq!(code(&o), 3, "{}", both(&o));
    assert!(
        stdout(&o).contains("about to fail"),
        "a forced run streams its output\n{}",
        both(&o)
    );
    let r = &runs(&env, "three")[0];
    assert_eq!(r["status"], "failed");
    assert_eq!(r["exit_code"], 3);
    assert_eq!(r["forced"], true);

    let o = env.run(&["force", "ok"]);
    ok(&o);
    assert!(stdout(&o).contains("fine"), "{}", both(&o));
    // `jobctl run --force --job NAME` is the same.
    let o = env.run(&["run", "--force", "--job", "three"]);
    assert_eq!(code(&o), 3, "{}", both(&o));
}

#[test]
fn force_exits_124_on_timeout() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.slow]\ntype = \"script\"\ncommand = \"sleep 60\"\ntimeout = \"1s\"\n"
    ));
    let _sweep = Sweep::new(&env);
    let start = Instant::now();
    let o = env.run(&["force", "slow"]);
    let took = start.elapsed();
    assert_eq!(code(&o), 124, "{}", both(&o));
    assert!(
        took < Duration::from_secs(30),
        "the 1s timeout took {took:?}"
    );
    let r = &runs(&env, "slow")[0];
    assert_eq!(r["status"], "timed_out", "{r}");
    let (live, zombies) = run_processes(&env.state_dir(), r["run_id"].as_i64().unwrap());
    assert!(
        live.is_empty() && zombies.is_empty(),
        "left behind: {live:?} {zombies:?}"
    );
}

#[test]
fn force_exits_128_plus_n_when_the_job_kills_itself() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.suicide]\ntype = \"script\"\ncommand = \"kill -9 $$\"\n"
    ));
    let _sweep = Sweep::new(&env);
    let o = env.run(&["force", "suicide"]);
    assert_eq!(code(&o), 128 + 9, "{}", both(&o));
    let r = &runs(&env, "suicide")[0];
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["signal"], 9, "{r}");
}

fn missing_program_env() -> Env {
    Env::with_config(&format!(
        "{RUNNER}\n[jobs.argv]\ntype = \"script\"\ncommand = [\"{MISSING}\", \"--flag\"]\n\n\
         [jobs.shell]\ntype = \"script\"\ncommand = \"jobctl-test-no-such-command-xyz\"\n"
    ))
}

/// A bare program name is looked up on the job's own PATH (not jobctl's), and the program
/// sees the name it was given as `argv[0]`, not the path it was found at.
#[test]
fn a_bare_program_is_found_on_the_jobs_path_and_keeps_its_name() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("bin")).unwrap();
    std::os::unix::fs::symlink("/bin/sh", env.home().join("bin/jobsh")).unwrap();
    env.config(&format!(
        "{}\n[jobs.name]\ntype = \"script\"\n\
         command = [\"jobsh\", \"-c\", \"echo argv0=$(tr '\\\\0' '\\\\n' < /proc/$$/cmdline | head -n 1)\"]\n",
        runner(&env, "")
    ));
    let o = env.run(&["force", "name"]);
    ok(&o);
    assert!(stdout(&o).contains("argv0=jobsh\n"), "{}", both(&o));
}

const MISSING: &str = "/nonexistent/jobctl-test-no-such-program";

#[test]
fn a_missing_program_fails_with_127_and_says_so() {
    let env = missing_program_env();
    let _sweep = Sweep::new(&env);

    // An array: jobctl can't exec it.
    let o = env.run(&["force", "argv"]);
    let text = both(&o).to_lowercase();
    assert!(
        text.contains("not found") && text.contains(MISSING),
        "the message must say the program was not found\n{}",
        both(&o)
    );
    let r = &runs(&env, "argv")[0];
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["exit_code"], 127, "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("not found"),
        "{r}"
    );
    let log = std::fs::read_to_string(r["log_path"].as_str().unwrap()).unwrap_or_default();
    assert!(
        log.to_lowercase().contains("not found"),
        "the run log says why: {log:?}"
    );

    // A string: the shell can't find it and exits 127 itself.
    let o = env.run(&["force", "shell"]);
    assert!(
        both(&o).to_lowercase().contains("not found"),
        "{}",
        both(&o)
    );
    let r = &runs(&env, "shell")[0];
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["exit_code"], 127, "{r}");

    // A scheduled run records the same.
    let env = missing_program_env();
    let _sweep = Sweep::new(&env);
    let cfg = std::fs::read_to_string(env.config_path())
        .unwrap()
        .replace("\"--flag\"]\n", "\"--flag\"]\nevery = \"1h\"\n");
    env.config(&cfg);
    let o = env.run_at(T, &["run", "--wait"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let r = &runs(&env, "argv")[0];
    assert_eq!(r["exit_code"], 127, "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("not found"),
        "{r}"
    );
}

#[test]
fn force_exits_127_for_a_missing_program() {
    let env = missing_program_env();
    let _sweep = Sweep::new(&env);
    for job in ["argv", "shell"] {
        let o = env.run(&["force", job]);
        assert_eq!(
            code(&o),
            127,
            "`jobctl force {job}` of a program that doesn't exist\n{}",
            both(&o)
        );
    }
}

#[test]
fn run_force_without_job_is_a_usage_error() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.a]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
    ));
    let _sweep = Sweep::new(&env);
    let o = env.run(&["run", "--force"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(!stderr(&o).is_empty(), "a usage error says what is wrong");
    assert!(all_runs(&env).is_empty(), "nothing ran");
}

// ---------------------------------------------------------------------------------------
// --dry-run and --job
// ---------------------------------------------------------------------------------------

#[test]
fn dry_run_explains_every_job_and_changes_nothing() {
    let env = Env::new();
    let marker = env.home().join("ran.marker");
    env.config(&format!(
        "{RUNNER}\n[jobs.hourly]\ntype = \"script\"\ncommand = \"touch {m}\"\nevery = \"1h\"\n\n\
         [jobs.manual]\ntype = \"script\"\ncommand = \"touch {m}\"\n\n\
         [jobs.off]\ntype = \"script\"\ncommand = \"touch {m}\"\nevery = \"1h\"\nenabled = false\n\n\
         [jobs.morning]\ntype = \"script\"\ncommand = \"touch {m}\"\nat = \"06:00\"\n",
        m = marker.display()
    ));
    let _sweep = Sweep::new(&env);

    let o = env.run_at(T, &["run", "--dry-run"]);
    ok(&o);
    let out = stdout(&o);
    let line = |job: &str| -> String {
        out.lines()
            .find(|l| l.starts_with(&format!("{job}:")) || l.split_whitespace().next() == Some(job))
            .unwrap_or_else(|| panic!("no line for {job} in the dry run:\n{out}"))
            .to_string()
    };
    let hourly = line("hourly");
    assert!(
        hourly.contains("due") && !hourly.contains("not due"),
        "{hourly}"
    );
    for (job, why) in [
        ("manual", "forced"),
        ("off", "disabled"),
        ("morning", "next"),
    ] {
        let l = line(job);
        assert!(
            l.contains("not due") && l.contains(why),
            "{job}: expected not due because {why}: {l}"
        );
    }

    let o = env.run_at(T, &["run", "--dry-run", "--json"]);
    ok(&o);
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).expect("dry run --json is JSON");
    let due: Vec<(String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap().to_string(),
                r["due"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(due.len(), 4, "{rows:#?}");
    for (job, d) in &due {
        assert_eq!(*d, job == "hourly", "{job}: {rows:#?}");
        assert!(
            rows.iter()
                .any(|r| r["job"] == *job && r["reason"].as_str().is_some_and(|s| !s.is_empty()))
        );
    }

    // Nothing happened: no process, no run, no first sighting, no tick time.
    assert!(!marker.exists(), "a dry run started a job");
    assert!(all_runs(&env).is_empty());
    let store = env.store();
    assert!(
        store.job_states().unwrap().is_empty(),
        "a dry run recorded state: {:?}",
        store.job_states().unwrap()
    );
    assert_eq!(
        store.last_tick().unwrap(),
        None,
        "a dry run recorded a tick"
    );
    drop(store);

    // The first real tick is the first sighting: its slot is that tick's now, not the dry run's.
    ok(&env.run_at(&t_plus(30 * MIN), &["run", "--wait"]));
    let r = runs(&env, "hourly");
    assert_eq!(r.len(), 1);
    assert_eq!(sched(&r[0]), ts(&t_plus(30 * MIN)), "{}", r[0]);
}

#[test]
fn job_flag_considers_only_that_job() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.a]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n\n\
         [jobs.b]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
    ));
    let _sweep = Sweep::new(&env);
    ok(&env.run_at(T, &["run", "--job", "a", "--wait"]));
    assert_eq!(runs(&env, "a").len(), 1);
    assert!(runs(&env, "b").is_empty(), "--job a started b");
    // a is not due any more: --job a starts nothing; b is still due.
    ok(&env.run_at(&t_plus(MIN), &["run", "--job", "a", "--wait"]));
    assert_eq!(all_runs(&env).len(), 1);
    ok(&env.run_at(&t_plus(2 * MIN), &["run", "--job", "b", "--wait"]));
    assert_eq!(runs(&env, "b").len(), 1);
    assert_eq!(runs(&env, "a").len(), 1);
    // An unknown job is an error, not a silent no-op.
    let o = env.run_at(&t_plus(3 * MIN), &["run", "--job", "nope"]);
    assert_ne!(code(&o), 0, "{}", both(&o));
}

// ---------------------------------------------------------------------------------------
// Catch-up after a gap
// ---------------------------------------------------------------------------------------

#[test]
fn catch_up_runs_once_for_the_latest_missed_slot() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.hourly]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
    ));
    let _sweep = Sweep::new(&env);
    ok(&tick_at(&env, T));
    assert_eq!(sched(&runs(&env, "hourly")[0]), ts(T));

    // Five and a half hours without a tick: one run, for the latest slot on the T + k·1h grid.
    ok(&tick_at(&env, &t_plus(5 * HOUR + 30 * MIN)));
    let r = runs(&env, "hourly");
    assert_eq!(
        r.len(),
        2,
        "one catch-up run, not one per missed slot: {r:#?}"
    );
    assert_eq!(sched(&r[0]), ts(&t_plus(5 * HOUR)), "{}", r[0]);

    // Nothing more until the next slot; then it runs on the same grid (no drift).
    ok(&tick_at(&env, &t_plus(5 * HOUR + 40 * MIN)));
    assert_eq!(runs(&env, "hourly").len(), 2);
    ok(&tick_at(&env, &t_plus(6 * HOUR + 2 * MIN)));
    let r = runs(&env, "hourly");
    assert_eq!(r.len(), 3);
    assert_eq!(sched(&r[0]), ts(&t_plus(6 * HOUR)));
}

#[test]
fn catch_up_exactly_at_a_slot_after_a_gap_runs_once() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.hourly]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
    ));
    let _sweep = Sweep::new(&env);
    ok(&tick_at(&env, T));
    ok(&tick_at(&env, &t_plus(5 * HOUR)));
    let r = runs(&env, "hourly");
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(sched(&r[0]), ts(&t_plus(5 * HOUR)));
}

#[test]
fn catch_up_false_skips_missed_slots_and_runs_the_next_on_time_slot() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.hourly]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\ncatch_up = false\n"
    ));
    let _sweep = Sweep::new(&env);
    ok(&tick_at(&env, T));
    assert_eq!(runs(&env, "hourly").len(), 1, "a new job runs at once");

    // Machine off for five and a half hours: the missed slots are skipped, not run (the
    // latest, T+5h, is half an hour old when the machine is back).
    ok(&tick_at(&env, &t_plus(5 * HOUR + 30 * MIN)));
    let r = runs(&env, "hourly");
    assert_eq!(
        r.len(),
        1,
        "catch_up = false: no run for the slots missed during the gap: {r:#?}"
    );
    let skipped = env
        .store()
        .events(Some(jobctl::core::run::EventKind::SlotSkipped), 10)
        .unwrap();
    assert!(!skipped.is_empty(), "a skip is recorded as an event");

    // Regular ticks again: the next slot is on time and runs.
    ok(&tick_at(&env, &t_plus(5 * HOUR + 35 * MIN)));
    assert_eq!(runs(&env, "hourly").len(), 1);
    ok(&tick_at(&env, &t_plus(6 * HOUR + 2 * MIN)));
    let r = runs(&env, "hourly");
    assert_eq!(r.len(), 2, "the next on-time slot runs: {r:#?}");
    assert_eq!(sched(&r[0]), ts(&t_plus(6 * HOUR)));
}

#[test]
fn at_job_first_seen_after_todays_slot_waits_for_the_next_slot() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.morning]\ntype = \"script\"\ncommand = \"true\"\nat = \"06:00\"\n"
    ));
    let _sweep = Sweep::new(&env);
    // First seen Monday 10:00, after today's 06:00.
    ok(&tick_at(&env, T));
    assert!(
        runs(&env, "morning").is_empty(),
        "first seen after today's slot: no run at once"
    );
    ok(&tick_at(&env, "2026-06-01T23:55:00Z"));
    assert!(runs(&env, "morning").is_empty());
    // Tuesday 06:00 is its first slot.
    ok(&tick_at(&env, "2026-06-02T06:03:00Z"));
    let r = runs(&env, "morning");
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(sched(&r[0]), ts("2026-06-02T06:00:00Z"));
}

// ---------------------------------------------------------------------------------------
// max_running
// ---------------------------------------------------------------------------------------

#[test]
fn max_running_queues_a_due_job_and_the_end_of_a_run_starts_it() {
    let env = Env::new();
    let release = env.home().join("release");
    let script = env.script(
        "bin/wait.sh",
        &format!(
            "#!/bin/sh\nwhile [ ! -e {} ]; do sleep 0.05; done\n",
            release.display()
        ),
    );
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\nmax_running = 1\n\n\
         [jobs.a]\ntype = \"script\"\ncommand = [{s}]\nevery = \"1h\"\ntimeout = \"2m\"\n\n\
         [jobs.b]\ntype = \"script\"\ncommand = [{s}]\nevery = \"1h\"\ntimeout = \"2m\"\n",
        s = lit(&script)
    ));
    let _sweep = Sweep::new(&env);

    let (o, _) = run_detached(&env, &["run", "--json"], None);
    ok(&o);
    let tick: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(tick["started"].as_array().unwrap().len(), 1, "{tick}");
    assert_eq!(tick["queued"].as_array().unwrap().len(), 1, "{tick}");
    let first = all_runs(&env);
    assert_eq!(first.len(), 2, "one runs, one is queued: {first:#?}");
    let running = first.iter().find(|r| r["status"] == "running").unwrap();
    let queued = first
        .iter()
        .find(|r| r["status"] == "queued")
        .unwrap()
        .clone();
    let other = queued["job"].as_str().unwrap().to_string();
    assert_eq!(queued["trigger"], "scheduled");

    let list = env.list_json();
    let row = |name: &str| list.iter().find(|r| r["name"] == name).cloned().unwrap();
    assert_eq!(
        row(&other)["queued_run_id"],
        queued["run_id"],
        "{:#?}",
        row(&other)
    );
    assert!(row(&other)["running_run_id"].is_null());
    assert_eq!(
        row(running["job"].as_str().unwrap())["running_run_id"],
        running["run_id"]
    );

    // A tick while the first still runs: nothing new, the slot is queued once.
    ok(&run_detached(&env, &["run"], None).0);
    assert_eq!(all_runs(&env).len(), 2, "{:#?}", all_runs(&env));

    // The first ends; its supervisor starts the queued run, no tick needed. Watched in
    // the database itself: a command's recovery would drain the queue too.
    std::fs::write(&release, "").unwrap();
    let id = queued["run_id"].as_i64().unwrap();
    wait_for("the queued run to succeed", Duration::from_secs(60), || {
        use jobctl::store::RunStore;
        env.store()
            .get_run(id)
            .unwrap()
            .filter(|r| r.status == jobctl::core::run::RunStatus::Succeeded)
    });
    let done = all_runs(&env)
        .into_iter()
        .find(|x| x["run_id"] == id)
        .unwrap();
    assert_eq!(
        sched(&done),
        sched(&queued),
        "the queued run keeps its slot"
    );
    let o = env.run(&["events", "--run", &id.to_string(), "--json"]);
    ok(&o);
    let evs: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let start = evs
        .iter()
        .find(|e| e["kind"] == "run_started")
        .unwrap_or_else(|| panic!("{evs:#?}"));
    assert_eq!(
        (&start["from"], &start["by"]),
        (&Value::from("queued"), &Value::from("supervisor")),
        "started by the supervisor whose run freed the slot: {evs:#?}"
    );
    assert_eq!(all_runs(&env).len(), 2);
}

// ---------------------------------------------------------------------------------------
// configure / reset
// ---------------------------------------------------------------------------------------

#[test]
fn paused_job_is_not_scheduled_is_listed_paused_and_can_be_forced() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.hourly]\ntype = \"script\"\ncommand = \"echo forced-ok\"\nevery = \"1h\"\n"
    ));
    let _sweep = Sweep::new(&env);
    let o = env.run(&["configure", "job", "hourly", "--pause"]);
    ok(&o);
    ok(&env.run(&["run", "--wait"]));
    assert!(
        runs(&env, "hourly").is_empty(),
        "a paused job is not scheduled"
    );

    let row = env
        .list_json()
        .into_iter()
        .find(|r| r["name"] == "hourly")
        .unwrap();
    assert_eq!(row["paused"], true, "{row}");
    assert_eq!(row["due"], false, "{row}");
    let o = env.run(&["list"]);
    ok(&o);
    let line = stdout(&o)
        .lines()
        .find(|l| l.trim_start().starts_with("hourly"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        line.contains("paused"),
        "list shows the job paused: {}",
        stdout(&o)
    );

    let o = env.run(&["force", "hourly"]);
    ok(&o);
    assert!(stdout(&o).contains("forced-ok"), "{}", both(&o));
    let r = runs(&env, "hourly");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["forced"], true);
    // Still paused after a forced run; survives across commands.
    ok(&env.run(&["run", "--wait"]));
    assert_eq!(runs(&env, "hourly").len(), 1);
    assert_eq!(env.list_json()[0]["paused"], true);
}

#[test]
fn resume_does_not_catch_up_slots_that_passed_while_paused() {
    // With no tick while paused, and with ticks while paused.
    for tick_while_paused in [false, true] {
        let env = Env::with_config(&format!(
            "{RUNNER}\n[jobs.hourly]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
        ));
        let _sweep = Sweep::new(&env);
        ok(&tick_at(&env, T));
        assert_eq!(runs(&env, "hourly").len(), 1);
        ok(&env.run_at(
            &t_plus(10 * MIN),
            &["configure", "job", "hourly", "--pause"],
        ));
        if tick_while_paused {
            ok(&tick_at(&env, &t_plus(HOUR + 5 * MIN)));
            ok(&tick_at(&env, &t_plus(2 * HOUR + 30 * MIN)));
            assert_eq!(runs(&env, "hourly").len(), 1, "paused: no run");
        }
        ok(&env.run_at(
            &t_plus(3 * HOUR + 30 * MIN),
            &["configure", "job", "hourly", "--resume"],
        ));
        ok(&tick_at(&env, &t_plus(3 * HOUR + 35 * MIN)));
        let r = runs(&env, "hourly");
        assert_eq!(
            r.len(),
            1,
            "resuming caught up a slot that passed while paused (ticks while paused: {tick_while_paused}): {r:#?}"
        );
        ok(&tick_at(&env, &t_plus(4 * HOUR + MIN)));
        let r = runs(&env, "hourly");
        assert_eq!(r.len(), 2, "the next slot after resuming runs: {r:#?}");
        assert_eq!(sched(&r[0]), ts(&t_plus(4 * HOUR)));
        assert_eq!(env.list_json()[0]["paused"], false);
    }
}

#[test]
fn reset_job_schedules_it_as_if_new_and_keeps_history() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.hourly]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n"
    ));
    let _sweep = Sweep::new(&env);
    ok(&tick_at(&env, T));
    ok(&tick_at(&env, &t_plus(10 * MIN)));
    assert_eq!(runs(&env, "hourly").len(), 1);
    ok(&env.run_at(&t_plus(20 * MIN), &["reset", "job", "hourly"]));
    // As if new: an `every` job never seen before is due at once, at the next tick; its
    // first slot is when it counts as first seen (the reset, or that tick).
    ok(&tick_at(&env, &t_plus(30 * MIN)));
    let r = runs(&env, "hourly");
    assert_eq!(r.len(), 2, "history kept, and one new run: {r:#?}");
    let s = sched(&r[0]);
    assert!(
        s >= ts(&t_plus(20 * MIN)) && s <= ts(&t_plus(30 * MIN)),
        "the new first slot is {s}"
    );
    // And the schedule continues from there, not from the old grid (T + k·1h).
    let at = |d: i64| {
        s.checked_add(jiff::SignedDuration::from_secs(d))
            .unwrap()
            .to_string()
    };
    ok(&tick_at(&env, &at(HOUR - MIN)));
    assert_eq!(runs(&env, "hourly").len(), 2);
    ok(&tick_at(&env, &at(HOUR + MIN)));
    let r = runs(&env, "hourly");
    assert_eq!(r.len(), 3);
    assert_eq!(sched(&r[0]), ts(&at(HOUR)));
}

// ---------------------------------------------------------------------------------------
// History pruning and the log cap
// ---------------------------------------------------------------------------------------

#[test]
fn keep_runs_prunes_history_and_its_log_files() {
    let env = Env::with_config(
        "[runner]\nkeep_runs = 3\n\n[jobs.echo]\ntype = \"script\"\ncommand = \"echo run $JOBCTL_RUN_ID\"\n",
    );
    let _sweep = Sweep::new(&env);
    let mut logs: Vec<(i64, PathBuf)> = Vec::new();
    for _ in 0..5 {
        ok(&env.run(&["force", "echo"]));
        let r = &runs(&env, "echo")[0];
        let p = PathBuf::from(r["log_path"].as_str().expect("a log path"));
        assert!(
            p.is_file(),
            "the log of run {} exists: {}",
            r["run_id"],
            p.display()
        );
        logs.push((r["run_id"].as_i64().unwrap(), p));
    }
    let kept = runs(&env, "echo");
    let kept_ids: Vec<i64> = kept.iter().map(|r| r["run_id"].as_i64().unwrap()).collect();
    let newest: Vec<i64> = logs.iter().rev().take(3).map(|(id, _)| *id).collect();
    assert_eq!(kept_ids, newest, "the 3 newest runs are kept");
    for (id, p) in &logs[..2] {
        assert!(
            !p.exists(),
            "the log of pruned run {id} is still there: {}",
            p.display()
        );
    }
    for (id, p) in &logs[2..] {
        assert!(p.exists(), "the log of kept run {id} was removed");
        assert!(
            std::fs::read_to_string(p)
                .unwrap()
                .contains(&format!("run {id}"))
        );
    }
}

#[test]
fn log_cap_keeps_the_end_and_says_how_much_was_dropped() {
    const TOTAL: u64 = 2 << 20;
    const CAP: u64 = 64 << 10;
    let env = Env::with_config(&format!(
        "[runner]\nlog_max_bytes = \"64KiB\"\n\n[jobs.loud]\ntype = \"script\"\n\
         command = \"yes 'filler line for the log cap test' | head -c {TOTAL}; echo LAST-LINE-MARKER\"\ntimeout = \"2m\"\n"
    ));
    let _sweep = Sweep::new(&env);
    let o = env.run(&["force", "loud"]);
    ok(&o);
    let r = &runs(&env, "loud")[0];
    let log = std::fs::read(r["log_path"].as_str().unwrap()).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(
        log.len() as u64 <= CAP + 512,
        "log is {} bytes, cap {CAP} + a note",
        log.len()
    );
    assert!(
        log.len() as u64 >= CAP,
        "the cap keeps {CAP} bytes of output, got {}",
        log.len()
    );
    assert!(
        text.ends_with("LAST-LINE-MARKER\n"),
        "the end of the output is kept: ...{:?}",
        &text[text.len().saturating_sub(200)..]
    );
    // The cap cuts at a line boundary: what is kept starts with a whole line, and the
    // header's numbers add up to what was printed.
    let printed = TOTAL + "LAST-LINE-MARKER\n".len() as u64;
    let (header, kept) = text.split_once('\n').unwrap();
    let kept_len = kept.len() as u64;
    let dropped = printed - kept_len;
    assert!(
        header.contains(&format!(
            "the first {dropped} bytes were dropped, the last {kept_len} kept"
        )),
        "the log says {dropped} bytes were dropped: {header:?}"
    );
    assert!(
        kept.starts_with("filler line for the log cap test\n"),
        "{:?}",
        &kept[..60]
    );
    assert!(
        kept_len > CAP - 40,
        "at most a line less than the cap: {kept_len}"
    );
}

// ---------------------------------------------------------------------------------------
// What a job's process gets
// ---------------------------------------------------------------------------------------

#[test]
fn every_job_gets_stdin_from_dev_null() {
    let env = Env::with_config(&format!(
        "{RUNNER}\n[jobs.cat]\ntype = \"script\"\ncommand = \"cat; echo cat-done\"\nevery = \"1h\"\ntimeout = \"30s\"\n"
    ));
    let _sweep = Sweep::new(&env);

    // jobctl's own stdin is a pipe that stays open: a job that inherited it would hang.
    let run_with_open_stdin = |args: &[&str], now: Option<&str>| -> (Output, Duration) {
        let mut c = env.cmd(args);
        if let Some(n) = now {
            c.env("JOBCTL_NOW", n);
        }
        let start = Instant::now();
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"this must not reach the job\n");
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        (out, start.elapsed())
    };

    let (o, took) = run_with_open_stdin(&["force", "cat"], None);
    ok(&o);
    assert!(
        took < Duration::from_secs(20),
        "cat waited for input: {took:?}"
    );
    assert!(stdout(&o).contains("cat-done"), "{}", both(&o));
    assert!(
        !stdout(&o).contains("must not reach"),
        "the job read jobctl's stdin\n{}",
        both(&o)
    );
    assert_eq!(runs(&env, "cat")[0]["status"], "succeeded");

    let (o, took) = run_with_open_stdin(&["run", "--wait"], Some(T));
    ok(&o);
    assert!(
        took < Duration::from_secs(20),
        "cat waited for input: {took:?}"
    );
    let r = &runs(&env, "cat")[0];
    assert_eq!(r["forced"], false);
    assert_eq!(r["status"], "succeeded", "{r}");
}

#[test]
fn a_job_gets_its_jobctl_variables() {
    let env = Env::new();
    let script = env.script(
        "bin/vars.sh",
        "#!/bin/sh\nprintf 'name=%s\\nrun=%s\\nsched=%s\\nmeta=%s\\n' \"$JOBCTL_JOB_NAME\" \"$JOBCTL_RUN_ID\" \"$JOBCTL_SCHEDULED_FOR\" \"$JOBCTL_JOB_METADATA\"\n",
    );
    env.config(&format!(
        "{RUNNER}\n[jobs.vars]\ntype = \"script\"\ncommand = [{}]\nevery = \"1h\"\n",
        lit(&script)
    ));
    let _sweep = Sweep::new(&env);

    fn field(out: &str, key: &str) -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in the job's output:\n{out}"))
            .to_string()
    }
    let check = |out: &str, run: &Value, forced: bool| {
        assert_eq!(field(out, "name"), "vars");
        assert_eq!(field(out, "run"), run["run_id"].to_string());
        let sched = field(out, "sched");
        assert_eq!(
            ts(&sched),
            ts(run["scheduled_for"].as_str().unwrap()),
            "JOBCTL_SCHEDULED_FOR"
        );
        let meta: Value =
            serde_json::from_str(&field(out, "meta")).expect("JOBCTL_JOB_METADATA is JSON");
        assert_eq!(meta["job"], "vars", "{meta}");
        assert_eq!(meta["run_id"], run["run_id"], "{meta}");
        assert_eq!(meta["forced"], forced, "{meta}");
        assert_eq!(
            ts(meta["scheduled_for"].as_str().unwrap()),
            ts(&sched),
            "{meta}"
        );
    };

    // A scheduled run: the slot.
    ok(&tick_at(&env, T));
    let r = &runs(&env, "vars")[0];
    assert_eq!(sched(r), ts(T));
    let log = std::fs::read_to_string(r["log_path"].as_str().unwrap()).unwrap();
    check(&log, r, false);

    // A forced run: the moment it was forced.
    let before = jiff::Timestamp::now();
    let o = env.run(&["force", "vars"]);
    ok(&o);
    let r = &runs(&env, "vars")[0];
    assert_eq!(r["forced"], true);
    check(&stdout(&o), r, true);
    let s = sched(r);
    assert!(
        s >= before
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .unwrap()
            && s <= jiff::Timestamp::now(),
        "a forced run's scheduled_for is when it was forced: {s}"
    );
}

#[test]
fn env_remove_removes_inherited_variables_and_env_adds_them() {
    let env = Env::new();
    let script = env.script(
        "bin/env.sh",
        "#!/bin/sh\nfor v in JT_INHERITED JT_REMOVED JT_RUNNER JT_JOB JT_BOTH; do eval \"printf '%s=%s\\n' $v \\\"\\${$v-<unset>}\\\"\"; done\n",
    );
    env.config(&format!(
        "[runner]\nenv_remove = [\"JT_REMOVED\"]\nenv = {{ JT_RUNNER = \"from-runner\", JT_BOTH = \"from-runner\" }}\n\n\
         [jobs.plain]\ntype = \"script\"\ncommand = [{s}]\nenv = {{ JT_JOB = \"from-job\", JT_BOTH = \"from-job\" }}\n\n\
         [jobs.sets-removed]\ntype = \"script\"\ncommand = [{s}]\nenv = {{ JT_REMOVED = \"set-by-job\" }}\n",
        s = lit(&script)
    ));
    let _sweep = Sweep::new(&env);
    let force = |job: &str| -> String {
        let o = env
            .cmd(&["force", job])
            .env("JT_INHERITED", "inherited")
            .env("JT_REMOVED", "secret-value")
            .output()
            .unwrap();
        ok(&o);
        stdout(&o)
    };
    let out = force("plain");
    for expected in [
        "JT_INHERITED=inherited",
        "JT_REMOVED=<unset>",
        "JT_RUNNER=from-runner",
        "JT_JOB=from-job",
        "JT_BOTH=from-job",
    ] {
        assert!(
            out.lines().any(|l| l == expected),
            "expected {expected} in the job's environment:\n{out}"
        );
    }
    assert!(!out.contains("secret-value"));
    // A job's own env can still set a removed variable.
    let out = force("sets-removed");
    assert!(out.lines().any(|l| l == "JT_REMOVED=set-by-job"), "{out}");
    assert!(
        out.lines().any(|l| l == "JT_JOB=<unset>"),
        "another job's env leaked: {out}"
    );
}

#[test]
fn a_string_command_runs_under_sh_and_an_array_is_not_shell_parsed() {
    let env = Env::new();
    let args = env.script(
        "bin/args.sh",
        "#!/bin/sh\necho \"argc=$#\"\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n",
    );
    env.config(&format!(
        "[jobs.shell]\ntype = \"script\"\ncommand = \"echo one; echo two | tr a-z A-Z; echo $((6 * 7))\"\n\n\
         [jobs.argv]\ntype = \"script\"\ncommand = [{}, '$HOME;echo x', 'two words', '*', '`id`']\n",
        lit(&args)
    ));
    let _sweep = Sweep::new(&env);
    let o = env.run(&["force", "shell"]);
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("one\nTWO\n42\n"),
        "a string command runs under /bin/sh -c: {out:?}"
    );

    let o = env.run(&["force", "argv"]);
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("argc=4\n[$HOME;echo x]\n[two words]\n[*]\n[`id`]\n"),
        "an array command's arguments arrive literally: {out:?}"
    );
    assert!(
        !out.lines().any(|l| l == "x"),
        "the array was parsed by a shell: {out:?}"
    );
}
