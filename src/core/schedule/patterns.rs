//! Croner patterns: parsing each distinct expression once per process, and searching a
//! pattern for its slot before or after an instant, each distinct search once per process.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::cronfields;

/// Croner patterns and the expressions they come from.
#[derive(Clone)]
pub struct Patterns {
    exprs: Vec<String>,
    parsed: OnceLock<Vec<Arc<Cron>>>,
}

impl Patterns {
    /// Parses now: a config being validated reports a bad expression.
    pub(super) fn checked(exprs: Vec<String>) -> Result<Patterns, String> {
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
    pub(super) fn unchecked(exprs: Vec<String>) -> Patterns {
        Patterns {
            exprs,
            parsed: OnceLock::new(),
        }
    }

    pub(super) fn exprs(&self) -> &[String] {
        &self.exprs
    }

    pub(super) fn get(&self) -> &[Arc<Cron>] {
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
/// Parses a 5-field cron expression or an `@macro`; seconds and years are refused.
///
/// Parsing is the costliest part of loading a large config and the same patterns recur
/// across jobs (every `at = "03:00"` is one), so each distinct pattern is parsed once per
/// process.
pub(super) fn parse_cron(expr: &str) -> Result<Arc<Cron>, String> {
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

/// One slot search of one pattern: the next slot after `t` (`forward`) or the latest at or
/// before it.
///
/// A tick asks every job the same question (the latest slot before "now") and jobs share
/// patterns (every `at = "03:00"` is one), so each distinct search runs once per process:
/// a croner search costs thousands of instructions, and a 1,000-job tick made thousands.
/// Zones without an IANA name (POSIX `TZ` strings) are not memoized.
pub(super) fn search(
    p: &Arc<Cron>,
    tz: &TimeZone,
    t: Timestamp,
    forward: bool,
) -> Option<Timestamp> {
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
