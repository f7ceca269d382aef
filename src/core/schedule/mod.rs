//! When a job is due: the schedule kinds (`every`, `at`, `cron`) and the due rule of
//! scheduling.md, as pure functions of the job's stored slot state and "now".
//!
//! Nothing here reads the clock or the database; the tick passes both in, which is what
//! lets the unit tests walk through DST changes and downtime.

mod cronfields;
mod due;
mod memo;
mod patterns;

pub use due::*;
pub use memo::NextSlots;
pub use patterns::Patterns;
#[cfg(test)]
use patterns::parse_cron;

use std::time::Duration;

use std::sync::Arc;

use croner::Cron;
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

    /// The cron expressions of an `at`/`cron` schedule (none for `every`).
    pub fn pattern_exprs(&self) -> &[String] {
        match self {
            Schedule::Every(_) => &[],
            Schedule::At { patterns, .. } => patterns.exprs(),
            Schedule::Cron { pattern, .. } => pattern.exprs(),
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
    pub(super) fn wall_slot_after(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        self.patterns()
            .iter()
            .filter_map(|p| patterns::search(p, tz, t, true))
            .min()
    }

    /// The latest wall-clock slot at or before `t` (at/cron only).
    pub(super) fn wall_slot_at_or_before(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        self.patterns()
            .iter()
            .filter_map(|p| patterns::search(p, tz, t, false))
            .max()
    }
}
#[cfg(test)]
mod tests;
