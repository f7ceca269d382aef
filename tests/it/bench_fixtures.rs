//! The benchmark's fixture generation, run small, so it can't rot (the timings themselves
//! never run in CI).

use crate::support::fixtures;

use crate::support::*;

#[test]
fn fixtures_build_a_config_and_history_jobctl_accepts_with_nothing_due() {
    let env = Env::new();
    let f = fixtures::build(env.home(), 30, 2_000, 200).unwrap();
    assert_eq!((f.jobs, f.runs), (30, 2_000));
    assert_eq!(f.config, f.home.join("jobctl.toml"));
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: 30 jobs"), "{}", stdout(&out));
    let store = env.store();
    assert_eq!(store.history(None, 10_000).unwrap().len(), 2_000);
    // At the fixture's "now" no job is due, so the tick starts nothing (B1 measures that).
    let out = env.run_at(fixtures::NOW, &["run", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 30);
    assert!(rows.iter().all(|r| r["due"] == false), "{rows:#?}");
}

/// B1d's fixture: jobs at distinct minutes of the day, none due at its "now"; a tick
/// keeps their next slots, and the next tick answers from them alike.
#[test]
fn the_varied_fixture_has_distinct_minutes_and_nothing_due() {
    let env = Env::new();
    let f = fixtures::build_varied(env.home(), 80, 500, 200).unwrap();
    assert_eq!((f.jobs, f.runs), (80, 500));
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for _ in 0..2 {
        let out = env.run_at(fixtures::NOW, &["run", "--dry-run", "--json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert!(rows.iter().all(|r| r["due"] == false), "{rows:#?}");
        let out = env.run_at(fixtures::NOW, &["run"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    assert!(env.state_dir().join("cache/next-slots.bin").exists());
}
