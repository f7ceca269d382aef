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
