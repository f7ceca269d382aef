//! A run's log: output appended as it arrives, capped at `log_max_bytes` by keeping the
//! end (where the error usually is). Neither memory nor disk grows with what a job prints,
//! and the cap never needs room for a second copy of the log: a full disk must not turn a
//! noisy job into a stuck run.
//!
//! Output is appended to one file and offsets never change while the run goes on: once
//! the file holds more than the cap plus a margin, its start is freed in place (a hole
//! punched in whole blocks), so the disk holds about cap + margin while readers following
//! the file keep their place. At the end the kept tail is moved to the front, under a
//! header line saying how much was dropped (see [`layout`]), and the file is cut there.
//! Where holes can't be punched, the tail is moved to the front whenever the file passes
//! twice the cap, with the same header. No temporary file is ever made.

mod layout;
mod reader;
mod space;
mod times;

pub(crate) use layout::Head;
pub(crate) use reader::{Chunk, LogReader};
pub(crate) use times::TimesReader;

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The slack above the cap before the start of the log is freed: a quarter of the cap,
/// within these bounds (so a 10 MiB cap holds at most about 11 MiB on disk).
const MIN_MARGIN: u64 = 16 << 10;
const MAX_MARGIN: u64 = 1 << 20;

/// How far into what is kept a trim looks for the end of a line cut in two.
const LINE_SEARCH: u64 = 64 << 10;

/// When the disk is full, up to this much of the oldest output held is given back, so
/// that the end of the run can still be recorded in the database beside it.
const FULL_DISK_GIVE_BACK: u64 = 256 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trim {
    /// Free the start with holes; offsets stay.
    Punch,
    /// Holes aren't supported here: move the tail to the front at twice the cap.
    Move,
}

pub(crate) struct LogFile {
    path: PathBuf,
    file: File,
    cap: u64,
    margin: u64,
    block: u64,
    trim: Trim,
    /// Bytes in the file (holes included).
    len: u64,
    /// The header line at the front (0: none).
    head_len: u64,
    /// Output no longer in the file, ahead of what follows the header.
    dropped: u64,
    /// `[0, freed)` is a hole.
    freed: u64,
    /// When each piece of output came (`times.rs`); `None` once it can't be written.
    times: Option<times::Times>,
}

/// Removes a run's log and what goes with it (its times).
pub(crate) fn remove(log: &Path) -> io::Result<()> {
    let _ = std::fs::remove_file(times::path_for(log));
    std::fs::remove_file(log)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Creates the run's log: a new file (never one found at the path), 0600.
fn create(path: &Path) -> io::Result<File> {
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
    };
    match open() {
        // Run ids are never reused within a database, so a file here is left from an
        // earlier database in the same state directory: it belongs to no run. It is
        // removed (a symlink itself, not what it points to) and the log made afresh.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(path)?;
            open()
        }
        r => r,
    }
}

impl LogFile {
    pub(crate) fn create(path: &Path, cap: u64) -> Result<LogFile> {
        if let Some(dir) = path.parent()
            && !dir.is_dir()
        {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("can't create the log directory {}", dir.display()))?;
        }
        let file =
            create(path).with_context(|| format!("can't create the run log {}", path.display()))?;
        let cap = cap.max(1);
        let block = space::block_size(&file);
        let times = times::Times::create(path, cap)
            .inspect_err(|e| tracing::debug!("no line times for {}: {e}", path.display()))
            .ok();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            cap,
            margin: (cap / 4).clamp(MIN_MARGIN, MAX_MARGIN),
            block,
            trim: Trim::Punch,
            len: 0,
            head_len: 0,
            dropped: 0,
            freed: 0,
            times,
        })
    }

    /// The output position of the next byte written.
    fn position(&self) -> u64 {
        self.dropped + (self.len - self.head_len)
    }

    /// The first output position the file still holds.
    fn kept_from(&self) -> u64 {
        if self.head_len > 0 {
            self.dropped
        } else {
            self.freed
        }
    }

    fn note_time(&mut self, pos: u64) {
        let kept = self.kept_from();
        if let Some(t) = &mut self.times
            && let Err(e) = t.record(pos, now_ms()).and_then(|()| t.bound(kept))
        {
            tracing::debug!("line times no longer written: {e}");
            self.times = None;
        }
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<()> {
        let pos = self.position();
        if let Err(e) = self.file.write_all_at(data, self.len) {
            self.give_back_space(&e);
            return Err(e)
                .with_context(|| format!("can't write the run log {}", self.path.display()));
        }
        self.len += data.len() as u64;
        self.note_time(pos);
        self.bound()
            .with_context(|| format!("can't trim the run log {}", self.path.display()))
    }

    /// A line from jobctl itself (why a run ended), marked so it can't pass for output.
    pub(crate) fn note(&mut self, text: &str) -> Result<()> {
        self.write(format!("[jobctl] {text}\n").as_bytes())
    }

    /// Keeps the space the file takes near the cap.
    fn bound(&mut self) -> io::Result<()> {
        if self.trim == Trim::Punch && self.len - self.freed > self.cap + self.margin {
            let to = space::align_down(self.len - self.cap, self.block);
            if to > self.freed {
                match space::punch(&self.file, self.freed, to - self.freed) {
                    Ok(()) => self.freed = to,
                    Err(e) if space::unsupported(&e) => self.trim = Trim::Move,
                    Err(e) => return Err(e),
                }
            }
        }
        if self.trim == Trim::Move && self.len - self.head_len > 2 * self.cap {
            self.compact(self.cap)?;
        }
        Ok(())
    }

    /// Moves the last `want` bytes of output to the front of the file, under a header
    /// saying what was dropped, and cuts the file after them. Readers see the head
    /// marked busy from the first change to the last (see [`layout`]).
    fn compact(&mut self, want: u64) -> io::Result<()> {
        let want = self.keep_whole_lines(want)?;
        let (line, keep) = layout::plan(self.cap, self.len, self.head_len, self.dropped, want);
        let src = self.len - keep;
        let dst = line.len() as u64;
        let punching = self.trim == Trim::Punch;
        if punching {
            // What is about to be dropped goes first: the move needs a little room.
            let to = space::align_down(src, self.block);
            if to > self.freed {
                space::punch(&self.file, self.freed, to - self.freed)?;
            }
        }
        let mut busy = line.clone().into_bytes();
        busy[0] = 0;
        self.file.write_all_at(&busy, 0)?;
        space::move_down(&self.file, src, dst, keep, punching, self.block)?;
        self.file.set_len(dst + keep)?;
        self.file.write_all_at(b"[", 0)?;
        self.dropped += self.len - self.head_len - keep;
        self.len = dst + keep;
        self.head_len = dst;
        self.freed = 0;
        Ok(())
    }

    /// The most of the last `want` bytes that starts at a line start: the part line before
    /// the first newline in them is dropped too (unless no newline comes within
    /// [`LINE_SEARCH`], or at all: one long line is cut where the cap falls).
    fn keep_whole_lines(&self, want: u64) -> io::Result<u64> {
        let held = self.len - self.head_len.max(self.freed);
        let want = want.min(held);
        if want == 0 {
            return Ok(0);
        }
        let start = self.len - want;
        // At a line start already: the byte before is a newline.
        let mut before = [0u8; 1];
        if start > self.head_len.max(self.freed)
            && self.file.read_exact_at(&mut before, start - 1).is_ok()
            && before[0] == b'\n'
        {
            return Ok(want);
        }
        let mut buf = vec![0u8; LINE_SEARCH.min(want) as usize];
        self.file.read_exact_at(&mut buf, start)?;
        Ok(match buf.iter().position(|b| *b == b'\n') {
            Some(i) if (i as u64) + 1 < want => want - (i as u64 + 1),
            _ => want,
        })
    }

    /// After a failed write: undoes what part of it landed and, if the disk is full,
    /// frees some of the oldest output held (up to half of it), so the database beside
    /// the log has room to record why the run ended. Best effort: it is already failing.
    fn give_back_space(&mut self, e: &io::Error) {
        let _ = self.file.set_len(self.len);
        let full =
            matches!(e.raw_os_error(), Some(c) if c == nix::libc::ENOSPC || c == nix::libc::EDQUOT);
        if !full {
            return;
        }
        let held = self.len - self.head_len.max(self.freed);
        let give = FULL_DISK_GIVE_BACK.min(held / 2);
        let _ = match self.trim {
            Trim::Punch => {
                let to = space::align_down(self.freed + give, self.block);
                if to > self.freed {
                    space::punch(&self.file, self.freed, to - self.freed).map(|()| self.freed = to)
                } else {
                    Ok(())
                }
            }
            Trim::Move if give > 0 => self.compact(self.len - self.head_len - give),
            Trim::Move => Ok(()),
        };
    }

    /// Trims to the cap and says how much was dropped. Returns the bytes dropped.
    pub(crate) fn finish(mut self) -> Result<u64> {
        if self.len - self.head_len > self.cap || self.dropped > 0 || self.freed > 0 {
            self.compact(self.cap)
                .with_context(|| format!("can't trim the run log {}", self.path.display()))?;
            let kept = self.kept_from();
            if let Some(t) = &mut self.times {
                let _ = t.rewrite(kept);
            }
        }
        Ok(self.dropped)
    }
}

#[cfg(test)]
mod tests;
