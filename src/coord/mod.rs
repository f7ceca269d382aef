//! Coordination between jobctl processes: leases (who may decide a tick, who supervises a
//! job's run), who holds one, and asking a run's supervisor to stop, pause or resume it.
//! One host shares its state directory through file locks ([`flock`]), and a request is
//! a signal; several hosts sharing a PostgreSQL state keep leases in the database, with
//! an owner, heartbeats and a fencing epoch, and a request as a flag on the lease that
//! the supervisor polls (`pg`).
//!
//! A job's runs are supervised under its lease (`NAME`); a job whose `concurrency` is N
//! has N such leases, `NAME`, `NAME@2` .. `NAME@N`, one per run at a time.

pub mod flock;
#[cfg(feature = "postgres")]
pub mod pg;

use std::os::fd::RawFd;
use std::time::Duration;

use crate::core::error::Result;
use crate::core::run::ASK_LEASE_PREFIX;

/// Who holds a lease, as far as can be told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holder {
    pub(crate) pid: Option<u32>,
    pub(crate) run_id: Option<i64>,
}

/// The right to decide one tick; released when dropped.
pub struct TickGuard {
    _held: Box<dyn Send>,
}

impl TickGuard {
    pub(crate) fn new(held: impl Send + 'static) -> TickGuard {
        TickGuard {
            _held: Box::new(held),
        }
    }
}

pub enum TickOutcome {
    Acquired(TickGuard),
    /// Another tick held it for the whole wait; its pid if known.
    Held(Option<u32>),
}

/// How a lease passes from the tick to the supervisor process it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// A descriptor the child inherits, holding the lease from its start (flock).
    Fd(RawFd),
    /// The lease's epoch: the child takes over the lease still at that epoch.
    Epoch(i64),
}

/// What a lease's keeper learnt while the run went on, reported over the channel
/// [`Lease::keep`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseNews {
    /// Someone asked the run to stop (`jobctl cancel`, on any host).
    StopRequested,
    /// Someone asked the run to pause or resume (on any host): what it should be is
    /// recorded on the run (`RunStore::request_control`).
    ControlRequested,
    /// The lease is no longer this process's: it expired and another host took it, or
    /// heartbeats failed for the whole lease. Nothing more may be recorded for the run.
    Lost,
}

/// The right to supervise a run of one job (or one ask); released when dropped, and by
/// the end of the process that holds it, however it ends (a lease in a database: once it
/// expires without heartbeats).
pub trait Lease: Send {
    /// Says who holds it (for people, and for stop requests).
    fn set_holder(&mut self, pid: u32, run_id: i64);
    /// How a child process takes it over.
    fn handover(&self) -> Handover;
    /// The child process `pid` that supervises run `run_id` holds it now: this handle no
    /// longer releases it when dropped.
    fn handed_over(&mut self, _pid: u32, _run_id: i64) {}
    /// Keeps the lease alive while the run goes on, and reports what happens to it (a
    /// request, the lease lost) over the channel returned. A lease the kernel keeps
    /// (flock) needs nothing, and has nothing to report: `None`.
    fn keep(&mut self) -> Option<std::sync::mpsc::Receiver<LeaseNews>> {
        None
    }
    /// The fence writes about the run are made under (a lease that can be taken from a
    /// holder that is alive, but cut off or stopped).
    fn fence(&self) -> Option<crate::store::Fence> {
        None
    }
    /// Releases it for good: a lease that is never taken again (an ask's).
    fn remove(self: Box<Self>);
}

/// What a run's supervisor is asked to do. What the run should become (and who asked) is
/// recorded in the store first (`RunStore::request_control`); the request tells the
/// supervisor to act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Stop the run (the whole tree) and record it `cancelled`.
    Stop,
    /// Stop its processes (SIGSTOP) and record it `paused`.
    Pause,
    /// Continue them and record it `running`.
    Resume,
}

/// What came of asking a run's supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopRequest {
    /// Asked; the supervisor acts on it and records what it did.
    Sent { pid: u32 },
    /// No process holds the run's lease for it yet (starting) or any more (ending).
    NotHeld,
    /// Its supervisor is gone.
    Gone,
    /// The request could not be made.
    Refused { pid: u32, why: String },
}

pub trait Coordinator {
    /// Takes the right to decide a tick, waiting up to `wait` for another tick.
    fn tick(&self, wait: Duration) -> Result<TickOutcome>;
    /// Takes the lease `key` (a job's name, or an ask's key); `None` when it is held.
    fn try_lease(&self, key: &str) -> Result<Option<Box<dyn Lease>>>;
    /// Takes over a lease handed over by the process that started this one; fails when
    /// it is no longer the one handed over (it expired and was taken).
    ///
    /// # Safety
    /// A [`Handover::Fd`] must be an open descriptor this process owns, carrying `key`.
    unsafe fn adopt(&self, key: &str, from: Handover) -> Result<Box<dyn Lease>>;
    fn holder(&self, key: &str) -> Holder;
    /// Asks the supervisor holding `key` for run `run_id` to do `what`.
    fn request(&self, key: &str, run_id: i64, what: Request) -> StopRequest;
    /// Asks the supervisor holding `key` for run `run_id` to stop it.
    fn request_stop(&self, key: &str, run_id: i64) -> StopRequest {
        self.request(key, run_id, Request::Stop)
    }
}

/// The lease of slot `slot` (1-based) of a job's `concurrency`: `NAME`, then `NAME@2`...
pub(crate) fn slot_key(job: &str, slot: u32) -> String {
    if slot <= 1 {
        job.to_string()
    } else {
        format!("{job}@{slot}")
    }
}

/// The `lock_name` a run under slot `slot` is recorded with (`None`: the job's own).
pub(crate) fn slot_lock_name(job: &str, slot: u32) -> Option<String> {
    (slot > 1).then(|| slot_key(job, slot))
}

/// Whether `name` can name a lease (and a lock file without leaving `locks/`): a job
/// name, or `ask/` and a token of digits and dashes. Keys are read back from the
/// database, so they are checked again.
pub(crate) fn is_lock_name(name: &str) -> bool {
    match name.strip_prefix(ASK_LEASE_PREFIX) {
        Some(t) => !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'-'),
        None => match name.split_once('@') {
            Some((job, slot)) => {
                crate::core::units::is_valid_name(job)
                    && !slot.is_empty()
                    && slot.len() <= 4
                    && slot.bytes().all(|b| b.is_ascii_digit())
            }
            None => crate::core::units::is_valid_name(name),
        },
    }
}

/// A fresh lease key for one `jobctl ask` call.
pub(crate) fn ask_lock_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{ASK_LEASE_PREFIX}{}-{nanos}", std::process::id())
}
