//! Fenced writes, for a backend several hosts share: a lease can be taken from a holder
//! that is alive but was stopped or cut off (its lease expired), and then every write that
//! holder makes under its old epoch is refused, as the error that says so (`Error::Fenced`,
//! naming the lease and the epoch), and changes nothing; the new holder's writes go
//! through. (A store only one host uses needs no fence: there a lease can't be taken from a
//! live holder.)

use jobctl::core::error::Error;
use jobctl::core::run::{Actor, EventKind, RunStatus, Transition};
use jobctl::store::Fence;

use super::{Backend, claimed, end, forced, req};

/// A backend whose writes are fenced by leases.
pub trait Fenced: Backend {
    /// One holder takes lease `key`, the lease expires, and another holder takes it over.
    fn take_over(&self, key: &str) -> TakenOver;
}

/// A lease that changed hands.
pub struct TakenOver {
    /// The first holder's fence, superseded.
    pub stale: Fence,
    /// The holder's now.
    pub current: Fence,
    /// What holds the lease now: it is held until this is dropped.
    pub holder: Box<dyn std::any::Any>,
}

/// Asserts `r` is a write refused by `fence`.
#[track_caller]
fn refused<T: std::fmt::Debug>(fence: &Fence, what: &str, r: jobctl::core::error::Result<T>) {
    match r {
        Err(Error::Fenced { key, epoch }) => assert_eq!(
            (key.as_str(), epoch),
            (fence.key.as_str(), fence.epoch),
            "{what}: refused under another fence"
        ),
        Err(e) => panic!("{what}: not refused by the fence: {e}"),
        Ok(v) => panic!("{what} went through under a superseded lease: {v:?}"),
    }
}

pub fn a_write_under_a_superseded_lease_is_refused_and_changes_nothing<B: Fenced>(b: &B) {
    let mut s = b.open();
    s.ensure_scopes(&["a"], &["worker".into()]).unwrap();
    s.record_first_seen(&["j"], 1).unwrap();
    let run = claimed(s.claim_run(&forced("j", 1)).unwrap());
    let events = s.events(None, 100).unwrap().len();
    let TakenOver {
        stale,
        current,
        holder: _holder,
    } = b.take_over("j");
    assert!(current.epoch > stale.epoch, "{stale:?} then {current:?}");

    // The holder that was cut off comes back and writes under its old epoch.
    let mut late = b.open();
    late.set_fence(Some(stale.clone()));
    refused(&stale, "a claim", late.claim_run(&forced("k", 2)));
    refused(
        &stale,
        "a run's end",
        late.finish_run(run.id, &end(RunStatus::Failed, 3)),
    );
    let pause = Transition::new(RunStatus::Running, RunStatus::Paused, None, Actor::Cli);
    refused(&stale, "a transition", late.transition(run.id, &pause, 3));
    refused(
        &stale,
        "an event",
        late.append_event(
            3,
            EventKind::HookFailed,
            Some("j"),
            Some(run.id),
            &serde_json::json!({}),
        ),
    );
    refused(&stale, "a meta value", late.set_meta("late", "yes"));
    refused(&stale, "a job's state", late.set_held("j", true));
    refused(
        &stale,
        "a reservation",
        late.reserve(&req("a", "worker", "d1", 100, 300)),
    );
    refused(
        &stale,
        "a log",
        late.append_log(run.id, 0, b"late output\n", 1 << 20),
    );
    // Its other handles write under the same fence.
    let mut writer = late.log_writer().unwrap().expect("a log writer");
    refused(
        &stale,
        "a log, by its writer",
        writer.append_log(run.id, 0, b"late\n", 1 << 20),
    );
    let mut shared = late.share().expect("a shared handle");
    refused(
        &stale,
        "a meta value, by a shared handle",
        shared.set_meta("late", "yes"),
    );

    // Nothing of it landed, as any other handle sees the store.
    let seen = b.open();
    let r = seen.get_run(run.id).unwrap().unwrap();
    assert_eq!((r.status, r.ended_at), (RunStatus::Running, None));
    assert!(seen.latest_run("k").unwrap().is_none(), "no run claimed");
    assert_eq!(seen.events(None, 100).unwrap().len(), events, "no event");
    assert_eq!(seen.get_meta("late").unwrap(), None);
    assert!(!seen.job_state("j").unwrap().unwrap().held);
    assert_eq!(seen.usage("a", "d1").unwrap(), 0, "nothing reserved");
    assert!(seen.read_log(run.id, 0, 100).unwrap().data.is_empty());

    // The holder now writes under its own epoch.
    let mut now = b.open();
    now.set_fence(Some(current));
    now.set_meta("holder", "b").unwrap();
    assert!(
        now.finish_run(run.id, &end(RunStatus::Succeeded, 4))
            .unwrap()
            .is_some()
    );
    assert_eq!(
        seen.get_run(run.id).unwrap().unwrap().status,
        RunStatus::Succeeded
    );
}
