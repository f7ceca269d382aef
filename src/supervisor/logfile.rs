//! A run's log: output appended as it arrives, capped at `log_max_bytes` by keeping the
//! end (where the error usually is). Memory stays constant whatever the job prints: when
//! the file passes twice the cap, its last `cap` bytes are copied (by the kernel) into a
//! fresh file that replaces it. At the end a note says how much was dropped.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub struct LogFile {
    path: PathBuf,
    file: File,
    cap: u64,
    len: u64,
    dropped: u64,
}

fn create(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

impl LogFile {
    pub fn create(path: &Path, cap: u64) -> Result<LogFile> {
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
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            cap: cap.max(1),
            len: 0,
            dropped: 0,
        })
    }

    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .with_context(|| format!("can't write the run log {}", self.path.display()))?;
        self.len += data.len() as u64;
        if self.len > 2 * self.cap {
            self.keep_last(self.cap, None)?;
        }
        Ok(())
    }

    /// A line from jobctl itself (why a run ended), marked so it can't pass for output.
    pub fn note(&mut self, text: &str) -> Result<()> {
        self.write(format!("[jobctl] {text}\n").as_bytes())
    }

    /// Replaces the file with its last `keep` bytes, optionally preceded by `header`.
    fn keep_last(&mut self, keep: u64, header: Option<&str>) -> Result<()> {
        let tmp = self.path.with_extension("log.tmp");
        let mut out = create(&tmp).with_context(|| format!("can't create {}", tmp.display()))?;
        if let Some(h) = header {
            out.write_all(h.as_bytes())?;
        }
        let mut src = File::open(&self.path)
            .with_context(|| format!("can't read {}", self.path.display()))?;
        let skip = self.len.saturating_sub(keep);
        src.seek(SeekFrom::Start(skip))?;
        std::io::copy(&mut src, &mut out)?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("can't replace {}", self.path.display()))?;
        self.dropped += skip;
        self.len -= skip;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        Ok(())
    }

    /// Trims to the cap and says how much was dropped. Returns the bytes dropped.
    pub fn finish(mut self) -> Result<u64> {
        if self.len > self.cap || self.dropped > 0 {
            let dropped_now = self.len.saturating_sub(self.cap);
            let total = self.dropped + dropped_now;
            let header = format!(
                "[jobctl] output exceeded log_max_bytes ({} bytes): the first {total} bytes were dropped, the last {} kept\n",
                self.cap,
                self.len.min(self.cap)
            );
            self.keep_last(self.cap, Some(&header))?;
        }
        Ok(self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_end_and_says_what_was_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("logs/x/1.log");
        let mut log = LogFile::create(&p, 100).unwrap();
        for i in 0..100 {
            log.write(format!("line {i:04}\n").as_bytes()).unwrap();
        }
        let dropped = log.finish().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(dropped, 1000 - 100);
        assert!(text.starts_with("[jobctl] output exceeded"), "{text}");
        assert!(text.ends_with("line 0099\n"));
        assert!(text.contains("the first 900 bytes were dropped"));
    }

    #[test]
    fn small_output_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("1.log");
        let mut log = LogFile::create(&p, 1000).unwrap();
        log.write(b"hello\n").unwrap();
        assert_eq!(log.finish().unwrap(), 0);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "hello\n");
    }
}
