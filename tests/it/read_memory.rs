//! Read commands stay within bounded memory whatever the history's size (performance.md):
//! `history -n 100000`, as a table and as JSON, streams its output.

use crate::support::*;

#[test]
fn history_of_a_hundred_thousand_runs_streams_in_bounded_memory() {
    if !alone(
        module_path!(),
        "history_of_a_hundred_thousand_runs_streams_in_bounded_memory",
    ) {
        return;
    }
    const RUNS: usize = 100_000;
    let env = Env::new();
    fixtures::build(env.home(), 30, RUNS, 200_000).unwrap();
    let out = env.home().join("out");
    let (c, rss) = peak_rss_kib(env.cmd(&["history", "-n", "100000"]), &out);
    assert_eq!(c, 0);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), RUNS + 1, "a header and every run");
    assert!(rss < 32 * 1024, "history -n 100000 peaked at {rss} KiB");
    // Newest first, every run once.
    let ids: Vec<i64> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    drop(text);

    let (c, rss) = peak_rss_kib(env.cmd(&["history", "-n", "100000", "--json"]), &out);
    assert_eq!(c, 0);
    assert!(
        rss < 32 * 1024,
        "history --json -n 100000 peaked at {rss} KiB"
    );
    let runs: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).expect("one JSON array");
    assert_eq!(runs.len(), RUNS);
    assert_eq!(runs[0]["run_id"], RUNS as i64);
    // Laid out as every --json document: keys sorted, two-space indent.
    let small = env.run(&["history", "-n", "2", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&small.stdout).unwrap();
    assert_eq!(
        stdout(&small),
        serde_json::to_string_pretty(&v).unwrap() + "\n"
    );
}
