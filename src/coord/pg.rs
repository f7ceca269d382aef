//! Coordination of several hosts through the PostgreSQL state: leases are rows with an
//! owner (host, pid), an expiry by the database's clock, renewed by heartbeats, and an
//! epoch that moves on every time the lease changes hands (the fence: a write made under
//! an older epoch changes nothing). A stop request is a flag on the lease, and a pause or
//! resume request a count on it (`nudges`), that the supervisor's keeper polls, so
//! `jobctl cancel`, `pause` and `resume` on one host reach a run on another.
//!
//! No session state is used (no session advisory locks, no LISTEN): every statement is
//! one autocommit round trip, safe behind PgBouncer's transaction pooling. The tick lease
//! is a file lock in this host's state directory: ticks of one host take turns, while
//! ticks of different hosts race and the database's unique claims decide.

mod keeper;

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::types::Type;

use super::flock::FlockCoordinator;
use super::{
    Coordinator, Handover, Holder, Lease, LeaseNews, Request, StopRequest, TickOutcome,
    is_lock_name,
};
use crate::core::error::{Error, Result};
use crate::store::Fence;
use crate::store::postgres::{Conn, DB_NOW_MS, lock};
use keeper::Keeper;

/// How often a supervisor's keeper looks for a request: cancel, pause and resume reach a
/// run on any host within this (plus acting on it).
pub(crate) const STOP_POLL: Duration = Duration::from_millis(250);

/// What a lease of this host needs to know.
#[derive(Clone)]
struct Ctx {
    url: String,
    host: String,
    lease: Duration,
    client: Arc<Mutex<Conn>>,
}

impl Ctx {
    fn lease_ms(&self) -> i64 {
        self.lease.as_millis().min(i64::MAX as u128) as i64
    }
}

/// The coordinator of one host among several sharing a PostgreSQL state.
pub struct PgCoordinator {
    ctx: Ctx,
    local: FlockCoordinator,
}

impl PgCoordinator {
    /// `client` is the command's connection (the store's); `url` lets a supervisor's
    /// keeper open one of its own.
    pub fn new(
        client: Arc<Mutex<Conn>>,
        url: &str,
        host: &str,
        lease: Duration,
        state_dir: &std::path::Path,
    ) -> PgCoordinator {
        PgCoordinator {
            ctx: Ctx {
                url: url.to_string(),
                host: host.to_string(),
                lease,
                client,
            },
            local: FlockCoordinator::new(state_dir),
        }
    }

    fn lease(&self, key: &str, epoch: i64) -> Box<dyn Lease> {
        Box::new(PgLease {
            ctx: self.ctx.clone(),
            key: key.to_string(),
            epoch,
            handed_over: false,
            keeper: None,
        })
    }
}

/// Whether process `pid` of this host is gone.
fn dead(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    pid > 0
        && pid as u32 != std::process::id()
        && matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        )
}

impl Coordinator for PgCoordinator {
    fn tick(&self, wait: Duration) -> Result<TickOutcome> {
        self.local.tick(wait)
    }

    fn try_lease(&self, key: &str) -> Result<Option<Box<dyn Lease>>> {
        if !is_lock_name(key) {
            return Err(Error::State(format!("{key:?} is not a lease name")));
        }
        let me = i64::from(std::process::id());
        let ms = self.ctx.lease_ms();
        let mut c = lock(&self.ctx.client);
        // Free, released or expired: taken, at the next epoch.
        let taken = c.query_typed_opt(
            &format!(
                "INSERT INTO leases (key, host, pid, run_id, epoch, expires_at, stop_requested, nudges) \
                 VALUES ($1, $2, $3, NULL, 1, {DB_NOW_MS} + $4, FALSE, 0) \
                 ON CONFLICT (key) DO UPDATE SET host = excluded.host, pid = excluded.pid, run_id = NULL, \
                 epoch = leases.epoch + 1, expires_at = excluded.expires_at, stop_requested = FALSE, nudges = 0 \
                 WHERE leases.host IS NULL OR leases.expires_at < {DB_NOW_MS} RETURNING epoch"
            ),
            &[
                (&key, Type::TEXT),
                (&self.ctx.host, Type::TEXT),
                (&me, Type::INT8),
                (&ms, Type::INT8),
            ],
        )?;
        if let Some(r) = taken {
            drop(c);
            return Ok(Some(self.lease(key, r.get(0))));
        }
        // Held by a process of this host that is gone (SIGKILL, OOM): no need to wait
        // for its expiry. Taken only at the epoch seen, so two takers can't both win.
        let Some(row) = c.query_typed_opt(
            "SELECT host, pid, epoch FROM leases WHERE key = $1",
            &[(&key, Type::TEXT)],
        )?
        else {
            return Ok(None);
        };
        let (host, pid, epoch): (Option<String>, Option<i64>, i64) =
            (row.get(0), row.get(1), row.get(2));
        if host.as_deref() != Some(self.ctx.host.as_str()) || !pid.is_some_and(dead) {
            return Ok(None);
        }
        let taken = c.query_typed_opt(
            &format!(
                "UPDATE leases SET pid = $3, run_id = NULL, epoch = epoch + 1, expires_at = {DB_NOW_MS} + $4, \
                 stop_requested = FALSE, nudges = 0 WHERE key = $1 AND epoch = $2 RETURNING epoch"
            ),
            &[
                (&key, Type::TEXT),
                (&epoch, Type::INT8),
                (&me, Type::INT8),
                (&ms, Type::INT8),
            ],
        )?;
        drop(c);
        Ok(taken.map(|r| self.lease(key, r.get(0))))
    }

    unsafe fn adopt(&self, key: &str, from: Handover) -> Result<Box<dyn Lease>> {
        let Handover::Epoch(epoch) = from else {
            return Err(Error::State(format!(
                "the lease on {key} was handed over as a file descriptor, but this state's leases are in the database"
            )));
        };
        let me = i64::from(std::process::id());
        let ms = self.ctx.lease_ms();
        let adopted = lock(&self.ctx.client).query_typed_opt(
            &format!(
                "UPDATE leases SET pid = $4, expires_at = {DB_NOW_MS} + $5 \
                 WHERE key = $1 AND epoch = $2 AND host = $3 RETURNING 1"
            ),
            &[
                (&key, Type::TEXT),
                (&epoch, Type::INT8),
                (&self.ctx.host, Type::TEXT),
                (&me, Type::INT8),
                (&ms, Type::INT8),
            ],
        )?;
        if adopted.is_none() {
            return Err(Error::Fenced {
                key: key.to_string(),
                epoch,
            });
        }
        Ok(self.lease(key, epoch))
    }

    fn holder(&self, key: &str) -> Holder {
        let row = lock(&self.ctx.client).query_typed_opt(
            &format!(
                "SELECT pid, run_id FROM leases WHERE key = $1 AND host IS NOT NULL AND expires_at >= {DB_NOW_MS}"
            ),
            &[(&key, Type::TEXT)],
        );
        match row {
            Ok(Some(r)) => Holder {
                pid: r
                    .get::<_, Option<i64>>(0)
                    .and_then(|p| u32::try_from(p).ok()),
                run_id: r.get(1),
            },
            _ => Holder::default(),
        }
    }

    fn request(&self, key: &str, run_id: i64, what: Request) -> StopRequest {
        let mut c = lock(&self.ctx.client);
        let set = match what {
            Request::Stop => "stop_requested = TRUE",
            Request::Pause | Request::Resume => "nudges = nudges + 1",
        };
        let asked = c.query_typed_opt(
            &format!(
                "UPDATE leases SET {set} WHERE key = $1 AND run_id = $2 AND host IS NOT NULL \
                 AND expires_at >= {DB_NOW_MS} RETURNING pid"
            ),
            &[(&key, Type::TEXT), (&run_id, Type::INT8)],
        );
        match asked {
            Ok(Some(r)) => StopRequest::Sent {
                pid: r
                    .get::<_, Option<i64>>(0)
                    .and_then(|p| u32::try_from(p).ok())
                    .unwrap_or(0),
            },
            Ok(None) => {
                // Its holder stopped heartbeating: gone, and soon closed as lost.
                let expired = c.query_typed_opt(
                    &format!(
                        "SELECT 1 FROM leases WHERE key = $1 AND run_id = $2 AND host IS NOT NULL \
                         AND expires_at < {DB_NOW_MS}"
                    ),
                    &[(&key, Type::TEXT), (&run_id, Type::INT8)],
                );
                match expired {
                    Ok(Some(_)) => StopRequest::Gone,
                    _ => StopRequest::NotHeld,
                }
            }
            Err(e) => StopRequest::Refused {
                pid: 0,
                why: crate::store::postgres::describe(&e),
            },
        }
    }
}

/// A lease of this host, at one epoch.
struct PgLease {
    ctx: Ctx,
    key: String,
    epoch: i64,
    /// A supervisor holds it now (the tick started one): not released on drop.
    handed_over: bool,
    keeper: Option<Keeper>,
}

impl PgLease {
    fn update(&self, sql: &str, pid: i64, run_id: i64) {
        let r = lock(&self.ctx.client).query_typed(
            sql,
            &[
                (&self.key, Type::TEXT),
                (&self.epoch, Type::INT8),
                (&pid, Type::INT8),
                (&run_id, Type::INT8),
            ],
        );
        if let Err(e) = r {
            tracing::warn!(lease = %self.key, "can't record the lease's holder: {e}");
        }
    }
}

impl Lease for PgLease {
    /// A new run under the lease (a retry after its attempt) starts with no stop asked:
    /// a stop asked of the attempt before it was for that attempt.
    fn set_holder(&mut self, pid: u32, run_id: i64) {
        self.update(
            "UPDATE leases SET pid = $3, run_id = $4, \
             stop_requested = stop_requested AND run_id IS NOT DISTINCT FROM $4 \
             WHERE key = $1 AND epoch = $2",
            i64::from(pid),
            run_id,
        );
    }

    fn handover(&self) -> Handover {
        Handover::Epoch(self.epoch)
    }

    fn handed_over(&mut self, pid: u32, run_id: i64) {
        self.set_holder(pid, run_id);
        self.handed_over = true;
    }

    fn keep(&mut self) -> Option<Receiver<LeaseNews>> {
        if self.keeper.is_some() {
            return None;
        }
        let (news, rx) = std::sync::mpsc::channel();
        self.keeper = Some(Keeper::start(
            self.ctx.clone(),
            self.key.clone(),
            self.epoch,
            news,
        ));
        Some(rx)
    }

    fn fence(&self) -> Option<Fence> {
        Some(Fence {
            key: self.key.clone(),
            epoch: self.epoch,
            lease: self.ctx.lease,
        })
    }

    fn remove(mut self: Box<Self>) {
        self.stop_keeper();
        let r = lock(&self.ctx.client).query_typed(
            "DELETE FROM leases WHERE key = $1 AND epoch = $2",
            &[(&self.key, Type::TEXT), (&self.epoch, Type::INT8)],
        );
        if let Err(e) = r {
            tracing::warn!(lease = %self.key, "can't remove the lease: {e}");
        }
        self.handed_over = true; // nothing left to release
    }
}

impl PgLease {
    fn stop_keeper(&mut self) {
        if let Some(k) = self.keeper.take() {
            k.stop();
        }
    }
}

impl Drop for PgLease {
    fn drop(&mut self) {
        self.stop_keeper();
        if self.handed_over {
            return;
        }
        let r = lock(&self.ctx.client).query_typed(
            "UPDATE leases SET host = NULL, pid = NULL, run_id = NULL, stop_requested = FALSE, nudges = 0 \
             WHERE key = $1 AND epoch = $2",
            &[(&self.key, Type::TEXT), (&self.epoch, Type::INT8)],
        );
        if let Err(e) = r {
            // It expires by itself: the job is held back until then, never run twice.
            tracing::warn!(lease = %self.key, "can't release the lease (it expires by itself): {e}");
        }
    }
}
