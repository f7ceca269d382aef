//! The commands that only read (cli.md): `list`, `next`, `history`, `logs`, their JSON,
//! the state database's failure modes (exit 74), `--help`, colour and usage errors.

use crate::support::*;

use std::collections::BTreeSet;

use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use jobctl::store::{Attempt, NewRun, RunEnd, RunRecord};

const NOW: &str = "2026-03-28T12:00:00Z"; // a Saturday

/// Milliseconds since the epoch of an RFC 3339 instant.
fn ms(t: &str) -> i64 {
    t.parse::<jiff::Timestamp>()
        .expect("RFC 3339")
        .as_millisecond()
}

/// Asserts that `v` is an RFC 3339 string (with offset) for the instant `want`.
fn assert_time(v: &serde_json::Value, want: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {v}"));
    let got: jiff::Timestamp = s
        .parse()
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339 with offset: {e}"));
    assert_eq!(got, want.parse::<jiff::Timestamp>().unwrap(), "{s}");
}

fn tokens(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The rows of a table printed on stdout: header first, as whitespace-separated tokens.
fn table(out: &Output) -> Vec<Vec<String>> {
    assert_eq!(
        code(out),
        0,
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| tokens(l).into_iter().map(String::from).collect())
        .collect()
}

/// A finished run of `job` started at `start`, inserted through the crate's store.
struct Run<'a> {
    job: &'a str,
    start: &'a str,
    duration_ms: i64,
    status: &'a str,
    exit_code: Option<i64>,
    /// For scheduled runs: the job's slot (moves its schedule).
    slot: bool,
    end: RunEnd,
}

impl<'a> Run<'a> {
    fn new(
        job: &'a str,
        start: &'a str,
        duration_ms: i64,
        status: &'a str,
        exit_code: Option<i64>,
    ) -> Run<'a> {
        Run {
            job,
            start,
            duration_ms,
            status,
            exit_code,
            slot: true,
            end: RunEnd::default(),
        }
    }

    fn insert(self, env: &Env) -> RunRecord {
        let mut store = env.store();
        let start = ms(self.start);
        let run = store
            .insert_run(&NewRun {
                job: self.job.into(),
                forced: !self.slot,
                scheduled_for: start,
                started_at: start,
                supervisor_pid: None,
                scope: None,
                last_slot: self.slot.then_some(start),
                ..Default::default()
            })
            .unwrap();
        let end = RunEnd {
            status: jobctl::core::run::RunStatus::parse(self.status).expect("a run status"),
            ended_at: start + self.duration_ms,
            exit_code: self.exit_code,
            ..self.end
        };
        assert!(store.finish_run(run.id, &end).unwrap().is_some());
        store.get_run(run.id).unwrap().unwrap()
    }
}

const SCRIPT: &str = "type = \"script\"\ncommand = \"true\"\n";

/// One job of each schedule kind, in the file out of name order.
fn list_env() -> Env {
    Env::with_config(&format!(
        "[runner]\ntimezone = \"UTC\"\n\n\
         [jobs.z-manual]\n{SCRIPT}\n\
         [jobs.c-cron]\n{SCRIPT}cron = \"15 3 * * *\"\n\n\
         [jobs.a-every]\n{SCRIPT}every = \"1h\"\n\n\
         [jobs.b-at]\n{SCRIPT}at = [\"06:00\", \"18:00\"]\nweekdays = [\"mon\", \"wed\", \"fri\"]\n\n\
         [jobs.d-disabled]\n{SCRIPT}every = \"1h\"\nenabled = false\n\n\
         [jobs.e-paused]\n{SCRIPT}every = \"1h\"\n"
    ))
}

fn pause(env: &Env, job: &str) {
    let out = env.run_at(NOW, &["configure", "job", job, "--pause"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------------
// list

#[test]
fn list_every_schedule_kind() {
    let env = list_env();
    pause(&env, "e-paused");
    let rows = table(&env.run_at(NOW, &["list"]));
    assert_eq!(
        rows[0],
        tokens("JOB  TYPE  SCHEDULE  NEXT  LAST RUN  STATUS  DURATION")
    );
    let expected = [
        "a-every     script  every 1h                    due now           never",
        "b-at        script  at 06:00,18:00 mon,wed,fri  2026-03-30 06:00  never",
        "c-cron      script  cron 15 3 * * *             2026-03-29 03:15  never",
        "d-disabled  script  every 1h                    disabled          never",
        "e-paused    script  every 1h                    paused            never",
        "z-manual    script  manual                      manual            never",
    ];
    assert_eq!(rows.len(), 1 + expected.len(), "one row per job: {rows:?}");
    for (row, want) in rows[1..].iter().zip(expected) {
        let want = tokens(want);
        assert_eq!(&row[..want.len()], &want[..], "row {row:?}");
    }
}

#[test]
fn list_changes_no_schedule_state() {
    let env = list_env();
    let rows = table(&env.run_at(NOW, &["list"]));
    assert_eq!(rows[1][..5], ["a-every", "script", "every", "1h", "due"]);
    // Half an hour later the never-run job is still due: list did not record "first seen".
    let rows = table(&env.run_at("2026-03-28T12:30:00Z", &["list"]));
    assert_eq!(
        rows[1][..6],
        ["a-every", "script", "every", "1h", "due", "now"]
    );
    assert!(
        env.store().job_states().unwrap().is_empty(),
        "list recorded schedule state"
    );
}

#[test]
fn list_json_fields() {
    let env = list_env();
    pause(&env, "e-paused");
    let out = env.run_at(NOW, &["list", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON array");
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "a-every",
            "b-at",
            "c-cron",
            "d-disabled",
            "e-paused",
            "z-manual"
        ]
    );
    let fields: BTreeSet<&str> = [
        "name",
        "type",
        "schedule",
        "enabled",
        "paused",
        "due",
        "running_run_id",
        "running_status",
        "queued_run_id",
        "needs",
        "waiting_for",
        "next_run",
        "last_run_id",
        "last_run",
        "last_status",
        "last_exit_code",
        "last_signal",
        "last_duration_ms",
        "only_on",
    ]
    .into();
    for r in &rows {
        let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, fields, "{r}");
        assert_eq!(r["type"], "script");
        assert!(r["running_run_id"].is_null());
        assert!(r["running_status"].is_null() && r["queued_run_id"].is_null());
        assert_eq!((&r["needs"], &r["waiting_for"]), (&json!([]), &json!([])));
        for k in [
            "last_run_id",
            "last_run",
            "last_status",
            "last_exit_code",
            "last_duration_ms",
        ] {
            assert!(r[k].is_null(), "{k} of a job that never ran: {r}");
        }
    }
    let by = |n: &str| rows.iter().find(|r| r["name"] == n).unwrap();
    let a = by("a-every");
    assert_eq!(
        (
            a["schedule"].as_str(),
            a["enabled"].as_bool(),
            a["paused"].as_bool(),
            a["due"].as_bool()
        ),
        (Some("every 1h"), Some(true), Some(false), Some(true))
    );
    let b = by("b-at");
    assert_eq!(b["schedule"], "at 06:00,18:00 mon,wed,fri");
    assert_eq!(b["due"], false);
    assert_time(&b["next_run"], "2026-03-30T06:00:00Z");
    let c = by("c-cron");
    assert_eq!(c["schedule"], "cron 15 3 * * *");
    assert_time(&c["next_run"], "2026-03-29T03:15:00Z");
    let d = by("d-disabled");
    assert_eq!(
        (d["enabled"].as_bool(), d["due"].as_bool()),
        (Some(false), Some(false))
    );
    let e = by("e-paused");
    assert_eq!(
        (
            e["enabled"].as_bool(),
            e["paused"].as_bool(),
            e["due"].as_bool()
        ),
        (Some(true), Some(true), Some(false))
    );
    let z = by("z-manual");
    assert_eq!(
        (z["schedule"].as_str(), z["due"].as_bool()),
        (Some("manual"), Some(false))
    );
    assert!(z["next_run"].is_null());
}

#[test]
fn list_shows_the_last_run() {
    let env = list_env();
    let a = Run::new(
        "a-every",
        "2026-03-28T11:30:00Z",
        252_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    // An older run of c-cron first: the latest one is shown.
    Run::new(
        "c-cron",
        "2026-03-27T03:15:00Z",
        1_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    let c = Run::new("c-cron", "2026-03-28T03:15:00Z", 2_000, "failed", Some(3)).insert(&env);

    let rows = table(&env.run_at(NOW, &["list"]));
    assert_eq!(
        rows[1],
        tokens("a-every script every 1h 2026-03-28 12:30 2026-03-28 11:30 succeeded 4m12s")
    );
    assert_eq!(
        rows[3],
        tokens("c-cron script cron 15 3 * * * 2026-03-29 03:15 2026-03-28 03:15 failed 2s")
    );

    let out = env.run_at(NOW, &["list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ja = &rows[0];
    assert_eq!(ja["name"], "a-every");
    assert_eq!(ja["due"], false);
    assert_time(&ja["next_run"], "2026-03-28T12:30:00Z");
    assert_eq!(ja["last_run_id"], a.id);
    assert_time(&ja["last_run"], "2026-03-28T11:30:00Z");
    assert_eq!(ja["last_status"], "succeeded");
    assert_eq!(ja["last_exit_code"], 0);
    assert_eq!(ja["last_duration_ms"], 252_000);
    let jc = &rows[2];
    assert_eq!(jc["name"], "c-cron");
    assert_eq!(jc["last_run_id"], c.id);
    assert_eq!(jc["last_status"], "failed");
    assert_eq!(jc["last_exit_code"], 3);
    assert_eq!(jc["last_duration_ms"], 2_000);
}

#[test]
fn list_shows_local_time() {
    let env = list_env();
    Run::new(
        "a-every",
        "2026-03-28T11:30:00Z",
        252_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    let out = env
        .cmd(&["list"])
        .env("JOBCTL_NOW", NOW)
        .env("TZ", "Europe/Amsterdam")
        .output()
        .unwrap();
    let rows = table(&out);
    // 11:30 UTC is 12:30 in Amsterdam on 28 March (+01:00); the next slot 12:30 UTC is 13:30.
    assert_eq!(
        rows[1],
        tokens("a-every script every 1h 2026-03-28 13:30 2026-03-28 12:30 succeeded 4m12s")
    );
    // The at/cron jobs run in the runner's zone (UTC), which is not the local one: their
    // times are shown in it, named, as the schedule says them (03:15, not 05:15 +02:00).
    assert_eq!(
        rows[3][..11],
        tokens("c-cron script cron 15 3 * * * 2026-03-29 03:15 UTC")[..]
    );
}

#[test]
fn list_after_resume_is_scheduled_again() {
    let env = list_env();
    pause(&env, "e-paused");
    let out = env.run_at(NOW, &["configure", "job", "e-paused", "--resume"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = table(&env.run_at(NOW, &["list"]));
    assert_ne!(rows[5][4], "paused", "{:?}", rows[5]);
}

#[test]
fn list_shows_a_running_run() {
    let env = list_env();
    let mut store = env.store();
    let start = ms("2026-03-28T11:55:00Z");
    let run = store
        .insert_run(&NewRun {
            job: "a-every".into(),
            forced: false,
            scheduled_for: start,
            started_at: start,
            supervisor_pid: Some(std::process::id() as i64),
            scope: None,
            last_slot: Some(start),
            ..Default::default()
        })
        .unwrap();
    // This test process plays the run's supervisor: it holds the job's lock.
    let mut lock = jobctl::coord::flock::JobLock::try_acquire(&env.state_dir(), "a-every")
        .unwrap()
        .expect("lock free");
    lock.set_holder(std::process::id(), run.id);

    let rows = table(&env.run_at(NOW, &["list"]));
    let want = format!(
        "a-every script every 1h running (run {}) 2026-03-28 11:55 running",
        run.id
    );
    let want = tokens(&want);
    assert_eq!(rows[1][..want.len()], want[..], "{:?}", rows[1]);
    let out = env.run_at(NOW, &["list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["running_run_id"], run.id);
    assert_eq!(rows[0]["last_status"], "running");
    drop(lock);
}

// ---------------------------------------------------------------------------------------
// next

const AMS: &str = "Europe/Amsterdam";

fn next_env() -> Env {
    Env::with_config(&format!(
        "[jobs.nightly]\n{SCRIPT}cron = \"30 2 * * *\"\ntimezone = \"{AMS}\"\n\n\
         [jobs.twice]\n{SCRIPT}at = [\"12:00\", \"02:30\"]\ntimezone = \"{AMS}\"\n\n\
         [jobs.weekly]\n{SCRIPT}at = \"02:30\"\nweekdays = [\"sun\", \"mon\"]\ntimezone = \"{AMS}\"\n\n\
         [jobs.hourly]\n{SCRIPT}every = \"90m\"\n\n\
         [jobs.by-hand]\n{SCRIPT}"
    ))
}

fn next_lines(env: &Env, tz: &str, args: &[&str]) -> Vec<String> {
    let out = env.cmd(args).env("TZ", tz).output().unwrap();
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    stdout(&out).lines().map(String::from).collect()
}

#[test]
fn next_cron_across_spring_forward() {
    let env = next_env();
    let lines = next_lines(
        &env,
        AMS,
        &[
            "next",
            "nightly",
            "-n",
            "3",
            "--from",
            "2026-03-27T12:00:00+01:00",
        ],
    );
    assert_eq!(
        lines,
        [
            "2026-03-28 02:30:00 +01:00",
            // 02:30 doesn't exist on the 29th: it runs once, at the first valid time after it.
            "2026-03-29 03:00:00 +02:00",
            "2026-03-30 02:30:00 +02:00",
        ]
    );
}

#[test]
fn next_at_across_spring_forward() {
    let env = next_env();
    let lines = next_lines(
        &env,
        AMS,
        &[
            "next",
            "twice",
            "-n",
            "5",
            "--from",
            "2026-03-28T00:00:00+01:00",
        ],
    );
    assert_eq!(
        lines,
        [
            "2026-03-28 02:30:00 +01:00",
            "2026-03-28 12:00:00 +01:00",
            "2026-03-29 03:00:00 +02:00",
            "2026-03-29 12:00:00 +02:00",
            "2026-03-30 02:30:00 +02:00",
        ]
    );
}

#[test]
fn next_at_with_weekdays_across_spring_forward() {
    let env = next_env();
    let lines = next_lines(
        &env,
        AMS,
        &[
            "next",
            "weekly",
            "-n",
            "4",
            "--from",
            "2026-03-27T12:00:00+01:00",
        ],
    );
    assert_eq!(
        lines,
        [
            "2026-03-29 03:00:00 +02:00", // Sunday, in the gap
            "2026-03-30 02:30:00 +02:00", // Monday
            "2026-04-05 02:30:00 +02:00",
            "2026-04-06 02:30:00 +02:00",
        ]
    );
}

#[test]
fn next_cron_across_fall_back() {
    let env = next_env();
    let lines = next_lines(
        &env,
        AMS,
        &[
            "next",
            "nightly",
            "-n",
            "3",
            "--from",
            "2026-10-24T12:00:00+02:00",
        ],
    );
    // 02:30 happens twice on 25 October: the job runs once.
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0] == "2026-10-25 02:30:00 +02:00" || lines[0] == "2026-10-25 02:30:00 +01:00",
        "{lines:?}"
    );
    assert_eq!(
        lines[1..],
        ["2026-10-26 02:30:00 +01:00", "2026-10-27 02:30:00 +01:00"]
    );
}

#[test]
fn next_is_shown_in_local_time() {
    let env = next_env();
    let lines = next_lines(
        &env,
        "UTC",
        &[
            "next",
            "nightly",
            "-n",
            "3",
            "--from",
            "2026-03-27T12:00:00+01:00",
        ],
    );
    assert_eq!(
        lines,
        [
            "2026-03-28 01:30:00 +00:00",
            "2026-03-29 01:00:00 +00:00",
            "2026-03-30 00:30:00 +00:00"
        ]
    );
}

#[test]
fn next_defaults_to_five_slots_after_now() {
    let env = next_env();
    let out = env
        .cmd(&["next", "nightly"])
        .env("JOBCTL_NOW", "2026-03-27T12:00:00+01:00")
        .env("TZ", AMS)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], "2026-03-28 02:30:00 +01:00");
    assert_eq!(lines[4], "2026-04-01 02:30:00 +02:00");
}

#[test]
fn next_of_an_every_job_that_never_ran_starts_at_from() {
    let env = next_env();
    let lines = next_lines(
        &env,
        "UTC",
        &[
            "next",
            "hourly",
            "-n",
            "3",
            "--from",
            "2026-03-28T12:00:00Z",
        ],
    );
    assert_eq!(
        lines,
        [
            "2026-03-28 12:00:00 +00:00",
            "2026-03-28 13:30:00 +00:00",
            "2026-03-28 15:00:00 +00:00"
        ]
    );
}

#[test]
fn next_of_an_every_job_continues_from_its_last_slot() {
    let env = next_env();
    Run::new(
        "hourly",
        "2026-03-28T11:30:00Z",
        1_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    let lines = next_lines(
        &env,
        "UTC",
        &[
            "next",
            "hourly",
            "-n",
            "2",
            "--from",
            "2026-03-28T12:00:00Z",
        ],
    );
    assert_eq!(
        lines,
        ["2026-03-28 13:00:00 +00:00", "2026-03-28 14:30:00 +00:00"]
    );
}

#[test]
fn next_of_an_every_job_runs_on_elapsed_time_across_dst() {
    let env = next_env();
    let lines = next_lines(
        &env,
        AMS,
        &[
            "next",
            "hourly",
            "-n",
            "3",
            "--from",
            "2026-03-29T00:30:00+01:00",
        ],
    );
    // 90 real minutes apart, whatever the wall clock does.
    assert_eq!(
        lines,
        [
            "2026-03-29 00:30:00 +01:00",
            "2026-03-29 03:00:00 +02:00",
            "2026-03-29 04:30:00 +02:00"
        ]
    );
}

#[test]
fn next_json() {
    let env = next_env();
    let out = env
        .cmd(&[
            "next",
            "nightly",
            "-n",
            "2",
            "--from",
            "2026-03-28T12:00:00+01:00",
            "--json",
        ])
        .env("TZ", AMS)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let a = v.as_array().expect("an array");
    assert_eq!(a.len(), 2);
    assert_time(&a[0], "2026-03-29T01:00:00Z");
    assert_time(&a[1], "2026-03-30T00:30:00Z");
}

#[test]
fn next_of_a_manual_job() {
    let env = next_env();
    let out = env.run(&["next", "by-hand"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("by-hand") && err.contains("no schedule"),
        "a clear message: {err}"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn next_of_an_unknown_job() {
    let env = next_env();
    let out = env.run(&["next", "nope"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}

#[test]
fn next_with_a_bad_from_is_a_usage_error() {
    let env = next_env();
    let out = env.run(&["next", "nightly", "--from", "tomorrow"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("tomorrow"), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------------
// history

fn history_env() -> Env {
    let env = Env::with_config(&format!(
        "[agents.codex]\npreset = \"codex\"\ndaily_budget = 10\n\n\
         [jobs.a-every]\n{SCRIPT}every = \"1h\"\n\n\
         [jobs.c-cron]\n{SCRIPT}cron = \"15 3 * * *\"\n\n\
         [jobs.ag]\ntype = \"agent\"\nprompt = \"hi\"\nagent = \"codex\"\nevery = \"1h\"\n"
    ));
    Run::new("c-cron", "2026-03-28T03:15:00Z", 2_000, "failed", Some(3)).insert(&env);
    Run::new(
        "a-every",
        "2026-03-28T10:30:00Z",
        252_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    let mut r = Run::new("ag", "2026-03-28T11:00:00Z", 90_000, "succeeded", Some(0));
    r.slot = false;
    r.end = RunEnd {
        usage: jobctl::core::run::AgentUsage {
            role: Some("builder".into()),
            agent: Some("codex".into()),
            model: Some("gpt-5.4".into()),
            scope: Some("worker".into()),
            cost_milli: Some(1_500),
            cost_usd: Some(0.25),
            input_tokens: Some(1200),
            output_tokens: Some(340),
            num_turns: Some(4),
            ..Default::default()
        },
        attempts: vec![
            Attempt {
                agent: "claude".into(),
                outcome: jobctl::core::run::Outcome::Unavailable,
                reason: Some("auth_missing".into()),
            },
            Attempt {
                agent: "codex".into(),
                outcome: jobctl::core::run::Outcome::Succeeded,
                reason: None,
            },
        ],
        ..RunEnd::default()
    };
    r.insert(&env);
    env
}

#[test]
fn history_newest_first() {
    let env = history_env();
    let rows = table(&env.run(&["history"]));
    assert_eq!(
        rows[0],
        tokens("RUN JOB STARTED DURATION STATUS EXIT AGENT ROLE")
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(
        rows[1],
        tokens("3 ag 2026-03-28 11:00 1m30s succeeded 0 codex builder")
    );
    assert_eq!(
        rows[2][..7],
        tokens("2 a-every 2026-03-28 10:30 4m12s succeeded 0")[..]
    );
    assert_eq!(
        rows[3][..7],
        tokens("1 c-cron 2026-03-28 03:15 2s failed 3")[..]
    );
}

#[test]
fn history_shows_local_time() {
    let env = history_env();
    let out = env
        .cmd(&["history", "-n", "1"])
        .env("TZ", "Europe/Amsterdam")
        .output()
        .unwrap();
    let rows = table(&out);
    assert_eq!(rows[1][..4], tokens("3 ag 2026-03-28 12:00")[..]);
}

#[test]
fn history_limit_and_job_filter() {
    let env = history_env();
    let rows = table(&env.run(&["history", "-n", "2"]));
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["3", "2"]);

    let rows = table(&env.run(&["history", "c-cron"]));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][..2], ["1", "c-cron"]);

    Run::new(
        "c-cron",
        "2026-03-29T03:15:00Z",
        1_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    let rows = table(&env.run(&["history", "c-cron", "-n", "1"]));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][..2], ["4", "c-cron"]);
}

#[test]
fn history_default_is_twenty() {
    let env = list_env();
    for i in 0..25 {
        let start = format!("2026-03-27T{:02}:00:00Z", i % 24);
        let mut r = Run::new("z-manual", &start, 1_000, "succeeded", Some(0));
        r.slot = false;
        r.insert(&env);
    }
    let rows = table(&env.run(&["history"]));
    assert_eq!(rows.len(), 21, "header + 20 runs");
    assert_eq!(rows[1][0], "25");
    assert_eq!(env.history_json(&["-n", "100"]).len(), 25);
}

#[test]
fn history_json_fields() {
    let env = history_env();
    let runs = env.history_json(&[]);
    assert_eq!(runs.len(), 3);
    let fields: BTreeSet<&str> = [
        "run_id",
        "job",
        "status",
        "forced",
        "scheduled_for",
        "started_at",
        "ended_at",
        "duration_ms",
        "exit_code",
        "signal",
        "error",
        "role",
        "agent",
        "model",
        "scope",
        "cost",
        "cost_usd",
        "input_tokens",
        "output_tokens",
        "num_turns",
        "tool_calls",
        "attempts",
        "log_path",
        "workspace",
        "changes",
        "hook_errors",
        "trigger",
        "parent_run_id",
        "depth",
        "attempt",
        "retry_of",
        "metadata",
    ]
    .into();
    for r in &runs {
        let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, fields, "{r}");
        // No workspace, no hooks: null and empty lists.
        assert!(r["workspace"].is_null(), "{r}");
        assert_eq!(r["changes"], serde_json::json!([]), "{r}");
        assert_eq!(r["hook_errors"], serde_json::json!([]), "{r}");
    }
    let ids: Vec<i64> = runs.iter().map(|r| r["run_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [3, 2, 1], "newest first");

    let ag = &runs[0];
    assert_eq!(ag["job"], "ag");
    assert_eq!(ag["status"], "succeeded");
    assert_eq!(ag["forced"], true);
    assert_eq!(
        (&ag["trigger"], &ag["depth"], &ag["attempt"]),
        (&json!("forced"), &json!(0), &json!(1))
    );
    assert!(ag["parent_run_id"].is_null() && ag["retry_of"].is_null());
    assert_time(&ag["scheduled_for"], "2026-03-28T11:00:00Z");
    assert_time(&ag["started_at"], "2026-03-28T11:00:00Z");
    assert_time(&ag["ended_at"], "2026-03-28T11:01:30Z");
    assert_eq!(ag["duration_ms"], 90_000);
    assert_eq!(ag["exit_code"], 0);
    assert!(ag["signal"].is_null());
    assert!(ag["error"].is_null());
    assert_eq!(ag["role"], "builder");
    assert_eq!(ag["agent"], "codex");
    assert_eq!(ag["model"], "gpt-5.4");
    assert_eq!(ag["scope"], "worker");
    assert_eq!(ag["cost"].as_f64(), Some(1.5));
    assert_eq!(ag["cost_usd"].as_f64(), Some(0.25));
    assert_eq!(ag["input_tokens"], 1200);
    assert_eq!(ag["output_tokens"], 340);
    assert_eq!(ag["num_turns"], 4);
    assert_eq!(
        ag["attempts"],
        serde_json::json!([
            {"agent": "claude", "outcome": "unavailable", "reason": "auth_missing"},
            {"agent": "codex", "outcome": "succeeded", "reason": null},
        ])
    );
    assert!(
        ag["log_path"]
            .as_str()
            .is_some_and(|p| p.starts_with(&env.state_dir().display().to_string())),
        "{ag}"
    );

    let c = &runs[2];
    assert_eq!(c["job"], "c-cron");
    assert_eq!(c["status"], "failed");
    assert_eq!(c["forced"], false);
    assert_eq!(c["exit_code"], 3);
    assert_eq!(c["duration_ms"], 2_000);
    for k in [
        "role",
        "agent",
        "model",
        "cost",
        "cost_usd",
        "input_tokens",
        "output_tokens",
        "num_turns",
        "signal",
    ] {
        assert!(c[k].is_null(), "{k} of a script run is null: {c}");
    }
    assert!(
        c["attempts"].as_array().is_some_and(|a| a.is_empty()) || c["attempts"].is_null(),
        "{c}"
    );
}

#[test]
fn history_of_an_empty_state() {
    let env = list_env();
    let rows = table(&env.run(&["history"]));
    assert_eq!(
        rows,
        [tokens("RUN JOB STARTED DURATION STATUS EXIT AGENT ROLE")]
    );
    assert!(env.history_json(&[]).is_empty());
}

// ---------------------------------------------------------------------------------------
// logs

fn write_log(run: &RunRecord, text: &str) {
    let p = std::path::PathBuf::from(run.log_path.as_ref().expect("a log path"));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn logs_of_a_run_and_of_a_job() {
    let env = list_env();
    let first = Run::new(
        "a-every",
        "2026-03-28T10:00:00Z",
        1_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    let second = Run::new("a-every", "2026-03-28T11:00:00Z", 1_000, "failed", Some(1)).insert(&env);
    let other = Run::new(
        "c-cron",
        "2026-03-28T03:15:00Z",
        1_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    write_log(&first, "first run\nline two\n");
    write_log(&second, "second run: ünïcode\nno newline at the end");
    write_log(&other, "cron output\n");

    let out = env.run(&["logs", &first.id.to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "first run\nline two\n");

    let out = env.run(&["logs", "--job", "a-every"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "second run: ünïcode\nno newline at the end",
        "the latest run's log, as stored"
    );

    let out = env.run(&["logs", "--job", "c-cron"]);
    assert_eq!(stdout(&out), "cron output\n");
}

#[test]
fn logs_of_an_unknown_run() {
    let env = list_env();
    let out = env.run(&["logs", "999"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("999"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn logs_of_a_job_without_runs() {
    let env = list_env();
    let out = env.run(&["logs", "--job", "b-at"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("b-at"), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------------
// The state database

fn db_path(env: &Env) -> std::path::PathBuf {
    env.state_dir().join("jobctl.db")
}

/// Asserts exit 74 and a one-line error on stderr; returns that line. (Log lines, such as
/// the warning about running as root, don't count.)
fn state_error_line(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert_eq!(
        code(&out),
        74,
        "{args:?}: stdout {} stderr {}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "{args:?}");
    let err = stderr(&out);
    let is_log = |l: &str| {
        ["TRACE ", "DEBUG ", "INFO ", "WARN ", "ERROR "]
            .iter()
            .any(|p| l.trim_start().starts_with(p))
    };
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !is_log(l))
        .collect();
    assert_eq!(lines.len(), 1, "{args:?}: a one-line error: {err}");
    lines[0].to_string()
}

/// [`state_error_line`], and the line names the db file.
fn assert_state_error(env: &Env, args: &[&str]) -> String {
    let line = state_error_line(env, args);
    assert!(
        line.contains(&db_path(env).display().to_string()),
        "{args:?}: names the file: {line}"
    );
    line
}

#[test]
fn state_db_that_is_not_a_database() {
    let env = list_env();
    std::fs::create_dir_all(env.state_dir()).unwrap();
    let garbage = "this is not a database, just a text file that happens to sit here\n".repeat(100);
    std::fs::write(db_path(&env), &garbage).unwrap();
    std::fs::set_permissions(db_path(&env), std::fs::Permissions::from_mode(0o600)).unwrap();
    for args in [&["list"][..], &["history"], &["run"], &["logs", "1"]] {
        assert_state_error(&env, args);
    }
    assert_eq!(
        std::fs::read_to_string(db_path(&env)).unwrap(),
        garbage,
        "the file is left alone"
    );
}

#[test]
fn state_db_that_is_read_only() {
    let env = list_env();
    drop(env.store());
    std::fs::set_permissions(db_path(&env), std::fs::Permissions::from_mode(0o444)).unwrap();
    let line = assert_state_error(&env, &["list"]);
    assert!(line.contains("read-only"), "{line}");
    assert_state_error(&env, &["run"]);
}

#[test]
fn state_db_from_a_newer_jobctl() {
    let env = list_env();
    drop(env.store());
    {
        let conn = rusqlite::Connection::open(db_path(&env)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = std::fs::read(db_path(&env)).unwrap();
    let line = state_error_line(&env, &["list"]);
    assert!(line.contains("newer"), "{line}");
    state_error_line(&env, &["run"]);
    assert_eq!(
        std::fs::read(db_path(&env)).unwrap(),
        before,
        "the db is left untouched"
    );
    let conn = rusqlite::Connection::open(db_path(&env)).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99);
}

#[test]
fn state_db_error_as_json() {
    let env = list_env();
    std::fs::create_dir_all(env.state_dir()).unwrap();
    std::fs::write(db_path(&env), "not a database\n".repeat(100)).unwrap();
    let out = env.run(&["list", "--json"]);
    assert_eq!(code(&out), 74);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the error document");
    assert_eq!(doc["error"]["exit_code"], 74);
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("jobctl.db")),
        "{doc}"
    );
}

#[test]
fn state_dir_is_a_file() {
    let env = list_env();
    std::fs::write(env.state_dir(), "a file").unwrap();
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 74, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&env.state_dir().display().to_string()),
        "{}",
        stderr(&out)
    );
}

#[test]
fn state_dir_and_db_modes() {
    let env = list_env();
    // With a permissive umask, so the modes are jobctl's own choice.
    let out = Command::new("/bin/sh")
        .args(["-c", "umask 000 && exec \"$0\" list", BIN])
        .current_dir(env.home())
        .env("JOBCTL_HOME", env.home())
        .env_remove("JOBCTL_CONFIG")
        .env_remove("JOBCTL_NOW")
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.state_dir()), 0o700, "state dir");
    assert_eq!(mode(&db_path(&env)), 0o600, "db");
}

// ---------------------------------------------------------------------------------------
// Help, colour, usage errors

/// The subcommands a `--help` text lists under "Commands:" (less `help` itself).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A wrapped description is indented further than a command.
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_has_help_with_an_example() {
    let env = Env::new(); // no config: help needs none
    // Walks the whole tree from the top-level help, so a command added later is covered.
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = env.run(&args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        let help = stdout(&out);
        assert!(
            help.contains("Example"),
            "{args:?} --help has an example:\n{help}"
        );
        for sub in listed_commands(&help) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        seen += 1;
    }
    assert!(seen >= 19, "only {seen} commands found");
}

#[test]
fn colour_only_when_asked() {
    let env = list_env();
    Run::new(
        "a-every",
        "2026-03-28T11:30:00Z",
        252_000,
        "succeeded",
        Some(0),
    )
    .insert(&env);
    Run::new("c-cron", "2026-03-28T03:15:00Z", 2_000, "failed", Some(3)).insert(&env);
    let esc = |o: &Output| o.stdout.contains(&0x1b);

    for args in [
        &["list", "--color", "never"][..],
        &["history", "--color", "never"],
    ] {
        let out = env
            .cmd(args)
            .env("JOBCTL_NOW", NOW)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0);
        assert!(!esc(&out), "{args:?}: no escape codes:\n{}", stdout(&out));
    }
    // auto: stdout is a pipe here, so no colour.
    let out = env
        .cmd(&["list"])
        .env("JOBCTL_NOW", NOW)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!esc(&out), "auto on a pipe: no colour");
    let out = env
        .cmd(&["list", "--color", "auto"])
        .env("JOBCTL_NOW", NOW)
        .output()
        .unwrap();
    assert!(!esc(&out), "auto with NO_COLOR: no colour");

    for args in [
        &["list", "--color", "always"][..],
        &["history", "--color", "always"],
    ] {
        let out = env
            .cmd(args)
            .env("JOBCTL_NOW", NOW)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0);
        assert!(esc(&out), "{args:?}: coloured:\n{}", stdout(&out));
        // The text is the same once the escapes are gone.
        let plain = env
            .cmd(&[args[0], "--color", "never"])
            .env("JOBCTL_NOW", NOW)
            .output()
            .unwrap();
        assert_eq!(
            strip_ansi(&stdout(&out))
                .split_whitespace()
                .collect::<Vec<_>>(),
            stdout(&plain).split_whitespace().collect::<Vec<_>>()
        );
    }
    // --json never carries escape codes.
    let out = env
        .cmd(&["list", "--json", "--color", "always"])
        .env("JOBCTL_NOW", NOW)
        .output()
        .unwrap();
    assert!(!esc(&out));
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn wrong_command_lines_exit_2() {
    let env = list_env();
    let cases: &[&[&str]] = &[
        &["list", "--bogus"],
        &["--bogus", "list"],
        &["frobnicate"],
        &[],
        &["history", "-n", "many"],
        &["next"],
        &["logs"],
        &["logs", "1", "--job", "a-every"],
        &["run", "--force"],
        &["run", "--dry-run", "--wait"],
        &["configure", "job", "a-every"],
        &["configure", "job", "a-every", "--pause", "--resume"],
        &["list", "--color", "sometimes"],
    ];
    for args in cases {
        let out = env.run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?} says what is wrong");
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    assert!(!env.state_dir().exists(), "a usage error touches nothing");
}
