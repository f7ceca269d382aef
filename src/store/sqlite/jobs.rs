//! Per-job schedule state: when jobctl first saw the job, the slot of its last scheduled
//! run, and whether a person paused it.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::core::error::Result;
use crate::store::encode::NewEvent;
use crate::store::rows::{self, ALL_JOBS, JobCol};
use crate::store::sql::{cat_into, const_text};
use crate::store::{JobState, JobStateStore};

const ONE_JOB: &str = const_text!(
    cat_into,
    &["SELECT ", JobCol::LIST, " FROM jobs WHERE name = ?1"]
);

impl JobStateStore for SqliteStore {
    fn job_states(&self) -> Result<HashMap<String, JobState>> {
        let mut st = self.conn.prepare_cached(ALL_JOBS)?;
        // Sized up front: growing a map of a thousand jobs rehashes it again and again.
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))?;
        let mut out = HashMap::with_capacity(usize::try_from(n).unwrap_or(0));
        let rows = st.query_map([], |r| rows::job_state_of(r))?;
        for row in rows {
            let (name, state) = row?;
            out.insert(name, state);
        }
        Ok(out)
    }

    fn job_state(&self, name: &str) -> Result<Option<JobState>> {
        Ok(self
            .conn
            .query_row(ONE_JOB, [name], |r| rows::job_state_of(r))
            .optional()?
            .map(|(_, state)| state))
    }

    /// Records the first sighting of jobs (names not yet in the table) at `now`.
    fn record_first_seen(&mut self, names: &[&str], now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st =
                tx.prepare_cached("INSERT OR IGNORE INTO jobs (name, first_seen) VALUES (?1, ?2)")?;
            for n in names {
                st.execute(params![n, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn set_held(&mut self, name: &str, held: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE jobs SET held = ?1 WHERE name = ?2 AND held != ?1",
            params![held as i64, name],
        )?;
        Ok(())
    }

    /// Replaces stored times that lay in the future of "now".
    fn repair_job_state(
        &mut self,
        name: &str,
        first_seen: i64,
        last_slot: Option<i64>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE jobs SET first_seen = ?1, last_slot = ?2 WHERE name = ?3",
            params![first_seen, last_slot, name],
        )?;
        Ok(())
    }

    fn set_last_slot(&mut self, name: &str, slot: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE jobs SET last_slot = ?1 WHERE name = ?2",
            params![slot, name],
        )?;
        Ok(())
    }

    /// Pauses or resumes; `resume_slot` moves the schedule past the slots that passed while
    /// paused, so resuming doesn't catch them up.
    fn set_paused(
        &mut self,
        name: &str,
        paused: bool,
        now: i64,
        resume_slot: Option<i64>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO jobs (name, first_seen) VALUES (?1, ?2)",
            params![name, now],
        )?;
        tx.execute(
            "UPDATE jobs SET paused = ?1 WHERE name = ?2",
            params![paused as i64, name],
        )?;
        if let Some(slot) = resume_slot {
            tx.execute(
                "UPDATE jobs SET last_slot = MAX(COALESCE(last_slot, ?1), ?1) WHERE name = ?2",
                params![slot, name],
            )?;
        }
        super::events::append(&tx, &NewEvent::job_paused(now, name, paused))?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets when the job last ran: it is scheduled as if new (history stays).
    fn reset_job(&mut self, name: &str, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        // As if first seen now; a pause is a person's decision and stays.
        tx.execute(
            "UPDATE jobs SET first_seen = ?1, last_slot = NULL, held = 0 WHERE name = ?2",
            params![now, name],
        )?;
        super::events::append(&tx, &NewEvent::job_reset(now, name))?;
        tx.commit()?;
        Ok(())
    }
}
