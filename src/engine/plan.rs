//! What each job should do at "now": the bridge between a job's config, its stored slot
//! state and the pure due rule in [`crate::core::schedule`]. `list`, `run --dry-run` and the
//! tick all ask here, so they never disagree.

use jiff::Timestamp;

use crate::config::Job;
use crate::core::clock::{from_ms, to_ms};
use crate::core::schedule::{self, Decision, DuePolicy, NextSlots, SkipReason, SlotState};
use crate::store::JobState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    Disabled,
    Paused,
    /// No schedule: runs only when forced.
    Manual,
    NotDue {
        next: Option<Timestamp>,
    },
    Due {
        slot: Timestamp,
        missed: bool,
    },
    Skip {
        slot: Timestamp,
        reason: SkipReason,
    },
}

/// The slot state of a job; one never seen is treated as first seen `now`.
pub(crate) fn slot_state(state: Option<&JobState>, now: Timestamp) -> SlotState {
    match state {
        Some(s) => SlotState {
            first_seen: from_ms(s.first_seen),
            last_slot: s.last_slot.map(from_ms),
        },
        None => SlotState {
            first_seen: now,
            last_slot: None,
        },
    }
}

/// A job state whose stored times lie in the future of `now` (the clock was ahead when
/// they were stored, and has been put right): the state to use instead, with the slot the
/// schedule had at or before `now` and a first sighting no later than `now`. `None`: the
/// stored state is sound.
pub(crate) fn repair_future(job: &Job, state: &JobState, now: Timestamp) -> Option<JobState> {
    let now_ms = to_ms(now);
    let slot_ahead = state.last_slot.is_some_and(|l| l > now_ms);
    if !slot_ahead && state.first_seen <= now_ms {
        return None;
    }
    let mut fixed = *state;
    fixed.first_seen = state.first_seen.min(now_ms);
    if slot_ahead {
        fixed.last_slot = job.schedule.as_ref().and_then(|s| {
            schedule::slot_in_place_of_future(
                s,
                &job.timezone,
                from_ms(state.last_slot.unwrap_or(now_ms)),
                now,
            )
            .map(to_ms)
        });
    }
    Some(fixed)
}

/// What `job` should do at `now`. `memo` keeps each job's next slot between commands: a
/// job whose next slot has not come is answered from it without a search.
pub(crate) fn evaluate(
    job: &Job,
    state: Option<&JobState>,
    prev_tick: Option<Timestamp>,
    now: Timestamp,
    memo: &mut NextSlots,
) -> Plan {
    let repaired = state.and_then(|s| repair_future(job, s, now));
    let state = repaired.as_ref().or(state);
    // A previous tick "in the future" was a clock running ahead: it says nothing about
    // which slots were missed.
    let prev_tick = prev_tick.filter(|t| *t <= now);
    if !job.enabled {
        return Plan::Disabled;
    }
    if state.is_some_and(|s| s.paused) {
        return Plan::Paused;
    }
    let Some(sched) = &job.schedule else {
        return Plan::Manual;
    };
    let slots = slot_state(state, now);
    let since = slots.last_slot.unwrap_or(slots.first_seen);
    if let Some(next) = memo.quiet_until(&job.name, sched, &job.timezone, since, now) {
        return Plan::NotDue { next: Some(next) };
    }
    let policy = DuePolicy {
        catch_up: job.catch_up,
        deadline: job.deadline,
    };
    // A slot a tick saw but had to hold back (max_running, still running) stays due: it
    // was not missed.
    let prev_tick = if state.is_some_and(|s| s.held) {
        None
    } else {
        prev_tick
    };
    match schedule::decide(sched, &job.timezone, slots, prev_tick, now, policy) {
        Decision::NotDue { next } => Plan::NotDue { next },
        Decision::Run { slot, missed } => Plan::Due { slot, missed },
        Decision::Skip { slot, reason } => Plan::Skip { slot, reason },
    }
}

/// For a disabled or paused job: the latest slot that has passed, so that enabling or
/// resuming it later does not catch up what passed meanwhile. `None`: nothing to move.
pub(crate) fn passed_slot(
    job: &Job,
    state: Option<&JobState>,
    now: Timestamp,
    memo: &mut NextSlots,
) -> Option<i64> {
    let sched = job.schedule.as_ref()?;
    let st = slot_state(state, now);
    let since = st.last_slot.unwrap_or(st.first_seen);
    if memo
        .quiet_until(&job.name, sched, &job.timezone, since, now)
        .is_some()
    {
        return None;
    }
    let slot = schedule::latest_due_slot(sched, &job.timezone, st, now)?;
    Some(to_ms(slot))
}

/// A human explanation of a plan, for `run --dry-run`.
pub(crate) fn explain(plan: &Plan) -> String {
    let t = |t: &Timestamp| crate::core::clock::human_time(t.as_millisecond());
    match plan {
        Plan::Disabled => "not due: disabled in the config".into(),
        Plan::Paused => "not due: paused (jobctl configure job NAME --resume)".into(),
        Plan::Manual => "not due: no schedule, runs only when forced".into(),
        Plan::NotDue { next: Some(n) } => format!("not due: next slot {}", t(n)),
        Plan::NotDue { next: None } => "not due: the schedule has no future slot".into(),
        Plan::Due {
            slot,
            missed: false,
        } => format!("due: slot {}", t(slot)),
        Plan::Due { slot, missed: true } => {
            format!("due: missed slot {} (catch-up, runs once)", t(slot))
        }
        Plan::Skip { slot, reason } => format!("skip: slot {}: {}", t(slot), reason.as_str()),
    }
}
