//! The state in PostgreSQL, for several hosts sharing one state (docs/several-hosts.md).
//! Each jobctl process opens one connection (the server keeps a few idle between
//! requests: `idle.rs`); numbered migrations run on first connect in one transaction.
//!
//! The guarantees of the store traits hold across hosts because the database enforces
//! them, not a lock around it: a slot claim is one insert that a unique index on
//! `(job, slot)` lets only one host win, a job's one running run is a unique index too,
//! and a budget reservation locks its usage row for one transaction.
//!
//! Safe behind PgBouncer in transaction pooling mode: every statement is sent with its
//! parameter types (`query_typed`: an unnamed statement, parsed and run in one round trip,
//! so no prepared statement outlives its transaction), serialization uses row locks and
//! transaction-scoped advisory locks only, and nothing relies on session state or LISTEN.
//!
//! Opening a connection is `connect.rs` (reading a URL without one, `url.rs`). Each
//! trait's impl is in the file of its tables (`runs.rs` with `rows.rs`, `queue.rs` for
//! queued runs and run control, `events.rs`, `meta.rs` for meta, hosts and kept
//! answers, ...). A store
//! method reads through `PgStore::query`/`query_opt` and writes through
//! `PgStore::write_one` (one statement) or `write` (a transaction): both are
//! fenced and safe inside the supervisor's event loop. An event it records goes through
//! `events::append_tx` as the last write of its transaction (see `events`); columns it
//! needs come in a new numbered migration (`migrations.rs`).

mod budget;
mod connect;
mod events;
pub(crate) mod idle;
mod jobs;
mod logs;
mod meta;
pub(crate) mod migrate;
pub(crate) mod migrations;
mod queue;
pub(crate) mod reconnect;
mod rows;
mod runs;
mod tls;
pub(crate) mod url;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::{Client, Row, Transaction};

use connect::unreachable;
pub(crate) use connect::{connect, connect_async};
pub(crate) use idle::{Conn, Idle};
use url::location;

use super::{Fence, Store};
use crate::core::error::{Error, Result};

/// A parameter of a statement, with its type: statements are never prepared apart.
pub(crate) type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// "Now" by the database's clock, in ms: leases expire by one clock for every host.
pub(crate) const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Every database error makes the state unusable for the command: exit 74, with the
/// database's own words. A lost connection is told apart ([`Error::Unreachable`]): a
/// supervisor waits that out.
impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Error {
        if reconnect::connection_lost(&e) {
            Error::Unreachable(describe(&e))
        } else {
            Error::State(describe(&e))
        }
    }
}

/// The database's message (with its detail), or the driver's when it has no database
/// error; never the URL (it may hold a password).
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{}: {} ({d})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                let t = inner.to_string();
                if !s.contains(&t) {
                    s = format!("{s}: {t}");
                }
                src = inner.source();
            }
            s
        }
    }
}

/// The state in one PostgreSQL database, as one host sees it.
pub struct PgStore {
    /// Shared with the coordinator of the same command: one connection per process.
    client: Arc<Mutex<Conn>>,
    url: String,
    dir: PathBuf,
    host: String,
    fence: Option<Fence>,
}

impl PgStore {
    /// Connects to `url` as host `host`, and brings the schema up to date. Run logs are
    /// written under `state_dir` as they grow (and kept in the database).
    pub fn open(url: &str, host: &str, state_dir: &Path) -> Result<PgStore> {
        let dir = super::sqlite::ensure_state_dir(state_dir)?;
        let mut client = connect(url, host)?;
        migrations::apply(&mut client).map_err(|e| match e {
            Error::State(m) => Error::State(format!("state database {}: {m}", location(url))),
            Error::Unreachable(m) => unreachable(url, host, &m),
            other => other,
        })?;
        Ok(PgStore {
            client: Arc::new(Mutex::new(Conn::own(client))),
            url: url.to_string(),
            dir,
            host: host.to_string(),
            fence: None,
        })
    }

    /// Like [`PgStore::open`] on a connection from `idle`, whose database's schema was
    /// brought up to date when the first of them was opened with `open`.
    pub(crate) fn reusing(
        idle: &Arc<Idle>,
        url: &str,
        host: &str,
        state_dir: &Path,
    ) -> Result<PgStore> {
        let dir = super::sqlite::ensure_state_dir(state_dir)?;
        Ok(PgStore {
            client: Arc::new(Mutex::new(idle.take()?)),
            url: url.to_string(),
            dir,
            host: host.to_string(),
            fence: None,
        })
    }

    /// The connection, for the coordinator of the same command.
    pub fn connection(&self) -> Arc<Mutex<Conn>> {
        Arc::clone(&self.client)
    }

    /// How long a statement waits out a lost connection: the lease of the fence (a
    /// supervisor's writes, which the database may be away for, and its lease's keeper
    /// stops the run if it is away longer), else not at all (a command says at once that
    /// the database can't be reached).
    fn patience(&self) -> Option<Duration> {
        self.fence
            .as_ref()
            .map(|f| f.lease)
            .filter(|d| !d.is_zero())
    }

    /// Rows of a read.
    pub(crate) fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        self.patiently(|c| Ok(c.query_typed(sql, params)?))
    }

    /// At most one row of a read.
    pub(crate) fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        self.patiently(|c| Ok(c.query_typed_opt(sql, params)?))
    }

    /// One write statement: on its own (atomic, one round trip) without a fence, in a
    /// fenced transaction with one.
    pub(crate) fn write_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        if self.fence.is_none() {
            return self.patiently(|c| Ok(c.query_typed(sql, params)?));
        }
        self.write(|tx| Ok(tx.query_typed(sql, params)?))
    }

    /// A write transaction: under a fence, it holds only while the fence's lease is still
    /// at its epoch (the lease row is share-locked, so a take-over waits for it to end).
    /// `f` may run again when the connection was lost before the commit was known to
    /// land (see [`PgStore::transact`]).
    pub(crate) fn write<T: Send>(
        &mut self,
        f: impl FnMut(&mut Transaction<'_>) -> Result<T> + Send,
    ) -> Result<T> {
        let this = &*self;
        off_runtime(move || this.transact(f))
    }

    /// [`PgStore::write`] on this thread, for `f` that can't move to another: only
    /// outside an event loop (the driver would block it).
    pub(crate) fn in_tx<T>(
        &mut self,
        f: impl FnMut(&mut Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        self.transact(f)
    }

    /// `f` on the connection, once; under a fence, again after a lost connection is
    /// replaced, until the fence's lease has passed.
    fn patiently<T: Send>(&self, mut f: impl FnMut(&mut Client) -> Result<T> + Send) -> Result<T> {
        off_runtime(move || {
            let mut outage: Option<reconnect::Outage> = None;
            loop {
                let done = f(&mut lock(&self.client));
                match done {
                    Err(Error::Unreachable(why)) => self.wait_out(&mut outage, why)?,
                    done => return self.outage_over(outage, done),
                }
            }
        })
    }

    /// A write transaction. Under a fence with patience, a connection lost before the
    /// commit (the transaction rolled back with it) runs `f` again on a new one; lost
    /// during the commit, the transaction's id (read in the fence's check) says on the
    /// new connection whether it landed: then its result stands, else `f` runs again.
    /// So a write is made once, however the outage falls.
    fn transact<T>(&self, mut f: impl FnMut(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut outage: Option<reconnect::Outage> = None;
        loop {
            match self.attempt(&mut f) {
                Attempt::Done(Err(Error::Unreachable(why))) => self.wait_out(&mut outage, why)?,
                Attempt::Done(done) => return self.outage_over(outage, done),
                Attempt::Unsure { xid, out, why } => {
                    self.wait_out(&mut outage, why)?;
                    if self.landed(xid, &mut outage)? {
                        return self.outage_over(outage, Ok(out));
                    }
                }
            }
        }
    }

    /// One try of a write transaction.
    fn attempt<T>(&self, f: &mut impl FnMut(&mut Transaction<'_>) -> Result<T>) -> Attempt<T> {
        let mut client = lock(&self.client);
        let mut tx = match client.transaction() {
            Ok(tx) => tx,
            Err(e) => return Attempt::Done(Err(e.into())),
        };
        let xid = match self.fence.as_ref().map(|fence| check_fence(&mut tx, fence)) {
            Some(Err(e)) => return Attempt::Done(Err(e)),
            Some(Ok(xid)) => Some(xid),
            None => None,
        };
        let out = match f(&mut tx) {
            Ok(out) => out,
            Err(e) => return Attempt::Done(Err(e)),
        };
        match (tx.commit().map_err(Error::from), xid) {
            (Ok(()), _) => Attempt::Done(Ok(out)),
            (Err(Error::Unreachable(why)), Some(xid)) => Attempt::Unsure { xid, out, why },
            (Err(e), _) => Attempt::Done(Err(e)),
        }
    }

    /// Whether transaction `xid`, whose commit's answer was lost, committed: asked on a
    /// new connection, waiting while the database still has it in progress.
    fn landed(&self, xid: i64, outage: &mut Option<reconnect::Outage>) -> Result<bool> {
        loop {
            let status =
                lock(&self.client).query_typed_opt("SELECT txid_status($1)", &[(&xid, Type::INT8)]);
            match status.map_err(Error::from) {
                Ok(row) => match row.and_then(|r| r.get::<_, Option<String>>(0)).as_deref() {
                    Some("committed") => return Ok(true),
                    Some("aborted") => return Ok(false),
                    Some(_) => self.wait_out(outage, "its commit is still in progress".into())?,
                    None => {
                        return Err(Error::State(format!(
                            "the state database no longer knows whether transaction {xid} committed"
                        )));
                    }
                },
                Err(Error::Unreachable(why)) => self.wait_out(outage, why)?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits before the next try of a statement whose connection was lost (`why`), and
    /// replaces the connection; the error to give up with when there is no patience, or
    /// none left.
    fn wait_out(&self, outage: &mut Option<reconnect::Outage>, why: String) -> Result<()> {
        let lost = || {
            Error::Unreachable(format!(
                "host {} lost its connection to the state database {}: {why}",
                self.host,
                location(&self.url)
            ))
        };
        let Some(patience) = self.patience() else {
            return Err(lost());
        };
        let o = outage.get_or_insert_with(|| {
            tracing::warn!(
                "lost the connection to the state database {} ({why}); reconnecting",
                location(&self.url)
            );
            reconnect::Outage::begin()
        });
        if !o.wait(patience) {
            return Err(lost());
        }
        let mut conn = lock(&self.client);
        if conn.is_closed() || conn.simple_query("").is_err() {
            match connect(&self.url, &self.host) {
                Ok(client) => *conn = Conn::own(client),
                Err(e) => tracing::debug!("{e}"),
            }
        }
        Ok(())
    }

    /// `done`, saying how long the outage it outlasted was.
    fn outage_over<T>(&self, outage: Option<reconnect::Outage>, done: Result<T>) -> Result<T> {
        if let Some(o) = outage {
            tracing::info!(
                "reconnected to the state database {} after {:.1} s",
                location(&self.url),
                o.lasted().as_secs_f64()
            );
        }
        done
    }
}

/// How one try of a write transaction went.
enum Attempt<T> {
    Done(Result<T>),
    /// The connection was lost during the commit: transaction `xid` may have landed,
    /// with `out`.
    Unsure {
        xid: i64,
        out: T,
        why: String,
    },
}

/// Runs `f` where the driver may block: the synchronous client drives a runtime of its
/// own, which can't start inside another's (the supervisor's event loop), so there `f`
/// runs on a thread of its own while this one waits.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// The connection, whoever panicked holding it last (a statement is all or nothing).
pub(crate) fn lock(client: &Mutex<Conn>) -> MutexGuard<'_, Conn> {
    client.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a fenced write transaction may sit idle before the server ends it. A
/// supervisor's transactions never wait on anything but the database, so one idle that
/// long is a client cut off mid-write (its host's network gone): ended, its share lock
/// on the lease row goes with it, and no longer holds up the lease's renewal (when the
/// host is back) or its take-over (when it isn't).
const ORPHANED_AFTER: &str = "2s";

/// Fails when `fence`'s lease was taken since: the write that asked changes nothing. The
/// transaction's id, for knowing later whether it committed when the answer to its commit
/// is lost with the connection.
pub(crate) fn check_fence(tx: &mut Transaction<'_>, fence: &Fence) -> Result<i64> {
    let held = tx.query_typed_opt(
        "SELECT txid_current(), set_config('idle_in_transaction_session_timeout', $3, true) \
         FROM leases WHERE key = $1 AND epoch = $2 AND host IS NOT NULL FOR SHARE",
        &[
            (&fence.key, Type::TEXT),
            (&fence.epoch, Type::INT8),
            (&ORPHANED_AFTER, Type::TEXT),
        ],
    )?;
    match held {
        Some(row) => Ok(row.get(0)),
        None => Err(Error::Fenced {
            key: fence.key.clone(),
            epoch: fence.epoch,
        }),
    }
}

impl Store for PgStore {
    fn dir(&self) -> &Path {
        &self.dir
    }

    fn set_fence(&mut self, fence: Option<Fence>) {
        self.fence = fence;
    }

    /// The same connection (a second would cost the database a backend per run), under
    /// the same fence.
    fn share(&self) -> Option<Box<dyn Store>> {
        Some(Box::new(PgStore {
            client: Arc::clone(&self.client),
            url: self.url.clone(),
            dir: self.dir.clone(),
            host: self.host.clone(),
            fence: self.fence.clone(),
        }))
    }
}
