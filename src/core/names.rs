//! "Did you mean": the closest of the names a value could have been, for every message
//! that rejects a name (a config key or value, a job, an agent, a scope).

/// The candidate closest to `given`, if one is close enough to be a likely typo: the same
/// word in another case, one that `given` starts with or that starts with `given`
/// (`monday` → `mon`), or one a few edits away (Damerau–Levenshtein via strsim).
pub(crate) fn closest<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if given.is_empty() || given.len() > 200 {
        return None;
    }
    let lower = given.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        if c == given {
            continue;
        }
        let cl = c.to_lowercase();
        let score = if cl == lower {
            0
        } else if (lower.starts_with(&cl) && cl.len() >= 2)
            || (cl.starts_with(&lower) && lower.len() >= 3)
        {
            1
        } else {
            let d = strsim::damerau_levenshtein(&lower, &cl);
            let limit = 2.max(c.chars().count() / 4);
            if d > limit || d >= c.chars().count() {
                continue;
            }
            d + 1
        };
        if best.is_none_or(|(s, _)| score < s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// ` (did you mean 'x'?)`, or nothing.
pub(crate) fn hint<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(given, candidates)
        .map(|c| format!(" (did you mean '{c}'?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name() {
        assert_eq!(closest("helo", ["hello", "world"]), Some("hello"));
        assert_eq!(closest("scrpit", ["script", "agent"]), Some("script"));
        assert_eq!(closest("claud", ["claude", "codex"]), Some("claude"));
        assert_eq!(closest("monday", ["mon", "tue", "sun"]), Some("mon"));
        assert_eq!(closest("Mon", ["mon", "tue"]), Some("mon"));
        assert_eq!(
            closest("Europe/Amsterdm", ["Europe/Amsterdam", "Europe/Andorra"]),
            Some("Europe/Amsterdam")
        );
        assert_eq!(closest("zzzz", ["hello", "world"]), None);
        assert_eq!(closest("a", ["b"]), None);
        assert_eq!(hint("helo", ["hello"]), " (did you mean 'hello'?)");
        assert_eq!(hint("nothing-like-it", ["hello"]), "");
    }
}
