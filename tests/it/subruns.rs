//! Sub-runs and the queue against the real binary: `jobctl submit` from inside runs (the
//! `jobctl` a job calls reaches the same config and state), depth quotas that are never
//! exceeded (sampled from `/proc` while the tree runs), `max_depth`, a `--wait` that could
//! never end refused, cancelling a tree, `tree_budget` across a fan-out of agent runs,
//! FIFO starts when a slot frees, and 100 due jobs under `max_running = 4` started by the
//! ends of runs rather than by 25 ticks.

use crate::support::*;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(120);

/// An env whose jobs find `jobctl` (this very binary) on their PATH.
fn env_with(jobs: &str, runner_extra: &str) -> Env {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("bin")).unwrap();
    std::os::unix::fs::symlink(BIN, env.home().join("bin/jobctl")).unwrap();
    env.config(&format!("{}\n{jobs}", runner(&env, runner_extra)));
    env
}

fn submit(env: &Env, args: &[&str]) -> i64 {
    let mut a = vec!["submit"];
    a.extend_from_slice(args);
    let o = env.run(&a);
    ok(&o);
    stdout(&o).trim().parse().expect("submit prints the run id")
}

fn all_runs(env: &Env) -> Vec<Value> {
    env.history_json(&["-n", "100000"])
}

fn wait_all_ended(env: &Env, n: usize) -> Vec<Value> {
    wait_for(&format!("{n} runs to end"), LIMIT, || {
        let runs = all_runs(env);
        (runs.len() >= n && runs.iter().all(|r| status_of(r).is_end())).then_some(runs)
    })
}

/// Runs whose processes are alive now, by run id: a scan of `/proc` that counts a
/// process only if it is still alive once the scan is over, so every process counted was
/// alive at one moment together with all the others (`None`: one ended meanwhile).
fn live_runs(env: &Env) -> Option<HashSet<i64>> {
    let dir = format!("JOBCTL_STATE_DIR={}", env.state_dir().display());
    let mut found: Vec<(i32, String, i64)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let entries: Vec<&[u8]> = env.split(|b| *b == 0).collect();
        if !entries.contains(&dir.as_bytes()) {
            continue;
        }
        let Some(id) = entries.iter().find_map(|x| {
            std::str::from_utf8(x)
                .ok()?
                .strip_prefix("JOBCTL_RUN_ID=")?
                .parse::<i64>()
                .ok()
        }) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat[stat.rfind(')').unwrap() + 2..].starts_with('Z') {
            continue;
        }
        found.push((pid, stat, id));
    }
    for (pid, stat, _) in &found {
        if std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .as_ref()
            != Some(stat)
        {
            return None;
        }
    }
    Some(found.into_iter().map(|(_, _, id)| id).collect())
}

const TREE: &str = "[jobs.root]\ntype = \"script\"\ntimeout = \"5m\"\n\
    command = \"jobctl submit mid --wait & jobctl submit mid --wait & jobctl submit mid --wait & wait\"\n\n\
    [jobs.mid]\ntype = \"script\"\nconcurrency = 3\ntimeout = \"5m\"\n\
    command = \"jobctl submit leaf --wait & jobctl submit leaf --wait & wait\"\n\n\
    [jobs.leaf]\ntype = \"script\"\nconcurrency = 6\ntimeout = \"5m\"\ncommand = \"sleep LEAF\"\n";

#[test]
fn a_sub_run_tree_never_exceeds_its_depth_quotas_and_every_run_ends() {
    let env = env_with(&TREE.replace("LEAF", "0.4"), "depth_limits = [1, 2, 1]");
    let _sweep = Sweep::new(&env);
    let root = submit(&env, &["root"]);
    let limits = [1usize, 2, 1];
    let mut depth_of: HashMap<i64, usize> = HashMap::new();
    let mut seen = [0usize; 3];
    let mut samples = 0;
    let deadline = Instant::now() + LIMIT;
    loop {
        let runs = all_runs(&env);
        for r in &runs {
            depth_of.insert(
                r["run_id"].as_i64().unwrap(),
                r["depth"].as_u64().unwrap() as usize,
            );
        }
        // The store's view: supervised runs per depth.
        let mut held = [0usize; 3];
        for r in runs
            .iter()
            .filter(|r| r["status"] == "running" || r["status"] == "paused")
        {
            held[r["depth"].as_u64().unwrap() as usize] += 1;
        }
        for d in 0..3 {
            assert!(
                held[d] <= limits[d],
                "depth {d}: {} running runs: {runs:#?}",
                held[d]
            );
        }
        // The processes' view.
        if let Some(live) = live_runs(&env) {
            samples += 1;
            let mut per = [0usize; 3];
            for id in &live {
                if let Some(d) = depth_of.get(id) {
                    per[*d] += 1;
                }
            }
            for d in 0..3 {
                assert!(
                    per[d] <= limits[d],
                    "depth {d}: processes of {} runs ({live:?})",
                    per[d]
                );
                seen[d] = seen[d].max(per[d]);
            }
        }
        if runs.len() == 10 && runs.iter().all(|r| status_of(r).is_end()) {
            break;
        }
        assert!(Instant::now() < deadline, "the tree did not end: {runs:#?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let runs = all_runs(&env);
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    assert!(samples > 10, "only {samples} samples");
    assert_eq!(seen, [1, 2, 1], "each quota was reached, none passed");
    // Parent and depth as submitted from inside the runs.
    let by_job = |j: &str| runs.iter().filter(|r| r["job"] == j).count();
    assert_eq!((by_job("root"), by_job("mid"), by_job("leaf")), (1, 3, 6));
    for r in &runs {
        let (want_depth, parent_job) = match r["job"].as_str().unwrap() {
            "root" => (0, None),
            "mid" => (1, Some("root")),
            _ => (2, Some("mid")),
        };
        assert_eq!(r["depth"], want_depth, "{r:#}");
        assert_eq!(r["trigger"], "submit");
        match parent_job {
            None => assert!(r["parent_run_id"].is_null()),
            Some(pj) => {
                let p = runs
                    .iter()
                    .find(|x| x["run_id"] == r["parent_run_id"])
                    .unwrap();
                assert_eq!(p["job"], pj);
            }
        }
    }
    assert_eq!(
        runs.iter().find(|r| r["job"] == "root").unwrap()["run_id"],
        root
    );
    let tree = stdout(&env.run(&["history", "--tree"]));
    assert!(
        tree.contains("└ mid") && tree.contains("  └ leaf"),
        "{tree}"
    );
    wait_for("no jobctl process left", LIMIT, || {
        jobctl_processes(&env).is_empty().then_some(())
    });
}

/// `depth_limits` has no default: without it, six sub-runs at depth 1 run at once (each
/// waits until all six have started), and the guide says so rather than showing an
/// example list as if it were the default.
#[test]
fn without_depth_limits_a_depth_has_no_limit_of_its_own_as_the_guide_says() {
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/run-control.md"))
            .unwrap();
    let line = guide
        .lines()
        .find(|l| l.contains("`runner.depth_limits"))
        .expect("run-control.md speaks of runner.depth_limits");
    assert!(
        line.contains("(default: none)"),
        "the default is none: {line}"
    );

    let env = env_with(
        "[jobs.root]\ntype = \"script\"\ntimeout = \"5m\"\n\
         command = \"for i in 1 2 3 4 5 6; do jobctl submit leaf --wait & done; wait\"\n\n\
         [jobs.leaf]\ntype = \"script\"\nconcurrency = 6\ntimeout = \"5m\"\n\
         command = \"touch started.$JOBCTL_RUN_ID; i=0; \
         while [ $(ls started.* | wc -l) -lt 6 ]; do i=$((i+1)); [ $i -gt 6000 ] && exit 3; sleep 0.01; done\"\n\
         workdir = \".\"\n",
        "",
    );
    ok(&env.run(&["force", "root"]));
    let runs = wait_all_ended(&env, 7);
    assert_eq!(runs.len(), 7);
    assert!(
        runs.iter().all(|r| r["status"] == "succeeded"),
        "all six leaves ran at once: {runs:#?}"
    );
}

#[test]
fn cancelling_the_root_of_a_tree_leaves_no_process() {
    let env = env_with(&TREE.replace("LEAF", "60"), "depth_limits = [1, 2, 1]");
    let _sweep = Sweep::new(&env);
    let root = submit(&env, &["root"]);
    wait_for("a leaf to run", LIMIT, || {
        all_runs(&env)
            .iter()
            .any(|r| r["job"] == "leaf" && r["status"] == "running")
            .then_some(())
    });
    let o = env.run(&["cancel", &root.to_string()]);
    ok(&o);
    let runs = all_runs(&env);
    assert!(
        runs.iter().all(|r| status_of(r).is_end()),
        "every run of the tree ended: {runs:#?}"
    );
    assert!(runs.iter().all(|r| r["status"] == "cancelled"), "{runs:#?}");
    for r in &runs {
        let id = r["run_id"].as_i64().unwrap();
        assert!(
            run_processes(&env.state_dir(), id).0.is_empty(),
            "run {id} left processes"
        );
    }
    wait_for("no jobctl process left", LIMIT, || {
        jobctl_processes(&env).is_empty().then_some(())
    });
    let evs: Vec<Value> =
        serde_json::from_slice(&env.run(&["events", "--json", "-n", "1000"]).stdout).unwrap();
    let root_end = evs
        .iter()
        .find(|e| e["run_id"] == root && e["to"] == "cancelled")
        .unwrap();
    assert_eq!(root_end["by"], "cli", "{root_end:#}");
}

#[test]
fn a_sub_run_past_max_depth_is_refused_with_an_event_on_its_parent() {
    let env = env_with(
        "[jobs.deep]\ntype = \"script\"\nconcurrency = 8\ntimeout = \"5m\"\ncommand = \"\"\"\n\
         L=${LEVEL:-0}\njobctl submit deep --wait --env LEVEL=$((L+1)) 2> \"$OUT/err-$L\"\n\
         c=$?\necho $c > \"$OUT/exit-$L\"\nexit $c\n\"\"\"\nenv = { OUT = \"OUTDIR\" }\n",
        "",
    );
    env.config(
        &std::fs::read_to_string(env.config_path())
            .unwrap()
            .replace("OUTDIR", &env.home().display().to_string()),
    );
    let _sweep = Sweep::new(&env);
    let o = env.run(&["submit", "deep", "--wait"]);
    assert_eq!(
        code(&o),
        1,
        "the refusal comes back up the tree\n{}",
        both(&o)
    );
    let runs = all_runs(&env);
    let depths: Vec<u64> = runs.iter().map(|r| r["depth"].as_u64().unwrap()).collect();
    assert_eq!(runs.len(), 6, "depths 0 to 5, no 6: {depths:?}");
    assert_eq!(*depths.iter().max().unwrap(), 5);
    let err = std::fs::read_to_string(env.home().join("err-5")).unwrap();
    assert!(err.contains("depth limit 5 reached"), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.home().join("exit-5"))
            .unwrap()
            .trim(),
        "1"
    );
    let deepest = runs.iter().find(|r| r["depth"] == 5).unwrap();
    let evs: Vec<Value> = serde_json::from_slice(
        &env.run(&["events", "--run", &deepest["run_id"].to_string(), "--json"])
            .stdout,
    )
    .unwrap();
    let refused = evs.iter().find(|e| e["kind"] == "submit_refused");
    assert!(
        refused.is_some_and(|e| e["detail"]["depth"] == 6),
        "{evs:#?}"
    );
}

#[test]
fn a_wait_that_could_never_end_is_refused_at_once() {
    let env = env_with(
        "[jobs.selfish]\ntype = \"script\"\ncommand = \"jobctl submit selfish --wait; echo $? > \\\"$OUT\\\"\"\n\
         env = { OUT = \"CODE\" }\n",
        "",
    );
    let code_file = env.home().join("code");
    env.config(
        &std::fs::read_to_string(env.config_path())
            .unwrap()
            .replace("CODE", &code_file.display().to_string()),
    );
    let _sweep = Sweep::new(&env);
    let t = Instant::now();
    let o = env.run(&["force", "selfish"]);
    ok(&o);
    assert!(t.elapsed() < Duration::from_secs(30));
    assert!(
        stdout(&o)
            .contains("can't wait for a run of selfish: its concurrency (1) is taken by run 1"),
        "{}",
        both(&o)
    );
    assert_eq!(std::fs::read_to_string(&code_file).unwrap().trim(), "1");
    assert_eq!(all_runs(&env).len(), 1, "nothing was queued");
}

#[test]
fn a_fan_out_of_agent_sub_runs_reserves_exactly_its_tree_budget() {
    let env = env_with(
        "[agents.fake]\npreset = \"command\"\ndaily_budget = 100\ncommand = [\"AGENT\", \"{prompt}\"]\n\n\
         [jobs.fan]\ntype = \"script\"\ntree_budget = 5\ntimeout = \"5m\"\n\
         command = \"for i in $(seq 20); do jobctl submit helper --wait >/dev/null 2>&1 & done; wait\"\n\n\
         [jobs.helper]\ntype = \"agent\"\nagent = \"fake\"\nprompt = \"help\"\nconcurrency = 20\n",
        "",
    );
    let agent = env.script("bin/agent.sh", "#!/bin/sh\necho \"answer to $1\"\n");
    env.config(
        &std::fs::read_to_string(env.config_path())
            .unwrap()
            .replace("AGENT", &agent.display().to_string()),
    );
    let _sweep = Sweep::new(&env);
    let o = env.run(&["submit", "fan", "--wait"]);
    ok(&o);
    let runs = wait_all_ended(&env, 21);
    let helpers: Vec<&Value> = runs.iter().filter(|r| r["job"] == "helper").collect();
    assert_eq!(helpers.len(), 20);
    let cost: f64 = helpers.iter().filter_map(|r| r["cost"].as_f64()).sum();
    assert_eq!(cost, 5.0, "the tree reserved exactly its budget");
    assert_eq!(
        helpers
            .iter()
            .filter(|r| r["status"] == "succeeded")
            .count(),
        5
    );
    let skipped: Vec<&&Value> = helpers
        .iter()
        .filter(|r| r["status"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 15, "{helpers:#?}");
    assert!(
        skipped.iter().all(|r| r["error"]
            .as_str()
            .unwrap()
            .contains("tree budget reached (5 of 5")),
        "{skipped:#?}"
    );
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    assert!(
        st["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["used"] == 5.0 && a["enabled"] == true),
        "usage is the tree's, no scope disabled: {st:#}"
    );
}

#[test]
fn a_submitted_run_gets_its_prompt_and_variables() {
    let env = env_with(
        "[agents.fake]\npreset = \"command\"\ndaily_budget = 100\ncommand = [\"AGENT\", \"{prompt}\"]\n\n\
         [jobs.helper]\ntype = \"agent\"\nagent = \"fake\"\nprompt = \"the job's own\"\n\n\
         [jobs.script]\ntype = \"script\"\ncommand = \"echo hi\"\n",
        "",
    );
    let agent = env.script(
        "bin/agent.sh",
        "#!/bin/sh\necho \"prompt=$1 target=$TARGET\"\n",
    );
    env.config(
        &std::fs::read_to_string(env.config_path())
            .unwrap()
            .replace("AGENT", &agent.display().to_string()),
    );
    let _sweep = Sweep::new(&env);
    let o = env.run(&[
        "submit",
        "helper",
        "--wait",
        "--json",
        "--prompt",
        "look at x",
        "--env",
        "TARGET=src/x.rs",
    ]);
    ok(&o);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let log = stdout(&env.run(&["logs", &r["run_id"].to_string()]));
    assert!(log.contains("prompt=look at x target=src/x.rs"), "{log}");
    let o = env.run(&["submit", "script", "--prompt", "x"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(
        stderr(&o).contains("--prompt is for agent jobs"),
        "{}",
        both(&o)
    );
    let o = env.run(&["submit", "script", "--env", "NOEQUALS"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
}

#[test]
fn queued_runs_are_shown_and_start_in_order_when_a_slot_frees() {
    let release = "RELEASE";
    let env = env_with(
        &format!(
            "[jobs.block]\ntype = \"script\"\ncommand = \"while [ ! -e {release} ]; do sleep 0.05; done\"\n\n\
             [jobs.x1]\ntype = \"script\"\ncommand = \"true\"\n\n\
             [jobs.x2]\ntype = \"script\"\ncommand = \"true\"\n\n\
             [jobs.x3]\ntype = \"script\"\ncommand = \"true\"\n"
        ),
        "max_running = 1",
    );
    let file = env.home().join("release");
    env.config(
        &std::fs::read_to_string(env.config_path())
            .unwrap()
            .replace(release, &file.display().to_string()),
    );
    let _sweep = Sweep::new(&env);
    let b = submit(&env, &["block"]);
    wait_for("block to run", LIMIT, || {
        all_runs(&env)
            .iter()
            .any(|r| r["run_id"] == b && r["status"] == "running")
            .then_some(())
    });
    let ids: Vec<i64> = ["x2", "x1", "x3"]
        .iter()
        .map(|j| submit(&env, &[j]))
        .collect();
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    let queued: Vec<i64> = st["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["run_id"].as_i64().unwrap())
        .collect();
    assert_eq!(queued, ids, "{st:#}");
    assert_eq!(st["queued"][0]["waiting_for"], "max_running = 1");
    let human = stdout(&env.run(&["status"]));
    assert!(
        human.contains("QUEUED") && human.contains("max_running = 1"),
        "{human}"
    );
    let list = stdout(&env.run(&["list"]));
    assert!(list.contains(&format!("queued (run {})", ids[0])), "{list}");
    // A paused run keeps its slot: the next command (which starts what fits) starts none.
    ok(&env.run(&["pause", &b.to_string()]));
    ok(&env.run(&["list"]));
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(st["queued"].as_array().unwrap().len(), 3, "{st:#}");
    ok(&env.run(&["resume", &b.to_string()]));

    // A queued run can be cancelled; the others start in order once the slot frees.
    ok(&env.run(&["cancel", &ids[2].to_string()]));
    std::fs::write(&file, "").unwrap();
    let runs = wait_all_ended(&env, 4);
    let at = |id: i64| {
        let r = runs.iter().find(|r| r["run_id"] == id).unwrap();
        (
            r["status"].as_str().unwrap().to_string(),
            r["started_at"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(at(ids[2]).0, "cancelled");
    assert_eq!(
        (at(ids[0]).0.as_str(), at(ids[1]).0.as_str()),
        ("succeeded", "succeeded")
    );
    assert!(at(ids[0]).1 <= at(ids[1]).1, "FIFO: {runs:#?}");
}

#[test]
fn a_hundred_due_jobs_under_max_running_four_start_within_the_time_their_runs_take() {
    let mut jobs = String::new();
    for i in 0..100 {
        jobs.push_str(&format!(
            "[jobs.j{i:03}]\ntype = \"script\"\ncommand = \"sleep 0.1\"\nevery = \"1h\"\n\n"
        ));
    }
    let env = env_with(&jobs, "max_running = 4");
    let _sweep = Sweep::new(&env);
    let t = Instant::now();
    let o = env.run(&["run", "--json"]);
    ok(&o);
    let tick: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(tick["started"].as_array().unwrap().len(), 4, "{tick}");
    assert_eq!(tick["queued"].as_array().unwrap().len(), 96);
    let runs = wait_for("all 100 to succeed after one tick", LIMIT, || {
        let runs = all_runs(&env);
        (runs.len() == 100 && runs.iter().all(|r| r["status"] == "succeeded")).then_some(runs)
    });
    let took = t.elapsed();
    eprintln!("100 runs of 0.1 s under max_running = 4 after one tick: {took:?}");
    // 25 rounds of 0.1 s, with room for a loaded machine; 25 ticks would be two hours.
    assert!(took < Duration::from_secs(90), "{took:?}");
    let evs: Vec<Value> =
        serde_json::from_slice(&env.run(&["events", "--json", "-n", "10000"]).stdout).unwrap();
    let from_queue: Vec<&str> = evs
        .iter()
        .filter(|e| e["kind"] == "run_started" && e["from"] == "queued")
        .map(|e| e["by"].as_str().unwrap())
        .collect();
    assert_eq!(from_queue.len(), 96, "{from_queue:?}");
    // Started by the ends of runs (or by the commands this test polls with, which start
    // what the queue lets start too), never waiting for a tick.
    assert!(!from_queue.contains(&"tick"), "{from_queue:?}");
    let by_supervisor = from_queue.iter().filter(|b| **b == "supervisor").count();
    assert!(
        by_supervisor >= 48,
        "started by the ends of runs: {from_queue:?}"
    );
    let mut starts: Vec<i64> = runs
        .iter()
        .map(|r| {
            r["started_at"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond()
        })
        .collect();
    starts.sort();
    let mut ends: Vec<i64> = runs
        .iter()
        .map(|r| {
            r["ended_at"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond()
        })
        .collect();
    ends.sort();
    // Never more than 4 at once: the (k+4)th start comes after the kth end.
    for k in 0..96 {
        assert!(
            starts[k + 4] >= ends[k],
            "more than 4 runs at once around start {}",
            k + 4
        );
    }
}

#[test]
fn a_run_ending_cancels_its_children_unless_its_job_abandons_them() {
    let env = env_with(
        "[jobs.parent]\ntype = \"script\"\ncommand = \"jobctl submit child >/dev/null\"\n\n\
         [jobs.leaver]\ntype = \"script\"\nchildren = \"abandon\"\ncommand = \"jobctl submit child >/dev/null\"\n\n\
         [jobs.child]\ntype = \"script\"\nconcurrency = 2\ncommand = \"sleep 1\"\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    ok(&env.run(&["force", "parent"]));
    ok(&env.run(&["force", "leaver"]));
    let runs = wait_all_ended(&env, 4);
    let child_of = |job: &str| {
        let p = runs.iter().find(|r| r["job"] == job).unwrap();
        runs.iter()
            .find(|r| r["parent_run_id"] == p["run_id"])
            .unwrap_or_else(|| panic!("no child of {job}: {runs:#?}"))
            .clone()
    };
    let cancelled = child_of("parent");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    let evs: Vec<Value> = serde_json::from_slice(
        &env.run(&[
            "events",
            "--run",
            &cancelled["run_id"].to_string(),
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    let end = evs.iter().find(|e| e["to"] == "cancelled").unwrap();
    assert_eq!(
        end["by"], "supervisor",
        "asked by the parent's supervisor: {evs:#?}"
    );
    assert_eq!(
        child_of("leaver")["status"],
        "succeeded",
        "abandoned: it finished"
    );
}

#[test]
fn events_follow_a_run_until_it_ends() {
    let env = env_with(
        "[jobs.slow]\ntype = \"script\"\ncommand = \"sleep 0.5\"\n",
        "",
    );
    let _sweep = Sweep::new(&env);
    let id = submit(&env, &["slow"]);
    let o = env.run(&["events", "--run", &id.to_string(), "--follow", "--json"]);
    ok(&o);
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let moves: Vec<(&str, &str)> = lines
        .iter()
        .map(|e| (e["from"].as_str().unwrap_or("-"), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moves,
        vec![
            ("-", "queued"),
            ("queued", "running"),
            ("running", "succeeded")
        ],
        "{lines:#?}"
    );
    let human = stdout(&env.run(&["events", "--run", &id.to_string()]));
    assert!(
        human.contains(&format!("run {id} (slow)  queued → running  by cli")),
        "{human}"
    );
}
