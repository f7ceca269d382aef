//! `[jobs.NAME.workspace]` (the git worktree a job runs in) and the lifecycle hooks of
//! `[runner.hooks]` and `[jobs.NAME.hooks]`.

use std::time::Duration;

use super::walk::{Ctx, StrOrList, Table};
use super::{Command, GitAuthor, Hooks, Repo, Workspace};
use crate::core::workspace::{self, HookName, Keep};

pub(super) const WORKSPACE_KEYS: &[&str] = &[
    "repo",
    "base",
    "branch",
    "fetch",
    "remote",
    "commit",
    "commit_message",
    "push",
    "keep",
    "include",
];
const HOOK_KEYS: &[&str] = &[
    "pre_run",
    "post_run",
    "on_success",
    "on_failure",
    "hook_timeout",
];

pub(crate) const DEFAULT_BRANCH: &str = "jobctl/{job}/{run_id}";
pub(crate) const DEFAULT_COMMIT_MESSAGE: &str = "jobctl: {job} run {run_id}";

fn span_of(t: &Table<'_, '_>, key: &str) -> std::ops::Range<usize> {
    t.get(key).map(|v| v.span()).unwrap_or(t.span.clone())
}

/// Whether a `repo` value is a URL (git's rule: a scheme, or `host:path` with no slash
/// before the colon) rather than a local path.
pub(crate) fn is_url(s: &str) -> bool {
    if let Some(i) = s.find("://") {
        return i > 0
            && s[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b));
    }
    match s.find(':') {
        Some(i) => {
            let host = &s[..i];
            !host.is_empty() && !host.contains('/') && !s.starts_with(['.', '~', '$'])
        }
        None => false,
    }
}

/// Why a value that would start git's argument with `-` is refused.
fn option_like(value: &str) -> String {
    format!("{value:?} starts with \"-\", which git would read as an option")
}

/// Why `value`, passed to git as a ref (checked as `refname`, a full ref name), is not one
/// by git's own rules (`git check-ref-format`), if it is not.
fn ref_problem(ctx: &mut Ctx<'_>, git: &str, refname: &str, value: &str) -> Option<String> {
    if value.starts_with('-') {
        return Some(option_like(value));
    }
    match ctx.inputs.git_ref_ok(git, refname) {
        Ok(false) => Some(format!(
            "{value:?} is not a valid ref name (see git check-ref-format)"
        )),
        // A git that can't run is said once, at `branch`.
        Ok(true) | Err(_) => None,
    }
}

/// Why `url` (a `repo` that [`is_url`]) is not a repository URL jobctl passes to git, if
/// it is not: an `https`, `http`, `ssh`, `git` or `file` URL, or ssh's `[user@]host:path`,
/// with no part git or ssh would read as an option (a host or path starting with `-`)
/// and no remote helper (`ext::COMMAND` runs a command).
pub(crate) fn url_problem(url: &str) -> Option<String> {
    const SCHEMES: &[&str] = &["https", "http", "ssh", "git", "file", "git+ssh", "ssh+git"];
    let shown = crate::core::workspace::redact_url_credentials(url);
    if url.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "{shown:?} has whitespace or control characters in it"
        ));
    }
    let (host, path) = match url.split_once("://") {
        Some((scheme, rest)) => {
            if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
                return Some(format!(
                    "{shown:?}: expected an https, http, ssh, git or file URL (or host:path)"
                ));
            }
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        }
        None => {
            if url.contains("::") {
                return Some(format!(
                    "{shown:?} names a remote helper (TRANSPORT::ADDRESS), which jobctl does not use; \
                     expected an https, http, ssh, git or file URL (or host:path)"
                ));
            }
            url.split_once(':').unwrap_or((url, ""))
        }
    };
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.starts_with('-') || path.starts_with('-') {
        return Some(format!(
            "{shown:?} has a host or path starting with \"-\", which git or ssh would read as an option"
        ));
    }
    None
}

/// The `[workspace]` of job `job`; `None` on error (recorded).
pub(super) fn workspace_section(
    ctx: &mut Ctx<'_>,
    t: &Table<'_, '_>,
    job: &str,
    git: &str,
) -> Option<Workspace> {
    t.check_keys(ctx, WORKSPACE_KEYS, "a workspace");
    t.required(ctx, "repo", "a local repository path or a URL");
    let repo_display = t.str(ctx, "repo");
    let repo = match &repo_display {
        Some(r) if r.trim().is_empty() => {
            ctx.err(
                span_of(t, "repo"),
                &t.key_path("repo"),
                "expected a repository path or URL",
            );
            None
        }
        Some(r) if r.starts_with('-') => {
            ctx.err(span_of(t, "repo"), &t.key_path("repo"), option_like(r));
            None
        }
        Some(r) if is_url(r) => match url_problem(r) {
            None => Some(Repo::Url(r.clone())),
            Some(why) => {
                ctx.err(span_of(t, "repo"), &t.key_path("repo"), why);
                None
            }
        },
        Some(_) => local_repo(ctx, t),
        None => None,
    };
    let template = |ctx: &mut Ctx<'_>, key: &str, default: &str| {
        let s = t.str(ctx, key).unwrap_or_else(|| default.to_string());
        match workspace::check_template(&s) {
            Ok(()) => Some(s),
            Err(e) => {
                ctx.err(span_of(t, key), &t.key_path(key), e);
                None
            }
        }
    };
    let branch = template(ctx, "branch", DEFAULT_BRANCH);
    if let Some(b) = &branch {
        let sample = workspace::render_template(b, job, 1, "20260101");
        let refname = format!("refs/heads/{sample}");
        let why = if sample.starts_with('-') {
            Some(format!(
                "{b:?} makes branch names like {sample:?}: {}",
                option_like(&sample)
            ))
        } else {
            match ctx.inputs.git_ref_ok(git, &refname) {
                Ok(true) => None,
                Ok(false) => Some(format!(
                    "{b:?} makes branch names git refuses (e.g. {sample:?}; see git check-ref-format)"
                )),
                Err(e) => Some(e),
            }
        };
        if let Some(why) = why {
            ctx.err(span_of(t, "branch"), &t.key_path("branch"), why);
        }
    }
    let commit_message = template(ctx, "commit_message", DEFAULT_COMMIT_MESSAGE);
    let remote = t.str(ctx, "remote").unwrap_or_else(|| "origin".into());
    let remote_problem =
        if remote.is_empty() || remote.contains(|c: char| c.is_whitespace() || c == '/') {
            Some(format!("found {remote:?}"))
        } else {
            ref_problem(ctx, git, &format!("refs/remotes/{remote}/HEAD"), &remote)
        };
    if let Some(why) = remote_problem {
        ctx.err(
            span_of(t, "remote"),
            &t.key_path("remote"),
            format!("expected a remote's name (like \"origin\"): {why}"),
        );
    }
    let base = t.str(ctx, "base");
    if let Some(b) = &base
        && let Some(why) = ref_problem(ctx, git, &format!("refs/heads/{b}"), b)
    {
        ctx.err(
            span_of(t, "base"),
            &t.key_path("base"),
            format!("expected a branch, tag or commit: {why}"),
        );
    }
    let keep = match t.str(ctx, "keep") {
        None => Some(Keep::Failed),
        Some(k) => {
            let parsed = Keep::parse(&k);
            if parsed.is_none() {
                ctx.err(
                    span_of(t, "keep"),
                    &t.key_path("keep"),
                    format!("expected \"never\", \"failed\" or \"always\", found {k:?}"),
                );
            }
            parsed
        }
    };
    let include = t.strings(ctx, "include").unwrap_or_default();
    if matches!(repo, Some(Repo::Url(_))) && !include.is_empty() {
        ctx.err(
            span_of(t, "include"),
            &t.key_path("include"),
            "include copies gitignored files from a local checkout; a URL repository has none",
        );
    }
    for (i, p) in include.iter().enumerate() {
        if p.trim().is_empty() || p.starts_with('/') || p.split('/').any(|c| c == "..") {
            ctx.err(
                span_of(t, "include"),
                &format!("{}[{i}]", t.key_path("include")),
                format!("expected a path or pattern inside the repository, found {p:?}"),
            );
        }
    }
    Some(Workspace {
        repo: repo?,
        repo_display: crate::core::workspace::redact_url_credentials(&repo_display?),
        base,
        branch: branch?,
        fetch: t.bool(ctx, "fetch"),
        remote,
        commit: t.bool(ctx, "commit").unwrap_or(true),
        commit_message: commit_message?,
        push: t.bool(ctx, "push").unwrap_or(false),
        keep: keep?,
        include,
    })
}

/// A local `repo`: it must exist and be a git repository, now.
fn local_repo(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<Repo> {
    let p = t.path(ctx, "repo")?;
    let span = span_of(t, "repo");
    match ctx.inputs.metadata(&p) {
        Ok(m) if m.is_dir => {}
        Ok(_) => {
            ctx.err(
                span,
                &t.key_path("repo"),
                format!("{} is not a directory", p.display()),
            );
            return None;
        }
        Err(e) => {
            ctx.err(
                span,
                &t.key_path("repo"),
                format!("{} does not exist ({e})", p.display()),
            );
            return None;
        }
    }
    let checkout = ctx.inputs.metadata(&p.join(".git")).is_ok();
    let inputs = &mut ctx.inputs;
    let objects = inputs.metadata(&p.join("objects"));
    let bare =
        !checkout && inputs.metadata(&p.join("HEAD")).is_ok() && objects.is_ok_and(|m| m.is_dir);
    if !checkout && !bare {
        ctx.err(
            span,
            &t.key_path("repo"),
            format!("{} is not a git repository", p.display()),
        );
        return None;
    }
    Some(Repo::Local(p))
}

/// What one hooks table says: per hook, unset (`None`), set to nothing (`Some(None)`: an
/// empty string, which takes away the runner's), or a command.
#[derive(Default)]
pub(super) struct HooksSpec {
    hooks: [Option<Option<Command>>; 4],
    timeout: Option<Duration>,
}

pub(super) fn hooks_table(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> HooksSpec {
    t.check_keys(ctx, HOOK_KEYS, "a hooks table");
    let mut spec = HooksSpec::default();
    for (i, name) in HookName::ALL.iter().enumerate() {
        let key = name.as_str();
        spec.hooks[i] = match t.str_or_strings(ctx, key) {
            None => None,
            Some(StrOrList::Str(s)) if s.trim().is_empty() => Some(None),
            Some(StrOrList::Str(s)) => Some(Some(Command::Shell(s))),
            Some(StrOrList::List(l)) if l.is_empty() => {
                ctx.err(
                    span_of(t, key),
                    &t.key_path(key),
                    "expected a non-empty array (or \"\" for no hook)",
                );
                None
            }
            Some(StrOrList::List(l)) => Some(Some(Command::Argv(l))),
        };
    }
    spec.timeout = t.duration(ctx, "hook_timeout", Duration::from_secs(1));
    spec
}

/// A job's hooks: its own where it names one, else the runner's. `None` when no hook
/// applies.
pub(super) fn resolve_hooks(job: Option<HooksSpec>, runner: Option<&Hooks>) -> Option<Box<Hooks>> {
    let job = job.unwrap_or_default();
    let mut out = Hooks {
        timeout: job
            .timeout
            .or(runner.map(|r| r.timeout))
            .unwrap_or(Hooks::DEFAULT_TIMEOUT),
        ..Hooks::default()
    };
    for (i, name) in HookName::ALL.iter().enumerate() {
        let cmd = match &job.hooks[i] {
            Some(own) => own.clone(),
            None => runner.and_then(|r| r.get(*name).cloned()),
        };
        match name {
            HookName::PreRun => out.pre_run = cmd,
            HookName::PostRun => out.post_run = cmd,
            HookName::OnSuccess => out.on_success = cmd,
            HookName::OnFailure => out.on_failure = cmd,
        }
    }
    let any = HookName::ALL.iter().any(|n| out.get(*n).is_some());
    any.then(|| Box::new(out))
}

/// `[runner.hooks]` as written (its `hook_timeout` counts even with no hook in it).
pub(super) fn runner_hooks(spec: HooksSpec) -> Hooks {
    let [pre_run, post_run, on_success, on_failure] = spec.hooks.map(Option::flatten);
    Hooks {
        pre_run,
        post_run,
        on_success,
        on_failure,
        timeout: spec.timeout.unwrap_or(Hooks::DEFAULT_TIMEOUT),
    }
}

/// `runner.git_author`: `"Name <email>"`.
pub(super) fn git_author(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<GitAuthor> {
    let s = t.str(ctx, "git_author")?;
    let parsed = s.trim().strip_suffix('>').and_then(|rest| {
        let (name, email) = rest.rsplit_once('<')?;
        let (name, email) = (name.trim(), email.trim());
        (!name.is_empty() && email.contains('@') && !email.contains(['<', '>'])).then(|| {
            GitAuthor {
                name: name.to_string(),
                email: email.to_string(),
            }
        })
    });
    if parsed.is_none() {
        ctx.err(
            span_of(t, "git_author"),
            "runner.git_author",
            format!("expected \"Name <email@example.com>\", found {s:?}"),
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::{is_url, url_problem};

    #[test]
    fn repository_urls_git_takes_as_they_are() {
        for ok in [
            "https://github.com/o/r.git",
            "https://TOKEN@github.com/o/r.git",
            "ssh://git@host:22/r",
            "file:///srv/r.git",
            "git@github.com:o/r.git",
            "host:r",
        ] {
            assert_eq!(url_problem(ok), None, "{ok}");
        }
        for bad in [
            "ssh://-oProxyCommand=x/r",
            "ssh://u@-oProxyCommand=x/r",
            "-oProxyCommand=x:r",
            "host:-r",
            "ext::sh -c x",
            "fd::3",
            "gopher://host/r",
            "https://host/r x",
        ] {
            assert!(url_problem(bad).is_some(), "{bad}");
        }
        let why = url_problem("ftp://SECRET:x@host/r").unwrap();
        assert!(!why.contains("SECRET"), "{why}");
    }

    #[test]
    fn urls_and_paths() {
        for u in [
            "https://github.com/o/r.git",
            "ssh://git@host/r",
            "file:///srv/r.git",
            "git@github.com:o/r.git",
            "host:r",
        ] {
            assert!(is_url(u), "{u}");
        }
        for p in [
            "~/src/app",
            "/srv/app",
            "app",
            "./a:b",
            "dir/x:y",
            "$HOME/a",
        ] {
            assert!(!is_url(p), "{p}");
        }
    }
}
