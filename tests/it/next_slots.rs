//! Each job's next slot kept between ticks (`STATE_DIR/cache/next-slots.bin`): the idle
//! tick answers from it, and every change that moves a slot makes the next command search
//! again: a config edit, a time-zone change (the job's zone, `TZ`, the zone files), the
//! clock stepping, a run. `list`, `run --dry-run`, the tick and `jobctl next` agree.
//!
//! "Now" is pinned with `JOBCTL_NOW`; each check is made on a state the previous tick left
//! its next slots in. A named zone resolves where the system has no zoneinfo at all.

use crate::support::*;

use serde_json::Value;

/// A Monday, noon UTC.
const T: &str = "2026-06-15T12:00:00Z";

fn ts(s: &str) -> jiff::Timestamp {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not a timestamp: {e}"))
}

fn memo_file(env: &Env) -> std::path::PathBuf {
    env.state_dir().join("cache").join("next-slots.bin")
}

/// A tick at `now` that waits for what it starts.
fn tick(env: &Env, now: &str) {
    ok(&env.run_at(now, &["run", "--wait"]));
}

/// What `run --dry-run` decides for `job` at `now`: the decision and its slot.
fn decision(env: &Env, now: &str, job: &str) -> (String, Option<jiff::Timestamp>) {
    let o = env.run_at(now, &["run", "--dry-run", "--json", "--job", job]);
    ok(&o);
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let r = &rows[0];
    (
        r["decision"].as_str().unwrap().to_string(),
        r["slot"].as_str().map(ts),
    )
}

/// The runs of `job`, oldest first, by their slot.
fn slots_run(env: &Env, job: &str) -> Vec<jiff::Timestamp> {
    let mut v: Vec<jiff::Timestamp> = env
        .history_json(&[job, "-n", "1000"])
        .iter()
        .map(|r| ts(r["scheduled_for"].as_str().unwrap()))
        .collect();
    v.reverse();
    v
}

fn cron_job(name: &str, expr: &str, extra: &str) -> String {
    format!("[jobs.{name}]\ntype = \"script\"\ncommand = \"true\"\ncron = \"{expr}\"\n{extra}\n")
}

const RUNNER: &str = "[runner]\ntimezone = \"UTC\"\n\n";

#[test]
fn an_edited_schedule_is_searched_again() {
    let env = Env::with_config(&format!("{RUNNER}{}", cron_job("a", "0 3 * * *", "")));
    let _sweep = Sweep::new(&env);
    tick(&env, T);
    assert!(memo_file(&env).exists(), "the tick keeps the next slots");
    assert_eq!(
        decision(&env, "2026-06-15T12:06:00Z", "a"),
        ("not_due".into(), Some(ts("2026-06-16T03:00:00Z")))
    );
    env.config(&format!("{RUNNER}{}", cron_job("a", "5 12 * * *", "")));
    assert_eq!(
        decision(&env, "2026-06-15T12:06:00Z", "a"),
        ("run".into(), Some(ts("2026-06-15T12:05:00Z")))
    );
    tick(&env, "2026-06-15T12:06:00Z");
    assert_eq!(slots_run(&env, "a"), [ts("2026-06-15T12:05:00Z")]);
}

// The zone tests: a job at 13:30, first kept in UTC (next slot 13:30 UTC), then in London
// (+01:00 in June), where 13:30 is 12:30 UTC: due at 12:45 UTC, which the kept slot would
// have put an hour later.
const HALF_PAST_ONE: &str = "30 13 * * *";
const AT_1245: &str = "2026-06-15T12:45:00Z";
const LONDON_SLOT: &str = "2026-06-15T12:30:00Z";

#[test]
fn a_job_moved_to_another_zone_is_searched_again() {
    let env = Env::with_config(&format!(
        "{RUNNER}{}",
        cron_job("a", HALF_PAST_ONE, "timezone = \"UTC\"")
    ));
    let _sweep = Sweep::new(&env);
    tick(&env, T);
    env.config(&format!(
        "{RUNNER}{}",
        cron_job("a", HALF_PAST_ONE, "timezone = \"Europe/London\"")
    ));
    assert_eq!(
        decision(&env, AT_1245, "a"),
        ("run".into(), Some(ts(LONDON_SLOT)))
    );
}

#[test]
fn a_changed_system_zone_is_seen_by_the_next_tick() {
    let env = Env::with_config(&format!(
        "[runner]\ntimezone = \"local\"\n\n{}",
        cron_job("a", HALF_PAST_ONE, "")
    ));
    let _sweep = Sweep::new(&env);
    tick(&env, T);
    assert_eq!(
        decision(&env, AT_1245, "a"),
        ("not_due".into(), Some(ts("2026-06-15T13:30:00Z")))
    );
    let o = env
        .cmd(&["run", "--dry-run", "--json", "--job", "a"])
        .env("JOBCTL_NOW", AT_1245)
        .env("TZ", "Europe/London")
        .output()
        .unwrap();
    ok(&o);
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["decision"], "run");
    assert_eq!(rows[0]["slot"].as_str().map(ts), Some(ts(LONDON_SLOT)));
}

/// The zone files replaced under the same name (a tzdata update that moves a zone's
/// offset): the job's name and config are the same, its slots are not.
#[test]
fn new_zone_files_are_seen_by_the_next_tick() {
    let env = Env::with_config(&format!(
        "{RUNNER}{}",
        cron_job("a", HALF_PAST_ONE, "timezone = \"Test/Moving\"")
    ));
    let _sweep = Sweep::new(&env);
    let tzdir = env.home().join("zoneinfo");
    std::fs::create_dir_all(tzdir.join("Test")).unwrap();
    let zone = |from: &str| {
        let bytes = std::fs::read(format!("/usr/share/zoneinfo/{from}")).unwrap();
        std::fs::write(tzdir.join("Test/Moving"), bytes).unwrap();
    };
    let jobctl = |args: &[&str], now: &str| {
        let o = env
            .cmd(args)
            .env("JOBCTL_NOW", now)
            .env("TZDIR", &tzdir)
            .output()
            .unwrap();
        ok(&o);
        o
    };
    zone("Etc/UTC");
    jobctl(&["run", "--wait"], T);
    zone("Europe/London");
    let o = jobctl(&["run", "--dry-run", "--json", "--job", "a"], AT_1245);
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["decision"], "run", "{rows:?}");
    assert_eq!(rows[0]["slot"].as_str().map(ts), Some(ts(LONDON_SLOT)));
}

#[test]
fn a_clock_stepping_forward_or_back_is_decided_in_full() {
    let env = Env::with_config(&format!("{RUNNER}{}", cron_job("a", "0 13 * * *", "")));
    let _sweep = Sweep::new(&env);
    tick(&env, T);
    // Forward past the kept slot: due at once.
    assert_eq!(
        decision(&env, "2026-06-15T13:00:30Z", "a"),
        ("run".into(), Some(ts("2026-06-15T13:00:00Z")))
    );
    tick(&env, "2026-06-15T13:00:30Z");
    assert_eq!(slots_run(&env, "a"), [ts("2026-06-15T13:00:00Z")]);
    // Back behind the slot that ran: the slot before now stands in for it, and what the
    // tick decides agrees with `jobctl next`.
    let back = "2026-06-15T12:30:00Z";
    tick(&env, back);
    let (_, slot) = decision(&env, back, "a");
    let o = env.run(&["next", "a", "--from", back, "-n", "1", "--json"]);
    ok(&o);
    let next: Vec<String> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(slot, Some(ts(&next[0])));
    assert_eq!(slots_run(&env, "a").len(), 1, "nothing ran twice");
}

#[test]
fn a_run_moves_the_kept_slot_on() {
    let env = Env::with_config(&format!("{RUNNER}{}", cron_job("a", "*/10 * * * *", "")));
    let _sweep = Sweep::new(&env);
    tick(&env, T);
    tick(&env, "2026-06-15T12:10:30Z");
    assert_eq!(
        decision(&env, "2026-06-15T12:15:00Z", "a"),
        ("not_due".into(), Some(ts("2026-06-15T12:20:00Z")))
    );
    tick(&env, "2026-06-15T12:15:00Z");
    tick(&env, "2026-06-15T12:20:30Z");
    assert_eq!(
        slots_run(&env, "a"),
        [ts("2026-06-15T12:10:00Z"), ts("2026-06-15T12:20:00Z")]
    );
}

#[test]
fn a_damaged_or_foreign_memo_is_searched_again() {
    let env = Env::with_config(&format!("{RUNNER}{}", cron_job("a", "0 13 * * *", "")));
    let _sweep = Sweep::new(&env);
    tick(&env, T);
    let file = memo_file(&env);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    tick(&env, "2026-06-15T13:00:30Z");
    assert_eq!(slots_run(&env, "a"), [ts("2026-06-15T13:00:00Z")]);
}

/// Across the fall-back night in New York and the spring-forward night in Amsterdam, a
/// tick every 10 minutes runs exactly the slots `jobctl next` lists, and `list` shows the
/// next of them.
#[test]
fn the_ticks_run_the_slots_next_lists_across_dst() {
    let jobs = [
        (
            "ny_hourly",
            "15 * * * *",
            "America/New_York",
            "2026-10-31T22:00:00Z",
        ),
        (
            "ny_130",
            "30 1 * * *",
            "America/New_York",
            "2026-10-31T22:00:00Z",
        ),
        (
            "ams_230",
            "30 2 * * *",
            "Europe/Amsterdam",
            "2026-03-28T18:00:00Z",
        ),
        (
            "ams_weekday",
            "0 */3 * * 1-5",
            "Europe/Amsterdam",
            "2026-03-28T18:00:00Z",
        ),
    ];
    for (name, expr, zone, start) in jobs {
        let env = Env::with_config(&format!(
            "{RUNNER}{}",
            cron_job(name, expr, &format!("timezone = \"{zone}\""))
        ));
        let _sweep = Sweep::new(&env);
        let start = ts(start);
        let o = env.run(&[
            "next",
            name,
            "--from",
            &start.to_string(),
            "-n",
            "60",
            "--json",
        ]);
        ok(&o);
        let listed: Vec<jiff::Timestamp> = serde_json::from_slice::<Vec<String>>(&o.stdout)
            .unwrap()
            .iter()
            .map(|s| ts(s))
            .collect();
        let end = start + jiff::SignedDuration::from_hours(30);
        let mut now = start;
        while now < end {
            let at = now.to_string();
            tick(&env, &at);
            let rows: Vec<Value> = {
                let o = env.run_at(&at, &["list", "--json"]);
                ok(&o);
                serde_json::from_slice(&o.stdout).unwrap()
            };
            let next = rows[0]["next_run"].as_str().map(ts);
            let want = listed.iter().copied().find(|t| *t > now);
            assert_eq!(next, want, "{name}: list's next at {at}");
            now += jiff::SignedDuration::from_mins(20);
        }
        let want: Vec<jiff::Timestamp> = listed
            .iter()
            .copied()
            .filter(|t| *t > start && *t < end)
            .collect();
        assert_eq!(slots_run(&env, name), want, "{name}");
    }
}

/// On a system without zoneinfo (a slim container image), a named zone still resolves from
/// the database compiled into jobctl: `/usr/share/zoneinfo` is hidden under an empty tmpfs
/// in a private mount namespace (as root, or root of a private user namespace), and
/// `TZDIR` names an empty directory.
#[test]
fn a_named_zone_resolves_without_the_system_zoneinfo() {
    let env = Env::with_config(&format!(
        "{RUNNER}{}",
        cron_job("paris", "0 9 * * *", "timezone = \"Europe/Paris\"")
    ));
    let empty = env.home().join("no-zoneinfo");
    std::fs::create_dir(&empty).unwrap();
    let unshare: &[&str] = if nix::unistd::geteuid().is_root() {
        &["--mount"]
    } else {
        &["--user", "--map-root-user", "--mount"]
    };
    let mut c = env.command("unshare");
    c.args(unshare)
        .args(["sh", "-c"])
        .arg(
            "mount -t tmpfs tmpfs /usr/share/zoneinfo || exit 90; \
             [ -z \"$(ls -A /usr/share/zoneinfo)\" ] || exit 91; exec \"$0\" \"$@\"",
        )
        .args([BIN, "next", "paris", "--from", T, "-n", "2", "--json"])
        .env("TZDIR", &empty);
    let o = c.output().unwrap();
    if code(&o) == 90 || (code(&o) == 1 && stderr(&o).contains("unshare")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "can't hide the zoneinfo in a mount namespace: {}",
            stderr(&o)
        );
        eprintln!("skipped: can't hide the zoneinfo here: {}", stderr(&o));
        return;
    }
    ok(&o);
    let slots: Vec<jiff::Timestamp> = serde_json::from_slice::<Vec<String>>(&o.stdout)
        .unwrap()
        .iter()
        .map(|s| ts(s))
        .collect();
    // 09:00 in Paris in June is 07:00 UTC (CEST, +02:00).
    assert_eq!(
        slots,
        [ts("2026-06-16T07:00:00Z"), ts("2026-06-17T07:00:00Z")]
    );
}
