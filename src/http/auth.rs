//! API tokens: JWTs signed with HS256 by a key kept in the state directory
//! (`STATE_DIR/api.key`, 0600, made on first use). A token says who holds it (`sub`), what
//! it may do (`scopes`: `supervisor:read` for every GET, `supervisor:write` for every POST,
//! write implying read), until when (`exp`), and optionally which jobs exist for it
//! (`jobs`: glob patterns). Rotating the key invalidates every token.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::jwt::{self, Invalid};
use crate::core::error::{Error, Result};

pub(crate) const READ: &str = "supervisor:read";
pub(crate) const WRITE: &str = "supervisor:write";

/// What a token carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) sub: String,
    pub(crate) scopes: Vec<String>,
    /// Seconds since the epoch.
    pub(crate) exp: u64,
    /// Glob patterns of the jobs this token may see; absent: every job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) jobs: Option<Vec<String>>,
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Read,
    Write,
}

impl Claims {
    pub(crate) fn allows(&self, need: Need) -> bool {
        let has = |s: &str| self.scopes.iter().any(|x| x == s);
        match need {
            Need::Read => has(READ) || has(WRITE),
            Need::Write => has(WRITE),
        }
    }

    /// Whether the job `name` exists for this token.
    pub(crate) fn sees_job(&self, name: &str) -> bool {
        match &self.jobs {
            None => true,
            Some(globs) => globs.iter().any(|g| {
                glob::Pattern::new(g)
                    .map(|p| p.matches(name))
                    .unwrap_or(false)
            }),
        }
    }
}

/// The signing key of one state directory.
#[derive(Clone)]
pub(crate) struct Key {
    secret: Vec<u8>,
}

pub(crate) fn key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("api.key")
}

impl Key {
    /// The key of `state_dir`, made (0600) on first use.
    pub(crate) fn load_or_create(state_dir: &Path) -> Result<Key> {
        let path = key_path(state_dir);
        match std::fs::read(&path) {
            Ok(secret) if secret.len() >= 32 => Ok(Key { secret }),
            Ok(_) => Err(Error::State(format!(
                "the API key {} is too short; make a new one with jobctl token rotate",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Key::write_new(&path, false),
            Err(e) => Err(Error::State(format!(
                "can't read the API key {}: {e}",
                path.display()
            ))),
        }
    }

    /// A new key in place of the old: every token made with the old one stops working.
    pub(crate) fn rotate(state_dir: &Path) -> Result<Key> {
        Key::write_new(&key_path(state_dir), true)
    }

    fn write_new(path: &Path, replace: bool) -> Result<Key> {
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| Error::State(format!("can't make a random API key: {e}")))?;
        let tmp = path.with_extension("key.new");
        let _ = std::fs::remove_file(&tmp);
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&tmp)?;
            f.write_all(&secret)?;
            f.sync_all()?;
            if replace {
                std::fs::rename(&tmp, path)
            } else {
                // First use: two processes making a key at once keep the first one.
                std::fs::hard_link(&tmp, path)
                    .or_else(|e| match e.kind() {
                        std::io::ErrorKind::AlreadyExists => Ok(()),
                        _ => Err(e),
                    })
                    .and_then(|()| std::fs::remove_file(&tmp))
            }
        };
        write().map_err(|e| {
            Error::State(format!("can't write the API key {}: {e}", path.display()))
        })?;
        if replace {
            Ok(Key { secret })
        } else {
            Key::load_or_create(path.parent().unwrap_or(Path::new(".")))
        }
    }

    /// A token for `sub` with `scopes`, valid for `ttl`.
    pub(crate) fn issue(
        &self,
        sub: &str,
        scopes: &[&str],
        ttl: Duration,
        jobs: Option<Vec<String>>,
    ) -> Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.sign(&Claims {
            sub: sub.to_string(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            exp: (now + ttl).as_secs(),
            jobs,
        })
    }

    /// A token carrying `claims`.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String> {
        jwt::sign(&self.secret, claims)
            .map_err(|e| Error::Internal(anyhow::anyhow!("can't sign a token: {e}")))
    }

    /// The claims of a valid, unexpired token signed with this key.
    pub(crate) fn verify(&self, token: &str) -> std::result::Result<Claims, String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        jwt::verify(&self.secret, token, now).map_err(|e| match e {
            Invalid::Expired => "the token has expired".into(),
            Invalid::Signature => "the token is not signed by this server's key".into(),
            Invalid::Malformed | Invalid::Algorithm | Invalid::NotYet | Invalid::Audience => {
                "the token is not a valid jobctl token".into()
            }
        })
    }
}

/// The key as the server holds it: looked at again on each request (one `stat`), so a
/// `jobctl token rotate` takes effect at once, without restarting the server.
pub(crate) struct KeyFile {
    state_dir: PathBuf,
    current: std::sync::RwLock<(Option<Stamp>, std::sync::Arc<Key>)>,
}

/// What tells one key file from the next: rotation renames a new file into place.
type Stamp = (u64, u64, i64, i64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.mtime(), m.mtime_nsec()))
}

impl KeyFile {
    pub(crate) fn open(state_dir: &Path) -> Result<KeyFile> {
        let key = Key::load_or_create(state_dir)?;
        Ok(KeyFile {
            state_dir: state_dir.to_path_buf(),
            current: std::sync::RwLock::new((
                stamp(&key_path(state_dir)),
                std::sync::Arc::new(key),
            )),
        })
    }

    /// The key now; a key file that can't be read keeps the previous key (and says so).
    pub(crate) fn key(&self) -> std::sync::Arc<Key> {
        let now = stamp(&key_path(&self.state_dir));
        if let Ok(c) = self.current.read()
            && c.0 == now
        {
            return c.1.clone();
        }
        match Key::load_or_create(&self.state_dir) {
            Ok(key) => {
                let key = std::sync::Arc::new(key);
                if let Ok(mut c) = self.current.write() {
                    *c = (stamp(&key_path(&self.state_dir)), key.clone());
                }
                tracing::info!(
                    "the API key changed: tokens signed with the previous one no longer work"
                );
                key
            }
            Err(e) => {
                tracing::warn!("keeping the previous API key: {e}");
                self.current
                    .read()
                    .map(|c| c.1.clone())
                    .unwrap_or_else(|p| p.into_inner().1.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_scopes_jobs_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::load_or_create(dir.path()).unwrap();
        let t = key
            .issue(
                "ci",
                &[READ],
                Duration::from_secs(60),
                Some(vec!["team-a-*".into()]),
            )
            .unwrap();
        let c = key.verify(&t).unwrap();
        assert!(c.allows(Need::Read) && !c.allows(Need::Write));
        assert!(c.sees_job("team-a-report") && !c.sees_job("team-b-report"));
        let w = key.verify(
            &key.issue("w", &[WRITE], Duration::from_secs(60), None)
                .unwrap(),
        );
        assert!(w.unwrap().allows(Need::Read), "write implies read");
        let expired = key
            .sign(&Claims {
                sub: "x".into(),
                scopes: vec![READ.into()],
                exp: 1_000_000,
                jobs: None,
            })
            .unwrap();
        assert_eq!(key.verify(&expired).unwrap_err(), "the token has expired");
        let again = Key::load_or_create(dir.path()).unwrap();
        assert!(again.verify(&t).is_ok(), "the same key on the next load");
        let rotated = Key::rotate(dir.path()).unwrap();
        assert!(
            rotated.verify(&t).is_err(),
            "rotation invalidates every token"
        );
        assert!(key.verify("garbage").is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
