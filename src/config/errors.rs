//! Config errors: every problem found, each with file, line, column, key path and what was
//! expected. Exit code 78.

use std::path::Path;

use crate::core::error::{ConfigErrors, ConfigIssue};

/// An error about the file as a whole (missing, unreadable, too big).
pub(crate) fn whole_file(path: &Path, expected: String) -> ConfigErrors {
    ConfigErrors {
        issues: vec![ConfigIssue {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            key: String::new(),
            expected,
        }],
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let mut cut = at;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = &text[..cut];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
