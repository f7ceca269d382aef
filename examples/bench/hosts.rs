//! B14 and B15: jobctl on a PostgreSQL state, on a throwaway cluster on localhost (the
//! tests' harness, `tests/it/support/pg.rs`).
//!
//! - B14: the idle tick of B1's fixture (1,000 jobs, none due, 100,000 runs, copied in
//!   with `jobctl state migrate`) against PostgreSQL, paired with the SQLite tick.
//! - B15: three hosts tick at once when one slot is due: the time until all three have
//!   returned (one claimed it and started its supervisor, two were refused), and that
//!   exactly one run was made, over repeated slots.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::fixtures::{self, Fixture};
use super::{Timing, median_of, pg, s};

pub struct Measured {
    pub sqlite_ms: f64,
    pub pg_ms: f64,
    /// B14 with the host connecting through PgBouncer, if installed.
    pub pg_bouncer_ms: Option<f64>,
    pub claim_ms: f64,
    /// B15 with the hosts connecting through PgBouncer (transaction pooling), if installed.
    pub claim_bouncer_ms: Option<f64>,
    pub trials: usize,
    pub one_claim_each: bool,
}

/// Runs B14 and B15; `None` when PostgreSQL is not installed here.
pub fn measure(bin: &Path, tmp: &Path, warm: &Timing, a: &Fixture) -> Result<Option<Measured>> {
    let Some(pg_bin) = pg::pg_bin() else {
        eprintln!("B14, B15: PostgreSQL is not installed (apt-get install postgresql); skipped");
        return Ok(None);
    };
    let cluster = pg::Cluster::start(&pg_bin);

    // B14: B1's fixture, its state copied into PostgreSQL.
    let url = cluster.create_db();
    let home = tmp.join("b14");
    std::fs::create_dir_all(&home)?;
    let config = home.join("jobctl.toml");
    let mut toml = std::fs::read_to_string(&a.config)?;
    toml = toml.replacen(
        "[runner]\n",
        &format!(
            "[runner]\nstate_dir = \"{}\"\n",
            home.join("state").display()
        ),
        1,
    );
    toml.push_str(&format!("\n[state]\nurl = \"{url}\"\nhost = \"bench\"\n"));
    std::fs::write(&config, toml)?;
    eprintln!("B14: copying B1's state into PostgreSQL...");
    let st = Command::new(bin)
        .args(["--config", s(&a.config), "state", "migrate", "--to", &url])
        .env("JOBCTL_HOME", &a.home)
        .stdout(Stdio::null())
        .status()?;
    if !st.success() {
        bail!("jobctl state migrate failed");
    }
    let pg_fixture = Fixture {
        home: home.clone(),
        config: config.clone(),
        jobs: a.jobs,
        runs: a.runs,
    };
    let (sqlite_ms, pg_ms) = warm.paired(
        (bin, &["--config", s(&a.config), "run"], a),
        (bin, &["--config", s(&config), "run"], &pg_fixture),
    )?;

    // Through PgBouncer: the same database, no backend started per command.
    let bouncer = pg::pgbouncer_bin().map(|b| pg::Bouncer::start(&b, &cluster));
    let pg_bouncer_ms = match &bouncer {
        Some(b) => {
            let text = std::fs::read_to_string(&config)?;
            let via = home.join("jobctl-pgbouncer.toml");
            std::fs::write(&via, text.replace(&url, &b.url(&url)))?;
            Some(warm.median(bin, &["--config", s(&via), "run"], &pg_fixture)?)
        }
        None => None,
    };

    // B15: three hosts, one job, a new slot each trial; straight, then through PgBouncer.
    let (claim_ms, mut one_claim_each) = racing_claims(bin, tmp, &cluster, None)?;
    let claim_bouncer_ms = match &bouncer {
        Some(b) => {
            let (ms, one) = racing_claims(bin, tmp, &cluster, Some(b))?;
            one_claim_each &= one;
            Some(ms)
        }
        None => {
            eprintln!("B15 through PgBouncer: pgbouncer is not installed; skipped");
            None
        }
    };
    drop(bouncer);
    drop(cluster);
    Ok(Some(Measured {
        sqlite_ms,
        pg_ms,
        pg_bouncer_ms,
        claim_ms,
        claim_bouncer_ms,
        trials: TRIALS,
        one_claim_each,
    }))
}

/// Slots claimed in B15 (after 3 to warm up).
const TRIALS: usize = 30;

/// B15 on a fresh database: the median time until three racing ticks returned, and
/// whether every slot got exactly one run.
fn racing_claims(
    bin: &Path,
    tmp: &Path,
    cluster: &pg::Cluster,
    bouncer: Option<&pg::Bouncer>,
) -> Result<(f64, bool)> {
    let direct = cluster.create_db();
    let url = match bouncer {
        Some(b) => b.url(&direct),
        None => direct.clone(),
    };
    let tag = if bouncer.is_some() { "b" } else { "d" };
    let hosts: Vec<(std::path::PathBuf, std::path::PathBuf)> = (0..3)
        .map(|i| {
            let home = tmp.join(format!("b15-{tag}{i}"));
            std::fs::create_dir_all(&home)?;
            let config = home.join("jobctl.toml");
            std::fs::write(
                &config,
                format!(
                    "[runner]\ntimezone = \"UTC\"\nkeep_runs = 1000\n\n[state]\nurl = \"{url}\"\nhost = \"h{i}\"\n\n\
                     [jobs.due]\ntype = \"script\"\ncommand = [\"true\"]\nevery = \"1h\"\n"
                ),
            )?;
            Ok((home, config))
        })
        .collect::<Result<_>>()?;
    let mut client = postgres::Client::connect(&direct, postgres::NoTls)?;
    let start: jiff::Timestamp = fixtures::NOW.parse()?;
    let mut times = Vec::new();
    for i in 0..TRIALS + 3 {
        let now = (start + jiff::SignedDuration::from_hours(i as i64)).to_string();
        let t = Instant::now();
        let ticks: Vec<_> = hosts
            .iter()
            .map(|(home, config)| {
                Command::new(bin)
                    .args(["--config", s(config), "run"])
                    .env("JOBCTL_HOME", home)
                    .env("JOBCTL_NOW", &now)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
            })
            .collect::<std::io::Result<_>>()?;
        for mut c in ticks {
            if !c.wait()?.success() {
                bail!("B15: a tick failed");
            }
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if i >= 3 {
            times.push(ms); // the first ones also create the state and snapshots
        }
        // The run ends and its lease is let go before the next slot.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let busy: i64 = client
                .query_one(
                    "SELECT (SELECT count(*) FROM runs WHERE status = 'running') + \
                     (SELECT count(*) FROM leases WHERE host IS NOT NULL)",
                    &[],
                )?
                .get(0);
            if busy == 0 {
                break;
            }
            if Instant::now() > deadline {
                bail!("B15: a run did not end");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let per_slot: Vec<i64> = client
        .query(
            "SELECT count(*) FROM runs WHERE NOT forced GROUP BY scheduled_for",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let one_claim_each = per_slot.len() == TRIALS + 3 && per_slot.iter().all(|n| *n == 1);
    Ok((median_of(times), one_claim_each))
}
