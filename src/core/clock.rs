//! The one clock every schedule, due check and budget-day decision reads.
//!
//! `JOBCTL_NOW=<RFC 3339>` pins "now" for tests and what-if checks; run records still
//! carry real timestamps (see [`real_now`]).

use anyhow::{Context, Result};
use jiff::Timestamp;

/// "Now" for scheduling decisions: `JOBCTL_NOW` when set, else the system clock.
pub fn now() -> Result<Timestamp> {
    match std::env::var("JOBCTL_NOW") {
        Ok(v) if !v.is_empty() => parse_instant(&v).with_context(|| {
            format!("JOBCTL_NOW={v:?} is not an RFC 3339 time (e.g. 2026-03-29T06:00:00+02:00)")
        }),
        _ => Ok(Timestamp::now()),
    }
}

/// The real time, for recording when processes actually ran.
pub fn real_now() -> Timestamp {
    Timestamp::now()
}

/// Parses an RFC 3339 instant (offset required) such as `2026-03-29T06:00:00+02:00`.
pub fn parse_instant(s: &str) -> Result<Timestamp> {
    s.trim()
        .parse::<Timestamp>()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Milliseconds since the epoch, the form times are stored in.
pub fn to_ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}
