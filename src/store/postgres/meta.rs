//! The small tables beside the runs: `meta` (keys such as the last tick), `hosts` (one
//! row per host that ticks) and `idempotency` (the answers kept for retried requests).

use postgres::types::Type;

use super::{DB_NOW_MS, PgStore};
use crate::core::error::Result;
use crate::store::rows::AnswerCol;
use crate::store::sql::{cat_into, const_text};
use crate::store::{HostRecord, HostStore, IdempotencyStore, MetaStore, StoredAnswer};

impl MetaStore for PgStore {
    fn get_meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt(
                "SELECT value FROM meta WHERE key = $1",
                &[(&key, Type::TEXT)],
            )?
            .map(|r| r.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.write_one(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[(&key, Type::TEXT), (&value, Type::TEXT)],
        )?;
        Ok(())
    }
}

impl HostStore for PgStore {
    fn record_tick(&mut self, now: jiff::Timestamp, h: Option<&HostRecord>) -> Result<()> {
        let Some(h) = h else {
            return self.set_last_tick(now);
        };
        let tick = now.as_millisecond().to_string();
        // Both rows in one statement: this is the last write of every tick.
        self.write_one(
            &format!(
                "WITH m AS (INSERT INTO meta (key, value) VALUES ('last_tick', $5) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value) \
                 INSERT INTO hosts (name, last_tick, config_digest, version, seen_at) VALUES ($1, $2, $3, $4, {DB_NOW_MS}) \
                 ON CONFLICT (name) DO UPDATE SET last_tick = COALESCE(excluded.last_tick, hosts.last_tick), \
                 config_digest = excluded.config_digest, version = excluded.version, seen_at = excluded.seen_at"
            ),
            &[
                (&h.name, Type::TEXT),
                (&h.last_tick, Type::INT8),
                (&h.config_digest, Type::TEXT),
                (&h.version, Type::TEXT),
                (&tick, Type::TEXT),
            ],
        )?;
        Ok(())
    }

    fn hosts(&self) -> Result<Vec<HostRecord>> {
        Ok(self
            .query(
                "SELECT name, last_tick, config_digest, version FROM hosts ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| HostRecord {
                name: r.get(0),
                last_tick: r.get(1),
                config_digest: r.get(2),
                version: r.get(3),
            })
            .collect())
    }
}

impl IdempotencyStore for PgStore {
    fn answer(&self, key: &str, since: i64) -> Result<Option<StoredAnswer>> {
        const ANSWER: &str = const_text!(
            cat_into,
            &[
                "SELECT ",
                AnswerCol::LIST,
                " FROM idempotency WHERE key = $1 AND at >= $2"
            ]
        );
        self.query_opt(ANSWER, &[(&key, Type::TEXT), (&since, Type::INT8)])?
            .as_ref()
            .map(crate::store::rows::answer_of)
            .transpose()
    }

    fn keep_answer(&mut self, key: &str, a: &StoredAnswer, forget_before: i64) -> Result<()> {
        let status = i32::from(a.status);
        self.write(|tx| {
            tx.query_typed(
                "DELETE FROM idempotency WHERE at < $1",
                &[(&forget_before, Type::INT8)],
            )?;
            // The first answer stays: two servers answering one key keep the first.
            tx.query_typed(
                "INSERT INTO idempotency (key, request, status, location, body, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
                &[
                    (&key, Type::TEXT),
                    (&a.request, Type::TEXT),
                    (&status, Type::INT4),
                    (&a.location, Type::TEXT),
                    (&a.body, Type::BYTEA),
                    (&a.at, Type::INT8),
                ],
            )?;
            Ok(())
        })
    }
}
