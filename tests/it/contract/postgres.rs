//! The store contract (`contract`) against PostgreSQL: each check on a fresh
//! database of one throwaway cluster, its handles separate connections as processes (and
//! hosts) open them. Without PostgreSQL installed it says so and passes (fails under CI).
use crate::contract;
use crate::support::pg;

use std::path::PathBuf;

use jobctl::store::Store;
use jobctl::store::postgres::PgStore;

struct Postgres {
    url: String,
    _dir: tempfile::TempDir,
    state: PathBuf,
}

impl contract::Backend for Postgres {
    fn open(&self) -> Box<dyn Store> {
        Box::new(
            PgStore::open(&self.url, "test-host", &self.state).expect("open the state database"),
        )
    }
    fn shared_by_hosts(&self) -> bool {
        true
    }
}

#[test]
fn postgres_passes_the_store_contract() {
    let Some(cluster) = pg::cluster_or_skip("postgres_passes_the_store_contract") else {
        return;
    };
    contract::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        Postgres {
            url: cluster.create_db(),
            _dir: dir,
            state,
        }
    });
}

/// Where several hosts share the state, `max_running` is each host's own (as the tick
/// counts it): `Load::top_level` counts this host's top-level runs, while a job's
/// `concurrency` and the depth limits count every host's. A queued run is on no host
/// until one starts it, and then on that one.
#[test]
fn max_running_counts_this_hosts_runs_and_a_queued_run_starts_on_its_starter() {
    use jobctl::core::run::{Actor, NewRun, Trigger};
    use jobctl::store::{Claim, Enqueued, Limits, QueueStart, RunStore};
    let Some(cluster) = pg::cluster_or_skip(
        "max_running_counts_this_hosts_runs_and_a_queued_run_starts_on_its_starter",
    ) else {
        return;
    };
    let url = cluster.create_db();
    let dir = tempfile::tempdir().unwrap();
    let open = |host: &str| PgStore::open(&url, host, &dir.path().join(host)).unwrap();
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
