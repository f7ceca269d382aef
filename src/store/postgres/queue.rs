//! Queued runs and run control in PostgreSQL: the queue's heads, the slots taken,
//! starting a queued run once under its limits, moves between states that are not ends,
//! and what a run's supervisor is asked to do. Each change is one transaction with its
//! event.
//!
//! Starting queued runs is serialized across hosts by one transaction-scoped advisory
//! lock ([`lock_queue`]): a start reads the slots taken and moves the run under it, so
//! `runner.depth_limits` and a job's `concurrency` hold for all hosts together, and two
//! hosts starting the same run start it once (the second finds it no longer queued). The
//! unique index on each lease's supervised run backs this against a claim that does not
//! take the lock (a tick's, a `force`). `max_running` is each host's own, as the tick
//! counts it: the top-level runs this host supervises.

use postgres::Transaction;
use postgres::error::SqlState;
use postgres::types::Type;

use super::rows::{ACTIVE, SUPERVISED, get_tx};
use super::{PgStore, events};
use crate::core::control::Stamp;
use crate::core::error::{Error, Result};
use crate::core::run::{Actor, RunStatus, Transition};
use crate::store::encode::NewEvent;
use crate::store::rows::{self, LoadCol, QUEUE_HEADS, small};
use crate::store::sql::{QUEUED, RUNNING};
use crate::store::{Limits, Load, QueueHead, QueueStart};

/// The advisory lock key of queue starts and enqueues ("queue" in ASCII).
const QUEUE_LOCK: i64 = 0x71_7565_7565;

/// Takes the queue's lock for the rest of the transaction. Taken before any row lock of
/// the transaction (and the events lock is taken last), so it never takes part in a
/// deadlock.
pub(super) fn lock_queue(tx: &mut Transaction<'_>) -> Result<()> {
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1)",
        &[(&QUEUE_LOCK, Type::INT8)],
    )?;
    Ok(())
}

/// The slots supervised runs take, by job and depth, and how many of them are `$1`'s
/// (after [`LoadCol`]'s columns).
fn load_sql() -> String {
    format!(
        "SELECT {}, count(*) FILTER (WHERE host = $1) FROM runs \
         WHERE {ACTIVE} AND {SUPERVISED} GROUP BY job, depth",
        LoadCol::LIST
    )
}

/// The slots supervised runs take, read in `tx`; `top_level` counts `host`'s only.
fn load_tx(tx: &mut Transaction<'_>, host: &str) -> Result<Load> {
    load_of(&tx.query_typed(&load_sql(), &[(&host, Type::TEXT)])?)
}

/// The load of [`load_sql`]'s rows.
fn load_of(rows: &[postgres::Row]) -> Result<Load> {
    let mut load = Load::default();
    for r in rows {
        let (job, depth, n) = rows::load_of(r)?;
        load.add(job, depth, n, small(r.get(LoadCol::ALL.len()), 0));
    }
    Ok(load)
}

impl PgStore {
    pub(super) fn transition_run(&mut self, id: i64, t: &Transition, at: i64) -> Result<bool> {
        let from = t.checked(id)?;
        let (to, from_s) = (t.to.as_str(), from.as_str());
        // The row's own lock makes the move once. Every statement binds the same five
        // parameters, typed, whether it names them or not.
        let sql = match t.stamp() {
            Stamp::Ended => {
                "UPDATE runs SET status = $1, ended_at = $2, duration_ms = GREATEST(0, $2 - started_at), \
                 error = $5, reserve_day = NULL WHERE id = $3 AND status = $4 RETURNING job"
            }
            Stamp::Paused => {
                "UPDATE runs SET status = $1, paused_at = $2 WHERE id = $3 AND status = $4 RETURNING job"
            }
            Stamp::Started => {
                "UPDATE runs SET status = $1, started_at = $2 WHERE id = $3 AND status = $4 RETURNING job"
            }
            Stamp::None => {
                "UPDATE runs SET status = $1 WHERE id = $3 AND status = $4 RETURNING job"
            }
        };
        self.write(|tx| {
            let Some(row) = tx.query_typed_opt(
                sql,
                &[
                    (&to, Type::TEXT),
                    (&at, Type::INT8),
                    (&id, Type::INT8),
                    (&from_s, Type::TEXT),
                    (&t.reason, Type::TEXT),
                ],
            )?
            else {
                return Ok(false);
            };
            let job: String = row.get(0);
            events::append_tx(
                tx,
                &NewEvent::change(at, &job, id, t.clone(), serde_json::json!({})),
            )?;
            Ok(true)
        })
    }

    pub(super) fn request_run_control(
        &mut self,
        id: i64,
        want: RunStatus,
        by: &Actor,
    ) -> Result<Option<(RunStatus, bool)>> {
        let (want_s, by) = (want.as_str(), by.to_wire());
        self.write(|tx| {
            let Some(row) = tx.query_typed_opt(
                "SELECT status FROM runs WHERE id = $1 FOR UPDATE",
                &[(&id, Type::INT8)],
            )?
            else {
                return Ok(None);
            };
            let s: String = row.get(0);
            let status = RunStatus::parse(&s)
                .ok_or_else(|| Error::State(format!("run {id} has an unknown status {s:?}")))?;
            let takes = status.takes_request(want);
            if takes {
                tx.query_typed(
                    "UPDATE runs SET control = $1, control_by = $2 WHERE id = $3",
                    &[(&want_s, Type::TEXT), (&by, Type::TEXT), (&id, Type::INT8)],
                )?;
            }
            Ok(Some((status, takes)))
        })
    }

    pub(super) fn heads(&self) -> Result<Vec<QueueHead>> {
        self.query(QUEUE_HEADS, &[])?
            .iter()
            .map(rows::head_of)
            .collect()
    }

    pub(super) fn slots_taken(&self) -> Result<Load> {
        load_of(&self.query(&load_sql(), &[(&self.host, Type::TEXT)])?)
    }

    pub(super) fn start_queued_run(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &Limits,
        by: &Actor,
        at: i64,
    ) -> Result<QueueStart> {
        let host = self.host.clone();
        self.write(|tx| {
            lock_queue(tx)?;
            start_tx(tx, id, lock_name, limits, by, at, &host)
        })
    }

    /// As [`PgStore::start_queued_run`], reading the time once the queue's lock is held
    /// (outside an event loop; inside one the time is read first, as the default does).
    pub(super) fn start_queued_run_now(
        &mut self,
        id: i64,
        lock_name: Option<&str>,
        limits: &Limits,
        by: &Actor,
        now: &dyn Fn() -> i64,
    ) -> Result<QueueStart> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return self.start_queued_run(id, lock_name, limits, by, now());
        }
        let host = self.host.clone();
        self.in_tx(|tx| {
            lock_queue(tx)?;
            start_tx(tx, id, lock_name, limits, by, now(), &host)
        })
    }
}

/// Starts queued run `id` on `host` under the queue's lock, if its limits leave it a slot.
fn start_tx(
    tx: &mut Transaction<'_>,
    id: i64,
    lock_name: Option<&str>,
    limits: &Limits,
    by: &Actor,
    at: i64,
    host: &str,
) -> Result<QueueStart> {
    let Some(run) = get_tx(tx, id)?.filter(|r| r.status == RunStatus::Queued) else {
        return Ok(QueueStart::NotQueued);
    };
    let fits = load_tx(tx, host)?.fits(&run.job, run.depth, limits);
    let held = tx
        .query_typed_opt(
            &format!(
                "SELECT 1 FROM runs WHERE {ACTIVE} AND {SUPERVISED} AND job = $1 \
                 AND lock_name IS NOT DISTINCT FROM $2 LIMIT 1"
            ),
            &[(&run.job, Type::TEXT), (&lock_name, Type::TEXT)],
        )?
        .is_some();
    if held || !fits {
        return Ok(QueueStart::Full);
    }
    // A claim that takes no queue lock (a tick's, a `force`) may have taken the lease
    // since the look above: the unique index refuses the second holder.
    tx.batch_execute("SAVEPOINT start")?;
    let moved = tx.query_typed(
        &format!(
            "UPDATE runs SET {RUNNING}, started_at = $1, lock_name = $2, host = $3 \
             WHERE id = $4 AND {QUEUED} RETURNING 1"
        ),
        &[
            (&at, Type::INT8),
            (&lock_name, Type::TEXT),
            (&host, Type::TEXT),
            (&id, Type::INT8),
        ],
    );
    match moved {
        Ok(rows) if rows.is_empty() => return Ok(QueueStart::NotQueued),
        Ok(_) => tx.batch_execute("RELEASE SAVEPOINT start")?,
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT start")?;
            return Ok(QueueStart::Full);
        }
        Err(e) => return Err(e.into()),
    }
    let started = NewEvent::started(at, &run.job, id, run.started_at, by);
    events::append_tx(tx, &started.on_host(Some(host)))?;
    let run = get_tx(tx, id)?.ok_or_else(|| Error::State(format!("run {id} vanished")))?;
    Ok(QueueStart::Started(Box::new(run)))
}
