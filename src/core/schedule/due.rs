//! The due rule of scheduling.md ("When a job is due"): which slot of a schedule a job's
//! stored state and "now" make due, the next one, what `jobctl next` lists, and whether a
//! missed slot runs or is skipped.

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Schedule;

/// What the store remembers about a job's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotState {
    /// When jobctl first saw the job in the config (a tick's "now").
    pub first_seen: Timestamp,
    /// The slot of the job's last scheduled run (or of the last slot skipped on purpose).
    pub last_slot: Option<Timestamp>,
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX)
}

fn every_ms(d: Duration) -> i64 {
    (d.as_millis() as i64).max(1)
}

/// An `every` job's grid: its slots are `anchor + k·step`, and those from `min_k` on may
/// run (the step after its last slot, or its first sight itself when it never ran).
struct Grid {
    anchor: i64,
    step: i64,
    min_k: i64,
}

impl Grid {
    fn of(d: Duration, state: SlotState) -> Grid {
        let (anchor, min_k) = match state.last_slot {
            Some(last) => (last, 1),
            None => (state.first_seen, 0),
        };
        Grid {
            anchor: anchor.as_millisecond(),
            step: every_ms(d),
            min_k,
        }
    }

    /// The whole steps from the anchor to `now`; `None` before the anchor.
    fn steps_to(&self, now: Timestamp) -> Option<i64> {
        let elapsed = now.as_millisecond() - self.anchor;
        (elapsed >= 0).then(|| elapsed / self.step)
    }

    fn slot(&self, k: i64) -> Option<Timestamp> {
        Timestamp::from_millisecond(self.anchor + k * self.step).ok()
    }
}

/// The latest slot in `(since, now]` (`[first_seen, now]` for an `every` job that never
/// ran), or `None` when no slot has come yet.
pub fn latest_due_slot(
    s: &Schedule,
    tz: &TimeZone,
    state: SlotState,
    now: Timestamp,
) -> Option<Timestamp> {
    match s {
        Schedule::Every(d) => {
            let grid = Grid::of(*d, state);
            let k = grid.steps_to(now)?;
            (k >= grid.min_k).then(|| grid.slot(k).unwrap_or(now))
        }
        _ => {
            let since = state.last_slot.unwrap_or(state.first_seen);
            s.wall_slot_at_or_before(now, tz)
                .filter(|slot| *slot > since)
        }
    }
}

/// For a slot stored in the future of `now` (a clock that was ahead, then put right):
/// the slot of the schedule at or before `now` to stand in for it, on the same grid for
/// `every`. Trusting the stored slot would hold the job back until the clock reaches it.
pub fn slot_in_place_of_future(
    s: &Schedule,
    tz: &TimeZone,
    stored: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    match s {
        Schedule::Every(d) => {
            let step = every_ms(*d);
            let ahead = stored.as_millisecond() - now.as_millisecond();
            let k = (ahead + step - 1) / step;
            Timestamp::from_millisecond(stored.as_millisecond() - k * step).ok()
        }
        _ => s.wall_slot_at_or_before(now, tz),
    }
}

/// The next slot strictly after `now` given the job's state (for `list` and `next`).
pub fn next_slot_after(
    s: &Schedule,
    tz: &TimeZone,
    state: SlotState,
    now: Timestamp,
) -> Option<Timestamp> {
    match s {
        Schedule::Every(d) => {
            let grid = Grid::of(*d, state);
            // The last slot itself is never "next": it has run already.
            let k = grid
                .steps_to(now)
                .map_or(grid.min_k, |k| (k + 1).max(grid.min_k));
            grid.slot(k)
        }
        _ => s.wall_slot_after(now, tz),
    }
}

/// The next `n` slots after `from`: what `jobctl next` prints. `every` continues from the
/// job's last slot when it has one, else starts at `from`.
pub fn upcoming(
    s: &Schedule,
    tz: &TimeZone,
    last_slot: Option<Timestamp>,
    from: Timestamp,
    n: usize,
) -> Vec<Timestamp> {
    let mut out = Vec::with_capacity(n);
    match s {
        Schedule::Every(d) => {
            let mut t = match last_slot {
                Some(last) => next_slot_after(
                    s,
                    tz,
                    SlotState {
                        first_seen: last,
                        last_slot: Some(last),
                    },
                    from,
                ),
                None => Some(from),
            };
            while let Some(slot) = t {
                if out.len() == n {
                    break;
                }
                out.push(slot);
                t = Some(add(slot, *d));
            }
        }
        _ => {
            let mut t = from;
            while out.len() < n {
                match s.wall_slot_after(t, tz) {
                    Some(slot) => {
                        out.push(slot);
                        t = slot;
                    }
                    None => break,
                }
            }
        }
    }
    out
}

/// Why a due slot is skipped instead of run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Missed while no tick ran and the job has `catch_up = false`.
    CatchUpOff,
    /// Missed and older than the job's `deadline`.
    PastDeadline,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::CatchUpOff => "missed slot skipped (catch_up = false)",
            SkipReason::PastDeadline => "missed slot skipped (older than deadline)",
        }
    }
}

/// The outcome of the due rule for one job at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    NotDue { next: Option<Timestamp> },
    Run { slot: Timestamp, missed: bool },
    Skip { slot: Timestamp, reason: SkipReason },
}

/// The knobs of the due rule that come from the job's config.
#[derive(Debug, Clone, Copy)]
pub struct DuePolicy {
    pub catch_up: bool,
    pub deadline: Option<Duration>,
}

/// How old a slot may be and still count as on time: ticks come every 5 minutes, so a tick
/// normally sees a slot within one interval; two intervals allow for a late timer.
pub const ON_TIME_WINDOW: Duration = Duration::from_secs(600);

/// The due rule of scheduling.md. A slot that came after the previous tick, and recently,
/// is on time. One at or before the previous tick, or older than [`ON_TIME_WINDOW`] after
/// a gap in ticks (the machine slept or was off), was missed: it runs once, unless
/// `catch_up = false` or the `deadline` skips it.
pub fn decide(
    s: &Schedule,
    tz: &TimeZone,
    state: SlotState,
    prev_tick: Option<Timestamp>,
    now: Timestamp,
    policy: DuePolicy,
) -> Decision {
    let Some(slot) = latest_due_slot(s, tz, state, now) else {
        return Decision::NotDue {
            next: next_slot_after(s, tz, state, now),
        };
    };
    let age_ms = now.as_millisecond() - slot.as_millisecond();
    let missed = prev_tick.is_some_and(|p| slot <= p || age_ms > ON_TIME_WINDOW.as_millis() as i64);
    if missed {
        if !policy.catch_up {
            return Decision::Skip {
                slot,
                reason: SkipReason::CatchUpOff,
            };
        }
        if let Some(deadline) = policy.deadline
            && now.as_millisecond() - slot.as_millisecond() > deadline.as_millis() as i64
        {
            return Decision::Skip {
                slot,
                reason: SkipReason::PastDeadline,
            };
        }
    }
    Decision::Run { slot, missed }
}
