//! The `jobs:` section of a TeleClaude `teleclaude.yml`. Its schedules are frequencies
//! with a preferred time (`schedule: daily`, `preferred_hour: 6`); a `script` job is a
//! Python file, a `job` an agent job whose prompt is TeleClaude's own ("Read
//! @docs/project/spec/jobs/NAME.md and execute the job instructions.").

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use super::toml_out::{number, string};
use super::{Imported, name_from};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `dir` is the directory of the teleclaude.yml: TeleClaude runs jobs from there.
pub(crate) fn from_teleclaude(text: &str, dir: &Path) -> Result<Imported, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let doc = docs.first().ok_or("an empty YAML file")?;
    let Some(jobs) = doc["jobs"].as_hash() else {
        return Err("no `jobs:` section".into());
    };
    let mut out = Imported::default();
    let mut names: Vec<String> = Vec::new();
    let mut agents: Vec<String> = Vec::new();
    for (k, v) in jobs {
        let raw = match k {
            Yaml::String(s) => s.clone(),
            other => format!("{other:?}"),
        };
        let name = name_from(&raw, "job", &names);
        names.push(name.clone());
        if name != raw {
            out.notes.push(format!("job {raw:?} is named {name:?} (jobctl's names are lowercase letters, digits, - and _)"));
        }
        let schedule = match schedule(v) {
            Ok(s) => s,
            Err(why) => {
                out.notes
                    .push(format!("job {raw:?}: {why}; it was left out"));
                continue;
            }
        };
        let mut t = format!("[jobs.{name}]\n");
        match (v["script"].as_str(), v["job"].as_str()) {
            (Some(script), _) => {
                t.push_str(&format!(
                    "type = \"script\"\ncommand = [\"python3\", {}]\n",
                    string(script)
                ));
                out.notes.push(format!(
                    "job {raw:?}: TeleClaude ran {script} as a module (its JOB.run()); here it runs as `python3 {script}`: check that it runs that way"
                ));
            }
            (None, Some(spec)) => {
                let agent = v["agent"].as_str().unwrap_or("claude").to_string();
                let thinking = v["thinking_mode"].as_str().unwrap_or("fast");
                if !agents.contains(&agent) {
                    agents.push(agent.clone());
                }
                t.push_str(&format!(
                    "type = \"agent\"\nprompt = {}\nagent = {}\nthinking = {}\n",
                    string(&format!(
                        "Read @docs/project/spec/jobs/{spec}.md and execute the job instructions."
                    )),
                    string(&agent),
                    string(thinking)
                ));
            }
            (None, None) => {
                out.notes.push(format!(
                    "job {raw:?}: neither script nor job, so nothing to run; it was left out"
                ));
                names.pop();
                continue;
            }
        }
        t.push_str(&schedule);
        match &v["timeout"] {
            Yaml::Integer(s) if *s > 0 => t.push_str(&format!("timeout = \"{s}s\"\n")),
            Yaml::Real(s) => t.push_str(&format!(
                "timeout = \"{}s\"\n",
                s.parse::<f64>().unwrap_or(1800.0).ceil().max(1.0)
            )),
            Yaml::BadValue => {
                if v["job"].as_str().is_some() {
                    t.push_str("timeout = \"30m\"\n");
                }
            }
            other => out.notes.push(format!(
                "job {raw:?}: timeout {other:?} is not a number of seconds"
            )),
        }
        t.push_str(&format!(
            "workdir = {}\n\n",
            string(&dir.display().to_string())
        ));
        out.toml.push_str(&t);
    }
    let mut head = String::new();
    for a in &agents {
        let preset = match a.as_str() {
            "claude" | "codex" | "gemini" => a.as_str(),
            _ => {
                out.notes.push(format!(
                    "agent {a:?} is not a preset jobctl knows (claude, codex, gemini): define [agents.{a}] with preset = \"command\""
                ));
                continue;
            }
        };
        head.push_str(&format!(
            "[agents.{a}]\npreset = \"{preset}\"\ndaily_budget = {}   # TeleClaude had no budget: set one\n\n",
            number(50.0)
        ));
    }
    if !agents.is_empty() {
        out.notes.push(
            "TeleClaude gave agent jobs their role through its daemon; jobctl does the same with [daemon] (configure it to keep roles)".into(),
        );
    }
    out.notes.push(
        "TeleClaude's minimum intervals (daily: 20 h) are fixed slots here: a job runs at its time, and a missed slot runs once after downtime (catch_up)".into(),
    );
    out.toml = head + &out.toml;
    Ok(out)
}

/// `every`/`at`/`cron` lines for a TeleClaude schedule.
fn schedule(v: &Yaml) -> Result<String, String> {
    let hour = int(&v["preferred_hour"], 6, 0, 23, "preferred_hour")?;
    match v["schedule"].as_str() {
        Some("hourly") => Ok("every = \"1h\"\n".into()),
        Some("daily") => Ok(format!("at = \"{hour:02}:00\"\n")),
        Some("weekly") => {
            let day = int(&v["preferred_weekday"], 0, 0, 6, "preferred_weekday")?;
            Ok(format!(
                "at = \"{hour:02}:00\"\nweekdays = [\"{}\"]\n",
                DAYS[day as usize]
            ))
        }
        Some("monthly") => {
            let day = int(&v["preferred_day"], 1, 1, 31, "preferred_day")?;
            Ok(format!("cron = \"0 {hour} {day} * *\"\n"))
        }
        Some(other) => Err(format!(
            "schedule {other:?} is not hourly, daily, weekly or monthly"
        )),
        None => Err("no schedule".into()),
    }
}

fn int(v: &Yaml, default: i64, lo: i64, hi: i64, what: &str) -> Result<i64, String> {
    match v {
        Yaml::BadValue => Ok(default),
        Yaml::Integer(n) if (lo..=hi).contains(n) => Ok(*n),
        other => Err(format!("{what} {other:?} is not in {lo}..={hi}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teleclaude_jobs_become_valid_jobs() {
        let yml = "jobs:\n  youtube_sync_subscriptions:\n    schedule: daily\n    preferred_hour: 6\n    job: youtube-sync-subscriptions\n    agent: claude\n    thinking_mode: fast\n\
                   \n  memory_review:\n    schedule: weekly\n    preferred_weekday: 0\n    preferred_hour: 8\n    job: memory-review\n\
                   \n  simple_reminder:\n    schedule: hourly\n    script: jobs/simple_reminder.py\n    timeout: 120\n\
                   \n  Monthly-Report:\n    schedule: monthly\n    preferred_day: 3\n    script: jobs/report.py\n\
                   \n  broken:\n    schedule: yearly\n    script: x.py\n";
        let dir = tempfile::tempdir().unwrap();
        let out = from_teleclaude(yml, dir.path()).unwrap();
        let p = dir.path().join("jobctl.toml");
        std::fs::write(&p, out.text("teleclaude.yml")).unwrap();
        let cfg =
            crate::config::load_fresh(Some(&p)).unwrap_or_else(|e| panic!("{e}\n{}", out.toml));
        assert_eq!(cfg.jobs.len(), 4);
        let d = |n: &str| cfg.job(n).unwrap().schedule.as_ref().unwrap().describe();
        assert_eq!(d("youtube_sync_subscriptions"), "at 06:00");
        assert_eq!(d("memory_review"), "at 08:00 mon");
        assert_eq!(d("simple_reminder"), "every 1h");
        assert_eq!(d("monthly-report"), "cron 0 6 3 * *");
        assert_eq!(cfg.job("simple_reminder").unwrap().timeout.as_secs(), 120);
        assert!(cfg.agents.contains_key("claude"));
        let notes = out.notes.join("\n");
        assert!(notes.contains("yearly"), "{notes}");
        assert!(notes.contains("Monthly-Report"), "{notes}");
    }
}
