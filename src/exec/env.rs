//! Environments of processes as lists of `NAME=value` pairs, and keeping secrets out of
//! what jobctl says: values of variables named like keys, tokens, secrets or passwords.

/// The one lookup of a program, with exec's rules, for every place that needs one (a job's
/// command, an agent's CLI, `jobctl init`): a name with a slash is that path (relative to
/// `workdir`); a bare name is searched on `path` (the `PATH` of the environment the
/// process will get; `/usr/bin:/bin` without one), where an empty or relative entry is
/// taken from `workdir`, and only executable files count. `None`: not found.
pub(crate) fn find_program(
    program: &str,
    path: Option<&str>,
    workdir: &std::path::Path,
) -> Option<std::path::PathBuf> {
    if program.is_empty() {
        return None;
    }
    let path = if program.contains('/') {
        None
    } else {
        Some(path.unwrap_or("/usr/bin:/bin"))
    };
    which::which_in(program, path, workdir).ok()
}

/// The program a shell command string starts, when the string is that simple: its first
/// word after any `NAME=value` assignments. `None` when the shell decides (a builtin, a
/// keyword, an expansion, quoting, redirection): then jobctl can't tell, and says nothing.
pub(crate) fn shell_program(command: &str) -> Option<&str> {
    const SHELL_OWN: &[&str] = &[
        "!", ".", ":", "[", "[[", "{", "alias", "bg", "break", "case", "cd", "command", "continue",
        "echo", "eval", "exec", "exit", "export", "false", "fg", "for", "getopts", "hash", "if",
        "jobs", "kill", "local", "printf", "pwd", "read", "readonly", "return", "select", "set",
        "shift", "source", "test", "time", "times", "trap", "true", "type", "ulimit", "umask",
        "unalias", "unset", "until", "wait", "while",
    ];
    let first = command
        .split_ascii_whitespace()
        .find(|w| !is_assignment(w))?;
    let plain = first.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ',' | '@' | '%')
    });
    (plain && !SHELL_OWN.contains(&first)).then_some(first)
}

/// `NAME=value` before a command: an assignment, not the program.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The value of `PATH` in an environment list.
pub(crate) fn path_of(env: &[(String, String)]) -> Option<&str> {
    get(env, "PATH")
}

/// The value of `k` in an environment list.
pub(crate) fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
    env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.as_str())
}

/// Sets `k` to `v`, replacing an earlier value.
pub(crate) fn set(env: &mut Vec<(String, String)>, k: &str, v: &str) {
    match env.iter_mut().find(|(ek, _)| ek == k) {
        Some(e) => e.1 = v.to_string(),
        None => env.push((k.to_string(), v.to_string())),
    }
}

/// Whether a variable's value is a secret: never shown in jobctl's output, records or logs.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|w| n.contains(w))
}

/// The values of the secret variables of `env`, longest first (so a secret that contains
/// another is hidden whole).
pub(crate) fn secret_values(env: &[(String, String)]) -> Vec<String> {
    let mut v: Vec<String> = env
        .iter()
        .filter(|(k, v)| is_secret_name(k) && v.len() >= 4)
        .map(|(_, v)| v.clone())
        .collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v.dedup();
    v
}

/// `text` with every secret value replaced by `***`: a CLI that repeats the key it was
/// given in its error ("invalid api key sk-...") must not put it in a record.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shell_program;

    #[test]
    fn the_program_of_a_simple_shell_command() {
        assert_eq!(shell_program("backup --all /srv"), Some("backup"));
        assert_eq!(
            shell_program("  LANG=C TZ=UTC ./bin/run x"),
            Some("./bin/run")
        );
        assert_eq!(shell_program("/usr/bin/env true"), Some("/usr/bin/env"));
        // What the shell decides, jobctl doesn't guess.
        for s in [
            "cd /tmp && make",
            "echo hi",
            "$HOME/bin/x",
            "\"quoted\" x",
            "(sub)",
            "",
            "A=1",
        ] {
            assert_eq!(shell_program(s), None, "{s}");
        }
    }
}
