//! Several hosts on one PostgreSQL state, simulated as several `JOBCTL_HOME`s (each its
//! own state dir and config, with its own `[state] host`) against one database of a
//! throwaway cluster, driving the real binary. Each scenario prints its counts, and runs
//! twice: straight to PostgreSQL and through PgBouncer in transaction pooling mode.
//!
//! The scenarios run one at a time (a lock): the timing ones (a lease of 2 s, a cancel
//! within 1 s) must not share two cores with 900 racing ticks.
use crate::support;
use crate::support::git::Repos;
use crate::support::hosts::{Closed, Db, LEASE, Via, db, host, one_at_a_time, store};
use crate::support::pg;

use std::time::{Duration, Instant};

use crate::support::{Env, Sweep, alive, code, ok, run_processes, stderr, wait_for};
use jobctl::core::error::Error;
use jobctl::core::run::{RunEnd, RunStatus};
use jobctl::store::postgres::PgStore;
use jobctl::store::{BudgetStore, EventStore, Fence, Reservation, ReserveRequest, RunStore, Store};

const T0: &str = "2026-03-02T10:00:00Z";

/// `T0` plus `minutes`, as RFC 3339.
fn at(minutes: i64) -> String {
    let t: jiff::Timestamp = T0.parse().unwrap();
    (t + jiff::SignedDuration::from_mins(minutes)).to_string()
}

fn ms(t: &str) -> i64 {
    t.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

// --- every slot exactly once ----------------------------------------------------------

fn racing_ticks(via: Via, rounds: i64) {
    let Some(db) = db("racing ticks", via) else {
        return;
    };
    let jobs = "[jobs.a]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1m\"\n\n\
                [jobs.b]\ntype = \"script\"\ncommand = [\"true\"]\nevery = \"1m\"\n";
    let hosts: Vec<Env> = (0..3).map(|i| host(&db, &format!("h{i}"), jobs)).collect();
    let _sweeps: Vec<Sweep> = hosts.iter().map(Sweep::new).collect();
    let s = store(&db, "observer");
    let mut sql = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let start = Instant::now();
    for r in 0..rounds {
        let now = at(r);
        let ticks: Vec<_> = hosts
            .iter()
            .map(|h| {
                h.cmd(&["run"])
                    .env("JOBCTL_NOW", &now)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("start a tick")
            })
            .collect();
        for t in ticks {
            let out = t.wait_with_output().unwrap();
            assert_eq!(code(&out), 0, "a tick failed: {}", stderr(&out));
        }
        // The slot's runs end (and their supervisors let go of the jobs' leases) before
        // the next round ticks, or the job would be held back, its slot passed over.
        wait_for("the round's runs to end", Duration::from_secs(30), || {
            (s.running_runs().unwrap().is_empty() && held_leases(&mut sql) == 0).then_some(())
        });
    }
    let runs = s.history(None, 100_000).unwrap();
    let mut per_host = std::collections::BTreeMap::new();
    let (mut dup, mut missing, mut bad) = (0, 0, 0);
    for job in ["a", "b"] {
        let mut slots: Vec<i64> = runs
            .iter()
            .filter(|r| r.job == job && !r.forced)
            .map(|r| r.scheduled_for)
            .collect();
        slots.sort_unstable();
        let n = slots.len();
        slots.dedup();
        dup += n - slots.len();
        let want: Vec<i64> = (0..rounds).map(|r| ms(&at(r))).collect();
        let gone: Vec<i64> = (0..rounds)
            .filter(|r| !slots.contains(&ms(&at(*r))))
            .collect();
        if !gone.is_empty() {
            println!("job {job}: no run for the slots of rounds {gone:?}");
        }
        missing += want.iter().filter(|w| !slots.contains(w)).count();
    }
    for r in &runs {
        *per_host
            .entry(r.host.clone().unwrap_or_default())
            .or_insert(0) += 1;
        if r.status != RunStatus::Succeeded {
            bad += 1;
        }
    }
    println!(
        "racing ticks ({via:?}): 3 hosts × {rounds} ticks over 2 jobs: {} slots, {} runs, {dup} claimed twice, {missing} missing, {bad} not succeeded; runs by host {per_host:?}; {:.1} s",
        2 * rounds,
        runs.len(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!((dup, missing, bad), (0, 0, 0));
    assert_eq!(runs.len() as i64, 2 * rounds, "every slot exactly once");
    assert!(
        per_host.len() > 1,
        "the hosts really raced: claims by {per_host:?}"
    );
}

#[test]
fn racing_ticks_claim_every_slot_exactly_once() {
    let _one = one_at_a_time();
    racing_ticks(Via::Direct, 300);
}

#[test]
fn racing_ticks_through_pgbouncer() {
    let _one = one_at_a_time();
    racing_ticks(Via::Bouncer, 100);
}

// --- one budget ------------------------------------------------------------------------

fn racing_reservations(via: Via) {
    let Some(db) = db("racing reservations", via) else {
        return;
    };
    let granted = std::sync::atomic::AtomicUsize::new(0);
    let refused = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for h in 0..3 {
            let (db, granted, refused) = (&db, &granted, &refused);
            scope.spawn(move || {
                let mut s = store(db, &format!("h{h}"));
                for _ in 0..100 {
                    let r = s
                        .reserve(&ReserveRequest {
                            agent: "claude",
                            scope: "worker",
                            day: "2026-03-02",
                            cost: 1_000,
                            budget: 100_000,
                            now: 1,
                            for_run: None,
                            tree: &[],
                        })
                        .unwrap();
                    let counter = match r {
                        Reservation::Reserved(_) => granted,
                        _ => refused,
                    };
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    let granted = granted.into_inner();
    let used = store(&db, "observer")
        .usage("claude", "2026-03-02")
        .unwrap();
    println!(
        "racing reservations ({via:?}): 3 hosts × 100 on a budget of 100: {granted} granted, {} refused, usage {}",
        refused.into_inner(),
        used / 1000
    );
    assert_eq!(granted, 100, "exactly the budget");
    assert_eq!(used, 100_000, "none lost");
}

#[test]
fn racing_reservations_grant_exactly_the_budget() {
    let _one = one_at_a_time();
    racing_reservations(Via::Direct);
}

#[test]
fn racing_reservations_through_pgbouncer() {
    let _one = one_at_a_time();
    racing_reservations(Via::Bouncer);
}

// --- a host that dies, a host that comes back -----------------------------------------

const LONG_JOB: &str =
    "[jobs.long]\ntype = \"script\"\ncommand = \"echo started; exec sleep 60\"\nevery = \"1h\"\n";

/// Starts `long` on `h` by a tick at `now`; its run once its process runs.
fn start_long(h: &Env, s: &PgStore, now: &str) -> jobctl::store::RunRecord {
    ok(&h.run_at(now, &["run"]));
    wait_for("the run to start its job", Duration::from_secs(20), || {
        s.running_runs()
            .unwrap()
            .into_iter()
            .find(|r| r.pgid.is_some())
    })
}

/// Hosts a and b on a fresh database, `long` running on a (its tick at `T0` started it),
/// and an observer's handle on the state; fields drop in this order.
struct LongOnA {
    s: PgStore,
    run: jobctl::store::RunRecord,
    _sweeps: [Sweep; 2],
    a: Env,
    b: Env,
    db: Db,
}

fn long_on_a(test: &str, via: Via) -> Option<LongOnA> {
    let db = db(test, via)?;
    let (a, b) = (host(&db, "ha", LONG_JOB), host(&db, "hb", LONG_JOB));
    let _sweeps = [Sweep::new(&a), Sweep::new(&b)];
    let s = store(&db, "observer");
    let run = start_long(&a, &s, T0);
    Some(LongOnA {
        s,
        run,
        _sweeps,
        a,
        b,
        db,
    })
}

fn killed_supervisor(via: Via) {
    let Some(LongOnA {
        s,
        run,
        _sweeps,
        a: _a,
        b,
        db,
    }) = long_on_a("killed supervisor", via)
    else {
        return;
    };
    let epoch = held_epoch(&db, "long");
    let sup = run.supervisor_pid.expect("a supervisor");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sup as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let killed = Instant::now();
    // Host b sees the run as running while the lease lives, then closes it as lost.
    ok(&b.run_at(T0, &["run"]));
    assert!(
        s.get_run(run.id).unwrap().unwrap().is_running(),
        "lost before its lease expired ({:?} after the kill)",
        killed.elapsed()
    );
    let lost = wait_for(
        "the run to be closed as lost",
        Duration::from_secs(15),
        || {
            ok(&b.run(&["status"]));
            s.get_run(run.id)
                .unwrap()
                .filter(|r| r.status == RunStatus::Lost)
        },
    );
    let after = killed.elapsed();
    // The job is schedulable again: host b runs its next slot.
    ok(&b.run_at(&at(60), &["run"]));
    let rerun = wait_for("the next run", Duration::from_secs(20), || {
        s.running_runs()
            .unwrap()
            .into_iter()
            .find(|r| r.pgid.is_some())
    });
    // The killed host's late writes, made under its old epoch, are refused.
    let mut late = store(&db, "ha");
    late.set_fence(Some(Fence {
        key: "long".into(),
        epoch,
        lease: Duration::ZERO, // a late write fails at once
    }));
    let mut end = RunEnd::new(RunStatus::Succeeded, 1);
    end.exit_code = Some(0);
    // Refused as fenced: a typed error, what a supervisor's log copy stops on.
    let fenced = |r: Result<(), Error>| matches!(r, Err(Error::Fenced { ref key, epoch: e }) if key == "long" && e == epoch);
    let refused = [
        fenced(late.finish_run(run.id, &end).map(|_| ())),
        fenced(late.finish_run(rerun.id, &end).map(|_| ())),
        fenced(late.set_run_process(rerun.id, 1, Some(1))),
        fenced(
            late.append_event(
                1,
                jobctl::core::run::EventKind::RunEnded,
                Some("long"),
                Some(run.id),
                &serde_json::json!({}),
            )
            .map(|_| ()),
        ),
    ];
    let closed = s.get_run(run.id).unwrap().unwrap();
    let running = s.get_run(rerun.id).unwrap().unwrap();
    println!(
        "killed supervisor ({via:?}): run {} lost after {:.1} s (lease {LEASE}), rerun {} on {:?}; late writes refused: {}/4",
        run.id,
        after.as_secs_f64(),
        rerun.id,
        rerun.host,
        refused.iter().filter(|r| **r).count()
    );
    assert!(lost.error.unwrap().contains("vanished"));
    // The lease was last renewed up to a third of it before the kill.
    assert!(
        after >= Duration::from_secs(1),
        "not before the lease expired"
    );
    assert_eq!(rerun.host.as_deref(), Some("hb"));
    assert_eq!(refused, [true; 4], "every late write refused by the fence");
    assert_eq!(closed.status, RunStatus::Lost);
    assert!(running.is_running() && running.pgid != Some(1));
    let out = b.run(&["cancel", &rerun.id.to_string()]);
    ok(&out);
}

/// How many leases some process holds.
fn held_leases(c: &mut postgres::Client) -> i64 {
    query_one(c, "SELECT count(*) FROM leases WHERE host IS NOT NULL").unwrap_or(0)
}

/// The first column of the first row of `sql`, as a number.
fn query_one(c: &mut postgres::Client, sql: &str) -> Option<i64> {
    c.simple_query(sql)
        .unwrap()
        .into_iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        })
}

/// The epoch of the lease `key` as the tables hold it.
fn held_epoch(db: &Db, key: &str) -> i64 {
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    query_one(
        &mut c,
        &format!("SELECT epoch FROM leases WHERE key = '{key}'"),
    )
    .expect("the lease is held")
}

#[test]
fn a_killed_supervisor_is_lost_after_the_lease_and_its_late_writes_are_fenced() {
    let _one = one_at_a_time();
    killed_supervisor(Via::Direct);
}

#[test]
fn a_killed_supervisor_through_pgbouncer() {
    let _one = one_at_a_time();
    killed_supervisor(Via::Bouncer);
}

fn stopped_host(via: Via) {
    let Some(LongOnA {
        s,
        run,
        _sweeps,
        a,
        b,
        db: _db,
    }) = long_on_a("stopped host", via)
    else {
        return;
    };
    let sup = nix::unistd::Pid::from_raw(run.supervisor_pid.unwrap() as i32);
    nix::sys::signal::kill(sup, nix::sys::signal::Signal::SIGSTOP).unwrap();
    wait_for(
        "host b to close the run as lost",
        Duration::from_secs(15),
        || {
            ok(&b.run(&["status"]));
            s.get_run(run.id)
                .unwrap()
                .filter(|r| r.status == RunStatus::Lost)
        },
    );
    let lost = Closed::of(&s, run.id);
    assert!(
        !run_processes(&a.state_dir(), run.id).0.is_empty(),
        "its job still runs on host a while its supervisor is stopped"
    );
    nix::sys::signal::kill(sup, nix::sys::signal::Signal::SIGCONT).unwrap();
    let continued = Instant::now();
    wait_for(
        "the continued supervisor to exit",
        Duration::from_secs(10),
        || (!alive(sup.as_raw())).then_some(()),
    );
    wait_for(
        "its job's processes to be gone",
        Duration::from_secs(10),
        || {
            run_processes(&a.state_dir(), run.id)
                .0
                .is_empty()
                .then_some(())
        },
    );
    let stopped_in = continued.elapsed();
    let after = Closed::of(&s, run.id);
    println!(
        "stopped host ({via:?}): run {} closed lost by hb; ha continued, stopped its run in {:.2} s; events {} → {}, record and log unchanged: {}",
        run.id,
        stopped_in.as_secs_f64(),
        lost.events,
        after.events,
        after == lost
    );
    assert_eq!(
        after, lost,
        "host a recorded nothing over host b's record: no end, no event, no log"
    );
    assert!(stopped_in < Duration::from_secs(5));
}

#[test]
fn a_host_stopped_past_its_lease_stops_its_run_and_writes_nothing() {
    let _one = one_at_a_time();
    stopped_host(Via::Direct);
}

#[test]
fn a_stopped_host_through_pgbouncer() {
    let _one = one_at_a_time();
    stopped_host(Via::Bouncer);
}

fn cancel_across_hosts(via: Via) {
    let Some(LongOnA {
        s,
        run,
        _sweeps,
        a,
        b,
        db: _db,
    }) = long_on_a("cancel across hosts", via)
    else {
        return;
    };
    // Concurrency holds across hosts: forcing it on host b is refused, naming where it runs.
    let out = b.run(&["force", "long"]);
    assert_eq!(code(&out), 75, "{}", support::both(&out));
    assert!(
        stderr(&out).contains(&format!("run {} on host ha", run.id)),
        "{}",
        support::both(&out)
    );
    let asked = Instant::now();
    let out = b.run(&["cancel", &run.id.to_string()]);
    let recorded = asked.elapsed();
    ok(&out);
    wait_for(
        "the run's processes on host a to be gone",
        Duration::from_secs(5),
        || {
            run_processes(&a.state_dir(), run.id)
                .0
                .is_empty()
                .then_some(())
        },
    );
    let gone = asked.elapsed();
    let r = s.get_run(run.id).unwrap().unwrap();
    println!(
        "cancel across hosts ({via:?}): run {} on ha cancelled from hb: recorded {} after {:.0} ms, its processes gone after {:.0} ms",
        run.id,
        r.status,
        recorded.as_secs_f64() * 1000.0,
        gone.as_secs_f64() * 1000.0
    );
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!(r.host.as_deref(), Some("ha"));
    // It says who stopped it, from which host.
    let why = r.error.clone().unwrap_or_default();
    assert!(
        why.starts_with("cancelled by jobctl cancel (user ") && why.contains(" on host hb)"),
        "{why}"
    );
    assert!(
        recorded < Duration::from_secs(1),
        "stopped within 1 s, took {recorded:?}"
    );
    // Its log is readable from the other host, its last lines too, and with a time (or
    // `-`, where the times index beside the log is not on this host's disk) before each
    // line.
    let log = b.run(&["logs", &run.id.to_string()]);
    ok(&log);
    let text = support::stdout(&log);
    assert!(text.contains("started"), "{}", support::both(&log));
    let tail = b.run(&["logs", &run.id.to_string(), "--tail", "1"]);
    ok(&tail);
    let last = support::stdout(&tail);
    assert_eq!(last.lines().count(), 1, "{last}");
    assert_eq!(Some(last.trim_end()), text.lines().last(), "{text}");
    let stamped = b.run(&["logs", &run.id.to_string(), "--timestamps"]);
    ok(&stamped);
    let stamped = support::stdout(&stamped);
    let unstamped: Vec<&str> = stamped.lines().map(|l| l.get(24..).unwrap_or("")).collect();
    assert_eq!(unstamped, text.lines().collect::<Vec<_>>(), "{stamped}");
    // `show` on the other host has the end of its log, and who cancelled it.
    let shown = b.run(&["show", &run.id.to_string(), "--json"]);
    ok(&shown);
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["log_tail"][0], "started", "{v:#}");
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "cancel_requested" && e["detail"]["by"]["host"] == "hb"),
        "{v:#}"
    );
}

#[test]
fn cancel_from_another_host_stops_the_run_within_a_second() {
    let _one = one_at_a_time();
    cancel_across_hosts(Via::Direct);
}

#[test]
fn cancel_across_hosts_through_pgbouncer() {
    let _one = one_at_a_time();
    cancel_across_hosts(Via::Bouncer);
}

// --- moving, who runs what, what status shows -----------------------------------------

#[test]
fn state_migrate_copies_a_sqlite_state_into_an_empty_database_only() {
    let _one = one_at_a_time();
    let Some(db) = db("state migrate", Via::Direct) else {
        return;
    };
    let env = Env::new();
    let jobs = "[jobs.j]\ntype = \"script\"\ncommand = \"echo hi\"\nevery = \"1h\"\n\n\
                [jobs.k]\ntype = \"script\"\ncommand = \"exit 3\"\n";
    env.config(&format!("{}\n{jobs}", support::runner(&env, "")));
    ok(&env.run(&["force", "j"]));
    assert_eq!(code(&env.run(&["force", "k"])), 3);
    ok(&env.run(&["configure", "job", "j", "--pause"]));
    let before = env.history_json(&[]);
    let out = env.run(&["state", "migrate", "--to", &db.url]);
    ok(&out);
    println!("{}", support::stdout(&out).trim());
    assert!(
        support::stdout(&out).contains("copied 2 runs, 2 run logs"),
        "{}",
        support::both(&out)
    );
    let j_run = before.iter().find(|r| r["job"] == "j").unwrap()["run_id"]
        .as_i64()
        .unwrap();
    // The same history, job state and events through the PostgreSQL state.
    env.config(&format!(
        "{}\n[state]\nurl = \"{}\"\nhost = \"h\"\n\n{jobs}",
        support::runner(&env, ""),
        db.url
    ));
    let after = env.history_json(&[]);
    let key = |v: &Vec<serde_json::Value>| {
        v.iter()
            .map(|r| {
                (
                    r["run_id"].clone(),
                    r["job"].clone(),
                    r["status"].clone(),
                    r["exit_code"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&after), key(&before));
    // The logs too: read from the database now, also where their files are gone.
    let logs = env.run(&["logs", &j_run.to_string()]);
    ok(&logs);
    assert_eq!(support::stdout(&logs), "hi\n");
    std::fs::remove_dir_all(env.state_dir().join("logs")).unwrap();
    let logs = env.run(&["logs", &j_run.to_string()]);
    assert_eq!(support::stdout(&logs), "hi\n", "{}", support::both(&logs));
    let list = env.list_json();
    assert_eq!(
        list.iter().find(|j| j["name"] == "j").unwrap()["paused"],
        true
    );
    // New runs go on after the copied ids.
    ok(&env.run(&["force", "j"]));
    let newest = env.history_json(&["-n", "1"]);
    assert_eq!(newest[0]["run_id"], 3);
    // A database that holds a state already is refused, untouched.
    let out = env.run(&["state", "migrate", "--to", &db.url]);
    assert_eq!(code(&out), 1, "{}", support::both(&out));
    assert!(
        stderr(&out).contains("not empty"),
        "{}",
        support::both(&out)
    );
    assert_eq!(env.history_json(&[]).len(), 3);
}

#[test]
fn hosts_key_status_across_hosts_and_a_newer_database() {
    let _one = one_at_a_time();
    let Some(db) = db("hosts key and status", Via::Direct) else {
        return;
    };
    let jobs = "[jobs.everywhere]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\n\n\
                [jobs.only-b]\ntype = \"script\"\ncommand = \"true\"\nevery = \"1h\"\nhosts = [\"hb\"]\n";
    let a = host(&db, "ha", jobs);
    // Host b's config differs (a comment): status warns.
    let b = host(&db, "hb", &format!("# edited on hb\n{jobs}"));
    let (_sa, _sb) = (Sweep::new(&a), Sweep::new(&b));
    let s = store(&db, "observer");
    ok(&a.run_at(T0, &["run"]));
    wait_for("a's run to end", Duration::from_secs(20), || {
        s.running_runs().unwrap().is_empty().then_some(())
    });
    ok(&b.run_at(T0, &["run"]));
    wait_for("b's run to end", Duration::from_secs(20), || {
        s.running_runs().unwrap().is_empty().then_some(())
    });
    let runs = s.history(None, 10).unwrap();
    let by = |job: &str| -> Vec<Option<String>> {
        runs.iter()
            .filter(|r| r.job == job)
            .map(|r| r.host.clone())
            .collect()
    };
    assert_eq!(
        by("everywhere"),
        vec![Some("ha".to_string())],
        "one run, by the first host"
    );
    assert_eq!(
        by("only-b"),
        vec![Some("hb".to_string())],
        "only hb runs it"
    );
    let out = a.run(&["status"]);
    ok(&out);
    let text = support::stdout(&out);
    println!("{text}");
    assert!(text.contains("host ha (this host): last tick"), "{text}");
    assert!(text.contains("host hb: last tick"), "{text}");
    assert!(
        text.contains("warning: the hosts tick with different configs"),
        "{text}"
    );
    let out = a.run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hosts"].as_array().unwrap().len(), 2);
    assert!(v["hosts_warning"].is_string());
    // A database from a newer jobctl is refused, untouched.
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.batch_execute("UPDATE jobctl_schema SET version = 99")
        .unwrap();
    let out = a.run(&["list"]);
    assert_eq!(code(&out), 74, "{}", support::both(&out));
    assert!(
        stderr(&out).contains("newer than this jobctl"),
        "{}",
        support::both(&out)
    );
}

#[test]
fn a_run_log_is_read_from_any_host_capped_like_the_file() {
    let _one = one_at_a_time();
    let Some(db) = db("capped logs", Via::Direct) else {
        return;
    };
    // Three bursts of short lines (copied in while the run goes on), then END, with a
    // cap of 64 KiB: the end is kept, the start dropped, at a line start as in the file.
    let jobs = "[jobs.chatty]\ntype = \"script\"\ncommand = \"for i in 1 2 3; do seq 1 30000; sleep 0.7; done; echo END\"\n";
    let a = host(&db, "ha", jobs);
    let b = host(&db, "hb", jobs);
    for h in [&a, &b] {
        let text = std::fs::read_to_string(h.config_path()).unwrap();
        h.config(&text.replace("[runner]\n", "[runner]\nlog_max_bytes = \"64KiB\"\n"));
    }
    ok(&a.run(&["force", "chatty"]));
    let out = b.run(&["logs", "--job", "chatty"]);
    ok(&out);
    let text = support::stdout(&out);
    let (head, body) = text.split_once('\n').unwrap();
    let s = store(&db, "observer");
    let run = s.latest_run("chatty").unwrap().unwrap();
    let file = std::fs::read_to_string(run.log_path.as_deref().unwrap()).unwrap();
    let (file_head, file_body) = file.split_once('\n').unwrap();
    println!(
        "capped logs: {} bytes of output, {} read from host hb; first line: {head}; the file's: {file_head}",
        3 * 168_894 + 4,
        body.len()
    );
    assert!(
        head.starts_with("[jobctl] output exceeded log_max_bytes"),
        "{head}"
    );
    assert!(body.ends_with("29999\n30000\nEND\n"), "the end is kept");
    assert!(
        body.len() <= 64 << 10 && body.len() > (64 << 10) - 8,
        "the cap, less a line cut in two: {}",
        body.len()
    );
    assert!(
        body.split('\n').next().unwrap().parse::<u32>().is_ok(),
        "from a line start"
    );
    assert!(body == file_body, "the same as the run's log file");
    let json = b.run(&["logs", "--job", "chatty", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["output"].as_str().unwrap().ends_with("END\n"));
}

/// A job in a git worktree on host a: its supervisor dies before recording the end, host
/// b closes the run as lost, and the worktree (on a's disk) is recorded kept; b's
/// cleanup leaves it alone, a's removes it.
#[test]
fn a_worktree_is_cleaned_only_by_the_host_that_ran_it() {
    let _one = one_at_a_time();
    let Some(db) = db("worktrees across hosts", Via::Direct) else {
        return;
    };
    let job = "[jobs.edit]\ntype = \"script\"\ncommand = \"echo edited >> a.txt\"\n\n\
               [jobs.edit.workspace]\nrepo = \"checkout\"\nkeep = \"always\"\n";
    let with_git = |name: &str| {
        let env = Env::new();
        Repos::new(env.home());
        let home = env.home().display();
        env.config(&format!(
            "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\
             env = {{ PATH = \"/usr/bin:/bin\", HOME = \"{home}\", GIT_CONFIG_NOSYSTEM = \"1\" }}\n\
             git_author = \"jobctl <jobctl@example.com>\"\n\n\
             [state]\nurl = \"{}\"\nhost = \"{name}\"\nlease = \"{LEASE}\"\n\n{job}",
            db.url
        ));
        env
    };
    let (a, b) = (with_git("ha"), with_git("hb"));
    let (_sa, _sb) = (Sweep::new(&a), Sweep::new(&b));
    let s = store(&db, "observer");
    // Host a's supervisor dies after keeping the worktree, before recording the end.
    let out = a
        .cmd(&["force", "edit"])
        .env("JOBCTL_FAULT", "before_end_record")
        .output()
        .unwrap();
    assert_ne!(code(&out), 0, "{}", support::both(&out));
    let run = s.latest_run("edit").unwrap().unwrap();
    assert!(run.is_running(), "{run:?}");
    let dir = std::path::PathBuf::from(&run.workspace.as_ref().expect("a workspace").path);
    assert!(dir.is_dir(), "{}", dir.display());
    // Host b closes it once the lease has expired: a's worktree is recorded kept.
    let lost = wait_for("host b to close the run", Duration::from_secs(15), || {
        ok(&b.run(&["status"]));
        s.get_run(run.id).unwrap().filter(|r| !r.is_running())
    });
    assert_eq!(lost.status, RunStatus::Lost);
    assert!(lost.workspace.as_ref().unwrap().kept, "{lost:?}");
    let listed = |h: &Env| -> Vec<serde_json::Value> {
        let o = h.run(&["workspaces", "--json"]);
        ok(&o);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let on_b = listed(&b);
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(on_b[0]["host"], "ha");
    // b's cleanup and tick leave it: it is on a's disk.
    ok(&b.run(&["workspaces", "clean"]));
    ok(&b.run(&["run"]));
    assert!(dir.is_dir(), "host b removed host a's worktree");
    assert!(s.get_run(run.id).unwrap().unwrap().workspace.unwrap().kept);
    // a's removes it, its work saved on its branch first.
    ok(&a.run(&["workspaces", "clean"]));
    assert!(!dir.exists(), "host a's cleanup removes it");
    let after = s.get_run(run.id).unwrap().unwrap();
    assert!(!after.workspace.unwrap().kept);
    assert!(listed(&a).is_empty());
    println!(
        "worktrees across hosts: run {} of ha closed lost by hb with its worktree kept; hb's clean left it, ha's removed it",
        run.id
    );
}

#[test]
fn tls_follows_the_urls_sslmode() {
    let _one = one_at_a_time();
    let Some(cluster) = pg::cluster_or_skip("tls") else {
        return;
    };
    let db = cluster.create_db();
    let env = Env::new();
    let mut seen = Vec::new();
    let mut force_with = |mode: &str| {
        env.config(&format!(
            "{}\n[state]\nurl = \"{db}?{mode}\"\nhost = \"h\"\n\n[jobs.j]\ntype = \"script\"\ncommand = \"true\"\n",
            support::runner(&env, "")
        ));
        let out = env.run(&["force", "j"]);
        seen.push(format!("{mode}: exit {}", code(&out)));
        out
    };
    // Without TLS on the server: `require` is refused, never quietly downgraded.
    let out = force_with("sslmode=require");
    assert_eq!(code(&out), 74, "{}", support::both(&out));
    ok(&force_with("sslmode=prefer"));
    let Some(ca) = cluster.enable_tls() else {
        eprintln!("skipping the rest of tls: openssl is not installed");
        return;
    };
    ok(&force_with("sslmode=require"));
    ok(&force_with(&format!(
        "sslmode=verify-full&sslrootcert={}",
        ca.display()
    )));
    // A certificate no trusted root signed is refused when it is checked.
    let out = force_with("sslmode=verify-full");
    assert_eq!(code(&out), 74, "{}", support::both(&out));
    assert!(
        stderr(&out).contains("certificate"),
        "{}",
        support::both(&out)
    );
    ok(&force_with("sslmode=disable"));
    println!("tls: {}", seen.join("; "));
}
