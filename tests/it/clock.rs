//! A clock that jumps: one tick with the clock a year ahead, then the clock put right.
//! The schedule must not wait a year for its stored slots to come round again.

use crate::support::*;

use serde_json::Value;

const T: &str = "2026-06-01T10:00:00Z";
const YEAR_AHEAD: &str = "2027-06-01T10:00:00Z";

fn env_with(schedule: &str) -> (Env, Sweep) {
    let env = Env::new();
    env.config(&format!(
        "{}\n[jobs.daily]\ntype = \"script\"\ncommand = \"true\"\n{schedule}\n",
        runner(&env, "")
    ));
    let s = Sweep::new(&env);
    (env, s)
}

fn runs_of(env: &Env) -> usize {
    env.history_json(&["daily"]).len()
}

fn tick(env: &Env, now: &str) {
    let o = env.run_at(now, &["run", "--wait"]);
    ok(&o);
}

fn clock_events(env: &Env) -> Vec<Value> {
    let store = env.store();
    store
        .events(Some(jobctl::core::run::EventKind::ClockJump), 10)
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect()
}

#[test]
fn a_tick_with_the_clock_a_year_ahead_does_not_stop_an_at_job_for_a_year() {
    let (env, _s) = env_with("at = \"06:00\"");
    tick(&env, "2026-05-31T05:00:00Z"); // first seen
    tick(&env, "2026-05-31T06:05:00Z");
    assert_eq!(runs_of(&env), 1);
    tick(&env, YEAR_AHEAD); // the clock runs a year ahead for one tick
    assert_eq!(runs_of(&env), 2);
    // Put right: the next morning's slot runs as usual.
    tick(&env, "2026-06-01T06:05:00Z");
    assert_eq!(
        runs_of(&env),
        3,
        "the 06:00 slot after the clock was put right ran"
    );
    let ev = clock_events(&env);
    assert_eq!(ev.len(), 1, "one event says what happened: {ev:#?}");
    let o = env.run_at("2026-06-01T07:00:00Z", &["list", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        rows[0]["next_run"]
            .as_str()
            .unwrap()
            .starts_with("2026-06-02T06:00"),
        "list and the tick agree: {rows:#?}"
    );
    tick(&env, "2026-06-02T06:01:00Z");
    assert_eq!(runs_of(&env), 4);
}

#[test]
fn an_every_job_keeps_its_grid_after_the_clock_is_put_right() {
    let (env, _s) = env_with("every = \"1h\"");
    tick(&env, T);
    assert_eq!(runs_of(&env), 1);
    tick(&env, YEAR_AHEAD);
    assert_eq!(runs_of(&env), 2);
    // An hour after the real last run: due again, not in a year.
    tick(&env, "2026-06-01T11:00:30Z");
    assert_eq!(
        runs_of(&env),
        3,
        "the hourly job runs again within the hour"
    );
    assert_eq!(clock_events(&env).len(), 1);
}
