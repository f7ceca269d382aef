//! Several hosts on one PostgreSQL state for the tests, simulated as several
//! `JOBCTL_HOME`s (each its own state dir and config, with its own `[state] host`) against
//! one database of a throwaway cluster, reached straight or through PgBouncer.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::support::{self, Env, pg};
use jobctl::core::run::RunStatus;
use jobctl::store::postgres::PgStore;
use jobctl::store::{EventStore, LogStore, RunStore, StoredLog};

/// The lease of every host here: short, so expiry is seen quickly.
pub const LEASE: &str = "2s";

/// The several-hosts scenarios run one at a time: the timing ones (a lease of 2 s, a
/// request reaching another host within 1 s) must not share two cores with racing ticks.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// One cluster for the several-hosts tests while any of them runs; stopped when the last
/// one drops it.
pub fn cluster(test: &str) -> Option<Arc<pg::Cluster>> {
    static SHARED: Mutex<Weak<pg::Cluster>> = Mutex::new(Weak::new());
    let mut w = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = w.upgrade() {
        return Some(c);
    }
    let c = Arc::new(pg::cluster_or_skip(test)?);
    *w = Arc::downgrade(&c);
    Some(c)
}

/// Where the hosts connect: straight, or through PgBouncer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    Direct,
    Bouncer,
}

/// A fresh database and the URL the hosts use for it.
pub struct Db {
    pub url: String,
    pub cluster: Arc<pg::Cluster>,
    _bouncer: Option<pg::Bouncer>,
}

/// `None` when what it needs is not installed (said in one line).
pub fn db(test: &str, via: Via) -> Option<Db> {
    let cluster = cluster(test)?;
    let direct = cluster.create_db();
    let (url, bouncer) = match via {
        Via::Direct => (direct, None),
        Via::Bouncer => {
            let b = pg::bouncer_or_skip(test, &cluster)?;
            (b.url(&direct), Some(b))
        }
    };
    Some(Db {
        url,
        cluster,
        _bouncer: bouncer,
    })
}

/// Host `name`'s installation: its own home and state, `jobs` (TOML) in its config.
pub fn host(db: &Db, name: &str, jobs: &str) -> Env {
    let env = Env::new();
    env.config(&format!(
        "{}\n[state]\nurl = \"{}\"\nhost = \"{name}\"\nlease = \"{LEASE}\"\n\n{jobs}",
        support::runner(&env, "keep_runs = 1000"),
        db.url
    ));
    env
}

/// A handle on the shared state, as host `host` opens it.
pub fn store(db: &Db, host: &str) -> PgStore {
    let dir = db.cluster.dir().join(format!("store-{host}"));
    PgStore::open(&db.url, host, &dir).expect("open the shared state")
}

/// What a host that lost a run's lease may not change of it once another host closed it:
/// its end (status, time, error, exit code), its events and its log.
#[derive(Debug, PartialEq)]
pub struct Closed {
    pub status: RunStatus,
    pub ended_at: Option<i64>,
    pub error: Option<String>,
    pub exit_code: Option<i64>,
    pub events: usize,
    pub log: StoredLog,
}

impl Closed {
    /// Run `run_id` as the state holds it now.
    pub fn of(s: &PgStore, run_id: i64) -> Closed {
        let r = s.get_run(run_id).unwrap().expect("the run");
        Closed {
            status: r.status,
            ended_at: r.ended_at,
            error: r.error,
            exit_code: r.exit_code,
            events: s
                .events(None, 100_000)
                .unwrap()
                .into_iter()
                .filter(|e| e.run_id == Some(run_id))
                .count(),
            log: s.read_log(run_id, 0, 1 << 24).unwrap(),
        }
    }
}
