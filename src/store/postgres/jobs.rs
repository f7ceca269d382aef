//! Per-job schedule state in PostgreSQL.

use std::collections::HashMap;

use postgres::types::Type;

use super::{PgStore, events};
use crate::core::error::Result;
use crate::store::encode::NewEvent;
use crate::store::rows::{self, ALL_JOBS, JobCol};
use crate::store::sql::{cat_into, const_text};
use crate::store::{JobState, JobStateStore};

const ONE_JOB: &str = const_text!(
    cat_into,
    &["SELECT ", JobCol::LIST, " FROM jobs WHERE name = $1"]
);

impl JobStateStore for PgStore {
    fn job_states(&self) -> Result<HashMap<String, JobState>> {
        let rows = self.query(ALL_JOBS, &[])?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in &rows {
            let (name, state) = rows::job_state_of(r)?;
            out.insert(name, state);
        }
        Ok(out)
    }

    fn job_state(&self, name: &str) -> Result<Option<JobState>> {
        self.query_opt(ONE_JOB, &[(&name, Type::TEXT)])?
            .map(|r| rows::job_state_of(&r).map(|(_, state)| state))
            .transpose()
    }

    fn record_first_seen(&mut self, names: &[&str], now: i64) -> Result<()> {
        let names: Vec<&str> = names.to_vec();
        self.write_one(
                "INSERT INTO jobs (name, first_seen) SELECT n, $2 FROM unnest($1::text[]) AS n ON CONFLICT (name) DO NOTHING",
                &[(&names, Type::TEXT_ARRAY), (&now, Type::INT8)],
        )?;
        Ok(())
    }

    fn set_held(&mut self, name: &str, held: bool) -> Result<()> {
        self.write_one(
            "UPDATE jobs SET held = $1 WHERE name = $2 AND held != $1",
            &[(&held, Type::BOOL), (&name, Type::TEXT)],
        )?;
        Ok(())
    }

    fn set_last_slot(&mut self, name: &str, slot: i64) -> Result<()> {
        self.write_one(
            "UPDATE jobs SET last_slot = $1 WHERE name = $2",
            &[(&slot, Type::INT8), (&name, Type::TEXT)],
        )?;
        Ok(())
    }

    fn repair_job_state(
        &mut self,
        name: &str,
        first_seen: i64,
        last_slot: Option<i64>,
    ) -> Result<()> {
        self.write_one(
            "UPDATE jobs SET first_seen = $1, last_slot = $2 WHERE name = $3",
            &[
                (&first_seen, Type::INT8),
                (&last_slot, Type::INT8),
                (&name, Type::TEXT),
            ],
        )?;
        Ok(())
    }

    fn set_paused(
        &mut self,
        name: &str,
        paused: bool,
        now: i64,
        resume_slot: Option<i64>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.query_typed(
                "INSERT INTO jobs (name, first_seen) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[(&name, Type::TEXT), (&now, Type::INT8)],
            )?;
            tx.query_typed(
                "UPDATE jobs SET paused = $1 WHERE name = $2",
                &[(&paused, Type::BOOL), (&name, Type::TEXT)],
            )?;
            if let Some(slot) = resume_slot {
                tx.query_typed(
                    "UPDATE jobs SET last_slot = GREATEST(COALESCE(last_slot, $1), $1) WHERE name = $2",
                    &[(&slot, Type::INT8), (&name, Type::TEXT)],
                )?;
            }
            events::append_tx(tx, &NewEvent::job_paused(now, name, paused))
        })
    }

    fn reset_job(&mut self, name: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.query_typed(
                "UPDATE jobs SET first_seen = $1, last_slot = NULL, held = FALSE WHERE name = $2",
                &[(&now, Type::INT8), (&name, Type::TEXT)],
            )?;
            events::append_tx(tx, &NewEvent::job_reset(now, name))
        })
    }
}
