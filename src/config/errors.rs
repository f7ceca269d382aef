//! Config errors: every problem found, each with file, line, column, key path and what was
//! expected (exit code 78); [`Ctx`] collects them over one walk of a file, with what the
//! walk needs besides (the file's directory, what else it consulted).

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::inputs::Inputs;
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
/// Collects the errors of one file.
pub(super) struct Ctx<'s> {
    src: &'s str,
    /// Byte offsets where lines start: each error's position is a binary search, so a file
    /// with thousands of errors is still reported at once.
    line_starts: Vec<usize>,
    file: String,
    issues: Vec<(usize, ConfigIssue)>,
    /// The config file's directory: the base of relative paths.
    pub(crate) dir: PathBuf,
    /// What loading consulted besides the file.
    pub(crate) inputs: Inputs,
}

impl<'s> Ctx<'s> {
    /// A context for the file at `path` holding `src`.
    pub(crate) fn new(path: &Path, src: &'s str) -> Ctx<'s> {
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let line_starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Ctx {
            src,
            line_starts,
            file: path.display().to_string(),
            issues: Vec::new(),
            dir,
            inputs: Inputs::default(),
        }
    }

    /// Every problem found, in file order.
    pub(crate) fn into_errors(mut self) -> ConfigErrors {
        self.issues.sort_by_key(|(at, _)| *at);
        ConfigErrors {
            issues: self.issues.into_iter().map(|(_, i)| i).collect(),
        }
    }

    pub(crate) fn err(&mut self, span: Range<usize>, key: &str, expected: impl Into<String>) {
        let (line, column) = self.line_col(span.start);
        self.issues.push((
            span.start,
            ConfigIssue {
                file: self.file.clone(),
                line,
                column,
                key: key.to_string(),
                expected: expected.into(),
            },
        ));
    }

    fn line_col(&self, at: usize) -> (usize, usize) {
        let at = at.min(self.src.len());
        let line = self.line_starts.partition_point(|&s| s <= at).max(1);
        let start = self.line_starts[line - 1];
        let mut end = at;
        while !self.src.is_char_boundary(end) {
            end -= 1;
        }
        (line, self.src[start..end].chars().count() + 1)
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.issues.is_empty()
    }
}
