//! The one clock every schedule, due check and budget-day decision reads.
//!
//! `JOBCTL_NOW=<RFC 3339>` pins "now" for tests and what-if checks; run records still
//! carry real timestamps (see [`real_now`]).

use jiff::Timestamp;

use crate::core::error::{Error, Result};

/// "Now" for scheduling decisions: `JOBCTL_NOW` when set, else the system clock.
pub(crate) fn now() -> Result<Timestamp> {
    match std::env::var("JOBCTL_NOW") {
        Ok(v) if !v.is_empty() => parse_instant(&v).map_err(|e| {
            Error::Failed(format!(
                "JOBCTL_NOW={v:?} is not an RFC 3339 time (e.g. 2026-03-29T06:00:00+02:00): {e}"
            ))
        }),
        _ => Ok(Timestamp::now()),
    }
}

/// The real time, for recording when processes actually ran.
pub(crate) fn real_now() -> Timestamp {
    Timestamp::now()
}

/// Parses an RFC 3339 instant (offset required) such as `2026-03-29T06:00:00+02:00`.
pub(crate) fn parse_instant(s: &str) -> std::result::Result<Timestamp, String> {
    s.trim().parse::<Timestamp>().map_err(|e| e.to_string())
}

/// Milliseconds since the epoch, the form times are stored in.
pub(crate) fn to_ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// RFC 3339 with the local offset and milliseconds, as JSON documents carry times.
pub(crate) fn rfc3339(ms: i64) -> String {
    // Formatted by hand: a page of runs carries three per run, and strftime's parsing of
    // its format string was a twentieth of the server's answer to it.
    let t = from_ms(ms);
    let zone = crate::core::zone::system();
    let d = zone.to_datetime(t);
    let offset = zone.to_offset(t).seconds();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.subsec_nanosecond() / 1_000_000,
        offset / 3600,
        offset / 60 % 60
    )
}

pub(crate) fn rfc3339_opt(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

/// The zone people's times are shown in: the system's, looked up once per process.
pub(crate) fn local_zone() -> jiff::tz::TimeZone {
    crate::core::zone::system()
}

/// `2026-11-22 06:00` in local time.
pub(crate) fn human_time(ms: i64) -> String {
    // Formatted by hand: `list` shows two per job, and strftime's parsing of its format
    // string was a tenth of a 1,000-job `list`.
    let t = from_ms(ms);
    let d = local_zone().to_datetime(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute()
    )
}

/// Whether `zone` shows the same wall time as the local zone at `ms`.
pub(crate) fn is_local_at(zone: &jiff::tz::TimeZone, ms: i64) -> bool {
    let t = from_ms(ms);
    zone.to_offset(t) == local_zone().to_offset(t)
}

/// `2026-12-08 03:30 EST`: the time in `zone`, with the zone's abbreviation.
pub(crate) fn human_time_in(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    from_ms(ms)
        .to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// `2026-11-22 06:00:00 +01:00`: local time with offset.
pub(crate) fn human_time_offset(t: Timestamp) -> String {
    t.to_zoned(local_zone())
        .strftime("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    /// The hand-made format is strftime's `%Y-%m-%dT%H:%M:%S%.3f%:z`, east and west of UTC.
    #[test]
    fn rfc3339_is_strftimes() {
        let zone = crate::core::zone::system();
        for ms in [0, 1_764_000_123_456, 1_782_345_678_009, -86_400_001] {
            let z = super::from_ms(ms).to_zoned(zone.clone());
            assert_eq!(
                super::rfc3339(ms),
                z.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
            );
        }
    }
}
