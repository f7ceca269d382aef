//! Queued runs and run control in the database: the queue's heads, the slots taken,
//! starting a queued run once under its limits, moves between states that are not ends,
//! and what a run's supervisor is asked to do. Each change is one transaction with its
//! event.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::events::append;
use super::rows::{ACTIVE, COLUMNS, SUPERVISED, from_row, get_tx, lease_holder};
use crate::core::control::Stamp;
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, RunRecord, RunStatus, Transition};
use crate::store::encode::NewEvent;
use crate::store::rows::{self, LoadCol, QUEUE_HEADS};
use crate::store::sql::{QUEUED, RUNNING};
use crate::store::sql::{cat_into, const_text};
use crate::store::{Limits, Load, QueueHead, QueueStart};

impl SqliteStore {
    pub(super) fn transition_run(&mut self, id: i64, t: &Transition, at: i64) -> Result<bool> {
        let from = t.checked(id)?;
        let tx = self.conn.transaction()?;
        let (to, from_s) = (t.to.as_str(), from.as_str());
        let n = match t.stamp() {
            Stamp::Ended => tx.execute(
                "UPDATE runs SET status = ?1, ended_at = ?2, duration_ms = MAX(0, ?2 - started_at), error = ?5, \
                 reserve_day = NULL WHERE id = ?3 AND status = ?4",
                params![to, at, id, from_s, t.reason],
            )?,
            Stamp::Paused => tx.execute(
                "UPDATE runs SET status = ?1, paused_at = ?2 WHERE id = ?3 AND status = ?4",
                params![to, at, id, from_s],
            )?,
            Stamp::Started => tx.execute(
                "UPDATE runs SET status = ?1, started_at = ?2 WHERE id = ?3 AND status = ?4",
                params![to, at, id, from_s],
            )?,
            Stamp::None => tx.execute(
                "UPDATE runs SET status = ?1 WHERE id = ?2 AND status = ?3",
                params![to, id, from_s],
            )?,
        };
        if n == 1 {
            let job: String =
                tx.query_row("SELECT job FROM runs WHERE id = ?1", [id], |r| r.get(0))?;
            append(
                &tx,
                &NewEvent::change(at, &job, id, t.clone(), serde_json::json!({})),
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    pub(super) fn request_run_control(
        &mut self,
        id: i64,
        want: RunStatus,
        by: &Actor,
    ) -> Result<Option<(RunStatus, bool)>> {
        let tx = self.conn.transaction()?;
        let Some(status) = tx
            .query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
        else {
            return Ok(None);
        };
        let status = RunStatus::parse(&status)
            .ok_or_else(|| Error::State(format!("run {id} has an unknown status {status:?}")))?;
        let takes = status.takes_request(want);
        if takes {
            tx.execute(
                "UPDATE runs SET control = ?1, control_by = ?2 WHERE id = ?3",
                params![want.as_str(), by.to_wire(), id],
            )?;
        }
        tx.commit()?;
        Ok(Some((status, takes)))
    }

    pub(super) fn heads(&self) -> Result<Vec<QueueHead>> {
        let mut st = self.conn.prepare_cached(QUEUE_HEADS)?;
        let rows = st.query_map([], |r| rows::head_of(r))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub(super) fn queued(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM runs WHERE {ACTIVE} AND {QUEUED} ORDER BY id LIMIT ?1"
        ))?;
        let rows = st.query_map([limit.min(i64::MAX as usize) as i64], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub(super) fn slots_taken(&self) -> Result<Load> {
        load_of(&self.conn)
    }

    pub(super) fn start_queued_run(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &Limits,
        by: &Actor,
        at: &dyn Fn() -> i64,
    ) -> Result<QueueStart> {
        // A writer from here on: what it reads below is what it decides on, and the time
        // is the decision's (a wait for the lock comes before it).
        let tx = self.conn.transaction()?;
        let at = at();
        let Some(run) = get_tx(&tx, id)?.filter(|r| r.status == RunStatus::Queued) else {
            return Ok(QueueStart::NotQueued);
        };
        if !load_of(&tx)?.fits(&run.job, run.depth, limits)
            || lease_holder(&tx, &run.job, lock_name)?.is_some()
        {
            return Ok(QueueStart::Full);
        }
        tx.execute(
            &format!("UPDATE runs SET {RUNNING}, started_at = ?1, lock_name = ?2 WHERE id = ?3"),
            params![at, lock_name, id],
        )?;
        append(
            &tx,
            &NewEvent::started(at, &run.job, id, run.started_at, by),
        )?;
        let run = get_tx(&tx, id)?.ok_or_else(|| Error::State(format!("run {id} vanished")))?;
        tx.commit()?;
        Ok(QueueStart::Started(Box::new(run)))
    }

    pub(super) fn subtree(&self, id: i64) -> Result<Vec<RunRecord>> {
        let mut st = self.conn.prepare_cached(&format!(
            "WITH RECURSIVE sub(id) AS (SELECT id FROM runs WHERE parent_run_id = ?1 \
             UNION SELECT r.id FROM runs r JOIN sub ON r.parent_run_id = sub.id) \
             SELECT {COLUMNS} FROM runs WHERE id IN (SELECT id FROM sub) ORDER BY id"
        ))?;
        let rows = st.query_map([id], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The slots supervised runs take, read on `conn` (or inside a transaction).
fn load_of(conn: &rusqlite::Connection) -> Result<Load> {
    const LOAD: &str = const_text!(
        cat_into,
        &[
            "SELECT ",
            LoadCol::LIST,
            " FROM runs WHERE ",
            SUPERVISED,
            " GROUP BY job, depth"
        ]
    );
    let mut st = conn.prepare_cached(LOAD)?;
    let mut load = Load::default();
    for row in st.query_map([], |r| rows::load_of(r))? {
        let (job, depth, n) = row?;
        load.add(job, depth, n, n);
    }
    Ok(load)
}
