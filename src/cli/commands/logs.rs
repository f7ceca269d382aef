//! `jobctl logs`: a run's stored output; `--follow` prints it as it grows until the run
//! ends. The reading is the engine's log follower (`engine::logfollow`): this prints what
//! it hands over, as text (each line with its time, with `--timestamps`) or as one JSON
//! document streamed as it is read (the log can be as large as `log_max_bytes`, and is
//! never held whole).

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use crate::cli::args::Global;
use crate::cli::json_text::JsonText;
use crate::cli::output::Ui;
use crate::core::error::Result;
use crate::core::run::RunRecord;
use crate::engine::logfollow::{LogFollower, LogSink, Reading, Start};
use crate::exec::logfile::TimesReader;
use crate::fail;

/// How much is read and written at a time.
const PIECE: usize = 256 << 10;
/// How often a follower looks for more output, and for the end of the run.
const POLL: Duration = Duration::from_millis(200);

/// What `jobctl logs` was asked for.
pub(crate) struct LogsArgs<'a> {
    pub(crate) run_id: Option<i64>,
    pub(crate) job: Option<&'a str>,
    pub(crate) follow: bool,
    /// Only the last N lines.
    pub(crate) tail: Option<u64>,
    /// Each line with the time it came.
    pub(crate) timestamps: bool,
}

pub(crate) fn execute(g: &Global, ui: &Ui, a: LogsArgs<'_>) -> Result<u8> {
    let mut e = super::engine(g)?;
    e.recover()?;
    if let Some(j) = a.job
        && j != crate::core::run::ASK_JOB
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
    let how = Reading {
        start: a.tail.map_or(Start::Beginning, Start::LastLines),
        follow: a.follow,
        piece: PIECE,
        poll: POLL,
        ended_on_error: false,
    };
    let follower = LogFollower::open(&mut e, &run, how)?;
    // Times are known from the index beside the log on the host that ran it; `-` elsewhere.
    let stamps = a.timestamps.then(|| Stamper::new(Path::new(&path)));
    let json = ui.json && !a.follow;
    let mut out = Printer {
        text: JsonText::new(io::stdout().lock()),
        json,
        stamps,
    };
    if json
        && out
            .text
            .out
            .write_all(json_head(&run.job, &path).as_bytes())
            .is_err()
    {
        return Ok(0); // stdout closed
    }
    follower.run(&mut out)?;
    if json {
        let _ = out
            .text
            .finish()
            .and_then(|()| out.text.out.write_all(json_tail(&run).as_bytes()));
    }
    let _ = out.text.out.flush();
    Ok(0)
}

/// Where the log goes: stdout as it is (flushed piece by piece, for `--follow`), or as
/// the `output` string of one JSON document; with times before the lines, or not.
struct Printer<W: Write> {
    text: JsonText<W>,
    json: bool,
    stamps: Option<Stamper>,
}

impl<W: Write> Printer<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        if self.json {
            self.text.push(b)
        } else {
            self.text
                .out
                .write_all(b)
                .and_then(|()| self.text.out.flush())
        }
    }
}

impl<W: Write> LogSink for Printer<W> {
    fn output(&mut self, data: &[u8], at: Option<u64>) -> bool {
        let written = match self.stamps.take() {
            Some(mut s) => {
                let w = s.write(data, at, &mut |b| self.write(b));
                self.stamps = Some(s);
                w
            }
            None => self.write(data),
        };
        written.is_ok()
    }

    fn dropped(&mut self, bytes: u64) {
        let note = format!(
            "[jobctl] output exceeded log_max_bytes: the first {bytes} bytes were dropped\n"
        );
        let _ = self.write(note.as_bytes());
    }
}

/// `{job, log_path, output, run_id, status}`, laid out as `Ui::print_json` would: what
/// comes before `output`'s text...
fn json_head(job: &str, path: &str) -> String {
    format!(
        "{{\n  \"job\": {},\n  \"log_path\": {},\n  \"output\": \"",
        quote(job),
        quote(path)
    )
}

/// ...and what comes after it.
fn json_tail(run: &RunRecord) -> String {
    json_end(run.id, run.status.as_str())
}

fn json_end(run_id: i64, status: &str) -> String {
    format!(
        "\",\n  \"run_id\": {run_id},\n  \"status\": {}\n}}\n",
        quote(status)
    )
}

fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Prefixes each line with the time it came (from the log's times index): local time to
/// the millisecond, `-` where it is not known.
struct Stamper {
    times: TimesReader,
    at_line_start: bool,
    tz: jiff::tz::TimeZone,
}

impl Stamper {
    fn new(log: &Path) -> Stamper {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_document_is_laid_out_as_print_json_would() {
        let run_json = serde_json::json!({"run_id": 7, "job": "j", "status": "succeeded", "log_path": "/l/7.log", "output": "a\"b\n"});
        let expected = serde_json::to_string_pretty(&run_json).unwrap() + "\n";
        let mut t = JsonText::new(Vec::new());
        t.out
            .extend_from_slice(json_head("j", "/l/7.log").as_bytes());
        t.push(b"a\"b\n").unwrap();
        t.finish().unwrap();
        t.out.extend_from_slice(json_end(7, "succeeded").as_bytes());
        assert_eq!(String::from_utf8(t.out).unwrap(), expected);
    }
}
