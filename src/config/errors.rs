//! Config errors: every problem found, each with file, line, column, key path and what was
//! expected. Exit code 78.

use std::fmt;
use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ConfigIssue {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub expected: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.expected)
        } else {
            write!(f, ": {}: {}", self.key, self.expected)
        }
    }
}

/// Every problem of one config file, in file order.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// An error about the file as a whole (missing, unreadable, too big).
pub fn whole_file(path: &Path, expected: String) -> ConfigErrors {
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
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
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
