//! Coordination on one host: the tick lock and the job locks are OS advisory locks (flock,
//! via `File::try_lock`) on files in the state directory, with the holder written inside
//! for people to read, and a request is a signal to the holder: SIGTERM to stop the run,
//! SIGUSR1 to pause it, SIGUSR2 to resume it.
//!
//! A lock is never "check a pid, then write a file": the kernel grants it to one process,
//! releases it when that process dies (SIGKILL too), and a stale file blocks nothing.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{
    Coordinator, Handover, Holder, Lease, Request, StopRequest, TickGuard, TickOutcome,
    is_lock_name,
};
use crate::core::error::{Error, Result};

fn lock_error(path: &Path, e: std::io::Error) -> Error {
    let hint = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        " (it is a symlink: jobctl never writes through one in its state directory; remove it)"
    } else if path.is_dir() {
        " (it is a directory; remove it)"
    } else {
        ""
    };
    Error::State(format!(
        "can't open the lock file {}: {e}{hint}",
        path.display()
    ))
}

fn open_lock_file(path: &Path) -> Result<File> {
    // Never through a symlink: a link planted in the state dir would have jobctl (perhaps
    // as root) truncate and write whatever file it points to.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| lock_error(path, e))
}

/// Tries to lock `file`; `Ok(false)` when another process holds it.
fn try_lock(file: &File, path: &Path) -> Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(lock_error(path, e)),
    }
}

fn read_holder(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
    {
        let _ = f.read_to_string(&mut s);
    }
    s
}

fn write_holder(file: &mut File, text: &str) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// `STATE_DIR/jobctl.lock`: held while a tick decides and claims, never while jobs run.
pub(crate) struct TickLock {
    file: File,
}

impl Drop for TickLock {
    /// Emptied before it is released (closing the file releases it): a pid left in the
    /// file would name a process that no longer holds anything.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// The pid of the process holding a flock on `file`, as the kernel says (`/proc/locks`,
/// on Linux); else the pid written in it, if that process is alive. `None`: it can't be
/// told (the holder is starting, or is in another pid namespace).
fn real_holder(file: &File, written: Option<u32>) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(m), Ok(locks)) = (file.metadata(), std::fs::read_to_string("/proc/locks")) {
            let dev = m.dev();
            let id = format!(
                "{:02x}:{:02x}:{}",
                nix::sys::stat::major(dev),
                nix::sys::stat::minor(dev),
                m.ino()
            );
            let holder = locks.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
                (f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&id.as_str()))
                    .then(|| f.get(4)?.parse::<u32>().ok())
                    .flatten()
            });
            if let Some(pid) = holder.filter(|p| *p > 0) {
                return Some(pid);
            }
            if locks.lines().any(|l| l.contains(&id)) {
                return None;
            }
        }
    }
    written.filter(|p| kill(Pid::from_raw(*p as i32), None::<Signal>).is_ok())
}

pub(crate) enum TickLockOutcome {
    Acquired(TickLock),
    /// Another tick held it for the whole wait; its pid if it wrote one.
    Held(Option<u32>),
}

impl TickLock {
    pub(crate) fn acquire(state_dir: &Path, wait: Duration) -> Result<TickLockOutcome> {
        let path = state_dir.join("jobctl.lock");
        let mut file = open_lock_file(&path)?;
        let deadline = Instant::now() + wait;
        loop {
            if try_lock(&file, &path)? {
                let _ = write_holder(&mut file, &format!("{}\n", std::process::id()));
                return Ok(TickLockOutcome::Acquired(TickLock { file }));
            }
            if Instant::now() >= deadline {
                let written = read_holder(&path).trim().parse().ok();
                return Ok(TickLockOutcome::Held(real_holder(&file, written)));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// `STATE_DIR/locks/NAME.lock`: held for as long as a run of the job is running, by the
/// process that supervises it. NAME is the job's name, or `ask/ID` for one `jobctl ask`
/// call (asks run side by side, each under a lock of its own).
pub struct JobLock {
    file: File,
    pub(crate) path: PathBuf,
}

pub(crate) fn job_lock_path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("locks").join(format!("{name}.lock"))
}

impl JobLock {
    /// `None` when another process holds the lock `name` (a job's name, or an ask's).
    pub fn try_acquire(state_dir: &Path, name: &str) -> Result<Option<JobLock>> {
        if !is_lock_name(name) {
            return Err(lock_error(
                &job_lock_path(state_dir, "?"),
                std::io::Error::other(format!("{name:?} is not a lock name")),
            ));
        }
        let path = job_lock_path(state_dir, name);
        let dir = path.parent().unwrap_or(state_dir).to_path_buf();
        if !dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| lock_error(&dir, e))?;
        }
        let file = open_lock_file(&path)?;
        Ok(try_lock(&file, &path)?.then_some(JobLock { file, path }))
    }

    /// Releases the lock and removes its file: for a lock that is never taken again (an
    /// ask's). Unlinked while still held, so no other process can find it free first.
    pub(crate) fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }

    pub fn set_holder(&mut self, pid: u32, run_id: i64) {
        let _ = write_holder(&mut self.file, &format!("pid {pid}\nrun {run_id}\n"));
    }

    pub(crate) fn holder(state_dir: &Path, name: &str) -> Holder {
        if !is_lock_name(name) {
            return Holder::default();
        }
        let text = read_holder(&job_lock_path(state_dir, name));
        let mut h = Holder::default();
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("pid", v)) => h.pid = v.trim().parse().ok(),
                Some(("run", v)) => h.run_id = v.trim().parse().ok(),
                _ => {}
            }
        }
        h
    }

    /// Takes over a lock inherited from the tick on a file descriptor.
    ///
    /// # Safety
    /// `fd` must be an open file descriptor that this process owns and nothing else uses.
    pub(crate) unsafe fn from_inherited_fd(fd: i32, path: PathBuf) -> JobLock {
        use std::os::fd::FromRawFd;
        let file = unsafe { File::from_raw_fd(fd) };
        // The job's own processes must not inherit it: the lock's life is the supervisor's.
        let _ = nix::fcntl::fcntl(
            &file,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        JobLock { file, path }
    }
}

impl Lease for JobLock {
    fn set_holder(&mut self, pid: u32, run_id: i64) {
        JobLock::set_holder(self, pid, run_id)
    }

    fn handover(&self) -> Handover {
        Handover::Fd(self.file.as_raw_fd())
    }

    fn remove(self: Box<Self>) {
        JobLock::remove(*self)
    }
}

/// The coordinator of the processes of one host sharing a state directory.
pub(crate) struct FlockCoordinator {
    dir: PathBuf,
}

impl FlockCoordinator {
    pub(crate) fn new(state_dir: &Path) -> FlockCoordinator {
        FlockCoordinator {
            dir: state_dir.to_path_buf(),
        }
    }
}

impl Coordinator for FlockCoordinator {
    fn tick(&self, wait: Duration) -> Result<TickOutcome> {
        Ok(match TickLock::acquire(&self.dir, wait)? {
            TickLockOutcome::Acquired(l) => TickOutcome::Acquired(TickGuard::new(l)),
            TickLockOutcome::Held(pid) => TickOutcome::Held(pid),
        })
    }

    fn try_lease(&self, key: &str) -> Result<Option<Box<dyn Lease>>> {
        Ok(JobLock::try_acquire(&self.dir, key)?.map(|l| Box::new(l) as Box<dyn Lease>))
    }

    unsafe fn adopt(&self, key: &str, from: Handover) -> Result<Box<dyn Lease>> {
        let Handover::Fd(fd) = from else {
            return Err(Error::State(format!(
                "the lease on {key} was handed over by epoch, but this state directory's leases are file locks"
            )));
        };
        // SAFETY: passed on from the caller's contract.
        Ok(Box::new(unsafe {
            JobLock::from_inherited_fd(fd, job_lock_path(&self.dir, key))
        }))
    }

    fn holder(&self, key: &str) -> Holder {
        JobLock::holder(&self.dir, key)
    }

    fn request(&self, key: &str, run_id: i64, what: Request) -> StopRequest {
        // Signal only the process that holds the lock for this run: a pid from the
        // database alone could have been reused by an unrelated process.
        let h = self.holder(key);
        let pid = match (h.pid, h.run_id) {
            (Some(p), Some(r)) if r == run_id => p,
            _ => return StopRequest::NotHeld,
        };
        let sig = match what {
            Request::Stop => Signal::SIGTERM,
            Request::Pause => Signal::SIGUSR1,
            Request::Resume => Signal::SIGUSR2,
        };
        match kill(Pid::from_raw(pid as i32), sig) {
            Ok(()) => StopRequest::Sent { pid },
            Err(nix::errno::Errno::ESRCH) => StopRequest::Gone,
            Err(e) => StopRequest::Refused {
                pid,
                why: e.desc().to_string(),
            },
        }
    }
}
