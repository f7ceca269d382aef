//! `list` and `history` as people read them on a terminal of 80 and 120 columns (through
//! script(1), a real pseudo-terminal): the job's name and the run's id never cut, empty
//! columns gone first, times in their short form rather than cut, then the least useful
//! columns gone; `--wide` shows them all; a job in another zone shows its zone. And the
//! history's filters.

use crate::everyday::on_terminal;
use crate::support::*;

const LONG: &str = "a-rather-long-job-name-for-a-narrow-terminal";
const ZONED: &str = "nightly-database-vacuum-and-reindex";

/// Long names, script and agent jobs, a job in New York while the terminal is in UTC,
/// each run once.
fn realistic() -> (Env, Sweep) {
    let (env, sweep) = swept_env(|e| {
        format!(
            "{}[agents.local]\npreset = \"command\"\ncommand = [\"sh\", \"-c\", \"echo done: $1\", \"sh\", \"{{prompt}}\"]\ndaily_budget = 100\n\n\
             [jobs.{LONG}]\ntype = \"script\"\ncommand = \"exit 3\"\ncron = \"*/15 9-17 * * mon,tue,wed,thu,fri\"\n\n\
             [jobs.{ZONED}]\ntype = \"script\"\ncommand = \"true\"\nat = [\"03:30\"]\ntimezone = \"America/New_York\"\n\n\
             [jobs.summary]\ntype = \"agent\"\nagent = \"local\"\nprompt = \"summarise\"\nevery = \"30m\"\n",
            runner(e, "")
        )
    });
    let _ = env.run(&["force", LONG]);
    ok(&env.run(&["force", ZONED]));
    ok(&env.run(&["force", "summary"]));
    (env, sweep)
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn assert_fits(text: &str, cols: usize) {
    for l in lines(text) {
        assert!(
            l.chars().count() <= cols,
            "{l:?} is wider than {cols}\n{text}"
        );
    }
}

#[test]
fn list_keeps_names_whole_and_times_uncut_at_80_and_120_columns() {
    let (env, _s) = realistic();
    let list = format!("{BIN} list");
    // Ten minutes on: the runs were "10m ago".
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10)).to_string();
    let at = [("JOBCTL_NOW", later.as_str())];
    for cols in [80u16, 120] {
        let t = on_terminal(&env, cols, &list, &at, b"");
        assert_fits(&t, cols as usize);
        assert_eq!(lines(&t).len(), 4, "one line per row:\n{t}");
        for name in [LONG, ZONED, "summary"] {
            assert!(t.contains(name), "{name} is whole at {cols}:\n{t}");
        }
        assert!(!t.contains('…'), "nothing is cut at {cols}:\n{t}");
        // The relative part kept whole (`in 9h13m`), not `(in 5…`.
        assert!(t.contains("10m ago"), "{t}");
    }
    let abs = on_terminal(&env, 80, &format!("{list} --absolute"), &[], b"");
    assert_fits(&abs, 80);
    assert!(!abs.contains('…') && abs.contains(LONG), "{abs}");
    // --wide: every column, whole, whatever the width.
    let wide = on_terminal(&env, 80, &format!("{list} --wide"), &[], b"");
    let header = lines(&wide)[0];
    for h in ["TYPE", "SCHEDULE", "DURATION", "LAST RUN"] {
        assert!(header.contains(h), "{wide}");
    }
    assert!(
        wide.contains("cron */15 9-17 * * mon,tue,wed,thu,fri"),
        "{wide}"
    );
    // The New York job's times in its zone, named; the others in local time, unnamed.
    let piped = stdout(&env.run(&["list"]));
    let zoned = piped.lines().find(|l| l.contains(ZONED)).unwrap();
    assert!(zoned.contains(" 03:30 E"), "{piped}");
    let long = piped.lines().find(|l| l.contains(LONG)).unwrap();
    assert!(!long.contains(" E") && !long.contains("UTC"), "{piped}");
}

#[test]
fn history_drops_empty_columns_before_cutting_and_keeps_run_and_job_whole() {
    let (env, _s) = realistic();
    let history = format!("{BIN} history");
    for cols in [80u16, 120] {
        let t = on_terminal(&env, cols, &history, &[], b"");
        assert_fits(&t, cols as usize);
        assert!(!t.contains('…'), "nothing is cut at {cols}:\n{t}");
        assert!(t.contains(LONG) && t.contains(ZONED), "{t}");
    }
    // Only script runs: AGENT and ROLE have nothing to say and go first, before the
    // time is shortened or another column goes.
    let scripts = on_terminal(&env, 100, &format!("{history} {LONG}"), &[], b"");
    let header = lines(&scripts)[0];
    assert!(
        !header.contains("AGENT") && !header.contains("ROLE"),
        "{scripts}"
    );
    assert!(
        header.contains("DURATION") && scripts.contains(LONG),
        "{scripts}"
    );
    assert!(
        scripts.contains(" 20"),
        "the year is still there:\n{scripts}"
    );
    let wide = on_terminal(&env, 80, &format!("{history} --wide"), &[], b"");
    assert!(lines(&wide)[0].contains("ROLE"), "{wide}");
}

fn ids(env: &Env, args: &[&str]) -> Vec<i64> {
    let mut all = vec!["history"];
    all.extend_from_slice(args);
    env.history_json(&all[1..])
        .iter()
        .map(|r| r["run_id"].as_i64().unwrap())
        .collect()
}

#[test]
fn history_filters_by_status_time_trigger_and_job() {
    let (env, _s) = realistic();
    let failed = ids(&env, &["--status", "failed"]);
    assert_eq!(failed, [1], "only the failed run");
    assert_eq!(ids(&env, &["--job", "summary"]), [3]);
    assert_eq!(ids(&env, &["--trigger", "forced"]), [3, 2, 1]);
    assert!(ids(&env, &["--trigger", "submit"]).is_empty());
    assert_eq!(ids(&env, &["--since", "1h"]), [3, 2, 1]);
    assert!(ids(&env, &["--until", "1h"]).is_empty());
    assert!(ids(&env, &["--since", "2999-01-01"]).is_empty());
    assert_eq!(
        ids(&env, &["--until", "2999-01-01 00:00", "-n", "2"]),
        [3, 2]
    );
    // A submitted run, then only it.
    let id = stdout(&env.run(&["submit", "summary"])).trim().to_string();
    ok(&env.run(&["wait", &id]));
    assert_eq!(
        ids(&env, &["--trigger", "submit"]),
        [id.parse::<i64>().unwrap()]
    );
    // Bad values: one line, exit 2.
    let o = env.run(&["history", "--since", "yesterday"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(stderr(&o).contains("--since \"yesterday\""), "{}", both(&o));
    let o = env.run(&["history", "--status", "fine"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    // The table says the same.
    let t = stdout(&env.run(&["history", "--status", "failed"]));
    assert_eq!(lines(&t).len(), 2, "{t}");
}

#[test]
fn wait_exits_with_the_runs_result_the_first_failure_of_several() {
    let (env, _s) = realistic();
    let good = stdout(&env.run(&["submit", "summary"])).trim().to_string();
    let bad = stdout(&env.run(&["submit", LONG])).trim().to_string();
    let o = env.run(&["wait", &good]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(
        stderr(&o).contains(&format!("run {good}  succeeded")),
        "{}",
        both(&o)
    );
    // The failed script exits 3: its code, as force passes it through.
    let o = env.run(&["wait", &good, &bad]);
    assert_eq!(code(&o), 3, "{}", both(&o));
    assert!(
        stderr(&o).contains(&format!("run {bad}  failed")),
        "{}",
        both(&o)
    );
    let o = env.run(&["--json", "wait", &bad, &good]);
    assert_eq!(code(&o), 3, "{}", both(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().map(|a| a.len()), Some(2), "{v:#}");
    // An unknown run: one line, not found.
    let o = env.run(&["wait", "999"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("no run 999"), "{}", both(&o));
    assert!(!stderr(&o).contains("panicked"));
}
