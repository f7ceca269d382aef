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
