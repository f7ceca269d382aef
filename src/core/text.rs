//! Text that reaches a process or a file: what an environment variable's name and value,
//! a prompt, a job's name or a metadata key may hold. A NUL can't pass through `exec` at
//! all (it ends a C string: the run would fail after it was accepted), and the other
//! control characters are how terminal escapes and forged log lines get in. Each is
//! refused where the text comes in, before anything is recorded or started.
//!
//! Per kind of text:
//! - free text (a prompt, an environment variable's value): tab, line feed and carriage
//!   return are text (a prompt of several paragraphs, a PEM key); every other control
//!   character (C0, DEL, C1) is refused;
//! - a name (a job's, a metadata key): no control character at all;
//! - an environment variable's name: a portable name (POSIX: letters, digits and `_`, not
//!   starting with a digit), which every shell and program can read back.

/// Whether `c` is one of the control characters text legitimately carries.
fn is_layout(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
}

/// `a NUL byte at byte 3`, `the control character U+001B at byte 0`.
fn describe(at: usize, c: char) -> String {
    if c == '\0' {
        format!("a NUL byte at byte {at}")
    } else {
        format!("the control character U+{:04X} at byte {at}", c as u32)
    }
}

fn first(s: &str, bad: impl Fn(char) -> bool) -> Option<String> {
    s.char_indices()
        .find(|(_, c)| bad(*c))
        .map(|(at, c)| describe(at, c))
}

/// What is wrong with `s` as free text, if anything: a NUL, or a control character other
/// than tab, line feed and carriage return.
pub(crate) fn free_text_problem(s: &str) -> Option<String> {
    first(s, |c| c.is_control() && !is_layout(c))
}

/// What is wrong with `s` as a name, if anything: any control character.
pub(crate) fn name_problem(s: &str) -> Option<String> {
    first(s, char::is_control)
}

/// Whether `k` is a portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
/// The most metadata a run carries, as JSON text: it travels in every process's
/// environment (`JOBCTL_RUN_METADATA`).
pub(crate) const METADATA_MAX: usize = 16 * 1024;

/// A key of a run's metadata, at any depth, that holds a control character: it would
/// reach the run's processes in `JOBCTL_RUN_METADATA`.
pub(crate) fn metadata_key_problem(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Object(m) => m.iter().find_map(|(k, v)| {
            name_problem(k)
                .map(|bad| format!("the metadata key {k:?} holds {bad}"))
                .or_else(|| metadata_key_problem(v))
        }),
        serde_json::Value::Array(a) => a.iter().find_map(metadata_key_problem),
        _ => None,
    }
}

pub(crate) fn is_env_name(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_keeps_layout_and_refuses_other_controls() {
        assert_eq!(free_text_problem("two\tcolumns\nand lines\r\n"), None);
        assert_eq!(free_text_problem("émoji 🦀 and ünïcode"), None);
        assert_eq!(
            free_text_problem("a\0b").as_deref(),
            Some("a NUL byte at byte 1")
        );
        assert_eq!(
            free_text_problem("\u{1b}[31mred").as_deref(),
            Some("the control character U+001B at byte 0")
        );
        assert!(free_text_problem("del\u{7f}").is_some());
        assert!(free_text_problem("c1\u{9b}").is_some(), "C1 controls too");
    }

    #[test]
    fn names_refuse_every_control() {
        assert_eq!(name_problem("team-a.report_2"), None);
        assert!(name_problem("tab\there").is_some());
        assert!(name_problem("line\n").is_some());
        assert!(name_problem("nul\0").is_some());
    }

    #[test]
    fn environment_names_are_portable() {
        for ok in ["A", "_", "PATH", "my_var2", "_X1"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "1X", "A-B", "A=B", "A B", "A\0", "Ä", "a.b"] {
            assert!(!is_env_name(bad), "{bad:?}");
        }
    }
}
