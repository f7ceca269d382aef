//! `jobctl logs`: a run's stored output; `--follow` prints it as it grows until the run
//! ends.
//!
//! The log is streamed in pieces (with `--json` too), never held whole: it can be as
//! large as `log_max_bytes`. It is read by output position (`supervisor::logfile`), so
//! while the supervisor frees the start of the log or moves its end to the front, a
//! follower prints each byte of output at most once and in order, and nothing freed is
//! printed as NULs.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::args::Global;
use crate::cli::output::Ui;
use crate::core::error::{Error, Result};
use crate::core::run::RunRecord;
use crate::engine::Engine;
use crate::exec::logfile::{Chunk, Head, LogReader, TimesReader};
use crate::fail;

/// How much is read and written at a time.
const PIECE: usize = 256 << 10;
/// How often a follower looks for more output, and for the end of the run.
const POLL: Duration = Duration::from_millis(200);
/// How often a reader looks again while the supervisor compacts the log (milliseconds
/// for the largest cap).
const BUSY_POLL: Duration = Duration::from_millis(10);

/// What `jobctl logs` was asked for.
pub struct LogsArgs<'a> {
    pub run_id: Option<i64>,
    pub job: Option<&'a str>,
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<u64>,
    /// Each line with the time it came.
    pub timestamps: bool,
}

pub fn execute(g: &Global, ui: &Ui, a: LogsArgs<'_>) -> Result<u8> {
    let follow = a.follow;
    let mut e = super::engine(g)?;
    e.recover()?;
    if let Some(j) = a.job
        && j != "ask"
        && !e.cfg.jobs.contains_key(j)
        && e.store.latest_run(j)?.is_none()
    {
        fail!(NotFound, "{}", e.cfg.no_such_job(j));
    }
    let run = match (a.run_id, a.job) {
        (Some(id), _) => e.store.get_run(id)?,
        (None, Some(j)) => e.store.latest_run(j)?,
        (None, None) => None,
    };
    let Some(run) = run else {
        match (a.run_id, a.job) {
            (Some(id), _) => fail!(NotFound, "no run {id} in the history"),
            (_, Some(j)) => fail!(NotFound, "job {j} has no runs in the history yet"),
            _ => fail!(Usage, "give a RUN_ID or --job NAME"),
        }
    };
    let path = run.log_path.clone().unwrap_or_default();
    let mut watch = Watch {
        e,
        run: run.id,
        running: !run.status.is_end(),
        checked: Instant::now(),
    };
    let missing = || -> Error {
        Error::Failed(format!(
            "run {} has no stored output ({path} is missing)",
            run.id
        ))
    };
    let first = open(&path)?;
    if first.is_none() && !follow {
        return Err(missing());
    }
    // Where to start: the start of the log (its header line too), or N lines from its end.
    let mut from = match (&first, a.tail) {
        (Some(r), Some(n)) => Some(tail_start(r, n, &mut watch)?),
        _ => None,
    };
    let mut stamps = a.timestamps.then(|| Stamper::new(Path::new(&path), ui));
    if ui.json && !follow {
        return print_json(&run, &path, first, from, stamps.as_mut(), &mut watch);
    }
    let mut out = io::stdout().lock();
    let mut plain = |b: &[u8]| out.write_all(b).and_then(|()| out.flush());
    let mut reader = first;
    let mut buf = vec![0u8; PIECE];
    loop {
        if reader.is_none() {
            reader = open(&path)?;
        }
        if let Some(r) = &reader {
            // Without --follow: what is there now, not what a busy job adds meanwhile.
            let until = if follow { None } else { Some(r.end()?) };
            let open = match stamps.as_mut() {
                Some(s) => copy(r, &mut from, until, &mut watch, &mut buf, &mut |b, at| {
                    s.write(b, at, &mut plain)
                })?,
                None => copy(r, &mut from, until, &mut watch, &mut buf, &mut |b, _| {
                    plain(b)
                })?,
            };
            if !open {
                return Ok(0); // stdout closed
            }
        }
        if !follow {
            return Ok(0);
        }
        if !watch.check()? {
            // Ended: the supervisor trimmed the log before recording the end, so one
            // last read sees all of it.
            if reader.is_none() {
                reader = open(&path)?;
            }
            if let Some(r) = &reader {
                match stamps.as_mut() {
                    Some(s) => copy(r, &mut from, None, &mut watch, &mut buf, &mut |b, at| {
                        s.write(b, at, &mut plain)
                    })?,
                    None => copy(r, &mut from, None, &mut watch, &mut buf, &mut |b, _| {
                        plain(b)
                    })?,
                };
            }
            return Ok(0);
        }
        std::thread::sleep(POLL);
    }
}

/// The output position where the last `n` lines of the log start, found by reading
/// backwards a piece at a time (bounded memory whatever the log's size).
fn tail_start(r: &LogReader, n: u64, watch: &mut Watch) -> Result<u64> {
    let end = r.end()?;
    let first = match r.head()?.settled() {
        Head::Trimmed { dropped, .. } => dropped,
        _ => 0,
    };
    if n == 0 {
        return Ok(end);
    }
    let mut buf = vec![0u8; PIECE];
    let mut newlines = 0u64;
    let mut hi = end;
    while hi > first {
        let lo = hi.saturating_sub(PIECE as u64).max(first);
        // Read [lo, hi) forward, then look through it backwards.
        let mut piece = Vec::with_capacity((hi - lo) as usize);
        let mut at = Some(lo);
        copy(r, &mut at, Some(hi), watch, &mut buf, &mut |b, _| {
            piece.extend_from_slice(b);
            Ok(())
        })?;
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

/// Prefixes each line with the time it came (from the log's times index): local time to
/// the millisecond, `-` where it is not known.
struct Stamper {
    times: TimesReader,
    at_line_start: bool,
    tz: jiff::tz::TimeZone,
}

impl Stamper {
    fn new(log: &Path, _ui: &Ui) -> Stamper {
        Stamper {
            times: TimesReader::open(log),
            at_line_start: true,
            tz: crate::core::zone::system(),
        }
    }

    fn stamp(&mut self, pos: u64) -> String {
        match self.times.at(pos) {
            Some(ms) => match jiff::Timestamp::from_millisecond(ms) {
                Ok(t) => format!(
                    "{} ",
                    t.to_zoned(self.tz.clone())
                        .strftime("%Y-%m-%d %H:%M:%S%.3f")
                ),
                Err(_) => format!("{:<24}", "-"),
            },
            None => format!("{:<24}", "-"),
        }
    }

    /// Writes `data`, which starts at output position `at`, with a time before each line.
    fn write(
        &mut self,
        data: &[u8],
        at: Option<u64>,
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut rest = data;
        let mut pos = at;
        while !rest.is_empty() {
            if self.at_line_start {
                let s = match pos {
                    Some(p) => self.stamp(p),
                    None => format!("{:<24}", "-"),
                };
                sink(s.as_bytes())?;
                self.at_line_start = false;
            }
            let cut = rest.iter().position(|b| *b == b'\n').map(|i| i + 1);
            let (line, more) = rest.split_at(cut.unwrap_or(rest.len()));
            sink(line)?;
            if cut.is_some() {
                self.at_line_start = true;
            }
            pos = pos.map(|p| p + line.len() as u64);
            rest = more;
        }
        Ok(())
    }
}

fn open(path: &str) -> Result<Option<LogReader>> {
    match LogReader::open(Path::new(path)) {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("can't read the log {path}"))
            .into()),
    }
}

/// Whether the run is still going, i.e. whether its supervisor may still change the log.
struct Watch<'a> {
    e: Engine<'a>,
    run: i64,
    running: bool,
    checked: Instant,
}

impl Watch<'_> {
    /// Looks again (closing the run as lost if its supervisor vanished).
    fn check(&mut self) -> Result<bool> {
        self.e.recover()?;
        let status = self.e.store.get_run(self.run)?.map(|r| r.status);
        self.running = status.is_some_and(|s| !s.is_end());
        self.checked = Instant::now();
        Ok(self.running)
    }

    /// Waits while the log is being compacted. Once the supervisor is gone, the log is
    /// as final as it gets (one killed while compacting leaves it half-moved): `settled`.
    fn wait_busy(&mut self) -> Result<()> {
        if self.checked.elapsed() >= POLL {
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

/// Where copied output goes: a piece, and the output position it starts at (`None` for
/// the header line).
type Sink<'a> = dyn FnMut(&[u8], Option<u64>) -> io::Result<()> + 'a;

/// Copies output from position `from` (`None`: the start, header line included) to
/// `sink` until the end of the log or `until`, advancing `from`; the sink is also told
/// the output position of each piece (`None` for the header line). `false`: the sink is
/// closed.
fn copy(
    r: &LogReader,
    from: &mut Option<u64>,
    until: Option<u64>,
    watch: &mut Watch,
    buf: &mut [u8],
    sink: &mut Sink<'_>,
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
                if sink(&buf[..len], at).is_err() {
                    return Ok(false);
                }
                *from = Some(next);
            }
            Chunk::End => return Ok(true),
            Chunk::Busy => watch.wait_busy()?,
        }
    }
}

/// `{job, log_path, output, run_id, status}`, laid out as `Ui::print_json` would, with
/// `output` (the log as UTF-8, invalid bytes replaced) written as it is read.
fn print_json(
    run: &RunRecord,
    path: &str,
    reader: Option<LogReader>,
    mut from: Option<u64>,
    mut stamps: Option<&mut Stamper>,
    watch: &mut Watch,
) -> Result<u8> {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let mut text = JsonText::new(io::stdout().lock());
    let head = format!(
        "{{\n  \"job\": {},\n  \"log_path\": {},\n  \"output\": \"",
        q(&run.job),
        q(path)
    );
    if text.out.write_all(head.as_bytes()).is_err() {
        return Ok(0);
    }
    if let Some(r) = reader {
        let until = Some(r.end()?);
        let mut buf = vec![0u8; PIECE];
        let open = copy(
            &r,
            &mut from,
            until,
            watch,
            &mut buf,
            &mut |b, at| match stamps.as_mut() {
                Some(s) => s.write(b, at, &mut |x| text.push(x)),
                None => text.push(b),
            },
        )?;
        if !open {
            return Ok(0);
        }
    }
    let tail = format!(
        "\",\n  \"run_id\": {},\n  \"status\": {}\n}}\n",
        run.id,
        q(run.status.as_str())
    );
    let _ = text
        .finish()
        .and_then(|()| text.out.write_all(tail.as_bytes()))
        .and_then(|()| text.out.flush());
    Ok(0)
}

/// The inside of a JSON string, written piece by piece: bytes decoded as UTF-8 the way
/// `String::from_utf8_lossy` does (a character cut between two pieces is joined, not
/// replaced), escaped as serde_json does.
struct JsonText<W: Write> {
    out: W,
    /// The start of a character cut off at the end of the last piece.
    carry: Vec<u8>,
    joined: Vec<u8>,
}

impl<W: Write> JsonText<W> {
    fn new(out: W) -> JsonText<W> {
        JsonText {
            out,
            carry: Vec::new(),
            joined: Vec::new(),
        }
    }

    fn push(&mut self, piece: &[u8]) -> io::Result<()> {
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        joined.append(&mut self.carry);
        joined.extend_from_slice(piece);
        let mut rest = &joined[..];
        let result = loop {
            match std::str::from_utf8(rest) {
                Ok(s) => break escape(&mut self.out, s),
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // Checked valid just above.
                    let good = std::str::from_utf8(good).unwrap_or_default();
                    if let Err(err) = escape(&mut self.out, good) {
                        break Err(err);
                    }
                    match e.error_len() {
                        Some(n) => {
                            if let Err(err) = self.out.write_all("\u{FFFD}".as_bytes()) {
                                break Err(err);
                            }
                            rest = &bad[n..];
                        }
                        None => {
                            self.carry.extend_from_slice(bad);
                            break Ok(());
                        }
                    }
                }
            }
        };
        self.joined = joined;
        result
    }

    /// A character still cut off at the very end is invalid.
    fn finish(&mut self) -> io::Result<()> {
        if self.carry.is_empty() {
            return Ok(());
        }
        self.carry.clear();
        self.out.write_all("\u{FFFD}".as_bytes())
    }
}

fn escape(out: &mut impl Write, s: &str) -> io::Result<()> {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[],
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        if esc.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_all(esc)?;
        }
        start = i + 1;
    }
    out.write_all(&bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through_json_text(data: &[u8], piece: usize) -> String {
        let mut t = JsonText::new(Vec::new());
        for p in data.chunks(piece.max(1)) {
            t.push(p).unwrap();
        }
        t.finish().unwrap();
        String::from_utf8(t.out).unwrap()
    }

    #[test]
    fn streamed_json_text_is_what_serde_json_writes_for_the_lossy_string() {
        let mut data = "plain, \"quoted\", back\\slash, tab\t, nl\n, cr\r, bell\x07, nul\0, del\x7f, \u{8}\u{c} ünïcødé 😀 ".as_bytes().to_vec();
        data.extend_from_slice(
            b"bad \xff\xfe, cut \xe2\x82, lone \x80, overlong \xc0\xaf, end \xf0\x9f\x98",
        );
        let whole =
            serde_json::Value::from(String::from_utf8_lossy(&data).into_owned()).to_string();
        let inner = &whole[1..whole.len() - 1];
        for piece in 1..data.len() + 1 {
            assert_eq!(through_json_text(&data, piece), inner, "pieces of {piece}");
        }
    }

    #[test]
    fn the_json_document_is_laid_out_as_print_json_would() {
        let run_json = serde_json::json!({"run_id": 7, "job": "j", "status": "succeeded", "log_path": "/l/7.log", "output": "a\"b\n"});
        let expected = serde_json::to_string_pretty(&run_json).unwrap() + "\n";
        let q = |s: &str| serde_json::Value::from(s).to_string();
        let mut t = JsonText::new(Vec::new());
        t.out.extend_from_slice(
            format!(
                "{{\n  \"job\": {},\n  \"log_path\": {},\n  \"output\": \"",
                q("j"),
                q("/l/7.log")
            )
            .as_bytes(),
        );
        t.push(b"a\"b\n").unwrap();
        t.finish().unwrap();
        t.out.extend_from_slice(
            format!(
                "\",\n  \"run_id\": {},\n  \"status\": {}\n}}\n",
                7,
                q("succeeded")
            )
            .as_bytes(),
        );
        assert_eq!(String::from_utf8(t.out).unwrap(), expected);
    }
}
