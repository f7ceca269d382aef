//! Unit tests of how a run's end is said and recorded (pure rules).

use super::*;

#[test]
fn a_cancelled_end_names_who_cancelled_it() {
    let stopped = || {
        let mut e = RunEnd::new(RunStatus::Cancelled, 0);
        e.error = Some(EndError::stopped(
            "cancelled: its supervisor received SIGTERM",
            "with SIGTERM",
        ));
        e
    };
    let mut e = stopped();
    e.name_canceller(Some("cancelled by jobctl cancel (user a, pid 1)".into()));
    assert_eq!(
        e.error_text().unwrap(),
        "cancelled by jobctl cancel (user a, pid 1); stopped the process tree with SIGTERM"
    );
    let mut e = stopped();
    e.name_canceller(None);
    assert_eq!(
        e.error_text().unwrap(),
        "cancelled: its supervisor received SIGTERM (a shutdown or a signal sent to it, \
         not jobctl cancel); stopped the process tree with SIGTERM"
    );
    let mut plain = RunEnd::new(RunStatus::Cancelled, 0);
    plain.error = Some(EndError::new(
        "cancelled: jobctl received SIGTERM during the pre_run hook",
    ));
    plain.name_canceller(None);
    assert_eq!(
        plain.error_text().unwrap(),
        "cancelled: jobctl received SIGTERM during the pre_run hook",
        "a tree it did not stop is not said to be"
    );
    plain.name_canceller(Some("cancelled by the API".into()));
    assert_eq!(plain.error_text().unwrap(), "cancelled by the API");
}

#[test]
fn survivors_are_said_after_how_the_tree_was_stopped() {
    let mut e = RunEnd::new(RunStatus::TimedOut, 0);
    e.error = Some(EndError::stopped("timed out after 2s", "with SIGTERM"));
    e.with_left("1 process could not be killed (pid 7 user root)".into());
    assert_eq!(
        e.error_text().unwrap(),
        "timed out after 2s; stopping the process tree with SIGTERM: 1 process could not be killed (pid 7 user root)"
    );
    let mut clean = RunEnd::new(RunStatus::Succeeded, 0);
    clean.with_left("1 process could not be killed (pid 7 user root)".into());
    assert_eq!(
        clean.error_text().unwrap(),
        "1 process could not be killed (pid 7 user root)"
    );
}

#[test]
fn an_end_error_reads_as_one_line() {
    let mut e = EndError::stopped("timed out after 2s", "with SIGTERM");
    assert_eq!(
        e.to_string(),
        "timed out after 2s; stopped the process tree with SIGTERM"
    );
    e.then.push("push failed".into());
    assert_eq!(
        e.to_string(),
        "timed out after 2s; stopped the process tree with SIGTERM; push failed"
    );
    e.left = Some("1 process could not be killed (pid 7 user root)".into());
    assert_eq!(
        e.to_string(),
        "timed out after 2s; stopping the process tree with SIGTERM; push failed: \
         1 process could not be killed (pid 7 user root)"
    );
    let mut plain = EndError::new("exited with code 2");
    assert_eq!(plain.to_string(), "exited with code 2");
    plain.left = Some("1 process could not be killed (pid 7 user root)".into());
    assert_eq!(
        plain.to_string(),
        "exited with code 2; 1 process could not be killed (pid 7 user root)"
    );
    let hook = EndError::stopped(
        "timed out during the pre_run hook; the job did not start",
        "",
    );
    assert_eq!(
        hook.to_string(),
        "timed out during the pre_run hook; the job did not start; stopped the process tree"
    );
}

fn held(unstarted: bool) -> Held {
    Held {
        status: RunStatus::Running,
        agent: Some("claude".into()),
        model: Some("haiku".into()),
        cost_milli: Some(1_000),
        reserve_day: Some("2026-03-28".into()),
        reserve_epoch: 2,
        unstarted,
    }
}

fn lost(refund_unstarted: bool) -> RunEnd {
    let mut e = RunEnd::new(RunStatus::Lost, 9);
    e.refund_unstarted = refund_unstarted;
    e.usage.agent = Some("other".into());
    e
}

#[test]
fn a_run_lost_before_its_agent_started_gives_its_reservation_back() {
    let c = lost(true).closing(held(true));
    assert_eq!(
        c.refund,
        Some(Ticket {
            agent: "claude".into(),
            day: "2026-03-28".into(),
            cost: 1_000,
            epoch: 2
        })
    );
    assert_eq!(
        (c.agent.as_deref(), c.model.as_deref(), c.cost_milli),
        (Some("claude"), Some("haiku"), None),
        "it keeps its agent, not the cost given back"
    );
}

#[test]
fn a_lost_run_whose_agent_may_have_started_keeps_its_charge() {
    for c in [
        lost(true).closing(held(false)),
        lost(false).closing(held(true)),
    ] {
        assert_eq!(c.refund, None);
        assert_eq!(
            (c.agent.as_deref(), c.cost_milli),
            (Some("claude"), Some(1_000))
        );
    }
    let mut gone = held(true);
    gone.reserve_day = None;
    assert_eq!(
        lost(true).closing(gone).refund,
        None,
        "nothing held, nothing given"
    );
}

#[test]
fn any_other_end_records_its_own_agent() {
    let mut e = RunEnd::new(RunStatus::Failed, 9);
    e.refund_unstarted = true;
    e.usage.agent = Some("codex".into());
    e.usage.cost_milli = Some(5);
    let c = e.closing(held(true));
    assert_eq!(c.refund, None);
    assert_eq!(
        (c.agent.as_deref(), c.model, c.cost_milli),
        (Some("codex"), None, Some(5))
    );
}
