//! Reading a run log by output position, also while its supervisor writes, frees and
//! compacts it: each piece read is checked against the file's head before and after
//! (a changed head means the data moved under the read, which is then retried), and
//! freed space (holes) is skipped, never read as NULs.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use super::layout::{HEAD_MAX, Head};
use super::space;

pub(crate) struct LogReader {
    file: File,
}

/// The outcome of one read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// The first `len` bytes of the buffer are output (or the header line); the next
    /// read starts at output position `next`.
    Data { len: usize, next: u64 },
    /// Nothing past this position yet.
    End,
    /// The log is being compacted: read again shortly.
    Busy,
}

impl LogReader {
    pub(crate) fn open(path: &Path) -> io::Result<LogReader> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)?;
        Ok(LogReader { file })
    }

    pub(crate) fn head(&self) -> io::Result<Head> {
        let mut start = [0u8; HEAD_MAX];
        let n = read_some_at(&self.file, &mut start, 0)?;
        Ok(Head::parse(&start[..n]))
    }

    /// The output position just past the end of the file as it is now.
    pub(crate) fn end(&self) -> io::Result<u64> {
        let len = self.file.metadata()?.len();
        Ok(self.head()?.settled().position(len))
    }

    /// Reads output from position `from` into `buf`; with `None`, from the start of the
    /// file, so a trimmed log's header line comes first. `settle`: the writer is gone, so
    /// a head marked busy stays as it is; read what is there.
    pub(crate) fn read(
        &self,
        from: Option<u64>,
        settle: bool,
        buf: &mut [u8],
    ) -> io::Result<Chunk> {
        // A head that changes under every attempt means the writer keeps moving data:
        // report busy and let the caller wait.
        for _ in 0..8 {
            let head = self.head()?;
            let head = match head {
                Head::Busy { .. } if !settle => return Ok(Chunk::Busy),
                h => h.settled(),
            };
            let got = match (from, head) {
                (None, Head::Trimmed { dropped, len, .. }) => {
                    let n = read_some_at(&self.file, &mut buf[..len as usize], 0)?;
                    buf[0] = b'[';
                    (n == len as usize).then_some(Chunk::Data {
                        len: n,
                        next: dropped,
                    })
                }
                _ => self.read_output(head, from.unwrap_or(0), buf)?,
            };
            let now = self.head()?;
            if let Some(chunk) = got
                && (now == head || settle && now.settled() == head)
            {
                return Ok(chunk);
            }
        }
        Ok(Chunk::Busy)
    }

    /// One read of output at `pos` under `head`; `None` when a hole grew under it.
    fn read_output(&self, head: Head, pos: u64, buf: &mut [u8]) -> io::Result<Option<Chunk>> {
        let (_, at) = head.locate(pos);
        let Some(at) = space::seek_data(&self.file, at)? else {
            return Ok(Some(Chunk::End));
        };
        let n = read_some_at(&self.file, buf, at)?;
        if n == 0 {
            return Ok(Some(Chunk::End));
        }
        // The writer frees the start of the file as it goes: what it freed during the
        // read came back as zeros. Only what is still data after the read counts.
        let valid = space::seek_data(&self.file, at)?.unwrap_or(u64::MAX);
        if valid >= at + n as u64 {
            return Ok(None);
        }
        let skip = (valid - at) as usize;
        buf.copy_within(skip..n, 0);
        Ok(Some(Chunk::Data {
            len: n - skip,
            next: head.position(at + n as u64),
        }))
    }
}

/// One `pread`, retried when interrupted; short at the end of the file.
fn read_some_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
