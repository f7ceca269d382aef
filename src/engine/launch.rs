//! Starting a run's detached supervisor (`jobctl supervise RUN_ID --lock-fd N`, or
//! `--lease-epoch E --host H` where several hosts share a PostgreSQL state): the tick does
//! it for a slot, whoever ends a run does it for a queued run. The supervisor takes over
//! the run's lease (an inherited descriptor, or the lease's epoch), so there is no instant
//! at which the run's job is unlocked. Also the other detached jobctl a command leaves
//! behind: the one that finishes a lost run (`jobctl after-lost RUN_ID`).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use crate::config::Config;
use crate::coord::{Handover, Lease};
use crate::core::error::{Error, Result};
use crate::core::run::RunRecord;

/// The variables a process inside a run carries that say which run it belongs to: a
/// supervisor started from inside a run (a sub-run's) belongs to a run of its own.
const RUN_VARS: &[&str] = &[
    "JOBCTL_RUN_ID",
    "JOBCTL_STATE_DIR",
    "JOBCTL_JOB_NAME",
    "JOBCTL_JOB_ROLE",
    "JOBCTL_JOB_METADATA",
    "JOBCTL_SCHEDULED_FOR",
];

/// The environment variable that gives a supervisor its PostgreSQL state's URL (never a
/// command-line argument: others can read those). A job never sees it (`JOBCTL_*`).
pub(crate) const SUPERVISOR_URL_VAR: &str = "JOBCTL_SUPERVISOR_STATE_URL";

/// A run started under a detached supervisor.
pub(crate) struct Started {
    pub(crate) run: RunRecord,
    pub(crate) supervisor: Child,
}

fn supervisor_log(state_dir: &std::path::Path) -> Stdio {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(state_dir.join("supervisors.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

/// Starts `jobctl supervise RUN_ID` in a session of its own (so it outlives the tick and a
/// terminal's Ctrl-C), handing it the lease, and names it the lease's holder. A file lock
/// goes as the lease's open file: the flock belongs to the open file, so from the moment
/// the child exists both hold it, and there is no instant at which the job is unlocked. A
/// lease in the database goes as its epoch: it stays this host's until it expires, and
/// the child takes it over at that epoch (named its holder as soon as it exists).
/// `host` is this host's name where several hosts share the state.
pub(crate) fn spawn_supervisor(
    cfg: &Config,
    state_dir: &std::path::Path,
    run: &RunRecord,
    lease: &mut dyn Lease,
    host: Option<&str>,
) -> Result<Child> {
    let mut cmd = jobctl(cfg, state_dir)?;
    cmd.arg("supervise").arg(run.id.to_string());
    let fd = match lease.handover() {
        Handover::Fd(fd) => {
            cmd.arg("--lock-fd").arg(fd.to_string());
            Some(fd)
        }
        Handover::Epoch(epoch) => {
            let (Some(host), Some(state)) = (host, &cfg.state) else {
                return Err(Error::State(
                    "a lease kept in the database needs a [state] url".into(),
                ));
            };
            cmd.arg("--lease-epoch")
                .arg(epoch.to_string())
                .arg("--host")
                .arg(host)
                .env(SUPERVISOR_URL_VAR, &state.url);
            None
        }
    };
    cmd.arg("--state-dir").arg(state_dir);
    // Until the supervisor handles them, a stop signal (a `cancel`, `run --wait` passing
    // on a Ctrl-C) would kill it and leave its run `lost`: blocked here, they stay pending
    // across exec until it has its handlers (`signal::Listen::Supervisor`).
    // Blocked in this thread too while it forks, so the child is never without the block:
    // between fork and exec it is still in this process's group, where a stop of the run
    // this process belongs to (a sub-run's drainer) would otherwise end it.
    let blocked = crate::exec::signal::stop_signals();
    let before = blocked
        .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .ok();
    // SAFETY: setsid, sigprocmask and fcntl are async-signal-safe; `blocked` is built
    // beforehand.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            blocked.thread_block().map_err(std::io::Error::from)?;
            // The lease's descriptor survives exec in this child only: cleared in the
            // parent, another thread's child (a server starting runs side by side) could
            // inherit it and hold a job's lock it knows nothing of.
            if let Some(fd) = fd
                && nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) == -1
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn();
    if let Some(mask) = before {
        let _ = mask.thread_set_mask();
    }
    let child = child.context("can't start the run's supervisor")?;
    tracing::debug!(run = run.id, pid = child.id(), "supervisor started");
    lease.handed_over(child.id(), run.id);
    Ok(child)
}

/// `jobctl --config CONFIG` as a process of its own, not of a run, with no terminal.
fn jobctl(cfg: &Config, state_dir: &std::path::Path) -> Result<Command> {
    let exe = crate::exec::spawn::self_exe().context("can't find the jobctl executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("--config")
        .arg(&cfg.path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Not the starter's stderr: whoever reads its output (cron, a pipe) would wait for
        // this process to end. Its own complaints go to a file in the state dir.
        .stderr(supervisor_log(state_dir));
    // Not a process of the run that started it (see `proctree::SUPERVISOR_MARK`).
    for v in RUN_VARS {
        cmd.env_remove(v);
    }
    let (k, v) = crate::exec::proctree::SUPERVISOR_MARK;
    cmd.env(k, v);
    Ok(cmd)
}

/// Starts `jobctl after-lost RUN_ID` in a session of its own: it finishes a run recorded
/// `lost` (`engine::after_lost`) whether or not the command that started it is still there
/// (a read that answered, a server stopped, a terminal closed). Reaped in the background
/// by a thread of this process while it lives (a server lives long), else by init.
pub(crate) fn spawn_after_lost(
    cfg: &Config,
    state_dir: &std::path::Path,
    run_id: i64,
) -> Result<u32> {
    let mut cmd = jobctl(cfg, state_dir)?;
    cmd.arg("after-lost")
        .arg(run_id.to_string())
        .arg("--state-dir")
        .arg(state_dir);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(Into::into));
    }
    let mut child = cmd
        .spawn()
        .context("can't start jobctl after-lost for the lost run")?;
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}
