//! Following a run's log: its output, piece by piece, from where the reader asks (the
//! start, a position, its last lines or bytes) to what is there now, or, followed, until
//! the run ends. Every reader goes through this one loop (`jobctl logs`, a blocking
//! printer; the API's followed log, a thread feeding an answer's body), so what is read
//! next, when the run has ended and when to stop are decided once; each front end only
//! says where the pieces go ([`LogSink`]).
//!
//! The log is the run's file, read by output position (`exec::logfile`): while the
//! supervisor frees the start of the log or moves its end to the front, a reader gets each
//! byte of output at most once and in order, and nothing freed is read as NULs. Where the
//! store keeps logs (several hosts: the run may be another host's, whose files are not
//! here), it is the store's copy. Memory is one piece, whatever the log's size.
//!
//! A followed run that has ended is read once more, to its very end: its supervisor trims
//! the log (and copies the last of it into the store) before it records the end.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Engine;
use crate::core::error::{Error, Result};
use crate::core::run::RunRecord;
use crate::exec::logfile::{Chunk, Head, LogReader};

/// How often a reader looks again while the supervisor compacts the log (milliseconds
/// for the largest cap).
const BUSY_POLL: Duration = Duration::from_millis(10);

/// Where reading starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The start of the log: a trimmed log file's header line first (from the store, what
    /// was dropped is told to [`LogSink::dropped`]).
    Beginning,
    /// This output position (or the first byte still kept after it).
    At(u64),
    /// Where the last N lines start, found in bounded memory.
    LastLines(u64),
    /// N bytes before the end.
    LastBytes(u64),
}

/// How a log is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    pub(crate) start: Start,
    /// Until the run ends; else up to what is there when reading starts.
    pub(crate) follow: bool,
    /// The most read (and handed on) at a time.
    pub(crate) piece: usize,
    /// How often a follower looks for more output, and for the end of the run.
    pub(crate) poll: Duration,
    /// A look at the run that fails counts as its end (an answer that streams the log
    /// just ends), instead of failing the read (a command says why it stopped).
    pub(crate) ended_on_error: bool,
}

/// Where the pieces of a log go.
pub(crate) trait LogSink {
    /// A piece of output; `at` is the output position it starts at (`None`: the header
    /// line of a trimmed log file). `false`: the reader is gone, reading stops.
    fn output(&mut self, data: &[u8], at: Option<u64>) -> bool;
    /// The store's copy dropped its first `bytes` of output to stay within the cap: told
    /// once, before the output, when reading from its beginning.
    fn dropped(&mut self, _bytes: u64) {}
    /// Whether to stop following now (the server stops): looked at between looks for
    /// more output.
    fn stopped(&self) -> bool {
        false
    }
}

/// Where the log is read from, and where the next read starts.
enum Source {
    File {
        path: PathBuf,
        /// `None` until the file exists (a run just started has none yet).
        reader: Option<LogReader>,
        /// `None`: the start of the file, a trimmed log's header line included.
        from: Option<u64>,
    },
    Store {
        from: u64,
        /// Tell the sink what was dropped, with the first piece.
        tell_dropped: bool,
    },
}

/// A run's log, opened for reading from where [`Reading::start`] says.
pub(crate) struct LogFollower<'a, 'c> {
    watch: Watch<'a, 'c>,
    source: Source,
    /// Without `follow`: where the log ended when reading started.
    until: Option<u64>,
    follow: bool,
    buf: Vec<u8>,
}

impl<'a, 'c> LogFollower<'a, 'c> {
    /// Opens `run`'s log and finds where to start. Fails when the log file is missing
    /// and is not to be followed (it will not appear).
    pub(crate) fn open(
        e: &'a mut Engine<'c>,
        run: &RunRecord,
        how: Reading,
    ) -> Result<LogFollower<'a, 'c>> {
        let keeps_logs = e.store.keeps_logs();
        let mut f = LogFollower {
            watch: Watch {
                e,
                run: run.id,
                running: !run.status.is_end(),
                checked: Instant::now(),
                poll: how.poll,
                ended_on_error: how.ended_on_error,
            },
            source: Source::Store {
                from: 0,
                tell_dropped: false,
            },
            until: None,
            follow: how.follow,
            buf: vec![0u8; how.piece.max(1)],
        };
        if keeps_logs {
            let from = match how.start {
                Start::Beginning => 0,
                Start::At(p) => p,
                Start::LastBytes(n) => f.stored(0, 0)?.end.saturating_sub(n),
                Start::LastLines(n) => {
                    let (start, end) = f.stored_tail_start(n)?;
                    f.until = (!how.follow).then_some(end);
                    start
                }
            };
            f.source = Source::Store {
                from,
                tell_dropped: how.start == Start::Beginning,
            };
            return Ok(f);
        }
        let path = run.log_path.clone().unwrap_or_default();
        let reader = open_file(Path::new(&path))?;
        let Some(r) = reader else {
            if !how.follow {
                return Err(Error::Failed(format!(
                    "run {} has no stored output ({path} is missing)",
                    run.id
                )));
            }
            // Not there yet: from its start once it is (the API's last bytes: from 0).
            let from = match how.start {
                Start::Beginning | Start::LastLines(_) => None,
                Start::At(p) => Some(p),
                Start::LastBytes(_) => Some(0),
            };
            f.source = Source::File {
                path: path.into(),
                reader: None,
                from,
            };
            return Ok(f);
        };
        let from = match how.start {
            Start::Beginning => None,
            Start::At(p) => Some(p),
            Start::LastBytes(n) => Some(r.end()?.saturating_sub(n)),
            Start::LastLines(n) => Some(f.tail_start(&r, n)?),
        };
        if !how.follow {
            // What is there now, not what a busy job adds meanwhile.
            f.until = Some(r.end()?);
        }
        f.source = Source::File {
            path: path.into(),
            reader: Some(r),
            from,
        };
        Ok(f)
    }

    /// Hands the log to `sink` piece by piece: up to where it ended when reading started,
    /// or, followed, until the run has ended (and then to the very end), the sink is
    /// gone, or it says to stop.
    pub(crate) fn run(mut self, sink: &mut dyn LogSink) -> Result<()> {
        loop {
            if !self.read(sink)? {
                return Ok(()); // the reader is gone
            }
            if !self.follow || sink.stopped() {
                return Ok(());
            }
            if !self.watch.check()? {
                // Ended: the supervisor finished the log before recording the end, so one
                // last read sees all of it.
                self.read(sink)?;
                return Ok(());
            }
            std::thread::sleep(self.watch.poll);
        }
    }

    /// Reads what there is (up to `until`). `false`: the sink is gone.
    fn read(&mut self, sink: &mut dyn LogSink) -> Result<bool> {
        let run = self.watch.run;
        match &mut self.source {
            Source::File { path, reader, from } => {
                if reader.is_none() {
                    *reader = open_file(path)?;
                }
                let Some(r) = reader else {
                    return Ok(true);
                };
                copy(
                    r,
                    from,
                    self.until,
                    &mut self.watch,
                    &mut self.buf,
                    &mut |b, at| sink.output(b, at),
                )
            }
            Source::Store { from, tell_dropped } => loop {
                let max = match self.until {
                    Some(u) if *from >= u => return Ok(true),
                    Some(u) => self.buf.len().min((u - *from) as usize),
                    None => self.buf.len(),
                };
                let piece = self.watch.e.store.read_log(run, *from, max)?;
                if std::mem::take(tell_dropped) && piece.dropped > 0 {
                    sink.dropped(piece.dropped);
                }
                *from = piece.next;
                if piece.data.is_empty() {
                    return Ok(true);
                }
                let at = piece.next - piece.data.len() as u64;
                if !sink.output(&piece.data, Some(at)) {
                    return Ok(false);
                }
            },
        }
    }

    fn stored(&self, from: u64, max: usize) -> Result<crate::store::StoredLog> {
        self.watch.e.store.read_log(self.watch.run, from, max)
    }

    /// The output position where the last `n` lines of the log file start, found by
    /// reading backwards a piece at a time (bounded memory whatever the log's size).
    fn tail_start(&mut self, r: &LogReader, n: u64) -> Result<u64> {
        let end = r.end()?;
        let first = match r.head()?.settled() {
            Head::Trimmed { dropped, .. } => dropped,
            _ => 0,
        };
        if n == 0 {
            return Ok(end);
        }
        let piece_len = self.buf.len() as u64;
        let mut newlines = 0u64;
        let mut hi = end;
        while hi > first {
            let lo = hi.saturating_sub(piece_len).max(first);
            // Read [lo, hi) forward, then look through it backwards.
            let mut piece = Vec::with_capacity((hi - lo) as usize);
            let mut at = Some(lo);
            copy(
                r,
                &mut at,
                Some(hi),
                &mut self.watch,
                &mut self.buf,
                &mut |b, _| {
                    piece.extend_from_slice(b);
                    true
                },
            )?;
            piece.truncate((hi - lo) as usize);
            let start = lo + (hi - lo) - piece.len() as u64;
            for (i, b) in piece.iter().enumerate().rev() {
                let pos = start + i as u64;
                // The newline that ends the last line doesn't start one.
                if *b == b'\n' && pos + 1 < end {
                    newlines += 1;
                    if newlines == n {
                        return Ok(pos + 1);
                    }
                }
            }
            hi = lo;
        }
        Ok(first)
    }

    /// Where the last `n` lines of the store's copy start, and where it ends now. The
    /// copy is at most `log_max_bytes`; it is read forward once, remembering only the
    /// last `n` line starts.
    fn stored_tail_start(&self, n: u64) -> Result<(u64, u64)> {
        // The last n + 1 line starts: the newline that ends the last line doesn't start one.
        let mut starts = VecDeque::new();
        let mut first = None;
        let mut from = 0u64;
        loop {
            let piece = self.stored(from, self.buf.len())?;
            let at = piece.next - piece.data.len() as u64;
            first.get_or_insert(at);
            if piece.data.is_empty() {
                break;
            }
            for (i, b) in piece.data.iter().enumerate() {
                if *b == b'\n' {
                    starts.push_back(at + i as u64 + 1);
                    if starts.len() as u64 > n + 1 {
                        starts.pop_front();
                    }
                }
            }
            from = piece.next;
        }
        let first = first.unwrap_or(0);
        let end = from.max(first);
        if starts.back() == Some(&end) {
            starts.pop_back();
        }
        let start = match starts.len().checked_sub(n as usize) {
            _ if n == 0 => end,
            Some(i) => starts[i],
            None => first,
        };
        Ok((start, end))
    }
}

fn open_file(path: &Path) -> Result<Option<LogReader>> {
    match LogReader::open(path) {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("can't read the log {}", path.display()))
            .into()),
    }
}

/// Whether the run is still going, i.e. whether its supervisor may still change the log.
struct Watch<'a, 'c> {
    e: &'a mut Engine<'c>,
    run: i64,
    running: bool,
    checked: Instant,
    poll: Duration,
    ended_on_error: bool,
}

impl Watch<'_, '_> {
    /// Looks again (closing the run as lost if its supervisor vanished).
    fn check(&mut self) -> Result<bool> {
        let looked = self
            .e
            .recover()
            .and_then(|_| self.e.store.get_run(self.run));
        self.running = match looked {
            Ok(r) => r.is_some_and(|r| !r.status.is_end()),
            Err(_) if self.ended_on_error => false,
            Err(e) => return Err(e),
        };
        self.checked = Instant::now();
        Ok(self.running)
    }

    /// Waits while the log is being compacted. Once the supervisor is gone, the log is
    /// as final as it gets (one killed while compacting leaves it half-moved): `settled`.
    fn wait_busy(&mut self) -> Result<()> {
        if self.checked.elapsed() >= self.poll {
            self.check()?;
        }
        if self.running {
            std::thread::sleep(BUSY_POLL);
        }
        Ok(())
    }

    fn settled(&self) -> bool {
        !self.running
    }
}

/// Copies output of the log file from position `from` (`None`: the start, header line
/// included) to `sink` until the end of the log or `until`, advancing `from`; the sink is
/// also told the output position of each piece (`None` for the header line). `false`:
/// the sink is gone.
fn copy(
    r: &LogReader,
    from: &mut Option<u64>,
    until: Option<u64>,
    watch: &mut Watch,
    buf: &mut [u8],
    sink: &mut dyn FnMut(&[u8], Option<u64>) -> bool,
) -> Result<bool> {
    loop {
        if let (Some(u), Some(f)) = (until, *from)
            && f >= u
        {
            return Ok(true);
        }
        let header = from.is_none() && matches!(r.head()?.settled(), Head::Trimmed { .. });
        match r.read(*from, watch.settled(), buf)? {
            Chunk::Data { len, next } => {
                let at = (!header).then(|| next - len as u64);
                if !sink(&buf[..len], at) {
                    return Ok(false);
                }
                *from = Some(next);
            }
            Chunk::End => return Ok(true),
            Chunk::Busy => watch.wait_busy()?,
        }
    }
}
