//! The contract every store backend must pass: one suite written against the store traits
//! (`jobctl::store`), run against each backend by a module of its own ([`sqlite`],
//! [`postgres`]) as one test per check, each on a fresh store: `contract::sqlite::` and
//! `contract::postgres::` name them, and one failing check hides no other. The guarantees
//! that make several jobctl processes safe are checked here with real concurrency: handles
//! opened separately, racing from threads. A backend several hosts share passes two more
//! parts: the run logs it keeps ([`logs`]) and its fenced writes ([`fences`]).

/// One `#[test]` per contract check in the calling module, each on the fresh store that
/// `$fresh()` returns (`None`: the backend is not installed here, and the check says so).
/// `contract_tests!(fresh)` makes the checks every backend passes; `contract_tests!(fresh;
/// logs, fences)` adds those of a store that keeps run logs and fences its writes.
macro_rules! contract_tests {
    (@logs $fresh:path) => {
        contract_tests!(@checks $fresh;
            a_log_is_appended_by_position_and_read_in_slices,
            a_log_keeps_the_last_cap_bytes,
            a_log_followed_while_it_is_written_reads_each_byte_once_in_order,
            an_ended_runs_log_is_read_back_and_goes_with_the_run
        );
    };
    (@fences $fresh:path) => {
        contract_tests!(@checks $fresh;
            a_write_under_a_superseded_lease_is_refused_and_changes_nothing
        );
    };
    (@checks $fresh:path; $($check:ident),+) => {
        $(
            #[test]
            fn $check() {
                if let Some(b) = $fresh(stringify!($check)) {
                    $crate::contract::$check(&b);
                }
            }
        )+
    };
    ($fresh:path $(; $($part:ident),+)?) => {
        contract_tests!(@checks $fresh;
            a_slot_is_claimed_once,
            a_job_has_one_running_run,
            racing_claims_of_one_slot_give_one_run,
            a_run_is_closed_once_with_everything_it_recorded,
            history_latest_and_failures,
            pages_of_runs_go_back_by_id_under_their_filters,
            runs_are_counted_by_job_and_status,
            the_first_answer_to_a_key_is_kept_for_a_day,
            pruning_keeps_the_newest_and_running_runs,
            a_run_keeps_its_workspace_changes_and_hooks,
            pruning_keeps_runs_whose_worktree_is_on_disk,
            a_runs_events_are_read_oldest_first,
            job_states_round_trip,
            events_are_appended_and_read_newest_first,
            events_become_visible_in_id_order,
            meta_round_trips,
            reservations_stop_at_the_budget_and_disable_the_scope,
            racing_reservations_grant_exactly_the_budget,
            a_release_after_a_reset_gives_nothing_back,
            a_lost_run_gives_back_only_an_unstarted_reservation,
            the_budget_day_moves_forward_only_and_clears_by_kind,
            scopes_are_set_with_reasons_and_events,
            a_logged_out_agent_is_disabled_in_every_scope_at_once,
            queued_runs_wait_in_order_and_start_once_under_their_limits,
            racing_starts_of_a_queued_run_start_it_once,
            transitions_move_once_with_their_event_and_refuse_the_rest,
            control_requests_are_taken_only_by_runs_not_ended,
            a_failed_run_and_its_retry_are_made_at_once,
            descendants_and_the_latest_successes_are_found,
            events_are_read_in_order_after_an_id,
            racing_reservations_stop_at_the_tree_budget,
            racing_enqueues_of_one_job_queue_one_run,
            racing_starts_stop_at_the_depth_limit,
            a_paused_run_holds_its_lease,
            racing_reservations_from_several_agents_stop_at_the_tree_budget
        );
        $($(contract_tests!(@$part $fresh);)+)?
    };
}

// The parts of a store several hosts share: only PostgreSQL is one.
#[cfg(feature = "postgres")]
mod fences;
#[cfg(feature = "postgres")]
mod logs;
mod pages;
#[cfg(feature = "postgres")]
mod postgres;
mod racing_control;
mod sqlite;

#[cfg(feature = "postgres")]
pub use fences::*;
#[cfg(feature = "postgres")]
pub use logs::*;
pub use pages::*;
pub use racing_control::*;

use std::sync::atomic::{AtomicUsize, Ordering};

use jobctl::core::budget::{ReasonKind, ScopeReason};
use jobctl::core::run::{
    Actor, Attempt, EventKind, NewRun, Outcome, RunEnd, RunStatus, Transition, Trigger,
};
use jobctl::core::workspace::{
    Change, ChangeStatus, HookName, HookResult, PushFailure, WorkspaceInfo,
};
use jobctl::store::{
    Claim, Enqueued, Limits, Load, QueueStart, Reservation, ReserveRequest, Store,
};

/// A backend under test: every call opens a new, independent handle on one store.
pub trait Backend: Sync {
    fn open(&self) -> Box<dyn Store>;
    /// Whether several hosts share this store (it keeps a row per host).
    fn shared_by_hosts(&self) -> bool {
        false
    }
}

fn scheduled(job: &str, slot: i64) -> NewRun {
    NewRun {
        job: job.into(),
        scheduled_for: slot,
        started_at: slot,
        last_slot: Some(slot),
        ..Default::default()
    }
}

fn forced(job: &str, at: i64) -> NewRun {
    NewRun {
        job: job.into(),
        forced: true,
        scheduled_for: at,
        started_at: at,
        ..Default::default()
    }
}

fn end(status: RunStatus, at: i64) -> RunEnd {
    RunEnd::new(status, at)
}

fn claimed(c: Claim) -> jobctl::core::run::RunRecord {
    match c {
        Claim::Claimed(r) => *r,
        other => panic!("expected a claim, got {other:?}"),
    }
}

pub fn a_slot_is_claimed_once<B: Backend>(b: &B) {
    let mut s = b.open();
    let run = claimed(s.claim_run(&scheduled("j", 1_000)).unwrap());
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.scheduled_for, 1_000);
    assert!(
        run.log_path
            .as_deref()
            .unwrap()
            .ends_with(&format!("logs/j/{}.log", run.id))
    );
    assert_eq!(s.job_state("j").unwrap().unwrap().last_slot, Some(1_000));
    assert!(matches!(
        s.claim_run(&scheduled("j", 1_000)).unwrap(),
        Claim::SlotTaken
    ));
    s.finish_run(run.id, &end(RunStatus::Succeeded, 1_100))
        .unwrap();
    assert!(
        matches!(
            s.claim_run(&scheduled("j", 1_000)).unwrap(),
            Claim::SlotTaken
        ),
        "a slot that ran is never claimed again"
    );
    claimed(s.claim_run(&scheduled("j", 2_000)).unwrap());
    claimed(s.claim_run(&scheduled("other", 1_000)).unwrap());
}

pub fn a_job_has_one_running_run<B: Backend>(b: &B) {
    let mut s = b.open();
    let first = claimed(s.claim_run(&forced("j", 1)).unwrap());
    match s.claim_run(&forced("j", 2)).unwrap() {
        Claim::JobRunning(id) => assert_eq!(id, first.id),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.claim_run(&scheduled("j", 5)).unwrap(),
        Claim::JobRunning(_)
    ));
    // Runs under a lease of their own (asks) run side by side.
    for i in 0..3 {
        claimed(
            s.claim_run(&NewRun {
                lock_name: Some(format!("ask/{i}")),
                ..forced("ask", i)
            })
            .unwrap(),
        );
    }
    s.finish_run(first.id, &end(RunStatus::Failed, 3)).unwrap();
    claimed(s.claim_run(&forced("j", 4)).unwrap());
    assert_eq!(s.running_ids().unwrap().len(), 2, "j and ask");
}

pub fn racing_claims_of_one_slot_give_one_run<B: Backend>(b: &B) {
    let won = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let mut s = b.open();
                if let Claim::Claimed(_) = s.claim_run(&scheduled("race", 42)).unwrap() {
                    won.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(
        won.load(Ordering::SeqCst),
        1,
        "exactly one claim of the slot"
    );
    assert_eq!(b.open().history(Some("race"), 10).unwrap().len(), 1);
}

pub fn a_run_is_closed_once_with_everything_it_recorded<B: Backend>(b: &B) {
    let mut s = b.open();
    let run = claimed(s.claim_run(&forced("j", 1_000)).unwrap());
    s.set_run_process(run.id, 77, Some(88)).unwrap();
    let mut e = end(RunStatus::Failed, 4_000);
    e.exit_code = Some(3);
    e.error = Some("exited with code 3".into());
    e.usage.agent = Some("claude".into());
    e.usage.model = Some("haiku".into());
    e.usage.scope = Some("worker".into());
    e.usage.role = Some("admin".into());
    e.usage.cost_milli = Some(1_500);
    e.usage.cost_usd = Some(0.25);
    e.usage.input_tokens = Some(10);
    e.usage.output_tokens = Some(5);
    e.usage.num_turns = Some(2);
    e.usage.tool_calls = Some(1);
    e.attempts = vec![Attempt::new("claude", Outcome::Failed, Some("boom".into()))];
    let closed = s
        .finish_run(run.id, &e)
        .unwrap()
        .expect("closed by this call");
    assert_eq!(closed.status, RunStatus::Failed);
    assert_eq!(closed.duration_ms, Some(3_000));
    assert_eq!((closed.supervisor_pid, closed.pgid), (Some(77), Some(88)));
    assert_eq!(closed.attempts, e.attempts);
    assert_eq!(
        (
            closed.usage.cost_milli,
            closed.usage.tool_calls,
            closed.usage.num_turns
        ),
        (Some(1_500), Some(1), Some(2))
    );
    assert!(
        s.finish_run(run.id, &end(RunStatus::Lost, 9_000))
            .unwrap()
            .is_none(),
        "closed exactly once"
    );
    assert_eq!(
        s.get_run(run.id).unwrap().unwrap().status,
        RunStatus::Failed
    );
    let ends: Vec<_> = s
        .events(None, 100)
        .unwrap()
        .into_iter()
        .filter(|ev| ev.run_id == Some(run.id) && ev.kind == EventKind::RunEnded)
        .collect();
    assert_eq!(ends.len(), 1, "one end event");
}

pub fn history_latest_and_failures<B: Backend>(b: &B) {
    let mut s = b.open();
    let mut ids = Vec::new();
    for (i, status) in [
        RunStatus::Succeeded,
        RunStatus::TimedOut,
        RunStatus::Succeeded,
    ]
    .into_iter()
    .enumerate()
    {
        let r = claimed(s.claim_run(&forced("a", i as i64)).unwrap());
        s.finish_run(r.id, &end(status, i as i64 + 1)).unwrap();
        ids.push(r.id);
    }
    let r = claimed(s.claim_run(&forced("b", 9)).unwrap());
    let h = s.history(None, 10).unwrap();
    assert_eq!(h[0].id, r.id, "newest first");
    assert_eq!(s.history(Some("a"), 2).unwrap().len(), 2);
    let latest = s.latest_runs(&["a", "b", "none"]).unwrap();
    assert_eq!(latest["a"].id, ids[2]);
    assert_eq!(latest["b"].id, r.id);
    assert!(!latest.contains_key("none"));
    assert_eq!(s.latest_run("a").unwrap().unwrap().id, ids[2]);
    assert_eq!(s.last_failure().unwrap().unwrap().id, ids[1]);
    assert_eq!(s.running_runs().unwrap().len(), 1);
}

pub fn pruning_keeps_the_newest_and_running_runs<B: Backend>(b: &B) {
    let mut s = b.open();
    let mut paths = Vec::new();
    for i in 0..5 {
        let r = claimed(s.claim_run(&forced("p", i)).unwrap());
        paths.push(r.log_path.clone().unwrap());
        s.finish_run(r.id, &end(RunStatus::Succeeded, i + 1))
            .unwrap();
    }
    let removed = s.prune_runs("p", 2).unwrap();
    assert_eq!(removed, paths[..3].to_vec());
    assert_eq!(s.history(Some("p"), 10).unwrap().len(), 2);
    assert!(s.prune_runs("p", 2).unwrap().is_empty());
}

fn workspace(path: &str) -> WorkspaceInfo {
    WorkspaceInfo {
        path: path.into(),
        repo: "~/src/app".into(),
        base: "origin/main".into(),
        base_commit: "a".repeat(40),
        branch: "jobctl/j/1".into(),
        ..WorkspaceInfo::default()
    }
}

fn hook(name: HookName, error: Option<&str>) -> HookResult {
    HookResult {
        hook: name,
        command: "curl -fsS https://hc-ping.com/x".into(),
        ok: error.is_none(),
        exit_code: Some(if error.is_some() { 7 } else { 0 }),
        duration_ms: 12,
        error: error.map(String::from),
    }
}

pub fn a_run_keeps_its_workspace_changes_and_hooks<B: Backend>(b: &B) {
    let mut s = b.open();
    let run = claimed(s.claim_run(&forced("w", 1_000)).unwrap());
    let ws = workspace("/tmp/ws/w/1");
    s.set_run_workspace(run.id, &ws, true).unwrap();
    let listed = s.runs_with_worktree().unwrap();
    assert_eq!(listed.len(), 1, "a worktree in use is on disk");
    assert_eq!(listed[0].workspace.as_ref(), Some(&ws));

    let mut e = end(RunStatus::Failed, 2_000);
    let mut kept = ws.clone();
    kept.head_commit = Some("b".repeat(40));
    kept.files_changed = 2;
    kept.insertions = 5;
    kept.deletions = 1;
    kept.kept = true;
    kept.push_failure = Some(PushFailure::Rejected);
    kept.bytes = Some(4096);
    e.workspace = Some(kept.clone());
    e.changes = vec![
        Change {
            path: "src/a.rs".into(),
            status: ChangeStatus::Modified,
            from: None,
            insertions: Some(5),
            deletions: Some(1),
        },
        Change {
            path: "logo.png".into(),
            status: ChangeStatus::Renamed,
            from: Some("old.png".into()),
            insertions: None,
            deletions: None,
        },
    ];
    e.hooks = vec![hook(HookName::PostRun, None)];
    let closed = s.finish_run(run.id, &e).unwrap().unwrap();
    assert_eq!(closed.workspace.as_ref(), Some(&kept));
    assert_eq!(closed.changes, e.changes);
    assert_eq!(closed.hooks, e.hooks);
    assert_eq!(
        s.runs_with_worktree().unwrap().len(),
        1,
        "a kept worktree stays listed"
    );

    s.add_run_hooks(
        run.id,
        &[hook(HookName::OnFailure, Some("on_failure hook exited 7"))],
    )
    .unwrap();
    let got = s.get_run(run.id).unwrap().unwrap();
    assert_eq!(got.hooks.len(), 2, "added after the close: {:?}", got.hooks);
    assert_eq!(
        got.hooks[1].error.as_deref(),
        Some("on_failure hook exited 7")
    );

    let mut removed = kept.clone();
    removed.kept = false;
    removed.removed_at = Some(3_000);
    s.set_run_workspace(run.id, &removed, false).unwrap();
    assert!(s.runs_with_worktree().unwrap().is_empty(), "removed");
    assert_eq!(s.get_run(run.id).unwrap().unwrap().workspace, Some(removed));

    // An end without a workspace leaves the recorded one as it was; one whose worktree
    // was removed is no longer on disk.
    let r2 = claimed(s.claim_run(&forced("w", 4_000)).unwrap());
    s.set_run_workspace(r2.id, &workspace("/tmp/ws/w/2"), true)
        .unwrap();
    s.finish_run(r2.id, &end(RunStatus::Lost, 5_000)).unwrap();
    assert_eq!(s.runs_with_worktree().unwrap().len(), 1);
    let r3 = claimed(s.claim_run(&forced("w", 6_000)).unwrap());
    s.set_run_workspace(r3.id, &workspace("/tmp/ws/w/3"), true)
        .unwrap();
    let mut e3 = end(RunStatus::Succeeded, 7_000);
    e3.workspace = Some(workspace("/tmp/ws/w/3"));
    s.finish_run(r3.id, &e3).unwrap();
    let ids: Vec<i64> = s
        .runs_with_worktree()
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids,
        vec![r2.id],
        "the removed one is gone, the lost one stays"
    );
    assert!(s.get_run(r3.id).unwrap().unwrap().changes.is_empty());
}

pub fn pruning_keeps_runs_whose_worktree_is_on_disk<B: Backend>(b: &B) {
    let mut s = b.open();
    let first = claimed(s.claim_run(&forced("k", 0)).unwrap());
    let mut kept = workspace("/tmp/ws/k/1");
    kept.kept = true;
    let mut e = end(RunStatus::Failed, 1);
    e.workspace = Some(kept.clone());
    s.finish_run(first.id, &e).unwrap();
    for i in 1..5 {
        let r = claimed(s.claim_run(&forced("k", i)).unwrap());
        s.finish_run(r.id, &end(RunStatus::Succeeded, i + 1))
            .unwrap();
    }
    s.prune_runs("k", 2).unwrap();
    let left: Vec<i64> = s
        .history(Some("k"), 10)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        left.len(),
        3,
        "two newest and the one with a kept worktree: {left:?}"
    );
    assert!(left.contains(&first.id));
    kept.kept = false;
    s.set_run_workspace(first.id, &kept, false).unwrap();
    s.prune_runs("k", 2).unwrap();
    assert_eq!(
        s.history(Some("k"), 10).unwrap().len(),
        2,
        "pruned once removed"
    );
}

pub fn a_runs_events_are_read_oldest_first<B: Backend>(b: &B) {
    let mut s = b.open();
    let run = claimed(s.claim_run(&forced("e", 10)).unwrap());
    let other = claimed(s.claim_run(&forced("f", 10)).unwrap());
    s.append_event(
        20,
        EventKind::HookFailed,
        Some("e"),
        Some(run.id),
        &serde_json::json!({"hook": "post_run"}),
    )
    .unwrap();
    s.finish_run(run.id, &end(RunStatus::Succeeded, 30))
        .unwrap();
    s.finish_run(other.id, &end(RunStatus::Succeeded, 30))
        .unwrap();
    let kinds: Vec<EventKind> = s
        .run_events(run.id)
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::RunStarted,
            EventKind::HookFailed,
            EventKind::RunEnded
        ]
    );
    assert!(s.run_events(9_999).unwrap().is_empty());
}

pub fn job_states_round_trip<B: Backend>(b: &B) {
    let mut s = b.open();
    s.record_first_seen(&["x", "y"], 100).unwrap();
    s.record_first_seen(&["x"], 999).unwrap();
    let st = s.job_states().unwrap();
    assert_eq!(st["x"].first_seen, 100, "first seen once");
    s.set_last_slot("x", 500).unwrap();
    s.set_held("x", true).unwrap();
    s.set_paused("x", true, 600, None).unwrap();
    let x = s.job_state("x").unwrap().unwrap();
    assert_eq!((x.last_slot, x.held, x.paused), (Some(500), true, true));
    s.set_paused("x", false, 700, Some(650)).unwrap();
    let x = s.job_state("x").unwrap().unwrap();
    assert_eq!((x.paused, x.last_slot), (false, Some(650)));
    s.repair_job_state("x", 50, Some(60)).unwrap();
    assert_eq!(s.job_state("x").unwrap().unwrap().last_slot, Some(60));
    s.reset_job("x", 800).unwrap();
    let x = s.job_state("x").unwrap().unwrap();
    assert_eq!((x.first_seen, x.last_slot, x.held), (800, None, false));
}

pub fn events_are_appended_and_read_newest_first<B: Backend>(b: &B) {
    let mut s = b.open();
    s.append_event(
        1,
        EventKind::SlotSkipped,
        Some("j"),
        None,
        &serde_json::json!({"n": 1}),
    )
    .unwrap();
    s.append_event(
        2,
        EventKind::CatchUp,
        Some("j"),
        Some(7),
        &serde_json::json!({}),
    )
    .unwrap();
    s.append_event(
        3,
        EventKind::SlotSkipped,
        None,
        None,
        &serde_json::json!({"n": 2}),
    )
    .unwrap();
    let skipped = s.events(Some(EventKind::SlotSkipped), 10).unwrap();
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0].detail["n"], 2, "newest first");
    assert!(skipped[0].id > skipped[1].id);
    let all = s.events(None, 2).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].run_id, Some(7));
}

/// A reader that goes on from the last event id it saw ("everything after N", as a live
/// stream reads) never misses one: while several handles write events at once, on their
/// own and inside the writes that add them (a claim, a close, a pause, a scope), no event
/// becomes visible after one with a higher id.
pub fn events_become_visible_in_id_order<B: Backend>(b: &B) {
    const WRITERS: usize = 4;
    const EACH: i64 = 60;
    let done = AtomicUsize::new(0);
    let ids = |s: &dyn Store| -> Vec<i64> {
        let mut v: Vec<i64> = s
            .events(None, 1_000_000)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        v.reverse();
        v
    };
    let mut stream = Vec::new();
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let done = &done;
            scope.spawn(move || {
                let mut s = b.open();
                let job = format!("ev{w}");
                for i in 0..EACH {
                    match i % 4 {
                        0 => s
                            .append_event(
                                i,
                                EventKind::SlotSkipped,
                                Some(&job),
                                None,
                                &serde_json::json!({"w": w, "i": i}),
                            )
                            .unwrap(),
                        1 => {
                            let r = claimed(s.claim_run(&forced(&job, i)).unwrap());
                            s.finish_run(r.id, &end(RunStatus::Succeeded, i + 1))
                                .unwrap();
                        }
                        2 => s.set_paused(&job, i % 8 == 2, i, None).unwrap(),
                        _ => {
                            let off = ScopeReason::manual("paused by hand");
                            let reason = (i % 8 == 3).then_some(&off);
                            s.set_scope("claude", &job, reason, i).unwrap();
                        }
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        let r = b.open();
        let mut after = 0;
        loop {
            let last = done.load(Ordering::SeqCst) == WRITERS;
            let new: Vec<i64> = ids(&*r).into_iter().filter(|id| *id > after).collect();
            if let Some(last) = new.last() {
                after = *last;
            }
            stream.extend(new);
            if last {
                break;
            }
            std::thread::yield_now();
        }
    });
    let all = ids(&*b.open());
    assert!(
        all.len() >= WRITERS * EACH as usize,
        "{} events written",
        all.len()
    );
    let missed: Vec<&i64> = all.iter().filter(|id| !stream.contains(id)).collect();
    assert!(
        missed.is_empty(),
        "events that became visible after a higher id had been read: {missed:?}"
    );
}

pub fn meta_round_trips<B: Backend>(b: &B) {
    let mut s = b.open();
    assert_eq!(s.get_meta("k").unwrap(), None);
    s.set_meta("k", "v").unwrap();
    s.set_meta("k", "w").unwrap();
    assert_eq!(s.get_meta("k").unwrap().as_deref(), Some("w"));
    let t = jiff::Timestamp::from_millisecond(1_700_000_000_000).unwrap();
    s.set_last_tick(t).unwrap();
    assert_eq!(s.last_tick().unwrap(), Some(t));

    // A tick notes the store's last tick and, on a store several hosts share, the host.
    let later = jiff::Timestamp::from_millisecond(1_700_000_060_000).unwrap();
    let host = jobctl::store::HostRecord {
        name: "h1".into(),
        last_tick: Some(later.as_millisecond()),
        config_digest: Some("abc".into()),
        version: Some("1.0".into()),
    };
    s.record_tick(later, Some(&host)).unwrap();
    assert_eq!(s.last_tick().unwrap(), Some(later));
    let hosts = s.hosts().unwrap();
    if b.shared_by_hosts() {
        assert_eq!(hosts, vec![host.clone()]);
        // A second tick of the host updates its row.
        let again = jobctl::store::HostRecord {
            last_tick: Some(later.as_millisecond() + 1),
            ..host
        };
        s.record_tick(later, Some(&again)).unwrap();
        assert_eq!(s.hosts().unwrap(), vec![again]);
    } else {
        assert!(hosts.is_empty(), "{hosts:?}");
    }
}

fn req<'a>(
    agent: &'a str,
    scope: &'a str,
    day: &'a str,
    cost: i64,
    budget: i64,
) -> ReserveRequest<'a> {
    ReserveRequest {
        agent,
        scope,
        day,
        cost,
        budget,
        now: 1,
        for_run: None,
        tree: &[],
    }
}

pub fn reservations_stop_at_the_budget_and_disable_the_scope<B: Backend>(b: &B) {
    let mut s = b.open();
    s.ensure_scopes(&["a"], &["worker".into(), "backend".into()])
        .unwrap();
    for _ in 0..3 {
        assert!(matches!(
            s.reserve(&req("a", "worker", "d1", 100, 300)).unwrap(),
            Reservation::Reserved(_)
        ));
    }
    match s.reserve(&req("a", "worker", "d1", 100, 300)).unwrap() {
        Reservation::Exhausted(r) => {
            assert!(r.starts_with("quota_exhausted: daily budget reached"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.usage("a", "d1").unwrap(), 300, "0.1 × 3 fits exactly");
    let w = s.scope_state("a", "worker").unwrap().unwrap();
    assert!(!w.enabled);
    assert!(
        s.scope_state("a", "backend").unwrap().unwrap().enabled,
        "other scopes untouched"
    );
    assert!(matches!(
        s.reserve(&req("a", "worker", "d1", 100, 300)).unwrap(),
        Reservation::Disabled(_)
    ));
}

pub fn racing_reservations_grant_exactly_the_budget<B: Backend>(b: &B) {
    let granted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let mut s = b.open();
                for _ in 0..10 {
                    if let Reservation::Reserved(_) =
                        s.reserve(&req("r", "worker", "d", 1_000, 25_000)).unwrap()
                    {
                        granted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert_eq!(
        granted.load(Ordering::SeqCst),
        25,
        "exactly the budget, none lost"
    );
    assert_eq!(b.open().usage("r", "d").unwrap(), 25_000);
}

pub fn a_release_after_a_reset_gives_nothing_back<B: Backend>(b: &B) {
    let mut s = b.open();
    let Reservation::Reserved(old) = s.reserve(&req("a", "worker", "d", 1_000, 10_000)).unwrap()
    else {
        panic!()
    };
    s.reset_budgets(None, 5).unwrap();
    let Reservation::Reserved(new) = s.reserve(&req("a", "worker", "d", 1_000, 10_000)).unwrap()
    else {
        panic!()
    };
    s.release(&old).unwrap();
    assert_eq!(
        s.usage("a", "d").unwrap(),
        1_000,
        "the old ticket took nothing"
    );
    s.release(&new).unwrap();
    assert_eq!(s.usage("a", "d").unwrap(), 0);
}

pub fn a_lost_run_gives_back_only_an_unstarted_reservation<B: Backend>(b: &B) {
    let mut s = b.open();
    let r1 = claimed(s.claim_run(&forced("j1", 1)).unwrap());
    let r2 = claimed(s.claim_run(&forced("j2", 1)).unwrap());
    for r in [&r1, &r2] {
        s.reserve(&ReserveRequest {
            for_run: Some((r.id, Some("m"))),
            ..req("a", "worker", "d", 1_000, 10_000)
        })
        .unwrap();
    }
    s.mark_agent_starting(r2.id).unwrap();
    for r in [&r1, &r2] {
        let mut e = end(RunStatus::Lost, 5);
        e.refund_unstarted = true;
        s.finish_run(r.id, &e).unwrap();
    }
    assert_eq!(
        s.usage("a", "d").unwrap(),
        1_000,
        "only the started call is charged"
    );
    let lost1 = s.get_run(r1.id).unwrap().unwrap();
    let lost2 = s.get_run(r2.id).unwrap().unwrap();
    assert_eq!(
        (lost1.usage.agent.as_deref(), lost1.usage.cost_milli),
        (Some("a"), None)
    );
    assert_eq!(
        (lost2.usage.agent.as_deref(), lost2.usage.cost_milli),
        (Some("a"), Some(1_000))
    );
}

pub fn the_budget_day_moves_forward_only_and_clears_by_kind<B: Backend>(b: &B) {
    let mut s = b.open();
    s.ensure_scopes(
        &["a"],
        &["s1".into(), "s2".into(), "s3".into(), "s4".into()],
    )
    .unwrap();
    assert_eq!(
        s.roll_budget_day("2026-06-02", 0, 1_000).unwrap(),
        "2026-06-02"
    );
    s.reserve(&req("a", "s1", "2026-06-02", 1_000, 10_000))
        .unwrap();
    let reasons = [
        ("s1", ScopeReason::daily_budget("10", "10")),
        ("s2", ScopeReason::from_text("quota_exhausted: 429")),
        ("s3", ScopeReason::from_text("auth_failed: Not logged in")),
        ("s4", ScopeReason::from_text("unavailable: Reconnecting")),
    ];
    for (scope, r) in &reasons {
        s.set_scope("a", scope, Some(r), 0).unwrap();
    }
    assert_eq!(reasons[3].1.kind, ReasonKind::Unavailable);
    // Backwards: the later day stays, usage with it.
    assert_eq!(
        s.roll_budget_day("2026-06-01", 10, 1_000_000).unwrap(),
        "2026-06-02"
    );
    assert_eq!(s.usage("a", "2026-06-02").unwrap(), 1_000);
    // A provider cooldown passed: quota and unavailable come back, not the budget's.
    s.roll_budget_day("2026-06-02", 5_000, 1_000).unwrap();
    let enabled = |s: &dyn Store, scope: &str| s.scope_state("a", scope).unwrap().unwrap().enabled;
    assert_eq!(
        ["s1", "s2", "s3", "s4"].map(|sc| enabled(&*s, sc)),
        [false, true, false, true]
    );
    // A new day: usage from zero, the budget's scope back, auth stays.
    assert_eq!(
        s.roll_budget_day("2026-06-03", 6_000, 1_000_000).unwrap(),
        "2026-06-03"
    );
    assert_eq!(s.usage("a", "2026-06-03").unwrap(), 0);
    assert_eq!(
        ["s1", "s2", "s3", "s4"].map(|sc| enabled(&*s, sc)),
        [true, true, false, true]
    );
}

pub fn scopes_are_set_with_reasons_and_events<B: Backend>(b: &B) {
    let mut s = b.open();
    let r = ScopeReason::manual("token expired");
    assert!(s.set_scope("a", "worker", Some(&r), 1).unwrap());
    assert!(
        !s.set_scope("a", "worker", Some(&r), 2).unwrap(),
        "no change, no event"
    );
    let st = s.scope_state("a", "worker").unwrap().unwrap();
    assert_eq!(st.reason.as_deref(), Some("manual: token expired"));
    assert_eq!(st.disabled_at, Some(1));
    assert!(s.set_scope("a", "worker", None, 3).unwrap());
    assert!(s.scope_state("a", "worker").unwrap().unwrap().enabled);
    assert_eq!(
        s.events(Some(EventKind::ScopeDisabled), 10).unwrap().len(),
        1
    );
    assert_eq!(
        s.events(Some(EventKind::ScopeEnabled), 10).unwrap().len(),
        1
    );
    assert_eq!(s.reset_budgets(None, 4).unwrap(), vec![], "manual stays");
}

pub fn a_logged_out_agent_is_disabled_in_every_scope_at_once<B: Backend>(b: &B) {
    let mut s = b.open();
    let scopes: Vec<String> = ["worker", "backend", "review"].map(String::from).to_vec();
    s.ensure_scopes(&["claude", "codex"], &scopes).unwrap();
    // One scope was off already for another reason: it is logged out too now.
    s.set_scope("claude", "review", Some(&ScopeReason::manual("later")), 1)
        .unwrap();
    let why = ScopeReason::from_text("auth_failed: Not logged in");
    assert_eq!(s.disable_agent("claude", &scopes, &why, 2).unwrap(), 3);
    for sc in &scopes {
        let st = s.scope_state("claude", sc).unwrap().unwrap();
        assert!(!st.enabled, "claude {sc}");
        assert_eq!(st.reason.as_deref(), Some("auth_failed: Not logged in"));
        assert_eq!(st.disabled_at, Some(2));
        assert!(
            s.scope_state("codex", sc).unwrap().unwrap().enabled,
            "codex {sc}"
        );
    }
    assert_eq!(
        s.events(Some(EventKind::ScopeDisabled), 10).unwrap().len(),
        4,
        "one event per scope changed"
    );
    assert_eq!(
        s.disable_agent("claude", &scopes, &why, 3).unwrap(),
        0,
        "no change, no event"
    );
    assert_eq!(
        s.reset_budgets(None, 4).unwrap(),
        vec![],
        "a new day keeps it off"
    );
}

fn queued(job: &str, at: i64, depth: u32, parent: Option<i64>) -> NewRun {
    NewRun {
        job: job.into(),
        forced: true,
        scheduled_for: at,
        started_at: at,
        depth,
        parent_run_id: parent,
        trigger: Trigger::Submit,
        by: Actor::Cli,
        ..Default::default()
    }
}

fn enqueued(e: Enqueued) -> jobctl::core::run::RunRecord {
    match e {
        Enqueued::Queued(r) => *r,
        other => panic!("expected a queued run, got {other:?}"),
    }
}

fn limits(max_running: Option<u32>, depth: Option<u32>, concurrency: u32) -> Limits {
    Limits {
        max_running,
        depth,
        concurrency,
    }
}

pub fn queued_runs_wait_in_order_and_start_once_under_their_limits<B: Backend>(b: &B) {
    let mut s = b.open();
    let a1 = enqueued(s.enqueue_run(&queued("a", 1, 0, None), false).unwrap());
    assert_eq!(a1.status, RunStatus::Queued);
    assert_eq!(a1.trigger, Trigger::Submit);
    let b1 = enqueued(s.enqueue_run(&queued("b", 2, 1, None), false).unwrap());
    let a2 = enqueued(s.enqueue_run(&queued("a", 3, 0, None), false).unwrap());
    match s.enqueue_run(&queued("a", 4, 0, None), true).unwrap() {
        Enqueued::AlreadyQueued(id) => assert_eq!(id, a1.id),
        other => panic!("{other:?}"),
    }
    // A scheduled slot is claimed once, queued or not.
    let slot = NewRun {
        forced: false,
        trigger: Trigger::Scheduled,
        last_slot: Some(50),
        ..queued("c", 50, 0, None)
    };
    enqueued(s.enqueue_run(&slot, false).unwrap());
    assert!(matches!(
        s.enqueue_run(&slot, false).unwrap(),
        Enqueued::SlotTaken
    ));
    assert_eq!(s.job_state("c").unwrap().unwrap().last_slot, Some(50));
    let heads = s.queue_heads().unwrap();
    let order: Vec<(i64, &str, u32, u32)> = heads
        .iter()
        .map(|h| (h.id, h.job.as_str(), h.depth, h.waiting))
        .collect();
    assert_eq!(
        order[..2],
        [(a1.id, "a", 0, 2), (b1.id, "b", 1, 1)],
        "one head per job and depth, oldest first"
    );
    assert_eq!(
        s.queued_runs(10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()[..3],
        [a1.id, b1.id, a2.id]
    );
    assert_eq!(
        s.load().unwrap(),
        Load::default(),
        "queued runs hold no slot"
    );

    let started = match s
        .start_queued(a1.id, None, &limits(Some(1), None, 1), &Actor::Tick, 10)
        .unwrap()
    {
        QueueStart::Started(r) => *r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (started.status, started.started_at),
        (RunStatus::Running, 10)
    );
    assert!(matches!(
        s.start_queued(a1.id, None, &limits(None, None, 9), &Actor::Tick, 11)
            .unwrap(),
        QueueStart::NotQueued
    ));
    // The job's lease is taken (concurrency 1), then max_running is.
    assert!(matches!(
        s.start_queued(a2.id, None, &limits(None, None, 2), &Actor::Tick, 12)
            .unwrap(),
        QueueStart::Full
    ));
    assert!(matches!(
        s.start_queued(
            a2.id,
            Some("a@2"),
            &limits(Some(1), None, 2),
            &Actor::Tick,
            12
        )
        .unwrap(),
        QueueStart::Full
    ));
    let a2s = match s
        .start_queued(
            a2.id,
            Some("a@2"),
            &limits(Some(2), None, 2),
            &Actor::Tick,
            12,
        )
        .unwrap()
    {
        QueueStart::Started(r) => *r,
        other => panic!("{other:?}"),
    };
    assert_eq!(a2s.lock_name.as_deref(), Some("a@2"));
    // A sub-run is held back by its depth's limit, not by max_running.
    assert!(matches!(
        s.start_queued(b1.id, None, &limits(None, Some(0), 1), &Actor::Tick, 13)
            .unwrap(),
        QueueStart::Full
    ));
    match s
        .start_queued(b1.id, None, &limits(None, Some(1), 1), &Actor::Tick, 13)
        .unwrap()
    {
        QueueStart::Started(r) => assert_eq!(r.depth, 1),
        other => panic!("{other:?}"),
    }
    let load = s.load().unwrap();
    assert_eq!(load.top_level, 2);
    assert_eq!((load.by_job["a"], load.by_job["b"]), (2, 1));
    assert_eq!((load.by_depth[&0], load.by_depth[&1]), (2, 1));
    let kinds: Vec<(EventKind, Option<RunStatus>)> = s
        .events_after(Some(a1.id), 0, 10)
        .unwrap()
        .iter()
        .map(|e| (e.kind, e.transition.as_ref().and_then(|t| t.from)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (EventKind::RunQueued, None),
            (EventKind::RunStarted, Some(RunStatus::Queued))
        ]
    );
}

pub fn racing_starts_of_a_queued_run_start_it_once<B: Backend>(b: &B) {
    let run = enqueued(
        b.open()
            .enqueue_run(&queued("q", 1, 0, None), false)
            .unwrap(),
    );
    let won = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for i in 0..8 {
            let won = &won;
            scope.spawn(move || {
                let mut s = b.open();
                // Each under a lease of its own: only the store decides.
                let lease = format!("q@{}", i + 1);
                if let QueueStart::Started(_) = s
                    .start_queued(
                        run.id,
                        Some(&lease),
                        &limits(None, None, 8),
                        &Actor::Tick,
                        5,
                    )
                    .unwrap()
                {
                    won.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(won.load(Ordering::SeqCst), 1, "a queued run starts once");
    let starts = b
        .open()
        .events_after(Some(run.id), 0, 10)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::RunStarted)
        .count();
    assert_eq!(starts, 1);
}

pub fn transitions_move_once_with_their_event_and_refuse_the_rest<B: Backend>(b: &B) {
    let mut s = b.open();
    let run = claimed(s.claim_run(&forced("j", 1_000)).unwrap());
    let pause = Transition::new(
        RunStatus::Running,
        RunStatus::Paused,
        Some("stopped".into()),
        Actor::Api("ci-bot".into()),
    );
    assert!(s.transition(run.id, &pause, 2_000).unwrap());
    assert!(!s.transition(run.id, &pause, 2_001).unwrap(), "once");
    let paused = s.get_run(run.id).unwrap().unwrap();
    assert_eq!(
        (paused.status, paused.paused_at),
        (RunStatus::Paused, Some(2_000))
    );
    assert_eq!(
        s.supervised_runs().unwrap().len(),
        1,
        "a paused run is supervised"
    );
    assert!(s.running_runs().unwrap().is_empty());
    let refused = Transition::new(RunStatus::Paused, RunStatus::Queued, None, Actor::Cli);
    assert!(
        s.transition(run.id, &refused, 2_002).is_err(),
        "not a move runs make"
    );
    let resume = Transition::new(RunStatus::Paused, RunStatus::Running, None, Actor::Cli);
    assert!(s.transition(run.id, &resume, 3_000).unwrap());
    assert_eq!(
        s.get_run(run.id).unwrap().unwrap().started_at,
        1_000,
        "a resumed run keeps its start"
    );
    s.transition(run.id, &pause, 4_000).unwrap();
    // A paused run ends like any.
    let closed = s
        .finish_run(run.id, &end(RunStatus::Cancelled, 5_000))
        .unwrap()
        .expect("closed");
    assert_eq!(closed.status, RunStatus::Cancelled);
    assert!(
        !s.transition(run.id, &resume, 6_000).unwrap(),
        "an end never moves"
    );
    let evs = s.events_after(Some(run.id), 0, 20).unwrap();
    let moves: Vec<(EventKind, Option<RunStatus>, RunStatus, String)> = evs
        .iter()
        .filter_map(|e| {
            let t = e.transition.as_ref()?;
            Some((e.kind, t.from, t.to, t.by.to_wire()))
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            (
                EventKind::RunStarted,
                None,
                RunStatus::Running,
                "supervisor".into()
            ),
            (
                EventKind::RunPaused,
                Some(RunStatus::Running),
                RunStatus::Paused,
                "api:ci-bot".into()
            ),
            (
                EventKind::RunResumed,
                Some(RunStatus::Paused),
                RunStatus::Running,
                "cli".into()
            ),
            (
                EventKind::RunPaused,
                Some(RunStatus::Running),
                RunStatus::Paused,
                "api:ci-bot".into()
            ),
            (
                EventKind::RunEnded,
                Some(RunStatus::Paused),
                RunStatus::Cancelled,
                "supervisor".into()
            ),
        ]
    );
    assert_eq!(
        evs[1].transition.as_ref().unwrap().reason.as_deref(),
        Some("stopped")
    );
    // A queued run is cancelled by a move to its end, once.
    let q = enqueued(s.enqueue_run(&queued("k", 1, 0, None), false).unwrap());
    let cancel = Transition::new(
        RunStatus::Queued,
        RunStatus::Cancelled,
        Some("not wanted".into()),
        Actor::Cli,
    );
    assert!(s.transition(q.id, &cancel, 9).unwrap());
    assert!(!s.transition(q.id, &cancel, 9).unwrap());
    let q = s.get_run(q.id).unwrap().unwrap();
    assert_eq!(
        (q.status, q.ended_at, q.error.as_deref()),
        (RunStatus::Cancelled, Some(9), Some("not wanted"))
    );
}

pub fn control_requests_are_taken_only_by_runs_not_ended<B: Backend>(b: &B) {
    let mut s = b.open();
    let run = claimed(s.claim_run(&forced("j", 1)).unwrap());
    assert_eq!(
        s.request_control(run.id, RunStatus::Paused, &Actor::Cli)
            .unwrap(),
        Some((RunStatus::Running, true))
    );
    let r = s.get_run(run.id).unwrap().unwrap();
    assert_eq!(r.control, Some((RunStatus::Paused, Actor::Cli)));
    let q = enqueued(s.enqueue_run(&queued("q", 1, 0, None), false).unwrap());
    assert_eq!(
        s.request_control(q.id, RunStatus::Paused, &Actor::Cli)
            .unwrap(),
        Some((RunStatus::Queued, false)),
        "a queued run is not paused"
    );
    assert_eq!(
        s.request_control(q.id, RunStatus::Cancelled, &Actor::Tick)
            .unwrap(),
        Some((RunStatus::Queued, true)),
        "but may be cancelled"
    );
    s.finish_run(run.id, &end(RunStatus::Succeeded, 2)).unwrap();
    assert_eq!(
        s.request_control(run.id, RunStatus::Running, &Actor::Cli)
            .unwrap(),
        Some((RunStatus::Succeeded, false))
    );
    assert_eq!(
        s.request_control(999_999, RunStatus::Paused, &Actor::Cli)
            .unwrap(),
        None
    );
}

pub fn a_failed_run_and_its_retry_are_made_at_once<B: Backend>(b: &B) {
    let mut s = b.open();
    let first = claimed(s.claim_run(&scheduled("r", 1_000)).unwrap());
    let retry = NewRun {
        job: "r".into(),
        scheduled_for: 1_000,
        started_at: 2_000,
        trigger: Trigger::Retry,
        attempt: 2,
        retry_of: Some(first.id),
        ..Default::default()
    };
    let (closed, next) = s
        .finish_and_retry(first.id, &end(RunStatus::Failed, 2_000), &retry)
        .unwrap()
        .expect("closed and retried");
    assert_eq!(closed.status, RunStatus::Failed);
    assert_eq!(
        (
            next.status,
            next.trigger,
            next.attempt,
            next.retry_of,
            next.scheduled_for
        ),
        (
            RunStatus::Retrying,
            Trigger::Retry,
            2,
            Some(first.id),
            1_000
        )
    );
    assert!(
        s.finish_and_retry(first.id, &end(RunStatus::Failed, 3_000), &retry)
            .unwrap()
            .is_none(),
        "closed once, retried once"
    );
    assert_eq!(s.history(Some("r"), 10).unwrap().len(), 2);
    // The retry holds the job's lease while it waits: no second run of the job.
    assert!(matches!(
        s.claim_run(&forced("r", 2_500)).unwrap(),
        Claim::JobRunning(id) if id == next.id
    ));
    let start = Transition::new(
        RunStatus::Retrying,
        RunStatus::Running,
        None,
        Actor::Supervisor,
    );
    assert!(s.transition(next.id, &start, 3_000).unwrap());
    assert_eq!(s.get_run(next.id).unwrap().unwrap().started_at, 3_000);
}

pub fn descendants_and_the_latest_successes_are_found<B: Backend>(b: &B) {
    let mut s = b.open();
    let root = claimed(s.claim_run(&forced("root", 1)).unwrap());
    let c1 = enqueued(
        s.enqueue_run(&queued("c", 2, 1, Some(root.id)), false)
            .unwrap(),
    );
    let c2 = enqueued(
        s.enqueue_run(&queued("c", 3, 1, Some(root.id)), false)
            .unwrap(),
    );
    let g = enqueued(
        s.enqueue_run(&queued("g", 4, 2, Some(c1.id)), false)
            .unwrap(),
    );
    enqueued(s.enqueue_run(&queued("other", 5, 0, None), false).unwrap());
    let below: Vec<i64> = s
        .descendants(root.id)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(below, vec![c1.id, c2.id, g.id]);
    assert_eq!(s.descendants(c1.id).unwrap()[0].parent_run_id, Some(c1.id));
    assert!(s.descendants(g.id).unwrap().is_empty());
    let a = claimed(s.claim_run(&forced("a", 1)).unwrap());
    s.finish_run(a.id, &end(RunStatus::Succeeded, 2)).unwrap();
    let a2 = claimed(s.claim_run(&forced("a", 3)).unwrap());
    s.finish_run(a2.id, &end(RunStatus::Failed, 4)).unwrap();
    let ok = s.latest_succeeded(&["a", "root", "none"]).unwrap();
    assert_eq!(
        ok.get("a"),
        Some(&a.id),
        "the latest that succeeded, not the latest"
    );
    assert!(!ok.contains_key("root") && !ok.contains_key("none"));
}

pub fn events_are_read_in_order_after_an_id<B: Backend>(b: &B) {
    let mut s = b.open();
    assert_eq!(s.last_event_id().unwrap(), 0);
    let r = claimed(s.claim_run(&forced("j", 1)).unwrap());
    s.append_event(
        2,
        EventKind::SlotSkipped,
        Some("x"),
        None,
        &serde_json::json!({}),
    )
    .unwrap();
    s.finish_run(r.id, &end(RunStatus::Succeeded, 3)).unwrap();
    let all = s.events_after(None, 0, 100).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert_eq!(s.last_event_id().unwrap(), all[2].id);
    let after = s.events_after(None, all[0].id, 100).unwrap();
    assert_eq!(after.len(), 2);
    let of_run = s.events_after(Some(r.id), 0, 100).unwrap();
    assert_eq!(
        of_run.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EventKind::RunStarted, EventKind::RunEnded]
    );
    assert!(all[1].transition.is_none(), "not a change of state");
}

/// A forced run `root` and `n` sub-runs of it, queued and started: their ids.
fn root_with_started_kids(s: &mut dyn Store, n: i64) -> (jobctl::core::run::RunRecord, Vec<i64>) {
    let root = claimed(s.claim_run(&forced("root", 1)).unwrap());
    let kids = (0..n)
        .map(|i| {
            let q = enqueued(
                s.enqueue_run(&queued("kid", i, 1, Some(root.id)), false)
                    .unwrap(),
            );
            match s
                .start_queued(
                    q.id,
                    Some(&format!("kid@{}", i + 1)),
                    &limits(None, None, 20),
                    &Actor::Tick,
                    5,
                )
                .unwrap()
            {
                QueueStart::Started(r) => r.id,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    (root, kids)
}

pub fn racing_reservations_stop_at_the_tree_budget<B: Backend>(b: &B) {
    let mut s = b.open();
    s.ensure_scopes(&["a"], &["worker".into()]).unwrap();
    let (root, kids) = root_with_started_kids(&mut *s, 12);
    let granted = AtomicUsize::new(0);
    let tree = [(root.id, 5_000)];
    std::thread::scope(|scope| {
        for kid in &kids {
            let (granted, tree) = (&granted, &tree);
            scope.spawn(move || {
                let mut s = b.open();
                let r = s
                    .reserve(&ReserveRequest {
                        for_run: Some((*kid, Some("m"))),
                        tree,
                        ..req("a", "worker", "d", 1_000, 100_000)
                    })
                    .unwrap();
                match r {
                    Reservation::Reserved(_) => {
                        granted.fetch_add(1, Ordering::SeqCst);
                    }
                    Reservation::OverTree(why) => {
                        assert!(why.contains("tree budget"), "{why}")
                    }
                    other => panic!("{other:?}"),
                }
            });
        }
    });
    assert_eq!(
        granted.load(Ordering::SeqCst),
        5,
        "exactly the tree's budget"
    );
    assert_eq!(s.usage("a", "d").unwrap(), 5_000);
    assert!(
        s.scope_state("a", "worker").unwrap().unwrap().enabled,
        "a tree's budget disables no scope"
    );
}
