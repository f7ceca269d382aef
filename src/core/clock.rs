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
    let t = from_ms(ms);
    rfc3339_at(t, crate::core::zone::system().to_offset(t))
}

/// [`rfc3339`] at a given offset. Digits are written into a fixed buffer: a page of runs
/// carries three times per run, and `format!`'s nine padded fields (or strftime's parsing
/// of its format string) were a quarter of the server's work on that page.
fn rfc3339_at(t: Timestamp, offset: jiff::tz::Offset) -> String {
    let d = offset.to_datetime(t);
    let year = d.year();
    let secs = offset.seconds();
    if !(0..=9999).contains(&year) {
        // Outside four digits: the general path (never a time the state holds).
        return t
            .to_zoned(jiff::tz::TimeZone::fixed(offset))
            .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string();
    }
    let mut b = *b"0000-00-00T00:00:00.000+00:00";
    civil(&mut b, d);
    if secs < 0 {
        b[23] = b'-';
    }
    let abs = secs.unsigned_abs();
    digits(&mut b[24..26], abs / 3600);
    digits(&mut b[27..29], abs / 60 % 60);
    String::from_utf8_lossy(&b).into_owned()
}

/// `YYYY-MM-DDTHH:MM:SS.mmm` of `d` (a year of four digits) into the start of `b`.
fn civil(b: &mut [u8], d: jiff::civil::DateTime) {
    digits(&mut b[0..4], d.year() as u32);
    digits(&mut b[5..7], d.month() as u32);
    digits(&mut b[8..10], d.day() as u32);
    digits(&mut b[11..13], d.hour() as u32);
    digits(&mut b[14..16], d.minute() as u32);
    digits(&mut b[17..19], d.second() as u32);
    digits(&mut b[20..23], (d.subsec_nanosecond() / 1_000_000) as u32);
}

/// `n`'s last `dst.len()` decimal digits, zero-padded, into `dst`.
fn digits(dst: &mut [u8], mut n: u32) {
    for c in dst.iter_mut().rev() {
        *c = b'0' + (n % 10) as u8;
        n /= 10;
    }
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
    // Written like `rfc3339`: `list` shows two per job.
    let t = from_ms(ms);
    let d = local_zone().to_datetime(t);
    if !(0..=9999).contains(&d.year()) {
        return d.strftime("%Y-%m-%d %H:%M").to_string();
    }
    let mut b = *b"0000-00-00 00:00:00.000";
    civil(&mut b, d);
    b[10] = b' ';
    String::from_utf8_lossy(&b[..16]).into_owned()
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
    /// The hand-made format is strftime's `%Y-%m-%dT%H:%M:%S%.3f%:z`, east and west of UTC,
    /// across a DST change and at the edges of a day and a year.
    #[test]
    fn rfc3339_is_strftimes() {
        let system = crate::core::zone::system();
        let zones = [
            system.clone(),
            jiff::tz::TimeZone::UTC,
            jiff::tz::TimeZone::fixed(jiff::tz::offset(5)),
            jiff::tz::TimeZone::fixed(jiff::tz::Offset::from_seconds(-(3 * 3600 + 1800)).unwrap()),
            jiff::tz::TimeZone::fixed(jiff::tz::Offset::from_seconds(13 * 3600 + 2700).unwrap()),
        ];
        let times = [
            0,
            1,
            999,
            1_764_000_123_456,
            1_782_345_678_009,
            -86_400_001,
            1_774_746_000_000,   // 2026-03-29 01:00 UTC, Europe's spring change
            1_798_761_599_999,   // 2026-12-31 23:59:59.999 UTC
            253_402_300_799_999, // 9999-12-31 23:59:59.999 UTC
        ];
        for zone in &zones {
            for ms in times {
                let t = super::from_ms(ms);
                let want = t
                    .to_zoned(zone.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
                    .to_string();
                assert_eq!(
                    super::rfc3339_at(t, zone.to_offset(t)),
                    want,
                    "{ms} in {zone:?}"
                );
            }
            assert_eq!(super::rfc3339(1_764_000_123_456).len(), 29);
        }
    }

    /// `human_time` is strftime's `%Y-%m-%d %H:%M` in the local zone.
    #[test]
    fn human_time_is_strftimes() {
        let zone = crate::core::zone::system();
        for ms in [0, 59_999, 1_764_000_123_456, 1_798_761_599_999] {
            let want = super::from_ms(ms)
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string();
            assert_eq!(super::human_time(ms), want);
        }
    }
}
