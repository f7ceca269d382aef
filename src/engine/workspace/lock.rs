//! Locks on a repository jobctl works on, so that two runs (or a run and the cleanup)
//! never change one repository's worktrees, branches or mirror at the same moment: git's
//! own lock files would make one of them fail instead of wait.
//!
//! flock'd files in `STATE_DIR/repos/locks/`, one per repository. A worktree lives on one
//! host's disk, so a host-local lock is the right scope whatever store holds the records.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// Held until dropped.
pub(crate) struct RepoLock {
    _file: File,
}

/// A short, file-name-safe key for a repository (a path or a URL).
pub(crate) fn key(repo: &str) -> String {
    // FNV-1a: stable across builds, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in repo.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Named by the end of its path: never by a query or user information (a token).
    let shown = crate::core::workspace::redact_url_credentials(repo);
    let path = shown.split(['?', '#']).next().unwrap_or_default();
    let tail: String = path
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    format!("{tail}-{h:016x}")
}

/// Takes the lock of `repo`, waiting for another holder until `deadline`.
pub(crate) fn lock(repos_dir: &Path, repo: &str, deadline: Instant) -> Result<RepoLock, String> {
    let dir = repos_dir.join("locks");
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("can't create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{}.lock", key(repo)));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| format!("can't open the lock {}: {e}", path.display()))?;
    let mut pause = Duration::from_millis(2);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(RepoLock { _file: file }),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(format!(
                    "another jobctl process held the repository lock {} until the run's deadline",
                    path.display()
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(format!("can't lock {}: {e}", path.display()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_safe() {
        assert_eq!(
            key("https://github.com/o/app.git"),
            key("https://github.com/o/app.git")
        );
        assert_ne!(key("/a/app"), key("/b/app"));
        assert!(key("git@github.com:o/app.git").starts_with("app-"));
        assert!(key("/srv/x y/../z").chars().all(|c| c != '/' && c != ' '));
        for secret in [
            "https://h/o/app.git?access_token=SECRET",
            "https://SECRET@h",
            "https://SECRET:x@h/",
        ] {
            assert!(!key(secret).contains("SECRET"), "{}", key(secret));
        }
        assert!(key("https://h/o/app.git?access_token=T").starts_with("app-"));
    }

    #[test]
    fn a_held_lock_is_waited_for_until_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let soon = || Instant::now() + Duration::from_millis(100);
        let held = lock(dir.path(), "/r", soon()).unwrap();
        assert!(lock(dir.path(), "/r", soon()).is_err());
        assert!(lock(dir.path(), "/other", soon()).is_ok());
        drop(held);
        assert!(lock(dir.path(), "/r", soon()).is_ok());
    }
}
