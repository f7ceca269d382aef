//! Who keeps the schedule of a state directory: each running `jobctl scheduler` (or
//! `serve --schedule`) announces itself in `STATE_DIR/schedulers/PID.json` (its pid,
//! host, since when, its next wake-up, and why the config it keeps is not the file's when
//! an edit was invalid), and holds `PID.lock` locked for as long as it lives.
//!
//! `status` shows the ones whose lock is held: the kernel releases it when the process
//! dies, also by SIGKILL, so a file left behind never shows a scheduler that is gone, and a
//! reused pid can't pass for one.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::snapshot::write_private;

/// What a scheduler says of itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SchedulerView {
    pub pid: u32,
    pub host: String,
    /// When it started (RFC 3339).
    pub since: String,
    /// When it wakes next (RFC 3339), for which job; none: no job has a next slot.
    pub next_wakeup: Option<String>,
    pub next_job: Option<String>,
    /// The config it keeps is the last valid one: the file's is not, and this says why.
    pub config_error: Option<String>,
}

fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("schedulers")
}

/// A scheduler's announcement, withdrawn when dropped.
pub(crate) struct Presence {
    json: PathBuf,
    lock_path: PathBuf,
    _lock: File,
    pub view: SchedulerView,
}

impl Presence {
    /// Announces this process as a scheduler of `state_dir`.
    pub(crate) fn announce(state_dir: &Path, view: SchedulerView) -> io::Result<Presence> {
        use std::os::unix::fs::DirBuilderExt;
        let d = dir(state_dir);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&d)?;
        let lock_path = d.join(format!("{}.lock", view.pid));
        let lock = File::create(&lock_path)?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::Error(e) => e,
            std::fs::TryLockError::WouldBlock => io::Error::other("another process holds it"),
        })?;
        let p = Presence {
            json: d.join(format!("{}.json", view.pid)),
            lock_path,
            _lock: lock,
            view,
        };
        p.write()?;
        Ok(p)
    }

    /// Says what changed (the next wake-up, a config error).
    pub(crate) fn update(&mut self, f: impl FnOnce(&mut SchedulerView)) {
        let before = self.view.clone();
        f(&mut self.view);
        if self.view != before
            && let Err(e) = self.write()
        {
            tracing::debug!("scheduler presence not written: {e}");
        }
    }

    fn write(&self) -> io::Result<()> {
        let bytes = serde_json::to_vec(&self.view).map_err(io::Error::other)?;
        write_private(&self.json, &bytes).map_err(io::Error::other)
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.json);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Whether a scheduler keeps `state_dir` now; unlike [`present`], changes nothing.
pub(crate) fn any_alive(state_dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir(state_dir)) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        path.extension().is_some_and(|e| e == "lock")
            // Held: its scheduler lives (a shared lock taken here goes with the file).
            && File::open(&path).is_ok_and(|lock| lock.try_lock_shared().is_err())
    })
}

/// The schedulers alive on `state_dir`, by pid; the files of dead ones are removed.
pub(crate) fn present(state_dir: &Path) -> Vec<SchedulerView> {
    let Ok(entries) = std::fs::read_dir(dir(state_dir)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "lock") {
            continue;
        }
        let json = path.with_extension("json");
        let Ok(lock) = File::open(&path) else {
            continue;
        };
        if lock.try_lock_shared().is_ok() {
            // Nobody holds it: what a scheduler that died left.
            let _ = std::fs::remove_file(&json);
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if let Some(v) = std::fs::read(&json)
            .ok()
            .and_then(|b| serde_json::from_slice::<SchedulerView>(&b).ok())
        {
            out.push(v);
        }
    }
    out.sort_by_key(|v| v.pid);
    out
}
