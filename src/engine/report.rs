//! `jobctl show`: what one run did, in one place: its record (status, times, trigger,
//! attempts, usage), its workspace and the files it changed, its hooks, its events, and
//! the end of its log.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Serialize;

use super::Engine;
use super::events::EventView;
use super::views::RunView;
use crate::core::error::{Error, Result};
use crate::core::run::RunRecord;
use crate::core::workspace::HookResult;

/// How many lines of the log's end a report shows.
pub(crate) const LOG_TAIL_LINES: usize = 20;
/// How much of the log's end is read to find them.
const LOG_TAIL_BYTES: u64 = 64 << 10;

/// `show --json`: the history record (with its `trigger`), plus its hooks, its events (as
/// `events --json` prints them) and its log's end.
#[derive(Debug, Serialize)]
pub(crate) struct RunReport {
    #[serde(flatten)]
    pub(crate) run: RunView,
    pub(crate) hooks: Vec<HookResult>,
    /// The prompt the run was given (`submit --prompt`, the API's `prompt`), if any.
    pub(crate) prompt: Option<String>,
    /// The names of the variables it was given; their values may be secrets and are
    /// never shown.
    pub(crate) env_names: Vec<String>,
    pub(crate) events: Vec<EventView>,
    /// The last lines of the run's output.
    pub(crate) log_tail: Vec<String>,
    #[serde(skip)]
    pub(crate) record: RunRecord,
}

/// Which run to report on.
pub(crate) enum Which<'a> {
    Run(i64),
    LatestOf(&'a str),
}

pub(crate) fn show(e: &mut Engine<'_>, which: Which<'_>) -> Result<RunReport> {
    e.recover()?;
    let record = match which {
        Which::Run(id) => e
            .store
            .get_run(id)?
            .ok_or_else(|| Error::NotFound(format!("no run {id} in the history")))?,
        Which::LatestOf(job) => e
            .store
            .latest_run(job)?
            .ok_or_else(|| Error::NotFound(format!("job {job} has no runs in the history")))?,
    };
    let events = e
        .store
        .run_events(record.id)?
        .iter()
        .map(EventView::from)
        .collect();
    let log_tail = if e.store.keeps_logs() {
        // Kept in the database (several hosts): the run may be another host's.
        stored_log_tail(&*e.store, record.id, LOG_TAIL_LINES)?
    } else {
        record
            .log_path
            .as_deref()
            .map(|p| log_tail(Path::new(p), LOG_TAIL_LINES))
            .unwrap_or_default()
    };
    Ok(RunReport {
        run: RunView::from(&record),
        hooks: record.hooks.clone(),
        prompt: record.prompt.clone(),
        env_names: record.env.iter().map(|(k, _)| k.clone()).collect(),
        events,
        log_tail,
        record,
    })
}

/// The last `n` lines of a log, read from its end only (a log can be `log_max_bytes`).
/// Space a trim freed reads as NULs and is dropped.
pub(crate) fn log_tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
    else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(LOG_TAIL_BYTES);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    buf.retain(|b| *b != 0);
    last_lines(&buf, from > 0, n)
}

/// The last `n` lines of a log kept in the store, read from its end only.
fn stored_log_tail(store: &dyn crate::store::Store, run_id: i64, n: usize) -> Result<Vec<String>> {
    let end = store.read_log(run_id, 0, 0)?;
    let from = end.end.saturating_sub(LOG_TAIL_BYTES).max(end.dropped);
    let mut buf = Vec::new();
    let mut at = from;
    while at < end.end {
        let piece = store.read_log(run_id, at, (end.end - at) as usize)?;
        if piece.data.is_empty() {
            break;
        }
        buf.extend_from_slice(&piece.data);
        at = piece.next;
    }
    Ok(last_lines(&buf, from > end.dropped, n))
}

/// The last `n` lines of `buf`; `cut`: it may start mid-line, so its first line goes.
fn last_lines(buf: &[u8], cut: bool, n: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if cut && !lines.is_empty() {
        lines.remove(0); // cut mid-line
    }
    let skip = lines.len().saturating_sub(n);
    lines[skip..].iter().map(|l| l.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("1.log");
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, text).unwrap();
        let t = log_tail(&p, 20);
        assert_eq!(t.len(), 20);
        assert_eq!(t[0], "line 11");
        assert_eq!(t[19], "line 30");
        assert!(log_tail(&dir.path().join("none.log"), 20).is_empty());
    }
}
