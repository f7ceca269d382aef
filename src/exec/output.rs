//! What is done to a run's output as it arrives, apart from logging it: a prefix before
//! each line (a hook's), the lines read for a stall, stdout captured for parsing an
//! agent's answer and stderr's start and end kept.

use std::time::Duration;

use tokio::time::Instant;

/// Puts a prefix before each line of a stream that arrives in pieces.
pub(super) struct Prefixer {
    prefix: Vec<u8>,
    at_line_start: bool,
}

impl Prefixer {
    pub(super) fn new(prefix: &str) -> Prefixer {
        Prefixer {
            prefix: prefix.as_bytes().to_vec(),
            at_line_start: true,
        }
    }

    pub(super) fn apply(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + self.prefix.len() * 2);
        for line in data.split_inclusive(|b| *b == b'\n') {
            if self.at_line_start {
                out.extend_from_slice(&self.prefix);
            }
            out.extend_from_slice(line);
            self.at_line_start = line.ends_with(b"\n");
        }
        out
    }
}

/// When output that says only "can't reach the provider" goes on for `limit`, the process
/// is stopped like on a timeout ([`Ending::Stalled`](crate::core::run::Ending::Stalled)).
/// A line of progress resets it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StallRule {
    pub(crate) limit: Duration,
    /// What a line says: a notice (its message), progress, or nothing.
    pub(crate) read_line: fn(&str) -> StallLine,
}

/// One output line, as a [`StallRule`] reads it.
pub(crate) enum StallLine {
    Notice(String),
    Progress,
    Neutral,
}

/// Follows output lines for a [`StallRule`].
#[derive(Default)]
pub(super) struct StallWatch {
    partial: [Vec<u8>; 2],
    pub(super) since: Option<Instant>,
    pub(super) last: Option<String>,
}

impl StallWatch {
    /// The longest partial line kept; a longer line is progress, not a notice.
    const MAX_LINE: usize = 64 << 10;

    pub(super) fn feed(&mut self, stream: usize, data: &[u8], rule: &StallRule) {
        let mut rest = data;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            let buf = &mut self.partial[stream];
            buf.extend_from_slice(&rest[..i]);
            let line = String::from_utf8_lossy(buf).into_owned();
            buf.clear();
            rest = &rest[i + 1..];
            if line.trim().is_empty() {
                continue;
            }
            match (rule.read_line)(&line) {
                StallLine::Notice(n) => {
                    self.since.get_or_insert_with(Instant::now);
                    self.last = Some(n);
                }
                StallLine::Progress => {
                    self.since = None;
                    self.last = None;
                }
                StallLine::Neutral => {}
            }
        }
        let buf = &mut self.partial[stream];
        buf.extend_from_slice(rest);
        if buf.len() > Self::MAX_LINE {
            buf.clear();
            self.since = None;
        }
    }
}

/// The most stdout kept in memory for parsing an agent's answer.
pub(crate) const CAPTURE_LIMIT: usize = 8 << 20;
/// How much of stderr's start, and of its end, is kept for reading a CLI's error.
const STDERR_KEEP: usize = 8 << 10;

/// stderr as kept for parsing: its first [`STDERR_KEEP`] bytes (where a CLI says what went
/// wrong) and its last (where a crash ends), in constant memory.
#[derive(Default)]
pub(super) struct StderrKeep {
    head: Vec<u8>,
    tail: Vec<u8>,
    skipped: bool,
}

impl StderrKeep {
    pub(super) fn push(&mut self, data: &[u8]) {
        let room = STDERR_KEEP.saturating_sub(self.head.len());
        let (h, rest) = data.split_at(room.min(data.len()));
        self.head.extend_from_slice(h);
        if rest.is_empty() {
            return;
        }
        self.tail.extend_from_slice(rest);
        if self.tail.len() > STDERR_KEEP {
            let cut = self.tail.len() - STDERR_KEEP;
            self.tail.drain(..cut);
            self.skipped = true;
        }
    }

    pub(super) fn into_bytes(mut self) -> Vec<u8> {
        if self.skipped {
            self.head.extend_from_slice(b"\n[...]\n");
        }
        self.head.extend_from_slice(&self.tail);
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_gets_the_prefix_however_it_arrives() {
        let mut p = Prefixer::new("[hook x] ");
        let mut out = p.apply(b"one\ntw");
        out.extend(p.apply(b"o\n"));
        out.extend(p.apply(b"\nthree"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[hook x] one\n[hook x] two\n[hook x] \n[hook x] three"
        );
    }
}
