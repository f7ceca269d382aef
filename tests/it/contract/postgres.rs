//! The store contract against PostgreSQL: each check on a fresh database of one throwaway
//! cluster, its handles separate connections as processes (and hosts) open them. The
//! cluster is started by the first check that needs it and shared by the others (one per
//! test process, stopped when it exits). A store several hosts share keeps run logs and
//! fences its writes: it passes those parts of the contract too. Without PostgreSQL
//! installed each check says so and passes (fails under CI).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobctl::coord::Coordinator;
use jobctl::coord::pg::PgCoordinator;
use jobctl::store::Store;
use jobctl::store::postgres::PgStore;

use super::{Backend, Fenced, TakenOver};
use crate::support::{pg, wait_for};

pub struct Postgres {
    url: String,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// A handle on the store as host `host` opens it (its own state directory).
    fn open_as(&self, host: &str) -> PgStore {
        PgStore::open(&self.url, host, &self.state(host)).expect("open the state database")
    }

    fn state(&self, host: &str) -> PathBuf {
        self.dir.path().join(host)
    }
}

impl Backend for Postgres {
    fn open(&self) -> Box<dyn Store> {
        Box::new(self.open_as("test-host"))
    }
    fn shared_by_hosts(&self) -> bool {
        true
    }
}

impl Fenced for Postgres {
    fn take_over(&self, key: &str) -> TakenOver {
        let coordinator = |host: &str, lease: Duration| {
            let store = self.open_as(host);
            PgCoordinator::new(
                store.connection(),
                &self.url,
                host,
                lease,
                &self.state(host),
            )
        };
        // Host a's lease lasts a millisecond, without heartbeats: a host stopped or cut off.
        let a = coordinator("ha", Duration::from_millis(1));
        let first = a.try_lease(key).unwrap().expect("a free lease");
        let b = coordinator("hb", Duration::from_secs(60));
        let second = wait_for(
            "host b to take the expired lease",
            Duration::from_secs(10),
            || b.try_lease(key).unwrap(),
        );
        // Dropping a's handle releases only a's epoch: b goes on holding the lease.
        TakenOver {
            stale: first.fence().unwrap(),
            current: second.fence().unwrap(),
            holder: Box::new(second),
        }
    }
}

/// The cluster of this test process, started by the first check that asks, stopped when
/// the process exits; `None` (said in one line) when PostgreSQL is not installed here.
fn cluster(check: &str) -> Option<Arc<pg::Cluster>> {
    static SHARED: Mutex<Option<Arc<pg::Cluster>>> = Mutex::new(None);
    extern "C" fn stop() {
        let c = SHARED.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(c);
    }
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = &*shared {
        return Some(Arc::clone(c));
    }
    let c = Arc::new(pg::cluster_or_skip(check)?);
    // SAFETY: `stop` is a plain function that takes the cluster out of a static; it runs
    // once, at exit, after the tests.
    unsafe { nix::libc::atexit(stop) };
    *shared = Some(Arc::clone(&c));
    Some(c)
}

fn fresh(check: &str) -> Option<Postgres> {
    Some(Postgres {
        url: cluster(check)?.create_db(),
        dir: tempfile::tempdir().unwrap(),
    })
}

contract_tests!(fresh; logs, fences);

/// Where several hosts share the state, `max_running` is each host's own (as the tick
/// counts it): `Load::top_level` counts this host's top-level runs, while a job's
/// `concurrency` and the depth limits count every host's. A queued run is on no host
/// until one starts it, and then on that one.
#[test]
fn max_running_counts_this_hosts_runs_and_a_queued_run_starts_on_its_starter() {
    use jobctl::core::run::{Actor, NewRun, Trigger};
    use jobctl::store::{Claim, Enqueued, Limits, QueueStart, RunStore};
    let Some(db) =
        fresh("max_running_counts_this_hosts_runs_and_a_queued_run_starts_on_its_starter")
    else {
        return;
    };
    let open = |host: &str| db.open_as(host);
    let (mut a, mut b) = (open("ha"), open("hb"));
    let forced = |job: &str| NewRun {
        job: job.into(),
        forced: true,
        scheduled_for: 1,
        started_at: 1,
        ..Default::default()
    };
    let Claim::Claimed(on_a) = a.claim_run(&forced("x")).unwrap() else {
        panic!("claimed")
    };
    assert_eq!(on_a.host.as_deref(), Some("ha"));
    let queued = NewRun {
        trigger: Trigger::Submit,
        ..forced("y")
    };
    let Enqueued::Queued(q) = b.enqueue_run(&queued, false).unwrap() else {
        panic!("queued")
    };
    assert_eq!(q.host, None, "on no host while queued");
    assert_eq!(a.load().unwrap().top_level, 1);
    assert_eq!(b.load().unwrap().top_level, 0, "host a's run is not b's");
    let one = Limits {
        max_running: Some(1),
        depth: None,
        concurrency: 1,
    };
    assert!(matches!(
        a.start_queued(q.id, None, &one, &Actor::Tick, 2).unwrap(),
        QueueStart::Full
    ));
    let QueueStart::Started(started) = b.start_queued(q.id, None, &one, &Actor::Tick, 2).unwrap()
    else {
        panic!("started on b")
    };
    assert_eq!(started.host.as_deref(), Some("hb"));
    let load = a.load().unwrap();
    assert_eq!(
        (load.top_level, load.by_depth[&0]),
        (1, 2),
        "depth limits count every host's runs"
    );
}
