//! Copying a run's log into a store that keeps logs (several hosts: any host reads any
//! run's output), while the run goes on. A thread of its own, on a handle of its own,
//! reads the log file by output position (as `jobctl logs -f` does: through trims and
//! the final move) every half second, and once more, to the end, when the run's output
//! is complete. The file stays the supervisor's; the store gets the same bytes, capped,
//! and in the end starts where the file does (a capped file keeps whole lines).

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::core::error::{Error, Result};
use crate::exec::logfile::{Chunk, Head, LogReader};
use crate::store::{LogStore, Store};

/// How often the output so far is copied in.
const EVERY: Duration = Duration::from_millis(500);
/// The most copied in one piece.
const PIECE: usize = 256 << 10;

pub(crate) struct LogShip {
    done: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// Starts copying run `run_id`'s log at `path` into `store`'s log keeping, if it keeps
/// logs; `None` when it doesn't (SQLite: the file is the log).
pub(crate) fn start(store: &dyn Store, run_id: i64, path: PathBuf, cap: u64) -> Option<LogShip> {
    if !store.keeps_logs() {
        return None;
    }
    let mut writer = match store.log_writer() {
        Ok(Some(w)) => w,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(
                run = run_id,
                "can't copy the run's log into the state database: {e}"
            );
            return None;
        }
    };
    let (done, stop) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut next = 0u64;
        let mut buf = vec![0u8; PIECE];
        loop {
            let last = !matches!(stop.recv_timeout(EVERY), Err(RecvTimeoutError::Timeout));
            if let Err(e) = copy(&mut *writer, run_id, &path, cap, &mut next, &mut buf, last) {
                tracing::warn!(
                    run = run_id,
                    "can't copy the run's log into the state database: {e}"
                );
                if matches!(e, Error::Fenced { .. }) {
                    return;
                }
            }
            if last {
                return;
            }
        }
    });
    Some(LogShip { done, thread })
}

impl LogShip {
    /// Copies what is left (the output is complete) and waits for it.
    pub(crate) fn finish(self) {
        let _ = self.done.send(());
        let _ = self.thread.join();
    }
}

/// Copies the whole log of an ended run at `path` into `store` (`state migrate`); `false`
/// when there is no log file.
#[cfg(feature = "postgres")]
pub(crate) fn copy_ended(
    store: &mut (dyn LogStore + Send),
    run_id: i64,
    path: &std::path::Path,
    cap: u64,
) -> Result<bool> {
    if !path.is_file() {
        return Ok(false);
    }
    let mut buf = vec![0u8; PIECE];
    copy(store, run_id, path, cap, &mut 0, &mut buf, true)?;
    Ok(true)
}

/// Copies the output from `next` to the end as it is now (`settle`: the writer is done).
fn copy(
    store: &mut (dyn LogStore + Send),
    run_id: i64,
    path: &std::path::Path,
    cap: u64,
    next: &mut u64,
    buf: &mut [u8],
    settle: bool,
) -> Result<()> {
    let Ok(reader) = LogReader::open(path) else {
        return Ok(()); // not created yet
    };
    for _ in 0..4096 {
        match reader
            .read(Some(*next), settle, buf)
            .map_err(|e| Error::Internal(e.into()))?
        {
            Chunk::Data { len, next: n } => {
                let start = n - len as u64;
                store.append_log(run_id, start, &buf[..len], cap)?;
                *next = n;
            }
            Chunk::End if settle => {
                // The file keeps whole lines when capped: the copy starts where it does.
                if let Ok(Head::Trimmed { dropped, .. }) = reader.head() {
                    store.trim_log(run_id, dropped)?;
                }
                return Ok(());
            }
            Chunk::End => return Ok(()),
            Chunk::Busy => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    Ok(())
}
