//! B10, run control: how long from a slot freeing (a run ending under `max_running`) or a
//! `needs` being met to the next queued run starting, how fast 1,000 queued sub-runs
//! drain, and what 1,000 runs waiting in the queue cost the tick.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use jobctl::core::run::{Actor, EventKind, NewRun, RunStatus, Trigger};
use jobctl::store::Store;

use super::fixtures::Fixture;

/// What B10 measured.
pub struct Latencies {
    /// Medians, ms: from the end of the last needed run to its dependent's start record,
    /// and to its process's first command.
    pub needs_record: f64,
    pub needs_process: f64,
    /// The same from a run's end to the start of the queued run its slot lets start.
    pub slot_record: f64,
    pub slot_process: f64,
    pub samples: usize,
}

const SAMPLES: usize = 20;

fn config(home: &Path) -> Result<PathBuf> {
    let stamp = |n: &str| home.join(n).display().to_string();
    let toml = format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\nmax_running = 1\ndepth_limits = [1, 4]\nkeep_runs = 5000\n\n\
         [jobs.need-a]\ntype = \"script\"\ncommand = [\"true\"]\n\n\
         [jobs.dep]\ntype = \"script\"\nneeds = [\"need-a\"]\ncommand = [\"sh\", \"-c\", \"date +%s%N > {dep}\"]\n\n\
         [jobs.hold]\ntype = \"script\"\ncommand = [\"sleep\", \"0.2\"]\n\n\
         [jobs.next]\ntype = \"script\"\ncommand = [\"sh\", \"-c\", \"date +%s%N > {next}\"]\n\n\
         [jobs.q]\ntype = \"script\"\ncommand = [\"true\"]\nconcurrency = 4\n",
        dep = stamp("dep.stamp"),
        next = stamp("next.stamp"),
    );
    let path = home.join("jobctl.toml");
    std::fs::create_dir_all(home)?;
    std::fs::write(&path, toml)?;
    Ok(path)
}

fn jobctl(bin: &Path, home: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin)
        .args(args)
        .env("JOBCTL_HOME", home)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!("jobctl {} failed: {:?}", args.join(" "), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The run's end, once it ended.
fn wait_end(store: &dyn Store, id: i64) -> Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = store.get_run(id)?
            && r.status.is_end()
        {
            if r.status != RunStatus::Succeeded {
                bail!("run {id} of {} ended {}", r.job, r.status);
            }
            return r.ended_at.context("an ended run has an end");
        }
        if Instant::now() > deadline {
            bail!("run {id} did not end");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// When the run moved from `queued` to `running` (ms), and its id.
fn started(store: &dyn Store, job: &str, after_run: i64) -> Result<(i64, i64)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = store.latest_run(job)?.filter(|r| r.id > after_run);
        if let Some(r) = run {
            let ev = store
                .events_after(Some(r.id), 0, 100)?
                .into_iter()
                .find(|e| e.kind == EventKind::RunStarted);
            if let Some(ev) = ev {
                return Ok((r.id, ev.at));
            }
        }
        if Instant::now() > deadline {
            bail!("no run of {job} started");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The time (ms since the epoch) a job wrote into `stamp` when it started.
fn stamp(path: &Path) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && let Ok(ns) = s.trim().parse::<f64>()
        {
            let _ = std::fs::remove_file(path);
            return Ok(ns / 1e6);
        }
        if Instant::now() > deadline {
            bail!("{} was never written", path.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// B10's latencies, `SAMPLES` of each.
pub fn latencies(bin: &Path, home: &Path) -> Result<Latencies> {
    config(home)?;
    let store = jobctl::store::open(&home.join("state"))?;
    let (mut nr, mut np, mut sr, mut sp) = (vec![], vec![], vec![], vec![]);
    for _ in 0..SAMPLES {
        // A need met: `force need-a` succeeds; its supervisor queues and starts `dep`.
        let last_dep = store.latest_run("dep")?.map_or(0, |r| r.id);
        jobctl(bin, home, &["force", "need-a"])?;
        let a = store.latest_run("need-a")?.context("need-a ran")?;
        let end = a.ended_at.context("need-a ended")? as f64;
        let (dep, at) = started(&*store, "dep", last_dep)?;
        nr.push(at as f64 - end);
        np.push(stamp(&home.join("dep.stamp"))? - end);
        wait_end(&*store, dep)?;

        // A slot freed: `hold` takes the only slot, `next` waits queued behind it.
        let hold: i64 = jobctl(bin, home, &["submit", "hold"])?.parse()?;
        let next: i64 = jobctl(bin, home, &["submit", "next"])?.parse()?;
        if store.get_run(next)?.context("next")?.status != RunStatus::Queued {
            bail!("B10: the second run was not queued behind the first");
        }
        let end = wait_end(&*store, hold)? as f64;
        let (_, at) = started(&*store, "next", hold)?;
        sr.push(at as f64 - end);
        sp.push(stamp(&home.join("next.stamp"))? - end);
        wait_end(&*store, next)?;
    }
    Ok(Latencies {
        needs_record: median(nr),
        needs_process: median(np),
        slot_record: median(sr),
        slot_process: median(sp),
        samples: SAMPLES,
    })
}

/// 1,000 queued sub-runs (depth 1, four at once) drained by the ends of runs: seconds
/// from the first start to the last end.
pub fn drain(bin: &Path, home: &Path, n: usize) -> Result<f64> {
    config(home)?;
    let mut store = jobctl::store::open(&home.join("state"))?;
    let now = jiff::Timestamp::now().as_millisecond();
    for i in 0..n {
        store.enqueue_run(
            &NewRun {
                job: "q".into(),
                forced: true,
                scheduled_for: now,
                started_at: now + i as i64,
                trigger: Trigger::Submit,
                depth: 1,
                by: Actor::Cli,
                ..Default::default()
            },
            false,
        )?;
    }
    let t = Instant::now();
    // Any command starts what the queue lets start; the ends of runs do the rest.
    jobctl(bin, home, &["list"])?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let left = store.queued_runs(1)?.len() + store.supervised_runs()?.len();
        if left == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("B10: the queue did not drain");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = t.elapsed().as_secs_f64();
    let ok = store
        .history(Some("q"), n + 1)?
        .iter()
        .filter(|r| r.status == RunStatus::Succeeded)
        .count();
    if ok != n {
        bail!("B10: {ok} of {n} queued runs succeeded");
    }
    Ok(secs)
}

/// B1's fixture with 1,000 runs waiting in the queue: the lease of their job is held (by
/// this process, through the returned file) so none can start, and each tick looks at the
/// queue and finds nothing to start.
pub fn waiting_queue(a: &Fixture, home: &Path, n: usize) -> Result<(Fixture, File)> {
    let status = Command::new("cp")
        .arg("-a")
        .arg(&a.home)
        .arg(home)
        .status()?;
    if !status.success() {
        bail!("can't copy the B1 fixture");
    }
    let config = home.join("jobctl.toml");
    let mut toml = std::fs::read_to_string(&config)?;
    toml.push_str("\n[jobs.blocked]\ntype = \"script\"\ncommand = [\"true\"]\n");
    std::fs::write(&config, toml)?;
    let state = home.join("state");
    let mut store = jobctl::store::open(&state)?;
    let now = jiff::Timestamp::now().as_millisecond();
    for i in 0..n {
        store.enqueue_run(
            &NewRun {
                job: "blocked".into(),
                forced: true,
                scheduled_for: now,
                started_at: now + i as i64,
                trigger: Trigger::Submit,
                depth: 1,
                by: Actor::Cli,
                ..Default::default()
            },
            false,
        )?;
    }
    std::fs::create_dir_all(state.join("locks"))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("locks/blocked.lock"))?;
    lock.try_lock()
        .map_err(|e| anyhow::anyhow!("can't hold the queued job's lock: {e:?}"))?;
    Ok((
        Fixture {
            home: home.to_path_buf(),
            config,
            jobs: a.jobs + 1,
            runs: a.runs + n,
        },
        lock,
    ))
}
