//! B8 and B9: a run's workspace on a generated repository of 20,000 files.
//!
//! B8 times the workspace set-up as a run's supervisor does it (`engine::workspace::
//! set_up`: the repository's lock, its remotes, the base, `git worktree add`, included
//! files) from a warm local repository, against a fresh `git clone` of the same
//! repository through git's transport (`file://`, what cloning a URL per run would cost)
//! measured in the same run. B9 times collecting a 1,000-file edit (`settle`: add, diff
//! stat, file list, commit) in such a workspace.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jobctl::config::Config;
use jobctl::core::run::RunRecord;
use jobctl::engine::workspace::{self, Setup};

pub const FILES: usize = 20_000;
/// Commits of history behind the tip, each changing 20 files.
pub const HISTORY: usize = 300;
pub const EDITED: usize = 1_000;
const SETUPS: usize = 9;
const CLONES: usize = 5;
const SETTLES: usize = 5;

pub struct Measured {
    /// Median set-up (s), the first set-up of the repository (s), median clone (s).
    pub setup: f64,
    pub first_setup: f64,
    pub clone: f64,
    /// Median collect-and-commit of the 1,000-file edit (s).
    pub settle: f64,
}

fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let st = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()?;
    if !st.success() {
        bail!("git {args:?} failed");
    }
    Ok(())
}

fn file_path(i: usize) -> String {
    format!("src/d{:03}/f{i:05}.txt", i / 100)
}

fn content(i: usize, version: usize) -> Vec<u8> {
    let mut s = String::with_capacity(1100);
    for line in 0..24 {
        let v = if line % 6 == 0 { version } else { 0 };
        s.push_str(&format!(
            "line {line} of file {i}, version {v}: lorem ipsum dolor\n"
        ));
    }
    s.into_bytes()
}

/// `repo/`: 20,000 files in 200 directories (about 1 KiB each) and a history of
/// [`HISTORY`] commits, made with `git fast-import`, packed, checked out.
pub fn generate(repo: &Path) -> Result<()> {
    std::fs::create_dir_all(repo)?;
    git(repo, &["init", "--quiet", "-b", "main"])?;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(child.stdin.take().context("stdin")?);
        let commit = |w: &mut dyn Write, n: usize| -> std::io::Result<()> {
            write!(
                w,
                "commit refs/heads/main\ncommitter bench <bench@example.com> {} +0000\ndata 7\nchange\n",
                1_700_000_000 + n
            )
        };
        commit(&mut w, 0)?;
        for i in 0..FILES {
            let c = content(i, 0);
            write!(w, "M 644 inline {}\ndata {}\n", file_path(i), c.len())?;
            w.write_all(&c)?;
            writeln!(w)?;
        }
        // A fixed pseudo-random walk, so every run of the benchmark has the same repository.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for n in 1..=HISTORY {
            commit(&mut w, n)?;
            for _ in 0..20 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % FILES as u64) as usize;
                let c = content(i, n);
                write!(w, "M 644 inline {}\ndata {}\n", file_path(i), c.len())?;
                w.write_all(&c)?;
                writeln!(w)?;
            }
        }
        w.flush()?;
    }
    if !child.wait()?.success() {
        bail!("git fast-import failed");
    }
    git(repo, &["gc", "--quiet"])?;
    git(repo, &["checkout", "--quiet", "--force", "main"])?;
    Ok(())
}

fn run_record(id: i64) -> RunRecord {
    RunRecord {
        id,
        job: "bench".into(),
        started_at: jiff::Timestamp::now().as_millisecond(),
        ..RunRecord::default()
    }
}

/// Times B8 and B9 in `dir` (the repository is generated there).
pub fn measure(dir: &Path) -> Result<Measured> {
    let repo = dir.join("repo");
    eprintln!(
        "B8/B9: generating a repository of {FILES} files with {HISTORY} commits of history..."
    );
    generate(&repo)?;
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("state"))?;
    let config = home.join("jobctl.toml");
    std::fs::write(
        &config,
        format!(
            "[runner]\ntimezone = \"UTC\"\nstate_dir = \"state\"\ngit_author = \"bench <bench@example.com>\"\n\n\
             [jobs.bench]\ntype = \"script\"\ncommand = \"true\"\n[jobs.bench.workspace]\nrepo = \"{}\"\nkeep = \"never\"\n",
            repo.display()
        ),
    )?;
    let cfg: Config = jobctl::config::load_file(&config)?;
    let state = cfg.runner.state_dir.clone();
    let job = cfg.job("bench")?;
    let ws = job
        .workspace
        .as_deref()
        .context("the bench job's workspace")?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut next_id = 0;
    let set_up = |id: i64| -> Result<(workspace::Prepared, f64)> {
        let run = run_record(id);
        let t = Instant::now();
        let p = workspace::set_up(
            Setup {
                cfg: &cfg,
                job,
                ws,
                run: &run,
                state_dir: &state,
                env: env.clone(),
                deadline: Instant::now() + Duration::from_secs(600),
            },
            &mut |_| Ok(()),
            &mut |_| {},
        )
        .map_err(|e| anyhow::anyhow!("set-up failed: {e}"))?;
        Ok((p, t.elapsed().as_secs_f64()))
    };
    let release = |p: &mut workspace::Prepared| {
        workspace::release(p, false, &mut |n| eprintln!("{n}"));
    };

    eprintln!("B8: {SETUPS} workspace set-ups and {CLONES} fresh clones, alternating...");
    next_id += 1;
    let (mut p, first_setup) = set_up(next_id)?;
    release(&mut p);
    let mut setups = Vec::new();
    let mut clones = Vec::new();
    for i in 0..SETUPS.max(CLONES) {
        if i < SETUPS {
            next_id += 1;
            let (mut p, secs) = set_up(next_id)?;
            setups.push(secs);
            release(&mut p);
        }
        if i < CLONES {
            let dest = dir.join(format!("clone-{i}"));
            let url = format!("file://{}", repo.display());
            let t = Instant::now();
            let st = Command::new("git")
                .args(["clone", "--quiet", &url])
                .arg(&dest)
                .stdout(Stdio::null())
                .status()?;
            clones.push(t.elapsed().as_secs_f64());
            if !st.success() {
                bail!("git clone failed");
            }
            std::fs::remove_dir_all(&dest)?;
        }
    }

    eprintln!("B9: {SETTLES} times collecting and committing a {EDITED}-file edit...");
    let mut settles = Vec::new();
    for _ in 0..SETTLES {
        next_id += 1;
        let (mut p, _) = set_up(next_id)?;
        for i in (0..FILES).step_by(FILES / EDITED).take(EDITED) {
            let f: PathBuf = p.dir.join(file_path(i));
            let mut c = std::fs::read(&f)?;
            c.extend_from_slice(b"edited by the benchmark\n");
            std::fs::write(&f, c)?;
        }
        let run = run_record(next_id);
        let t = Instant::now();
        let settled = workspace::settle(&mut p, ws, &cfg, job, &run, false, &mut |_| {});
        settles.push(t.elapsed().as_secs_f64());
        if let Some(f) = settled.failure {
            bail!("B9: collecting failed: {f}");
        }
        if p.info.files_changed != EDITED as u64 {
            bail!(
                "B9: {} files changed, expected {EDITED}",
                p.info.files_changed
            );
        }
        release(&mut p);
    }
    Ok(Measured {
        setup: median(setups),
        first_setup,
        clone: median(clones),
        settle: median(settles),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
