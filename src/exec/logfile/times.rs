//! When each line of a run's output arrived, beside the log (`RUN.times`), so the log
//! itself stays plain text for people and `jobctl logs --timestamps` can still say when
//! every line came.
//!
//! The index is a run of 16-byte records, `(output position, unix milliseconds)` little
//! endian, one for each write whose millisecond differs from the last: the bytes from
//! that position on arrived at that time (output arrives in pieces, and every line of a
//! piece arrived at once). A line's time is that of the last record at or before its
//! first byte. Like the log it is capped: records of output the log has dropped go, and
//! past its bound every other record is merged into the one before (times get coarser,
//! never wrong by more than the gap). It is best effort: if it can't be written, the run
//! goes on and its lines simply have no times.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const RECORD: u64 = 16;

/// The index of the log at `log`: `logs/JOB/RUN.log` has `logs/.times/JOB/RUN.times`,
/// out of the way of whoever lists a job's logs.
pub(crate) fn path_for(log: &Path) -> PathBuf {
    let file = log.with_extension("times");
    let name = file.file_name().unwrap_or_default();
    match log
        .parent()
        .and_then(|job| Some((job.parent()?, job.file_name()?)))
    {
        Some((logs, job)) => logs.join(".times").join(job).join(name),
        None => file,
    }
}

pub(super) struct Times {
    file: File,
    /// Records in the file.
    count: u64,
    last_ms: i64,
    /// The file's size past which it is thinned.
    bound: u64,
}

impl Times {
    /// A new index for the log at `log` (a leftover at the path is replaced, never
    /// followed), bounded for a log capped at `cap`.
    pub(crate) fn create(log: &Path, cap: u64) -> io::Result<Times> {
        let path = path_for(log);
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&path)
        };
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&path)?;
                open()?
            }
            r => r?,
        };
        Ok(Times {
            file,
            count: 0,
            last_ms: i64::MIN,
            bound: (cap / 64).clamp(64 << 10, 4 << 20) / RECORD * RECORD,
        })
    }

    /// Notes that output from position `pos` on arrived at `ms`.
    pub(crate) fn record(&mut self, pos: u64, ms: i64) -> io::Result<()> {
        if ms == self.last_ms {
            return Ok(());
        }
        let mut rec = [0u8; RECORD as usize];
        rec[..8].copy_from_slice(&pos.to_le_bytes());
        rec[8..].copy_from_slice(&ms.to_le_bytes());
        self.file.write_all_at(&rec, self.count * RECORD)?;
        self.count += 1;
        self.last_ms = ms;
        Ok(())
    }

    /// Past its bound: drops the records of output before `kept_from` (all but the last
    /// of them, which times the first line kept), then, while still too big, merges
    /// every other record into the one before it.
    pub(crate) fn bound(&mut self, kept_from: u64) -> io::Result<()> {
        if self.count * RECORD <= self.bound {
            return Ok(());
        }
        self.rewrite(kept_from)
    }

    /// Drops what the log dropped, and thins to the bound.
    pub(crate) fn rewrite(&mut self, kept_from: u64) -> io::Result<()> {
        let mut buf = vec![0u8; (self.count * RECORD) as usize];
        self.file.read_exact_at(&mut buf, 0)?;
        let mut recs: Vec<(u64, i64)> = buf.chunks_exact(RECORD as usize).map(decode).collect();
        let first_kept = recs.partition_point(|(p, _)| *p <= kept_from);
        if first_kept > 1 {
            recs.drain(..first_kept - 1);
        }
        while recs.len() as u64 * RECORD > self.bound / 2 && recs.len() > 2 {
            recs = recs
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, r)| *r)
                .collect();
        }
        let mut out = Vec::with_capacity(recs.len() * RECORD as usize);
        for (p, t) in &recs {
            out.extend_from_slice(&p.to_le_bytes());
            out.extend_from_slice(&t.to_le_bytes());
        }
        self.file.write_all_at(&out, 0)?;
        self.file.set_len(out.len() as u64)?;
        self.count = recs.len() as u64;
        Ok(())
    }
}

fn decode(rec: &[u8]) -> (u64, i64) {
    let mut p = [0u8; 8];
    let mut t = [0u8; 8];
    p.copy_from_slice(&rec[..8]);
    t.copy_from_slice(&rec[8..16]);
    (u64::from_le_bytes(p), i64::from_le_bytes(t))
}

/// Reads an index forward, answering "when did the byte at this position arrive" for
/// positions that only grow, in constant memory.
pub(crate) struct TimesReader {
    src: Option<BufReader<File>>,
    current: Option<(u64, i64)>,
    next: Option<(u64, i64)>,
}

impl TimesReader {
    /// The index of the log at `log`; one that is missing answers `None` to everything.
    pub(crate) fn open(log: &Path) -> TimesReader {
        let src = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path_for(log))
            .ok()
            .map(BufReader::new);
        let mut r = TimesReader {
            src,
            current: None,
            next: None,
        };
        r.next = r.read_one();
        r
    }

    fn read_one(&mut self) -> Option<(u64, i64)> {
        let mut rec = [0u8; RECORD as usize];
        self.src.as_mut()?.read_exact(&mut rec).ok()?;
        Some(decode(&rec))
    }

    /// The time (unix ms) of the byte at `pos`: that of the last record at or before it.
    /// Positions asked must not go down.
    pub(crate) fn at(&mut self, pos: u64) -> Option<i64> {
        loop {
            if self.next.is_none() {
                // At the end so far; a writer may have added more since.
                self.next = self.read_one();
            }
            match self.next {
                Some(n) if n.0 <= pos => {
                    self.current = Some(n);
                    self.next = None;
                }
                _ => break,
            }
        }
        self.current.map(|(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_back_and_stay_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("1.log");
        let mut t = Times::create(&log, 1 << 20).unwrap();
        for i in 0..10u64 {
            t.record(i * 100, 1_000 + i as i64).unwrap();
        }
        t.record(1000, 1_009).unwrap(); // same millisecond: no record
        let mut r = TimesReader::open(&log);
        assert_eq!(r.at(0), Some(1_000));
        assert_eq!(r.at(99), Some(1_000));
        assert_eq!(r.at(250), Some(1_002));
        assert_eq!(r.at(5000), Some(1_009));
        // Dropped output's records go, but the one timing the first kept byte stays.
        t.rewrite(450).unwrap();
        let mut r = TimesReader::open(&log);
        assert_eq!(r.at(450), Some(1_004));
        assert_eq!(r.at(950), Some(1_009));
        // Far past the bound: thinned, still in order and within it.
        let mut t = Times::create(&log, 1 << 20).unwrap();
        for i in 0..100_000u64 {
            t.record(i * 10, i as i64).unwrap();
            t.bound(0).unwrap();
        }
        let size = std::fs::metadata(path_for(&log)).unwrap().len();
        assert!(size <= 64 << 10, "{size}");
        let mut r = TimesReader::open(&log);
        let (a, b) = (r.at(10).unwrap(), r.at(999_990).unwrap());
        assert!(a <= 1 && b <= 99_999 && b > 90_000, "{a} {b}");
    }
}
