//! Echoing a forced run's output to jobctl's stdout or stderr without ever waiting for
//! whoever reads them.
//!
//! A reader that stops reading (`jobctl force NAME | sleep 60`, a paused pager, a
//! suspended terminal) fills the pipe, and a blocking write would stop the supervisor
//! itself: no deadline, no signals, no cancel. So each stream gets a writer thread fed by
//! a bounded queue; what doesn't fit is dropped from the echo (never from the run log,
//! which is written first) and counted, and the count is said once at the end.
//!
//! The writer writes to its own duplicate of the descriptor, not through std's `Stdout`:
//! a write stuck on a full pipe must not hold the lock every `print` in jobctl needs. It
//! stays a blocking write: `O_NONBLOCK` belongs to the open file description, which the
//! terminal or pipe shares with the shell and every other process on it.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::process::Echo;

/// The most output held for a stream's writer; past it, output is dropped from the echo.
const QUEUE_BYTES: u64 = 1 << 20;

/// How long [`finish`] waits for a writer that has stopped making progress.
const STALL: Duration = Duration::from_secs(1);
/// The most [`finish`] waits at all.
const FINISH_LIMIT: Duration = Duration::from_secs(5);

struct Writer {
    tx: Option<Sender<Vec<u8>>>,
    counts: Arc<Counts>,
    thread: JoinHandle<()>,
}

#[derive(Default)]
struct Counts {
    /// Bytes queued and not yet written.
    queued: AtomicU64,
    /// Bytes not echoed because the queue was full.
    dropped: AtomicU64,
    /// Bytes written so far: how [`finish`] tells a slow reader from a stalled one.
    written: AtomicU64,
}

/// One writer per stream, as there is one stdout: every run this process supervises (an
/// agent run may try several candidates) echoes through it in order.
static STDOUT: Mutex<Option<Writer>> = Mutex::new(None);
static STDERR: Mutex<Option<Writer>> = Mutex::new(None);

fn slot(to: Echo) -> Option<&'static Mutex<Option<Writer>>> {
    match to {
        Echo::Off | Echo::StderrOnly => None,
        Echo::Stdout => Some(&STDOUT),
        Echo::Stderr => Some(&STDERR),
    }
}

/// Queues `data` for the stream `to`, or drops it (counted) when the reader is behind.
/// Never blocks.
pub(crate) fn send(to: Echo, data: &[u8]) {
    let Some(slot) = slot(to) else { return };
    let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = start(if to == Echo::Stdout { 1 } else { 2 });
    }
    let Some(w) = guard.as_mut() else { return };
    let Some(tx) = &w.tx else { return };
    let n = data.len() as u64;
    if w.counts.queued.load(Ordering::Relaxed) + n > QUEUE_BYTES {
        w.counts.dropped.fetch_add(n, Ordering::Relaxed);
        return;
    }
    w.counts.queued.fetch_add(n, Ordering::Relaxed);
    if tx.send(data.to_vec()).is_err() {
        // The writer gave up (the reader is gone): nothing more can be shown.
        w.tx = None;
    }
}

/// Ends the echo: each writer writes what is queued, then the note on bytes it dropped.
/// Waits while they make progress, at most [`FINISH_LIMIT`], and not at all for one whose
/// reader has stopped reading: what is left unwritten then is in the run log.
pub(crate) fn finish() {
    let writers: Vec<Writer> = [&STDOUT, &STDERR]
        .into_iter()
        .filter_map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).take())
        .map(|mut w| {
            w.tx = None; // the writer sees the end of the queue
            w
        })
        .collect();
    let start = Instant::now();
    let mut last = (start, u64::MAX);
    while !writers.iter().all(|w| w.thread.is_finished()) {
        let written: u64 = writers
            .iter()
            .map(|w| w.counts.written.load(Ordering::Relaxed))
            .sum();
        let now = Instant::now();
        if written != last.1 {
            last = (now, written);
        }
        if now - last.0 > STALL || now - start > FINISH_LIMIT {
            return; // a stuck writer dies with the process
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn start(fd: i32) -> Option<Writer> {
    use std::os::fd::BorrowedFd;
    // SAFETY: 0..=2 stay open for the life of the process.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
    let (tx, rx) = channel();
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    let thread = std::thread::Builder::new()
        .name("echo".into())
        .spawn(move || write_all(file, rx, &c))
        .ok()?;
    Some(Writer {
        tx: Some(tx),
        counts,
        thread,
    })
}

fn write_all(mut file: std::fs::File, rx: Receiver<Vec<u8>>, counts: &Counts) {
    // jobctl's signals are for the supervising thread, never this one.
    let _ = super::signal::block_stop_signals();
    for chunk in rx {
        if file.write_all(&chunk).is_err() {
            return; // the reader is gone (EPIPE, a hung-up terminal): nothing to show
        }
        let n = chunk.len() as u64;
        counts.queued.fetch_sub(n, Ordering::Relaxed);
        counts.written.fetch_add(n, Ordering::Relaxed);
    }
    let n = counts.dropped.load(Ordering::Relaxed);
    if n > 0 {
        let _ = write!(
            file,
            "\n[jobctl] {n} bytes of output were not echoed here (the reader did not keep up); the run log has everything\n"
        );
    }
}
