//! Other schedulers' jobs as jobctl TOML: a crontab, the `jobs:` section of a TeleClaude
//! `teleclaude.yml`, a job-finder `ai-settings` JSON (agents, budgets, fallbacks, scope
//! states). Each converter is a pure function of the text it is given: the TOML, and
//! what it could not carry over (also written into the TOML as comments), so nothing is
//! dropped silently.

mod aisettings;
mod crontab;
mod teleclaude;
mod toml_out;

pub(crate) use aisettings::from_ai_settings;
pub(crate) use crontab::from_crontab;
pub(crate) use teleclaude::from_teleclaude;

/// A conversion: the TOML to print, and the notes of what did not carry over.
#[derive(Debug, Default)]
pub(crate) struct Imported {
    pub(crate) toml: String,
    pub(crate) notes: Vec<String>,
}

impl Imported {
    /// The TOML with the notes as comments at its head.
    pub(crate) fn text(&self, source: &str) -> String {
        let mut s = format!("# Imported by jobctl from {source}; check it with `jobctl check`.\n");
        if !self.notes.is_empty() {
            s.push_str("# Not carried over:\n");
            for n in &self.notes {
                for (i, line) in n.lines().enumerate() {
                    s.push_str(if i == 0 { "# - " } else { "#   " });
                    s.push_str(line);
                    s.push('\n');
                }
            }
        }
        s.push('\n');
        s.push_str(&self.toml);
        s
    }
}

/// A job or agent name jobctl accepts (`^[a-z0-9][a-z0-9_-]{0,63}$`) made from `raw`,
/// not one of `taken`.
pub(crate) fn name_from(raw: &str, fallback: &str, taken: &[String]) -> String {
    let mut s: String = raw
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s = s.trim_matches(|c| c == '-' || c == '_').to_string();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    s.truncate(56);
    if s.is_empty() || !crate::core::units::is_valid_name(&s) || s == crate::core::run::ASK_JOB {
        s = fallback.to_string();
    }
    let mut name = s.clone();
    let mut i = 2;
    while taken.contains(&name) {
        name = format!("{s}-{i}");
        i += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::name_from;

    #[test]
    fn names_become_valid_and_unique() {
        assert_eq!(name_from("Backup.SH", "job", &[]), "backup-sh");
        assert_eq!(name_from("///", "job", &[]), "job");
        assert_eq!(name_from("a", "job", &["a".into()]), "a-2");
        assert_eq!(name_from("ask", "job", &[]), "job");
    }
}
