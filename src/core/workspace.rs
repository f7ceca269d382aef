//! What a run did in its workspace and around it, as data: the worktree it ran in, the
//! files it changed, how a push failed, and what each lifecycle hook did. The run record
//! carries these (`workspace`, `changes`, `hooks`); `--json` shows them as they are.

use std::fmt;

use serde::{Deserialize, Serialize};

/// When a run's worktree directory outlives the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Keep {
    Never,
    /// Kept unless the run succeeded.
    Failed,
    Always,
}

impl Keep {
    pub(crate) fn parse(s: &str) -> Option<Keep> {
        Some(match s {
            "never" => Keep::Never,
            "failed" => Keep::Failed,
            "always" => Keep::Always,
            _ => return None,
        })
    }

    /// Whether a run that ended `succeeded` (or not) keeps its worktree by this rule.
    pub(crate) fn keeps(self, succeeded: bool) -> bool {
        match self {
            Keep::Never => false,
            Keep::Failed => !succeeded,
            Keep::Always => true,
        }
    }
}

/// Why a push failed, as far as git's answer tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushFailure {
    /// No credentials, wrong credentials, or no access to the repository.
    AuthFailed,
    /// The remote refused the update (not a fast-forward, a protected branch, a hook).
    Rejected,
    /// The remote could not be reached, or stopped answering.
    Network,
}

impl PushFailure {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PushFailure::AuthFailed => "auth_failed",
            PushFailure::Rejected => "rejected",
            PushFailure::Network => "network",
        }
    }

    /// Reads git's answer to a push (its stderr). What names neither credentials nor a
    /// refusal is the remote not answering as a remote should: `network`.
    pub(crate) fn classify(stderr: &str) -> PushFailure {
        let s = stderr.to_ascii_lowercase();
        const REJECTED: &[&str] = &[
            "[rejected]",
            "[remote rejected]",
            "non-fast-forward",
            "fetch first",
            "hook declined",
            "protected branch",
            "failed to update ref",
            "stale info",
        ];
        const AUTH: &[&str] = &[
            "authentication failed",
            "permission denied",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "invalid username or password",
            "access denied",
            "403",
            "401",
            "host key verification failed",
            "repository not found",
            "could not read from remote repository",
        ];
        if REJECTED.iter().any(|n| s.contains(n)) {
            PushFailure::Rejected
        } else if AUTH.iter().any(|n| s.contains(n)) {
            PushFailure::AuthFailed
        } else {
            PushFailure::Network
        }
    }
}

impl fmt::Display for PushFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run's worktree: where it was, what it started from, what came of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// The worktree directory.
    pub path: String,
    /// The repository as the config names it (a path or a URL).
    pub repo: String,
    /// What the branch started from, as resolved (`origin/main`, `HEAD`).
    pub base: String,
    pub base_commit: String,
    pub branch: String,
    /// The branch's last commit when the run ended (the base when nothing was committed).
    pub head_commit: Option<String>,
    pub files_changed: u64,
    pub insertions: u64,
    pub deletions: u64,
    pub pushed: bool,
    /// The worktree directory is on disk (kept after the run); false once removed.
    pub kept: bool,
    /// Why the push failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_failure: Option<PushFailure>,
    /// The directory's size when it was kept, for `workspace_max_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// When the worktree directory was removed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<i64>,
    /// Where what the worktree held uncommitted was committed before it was removed
    /// (`jobctl/rescue/RUN_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescue_branch: Option<String>,
}

/// How a file changed, as git's diff letters say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeStatus {
    #[serde(rename = "A")]
    Added,
    #[serde(rename = "M")]
    Modified,
    #[serde(rename = "D")]
    Deleted,
    #[serde(rename = "R")]
    Renamed,
}

impl ChangeStatus {
    /// From git's `--raw` status letter (`R100` → `R`); copies and type changes read as
    /// additions and modifications.
    pub(crate) fn from_git(letter: &str) -> Option<ChangeStatus> {
        Some(match letter.as_bytes().first()? {
            b'A' | b'C' => ChangeStatus::Added,
            b'M' | b'T' => ChangeStatus::Modified,
            b'D' => ChangeStatus::Deleted,
            b'R' => ChangeStatus::Renamed,
            _ => return None,
        })
    }

    pub(crate) fn letter(self) -> &'static str {
        match self {
            ChangeStatus::Added => "A",
            ChangeStatus::Modified => "M",
            ChangeStatus::Deleted => "D",
            ChangeStatus::Renamed => "R",
        }
    }
}

/// One file the run changed (since the base commit, committed or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub status: ChangeStatus,
    /// A renamed file's old path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Lines; `None` for a binary file.
    pub insertions: Option<u64>,
    pub deletions: Option<u64>,
}

/// The lifecycle hooks, in the order a run meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookName {
    PreRun,
    PostRun,
    OnSuccess,
    OnFailure,
}

impl HookName {
    pub(crate) const ALL: [HookName; 4] = [
        HookName::PreRun,
        HookName::PostRun,
        HookName::OnSuccess,
        HookName::OnFailure,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HookName::PreRun => "pre_run",
            HookName::PostRun => "post_run",
            HookName::OnSuccess => "on_success",
            HookName::OnFailure => "on_failure",
        }
    }
}

impl fmt::Display for HookName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one hook did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookResult {
    pub hook: HookName,
    /// The command as configured, for people.
    pub command: String,
    pub ok: bool,
    pub exit_code: Option<i64>,
    pub duration_ms: i64,
    /// Why it failed ("post_run hook exited 3", "... timed out after 5m").
    pub error: Option<String>,
}

/// `text` with the credentials of every URL in it hidden: git's messages and a configured
/// repository URL may carry a token, which no record, message, log line or answer shows.
/// Hidden are the whole user information (`https://TOKEN:x-oauth-basic@host`,
/// `https://TOKEN@host`: the token is the user as often as the password; only an ssh
/// account with no password, `ssh://git@host`, stays) and the value of every query
/// parameter (`?access_token=T`, `&private_token=T`). A URL runs from its `scheme://` to
/// whitespace or a quote, as git's messages quote one. Scanned by hand: these are URLs
/// inside free text, not URLs to parse.
pub(crate) fn redact_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let scheme_start = head[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
            .map_or(0, |j| j + 1);
        let ssh = head[scheme_start..i].contains("ssh");
        let url_end = tail
            .find(|c: char| c.is_whitespace() || "'\"<>`".contains(c))
            .unwrap_or(tail.len());
        let url = &tail[..url_end];
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let user_info = &authority[..at];
                if ssh && !user_info.contains(':') {
                    out.push_str(user_info);
                } else {
                    out.push_str("***");
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        redact_query(&url[authority_end..], &mut out);
        rest = &tail[url_end..];
    }
    out.push_str(rest);
    out
}

/// Appends a URL's path, query and fragment to `out`, with every query value hidden (a
/// parameter without a value: all of it).
fn redact_query(s: &str, out: &mut String) {
    let Some(q) = s.find('?') else {
        out.push_str(s);
        return;
    };
    out.push_str(&s[..=q]);
    let query = &s[q + 1..];
    let (query, fragment) = query.split_at(query.find('#').unwrap_or(query.len()));
    let mut start = 0;
    for (j, c) in query.char_indices().chain([(query.len(), '&')]) {
        if c != '&' && c != ';' {
            continue;
        }
        let param = &query[start..j];
        match param.split_once('=') {
            Some((name, value)) if !value.is_empty() => out.push_str(&format!("{name}=***")),
            Some((name, _)) => out.push_str(&format!("{name}=")),
            None if param.is_empty() => {}
            None => out.push_str("***"),
        }
        if j < query.len() {
            out.push(c);
        }
        start = j + 1;
    }
    out.push_str(fragment);
}

/// The placeholders a branch name or commit message template may use.
pub(crate) const PLACEHOLDERS: [&str; 3] = ["{job}", "{run_id}", "{date}"];

/// Checks that every `{...}` in `template` is one of [`PLACEHOLDERS`].
pub(crate) fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let after = &rest[i..];
        let Some(end) = after.find('}') else {
            return Err(format!("{template:?} has a {{ without its }}"));
        };
        let p = &after[..=end];
        if !PLACEHOLDERS.contains(&p) {
            return Err(format!(
                "{template:?} uses {p}; a template may use {{job}}, {{run_id}} and {{date}}"
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// A template with its placeholders filled: `date` is `YYYYMMDD`.
pub(crate) fn render_template(template: &str, job: &str, run_id: i64, date: &str) -> String {
    template
        .replace("{job}", job)
        .replace("{run_id}", &run_id.to_string())
        .replace("{date}", date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_answers_are_classified() {
        let rejected = " ! [rejected]        jobctl/x/1 -> jobctl/x/1 (fetch first)\nerror: failed to push some refs to '/tmp/origin.git'";
        assert_eq!(PushFailure::classify(rejected), PushFailure::Rejected);
        let hook = " ! [remote rejected] b -> b (pre-receive hook declined)";
        assert_eq!(PushFailure::classify(hook), PushFailure::Rejected);
        let auth =
            "fatal: could not read Username for 'https://github.com': terminal prompts disabled";
        assert_eq!(PushFailure::classify(auth), PushFailure::AuthFailed);
        let ssh = "git@github.com: Permission denied (publickey).\r\nfatal: Could not read from remote repository.";
        assert_eq!(PushFailure::classify(ssh), PushFailure::AuthFailed);
        let dns = "fatal: unable to access 'https://nowhere.invalid/x.git/': Could not resolve host: nowhere.invalid";
        assert_eq!(PushFailure::classify(dns), PushFailure::Network);
        assert_eq!(PushFailure::classify(""), PushFailure::Network);
    }

    #[test]
    fn keep_rules() {
        assert!(!Keep::Never.keeps(false));
        assert!(Keep::Failed.keeps(false) && !Keep::Failed.keeps(true));
        assert!(Keep::Always.keeps(true));
        assert_eq!(Keep::parse("failed"), Some(Keep::Failed));
        assert_eq!(Keep::parse("sometimes"), None);
    }

    #[test]
    fn credentials_in_urls_are_hidden() {
        assert_eq!(
            redact_url_credentials(
                "fatal: unable to access 'https://me:ghp_abc123@github.com/o/r.git/': 403"
            ),
            "fatal: unable to access 'https://***@github.com/o/r.git/': 403"
        );
        assert_eq!(
            redact_url_credentials("https://ghp_tok:x-oauth-basic@github.com/o/r.git"),
            "https://***@github.com/o/r.git"
        );
        assert_eq!(
            redact_url_credentials(
                "cloned https://h/r.git?access_token=T1&x=&private_token=T2;y into /d"
            ),
            "cloned https://h/r.git?access_token=***&x=&private_token=***;*** into /d"
        );
        assert_eq!(
            redact_url_credentials("'http://h:9/r.git?private_token=T/info/refs&service=u#f'"),
            "'http://h:9/r.git?private_token=***&service=***#f'"
        );
        assert_eq!(
            redact_url_credentials("ssh://git:pw@host/r ssh://git@host/r"),
            "ssh://***@host/r ssh://git@host/r"
        );
        assert_eq!(
            redact_url_credentials("https://ghp_abc@github.com/o/r"),
            "https://***@github.com/o/r"
        );
        let plain = "ssh://git@host/r and https://github.com/o/r.git";
        assert_eq!(redact_url_credentials(plain), plain);
        assert_eq!(redact_url_credentials("no url here"), "no url here");
    }

    #[test]
    fn templates() {
        assert!(check_template("jobctl/{job}/{run_id}-{date}").is_ok());
        assert!(check_template("plain").is_ok());
        assert!(check_template("x/{user}").unwrap_err().contains("{user}"));
        assert!(check_template("x/{job").is_err());
        assert_eq!(
            render_template("jobctl/{job}/{run_id}", "fix", 42, "20260101"),
            "jobctl/fix/42"
        );
        assert_eq!(render_template("{date}", "a", 1, "20260101"), "20260101");
    }

    #[test]
    fn change_letters() {
        assert_eq!(ChangeStatus::from_git("R087"), Some(ChangeStatus::Renamed));
        assert_eq!(ChangeStatus::from_git("A"), Some(ChangeStatus::Added));
        assert_eq!(ChangeStatus::from_git("X"), None);
        let j = serde_json::to_string(&ChangeStatus::Deleted).unwrap();
        assert_eq!(j, "\"D\"");
    }
}
