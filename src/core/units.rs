//! Value formats of the config file: durations, sizes, clock times, names.

use std::time::Duration;

/// The longest duration any key takes: 100 years. Longer is a mistake (and would not fit
/// the arithmetic of times in milliseconds).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

/// Parses `"500ms"`, `"10s"`, `"5m"`, `"1h30m"`, `"2d"`, up to [`MAX_DURATION`]. A bare
/// number is an error: the unit is never guessed.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("an empty duration".into());
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{s:?} is not a duration"));
        }
        let n: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("{s:?} is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ms_per: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "{s:?} has no unit (use ms, s, m, h or d, e.g. \"{n}s\")"
                ));
            }
            other => {
                return Err(format!(
                    "{s:?} has an unknown unit {other:?} (use ms, s, m, h or d)"
                ));
            }
        };
        total = total.saturating_add(n.saturating_mul(ms_per));
    }
    if total > MAX_DURATION.as_millis() {
        return Err(format!(
            "{s:?} is longer than the longest duration jobctl takes (\"36500d\", 100 years)"
        ));
    }
    Ok(Duration::from_millis(total as u64))
}

/// Formats a duration the way people read it: `4m12s`, `1h`, `350ms`.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let mut secs = ms / 1_000;
    let days = secs / 86_400;
    secs %= 86_400;
    let (h, m, s) = (secs / 3_600, (secs % 3_600) / 60, secs % 60);
    let mut out = String::new();
    for (v, unit) in [(days, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
        }
    }
    out
}

/// Parses `"512KiB"`, `"10MiB"`, `"1GiB"`, `"100B"` or a plain digit string.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits == 0 {
        return Err(format!("{s:?} is not a size (e.g. \"10MiB\")"));
    }
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("{s:?} is too large"))?;
    let mult: u64 = match t[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "{s:?} has an unknown unit {other:?} (use B, KiB, MiB or GiB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Parses a wall-clock time `"HH:MM"` (a one-digit hour too: `"6:00"` is 06:00).
pub(crate) fn parse_hhmm(s: &str) -> Result<(u8, u8), String> {
    let bad = || format!("expected a time of day \"HH:MM\" (00:00 to 23:59), found {s:?}");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&h.len()) || m.len() != 2 || !digits(h) || !digits(m) {
        return Err(bad());
    }
    let h: u8 = h.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok((h, m))
}

/// Job and agent names become file names: `^[a-z0-9][a-z0-9_-]{0,63}$`.
pub(crate) fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Scope names: `^[a-z][a-z0-9_-]*$`.
pub(crate) fn is_valid_scope(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Budget amounts are kept in integer thousandths so 0.1 + 0.1 + 0.1 fits 0.3 exactly.
pub(crate) fn to_milli(units: f64) -> i64 {
    (units * 1000.0).round() as i64
}

pub(crate) fn format_milli(milli: i64) -> String {
    if milli % 1000 == 0 {
        format!("{}", milli / 1000)
    } else {
        let s = format!("{:.3}", milli as f64 / 1000.0);
        s.trim_end_matches('0').to_string()
    }
}

/// Budget amounts (kept in thousandths) as the number people read: `1.5`, `100`.
pub(crate) fn milli_number(m: i64) -> f64 {
    format_milli(m).parse::<f64>().unwrap_or(0.0)
}

/// Serializes an amount kept in thousandths as [`milli_number`] reads it.
pub(crate) fn serialize_milli<S: serde::Serializer>(
    m: &Option<i64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_some(&milli_number(*m)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("90").unwrap_err().contains("no unit"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("m5").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("36500d").is_ok());
        assert!(parse_duration("36501d").unwrap_err().contains("longest"));
        assert!(
            parse_duration("9999999999999999999ms")
                .unwrap_err()
                .contains("longest")
        );
        assert!(parse_duration("99999999999999999999999999999999999999999d").is_err());
        assert_eq!(format_duration(Duration::from_secs(252)), "4m12s");
        assert_eq!(format_duration(Duration::from_millis(350)), "350ms");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(parse_size("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("10MB").is_err());
        assert_eq!(parse_hhmm("06:30").unwrap(), (6, 30));
        assert!(parse_hhmm("24:00").is_err());
        assert_eq!(parse_hhmm("6:30").unwrap(), (6, 30));
        assert!(parse_hhmm("6:3").is_err());
        assert!(parse_hhmm("+6:30").is_err());
        assert!(parse_hhmm("123:00").is_err());
    }

    #[test]
    fn names_and_money() {
        assert!(is_valid_name("nightly-vacuum_2"));
        assert!(!is_valid_name("../etc"));
        assert!(!is_valid_name("Nightly"));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert!(is_valid_scope("worker"));
        assert!(!is_valid_scope("1worker"));
        assert_eq!(to_milli(0.1) * 3, to_milli(0.3));
        assert_eq!(format_milli(1500), "1.5");
        assert_eq!(format_milli(100_000), "100");
    }
}
