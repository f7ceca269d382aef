//! Signals and stalls that must never leave a run unsupervised or mis-recorded: a reader
//! that stops reading a forced run's output, SIGHUP / SIGUSR1 / SIGUSR2 / SIGPIPE to a
//! supervising jobctl and to `run --wait`, SIGTERM while a supervisor starts, a child that
//! became root and can't be killed, a supervisor that vanishes under `cancel`, and what
//! `force` says of a busy job.
//!
//! Every wait polls with a deadline; every test sweeps the processes of its temp
//! installation when it ends, also when it fails.

use crate::support::*;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use jobctl::store::{NewRun, RunEnd, RunRecord};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A Monday morning, UTC.
const T: &str = "2026-06-01T10:00:00Z";

const LONG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Test plumbing
// ---------------------------------------------------------------------------------------

/// Waits for the first run to have live job processes; returns its id.
fn wait_first_run_running(env: &Env) -> i64 {
    let id = wait_for("a run", LONG, || stored_runs(env).last().map(|r| r.id));
    wait_for(&format!("run {id}'s job processes"), LONG, || {
        (!run_processes(&env.state_dir(), id).0.is_empty()).then_some(())
    });
    id
}

/// One `every = "1h"` job, `long`, that waits for the file `release` and then succeeds.
fn waiting_env() -> (Env, PathBuf) {
    let env = Env::new();
    let release = env.home().join("release");
    let script = env.script(
        "bin/wait.sh",
        &format!(
            "#!/bin/sh\nwhile [ ! -e '{}' ]; do sleep 0.05; done\necho released\n",
            release.display()
        ),
    );
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n\
         [jobs.long]\ntype = \"script\"\ncommand = ['{}']\nevery = \"1h\"\ntimeout = \"5m\"\n",
        script.display()
    ));
    (env, release)
}

/// Holds a job's lock as a supervisor would, with `text` as the holder written inside.
fn hold_job_lock(env: &Env, job: &str, text: &str) -> std::fs::File {
    let dir = env.state_dir().join("locks");
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join(format!("{job}.lock")))
        .unwrap();
    f.try_lock().expect("the job lock is free");
    f.write_all(text.as_bytes()).unwrap();
    f.flush().unwrap();
    f
}

/// A `running` run of `job` as a supervisor records it, without any process behind it.
fn insert_running(env: &Env, job: &str, supervisor_pid: Option<i64>) -> RunRecord {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    env.store()
        .insert_run(&NewRun {
            job: job.into(),
            forced: true,
            scheduled_for: now,
            started_at: now,
            supervisor_pid,
            scope: None,
            last_slot: None,
            lock_name: None,
            ..Default::default()
        })
        .unwrap()
}

/// A pid no process has: one of a child that has exited and been reaped.
fn dead_pid() -> i32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id() as i32;
    c.wait().unwrap();
    pid
}

// ---------------------------------------------------------------------------------------
// A reader that stops reading
// ---------------------------------------------------------------------------------------

#[test]
fn a_stalled_reader_of_forced_output_holds_up_neither_the_timeout_nor_the_log() {
    // 4 MB at once, far more than a pipe and the echo queue hold, then a line every 50 ms
    // until the 3 s timeout.
    let env = Env::with_config(
        "[runner]\nkill_grace = \"1s\"\n\n[jobs.chatty]\ntype = \"script\"\n\
         command = \"head -c 4000000 /dev/zero | tr '\\\\0' x; i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done\"\n\
         timeout = \"3s\"\n",
    );
    let _sweep = Sweep::new(&env);
    let (mut reader, writer) = std::io::pipe().unwrap();
    let start = Instant::now();
    // The command, and with it our copy of the pipe's write end, is gone once started.
    let mut force = Proc::start_to(&env, env.cmd(&["force", "chatty"]), writer);

    // Nobody reads: the run still ends at its timeout.
    let id = wait_for("the forced run", LONG, || {
        stored_runs(&env).first().map(|r| r.id)
    });
    let r = wait_ended(&env, id, Duration::from_secs(20));
    let took = start.elapsed();
    assert_eq!(r.status, "timed_out", "{r:?}");
    assert!(
        took < Duration::from_secs(12),
        "a stalled reader held the run up: it ended after {took:?} (timeout 3s, grace 1s)"
    );
    assert_nothing_left(&env, id);

    // The reader comes back: it gets what was queued, then one note on what was dropped.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut echoed = Vec::new();
        let _ = reader.read_to_end(&mut echoed);
        let _ = tx.send(echoed);
    });
    let (o, _) = force.wait(LONG);
    let echoed = rx
        .recv_timeout(LONG)
        .expect("the echo to end when jobctl exits");
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    let echoed = String::from_utf8_lossy(&echoed).into_owned();
    let note_at = echoed
        .find("\n[jobctl] ")
        .unwrap_or_else(|| panic!("no note on dropped output; echo ends {:?}", tail(&echoed)));
    let note = &echoed[note_at + 1..];
    assert_eq!(
        note.matches("[jobctl]").count(),
        1,
        "one note, at the end: {note:?}"
    );
    assert!(
        note.contains("bytes of output were not echoed")
            && note.contains("the run log has everything"),
        "{note:?}"
    );
    let dropped: usize = note["[jobctl] ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("a byte count in {note:?}"));

    // The log has everything the job printed: every x, every tick in order; and what was
    // echoed plus what was dropped is exactly that.
    let log = std::fs::read_to_string(r.log_path.as_ref().unwrap()).unwrap();
    let output = &log[..log.find("[jobctl] ").expect("jobctl's note in the log")];
    assert!(
        output.starts_with(&"x".repeat(4_000_000)),
        "the log lost output"
    );
    let ticks: Vec<&str> = output[4_000_000..].lines().collect();
    assert!(ticks.len() >= 10, "{ticks:?}");
    for (i, t) in ticks.iter().enumerate() {
        assert_eq!(*t, format!("tick {i}"), "the log lost output");
    }
    assert_eq!(
        note_at + dropped,
        output.len(),
        "echoed {note_at} + dropped {dropped} bytes is not the {} bytes the job printed",
        output.len()
    );
}

fn tail(s: &str) -> &str {
    &s[s.len().saturating_sub(200)..]
}

// ---------------------------------------------------------------------------------------
// SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE
// ---------------------------------------------------------------------------------------

#[test]
fn sighup_to_a_forced_run_cancels_it_and_exits_129() {
    let (env, _release) = waiting_env();
    let _sweep = Sweep::new(&env);
    let mut force = spawn(&env, &["force", "long"], None);
    let id = wait_first_run_running(&env);
    kill(Pid::from_raw(force.pid()), Signal::SIGHUP).unwrap();
    let (o, took) = force.wait(LONG);
    assert_eq!(code(&o), 129, "SIGHUP to `jobctl force`\n{}", both(&o));
    assert!(took < Duration::from_secs(30), "took {took:?} to stop");
    let r = stored_run(&env, id);
    assert_eq!(r.status, "cancelled", "{r:?}");
    assert!(r.error.as_deref().unwrap_or("").contains("SIGHUP"), "{r:?}");
    assert_nothing_left(&env, id);
}

#[test]
fn sighup_to_run_wait_cancels_its_runs_and_exits_129() {
    let (env, _release) = waiting_env();
    let _sweep = Sweep::new(&env);
    let mut tick = spawn(&env, &["run", "--wait"], Some(T));
    let id = wait_first_run_running(&env);
    // Once it handles SIGTERM it is waiting; SIGHUP must not be left to its default action.
    wait_for("`run --wait` to handle its signals", LONG, || {
        catches(tick.pid(), Signal::SIGTERM).then_some(())
    });
    kill(Pid::from_raw(tick.pid()), Signal::SIGHUP).unwrap();
    let (o, took) = tick.wait(LONG);
    assert_eq!(code(&o), 129, "SIGHUP to `jobctl run --wait`\n{}", both(&o));
    assert!(took < Duration::from_secs(30), "took {took:?} to stop");
    let r = stored_run(&env, id);
    assert_eq!(r.status, "cancelled", "{r:?}");
    // Passed on as SIGTERM: the supervisor says what it got.
    assert!(
        r.error.as_deref().unwrap_or("").contains("SIGTERM"),
        "{r:?}"
    );
    assert_nothing_left(&env, id);
}

#[test]
fn sigusr1_sigusr2_and_sigpipe_do_not_end_a_supervising_jobctl_or_run_wait() {
    let (env, release) = waiting_env();
    let _sweep = Sweep::new(&env);
    let stray = [Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGPIPE];

    // A forced run: the `force` process is its supervisor.
    let mut force = spawn(&env, &["force", "long"], None);
    let id = wait_first_run_running(&env);
    for s in stray {
        kill(Pid::from_raw(force.pid()), s).unwrap();
    }

    std::fs::write(&release, "").unwrap();
    let (o, _) = force.wait(LONG);
    ok(&o);
    assert_eq!(stored_run(&env, id).status, "succeeded");
    std::fs::remove_file(&release).unwrap();

    // A scheduled run: `run --wait` waiting for its detached supervisor.
    let mut tick = spawn(&env, &["run", "--wait"], Some(T));
    let id2 = wait_for("the scheduled run", LONG, || {
        stored_runs(&env).first().map(|r| r.id).filter(|i| *i != id)
    });
    wait_for(&format!("run {id2}'s job processes"), LONG, || {
        (!run_processes(&env.state_dir(), id2).0.is_empty()).then_some(())
    });
    let supervisor = stored_run(&env, id2).supervisor_pid.unwrap() as i32;
    wait_for("`run --wait` to handle its signals", LONG, || {
        catches(tick.pid(), Signal::SIGTERM).then_some(())
    });
    for s in stray {
        kill(Pid::from_raw(tick.pid()), s).unwrap();
        kill(Pid::from_raw(supervisor), s).unwrap();
    }
    std::fs::write(&release, "").unwrap();
    let (o, _) = tick.wait(LONG);
    ok(&o);
    let r = stored_run(&env, id2);
    assert_eq!(r.status, "succeeded", "{r:?}");
    assert_nothing_left(&env, id2);
}

// ---------------------------------------------------------------------------------------
// SIGTERM while a supervisor starts
// ---------------------------------------------------------------------------------------

#[test]
fn sigterm_while_a_run_starts_ends_it_cancelled_never_lost() {
    let env = Env::with_config(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n\
         [jobs.quick]\ntype = \"script\"\ncommand = \"sleep 1\"\nevery = \"1h\"\ntimeout = \"1m\"\n",
    );
    let _sweep = Sweep::new(&env);
    ok(&env.run(&["list"])); // the state exists: every start below costs the same
    let base: jiff::Timestamp = T.parse().unwrap();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut seen = 0;
    for i in 0..120u64 {
        // Each tick an hour later, so the job is due every time.
        let now = (base + jiff::SignedDuration::from_hours(i as i64)).to_string();
        // Delays spread over a start: before the handlers are up, and just after.
        let delay = Duration::from_micros((i * 1_700) % 40_000);
        let how = match i % 3 {
            // Ctrl-C on `run --wait`, passed on to the supervisor it just started.
            0 => {
                let mut p = spawn(&env, &["run", "--wait"], Some(&now));
                std::thread::sleep(delay);
                let _ = kill(Pid::from_raw(p.pid()), Signal::SIGTERM);
                p.wait(LONG);
                "run --wait"
            }
            // SIGTERM to a `force` while it records its run and sets up.
            1 => {
                let mut p = spawn(&env, &["force", "quick"], None);
                std::thread::sleep(delay);
                let _ = kill(Pid::from_raw(p.pid()), Signal::SIGTERM);
                p.wait(LONG);
                "force"
            }
            // `cancel` as soon as the supervisor names itself in the job lock.
            _ => {
                let (o, _) = spawn(&env, &["run"], Some(&now)).wait(LONG);
                ok(&o);
                let id = stored_runs(&env)[0].id;
                wait_for("cancel to get through", LONG, || {
                    let o = env.run(&["cancel", &id.to_string()]);
                    (code(&o) == 0 || stderr(&o).contains("not running")).then_some(())
                });
                "cancel"
            }
        };
        // Every run this started ends (`history` closes one whose supervisor died).
        let runs = wait_for("the runs to end", LONG, || {
            let h = env.history_json(&["-n", "1000"]);
            h.iter().all(|r| status_of(r).is_end()).then_some(h)
        });
        for r in &runs[..runs.len() - seen] {
            let status = r["status"].as_str().unwrap();
            assert!(
                status == "cancelled" || status == "succeeded",
                "iteration {i} ({how}, signal after {delay:?}): run {} ended {status}: {}",
                r["run_id"],
                r["error"]
            );
            *outcomes.entry(format!("{how}: {status}")).or_default() += 1;
        }
        seen = runs.len();
    }
    eprintln!("outcomes: {outcomes:?}");
    let cancelled: usize = outcomes
        .iter()
        .filter(|(k, _)| k.ends_with("cancelled"))
        .map(|(_, n)| n)
        .sum();
    assert!(cancelled >= 30, "few runs were cancelled: {outcomes:?}");
}

// ---------------------------------------------------------------------------------------
// A child that can't be killed
// ---------------------------------------------------------------------------------------

/// Why the unkillable-child test can't run here, if it can't.
fn setuid_test_unsupported(dir: &Path) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    for tool in ["gcc", "setpriv"] {
        if Command::new(tool)
            .arg("--version")
            .output()
            .map_or(true, |o| !o.status.success())
        {
            return Some(format!("no {tool}"));
        }
    }
    // The longest mount point that holds `dir` decides whether setuid bits count there.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let dir = dir.canonicalize().ok()?;
    let mount = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() > 3 && dir.starts_with(f[1])).then(|| (f[1].len(), f[3].to_string()))
        })
        .max();
    match mount {
        Some((_, opts)) if opts.split(',').any(|o| o == "nosuid") => {
            Some(format!("{} is on a nosuid mount", dir.display()))
        }
        _ => None,
    }
}

/// `jobctl ARGS` as user nobody, in `env`.
fn as_nobody(env: &Env, args: &[&str]) -> Command {
    let mut c = env.command("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args)
        .env("HOME", env.home());
    c
}

/// SIGKILLs the pid on drop (as root), if it is still the setuid program's `sleep`.
struct KillSurvivor(Option<i32>);

impl Drop for KillSurvivor {
    fn drop(&mut self) {
        if let Some(p) = self.0
            && alive(p)
            && std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.starts_with(b"sleep\x001000"))
        {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
}

#[test]
fn a_child_that_became_root_ends_the_run_anyway_and_is_shown_as_a_survivor() {
    let env = Env::new();
    if let Some(why) = setuid_test_unsupported(env.home()) {
        eprintln!("skipped: a setuid-root child needs root, gcc, setpriv and a suid mount ({why})");
        return;
    }
    let _sweep = Sweep::new(&env); // as root: reaches the setuid program too
    let mut survivor = KillSurvivor(None);

    // A setuid program that makes itself root again, then sleeps: jobctl (nobody) can't signal it.
    let src = env.write(
        "become_root.c",
        "#define _GNU_SOURCE\n#include <unistd.h>\nint main(void) {\n\
         if (setresuid(0, 0, 0) != 0) return 3;\n\
         execl(\"/bin/sleep\", \"sleep\", \"1000\", (char *)0);\nreturn 4;\n}\n",
    );
    let become_root = env.home().join("become_root");
    let o = Command::new("gcc")
        .arg("-o")
        .arg(&become_root)
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success(), "gcc: {}", stderr(&o));
    env.config(&format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n\
         [jobs.stuck]\ntype = \"script\"\ncommand = ['{}']\ntimeout = \"2s\"\n",
        become_root.display()
    ));
    // Everything belongs to nobody, but the setuid program: root's, setuid.
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(env.home())
        .status()
        .unwrap();
    assert!(chown.success());
    std::fs::set_permissions(env.home(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = Command::new("chown").arg("0:0").arg(&become_root).status();
    std::fs::set_permissions(&become_root, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let probe = as_nobody(&env, &["--version"]).output().unwrap();
    if !probe.status.success() {
        eprintln!(
            "skipped: user nobody can't run {BIN} here: {}",
            stderr(&probe)
        );
        return;
    }

    let start = Instant::now();
    let mut p = Proc::start(&env, as_nobody(&env, &["force", "stuck"]));
    let (o, took) = p.wait(Duration::from_secs(40));
    assert_eq!(code(&o), 124, "{}", both(&o));
    // timeout 2s + grace 1s + 5s after SIGKILL + 2s at most for the pipes.
    assert!(
        took < Duration::from_secs(20),
        "the run ended only after {:?}",
        start.elapsed()
    );
    let hist = as_nobody(&env, &["history", "--json"]).output().unwrap();
    ok(&hist);
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&hist.stdout).unwrap();
    let r = &runs[0];
    assert_eq!(r["status"], "timed_out", "{r}");
    let error = r["error"].as_str().unwrap_or("");
    let pid: i32 = error
        .split("could not be killed (pid ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no survivor named in the error: {error:?}"));
    survivor.0 = Some(pid);
    assert!(
        error.contains(&format!(
            "1 process could not be killed (pid {pid} user root)"
        )),
        "{error:?}"
    );
    assert!(alive(pid), "the survivor {pid} is expected alive");
    assert!(
        stderr(&o).contains(&format!("pid {pid} user root")),
        "the end line names the survivor\n{}",
        both(&o)
    );

    // `status` shows it, as long as it lives.
    let st = as_nobody(&env, &["status"]).output().unwrap();
    ok(&st);
    let line = format!(
        "run {} of stuck left 1 process it could not kill, still running: pid {pid} user root",
        r["run_id"]
    );
    assert!(
        stdout(&st).contains(&line),
        "expected {line:?}\n{}",
        both(&st)
    );
    let st = as_nobody(&env, &["status", "--json"]).output().unwrap();
    ok(&st);
    let doc: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(doc["survivors"][0]["pid"], pid, "{doc}");
    assert_eq!(doc["survivors"][0]["user"], "root", "{doc}");

    // The job's lock was released: it runs again at once.
    std::fs::write(
        env.config_path(),
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n\
         [jobs.stuck]\ntype = \"script\"\ncommand = \"echo again\"\ntimeout = \"2s\"\n",
    )
    .unwrap();
    let again = as_nobody(&env, &["force", "stuck"]).output().unwrap();
    assert_eq!(code(&again), 0, "{}", both(&again));
    assert!(stdout(&again).contains("again"), "{}", both(&again));

    // Gone, it is no longer shown.
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_for("the survivor to die", LONG, || (!alive(pid)).then_some(()));
    let st = as_nobody(&env, &["status"]).output().unwrap();
    ok(&st);
    assert!(!stdout(&st).contains("could not kill"), "{}", both(&st));
}

// ---------------------------------------------------------------------------------------
// cancel, and force of a busy job
// ---------------------------------------------------------------------------------------

#[test]
fn cancel_whose_supervisor_vanished_reports_how_the_run_really_ended() {
    let env = Env::with_config("[jobs.x]\ntype = \"script\"\ncommand = \"true\"\n");
    let _sweep = Sweep::new(&env);
    ok(&env.run(&["list"]));

    for (how, ended) in [
        ("ended by itself", "succeeded"),
        ("supervisor killed", "lost"),
    ] {
        // The lock file names a supervisor that is gone by the time `cancel` signals it;
        // its lock is still held a moment (here: by the test).
        let dead = dead_pid();
        let run = insert_running(&env, "x", Some(dead as i64));
        let lock = hold_job_lock(&env, "x", &format!("pid {dead}\nrun {}\n", run.id));
        let mut cancel = spawn(&env, &["-v", "cancel", &run.id.to_string()], None);
        wait_for("cancel to find the supervisor gone", LONG, || {
            let err = cancel.stderr_now();
            (err.contains("is gone") || cancel.exited()).then_some(())
        });
        if ended == "succeeded" {
            let closed = env
                .store()
                .finish_run(
                    run.id,
                    &RunEnd {
                        status: jobctl::core::run::RunStatus::Succeeded,
                        ended_at: run.started_at + 5,
                        exit_code: Some(0),
                        ..Default::default()
                    },
                )
                .unwrap()
                .is_some();
            assert!(closed, "{how}: `cancel` closed the run itself");
        }
        drop(lock);
        let (o, _) = cancel.wait(LONG);
        assert_eq!(code(&o), 1, "{how}\n{}", both(&o));
        let expected = format!("run {} of x is not running: it ended {ended}", run.id);
        assert!(
            stderr(&o).contains(&expected),
            "{how}: expected {expected:?}\n{}",
            both(&o)
        );
        assert!(
            !stderr(&o).contains("ESRCH") && !stderr(&o).contains("can't signal"),
            "{how}\n{}",
            both(&o)
        );
        assert_eq!(stored_run(&env, run.id).status, ended);
    }
}

#[test]
fn force_of_a_busy_job_says_only_what_is_known() {
    let env = Env::with_config("[jobs.x]\ntype = \"script\"\ncommand = \"true\"\n");
    let _sweep = Sweep::new(&env);
    ok(&env.run(&["list"]));
    let busy = |expected: &str| {
        let o = env.run(&["force", "x"]);
        assert_eq!(code(&o), 75, "{}", both(&o));
        let err = stderr(&o);
        assert!(!err.contains('?'), "no guesses: {err}");
        assert!(
            err.contains(expected),
            "expected {expected:?}\n{}",
            both(&o)
        );
    };

    // Locked, no run recorded yet (a run being started): nothing to name.
    let lock = hold_job_lock(&env, "x", "");
    busy("job x is busy: another jobctl holds its lock");
    // Recorded, its supervisor not yet known.
    let run = insert_running(&env, "x", None);
    busy(&format!(
        "job x is already running (run {}, its supervisor is starting)",
        run.id
    ));
    // A lock file left by an earlier run names neither this run nor its supervisor.
    drop(lock);
    let lock = hold_job_lock(&env, "x", "pid 1\nrun 999\n");
    env.store()
        .set_run_process(run.id, std::process::id() as i64, None)
        .unwrap();
    busy(&format!(
        "job x is already running (run {}, pid {})",
        run.id,
        std::process::id()
    ));
    drop(lock);
    let runs = stored_runs(&env);
    assert_eq!(runs.len(), 1, "force started a run: {runs:#?}");
}
