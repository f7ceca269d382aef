//! Saying which field of a cron expression is wrong, in cron's own terms (`minute 61 is
//! out of range 0-59`), when croner has refused it. croner stays the judge of what is
//! valid; this only finds the words for a refusal, and says nothing when it can't tell.

const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    (
        "month",
        1,
        12,
        &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    ),
    (
        "day of week",
        0,
        7,
        &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    ),
];

const MACROS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// What is wrong with `expr`, in cron's terms, or `None` when no field can be blamed.
pub(super) fn explain(expr: &str) -> Option<String> {
    let expr = expr.trim();
    if expr.starts_with('@') {
        let hint = crate::core::names::hint(expr, MACROS);
        return Some(format!(
            "{expr:?} is not one of @hourly, @daily, @weekly, @monthly, @yearly{hint}"
        ));
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        let extra = if fields.len() > 5 {
            " (seconds and years are not supported)"
        } else {
            ""
        };
        return Some(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}{extra}",
            fields.len()
        ));
    }
    fields
        .iter()
        .zip(FIELDS)
        .find_map(|(f, spec)| field_problem(f, spec))
}

fn field_problem(field: &str, (name, lo, hi, names): (&str, u32, u32, &[&str])) -> Option<String> {
    for item in field.split(',') {
        if item.is_empty() {
            return Some(format!("{name} field {field:?} has an empty list item"));
        }
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (item, None),
        };
        if let Some(s) = step {
            match s.parse::<u32>() {
                Ok(0) => return Some(format!("{name} step 0 in {item:?} is not allowed")),
                Ok(n) if n > hi => {
                    return Some(format!(
                        "{name} step {n} in {item:?} is out of range 1-{hi}"
                    ));
                }
                Ok(_) => {}
                Err(_) => return Some(format!("{name} step {s:?} in {item:?} is not a number")),
            }
        }
        if base == "*" || base == "?" {
            continue;
        }
        let (a, b) = match base.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (base, None),
        };
        let mut ends = Vec::new();
        for v in std::iter::once(a).chain(b) {
            match value(v, names) {
                Value::Number(n) if n < lo || n > hi => {
                    return Some(format!("{name} {n} is out of range {lo}-{hi}"));
                }
                Value::Number(n) => ends.push(n),
                Value::Extension => return None,
                Value::Unknown => {
                    let what = if names.is_empty() {
                        format!("a number {lo}-{hi}")
                    } else {
                        format!("a number {lo}-{hi} or a name ({})", names.join(", "))
                    };
                    let hint = crate::core::names::hint(&v.to_lowercase(), names.iter().copied());
                    return Some(format!("{name} {v:?} is not {what}{hint}"));
                }
            }
        }
        if let [a, b] = ends[..]
            && a > b
        {
            return Some(format!("{name} range {base:?} runs backwards ({a} > {b})"));
        }
    }
    None
}

enum Value {
    Number(u32),
    /// `L`, `W`, `#`: croner's extensions; not judged here.
    Extension,
    Unknown,
}

fn value(v: &str, names: &[&str]) -> Value {
    if let Ok(n) = v.parse::<u32>() {
        return Value::Number(n);
    }
    if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
        return Value::Number(u32::MAX);
    }
    let lower = v.to_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        // Months count from 1, weekdays from 0 (Sunday).
        let first = if names.len() == 12 { 1 } else { 0 };
        return Value::Number(i as u32 + first);
    }
    if v.contains(['L', 'W', '#']) {
        return Value::Extension;
    }
    Value::Unknown
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn the_field_is_named() {
        assert_eq!(
            explain("61 * * * *").unwrap(),
            "minute 61 is out of range 0-59"
        );
        assert_eq!(
            explain("0 24 * * *").unwrap(),
            "hour 24 is out of range 0-23"
        );
        assert_eq!(
            explain("0 0 0 * *").unwrap(),
            "day of month 0 is out of range 1-31"
        );
        assert_eq!(
            explain("0 0 * 13 *").unwrap(),
            "month 13 is out of range 1-12"
        );
        assert_eq!(
            explain("0 0 * * 8").unwrap(),
            "day of week 8 is out of range 0-7"
        );
        assert!(
            explain("0 0 * * mnday")
                .unwrap()
                .starts_with("day of week \"mnday\" is not")
        );
        assert!(explain("*/0 * * * *").unwrap().contains("step 0"));
        assert!(explain("* * * *").unwrap().contains("found 4"));
        assert!(explain("0 * * * * *").unwrap().contains("seconds"));
        assert!(explain("@dayly").unwrap().contains("did you mean '@daily'"));
        assert!(explain("0 5-2 * * *").unwrap().contains("backwards"));
        assert_eq!(explain("15 3 * * mon-fri"), None);
        assert_eq!(explain("0 0 L * *"), None);
    }
}
