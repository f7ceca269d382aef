//! When a job is due: the schedule kinds (`every`, `at`, `cron`) and the due rule of
//! scheduling.md, as pure functions of the job's stored slot state and "now".
//!
//! Nothing here reads the clock or the database; the tick passes both in, which is what
//! lets the unit tests walk through DST changes and downtime.

mod cronfields;

use std::time::Duration;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// A schedule. `at` is kept as one cron pattern per time of day, so fixed times get
/// exactly the same DST treatment as cron (Vixie rules, via croner).
///
/// It is stored as written ([`ScheduleSpec`]). Read back from a snapshot, its patterns are
/// parsed when first searched: most commands never search (`force` of one job loads every
/// job), and parsing is croner's costliest step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "ScheduleSpec", from = "ScheduleSpec")]
pub enum Schedule {
    Every(Duration),
    At {
        times: Vec<(u8, u8)>,
        weekdays: Weekdays,
        patterns: Patterns,
    },
    Cron {
        expr: String,
        pattern: Patterns,
    },
}

/// The days of an `at` schedule as a set (bit 0 Monday .. bit 6 Sunday); empty: every
/// day. A set, not the names as written: a 1,000-job config held seven strings per job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Weekdays(u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Weekdays {
    /// From day names (`mon`..`sun`); an error names one that is not a day.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Weekdays, String> {
        let mut set = 0u8;
        for n in names {
            let n = n.as_ref();
            let i = DAY_NAMES
                .iter()
                .position(|d| *d == n)
                .ok_or_else(|| format!("{n:?} is not a weekday (mon..sun)"))?;
            set |= 1 << i;
        }
        Ok(Weekdays(set))
    }

    /// The day names in week order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        DAY_NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, d)| *d)
    }

    fn is_every_day(self) -> bool {
        self.0 == 0
    }
}

/// Croner patterns and the expressions they come from.
#[derive(Clone)]
pub struct Patterns {
    exprs: Vec<String>,
    parsed: OnceLock<Vec<Arc<Cron>>>,
}

impl Patterns {
    /// Parses now: a config being validated reports a bad expression.
    fn checked(exprs: Vec<String>) -> Result<Patterns, String> {
        let parsed = exprs
            .iter()
            .map(|e| parse_cron(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Patterns {
            exprs,
            parsed: OnceLock::from(parsed),
        })
    }

    /// Parses on first use: the expressions were validated when the config was loaded.
    fn unchecked(exprs: Vec<String>) -> Patterns {
        Patterns {
            exprs,
            parsed: OnceLock::new(),
        }
    }

    fn get(&self) -> &[Arc<Cron>] {
        self.parsed.get_or_init(|| {
            self.exprs
                .iter()
                .filter_map(|e| {
                    // Unreachable for a snapshot this binary validated and wrote; if it
                    // happens, the pattern has no slots rather than stopping jobctl.
                    parse_cron(e)
                        .inspect_err(|err| tracing::error!("schedule pattern skipped: {err}"))
                        .ok()
                })
                .collect()
        })
    }
}

/// The expressions: the parsed form follows from them.
impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Patterns").field(&self.exprs).finish()
    }
}

fn at_exprs(times: &[(u8, u8)], weekdays: Weekdays) -> Vec<String> {
    let dow = if weekdays.is_every_day() {
        "*".to_string()
    } else {
        weekdays
            .names()
            .collect::<Vec<_>>()
            .join(",")
            .to_uppercase()
    };
    times
        .iter()
        .map(|(h, m)| format!("{m} {h} * * {dow}"))
        .collect()
}

/// A schedule as the config writes it.
#[derive(Serialize, Deserialize)]
pub enum ScheduleSpec {
    Every(Duration),
    At {
        times: Vec<(u8, u8)>,
        weekdays: Weekdays,
    },
    Cron(String),
}

impl From<Schedule> for ScheduleSpec {
    fn from(s: Schedule) -> ScheduleSpec {
        match s {
            Schedule::Every(d) => ScheduleSpec::Every(d),
            Schedule::At {
                times, weekdays, ..
            } => ScheduleSpec::At { times, weekdays },
            Schedule::Cron { expr, .. } => ScheduleSpec::Cron(expr),
        }
    }
}

impl From<ScheduleSpec> for Schedule {
    fn from(s: ScheduleSpec) -> Schedule {
        match s {
            ScheduleSpec::Every(d) => Schedule::Every(d),
            ScheduleSpec::At { times, weekdays } => Schedule::At {
                patterns: Patterns::unchecked(at_exprs(&times, weekdays)),
                times,
                weekdays,
            },
            ScheduleSpec::Cron(expr) => Schedule::Cron {
                pattern: Patterns::unchecked(vec![expr.clone()]),
                expr,
            },
        }
    }
}

/// Parses a 5-field cron expression or an `@macro`; seconds and years are refused.
///
/// Parsing is the costliest part of loading a large config and the same patterns recur
/// across jobs (every `at = "03:00"` is one), so each distinct pattern is parsed once per
/// process.
pub fn parse_cron(expr: &str) -> Result<Arc<Cron>, String> {
    thread_local! {
        static PARSED: RefCell<HashMap<String, Result<Arc<Cron>, String>>> =
            Default::default();
    }
    let expr = expr.trim();
    PARSED.with(|cache| {
        if let Some(hit) = cache.borrow().get(expr) {
            return hit.clone();
        }
        let parsed = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map(Arc::new)
            .map_err(|e| match cronfields::explain(expr) {
                Some(why) => format!("{expr:?}: {why}"),
                None => format!("{expr:?} is not a cron expression: {e}"),
            });
        cache.borrow_mut().insert(expr.to_string(), parsed.clone());
        parsed
    })
}

impl Schedule {
    /// `at` times with optional weekday names (`mon`..`sun`; none: every day).
    pub fn at<S: AsRef<str>>(times: Vec<(u8, u8)>, weekdays: &[S]) -> Result<Schedule, String> {
        let weekdays = Weekdays::from_names(weekdays)?;
        Ok(Schedule::At {
            patterns: Patterns::checked(at_exprs(&times, weekdays))?,
            times,
            weekdays,
        })
    }

    pub fn cron(expr: &str) -> Result<Schedule, String> {
        let expr = expr.trim().to_string();
        Ok(Schedule::Cron {
            pattern: Patterns::checked(vec![expr.clone()])?,
            expr,
        })
    }

    /// The SCHEDULE column of `jobctl list`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", crate::core::units::format_duration(*d)),
            Schedule::At {
                times, weekdays, ..
            } => {
                let t: Vec<String> = times
                    .iter()
                    .map(|(h, m)| format!("{h:02}:{m:02}"))
                    .collect();
                let mut s = format!("at {}", t.join(","));
                if !weekdays.is_every_day() {
                    s.push(' ');
                    s.push_str(&weekdays.names().collect::<Vec<_>>().join(","));
                }
                s
            }
            Schedule::Cron { expr, .. } => format!("cron {expr}"),
        }
    }

    fn patterns(&self) -> &[Arc<Cron>] {
        match self {
            Schedule::Every(_) => &[],
            Schedule::At { patterns, .. } => patterns.get(),
            Schedule::Cron { pattern, .. } => pattern.get(),
        }
    }

    /// The first wall-clock slot strictly after `t` (at/cron only).
    fn wall_slot_after(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        self.patterns()
            .iter()
            .filter_map(|p| search(p, tz, t, true))
            .min()
    }

    /// The latest wall-clock slot at or before `t` (at/cron only).
    fn wall_slot_at_or_before(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        self.patterns()
            .iter()
            .filter_map(|p| search(p, tz, t, false))
            .max()
    }
}

/// One slot search of one pattern: the next slot after `t` (`forward`) or the latest at or
/// before it.
///
/// A tick asks every job the same question (the latest slot before "now") and jobs share
/// patterns (every `at = "03:00"` is one), so each distinct search runs once per process:
/// a croner search costs thousands of instructions, and a 1,000-job tick made thousands.
/// Zones without an IANA name (POSIX `TZ` strings) are not memoized.
fn search(p: &Arc<Cron>, tz: &TimeZone, t: Timestamp, forward: bool) -> Option<Timestamp> {
    // Each entry holds its pattern, so the address in its key can't be reused for another
    // pattern while the entry exists.
    type Searches = HashMap<(usize, i64, bool), Vec<(Arc<Cron>, String, Option<Timestamp>)>>;
    thread_local! {
        static SEARCHED: RefCell<Searches> = Default::default();
    }
    let run = || {
        let z = t.to_zoned(tz.clone());
        let found = if forward {
            p.find_next_occurrence(&z, false)
        } else {
            p.find_previous_occurrence(&z, true)
        };
        found.ok().map(|z| z.timestamp())
    };
    let Some(zone) = tz.iana_name() else {
        return run();
    };
    let key = (Arc::as_ptr(p) as usize, t.as_millisecond(), forward);
    let hit = SEARCHED.with(|m| {
        m.borrow()
            .get(&key)
            .and_then(|v| v.iter().find(|(_, z, _)| z == zone).map(|(_, _, r)| *r))
    });
    if let Some(r) = hit {
        return r;
    }
    let r = run();
    SEARCHED.with(|m| {
        m.borrow_mut()
            .entry(key)
            .or_default()
            .push((p.clone(), zone.to_string(), r))
    });
    r
}

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
            let step = every_ms(*d);
            let (anchor, min_k) = match state.last_slot {
                Some(last) => (last, 1),
                None => (state.first_seen, 0),
            };
            let elapsed = now.as_millisecond() - anchor.as_millisecond();
            if elapsed < 0 {
                return None;
            }
            let k = elapsed / step;
            (k >= min_k).then(|| {
                Timestamp::from_millisecond(anchor.as_millisecond() + k * step).unwrap_or(now)
            })
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
            let step = every_ms(*d);
            let (anchor, min_k) = match state.last_slot {
                Some(last) => (last, 1),
                None => (state.first_seen, 0),
            };
            let elapsed = now.as_millisecond() - anchor.as_millisecond();
            // The last slot itself is never "next": it has run already.
            let k = if elapsed < 0 {
                min_k
            } else {
                (elapsed / step + 1).max(min_k)
            };
            Timestamp::from_millisecond(anchor.as_millisecond() + k * step).ok()
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

#[cfg(test)]
mod tests;
