//! Reading a run as a test sees it, and waiting for it to reach a status: from the store
//! as written ([`Env`]: no recovery, no command in between), as `jobctl history --json`
//! shows it ([`Cli`]), or as the API serves it (`server::Api`). "Ended" is the library's
//! own rule ([`RunStatus::is_end`]): a queued, paused or retrying run has not ended.

use std::time::Duration;

use jobctl::core::run::RunStatus;
use jobctl::store::{RunRecord, RunStore};
use serde_json::Value;

use super::{Env, wait_for};

/// Where a test reads run `id`: its document there, and the status the document holds.
pub trait RunSource {
    type Doc: std::fmt::Debug;
    fn doc(&self, id: i64) -> Self::Doc;
    fn status(doc: &Self::Doc) -> RunStatus;
}

/// The run as stored.
impl RunSource for Env {
    type Doc = RunRecord;
    fn doc(&self, id: i64) -> RunRecord {
        stored_run(self, id)
    }
    fn status(doc: &RunRecord) -> RunStatus {
        doc.status
    }
}

/// The run as `jobctl history --json` shows it (after the recovery every command does).
pub struct Cli<'a>(pub &'a Env);

impl RunSource for Cli<'_> {
    type Doc = Value;
    fn doc(&self, id: i64) -> Value {
        self.0
            .history_json(&["-n", "1000"])
            .into_iter()
            .find(|r| r["run_id"] == id)
            .unwrap_or_else(|| panic!("no run {id}"))
    }
    fn status(doc: &Value) -> RunStatus {
        status_of(doc)
    }
}

/// The `status` of a run's JSON document (a command's or the API's).
pub fn status_of(doc: &Value) -> RunStatus {
    doc["status"]
        .as_str()
        .and_then(RunStatus::parse)
        .unwrap_or_else(|| panic!("no run status in {doc}"))
}

/// Waits (within `limit`) until run `id` has ended; its document then.
pub fn wait_ended<S: RunSource>(src: &S, id: i64, limit: Duration) -> S::Doc {
    wait_for(&format!("run {id} to end"), limit, || {
        let doc = src.doc(id);
        S::status(&doc).is_end().then_some(doc)
    })
}

/// Waits (within `limit`) until run `id` is `want`; its document then. A run that ends
/// otherwise fails the test at once: an ended run never changes again.
pub fn wait_status<S: RunSource>(src: &S, id: i64, want: RunStatus, limit: Duration) -> S::Doc {
    wait_for(&format!("run {id} to be {want}"), limit, || {
        let doc = src.doc(id);
        let status = S::status(&doc);
        assert!(
            status == want || !status.is_end(),
            "run {id} ended {status}, not {want}: {doc:#?}"
        );
        (status == want).then_some(doc)
    })
}

/// Run `id` as stored, read without the recovery that `jobctl` commands do.
pub fn stored_run(env: &Env, id: i64) -> RunRecord {
    env.store()
        .get_run(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no run {id}"))
}

/// Every run as stored, newest first.
pub fn stored_runs(env: &Env) -> Vec<RunRecord> {
    env.store().history(None, 10_000).unwrap()
}

/// (id, job, status) of every run, oldest first, as the database holds it ([`Env::db`]).
pub fn raw_runs(env: &Env) -> Vec<(i64, String, RunStatus)> {
    let c = env.db();
    let mut st = c
        .prepare("SELECT id, job, status FROM runs ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))
        .unwrap()
        .map(|r| {
            let (id, job, status) = r.unwrap();
            let status = RunStatus::parse(&status).unwrap_or_else(|| panic!("run {id}: {status}"));
            (id, job, status)
        })
        .collect()
}
