//! What each tool does, on an engine, off the async threads: the caller's reach checked
//! (`caller.rs`), then the engine's own use-case (submit, cancel, pause and resume, the
//! views, `show`, the log reader), its answer serialized. Nothing here decides what a
//! run may do: that is the engine's, exactly as for the command line and the API.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::caller::Caller;
use crate::core::error::{Error, Result};
use crate::core::run::{Metadata, RunRecord};
use crate::core::text::{METADATA_MAX, metadata_key_problem};
use crate::engine::Engine;
use crate::engine::cancel::{self, Target};
use crate::engine::logfollow::{LogFollower, LogSink, Reading, Start};
use crate::engine::report::{self, Which};
use crate::engine::submit::{self, Submit};
use crate::engine::views::{self, RunView};
use crate::engine::{control, queue, status};

/// How much of a log's end is searched for an agent's answer (the supervisor writes it
/// last, after a `[jobctl] answer:` line).
const ANSWER_SEARCH: u64 = 64 << 10;
/// What the log's answer line is.
const ANSWER_MARK: &str = "[jobctl] answer:\n";
/// The most `run_log` returns at once, and what it returns unless asked for less.
pub(super) const LOG_MAX: u64 = 256 << 10;
pub(super) const LOG_DEFAULT: u64 = 16 << 10;

/// A run as the tools return it: its record (`history --json`'s), and, once an agent job
/// has ended, its answer; while queued, what it waits for.
#[derive(Debug, Serialize)]
pub(super) struct RunResult {
    #[serde(flatten)]
    pub run: RunView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
}

fn result(e: &mut Engine<'_>, c: &Caller, r: &RunRecord) -> Result<RunResult> {
    let answer = if r.status.is_end() && r.usage.agent.is_some() {
        answer_of(e, r)
    } else {
        None
    };
    let waiting_for = if r.status == crate::core::run::RunStatus::Queued {
        let load = e.store.load()?;
        Some(queue::waiting_reason(e.cfg, &load, &r.job, r.depth))
    } else {
        None
    };
    Ok(RunResult {
        run: c.view(e, RunView::from(r))?,
        answer,
        waiting_for,
    })
}

pub(super) fn list_jobs(e: &mut Engine<'_>, c: &Caller) -> Result<Value> {
    // An object: a tool's structured answer is one.
    let rows = c.rows(views::list(e)?);
    Ok(serde_json::json!({ "jobs": rows }))
}

/// What `submit_run` was given.
pub(super) struct SubmitArgs {
    pub job: String,
    pub prompt: Option<String>,
    pub env: BTreeMap<String, String>,
    pub metadata: Option<Value>,
    pub wait: bool,
}

pub(super) fn submit_run(
    e: &mut Engine<'_>,
    c: &Caller,
    a: SubmitArgs,
    stop: &dyn Fn() -> bool,
) -> Result<Value> {
    c.check_job(&a.job)?;
    let metadata = a.metadata.as_ref().map(metadata).transpose()?;
    let s = Submit {
        job: &a.job,
        parent: c.parent(),
        prompt: a.prompt.as_deref(),
        env: a.env.into_iter().collect(),
        wait: a.wait,
        metadata,
        rerun_of: None,
    };
    let mut run = submit::submit(e, &s, &c.actor())?;
    if a.wait {
        run = submit::wait_until(e, &[run.id], None, stop)?.remove(0);
    }
    Ok(serde_json::to_value(result(e, c, &run)?)?)
}

/// A run's metadata: a JSON object of names without control characters, of at most
/// `METADATA_MAX` bytes (as the API takes it).
fn metadata(v: &Value) -> Result<Metadata> {
    let Value::Object(m) = v else {
        return Err(Error::Usage("metadata must be a JSON object".into()));
    };
    if let Some(bad) = metadata_key_problem(v) {
        return Err(Error::Usage(bad));
    }
    let len = v.to_string().len();
    if len > METADATA_MAX {
        return Err(Error::Usage(format!(
            "metadata is {len} bytes; at most {METADATA_MAX}"
        )));
    }
    Ok(m.clone())
}

pub(super) fn get_run(e: &mut Engine<'_>, c: &Caller, id: i64) -> Result<Value> {
    let run = c.run(e, id)?;
    let mut doc = report::show(e, Which::Run(run.id))?;
    doc.run = c.view(e, doc.run)?;
    let mut v = serde_json::to_value(&doc)?;
    if run.status.is_end() && run.usage.agent.is_some() {
        v["answer"] = serde_json::to_value(answer_of(e, &run))?;
    }
    Ok(v)
}

/// What `wait_runs` answers: the runs that ended, each with its result, and those still
/// going when the time was up.
#[derive(Debug, Serialize)]
pub(super) struct Waited {
    pub ended: Vec<RunResult>,
    pub pending: Vec<RunResult>,
    pub timed_out: bool,
}

pub(super) fn wait_runs(
    e: &mut Engine<'_>,
    c: &Caller,
    ids: &[i64],
    deadline: Instant,
    stop: &dyn Fn() -> bool,
) -> Result<Value> {
    if ids.is_empty() {
        return Err(Error::Usage(
            "run_ids is empty: name the runs to wait for".into(),
        ));
    }
    for &id in ids {
        c.run(e, id)?;
    }
    let runs = submit::wait_until(e, ids, Some(deadline), stop)?;
    let mut w = Waited {
        ended: Vec::new(),
        pending: Vec::new(),
        timed_out: false,
    };
    for r in &runs {
        let res = result(e, c, r)?;
        if r.status.is_end() {
            w.ended.push(res);
        } else {
            w.pending.push(res);
        }
    }
    w.timed_out = !w.pending.is_empty();
    Ok(serde_json::to_value(w)?)
}

/// A slice of a run's log.
#[derive(Debug, Serialize)]
pub(super) struct LogSlice {
    pub run_id: i64,
    pub text: String,
    /// The output position after this slice: `offset` of the next call.
    pub next_offset: u64,
    /// The run has ended (the log grows no more).
    pub ended: bool,
}

pub(super) fn run_log(
    e: &mut Engine<'_>,
    c: &Caller,
    id: i64,
    tail: Option<u64>,
    offset: Option<u64>,
    max_bytes: Option<u64>,
) -> Result<Value> {
    if tail.is_some() && offset.is_some() {
        return Err(Error::Usage("give tail or offset, not both".into()));
    }
    let run = c.run(e, id)?;
    let max = max_bytes.unwrap_or(LOG_DEFAULT).clamp(1, LOG_MAX);
    let start = match (tail, offset) {
        (Some(t), _) => Start::LastBytes(t.min(max)),
        (None, Some(o)) => Start::At(o),
        (None, None) => Start::LastBytes(max),
    };
    let (text, next) = read_log(e, &run, start, max)?;
    Ok(serde_json::to_value(LogSlice {
        run_id: run.id,
        next_offset: next.unwrap_or(offset.unwrap_or(0)),
        text,
        ended: run.status.is_end(),
    })?)
}

/// Up to `max` bytes of `run`'s log from `start`, and the position after them (`None`:
/// nothing read).
fn read_log(
    e: &mut Engine<'_>,
    run: &RunRecord,
    start: Start,
    max: u64,
) -> Result<(String, Option<u64>)> {
    let missing = !e.store.keeps_logs()
        && run
            .log_path
            .as_deref()
            .is_none_or(|p| !Path::new(p).exists());
    if missing && !run.status.is_end() {
        // Just started: its log is empty until it exists.
        return Ok((String::new(), None));
    }
    let how = Reading {
        start,
        follow: false,
        piece: 64 << 10,
        poll: std::time::Duration::from_millis(10),
        ended_on_error: false,
    };
    let mut sink = Collect {
        data: Vec::new(),
        next: None,
        max: max as usize,
    };
    LogFollower::open(e, run, how)?.run(&mut sink)?;
    Ok((String::from_utf8_lossy(&sink.data).into_owned(), sink.next))
}

/// Collects a log's pieces up to a size.
struct Collect {
    data: Vec<u8>,
    next: Option<u64>,
    max: usize,
}

impl LogSink for Collect {
    fn output(&mut self, data: &[u8], at: Option<u64>) -> bool {
        let room = self.max - self.data.len();
        let take = &data[..data.len().min(room)];
        self.data.extend_from_slice(take);
        if let Some(at) = at {
            self.next = Some(at + take.len() as u64);
        }
        self.data.len() < self.max
    }
}

/// An agent run's answer: what follows the last `[jobctl] answer:` line at its log's end.
fn answer_of(e: &mut Engine<'_>, run: &RunRecord) -> Option<String> {
    let (text, _) = read_log(e, run, Start::LastBytes(ANSWER_SEARCH), ANSWER_SEARCH).ok()?;
    let (_, answer) = text.rsplit_once(ANSWER_MARK)?;
    Some(answer.trim_end_matches('\n').to_string())
}

/// What a run-control tool does.
#[derive(Debug, Clone, Copy)]
pub(super) enum Move {
    Cancel,
    Pause,
    Resume,
}

pub(super) fn control_run(e: &mut Engine<'_>, c: &Caller, id: i64, m: Move) -> Result<Value> {
    let run = c.run(e, id)?;
    let by = c.actor();
    let view = match m {
        Move::Cancel => {
            let r = cancel::cancel(e, Target::Run(run.id), &by)?;
            serde_json::to_value(result(e, c, &r)?)?
        }
        Move::Pause | Move::Resume => {
            let done = if matches!(m, Move::Pause) {
                control::pause(e, Target::Run(run.id), &by)?
            } else {
                control::resume(e, Target::Run(run.id), &by)?
            };
            let Some(mut one) = done.into_iter().next() else {
                return Err(Error::Conflict(format!("run {id} was not changed")));
            };
            one.run = c.view(e, one.run)?;
            serde_json::to_value(one)?
        }
    };
    Ok(view)
}

pub(super) fn budgets(e: &mut Engine<'_>, c: &Caller) -> Result<Value> {
    let report = status::status(e)?;
    Ok(serde_json::json!({
        "budget_day": report.budget_day,
        "scopes": c.scopes(report.agents),
    }))
}

/// A resource's text: `jobctl://runs/ID` (the `show` document) or `jobctl://runs/ID/log`
/// (the log's last `LOG_MAX` bytes).
pub(super) fn resource(
    e: &mut Engine<'_>,
    c: &Caller,
    uri: &str,
) -> Result<Option<(String, &'static str)>> {
    let Some(rest) = uri.strip_prefix("jobctl://runs/") else {
        return Ok(None);
    };
    let (id, log) = match rest.strip_suffix("/log") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    if log {
        let run = c.run(e, id)?;
        let (text, _) = read_log(e, &run, Start::LastBytes(LOG_MAX), LOG_MAX)?;
        Ok(Some((text, "text/plain")))
    } else {
        let doc = get_run(e, c, id)?;
        Ok(Some((
            serde_json::to_string_pretty(&doc)?,
            "application/json",
        )))
    }
}

/// The runs whose resources are listed: the caller's own run and its sub-runs, or the
/// latest runs it may see.
pub(super) fn resource_runs(e: &mut Engine<'_>, c: &Caller) -> Result<Vec<RunRecord>> {
    let mut runs = match c {
        Caller::Run(me) => {
            let mut runs: Vec<RunRecord> = e.store.get_run(*me)?.into_iter().collect();
            runs.extend(e.store.find_runs(&crate::store::RunQuery {
                job: None,
                status: None,
                parent: Some(*me),
                before: None,
                limit: 50,
                ..Default::default()
            })?);
            runs
        }
        _ => views::history(e, None, 50)?,
    };
    runs.retain(|r| c.sees_job(&r.job));
    Ok(runs)
}
