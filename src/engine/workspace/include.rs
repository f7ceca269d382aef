//! Copying gitignored files (`.env`, local settings) from the user's checkout into a new
//! worktree: the files `include` and the repository's `.worktreeinclude` name. A fresh
//! worktree has only what is committed, and a job often needs these to run at all.
//!
//! Only files git ignores are copied: a file that is not ignored would be committed with
//! the run's work, and pushed. git itself decides both what the patterns match (`ls-files
//! --exclude`, gitignore syntax) and what is ignored (`check-ignore`).

use std::path::Path;

use super::git::Git;

/// Copies the matching ignored files of checkout `src` into `dest`; returns what was
/// copied and what was left out (not ignored), as relative paths.
pub(crate) fn copy(
    git: &Git,
    src: &Path,
    dest: &Path,
    include: &[String],
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut patterns: Vec<String> = include.to_vec();
    if let Ok(text) = std::fs::read_to_string(src.join(".worktreeinclude")) {
        patterns.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    if patterns.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut args = vec![
        "ls-files".to_string(),
        "-z".into(),
        "--others".into(),
        "--ignored".into(),
    ];
    for p in &patterns {
        args.push(format!("--exclude={p}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let listed = git.ok(src, &args).map_err(|e| e.to_string())?;
    let candidates: Vec<&[u8]> = listed
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .collect();
    if candidates.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let ignored = ignored_of(git, src, &candidates)?;
    let (mut copied, mut skipped) = (Vec::new(), Vec::new());
    for c in candidates {
        let rel = String::from_utf8_lossy(c).into_owned();
        if !ignored.contains(&rel) {
            skipped.push(rel);
            continue;
        }
        let to = dest.join(&rel);
        if std::fs::symlink_metadata(&to).is_ok() {
            continue; // the commit has it: never overwrite what is tracked
        }
        copy_one(&src.join(&rel), &to).map_err(|e| format!("can't copy {rel}: {e}"))?;
        copied.push(rel);
    }
    Ok((copied, skipped))
}

/// Which of `paths` git ignores in `src` (`check-ignore`).
fn ignored_of(git: &Git, src: &Path, paths: &[&[u8]]) -> Result<Vec<String>, String> {
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(p);
        input.push(0);
    }
    match git.call_with_input(src, &["check-ignore", "-z", "--stdin"], &[], Some(input)) {
        Ok(o) => Ok(o
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()),
        // Exit 1: none of them is ignored.
        Err(super::git::GitError::Failed { code: Some(1), .. }) => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

fn copy_one(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let meta = std::fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else {
        std::fs::copy(from, to).map(|_| ())
    }
}
