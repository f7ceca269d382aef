//! Numbered schema migrations, applied on open inside one transaction. The schema version
//! lives in `PRAGMA user_version`; a database from a newer jobctl is refused untouched.

use rusqlite::{Connection, TransactionBehavior};

use crate::core::error::{Error, Result};

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE jobs (
        name       TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_slot  INTEGER,
        paused     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE runs (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        job            TEXT NOT NULL,
        status         TEXT NOT NULL,
        forced         INTEGER NOT NULL DEFAULT 0,
        scheduled_for  INTEGER NOT NULL,
        started_at     INTEGER NOT NULL,
        ended_at       INTEGER,
        duration_ms    INTEGER,
        exit_code      INTEGER,
        signal         INTEGER,
        error          TEXT,
        role           TEXT,
        agent          TEXT,
        model          TEXT,
        scope          TEXT,
        cost_milli     INTEGER,
        cost_usd       REAL,
        input_tokens   INTEGER,
        output_tokens  INTEGER,
        num_turns      INTEGER,
        attempts       TEXT,
        log_path       TEXT,
        supervisor_pid INTEGER,
        pgid           INTEGER
    );
    CREATE INDEX runs_by_job ON runs(job, id);
    CREATE INDEX runs_running ON runs(status) WHERE status = 'running';
    CREATE TABLE events (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     INTEGER NOT NULL,
        kind   TEXT NOT NULL,
        job    TEXT,
        run_id INTEGER,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_by_run ON events(run_id);
    CREATE TABLE agent_scopes (
        agent       TEXT NOT NULL,
        scope       TEXT NOT NULL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        reason      TEXT,
        disabled_at INTEGER,
        PRIMARY KEY (agent, scope)
    );
    CREATE TABLE agent_usage (
        agent      TEXT PRIMARY KEY,
        day        TEXT NOT NULL,
        used_milli INTEGER NOT NULL DEFAULT 0
    );
    ",
    // 2: a run remembers the budget reservation it holds, so one whose supervisor died
    // before the agent started can give it back; a job remembers that its due slot was
    // held back (max_running, still running), so the next tick doesn't count it missed.
    "
    ALTER TABLE runs ADD COLUMN reserve_day TEXT;
    ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    ",
    // 3: how many tools an agent called, where its CLI reports it.
    "
    ALTER TABLE runs ADD COLUMN tool_calls INTEGER;
    ",
    // 4: the lock a run's supervisor holds, when it is not the job's own (each `jobctl
    // ask` call has its own lock, so asks run side by side and are recovered like runs).
    // A run notes that its agent is about to start (a supervisor killed after that point
    // may have started it: its reservation is kept). A reservation remembers the budget
    // epoch it was taken in (a reset or a new day starts a new one), so giving it back
    // after a reset can't take from the new count.
    "
    ALTER TABLE runs ADD COLUMN lock_name TEXT;
    ALTER TABLE runs ADD COLUMN reserve_epoch INTEGER;
    ALTER TABLE runs ADD COLUMN agent_starting INTEGER;
    ALTER TABLE agent_usage ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
    ",
    // 5: processes a run left that could not be killed (JSON), for `status` to show.
    "
    ALTER TABLE runs ADD COLUMN survivors TEXT;
    CREATE INDEX runs_with_survivors ON runs(id) WHERE survivors IS NOT NULL;
    ",
    // 6: why a scope is disabled, as a kind beside the text: which reasons a new budget
    // day or a provider cooldown clears is decided by the kind, not by matching text.
    "
    ALTER TABLE agent_scopes ADD COLUMN reason_kind TEXT;
    UPDATE agent_scopes SET reason_kind = CASE
        WHEN reason IS NULL THEN NULL
        WHEN reason LIKE 'quota_exhausted: daily budget reached%' THEN 'daily_budget'
        WHEN reason LIKE 'quota_exhausted:%' THEN 'quota_exhausted'
        WHEN reason LIKE 'auth_failed:%' THEN 'auth_failed'
        WHEN reason LIKE 'unavailable:%' THEN 'unavailable'
        WHEN reason LIKE 'manual:%' THEN 'manual'
        ELSE 'other' END;
    ",
    // 7: what a run did around its job: its git workspace (JSON), the files it changed
    // (JSON), its lifecycle hooks (JSON), and the path of its worktree while that
    // directory is on disk (running or kept), indexed for cleanup and `workspaces`.
    "
    ALTER TABLE runs ADD COLUMN workspace TEXT;
    ALTER TABLE runs ADD COLUMN changes TEXT;
    ALTER TABLE runs ADD COLUMN hooks TEXT;
    ALTER TABLE runs ADD COLUMN worktree TEXT;
    CREATE INDEX runs_with_worktree ON runs(id) WHERE worktree IS NOT NULL;
    ",
    // 8: run control. A run says why it exists (`trigger_kind`; NULL in older rows:
    // read as `forced`, `ask` or `scheduled`), whose sub-run it is and how deep, which
    // attempt of which first run it is, what its supervisor was asked (`control`, by
    // `control_by`), since when it is paused, and the prompt and variables it was given.
    // Runs that are not ended yet are found through one partial index (the old one,
    // `running` only, goes); children through their parent. An event of a run's change
    // of state says from what, to what, why and who made it.
    "
    ALTER TABLE runs ADD COLUMN trigger_kind TEXT;
    ALTER TABLE runs ADD COLUMN parent_run_id INTEGER;
    ALTER TABLE runs ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE runs ADD COLUMN retry_of INTEGER;
    ALTER TABLE runs ADD COLUMN control TEXT;
    ALTER TABLE runs ADD COLUMN control_by TEXT;
    ALTER TABLE runs ADD COLUMN paused_at INTEGER;
    ALTER TABLE runs ADD COLUMN prompt TEXT;
    ALTER TABLE runs ADD COLUMN env TEXT;
    DROP INDEX IF EXISTS runs_running;
    CREATE INDEX runs_active ON runs(status, job, depth)
        WHERE status IN ('queued', 'running', 'paused', 'retrying');
    CREATE INDEX runs_by_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
    ALTER TABLE events ADD COLUMN from_status TEXT;
    ALTER TABLE events ADD COLUMN to_status TEXT;
    ALTER TABLE events ADD COLUMN reason TEXT;
    ALTER TABLE events ADD COLUMN actor TEXT;
    ",
    // 9: the first answer to each API request sent with an Idempotency-Key (24 h), and
    // what a client submitting a run through the API attached to it.
    "
    CREATE TABLE idempotency (
        key        TEXT PRIMARY KEY,
        request    TEXT NOT NULL,
        status     INTEGER NOT NULL,
        location   TEXT,
        body       BLOB NOT NULL,
        at         INTEGER NOT NULL
    );
    CREATE INDEX idempotency_by_age ON idempotency(at);
    ALTER TABLE runs ADD COLUMN metadata TEXT;
    ",
];

pub(crate) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

pub(crate) fn apply(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == latest() {
        return Ok(());
    }
    if version > latest() {
        return Err(newer(version));
    }
    // IMMEDIATE: two processes opening a fresh db at once must not both migrate.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > latest() {
        return Err(newer(version));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

fn newer(version: i64) -> Error {
    Error::State(format!(
        "the state database has schema version {version}, newer than this jobctl understands ({}); upgrade jobctl (the database was left untouched)",
        latest()
    ))
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::store::sql::ACTIVE;

    /// The queries name the runs not ended yet with the term `runs_active` is declared
    /// with, or SQLite would scan the history instead.
    #[test]
    fn the_active_index_is_declared_with_the_queries_term() {
        let declared = MIGRATIONS
            .iter()
            .rev()
            .find_map(|m| m.split("CREATE INDEX runs_active").nth(1))
            .expect("runs_active is declared");
        let term = declared.lines().nth(1).expect("its WHERE line").trim();
        assert_eq!(term, format!("WHERE {ACTIVE};"));
    }
}
