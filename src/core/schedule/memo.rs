//! Each job's next slot, kept between ticks so that an idle tick does not parse and search
//! every schedule again.
//!
//! A tick with nothing due asks each `at`/`cron` job one question: is there a slot in
//! `(since, now]`? The answer follows from one instant, the first slot after `since`, which
//! is a pure function of the schedule's patterns, the zone's offsets between `since` and
//! that slot, and `since` itself. An entry keeps that instant with what it was computed
//! from, and is used only while all of it is the same: a config edit changes the patterns
//! (or the zone's name), a time-zone change (`TZ`, `/etc/localtime`, new zone files)
//! changes the zone or its offsets over the interval, a run or a skipped slot moves
//! `since`. The clock is never part of it: the entry is compared with "now" on every use, so
//! a clock stepping forward past the slot makes the full rule decide, and one stepping back
//! behind `since` is the stored state's repair, which also decides in full.
//!
//! Parsing 1,000 distinct patterns was three quarters of such a tick; with the entries it
//! parses none. `every` schedules need no entry: their slots are arithmetic.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::Schedule;

/// The first slot after `since` of one job, and the digest of what it was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    since: i64,
    next: i64,
    inputs: u64,
}

/// The next slots of a config's jobs, by job name. Encoded and stored by the engine
/// (`engine/next_slots.rs`); nothing here reads a file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NextSlots {
    entries: HashMap<String, Entry>,
    /// An entry was added or replaced since this was loaded: worth storing again.
    #[serde(skip)]
    changed: bool,
}

impl NextSlots {
    /// `Some(next)` when `s` has no slot in `(since, now]` and `next` is its first slot
    /// after `since` (so also its next slot after `now`); `None` when the full due rule must
    /// decide: a slot has come, the schedule is `every`, or it has no slot after `since`.
    pub fn quiet_until(
        &mut self,
        job: &str,
        s: &Schedule,
        tz: &TimeZone,
        since: Timestamp,
        now: Timestamp,
    ) -> Option<Timestamp> {
        if matches!(s, Schedule::Every(_)) || since > now {
            return None;
        }
        let next = self.first_after(job, s, tz, since)?;
        (next > now).then_some(next)
    }

    /// The first slot of an `at`/`cron` schedule strictly after `since`, from the entry
    /// when it was computed from the same inputs, else searched and recorded.
    fn first_after(
        &mut self,
        job: &str,
        s: &Schedule,
        tz: &TimeZone,
        since: Timestamp,
    ) -> Option<Timestamp> {
        let since_ms = since.as_millisecond();
        if let Some(e) = self.entries.get(job)
            && e.since == since_ms
            && let Ok(next) = Timestamp::from_millisecond(e.next)
            && e.inputs == inputs(s, tz, since, next)
        {
            return Some(next);
        }
        let next = s.wall_slot_after(since, tz)?;
        let entry = Entry {
            since: since_ms,
            next: next.as_millisecond(),
            inputs: inputs(s, tz, since, next),
        };
        if self.entries.get(job) != Some(&entry) {
            self.entries.insert(job.to_string(), entry);
            self.changed = true;
        }
        Some(next)
    }

    /// Whether an entry was added or replaced since this was loaded.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Forgets the entries of jobs `keep` says no to (jobs gone from the config).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|name, _| keep(name));
        self.changed |= self.entries.len() != before;
    }
}

/// A digest of everything the first slot after `since` follows from, given that slot:
/// the patterns, the zone's identity, and its offset at `since` and at every transition up
/// to `next` (the only offsets a search over that interval reads). `DefaultHasher::new()`
/// has fixed keys, so the digest is the same in every process of one binary.
fn inputs(s: &Schedule, tz: &TimeZone, since: Timestamp, next: Timestamp) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    s.pattern_exprs().hash(&mut h);
    format!("{tz:?}").hash(&mut h);
    tz.to_offset(since).seconds().hash(&mut h);
    for t in tz.following(since) {
        if t.timestamp() > next {
            break;
        }
        (t.timestamp().as_second(), t.offset().seconds()).hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn an_entry_is_used_only_with_the_inputs_it_came_from() {
        let ams = TimeZone::get("Europe/Amsterdam").unwrap();
        let nyc = TimeZone::get("America/New_York").unwrap();
        let daily = Schedule::cron("0 3 * * *").unwrap();
        let since = ts("2026-06-15T01:00:00Z");
        let now = ts("2026-06-15T12:00:00Z");
        let mut m = NextSlots::default();
        let first = m.quiet_until("j", &daily, &ams, since, now);
        assert_eq!(first, Some(ts("2026-06-16T01:00:00Z")));
        assert!(m.changed());
        // The same inputs: the entry as it is, nothing to store.
        let mut again = NextSlots {
            entries: m.entries.clone(),
            changed: false,
        };
        assert_eq!(again.quiet_until("j", &daily, &ams, since, now), first);
        assert!(!again.changed());
        // Another zone, another schedule, another `since`: searched again (03:00 in New
        // York is 07:00 UTC, come by noon).
        assert_eq!(again.quiet_until("j", &daily, &nyc, since, now), None);
        assert!(again.changed());
        let hourly = Schedule::cron("30 * * * *").unwrap();
        assert_eq!(again.quiet_until("j", &hourly, &nyc, since, now), None);
        let later = ts("2026-06-16T01:00:00Z");
        assert_eq!(
            again.quiet_until("j", &daily, &ams, later, now),
            None,
            "`since` after now is the state's repair, decided in full"
        );
        // The clock past the slot: due, for the full rule to decide.
        assert_eq!(
            m.quiet_until("j", &daily, &ams, since, ts("2026-06-16T01:00:00Z")),
            None
        );
    }

    #[test]
    fn every_schedules_have_no_entry() {
        let s = Schedule::Every(std::time::Duration::from_secs(3600));
        let mut m = NextSlots::default();
        let t = ts("2026-06-15T01:00:00Z");
        assert_eq!(m.quiet_until("j", &s, &TimeZone::UTC, t, t), None);
        assert!(!m.changed());
    }

    #[test]
    fn offsets_over_the_interval_are_part_of_the_inputs() {
        let ams = TimeZone::get("Europe/Amsterdam").unwrap();
        let s = Schedule::cron("0 3 * * *").unwrap();
        // Spanning the spring-forward change of 2026-03-29 and not spanning it.
        let over = inputs(
            &s,
            &ams,
            ts("2026-03-28T12:00:00Z"),
            ts("2026-03-29T01:00:00Z"),
        );
        let fixed = TimeZone::fixed(jiff::tz::offset(1));
        assert_ne!(
            over,
            inputs(
                &s,
                &fixed,
                ts("2026-03-28T12:00:00Z"),
                ts("2026-03-29T01:00:00Z")
            )
        );
    }
}
