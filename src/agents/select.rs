//! The pure rules of choosing an agent (agents.md, "Scopes and the shared budget"): the
//! order candidates are tried in, the credential pre-check, and what each outcome of a
//! call means for the run and the scope. No I/O here; `agents::call` applies them.

use std::path::{Path, PathBuf};

use super::parse::{FailureKind, Parsed};
use crate::config::Auth;
use crate::core::run::Outcome;

/// The job's own agent first, then `[fallback] order`, each at most once.
pub(crate) fn candidates(first: Option<&str>, fallback: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in first.into_iter().chain(fallback.iter().map(String::as_str)) {
        if !out.iter().any(|x| x == a) {
            out.push(a.to_string());
        }
    }
    out
}

/// `Err(reason)` when `auth` lists credentials and none is present in `env` or on disk.
pub(crate) fn check_credentials(
    auth: Option<&Auth>,
    env: &[(String, String)],
    exists: impl Fn(&Path) -> bool,
) -> Result<(), String> {
    let Some(auth) = auth else { return Ok(()) };
    if auth.env.is_empty() && auth.files.is_empty() {
        return Ok(());
    }
    let env_ok = auth
        .env
        .iter()
        .any(|k| env.iter().any(|(ek, v)| ek == k && !v.is_empty()));
    let file_ok = auth.files.iter().any(|f| exists(f));
    if env_ok || file_ok {
        return Ok(());
    }
    let mut what: Vec<String> = auth.env.iter().map(|e| format!("env {e}")).collect();
    what.extend(auth.files_display.iter().map(|f| format!("file {f}")));
    Err(format!(
        "auth_failed: missing credentials ({})",
        what.join(", ")
    ))
}

/// Where an agent's program would be found: on the `PATH` of the environment the agent
/// gets, from its working directory (`exec::env::find_program`, the one lookup).
pub(crate) fn find_program(
    program: &str,
    env: &[(String, String)],
    workdir: &Path,
) -> Option<PathBuf> {
    crate::exec::env::find_program(program, crate::exec::env::path_of(env), workdir)
}

/// What a finished call means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Succeeded,
    /// Release the reservation, disable this scope with the reason, try the next agent.
    NextAgent {
        outcome: Outcome,
        reason: String,
    },
    /// The run ends `failed` with this error; scopes untouched. `refund`: the CLI never
    /// used the service (it refused the call, or exited before any sign of the service),
    /// so the reservation is given back.
    Failed {
        error: String,
        refund: bool,
    },
}

pub(crate) fn verdict(parsed: &Parsed) -> Verdict {
    let Some(f) = &parsed.failure else {
        return Verdict::Succeeded;
    };
    let next = |outcome: Outcome| Verdict::NextAgent {
        outcome,
        reason: format!("{outcome}: {}", f.message),
    };
    match f.kind {
        FailureKind::Auth => next(Outcome::AuthFailed),
        FailureKind::Quota => next(Outcome::QuotaExhausted),
        FailureKind::Unavailable => next(Outcome::Unavailable),
        FailureKind::Rejected => Verdict::Failed {
            error: f.message.clone(),
            refund: true,
        },
        FailureKind::Other => Verdict::Failed {
            error: f.message.clone(),
            refund: !parsed.reached_service,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_tried_once_in_order() {
        let fb = vec![
            "codex".to_string(),
            "claude".to_string(),
            "local".to_string(),
            "codex".to_string(),
        ];
        assert_eq!(
            candidates(Some("claude"), &fb),
            ["claude", "codex", "local"]
        );
        assert_eq!(candidates(None, &fb), ["codex", "claude", "local"]);
        assert!(candidates(None, &[]).is_empty());
    }

    #[test]
    fn credentials() {
        let auth = Auth {
            env: vec!["CLAUDE_CODE_OAUTH_TOKEN".into()],
            files: vec!["/nonexistent/.credentials.json".into()],
            files_display: vec!["~/.claude/.credentials.json".into()],
        };
        let none: Vec<(String, String)> = vec![];
        let err = check_credentials(Some(&auth), &none, |_| false).unwrap_err();
        assert_eq!(
            err,
            "auth_failed: missing credentials (env CLAUDE_CODE_OAUTH_TOKEN, file ~/.claude/.credentials.json)"
        );
        let empty = vec![("CLAUDE_CODE_OAUTH_TOKEN".to_string(), String::new())];
        assert!(
            check_credentials(Some(&auth), &empty, |_| false).is_err(),
            "an empty variable is no credential"
        );
        let set = vec![("CLAUDE_CODE_OAUTH_TOKEN".to_string(), "x".to_string())];
        assert!(check_credentials(Some(&auth), &set, |_| false).is_ok());
        assert!(check_credentials(Some(&auth), &none, |_| true).is_ok());
        assert!(
            check_credentials(None, &none, |_| false).is_ok(),
            "no auth table: no pre-check"
        );
        assert!(
            check_credentials(Some(&Auth::default()), &none, |_| false).is_ok(),
            "empty lists: no pre-check"
        );
    }

    #[test]
    fn verdicts() {
        let failed = |kind, message: &str, reached_service| Parsed {
            failure: Some(super::super::parse::Failure {
                kind,
                message: message.into(),
            }),
            reached_service,
            ..Default::default()
        };
        assert_eq!(verdict(&Parsed::default()), Verdict::Succeeded);
        assert_eq!(
            verdict(&failed(FailureKind::Auth, "Not logged in", false)),
            Verdict::NextAgent {
                outcome: Outcome::AuthFailed,
                reason: "auth_failed: Not logged in".into()
            }
        );
        assert_eq!(
            verdict(&failed(FailureKind::Unavailable, "Reconnecting", false)),
            Verdict::NextAgent {
                outcome: Outcome::Unavailable,
                reason: "unavailable: Reconnecting".into()
            }
        );
        assert_eq!(
            verdict(&failed(FailureKind::Other, "boom", true)),
            Verdict::Failed {
                error: "boom".into(),
                refund: false
            }
        );
        assert_eq!(
            verdict(&failed(FailureKind::Other, "boom", false)),
            Verdict::Failed {
                error: "boom".into(),
                refund: true
            }
        );
        assert_eq!(
            verdict(&failed(FailureKind::Rejected, "root", true)),
            Verdict::Failed {
                error: "root".into(),
                refund: true
            }
        );
    }

    #[test]
    fn programs_are_found_on_the_agents_path() {
        let env = vec![("PATH".to_string(), "/nonexistent:/bin:/usr/bin".to_string())];
        let here = Path::new("/");
        assert!(find_program("sh", &env, here).is_some());
        assert!(find_program("surely-not-a-program-xyz", &env, here).is_none());
        assert!(find_program("/bin/sh", &[], here).is_some());
    }
}
