//! Supervision with real processes and real signals: racing ticks, the tick lock, force
//! against a running job, timeouts and escaped children, a supervisor killed with SIGKILL,
//! cancel, and SIGTERM/SIGINT to a forced run.
//!
//! Every wait polls with a deadline; every test sweeps the processes of its temp
//! installation when it ends, also when it fails.

use crate::support::*;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A Monday morning, UTC.
const T: &str = "2026-06-01T10:00:00Z";
/// An hour and a minute later: an `every = "1h"` job first seen at T is due again.
const T_NEXT: &str = "2026-06-01T11:01:00Z";

const LONG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `pid N` / `run M` from the job's lock file.
fn lock_holder(env: &Env, job: &str) -> Option<(i32, i64)> {
    let text =
        std::fs::read_to_string(env.state_dir().join("locks").join(format!("{job}.lock"))).ok()?;
    let mut pid = None;
    let mut run = None;
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("pid", v)) => pid = v.trim().parse().ok(),
            Some(("run", v)) => run = v.trim().parse().ok(),
            _ => {}
        }
    }
    Some((pid?, run?))
}

/// Waits until run `id` has live job processes; returns them.
fn wait_job_processes(env: &Env, id: i64) -> Vec<i32> {
    wait_for(&format!("run {id}'s job processes"), LONG, || {
        let (live, _) = run_processes(&env.state_dir(), id);
        (!live.is_empty()).then_some(live)
    })
}

/// For a lost run: its orphaned processes were children of the dead supervisor, so once
/// killed they are zombies of init (or the nearest subreaper), which no jobctl process can
/// reap. Nothing may be alive; zombies must be gone within a while.
#[track_caller]
fn assert_nothing_left_of_lost(env: &Env, id: i64) {
    let (live, _) = run_processes(&env.state_dir(), id);
    assert!(
        live.is_empty(),
        "the lost run {id} left live processes: {live:?}"
    );
    let pgid = stored_run(env, id)
        .pgid
        .expect("the run's process group is recorded");
    let (live, _) = group_members(pgid);
    assert!(
        live.is_empty(),
        "the lost run {id}'s process group {pgid} has live processes: {live:?}"
    );
    wait_for(
        &format!("init to reap the lost run {id}'s zombies"),
        LONG,
        || group_members(pgid).1.is_empty().then_some(()),
    );
}

/// An env with one job, `long`, every hour, whose script records its pid and waits for
/// `release` to exist. `extra` goes into the job's table, `runner` into `[runner]`.
struct Waiting {
    env: Env,
    release: PathBuf,
    pids: PathBuf,
}

fn waiting_env(runner: &str, script_head: &str, extra: &str) -> Waiting {
    let env = Env::new();
    let release = env.home().join("release");
    let pids = env.home().join("job.pids");
    let script = env.script(
        "bin/wait.sh",
        &format!(
            "#!/bin/sh\n{script_head}\necho $$ >> '{}'\nwhile [ ! -e '{}' ]; do sleep 0.05; done\necho released\n",
            pids.display(),
            release.display()
        ),
    );
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n{runner}\n\n\
         [jobs.long]\ntype = \"script\"\ncommand = ['{}']\nevery = \"1h\"\ntimeout = \"5m\"\n{extra}\n",
        script.display()
    ));
    Waiting { env, release, pids }
}

fn release(w: &Waiting) {
    std::fs::write(&w.release, "").unwrap();
}

// ---------------------------------------------------------------------------------------
// Ticks and locks
// ---------------------------------------------------------------------------------------

#[test]
fn racing_ticks_start_exactly_one_run() {
    let w = waiting_env("", "", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);

    // Four ticks at once, all seeing the job due.
    let mut ticks: Vec<Proc> = (0..4).map(|_| spawn(env, &["run"], Some(T))).collect();
    for t in &mut ticks {
        let (o, _) = t.wait(LONG);
        ok(&o);
    }
    let runs = stored_runs(env);
    assert_eq!(
        runs.len(),
        1,
        "racing ticks started {} runs: {runs:#?}",
        runs.len()
    );
    let id = runs[0].id;
    wait_job_processes(env, id);

    // The job is due again but still running: more racing ticks start nothing.
    let mut ticks: Vec<Proc> = (0..3).map(|_| spawn(env, &["run"], Some(T_NEXT))).collect();
    for t in &mut ticks {
        let (o, _) = t.wait(LONG);
        ok(&o);
    }
    assert_eq!(
        stored_runs(env).len(),
        1,
        "a tick started a second run of a running job: {:#?}",
        stored_runs(env)
    );

    release(&w);
    let r = wait_ended(env, id, LONG);
    assert_eq!(r.status, "succeeded", "{r:?}");
    assert_nothing_left(env, id);
    // Exactly one job process ever ran.
    let started = std::fs::read_to_string(&w.pids).unwrap();
    assert_eq!(
        started.lines().count(),
        1,
        "job processes started: {started:?}"
    );
}

#[test]
fn a_tick_waits_for_the_tick_lock_then_exits_0_naming_the_holder() {
    let w = waiting_env("", "", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);
    release(&w); // the job, once started, ends at once
    std::fs::create_dir_all(env.state_dir()).unwrap();
    let path = env.state_dir().join("jobctl.lock");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.try_lock().expect("the tick lock is free");
    use std::io::Write;
    let me = std::process::id();
    writeln!(f, "{me}").unwrap();
    f.flush().unwrap();

    let (o, took) = run_detached(env, &["run"], Some(T));
    ok(&o);
    assert!(
        took >= Duration::from_millis(4500),
        "the tick gave up after {took:?}, not after waiting ~5 s"
    );
    assert!(
        took < Duration::from_secs(20),
        "the tick waited {took:?} for the lock"
    );
    let err = stderr(&o);
    assert!(
        err.contains(&format!("another jobctl run holds the lock (pid {me})")),
        "stderr names the lock and its holder:\n{err}"
    );
    assert!(
        stored_runs(env).is_empty(),
        "a tick that didn't get the lock started a run"
    );
    // A fresh file with our pid is still there, untouched.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim(),
        me.to_string()
    );

    // Released while a tick waits: that tick goes on and starts the job.
    let mut p = spawn(env, &["run", "--wait"], Some(T));
    std::thread::sleep(Duration::from_millis(500)); // a holder that takes a moment
    f.unlock().unwrap();
    drop(f);
    let (o, _) = p.wait(LONG);
    ok(&o);
    let runs = stored_runs(env);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, "succeeded");
}

#[test]
fn force_of_a_running_job_exits_75_and_starts_nothing() {
    let w = waiting_env("", "", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);
    let (o, _) = run_detached(env, &["run"], Some(T));
    ok(&o);
    let id = stored_runs(env)[0].id;
    wait_job_processes(env, id);
    let (sup, run) = wait_for("the job lock's holder", LONG, || lock_holder(env, "long"));
    assert_eq!(run, id);

    for args in [
        &["force", "long"][..],
        &["run", "--force", "--job", "long"][..],
    ] {
        let o = env.run(args);
        assert_eq!(code(&o), 75, "{args:?}\n{}", both(&o));
        let expected = format!("job long is already running (run {id}, pid {sup})");
        assert!(
            stderr(&o).contains(&expected),
            "expected {expected:?}\n{}",
            both(&o)
        );
    }
    let runs = stored_runs(env);
    assert_eq!(runs.len(), 1, "force started a run: {runs:#?}");
    assert_eq!(
        std::fs::read_to_string(&w.pids).unwrap().lines().count(),
        1,
        "a second job process started"
    );

    release(&w);
    assert_eq!(wait_ended(env, id, LONG).status, "succeeded");
    assert_nothing_left(env, id);
}

// ---------------------------------------------------------------------------------------
// Timeouts and escaped processes
// ---------------------------------------------------------------------------------------

#[test]
fn timeout_kills_the_whole_tree_also_processes_ignoring_sigterm() {
    let env = Env::new();
    let _sweep = Sweep::new(&env);
    let bg = env.home().join("bg.pid");
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n[jobs.stubborn]\ntype = \"script\"\n\
         command = \"trap '' TERM; sleep 100 & echo $! > {bg}; sleep 100; wait\"\nevery = \"1h\"\ntimeout = \"1s\"\n",
        bg = bg.display()
    ));

    // A scheduled run, under a detached supervisor.
    let (o, took) = run_detached(&env, &["run", "--wait"], Some(T));
    assert_eq!(
        code(&o),
        1,
        "a timed-out run makes `run --wait` exit 1\n{}",
        both(&o)
    );
    assert!(took < Duration::from_secs(40), "took {took:?}");
    let r = stored_runs(&env).remove(0);
    assert_eq!(r.status, "timed_out", "{r:?}");
    let d = r.duration_ms.unwrap();
    assert!(
        d >= 1900,
        "SIGTERM is ignored: the run lasts timeout + kill_grace, not {d} ms"
    );
    let bg_pid: i32 = std::fs::read_to_string(&bg)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !alive(bg_pid),
        "the background sleep ({bg_pid}) survived: {}",
        cmdline(bg_pid)
    );
    assert!(r.pgid.is_some(), "the run's process group is recorded");
    assert_nothing_left(&env, r.id);

    // A forced run, supervised by `jobctl force` itself.
    std::fs::remove_file(&bg).unwrap();
    let (o, _) = run_detached(&env, &["force", "stubborn"], None);
    assert_eq!(code(&o), 124, "{}", both(&o));
    let r = stored_runs(&env).remove(0);
    assert_eq!(r.status, "timed_out", "{r:?}");
    let bg_pid: i32 = std::fs::read_to_string(&bg)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(bg_pid), "the background sleep ({bg_pid}) survived");
    assert_nothing_left(&env, r.id);
}

/// A job that starts a `setsid` child and a double-forked one, waits until both are
/// running, then `tail`s: `exit` or `sleep 100`.
fn escaping_env(tail: &str, timeout: &str) -> (Env, PathBuf, PathBuf) {
    let env = Env::new();
    let a = env.home().join("setsid.pid");
    let b = env.home().join("double.pid");
    let script = env.script(
        "bin/escape.sh",
        &format!(
            "#!/bin/sh\nsetsid sleep 100 & echo $! > '{a}'\n(sleep 100 & echo $! > '{b}') &\n\
             while [ ! -s '{a}' ] || [ ! -s '{b}' ]; do sleep 0.05; done\necho children started\n{tail}\n",
            a = a.display(),
            b = b.display()
        ),
    );
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n[jobs.escape]\ntype = \"script\"\n\
         command = ['{}']\nevery = \"1h\"\ntimeout = \"{timeout}\"\n",
        script.display()
    ));
    (env, a, b)
}

fn read_pid(p: &Path) -> i32 {
    std::fs::read_to_string(p).unwrap().trim().parse().unwrap()
}

#[test]
fn escaped_children_do_not_survive_a_run_that_exits_normally() {
    let (env, a, b) = escaping_env("exit 0", "1m");
    let _sweep = Sweep::new(&env);

    // Scheduled (detached supervisor).
    let (o, _) = run_detached(&env, &["run", "--wait"], Some(T));
    ok(&o);
    let r = stored_runs(&env).remove(0);
    assert_eq!(r.status, "succeeded", "{r:?}");
    for (what, p) in [("setsid child", &a), ("double-forked child", &b)] {
        let pid = read_pid(p);
        assert!(
            !alive(pid),
            "the {what} ({pid}) outlived the run: {}",
            cmdline(pid)
        );
    }
    assert_nothing_left(&env, r.id);

    // Forced.
    std::fs::remove_file(&a).unwrap();
    std::fs::remove_file(&b).unwrap();
    let (o, _) = run_detached(&env, &["force", "escape"], None);
    ok(&o);
    let r = stored_runs(&env).remove(0);
    assert_eq!(r.status, "succeeded");
    for p in [&a, &b] {
        assert!(
            !alive(read_pid(p)),
            "{} outlived the forced run",
            read_pid(p)
        );
    }
    assert_nothing_left(&env, r.id);
}

#[test]
fn escaped_children_do_not_survive_a_timeout() {
    let (env, a, b) = escaping_env("sleep 100", "1s");
    let _sweep = Sweep::new(&env);
    let (o, _) = run_detached(&env, &["force", "escape"], None);
    assert_eq!(code(&o), 124, "{}", both(&o));
    let r = stored_runs(&env).remove(0);
    assert_eq!(r.status, "timed_out");
    for (what, p) in [("setsid child", &a), ("double-forked child", &b)] {
        let pid = read_pid(p);
        assert!(
            !alive(pid),
            "the {what} ({pid}) outlived the run: {}",
            cmdline(pid)
        );
    }
    assert_nothing_left(&env, r.id);
}

#[test]
fn escaped_children_with_a_scrubbed_environment_are_reaped_as_orphans_of_the_supervisor() {
    // No env marks to find them by: as the run's subreaper, the supervisor inherits them
    // when their parent exits, and takes its descendants down with the run.
    let env = Env::new();
    let c = env.home().join("scrubbed-double.pid");
    let d = env.home().join("scrubbed-setsid.pid");
    let script = env.script(
        "bin/scrubbed.sh",
        &format!(
            "#!/bin/sh\n\
             (env -i /bin/sleep 100 > /dev/null 2>&1 & echo $! > '{c}') &\n\
             env -i /usr/bin/setsid /bin/sleep 100 > /dev/null 2>&1 & echo $! > '{d}'\n\
             while [ ! -s '{c}' ] || [ ! -s '{d}' ]; do sleep 0.05; done\n",
            c = c.display(),
            d = d.display()
        ),
    );
    env.config(&format!(
        "[runner]\nkill_grace = \"1s\"\n\n[jobs.scrubbed]\ntype = \"script\"\ncommand = ['{}']\ntimeout = \"1m\"\n",
        script.display()
    ));
    let _sweep = Sweep::new(&env);
    let (o, _) = run_detached(&env, &["force", "scrubbed"], None);
    let pids = [("double-forked", read_pid(&c)), ("setsid", read_pid(&d))];
    // Nothing else would kill them if the assertions fail.
    let _kill = KillOnDrop(pids.iter().map(|(_, p)| *p).collect());
    ok(&o);
    for (what, pid) in pids {
        assert!(
            !alive(pid),
            "the {what} child with a scrubbed environment ({pid}) outlived the run: {}",
            cmdline(pid)
        );
    }
    assert_nothing_left(&env, stored_runs(&env)[0].id);
}

/// SIGKILLs the pids on drop (when they are still sleeps: a pid may have been reused).
struct KillOnDrop(Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &p in &self.0 {
            if alive(p) && cmdline(p).contains("sleep") {
                let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// A supervisor killed with SIGKILL
// ---------------------------------------------------------------------------------------

/// Starts the waiting job with a tick at `now`; returns (run id, supervisor pid).
fn start_long(env: &Env, now: &str) -> (i64, i32) {
    let (o, took) = run_detached(env, &["run"], Some(now));
    ok(&o);
    assert!(took < Duration::from_secs(10), "the tick took {took:?}");
    let id = stored_runs(env)
        .iter()
        .find(|r| r.status == "running")
        .expect("a running run")
        .id;
    wait_job_processes(env, id);
    // The job's processes exist a moment before the supervisor records their group.
    wait_for("the run's process group to be recorded", LONG, || {
        stored_run(env, id).pgid.map(|_| ())
    });
    let (sup, run) = wait_for("the job lock's holder", LONG, || {
        lock_holder(env, "long").filter(|(_, r)| *r == id)
    });
    assert_eq!(run, id);
    assert!(
        alive(sup) && cmdline(sup).contains("supervise"),
        "pid {sup} is not a supervisor: {}",
        cmdline(sup)
    );
    (id, sup)
}

fn sigkill_and_wait(pid: i32) {
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_for(&format!("pid {pid} to die"), LONG, || {
        (!alive(pid)).then_some(())
    });
}

#[test]
fn a_killed_supervisors_run_becomes_lost_its_processes_are_killed_and_the_job_runs_again() {
    // The job also leaves helpers that escaped its process group.
    let w = waiting_env("", "setsid sleep 100 &\n(sleep 100 &) &", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);
    let (id, sup) = start_long(env, T);
    let job_pids = run_processes(&env.state_dir(), id).0;

    sigkill_and_wait(sup);
    // The job is orphaned but alive, and the db still says running: nobody looked yet.
    let (left, _) = run_processes(&env.state_dir(), id);
    assert!(
        !left.is_empty(),
        "the job died with its supervisor; this test needs it alive"
    );
    assert_eq!(stored_run(env, id).status, "running");

    let o = env.run(&["list"]);
    ok(&o);
    let r = stored_run(env, id);
    assert_eq!(
        r.status, "lost",
        "list closes a run whose supervisor vanished: {r:?}"
    );
    assert!(
        r.error.as_deref().unwrap_or("").contains(&sup.to_string()),
        "the error names the supervisor: {r:?}"
    );
    for p in &job_pids {
        assert!(
            !alive(*p),
            "job process {p} of the lost run is alive: {}",
            cmdline(*p)
        );
    }
    assert_nothing_left_of_lost(env, id);
    let lost_events = env
        .store()
        .events(
            Some(jobctl::core::run::EventKind::parse("run_lost").unwrap()),
            10,
        )
        .unwrap();
    assert!(
        lost_events.iter().any(|e| e.run_id == Some(id)),
        "a run_lost event: {lost_events:?}"
    );
    let row = env
        .list_json()
        .into_iter()
        .find(|r| r["name"] == "long")
        .unwrap();
    assert_eq!(row["last_status"], "lost", "{row}");
    assert!(row["running_run_id"].is_null(), "{row}");

    // The job can run again: forced...
    release(&w);
    let o = env.run(&["force", "long"]);
    ok(&o);
    // ...and by a later tick.
    std::fs::remove_file(&w.release).unwrap();
    let (id2, _) = start_long(env, T_NEXT);
    assert!(id2 > id);
    release(&w);
    assert_eq!(wait_ended(env, id2, LONG).status, "succeeded");
    assert_nothing_left(env, id2);
}

/// Watches /proc for processes of this env's runs; records a violation when processes of two
/// different runs are alive at once.
struct Overlap {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Overlap {
    fn watch(state_dir: &Path) -> Overlap {
        let mark = format!("JOBCTL_STATE_DIR={}", state_dir.display());
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut samples = 0;
            let mut violations = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let mut runs: Vec<(String, i32)> = Vec::new();
                for e in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                        continue;
                    };
                    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                    let entries: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                    if !entries.contains(&mark.as_bytes()) || !alive(pid) {
                        continue;
                    }
                    if let Some(id) = entries
                        .iter()
                        .find_map(|x| x.strip_prefix(b"JOBCTL_RUN_ID="))
                    {
                        runs.push((String::from_utf8_lossy(id).into_owned(), pid));
                    }
                }
                let mut ids: Vec<&String> = runs.iter().map(|(r, _)| r).collect();
                ids.sort();
                ids.dedup();
                if ids.len() > 1 {
                    // Re-check: a pid seen a moment ago may have died since.
                    let still: Vec<&(String, i32)> =
                        runs.iter().filter(|(_, p)| alive(*p)).collect();
                    let mut ids2: Vec<&String> = still.iter().map(|(r, _)| r).collect();
                    ids2.sort();
                    ids2.dedup();
                    if ids2.len() > 1 {
                        violations.push(format!("{still:?}"));
                    }
                }
                samples += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            (samples, violations)
        });
        Overlap {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Overlap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn after_a_supervisor_is_killed_a_new_run_never_overlaps_the_orphaned_one() {
    let w = waiting_env("", "", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);
    let (id1, sup1) = start_long(env, T);
    let watch = Overlap::watch(&env.state_dir());

    // The tick itself finds the lost run: it kills its leftovers before starting a new run.
    sigkill_and_wait(sup1);
    assert!(
        !run_processes(&env.state_dir(), id1).0.is_empty(),
        "the orphaned job must be alive for this test"
    );
    let (id2, sup2) = start_long(env, T_NEXT);
    assert!(id2 > id1);
    assert_eq!(stored_run(env, id1).status, "lost");
    assert_nothing_left_of_lost(env, id1);

    // The same with `jobctl force` finding it.
    sigkill_and_wait(sup2);
    assert!(
        !run_processes(&env.state_dir(), id2).0.is_empty(),
        "the orphaned job must be alive for this test"
    );
    let mut force = spawn(env, &["force", "long"], None);
    let id3 = wait_for("the forced run", LONG, || {
        stored_runs(env)
            .into_iter()
            .find(|r| r.forced)
            .map(|r| r.id)
    });
    wait_job_processes(env, id3);
    assert_eq!(stored_run(env, id2).status, "lost");
    assert_nothing_left_of_lost(env, id2);
    release(&w);
    let (o, _) = force.wait(LONG);
    ok(&o);
    assert_eq!(stored_run(env, id3).status, "succeeded");
    assert_nothing_left(env, id3);

    let (samples, violations) = watch.finish();
    assert!(samples > 0);
    assert!(
        violations.is_empty(),
        "two runs' processes were alive at once: {violations:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// A long job does not hold back the tick
// ---------------------------------------------------------------------------------------

#[test]
fn a_long_job_does_not_delay_another_jobs_start() {
    let w = waiting_env("", "", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);
    // A second job next to the long one (timeout 1h).
    let cfg = std::fs::read_to_string(env.config_path())
        .unwrap()
        .replace("timeout = \"5m\"", "timeout = \"1h\"");
    env.config(&format!(
        "{cfg}\n[jobs.quick]\ntype = \"script\"\ncommand = \"echo quick\"\nevery = \"1h\"\n"
    ));

    let (o, took) = run_detached(env, &["run"], Some(T));
    ok(&o);
    assert!(
        took < Duration::from_secs(3),
        "the tick took {took:?} to start two jobs"
    );
    let long = stored_runs(env)
        .into_iter()
        .find(|r| r.job == "long")
        .expect("long started");
    let quick1 = stored_runs(env)
        .into_iter()
        .find(|r| r.job == "quick")
        .expect("quick started");
    assert_eq!(wait_ended(env, quick1.id, LONG).status, "succeeded");
    wait_job_processes(env, long.id);

    // An hour later the long job still runs; quick starts again at once.
    let (o, took) = run_detached(env, &["run"], Some(T_NEXT));
    ok(&o);
    assert!(
        took < Duration::from_secs(3),
        "the tick took {took:?} while a long job runs"
    );
    let quick2 = wait_for("quick's second run", LONG, || {
        stored_runs(env)
            .into_iter()
            .find(|r| r.job == "quick" && r.id != quick1.id)
    });
    assert_eq!(wait_ended(env, quick2.id, LONG).status, "succeeded");
    assert_eq!(
        stored_run(env, long.id).status,
        "running",
        "the long job still runs"
    );
    assert_eq!(
        stored_runs(env).iter().filter(|r| r.job == "long").count(),
        1,
        "no second run of the long job"
    );

    release(&w);
    assert_eq!(wait_ended(env, long.id, LONG).status, "succeeded");
    assert_nothing_left(env, long.id);
}

// ---------------------------------------------------------------------------------------
// cancel, and signals to jobctl itself
// ---------------------------------------------------------------------------------------

#[test]
fn cancel_stops_a_run_and_records_it_cancelled() {
    // The job ignores SIGTERM: cancel must go on to SIGKILL after kill_grace.
    let w = waiting_env("", "trap '' TERM", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);
    let (id, _) = start_long(env, T);

    let o = env.run(&["cancel", &id.to_string()]);
    ok(&o);
    let r = stored_run(env, id);
    assert_eq!(r.status, "cancelled", "{r:?}");
    assert_nothing_left(env, id);

    // Cancelling a run that is not running: exit 1, with a message.
    let o = env.run(&["cancel", &id.to_string()]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(stderr(&o).contains("not running"), "{}", both(&o));

    // By job name.
    let (id2, _) = start_long(env, T_NEXT);
    let o = env.run(&["cancel", "--job", "long"]);
    ok(&o);
    assert_eq!(stored_run(env, id2).status, "cancelled");
    assert_nothing_left(env, id2);
}

#[test]
fn cancel_of_a_finished_run_exits_1() {
    let env = Env::with_config("[jobs.done]\ntype = \"script\"\ncommand = \"true\"\n");
    let _sweep = Sweep::new(&env);
    ok(&env.run(&["force", "done"]));
    let id = stored_runs(&env)[0].id;
    let o = env.run(&["cancel", &id.to_string()]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(
        stderr(&o).contains("not running"),
        "a clear message: {}",
        both(&o)
    );
    assert_eq!(
        stored_run(&env, id).status,
        "succeeded",
        "a finished run stays as it was"
    );
    // An unknown run: exit 1 too.
    let o = env.run(&["cancel", "9999"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
}

fn signal_force(sig: Signal, expected: i32) {
    let w = waiting_env("", "", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);
    let mut force = spawn(env, &["force", "long"], None);
    let id = wait_for("the forced run", LONG, || {
        stored_runs(env).first().map(|r| r.id)
    });
    wait_job_processes(env, id);
    kill(Pid::from_raw(force.pid()), sig).unwrap();
    let (o, took) = force.wait(LONG);
    assert_eq!(code(&o), expected, "{sig} to `jobctl force`\n{}", both(&o));
    assert!(took < Duration::from_secs(30), "took {took:?} to stop");
    let r = stored_run(env, id);
    assert_eq!(r.status, "cancelled", "{r:?}");
    assert_nothing_left(env, id);
    assert!(force.exited());
}

#[test]
fn sigterm_to_a_forced_run_cancels_it_and_exits_143() {
    signal_force(Signal::SIGTERM, 143);
}

#[test]
fn sigint_to_a_forced_run_cancels_it_and_exits_130() {
    signal_force(Signal::SIGINT, 130);
}

fn signal_run_wait(sig: Signal, expected: i32) {
    let w = waiting_env("", "", "");
    let env = &w.env;
    let _sweep = Sweep::new(env);
    let mut tick = spawn(env, &["run", "--wait"], Some(T));
    let id = wait_for("the scheduled run", LONG, || {
        stored_runs(env).first().map(|r| r.id)
    });
    wait_job_processes(env, id);
    // Signalled only once it listens (else the default action ends it, which is another test).
    wait_for("`run --wait` to handle the signal", LONG, || {
        catches(tick.pid(), sig).then_some(())
    });
    kill(Pid::from_raw(tick.pid()), sig).unwrap();
    let (o, took) = tick.wait(LONG);
    assert_eq!(
        code(&o),
        expected,
        "{sig} to `jobctl run --wait`\n{}",
        both(&o)
    );
    assert!(took < Duration::from_secs(30), "took {took:?} to stop");
    let r = stored_run(env, id);
    assert_eq!(r.status, "cancelled", "{r:?}");
    assert_nothing_left(env, id);
}

#[test]
fn sigterm_to_run_wait_cancels_its_runs_and_exits_143() {
    signal_run_wait(Signal::SIGTERM, 143);
}

#[test]
fn sigint_to_run_wait_cancels_its_runs_and_exits_130() {
    signal_run_wait(Signal::SIGINT, 130);
}
