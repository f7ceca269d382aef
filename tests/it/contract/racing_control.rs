//! Run control under racing handles: what the queue, a lease and a tree budget guarantee
//! when several processes (on several hosts, for a shared store) act at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use jobctl::core::run::{Actor, RunStatus, Transition};
use jobctl::store::{Claim, Enqueued, QueueStart, Reservation, ReserveRequest};

use super::{Backend, claimed, enqueued, forced, limits, queued, req};

/// Eight handles queueing a run of one job that wants one queued run at most: one is
/// queued, and the others are told which.
pub fn racing_enqueues_of_one_job_queue_one_run<B: Backend>(b: &B) {
    let queued_ids = std::sync::Mutex::new(Vec::new());
    let already = AtomicUsize::new(0);
    let ready = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        for i in 0..8 {
            let (queued_ids, already, ready) = (&queued_ids, &already, &ready);
            scope.spawn(move || {
                let mut s = b.open();
                ready.wait();
                match s.enqueue_run(&queued("dep", i, 0, None), true).unwrap() {
                    Enqueued::Queued(r) => queued_ids.lock().unwrap().push(r.id),
                    Enqueued::AlreadyQueued(_) => {
                        already.fetch_add(1, Ordering::SeqCst);
                    }
                    other => panic!("{other:?}"),
                }
            });
        }
    });
    let ids = queued_ids.into_inner().unwrap();
    assert_eq!(ids.len(), 1, "one queued run: {ids:?}");
    assert_eq!(already.load(Ordering::SeqCst), 7);
    assert_eq!(b.open().queued_runs(10).unwrap().len(), 1);
}

/// Twelve queued sub-runs at depth 1, each started by a handle of its own under a lease
/// of its own: the depth's limit (3) is never passed, however they race.
pub fn racing_starts_stop_at_the_depth_limit<B: Backend>(b: &B) {
    let mut s = b.open();
    let root = claimed(s.claim_run(&forced("root", 1)).unwrap());
    let runs: Vec<i64> = (0..12)
        .map(|i| {
            enqueued(
                s.enqueue_run(&queued("kid", i, 1, Some(root.id)), false)
                    .unwrap(),
            )
            .id
        })
        .collect();
    let started = AtomicUsize::new(0);
    let ready = std::sync::Barrier::new(runs.len());
    std::thread::scope(|scope| {
        for (i, id) in runs.iter().enumerate() {
            let (started, ready) = (&started, &ready);
            scope.spawn(move || {
                let mut s = b.open();
                ready.wait();
                let lease = format!("kid@{}", i + 1);
                match s
                    .start_queued(
                        *id,
                        Some(&lease),
                        &limits(None, Some(3), 20),
                        &Actor::Tick,
                        5,
                    )
                    .unwrap()
                {
                    QueueStart::Started(_) => {
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                    QueueStart::Full => {}
                    other => panic!("{other:?}"),
                }
            });
        }
    });
    assert_eq!(
        started.load(Ordering::SeqCst),
        3,
        "exactly the depth's limit"
    );
    let load = b.open().load().unwrap();
    assert_eq!(load.by_depth.get(&1), Some(&3));
    assert_eq!(b.open().queued_runs(20).unwrap().len(), 9);
}

/// A paused run holds its lease as a running one does: no claim and no queued start under
/// it until it ends.
pub fn a_paused_run_holds_its_lease<B: Backend>(b: &B) {
    let mut s = b.open();
    let run = claimed(s.claim_run(&forced("p", 1)).unwrap());
    let pause = Transition::new(RunStatus::Running, RunStatus::Paused, None, Actor::Cli);
    assert!(s.transition(run.id, &pause, 2).unwrap());
    assert!(matches!(
        b.open().claim_run(&forced("p", 3)).unwrap(),
        Claim::JobRunning(id) if id == run.id
    ));
    let q = enqueued(s.enqueue_run(&queued("p", 4, 0, None), false).unwrap());
    assert!(matches!(
        s.start_queued(q.id, None, &limits(None, None, 5), &Actor::Tick, 5)
            .unwrap(),
        QueueStart::Full
    ));
    s.finish_run(run.id, &super::end(RunStatus::Cancelled, 6))
        .unwrap()
        .expect("closed");
    assert!(matches!(
        s.start_queued(q.id, None, &limits(None, None, 5), &Actor::Tick, 7)
            .unwrap(),
        QueueStart::Started(_)
    ));
}

/// Runs of one tree reserving from different agents at once: each agent's own budget is
/// far away, the tree's budget is what they share, and it is never passed.
pub fn racing_reservations_from_several_agents_stop_at_the_tree_budget<B: Backend>(b: &B) {
    let mut s = b.open();
    let agents = ["a1", "a2", "a3", "a4"];
    s.ensure_scopes(&agents, &["worker".into()]).unwrap();
    let (root, kids) = super::root_with_started_kids(&mut *s, 12);
    let granted = AtomicUsize::new(0);
    let tree = [(root.id, 5_000)];
    // Every handle open first, then all reserve at once.
    let ready = std::sync::Barrier::new(kids.len());
    std::thread::scope(|scope| {
        for (i, kid) in kids.iter().enumerate() {
            let (granted, tree, ready) = (&granted, &tree, &ready);
            let agent = agents[i % agents.len()];
            scope.spawn(move || {
                let mut s = b.open();
                ready.wait();
                let r = s
                    .reserve(&ReserveRequest {
                        for_run: Some((*kid, Some("m"))),
                        tree,
                        ..req(agent, "worker", "d", 1_000, 100_000)
                    })
                    .unwrap();
                match r {
                    Reservation::Reserved(_) => {
                        granted.fetch_add(1, Ordering::SeqCst);
                    }
                    Reservation::OverTree(why) => assert!(why.contains("tree budget"), "{why}"),
                    other => panic!("{other:?}"),
                }
            });
        }
    });
    assert_eq!(
        granted.load(Ordering::SeqCst),
        5,
        "exactly the tree's budget, whichever agents reserved it"
    );
    let s = b.open();
    let used: i64 = agents.iter().map(|a| s.usage(a, "d").unwrap()).sum();
    assert_eq!(used, 5_000);
}
