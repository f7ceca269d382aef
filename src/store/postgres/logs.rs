//! Run logs kept in PostgreSQL, so any host can read any run's output: pieces of output
//! by output position, appended by the run's supervisor as the output grows; pieces that
//! lie wholly more than `log_max_bytes` before the end are dropped, as the file's start is
//! on one host.

use postgres::Transaction;
use postgres::types::Type;

use super::PgStore;
use crate::core::error::Result;
use crate::store::{LogStore, StoredLog};

pub(super) fn delete_tx(tx: &mut Transaction<'_>, run_ids: &[i64]) -> Result<()> {
    tx.query_typed(
        "DELETE FROM run_logs WHERE run_id = ANY($1)",
        &[(&run_ids, Type::INT8_ARRAY)],
    )?;
    Ok(())
}

/// Drops what lies before output position `from`: whole pieces, and the start of the
/// piece `from` cuts.
fn trim_tx(tx: &mut Transaction<'_>, run_id: i64, from: u64) -> Result<()> {
    let from = from.min(i64::MAX as u64) as i64;
    tx.query_typed(
        "DELETE FROM run_logs WHERE run_id = $1 AND pos + length(data) <= $2",
        &[(&run_id, Type::INT8), (&from, Type::INT8)],
    )?;
    tx.query_typed(
        "UPDATE run_logs SET data = substring(data FROM ($2 - pos + 1)::int), pos = $2 \
         WHERE run_id = $1 AND pos < $2",
        &[(&run_id, Type::INT8), (&from, Type::INT8)],
    )?;
    Ok(())
}

impl LogStore for PgStore {
    fn keeps_logs(&self) -> bool {
        true
    }

    fn append_log(&mut self, run_id: i64, pos: u64, data: &[u8], cap: u64) -> Result<()> {
        let end = pos + data.len() as u64;
        let keep_from = end.saturating_sub(cap);
        // Of a piece larger than the cap, only its end is ever kept.
        let skip = keep_from.saturating_sub(pos).min(data.len() as u64);
        let (pos, data) = (pos + skip, &data[skip as usize..]);
        if data.is_empty() {
            return Ok(());
        }
        let at = pos as i64;
        self.write(|tx| {
            tx.query_typed(
                "INSERT INTO run_logs (run_id, pos, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[(&run_id, Type::INT8), (&at, Type::INT8), (&data, Type::BYTEA)],
            )?;
            // What lies more than the cap before the end goes, so the database holds at
            // most the last `cap` bytes.
            trim_tx(tx, run_id, keep_from)
        })
    }

    fn trim_log(&mut self, run_id: i64, from: u64) -> Result<()> {
        self.write(|tx| trim_tx(tx, run_id, from))
    }

    /// The same connection (its statements are short, and a second connection would
    /// cost the database a backend at every run's start), under the same fence.
    fn log_writer(&self) -> Result<Option<Box<dyn LogStore + Send>>> {
        Ok(Some(Box::new(PgStore {
            client: std::sync::Arc::clone(&self.client),
            url: self.url.clone(),
            dir: self.dir.clone(),
            host: self.host.clone(),
            fence: self.fence.clone(),
        })))
    }

    fn read_log(&self, run_id: i64, from: u64, max: usize) -> Result<StoredLog> {
        let (dropped, end): (i64, i64) = self
            .query_opt(
                "SELECT COALESCE(min(pos), 0), COALESCE(max(pos + length(data)), 0) FROM run_logs WHERE run_id = $1",
                &[(&run_id, Type::INT8)],
            )?
            .map(|r| (r.get(0), r.get(1)))
            .unwrap_or((0, 0));
        let from = from.clamp(dropped as u64, (end as u64).max(dropped as u64));
        let at = from as i64;
        let mut out = StoredLog {
            dropped: dropped as u64,
            data: Vec::new(),
            next: from,
            end: end as u64,
        };
        if max == 0 || from >= end as u64 {
            return Ok(out);
        }
        let rows = self.query(
            "SELECT pos, data FROM run_logs WHERE run_id = $1 AND pos + length(data) > $2 ORDER BY pos LIMIT 64",
            &[(&run_id, Type::INT8), (&at, Type::INT8)],
        )?;
        for r in &rows {
            let pos = r.get::<_, i64>(0) as u64;
            let data: &[u8] = r.get(1);
            if out.data.len() >= max {
                break;
            }
            if pos > out.next {
                if !out.data.is_empty() {
                    break; // a gap (output freed before it was copied): the next call
                }
                out.next = pos;
            }
            let skip = (out.next - pos) as usize;
            let take = (data.len() - skip).min(max - out.data.len());
            out.data.extend_from_slice(&data[skip..skip + take]);
            out.next += take as u64;
        }
        Ok(out)
    }
}
