//! The SQL terms both stores name runs' states with, built from [`RunStatus`] when the
//! crate compiles: a state added to or taken from a list changes every query that names
//! the list, and no query spells a state by hand. The partial indexes were declared with
//! these very terms (a planner uses a partial index only for a query that names its
//! term); the tests below hold the migrations to them.
//!
//! Built by `const fn`s rather than `format!` at each call: the terms are in statements
//! prepared (and cached) on every tick's path, and a `const` costs nothing at run time.

#[cfg(feature = "postgres")]
use crate::core::run::EventKind;
use crate::core::run::RunStatus;

/// Writes `s` into `out` at `at` (as far as `out` reaches) and returns where it ends: run
/// on an empty `out`, it only measures.
const fn put(out: &mut [u8], at: usize, s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if at + i < out.len() {
            out[at + i] = b[i];
        }
        i += 1;
    }
    at + b.len()
}

/// `parts`, one after another.
pub(crate) const fn cat_into(out: &mut [u8], parts: &[&str]) -> usize {
    let mut at = 0;
    let mut i = 0;
    while i < parts.len() {
        at = put(out, at, parts[i]);
        i += 1;
    }
    at
}

/// `status IN ('a', 'b', ...)` for the states of `list`, in its order.
pub(crate) const fn status_in_into(out: &mut [u8], list: &[RunStatus]) -> usize {
    let mut at = put(out, 0, "status IN (");
    let mut i = 0;
    while i < list.len() {
        if i > 0 {
            at = put(out, at, ", ");
        }
        at = put(out, at, "'");
        at = put(out, at, list[i].as_str());
        at = put(out, at, "'");
        i += 1;
    }
    put(out, at, ")")
}

/// The `&'static str` a writer above makes of `arg`, at compile time.
macro_rules! const_text {
    ($write:path, $arg:expr) => {{
        const N: usize = $write(&mut [], $arg);
        const BYTES: [u8; N] = {
            let mut b = [0u8; N];
            $write(&mut b, $arg);
            b
        };
        match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("SQL text is made of str pieces"),
        }
    }};
}
pub(crate) use const_text;

/// The runs not ended yet, as the partial index `runs_active` is declared.
pub(crate) const ACTIVE: &str = const_text!(status_in_into, RunStatus::ACTIVE);

/// The runs a supervisor holds, as PostgreSQL's unique index `runs_one_per_lease` is
/// declared.
#[cfg(feature = "postgres")]
pub(crate) const SUPERVISED: &str = const_text!(status_in_into, RunStatus::SUPERVISED);

/// The runs a supervisor holds, through the `runs_active` index (SQLite's planner takes a
/// partial index only for a query that names the index's term): the active ones that are
/// not queued.
pub(crate) const SUPERVISED_OF_ACTIVE: &str = const_text!(
    cat_into,
    &[ACTIVE, " AND status != '", RunStatus::Queued.as_str(), "'"]
);

/// `status = 'queued'`: a condition, or (after `SET`) the move to it.
pub(crate) const QUEUED: &str =
    const_text!(cat_into, &["status = '", RunStatus::Queued.as_str(), "'"]);
/// `status = 'running'`.
pub(crate) const RUNNING: &str =
    const_text!(cat_into, &["status = '", RunStatus::Running.as_str(), "'"]);
/// `status = 'succeeded'`.
pub(crate) const SUCCEEDED: &str = const_text!(
    cat_into,
    &["status = '", RunStatus::Succeeded.as_str(), "'"]
);

/// `'run_started'`, the value.
#[cfg(feature = "postgres")]
pub(crate) const RUN_STARTED_VALUE: &str =
    const_text!(cat_into, &["'", EventKind::RunStarted.as_str(), "'"]);

#[cfg(test)]
mod tests {
    use super::*;

    /// What the terms say, spelled out once: the enum's lists and wire names are the
    /// source, and this is what they come to.
    #[test]
    fn the_terms_spell_the_enums_lists() {
        assert_eq!(
            ACTIVE,
            "status IN ('queued', 'running', 'paused', 'retrying')"
        );
        assert_eq!(
            SUPERVISED_OF_ACTIVE,
            "status IN ('queued', 'running', 'paused', 'retrying') AND status != 'queued'"
        );
        assert_eq!(
            (QUEUED, RUNNING, SUCCEEDED),
            (
                "status = 'queued'",
                "status = 'running'",
                "status = 'succeeded'"
            )
        );
        #[cfg(feature = "postgres")]
        {
            assert_eq!(SUPERVISED, "status IN ('running', 'paused', 'retrying')");
            assert_eq!(RUN_STARTED_VALUE, "'run_started'");
        }
    }

    #[test]
    fn each_term_lists_what_its_enum_list_holds() {
        let supervised = &SUPERVISED_OF_ACTIVE[ACTIVE.len()..];
        for s in RunStatus::ALL {
            let quoted = format!("'{s}'");
            assert_eq!(
                ACTIVE.contains(&quoted),
                RunStatus::ACTIVE.contains(s),
                "{s}"
            );
            let held = RunStatus::ACTIVE.contains(s) && !supervised.contains(&quoted);
            assert_eq!(held, s.is_supervised(), "{s}");
            #[cfg(feature = "postgres")]
            assert_eq!(SUPERVISED.contains(&quoted), s.is_supervised(), "{s}");
        }
    }
}
