//! The benchmark's fixtures: a config of many jobs and a state db with a large history,
//! made through jobctl's own store code. Shared with the tests (`bench_fixtures::`), which run
//! it small in CI so it can't rot.

use std::path::{Path, PathBuf};

use jobctl::store::sqlite::SqliteStore;
use jobctl::store::{MetaStore, RunRecord};

/// The fixed "now" of every scenario (`JOBCTL_NOW`): nothing is due at this moment.
pub const NOW: &str = "2026-06-15T12:00:00Z";

pub struct Fixture {
    pub home: PathBuf,
    pub config: PathBuf,
    pub jobs: usize,
    pub runs: usize,
}

/// Writes `jobctl.toml` with `jobs` jobs (a mix of every/cron/at schedules, plus the manual
/// jobs the scenarios force: `noop`, `big`, `tree`) and fills the db with `runs` runs.
pub fn build(home: &Path, jobs: usize, runs: usize, keep_runs: u32) -> anyhow::Result<Fixture> {
    let now_ms = NOW.parse::<jiff::Timestamp>()?.as_millisecond();
    let today_3am = now_ms - 9 * 3_600_000;
    build_with(home, jobs, runs, keep_runs, |i| {
        match i % 3 {
        0 => ("every = \"1h\"".to_string(), now_ms - 10 * 60_000),
        1 => (
            format!("cron = \"{} 3 * * *\"", i % 60),
            today_3am + (i % 60) as i64 * 60_000,
        ),
        _ => (
            "at = \"03:00\"\nweekdays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]"
                .to_string(),
            today_3am,
        ),
    }
    })
}

/// B1d's fixture: like [`build`], but the jobs spread over the day as people spread load,
/// each at a minute of its own (job i at minute i % 60 of hour (i / 60) % 24), in a mix
/// of daily crons, weekday crons and `at` times on some weekdays, with one job in 20 on
/// an `every` interval. Each job's last slot is its latest slot before [`NOW`].
pub fn build_varied(
    home: &Path,
    jobs: usize,
    runs: usize,
    keep_runs: u32,
) -> anyhow::Result<Fixture> {
    let now = NOW.parse::<jiff::Timestamp>()?;
    let week_ago = now - jiff::SignedDuration::from_hours(8 * 24);
    build_with(home, jobs, runs, keep_runs, |i| {
        let (m, h) = (i % 60, (i / 60) % 24);
        let (line, schedule) = match i % 20 {
            0 => {
                let every = format!("{}m", 5 + i % 55);
                let last = now.as_millisecond() - 60_000;
                return (format!("every = \"{every}\""), last);
            }
            1..=5 => (
                format!("at = \"{h:02}:{m:02}\"\nweekdays = [\"mon\", \"wed\", \"fri\"]"),
                jobctl::core::schedule::Schedule::at(
                    vec![(h as u8, m as u8)],
                    &["mon", "wed", "fri"],
                ),
            ),
            6..=10 => (
                format!("cron = \"{m} {h} * * 1-5\""),
                jobctl::core::schedule::Schedule::cron(&format!("{m} {h} * * 1-5")),
            ),
            _ => (
                format!("cron = \"{m} {h} * * *\""),
                jobctl::core::schedule::Schedule::cron(&format!("{m} {h} * * *")),
            ),
        };
        let schedule = schedule.expect("a valid schedule");
        let slots = jobctl::core::schedule::upcoming(
            &schedule,
            &jiff::tz::TimeZone::UTC,
            None,
            week_ago,
            8,
        );
        let last = slots
            .into_iter()
            .filter(|t| *t <= now)
            .max()
            .unwrap_or(week_ago);
        (line, last.as_millisecond())
    })
}

/// The config and state of [`build`] with job i's schedule line and last slot from
/// `schedule_of(i)`.
fn build_with(
    home: &Path,
    jobs: usize,
    runs: usize,
    keep_runs: u32,
    schedule_of: impl Fn(usize) -> (String, i64),
) -> anyhow::Result<Fixture> {
    std::fs::create_dir_all(home)?;
    let mut toml = format!(
        "[runner]\nkeep_runs = {keep_runs}\nlog_max_bytes = \"10MiB\"\nkill_grace = \"1s\"\ntimezone = \"UTC\"\n\n\
         [jobs.noop]\ntype = \"script\"\ncommand = [\"true\"]\n\n\
         [jobs.big]\ntype = \"script\"\ncommand = [\"head\", \"-c\", \"1073741824\", \"/dev/zero\"]\ntimeout = \"5m\"\n\n\
         [jobs.tree]\ntype = \"script\"\ntimeout = \"1s\"\ncommand = \"\"\"\n\
         for i in $(seq 1 24); do sleep 100 & done\n\
         for i in $(seq 1 23); do sh -c 'trap \"\" TERM; while :; do sleep 1; done' & done\n\
         setsid sleep 100 &\nwait\n\"\"\"\n\n"
    );
    let scheduled = jobs.saturating_sub(3);
    let mut states = Vec::with_capacity(scheduled);
    let now_ms = NOW.parse::<jiff::Timestamp>()?.as_millisecond();
    for i in 0..scheduled {
        let name = format!("job-{i:04}");
        let (schedule, last_slot) = schedule_of(i);
        toml.push_str(&format!(
            "[jobs.{name}]\ntype = \"script\"\ncommand = [\"true\"]\n{schedule}\n\n"
        ));
        states.push((name, now_ms - 30 * 86_400_000, Some(last_slot)));
    }
    let config = home.join("jobctl.toml");
    std::fs::write(&config, toml)?;

    let mut store = SqliteStore::open(&home.join("state"))?;
    store.import_job_states(&states)?;
    store.set_last_tick(jiff::Timestamp::from_millisecond(now_ms - 120_000)?)?;
    let per_batch = 50_000;
    let mut made = 0;
    while made < runs {
        let n = per_batch.min(runs - made);
        let batch = (made..made + n).map(|k| {
            let job = if scheduled > 0 {
                states[k % scheduled].0.clone()
            } else {
                "noop".into()
            };
            let started = now_ms - (runs - k) as i64 * 60_000;
            RunRecord {
                job,
                status: if k % 17 == 0 {
                    jobctl::core::run::RunStatus::Failed
                } else {
                    jobctl::core::run::RunStatus::Succeeded
                },
                scheduled_for: started,
                started_at: started,
                ended_at: Some(started + 1_500),
                duration_ms: Some(1_500),
                exit_code: Some(if k % 17 == 0 { 1 } else { 0 }),
                ..Default::default()
            }
        });
        made += store.import_runs(batch)?;
    }
    Ok(Fixture {
        home: home.to_path_buf(),
        config,
        jobs,
        runs,
    })
}
