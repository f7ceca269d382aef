//! What `jobctl check` warns about in a config that is valid: things that will work, but
//! not as the file seems to say. A schedule finer than what starts it (the timer ticks
//! every 5 minutes; only a running `jobctl scheduler` starts a job on the minute), and a
//! script whose program is not on the job's `PATH`. Warnings, never errors: the exit code
//! stays that of a valid config.

use std::time::Duration;

use jiff::Timestamp;

use crate::config::{Command, Config, Job, JobKind};
use crate::core::schedule::{self, Schedule};
use crate::exec::env::{find_program, path_of, shell_program};

/// How often the timer `install.sh` sets up runs `jobctl tick`.
pub(crate) const TIMER_PERIOD: Duration = Duration::from_secs(300);

/// How many slots of a calendar schedule are looked at for its shortest gap.
const SLOTS_LOOKED_AT: usize = 64;

/// Every warning for `cfg`, one line each, by job name. `now` is where calendar
/// schedules are looked at from; `scheduler_running`: a `jobctl scheduler` (or `serve
/// --schedule`) keeps this state, so fine schedules run on time.
pub(crate) fn warnings(cfg: &Config, now: Timestamp, scheduler_running: bool) -> Vec<String> {
    let mut out = Vec::new();
    for job in cfg.jobs.values() {
        if !scheduler_running && let Some(s) = &job.schedule {
            let finer = match s {
                Schedule::Every(d) => *d < TIMER_PERIOD,
                _ => shortest_gap(s, job, now).is_some_and(|g| g < TIMER_PERIOD),
            };
            if finer {
                out.push(format!(
                    "job {}: its schedule ({}) is finer than the 5-minute timer: it runs at most every 5 min; `jobctl scheduler` runs it on the minute",
                    job.name,
                    s.describe()
                ));
            }
        }
        if let Some(program) = missing_program(cfg, job) {
            out.push(format!(
                "job {}: its command's program '{program}' is not found on its PATH ({})",
                job.name,
                path_in_force(cfg, job)
            ));
        }
    }
    out
}

/// The shortest time between two of the next slots of a calendar schedule.
fn shortest_gap(s: &Schedule, job: &Job, now: Timestamp) -> Option<Duration> {
    let slots = schedule::upcoming(s, &job.timezone, None, now, SLOTS_LOOKED_AT);
    slots
        .windows(2)
        .filter_map(|w| Duration::try_from(w[1].duration_since(w[0])).ok())
        .min()
}

/// The `PATH` a run of `job` gets: the job's `env`, else `[runner] env`, else jobctl's own.
fn path_in_force(cfg: &Config, job: &Job) -> String {
    let env = super::env::base_env(cfg, job);
    path_of(&env).unwrap_or("/usr/bin:/bin").to_string()
}

/// The program of a script job's command when it is not to be found; `None` when it is,
/// or when the shell decides what runs.
fn missing_program<'j>(cfg: &Config, job: &'j Job) -> Option<&'j str> {
    let JobKind::Script(command) = &job.kind else {
        return None;
    };
    let program = match command {
        Command::Argv(v) => v.first()?.as_str(),
        Command::Shell(s) => shell_program(s)?,
    };
    let env = super::env::base_env(cfg, job);
    find_program(program, path_of(&env), &job.workdir)
        .is_none()
        .then_some(program)
}
