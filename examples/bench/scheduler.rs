//! B16: `jobctl scheduler` on the real clock. Sixty `every = "1m"` jobs whose last slots
//! were a minute apart from each other's by one second, so their next slots come one a
//! second: from each slot's instant to the first command of its run's process. Then the
//! scheduler idle, with its next slot an hour away: its RSS, and the wake-ups and CPU time
//! of all its threads over a quiet window.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jobctl::store::MetaStore;
use jobctl::store::sqlite::SqliteStore;

pub struct Numbers {
    /// From a slot's instant to its process's first command, milliseconds.
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
    pub slots: usize,
    /// Idle: VmRSS, MiB; context switches of all threads and CPU time over the window.
    pub rss_mib: f64,
    pub wakeups: u64,
    pub cpu_ms: u64,
    pub window: Duration,
}

const SLOTS: usize = 60;

/// The scheduler, stopped with SIGTERM when dropped.
struct Scheduler(Child);

impl Drop for Scheduler {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn start(bin: &Path, home: &Path) -> Result<Scheduler> {
    let child = Command::new(bin)
        .arg("scheduler")
        .env("JOBCTL_HOME", home)
        .env_remove("JOBCTL_NOW")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Scheduler(child))
}

fn config(dir: &Path, every: &str) -> String {
    let mut toml = String::from("[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\n");
    for i in 0..SLOTS {
        toml.push_str(&format!(
            "[jobs.s{i:02}]\ntype = \"script\"\ncommand = \"date +%s%N >> {}/s{i:02}\"\nevery = \"{every}\"\n\n",
            dir.display()
        ));
    }
    toml
}

pub fn measure(bin: &Path, dir: &Path) -> Result<Numbers> {
    let home = dir.join("home");
    let starts = dir.join("starts");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&starts)?;
    std::fs::write(home.join("jobctl.toml"), config(&starts, "1m"))?;
    // Job i's last slot was a minute before T0 + i s: its next is T0 + i s.
    let t0 = jiff::Timestamp::now().as_millisecond() + 4_000;
    let states: Vec<(String, i64, Option<i64>)> = (0..SLOTS)
        .map(|i| {
            let last = t0 + i as i64 * 1_000 - 60_000;
            (format!("s{i:02}"), last - 86_400_000, Some(last))
        })
        .collect();
    {
        let mut store = SqliteStore::open(&home.join("state"))?;
        store.import_job_states(&states)?;
        store.set_last_tick(jiff::Timestamp::now())?;
    }
    let sched = start(bin, &home)?;
    let deadline = Instant::now() + Duration::from_secs(4 + SLOTS as u64 + 30);
    let mut late = Vec::with_capacity(SLOTS);
    for i in 0..SLOTS {
        let file = starts.join(format!("s{i:02}"));
        let first = loop {
            if let Some(line) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.lines().next().map(str::to_string))
            {
                break line;
            }
            if Instant::now() > deadline {
                bail!("B16: s{i:02}'s slot never started");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let ns: i64 = first.trim().parse().context("date +%s%N")?;
        let slot = t0 + i as i64 * 1_000;
        late.push((ns as f64 / 1e6) - slot as f64);
    }
    drop(sched);
    late.sort_by(f64::total_cmp);
    let pct = |p: f64| late[((late.len() - 1) as f64 * p).round() as usize];

    // Idle: the same jobs an hour apart, each run a minute ago.
    std::fs::write(home.join("jobctl.toml"), config(&starts, "1h"))?;
    let sched = start(bin, &home)?;
    let pid = sched.0.id();
    std::thread::sleep(Duration::from_secs(2)); // settled: its first tick done
    let (sw0, cpu0) = activity(pid)?;
    let window = Duration::from_secs(10);
    std::thread::sleep(window);
    let (sw1, cpu1) = activity(pid)?;
    let rss_mib = super::serve::rss_mib(pid)?;
    drop(sched);
    Ok(Numbers {
        p50: pct(0.5),
        p95: pct(0.95),
        max: pct(1.0),
        slots: late.len(),
        rss_mib,
        wakeups: sw1 - sw0,
        cpu_ms: cpu1 - cpu0,
        window,
    })
}

/// Context switches of every thread, and CPU time (user + system, ms), of process `pid`.
fn activity(pid: u32) -> Result<(u64, u64)> {
    let mut switches = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let status = std::fs::read_to_string(task?.path().join("status"))?;
        for l in status.lines() {
            if let Some(v) = l
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                switches += v.trim().parse::<u64>()?;
            }
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): utime is the 14th field.
    let rest = stat.rsplit_once(')').context("/proc stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.context("CLK_TCK")? as u64;
    Ok((switches, ticks * 1000 / hz))
}
