//! The line at the head of a trimmed run log, and where a byte of output is in the file.
//!
//! A log starts *plain*: the byte at file offset N is byte N of the run's output (with
//! holes where the start was freed). Once output has been dropped from the front, the
//! file starts with one line, `[jobctl] output exceeded log_max_bytes (CAP bytes): the
//! first D bytes were dropped, the last K kept`, followed by output from position D on.
//! That line is both for people and for readers that follow a log as it changes: from it
//! they work out where a position they reached before is now.
//!
//! While the writer moves data (compacting), the line's first byte is NUL instead of `[`:
//! a reader seeing that waits, and treats what it read around that time as void. The
//! writer puts the `[` back last, so a log whose head is a whole header line is never
//! half-moved.

/// A header line is never longer than this; readers look at this much of the file.
pub(crate) const HEAD_MAX: usize = 160;

const START: &[u8] = b"[jobctl] output exceeded log_max_bytes (";
const MID1: &[u8] = b" bytes): the first ";
const MID2: &[u8] = b" bytes were dropped, the last ";
const END: &[u8] = b" kept\n";

/// The header line of a log that holds output from position `dropped` on.
pub(crate) fn header(cap: u64, dropped: u64, kept: u64) -> String {
    format!(
        "[jobctl] output exceeded log_max_bytes ({cap} bytes): the first {dropped} bytes were dropped, the last {kept} kept\n"
    )
}

/// What the start of a log file says about the rest of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// No header: file offset = output position.
    Plain,
    /// A header line of `len` bytes, then output from position `dropped` on.
    Trimmed { dropped: u64, kept: u64, len: u64 },
    /// The writer is moving the data under this (future) header; nothing past it can be
    /// trusted until it is done.
    Busy { dropped: u64, kept: u64, len: u64 },
}

impl Head {
    /// Reads the first bytes of a log file (up to [`HEAD_MAX`]).
    pub(crate) fn parse(start: &[u8]) -> Head {
        let Some((&first, rest)) = start.split_first() else {
            return Head::Plain;
        };
        if first != b'[' && first != 0 {
            return Head::Plain;
        }
        let Some((dropped, kept, len)) = parse_line(rest) else {
            return Head::Plain;
        };
        let len = len as u64 + 1;
        if first == 0 {
            Head::Busy { dropped, kept, len }
        } else {
            Head::Trimmed { dropped, kept, len }
        }
    }

    /// The head as it will be once the writer is done (or, if it died, as it stays).
    pub(crate) fn settled(self) -> Head {
        match self {
            Head::Busy { dropped, kept, len } => Head::Trimmed { dropped, kept, len },
            h => h,
        }
    }

    /// Where output position `pos` is in the file: `(pos, offset)`, with `pos` moved up
    /// to the first byte still held when what it named was dropped.
    pub(crate) fn locate(self, pos: u64) -> (u64, u64) {
        match self.settled() {
            Head::Trimmed { dropped, len, .. } => {
                let pos = pos.max(dropped);
                (pos, len + (pos - dropped))
            }
            _ => (pos, pos),
        }
    }

    /// The output position of the byte at file `offset` (past the header).
    pub(crate) fn position(self, offset: u64) -> u64 {
        match self.settled() {
            Head::Trimmed { dropped, len, .. } => dropped + offset.saturating_sub(len),
            _ => offset,
        }
    }
}

/// `rest` is the line after its first byte; returns (dropped, kept, length without the
/// first byte). Only the exact shape the writer produces is accepted.
fn parse_line(rest: &[u8]) -> Option<(u64, u64, usize)> {
    let mut s = rest.strip_prefix(&START[1..])?;
    let (_cap, r) = number(s)?;
    s = r.strip_prefix(MID1)?;
    let (dropped, r) = number(s)?;
    s = r.strip_prefix(MID2)?;
    let (kept, r) = number(s)?;
    s = r.strip_prefix(END)?;
    Some((dropped, kept, rest.len() - s.len()))
}

fn number(s: &[u8]) -> Option<(u64, &[u8])> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let n = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    Some((n, &s[digits..]))
}

/// How to trim a file of `file_len` bytes whose first `head_len` are a header and whose
/// data starts at output position `dropped`, keeping at most `want` bytes of output:
/// returns the new header and how much is kept. What is kept moves toward the start of
/// the file, never away from it (so the move needs no room the file doesn't have): when
/// the header wouldn't fit in front of `want` bytes, a few more are dropped.
pub(crate) fn plan(
    cap: u64,
    file_len: u64,
    head_len: u64,
    dropped: u64,
    want: u64,
) -> (String, u64) {
    let data = file_len - head_len;
    let mut keep = want.min(data);
    loop {
        let line = header(cap, dropped + (data - keep), keep);
        let room = file_len - keep;
        if room >= line.len() as u64 || keep == 0 {
            return (line, keep);
        }
        keep = keep.saturating_sub(line.len() as u64 - room);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_written() {
        let line = header(4 << 20, 123_456_789, 4 << 20);
        assert!(line.len() <= HEAD_MAX);
        let mut file = line.clone().into_bytes();
        file.extend_from_slice(b"output after it\n");
        let h = Head::parse(&file);
        assert_eq!(
            h,
            Head::Trimmed {
                dropped: 123_456_789,
                kept: 4 << 20,
                len: line.len() as u64
            }
        );
        file[0] = 0;
        assert_eq!(
            Head::parse(&file),
            Head::Busy {
                dropped: 123_456_789,
                kept: 4 << 20,
                len: line.len() as u64
            }
        );
        assert_eq!(Head::parse(&file).settled(), h);
    }

    #[test]
    fn the_longest_header_fits_in_what_readers_look_at() {
        assert!(header(u64::MAX, u64::MAX, u64::MAX).len() <= HEAD_MAX);
    }

    #[test]
    fn anything_else_is_plain_output() {
        for start in [
            &b""[..],
            b"hello\n",
            b"\0\0\0\0\0\0\0\0",
            b"[jobctl] output exceeded log_max_bytes (10 bytes): the first 5 bytes were dropped",
            b"[jobctl] output exceeded log_max_bytes (10 bytes): the first x bytes were dropped, the last 2 kept\n",
            b"[jobctl] output exceeded log_max_bytes (10 bytes): the first 5 bytes were dropped, the last 2 kept",
            b"[jobctl] exited with code 1\n",
            b"\x01jobctl] output exceeded log_max_bytes (10 bytes): the first 5 bytes were dropped, the last 2 kept\n",
        ] {
            assert_eq!(Head::parse(start), Head::Plain, "{:?}", String::from_utf8_lossy(start));
        }
    }

    #[test]
    fn positions_map_to_offsets_and_back() {
        assert_eq!(Head::Plain.locate(77), (77, 77));
        assert_eq!(Head::Plain.position(77), 77);
        let h = Head::Trimmed {
            dropped: 1000,
            kept: 200,
            len: 90,
        };
        // Before what is held: moved up to the first byte held, right after the header.
        assert_eq!(h.locate(0), (1000, 90));
        assert_eq!(h.locate(999), (1000, 90));
        assert_eq!(h.locate(1000), (1000, 90));
        assert_eq!(h.locate(1150), (1150, 240));
        for pos in [1000, 1001, 1150, 1200, 5000] {
            assert_eq!(h.position(h.locate(pos).1), pos);
        }
        // A busy head maps like the head it will become.
        let busy = Head::Busy {
            dropped: 1000,
            kept: 200,
            len: 90,
        };
        assert_eq!(busy.locate(1150), h.locate(1150));
    }

    #[test]
    fn a_plan_keeps_the_end_and_never_moves_data_backward() {
        // Plenty dropped: the cap is kept, the header says how much went.
        let (line, keep) = plan(100, 1000, 0, 0, 100);
        assert_eq!(keep, 100);
        assert!(line.contains("the first 900 bytes were dropped, the last 100 kept"));
        // Earlier trims count: the output dropped before is added.
        let (line, keep) = plan(100, 300, 95, 5000, 100);
        assert_eq!(keep, 100);
        assert!(line.contains("the first 5105 bytes were dropped"), "{line}");
        // Just over the cap: the header would overlap what is kept; a little more goes.
        let (line, keep) = plan(100, 120, 0, 0, 100);
        assert!(120 - keep >= line.len() as u64, "{keep} {line}");
        assert!(line.contains(&format!("the first {} bytes", 120 - keep)));
        assert!(line.contains(&format!("the last {keep} kept")));
        // Nothing to keep at all still gives a header.
        let (line, keep) = plan(100, 10, 0, 0, 100);
        assert_eq!(keep, 0);
        assert!(line.contains("the first 10 bytes were dropped, the last 0 kept"));
    }
}
