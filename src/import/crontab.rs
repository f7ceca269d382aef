//! A crontab (`crontab -l`) as script jobs: each entry's five fields (or `@daily`-style
//! macro) become its `cron`, its command a `/bin/sh -c` string, and the variables set
//! above it its `env`.

use super::toml_out::{inline_table, string};
use super::{Imported, name_from};
use crate::core::schedule::Schedule;

pub(crate) fn from_crontab(text: &str) -> Imported {
    let mut out = Imported::default();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = assignment(line) {
            match k.as_str() {
                "MAILTO" | "MAILFROM" => out.notes.push(format!(
                    "line {n}: {k}: jobctl does not mail output; it keeps each run's log (jobctl logs)"
                )),
                "SHELL" if v != "/bin/sh" => out.notes.push(format!(
                    "line {n}: SHELL={v}: jobctl runs a string command under /bin/sh"
                )),
                "SHELL" => {}
                _ => {
                    env.retain(|(ek, _)| *ek != k);
                    env.push((k, v));
                }
            }
            continue;
        }
        let (schedule, command) = match split_entry(line) {
            Ok(x) => x,
            Err(why) => {
                out.notes.push(format!("line {n}: {why}: {line}"));
                continue;
            }
        };
        if let Err(e) = Schedule::cron(&schedule) {
            out.notes.push(format!("line {n}: {e}"));
            continue;
        }
        let command = match percent(&command) {
            Ok(c) => c,
            Err(()) => {
                out.notes.push(format!(
                    "line {n}: the command uses % (cron's stdin and newlines); jobctl gives jobs no stdin, so it was left out: {command}"
                ));
                continue;
            }
        };
        let word = command
            .split_whitespace()
            .next()
            .map(|w| w.rsplit('/').next().unwrap_or(w))
            .unwrap_or("job");
        let name = name_from(word, &format!("cron-{n}"), &names);
        names.push(name.clone());
        out.toml.push_str(&format!(
            "[jobs.{name}]\ntype = \"script\"\ncommand = {}\ncron = {}\n",
            string(&command),
            string(&schedule)
        ));
        if !env.is_empty() {
            out.toml
                .push_str(&format!("env = {}\n", inline_table(&env)));
        }
        out.toml.push('\n');
    }
    if !names.is_empty() {
        out.notes.push(
            "cron runs a job however long it takes; each jobctl job has a timeout (runner.default_timeout, 30m unless set): add `timeout` to longer ones".into(),
        );
    }
    out
}

/// `NAME=value` (cron's environment lines; quotes around the value dropped).
fn assignment(line: &str) -> Option<(String, String)> {
    let (k, v) = line.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(v);
    Some((k.to_string(), v.to_string()))
}

/// The schedule (five fields, or a macro) and the command of a crontab entry.
fn split_entry(line: &str) -> Result<(String, String), String> {
    if line.starts_with('@') {
        let (m, rest) = line
            .split_once(char::is_whitespace)
            .ok_or("a macro without a command")?;
        let m = match m {
            "@annually" => "@yearly",
            "@midnight" => "@daily",
            "@reboot" => {
                return Err(
                    "@reboot has no jobctl schedule (jobctl runs from a timer, not at boot)".into(),
                );
            }
            m => m,
        };
        return Ok((m.to_string(), rest.trim().to_string()));
    }
    let mut rest = line;
    let mut fields = Vec::new();
    for _ in 0..5 {
        rest = rest.trim_start();
        let end = rest
            .find(char::is_whitespace)
            .ok_or("fewer than 5 fields and a command")?;
        fields.push(&rest[..end]);
        rest = &rest[end..];
    }
    let command = rest.trim();
    if command.is_empty() {
        return Err("no command".into());
    }
    Ok((fields.join(" "), command.to_string()))
}

/// cron's `%`: an unescaped one ends the command (what follows is its stdin); `\%` is a
/// literal `%`. Err: the command has an unescaped one.
fn percent(command: &str) -> Result<String, ()> {
    let mut out = String::with_capacity(command.len());
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                out.push('%');
                chars.next();
            }
            '%' => return Err(()),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crontab_becomes_valid_jobs_and_says_what_it_left() {
        let text = "# m h dom mon dow command\nMAILTO=me@example.com\nPATH=/usr/local/bin:/usr/bin:/bin\n\
                    15 3 * * * /usr/local/bin/backup.sh --all\n*/5 * * * * date +\\%s >> /tmp/t\n\
                    @daily cleanup\n@reboot start-thing\n0 0 * * * mail -s hi me%body\n61 * * * * bad\n";
        let out = from_crontab(text);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jobctl.toml");
        std::fs::write(&p, out.text("crontab")).unwrap();
        let cfg = crate::config::load_fresh(Some(&p)).expect("valid TOML");
        assert_eq!(cfg.jobs.len(), 3, "{}", out.toml);
        let backup = cfg.job("backup-sh").unwrap();
        assert_eq!(
            backup.schedule.as_ref().unwrap().describe(),
            "cron 15 3 * * *"
        );
        assert!(
            backup
                .env
                .iter()
                .any(|(k, v)| k == "PATH" && v.starts_with("/usr/local")),
            "{:?}",
            backup.env
        );
        assert!(out.toml.contains("date +%s >> /tmp/t"), "{}", out.toml);
        let notes = out.notes.join("\n");
        for want in ["MAILTO", "@reboot", "%", "minute 61", "timeout"] {
            assert!(notes.contains(want), "{want}: {notes}");
        }
    }
}
