//! Run control across hosts sharing one PostgreSQL state, driving the real binary
//! (several `JOBCTL_HOME`s as several hosts, see `common/hosts.rs`): a run on one host
//! paused and resumed from another within a second, its whole tree stopped and continued;
//! a run queued on one host behind a run of its job on another, started once when that
//! run ends. Each scenario prints what it measured; the pause runs straight to PostgreSQL
//! and through PgBouncer in transaction pooling mode.
use crate::support;
use crate::support::hosts;
use crate::support::hosts::{Via, db, host, one_at_a_time, store};

use std::time::{Duration, Instant};

use crate::support::{Env, Sweep, both, ok, proc_state, run_processes, stdout, wait_for};
use jobctl::core::run::{EventKind, RunStatus};
use jobctl::store::postgres::PgStore;
use jobctl::store::{EventStore, RunStore};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

/// `jobctl submit JOB` on `h`: the run id (the run starts detached, or waits queued).
fn submit(h: &Env, job: &str) -> i64 {
    let o = h.run(&["submit", job]);
    ok(&o);
    stdout(&o).trim().parse().expect("submit prints the run id")
}

/// Run `id` once its job's first process runs.
fn wait_started(s: &PgStore, id: i64) -> jobctl::store::RunRecord {
    wait_for(&format!("run {id} to start its job"), LIMIT, || {
        s.get_run(id)
            .unwrap()
            .filter(|r| r.status == RunStatus::Running && r.pgid.is_some())
    })
}

fn ticks(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.len())
}

fn pause_and_resume_across_hosts(via: Via) {
    let Some(db) = db("pause and resume across hosts", via) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let tick_file = out.path().join("ticks");
    let jobs = format!(
        "[jobs.tree]\ntype = \"script\"\ntimeout = \"2m\"\ncommand = \"\"\"\n\
         sleep 60 &\nwhile true; do echo x >> {}; sleep 0.05; done\n\"\"\"\n",
        tick_file.display()
    );
    let (a, b) = (host(&db, "ha", &jobs), host(&db, "hb", &jobs));
    let (_sa, _sb) = (Sweep::new(&a), Sweep::new(&b));
    let s = store(&db, "observer");
    let id = submit(&a, "tree");
    let run = wait_started(&s, id);
    assert_eq!(
        run.host.as_deref(),
        Some("ha"),
        "started on the host that submitted it"
    );
    let procs = wait_for("the job and its child", LIMIT, || {
        let (live, _) = run_processes(&a.state_dir(), id);
        (live.len() >= 2).then_some(live)
    });

    // Paused from host b: host a's supervisor hears of it through its lease and stops
    // the whole tree.
    let asked = Instant::now();
    let o = b.run(&["pause", &id.to_string()]);
    let paused_in = asked.elapsed();
    ok(&o);
    assert!(
        stdout(&o).contains(&format!("paused run {id} of tree")),
        "{}",
        both(&o)
    );
    let (live, _) = run_processes(&a.state_dir(), id);
    assert!(live.len() >= procs.len(), "{live:?} vs {procs:?}");
    for p in &live {
        assert_eq!(
            proc_state(*p),
            Some('T'),
            "process {p} of the run is not stopped"
        );
    }
    let before = ticks(&tick_file);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ticks(&tick_file), before, "a paused job writes nothing");
    let st: Value = serde_json::from_slice(&b.run(&["status", "--json"]).stdout).unwrap();
    let row = &st["running"][0];
    assert_eq!(
        (&row["run_id"], &row["status"], &row["host"]),
        (&Value::from(id), &Value::from("paused"), &Value::from("ha")),
        "{st}"
    );

    // Resumed from host b.
    let asked = Instant::now();
    let o = b.run(&["resume", &id.to_string()]);
    let resumed_in = asked.elapsed();
    ok(&o);
    for p in &run_processes(&a.state_dir(), id).0 {
        assert_ne!(proc_state(*p), Some('T'), "process {p} was not continued");
    }
    wait_for("the job to write again", LIMIT, || {
        (ticks(&tick_file) > before).then_some(())
    });
    let moves: Vec<(Option<RunStatus>, RunStatus, String)> = s
        .events_after(Some(id), 0, 100)
        .unwrap()
        .into_iter()
        .filter_map(|e| e.transition)
        .map(|t| (t.from, t.to, t.by.to_wire()))
        .collect();
    for want in [
        (
            Some(RunStatus::Running),
            RunStatus::Paused,
            "cli".to_string(),
        ),
        (
            Some(RunStatus::Paused),
            RunStatus::Running,
            "cli".to_string(),
        ),
    ] {
        assert!(moves.contains(&want), "{want:?} in {moves:?}");
    }
    println!(
        "pause across hosts ({via:?}): run {id} on ha paused from hb in {:.0} ms, resumed in {:.0} ms",
        paused_in.as_secs_f64() * 1000.0,
        resumed_in.as_secs_f64() * 1000.0
    );
    assert!(
        paused_in < Duration::from_secs(1) && resumed_in < Duration::from_secs(1),
        "within 1 s: paused in {paused_in:?}, resumed in {resumed_in:?}"
    );

    // Paused again and cancelled from host b: nothing of it is left on host a.
    ok(&b.run(&["pause", &id.to_string()]));
    ok(&b.run(&["cancel", &id.to_string()]));
    assert_eq!(s.get_run(id).unwrap().unwrap().status, RunStatus::Cancelled);
    wait_for("no process of the run on host a", LIMIT, || {
        run_processes(&a.state_dir(), id).0.is_empty().then_some(())
    });
}

#[test]
fn pause_and_resume_from_another_host_reach_the_run_within_a_second() {
    let _one = one_at_a_time();
    pause_and_resume_across_hosts(Via::Direct);
}

#[test]
fn pause_and_resume_across_hosts_through_pgbouncer() {
    let _one = one_at_a_time();
    pause_and_resume_across_hosts(Via::Bouncer);
}

/// A job's `concurrency` holds across hosts: a run submitted on host b while the job runs
/// on host a waits queued (and says why), and when host a's run ends it starts once, on
/// whichever host's drain took the freed slot first, as that host's run.
#[test]
fn a_run_queued_behind_another_hosts_run_starts_once_when_it_ends() {
    let _one = one_at_a_time();
    let Some(db) = db("a queued run across hosts", Via::Direct) else {
        return;
    };
    let jobs = "[jobs.hold]\ntype = \"script\"\ncommand = \"echo started; exec sleep 60\"\n";
    let (a, b) = (host(&db, "ha", jobs), host(&db, "hb", jobs));
    let (_sa, _sb) = (Sweep::new(&a), Sweep::new(&b));
    let s = store(&db, "observer");
    let first = submit(&a, "hold");
    wait_started(&s, first);
    let second = submit(&b, "hold");
    let r = s.get_run(second).unwrap().unwrap();
    assert_eq!((r.status, r.host.as_deref()), (RunStatus::Queued, None));
    let st: Value = serde_json::from_slice(&b.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(st["queued"][0]["run_id"], Value::from(second), "{st}");
    assert_eq!(
        st["queued"][0]["waiting_for"],
        Value::from("concurrency = 1")
    );
    // Nothing starts it while the first runs: not host b's tick, not host a's.
    ok(&b.run(&["run"]));
    ok(&a.run(&["list"]));
    assert_eq!(
        s.get_run(second).unwrap().unwrap().status,
        RunStatus::Queued
    );

    let asked = Instant::now();
    ok(&b.run(&["cancel", &first.to_string()]));
    let started = wait_started(&s, second);
    let waited = asked.elapsed();
    let on = started.host.clone().expect("started on a host");
    let (runs_on, other) = if on == "ha" { (&a, &b) } else { (&b, &a) };
    assert!(
        !run_processes(&runs_on.state_dir(), second).0.is_empty(),
        "its process runs on {on}"
    );
    assert!(run_processes(&other.state_dir(), second).0.is_empty());
    // Every host looks at the queue once more: it was started once.
    ok(&a.run(&["list"]));
    ok(&b.run(&["run"]));
    let starts = s
        .events_after(Some(second), 0, 100)
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::RunStarted)
        .count();
    assert_eq!(starts, 1, "started once");
    println!(
        "queued across hosts: run {second} queued on hb behind run {first} on ha, started on {on} {:.0} ms after the cancel was asked",
        waited.as_secs_f64() * 1000.0
    );
    ok(&a.run(&["cancel", &second.to_string()]));
}

/// A retry on a shared state: the failed attempt's supervisor closes it and records its
/// retry at once, under its lease's fence, waits out the backoff (the retry shown
/// `retrying` on host a to every host) and runs it.
#[test]
fn a_failed_run_is_retried_by_its_supervisor_on_its_host() {
    let _one = one_at_a_time();
    let Some(db) = db("a retry on a shared state", Via::Direct) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let tries = out.path().join("tries");
    let jobs = format!(
        "[jobs.flaky]\ntype = \"script\"\nretries = 1\nretry_backoff = \"2s\"\n\
         command = \"echo x >> {t}; test $(wc -l < {t}) -ge 2\"\n",
        t = tries.display()
    );
    let (a, b) = (host(&db, "ha", &jobs), host(&db, "hb", &jobs));
    let (_sa, _sb) = (Sweep::new(&a), Sweep::new(&b));
    let s = store(&db, "observer");
    let first = submit(&a, "flaky");
    let retry = wait_for("the retry to be recorded", LIMIT, || {
        s.supervised_runs()
            .unwrap()
            .into_iter()
            .find(|r| r.status == RunStatus::Retrying)
    });
    let st: Value = serde_json::from_slice(&b.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(
        (&st["running"][0]["status"], &st["running"][0]["host"]),
        (&Value::from("retrying"), &Value::from("ha")),
        "{st}"
    );
    let done = wait_for("the retry to end", LIMIT, || {
        s.get_run(retry.id).unwrap().filter(|r| r.status.is_end())
    });
    let first = s.get_run(first).unwrap().unwrap();
    assert_eq!(first.status, RunStatus::Failed);
    assert_eq!(
        (
            done.status,
            done.attempt,
            done.retry_of,
            done.host.as_deref()
        ),
        (RunStatus::Succeeded, 2, Some(first.id), Some("ha"))
    );
    assert!(
        done.started_at - first.ended_at.unwrap() >= 1_800,
        "started after its backoff"
    );
}

/// A sub-run from inside a run reaches the shared state when the database is named only
/// by `JOBCTL_DATABASE_URL`: the run's environment carries it, so `jobctl submit` there
/// makes a sub-run in the same database (not in a SQLite file of the state directory).
#[test]
fn a_sub_run_reaches_a_state_named_by_the_environment() {
    let _one = one_at_a_time();
    let Some(db) = db("a sub-run on a state named by the environment", Via::Direct) else {
        return;
    };
    let a = Env::new();
    // Its jobs find `jobctl` (this very binary) on their PATH.
    std::fs::create_dir_all(a.home().join("bin")).unwrap();
    std::os::unix::fs::symlink(support::BIN, a.home().join("bin/jobctl")).unwrap();
    a.config(&format!(
        "{}\n[state]\nhost = \"ha\"\nlease = \"{}\"\n\n\
         [jobs.parent]\ntype = \"script\"\ncommand = \"jobctl submit child --wait\"\n\n\
         [jobs.child]\ntype = \"script\"\ncommand = \"echo child\"\n",
        support::runner(&a, ""),
        hosts::LEASE
    ));
    let _sa = Sweep::new(&a);
    let s = store(&db, "observer");
    let o = a
        .cmd(&["submit", "parent", "--wait"])
        .env(jobctl::config::state::URL_VAR, &db.url)
        .output()
        .unwrap();
    ok(&o);
    let runs = s.history(None, 10).unwrap();
    let parent = runs.iter().find(|r| r.job == "parent").expect("the parent");
    let child = runs
        .iter()
        .find(|r| r.job == "child")
        .expect("the sub-run, in the database");
    assert_eq!(
        (
            parent.status,
            child.status,
            child.parent_run_id,
            child.depth,
            child.host.as_deref()
        ),
        (
            RunStatus::Succeeded,
            RunStatus::Succeeded,
            Some(parent.id),
            1,
            Some("ha")
        )
    );
}

/// A stop asked of one attempt is that attempt's: when its retry takes the lease, the
/// keeper is told of no stop until one is asked of the retry, and then it is.
#[test]
fn a_stop_asked_of_an_attempt_is_not_its_retrys() {
    use jobctl::coord::pg::PgCoordinator;
    use jobctl::coord::{Coordinator, LeaseNews, Request, StopRequest};
    let _one = one_at_a_time();
    let Some(db) = db("a stop asked of an attempt", Via::Direct) else {
        return;
    };
    let s = store(&db, "ha");
    let coord = PgCoordinator::new(
        s.connection(),
        &db.url,
        "ha",
        Duration::from_secs(30),
        &db.cluster.dir().join("coord-ha"),
    );
    let mut lease = coord.try_lease("flaky").unwrap().expect("a free lease");
    let me = std::process::id();
    lease.set_holder(me, 1);
    let rx = lease.keep().expect("a lease in the database has a keeper");
    let wait = |what: &str| {
        rx.recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("no news of {what}"))
    };
    assert!(matches!(
        coord.request("flaky", 1, Request::Stop),
        StopRequest::Sent { .. }
    ));
    assert_eq!(wait("the first stop"), LeaseNews::StopRequested);
    // Its retry takes the lease: the first attempt's stop is not the retry's.
    lease.set_holder(me, 2);
    assert!(
        rx.recv_timeout(Duration::from_millis(800)).is_err(),
        "no stop told for the retry"
    );
    assert!(matches!(
        coord.request("flaky", 1, Request::Stop),
        StopRequest::NotHeld
    ));
    assert!(matches!(
        coord.request("flaky", 2, Request::Stop),
        StopRequest::Sent { .. }
    ));
    assert_eq!(wait("the retry's stop"), LeaseNews::StopRequested);
}
