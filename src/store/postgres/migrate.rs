//! `jobctl state migrate --to postgres://...`: copies a SQLite state (runs, events, job
//! slot state, agent scopes and usage, metadata) into an empty PostgreSQL database, in one
//! transaction. A database that holds any of these already is refused untouched.

use postgres::types::Type;
use rusqlite::types::Value;

use super::PgStore;
use crate::core::error::{Error, Result};
use crate::core::run::is_own_lease;
use crate::store::rows::{EventCol, RunCol};
use crate::store::sqlite::SqliteStore;

/// What was copied, table by table.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(crate) struct Copied {
    pub(crate) runs: usize,
    pub(crate) events: usize,
    pub(crate) jobs: usize,
    pub(crate) agent_scopes: usize,
    pub(crate) agent_usage: usize,
    pub(crate) meta: usize,
}

const TABLES: &[&str] = &[
    "runs",
    "events",
    "jobs",
    "agent_scopes",
    "agent_usage",
    "meta",
];

/// The columns of a run copied, in the SQLite and PostgreSQL schemas alike: those every
/// SELECT of a run names ([`RunCol`], in its order), then the ones only the stores'
/// own statements use.
fn run_columns() -> Vec<&'static str> {
    let mut all: Vec<&str> = RunCol::ALL.iter().map(|c| c.name()).collect();
    all.extend(["reserve_day", "reserve_epoch", "agent_starting", "worktree"]);
    all
}

/// The columns of the event log copied.
fn event_columns() -> Vec<&'static str> {
    EventCol::ALL.iter().map(|c| c.name()).collect()
}

/// PostgreSQL's type of each SQLite value that is copied.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Bool,
    Real,
    Text,
}

fn kind_of(column: &str) -> Kind {
    match column {
        "forced" | "agent_starting" | "paused" | "held" | "enabled" => Kind::Bool,
        "cost_usd" => Kind::Real,
        "job" | "status" | "error" | "role" | "agent" | "model" | "scope" | "attempts"
        | "log_path" | "reserve_day" | "lock_name" | "survivors" | "kind" | "detail" | "name"
        | "reason" | "reason_kind" | "day" | "key" | "value" | "workspace" | "changes"
        | "hooks" | "worktree" | "trigger_kind" | "control" | "control_by" | "prompt" | "env"
        | "metadata" | "from_status" | "to_status" | "actor" => Kind::Text,
        _ => Kind::Int,
    }
}

/// One value, typed for PostgreSQL.
enum Cell {
    Int(Option<i64>),
    Bool(Option<bool>),
    Real(Option<f64>),
    Text(Option<String>),
}

impl Cell {
    fn of(v: Value, kind: Kind) -> Cell {
        let int = |v: &Value| match v {
            Value::Integer(i) => Some(*i),
            Value::Real(r) => Some(*r as i64),
            Value::Text(t) => t.parse().ok(),
            _ => None,
        };
        match kind {
            Kind::Int => Cell::Int(int(&v)),
            Kind::Bool => Cell::Bool(int(&v).map(|i| i != 0)),
            Kind::Real => Cell::Real(match v {
                Value::Real(r) => Some(r),
                Value::Integer(i) => Some(i as f64),
                _ => None,
            }),
            Kind::Text => Cell::Text(match v {
                Value::Text(t) => Some(t),
                Value::Integer(i) => Some(i.to_string()),
                Value::Real(r) => Some(r.to_string()),
                _ => None,
            }),
        }
    }

    fn param(&self) -> (&(dyn postgres::types::ToSql + Sync), Type) {
        match self {
            Cell::Int(v) => (v, Type::INT8),
            Cell::Bool(v) => (v, Type::BOOL),
            Cell::Real(v) => (v, Type::FLOAT8),
            Cell::Text(v) => (v, Type::TEXT),
        }
    }
}

/// Copies every row of `table` (`columns` of it), with `extra` computed per row.
fn copy_table(
    from: &SqliteStore,
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    columns: &[&str],
    mut extra: impl FnMut(&[Cell]) -> Vec<(String, Cell)>,
) -> Result<usize> {
    let mut st = from.conn.prepare(&format!(
        "SELECT {} FROM {table} ORDER BY rowid",
        columns.join(", ")
    ))?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            cells.push(Cell::of(row.get::<_, Value>(i)?, kind_of(c)));
        }
        let more = extra(&cells);
        let mut names: Vec<&str> = columns.to_vec();
        names.extend(more.iter().map(|(n, _)| n.as_str()));
        let mut params: Vec<(&(dyn postgres::types::ToSql + Sync), Type)> =
            cells.iter().map(Cell::param).collect();
        params.extend(more.iter().map(|(_, c)| c.param()));
        let marks: Vec<String> = (1..=params.len()).map(|i| format!("${i}")).collect();
        tx.query_typed(
            &format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                marks.join(", ")
            ),
            &params,
        )?;
        n += 1;
    }
    Ok(n)
}

/// Copies the SQLite state `from` into the empty PostgreSQL state `to`.
pub(crate) fn sqlite_to_postgres(from: &SqliteStore, to: &mut PgStore) -> Result<Copied> {
    let mut client = super::lock(&to.client);
    let mut tx = client.transaction()?;
    for t in TABLES {
        let any = tx.query_typed_opt(&format!("SELECT 1 FROM {t} LIMIT 1"), &[])?;
        if any.is_some() {
            return Err(Error::Conflict(format!(
                "the PostgreSQL database is not empty (table {t} has rows); jobctl state migrate copies only into an empty one"
            )));
        }
    }
    let mut copied = Copied::default();
    // A scheduled run's claim: its slot, once per (job, slot) (a slot run twice in the old
    // history keeps its claim on the first run only).
    let mut claimed = std::collections::HashSet::new();
    copied.runs = copy_table(from, &mut tx, "runs", &run_columns(), |cells| {
        let job = match &cells[RunCol::Job.at()] {
            Cell::Text(Some(j)) => j.clone(),
            _ => String::new(),
        };
        let forced = matches!(cells[RunCol::Forced.at()], Cell::Bool(Some(true)));
        let asks = match &cells[RunCol::LockName.at()] {
            Cell::Text(l) => is_own_lease(l.as_deref()),
            _ => false,
        };
        let slot = match cells[RunCol::ScheduledFor.at()] {
            Cell::Int(Some(s)) if !forced && !asks && claimed.insert((job, s)) => Some(s),
            _ => None,
        };
        vec![("slot".to_string(), Cell::Int(slot))]
    })?;
    copied.jobs = copy_table(
        from,
        &mut tx,
        "jobs",
        &["name", "first_seen", "last_slot", "paused", "held"],
        |_| Vec::new(),
    )?;
    copied.agent_scopes = copy_table(
        from,
        &mut tx,
        "agent_scopes",
        &[
            "agent",
            "scope",
            "enabled",
            "reason",
            "reason_kind",
            "disabled_at",
        ],
        |_| Vec::new(),
    )?;
    copied.agent_usage = copy_table(
        from,
        &mut tx,
        "agent_usage",
        &["agent", "day", "used_milli", "epoch"],
        |_| Vec::new(),
    )?;
    copied.meta = copy_table(from, &mut tx, "meta", &["key", "value"], |_| Vec::new())?;
    // The events last, under the events lock, as every event insert is (it is the last
    // lock a transaction takes).
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1)",
        &[(&super::events::EVENTS_LOCK, Type::INT8)],
    )?;
    copied.events = copy_table(from, &mut tx, "events", &event_columns(), |_| Vec::new())?;
    // New ids go on after the copied ones.
    for t in ["runs", "events"] {
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{t}', 'id'), GREATEST((SELECT max(id) FROM {t}), 1), (SELECT max(id) FROM {t}) IS NOT NULL)"
        ))?;
    }
    tx.commit()?;
    Ok(copied)
}
