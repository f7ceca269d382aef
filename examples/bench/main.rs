//! The benchmark of docs/benchmarks.md: `cargo run --release --example bench`.
//!
//! Builds jobctl in release mode, generates its fixtures, measures whole-process medians
//! (hyperfine where installed, its own loop where not) and writes the table to
//! docs/benchmarks.md. `-- B1 B10` (any scenario ids) measures only those and replaces
//! only their rows. Timings are never tests: this does not run in CI (its fixture
//! generation does, in the tests' `bench_fixtures::`).

// A binary: its helpers are `pub` for the modules beside them, never for another crate.
#![allow(unreachable_pub)]

mod chromium;
mod console;
mod control;
mod fixtures;
mod hosts;
mod mcp;
#[path = "../../tests/it/support/pg.rs"]
mod pg;
mod scheduler;
mod serve;
mod workspace;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const RUNS: usize = 30;
/// Rounds of a paired timing: each command runs `RUNS` times per round.
const ROUNDS: usize = 5;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("reserve-worker") => return reserve_worker(Path::new(&args[2])),
        Some("rss-probe") => return rss_probe(&args[2..]),
        // Only a fixture, for profiling by hand: `bench fixtures DIR [RUNS]` (B1's, or
        // B7's with 1000000).
        Some("fixtures") if matches!(args.len(), 3 | 4) => {
            let runs = match args.get(3) {
                Some(n) => n.parse().context("RUNS must be a number")?,
                None => 100_000,
            };
            let keep = if runs > 100_000 { 1000 } else { 200 };
            fixtures::build(Path::new(&args[2]), 1000, runs, keep)?;
            return Ok(());
        }
        // B1d's fixture: 1,000 jobs at distinct minutes of the day.
        Some("fixtures-varied") if args.len() == 3 => {
            fixtures::build_varied(Path::new(&args[2]), 1000, 100_000, 200)?;
            return Ok(());
        }
        _ => {}
    }
    // `bench B1 B10`: only these scenarios; their rows replace theirs in the table.
    let only: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    if only.iter().any(|a| !ALL.contains(a)) {
        eprintln!(
            "usage: cargo run --release --example bench              run B1-B19, write docs/benchmarks.md\n       \
             cargo run --release --example bench -- B1 B10     run only these, replace only their rows\n       \
             cargo run --release --example bench fixtures DIR [RUNS]\n       \
             only build a fixture in DIR: B1's, or B7's with RUNS = 1000000\n       \
             cargo run --release --example bench fixtures-varied DIR\n       \
             only build B1d's fixture in DIR"
        );
        std::process::exit(2);
    }
    let want = |id: &str| only.is_empty() || only.contains(&id);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir()?;
    // The PostgreSQL cluster's user must reach the fixtures' directory.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )?;
    let mut rows = Vec::new();
    let mut tool = String::new();
    if PROCESS_IDS.iter().any(|id| want(id)) {
        let (r, t) = process_rows(&root, tmp.path(), &want)?;
        rows.extend(r);
        tool = t;
    }
    if want("B8") || want("B9") {
        rows.extend(
            workspace_rows(&tmp.path().join("ws"))?
                .into_iter()
                .filter(|r| want(r.id)),
        );
    }
    if want("B16") {
        rows.push(scheduler_row(&root, &tmp.path().join("scheduler"))?);
    }
    if want("B17") {
        rows.extend(console_row(&root, &tmp.path().join("console"))?);
    }
    rows.sort_by_key(|r| id_number(r.id));
    let doc = root.join("docs/benchmarks.md");
    let table = if only.is_empty() {
        render(&rows, &tool)?
    } else {
        splice(&std::fs::read_to_string(&doc)?, &rows, &tool)
    };
    std::fs::write(&doc, &table)?;
    println!("{table}");
    Ok(())
}

/// Every scenario, in table order.
const ALL: &[&str] = &[
    "B1", "B1d", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B13", "B14",
    "B15", "B16", "B17", "B18", "B19",
];
/// The scenarios timed as whole jobctl processes (with hyperfine, where installed); B8
/// and B9 are timed inside this process.
const PROCESS_IDS: &[&str] = &[
    "B1", "B1d", "B2", "B3", "B4", "B5", "B6", "B7", "B10", "B11", "B12", "B13", "B14", "B15",
    "B18", "B19",
];

/// Where a scenario's row goes: by number, then its letter (B1, B1d, B2).
fn id_number(id: &str) -> (u32, String) {
    let rest = id.strip_prefix('B').unwrap_or(id);
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    (
        rest[..digits].parse().unwrap_or(u32::MAX),
        rest[digits..].to_string(),
    )
}

/// B8, B9: a run's workspace on a generated 20,000-file repository.
fn workspace_rows(dir: &Path) -> Result<Vec<Row>> {
    let m = workspace::measure(dir)?;
    Ok(vec![
        row(
            "B8",
            "workspace set-up, generated repository of 20,000 files, from a warm local repository",
            "≤ 1.5 s and ≤ 0.2× a fresh `git clone`",
            format!(
                "{:.2} s ({:.2}× `git clone` = {:.2} s); the repository's first set-up {:.2} s",
                m.setup,
                m.setup / m.clone,
                m.clone,
                m.first_setup
            ),
            m.setup <= 1.5 && m.setup <= 0.2 * m.clone,
        ),
        row(
            "B9",
            "collecting a 1,000-file edit in a workspace (diff stat, file list, commit)",
            "≤ 0.5 s",
            format!("{:.2} s", m.settle),
            m.settle <= 0.5,
        ),
    ])
}

/// B17: the console in headless Chromium (no row when it is not installed).
/// B16: `jobctl scheduler` on the real clock (a minute and a half).
fn scheduler_row(root: &Path, dir: &Path) -> Result<Row> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let bin = build_release(&cargo, root)?;
    eprintln!("timing jobctl scheduler over 60 slots on the real clock...");
    let m = scheduler::measure(&bin, dir)?;
    Ok(row(
        "B16",
        "`jobctl scheduler`: from a slot's instant to its run's process started; idle between slots",
        "≤ 50 ms p95 over 60 slots; idle: 0 wake-ups between slots, ≤ 12 MiB RSS",
        format!(
            "p95 {:.1} ms, p50 {:.1} ms, max {:.1} ms over {} slots; idle: {} wake-ups and {} ms of CPU in {} s, {:.1} MiB RSS",
            m.p95,
            m.p50,
            m.max,
            m.slots,
            m.wakeups,
            m.cpu_ms,
            m.window.as_secs(),
            m.rss_mib
        ),
        m.p95 <= 50.0 && m.wakeups == 0 && m.rss_mib <= 12.0,
    ))
}

fn console_row(root: &Path, dir: &Path) -> Result<Option<Row>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let bin = build_release(&cargo, root)?;
    eprintln!("timing the console in headless Chromium...");
    let Some(m) = console::measure(&bin, dir)? else {
        eprintln!("B17: Chromium or chromedriver is not installed; skipped");
        return Ok(None);
    };
    Ok(Some(row(
        "B17",
        "the console: a 5 MB log (50,000 lines) opened and followed in headless Chromium",
        "complete ≤ 1.5 s; no main-thread task > 200 ms",
        format!(
            "complete in {:.0} ms (median of {}); longest main-thread task {}",
            m.complete,
            m.rounds,
            if m.longest > 0.0 {
                format!("{:.0} ms", m.longest)
            } else {
                "none over 50 ms".to_string()
            }
        ),
        m.complete <= 1500.0 && m.longest <= 200.0,
    )))
}

/// The rows of B14 and B15 (none when PostgreSQL is not installed).
fn host_rows(bin: &Path, tmp: &Path, a: &fixtures::Fixture, warm: &Timing) -> Result<Vec<Row>> {
    let Some(m) = hosts::measure(bin, tmp, warm, a)? else {
        return Ok(Vec::new());
    };
    let ratio = m.pg_ms / m.sqlite_ms;
    Ok(vec![
        row(
            "B14",
            "the tick with PostgreSQL on localhost, 1,000 jobs, none due",
            "≤ 3× the SQLite tick in the same run",
            format!(
                "{:.1} ms ({ratio:.1}× the SQLite tick = {:.1} ms){}",
                m.pg_ms,
                m.sqlite_ms,
                m.pg_bouncer_ms
                    .map(|b| format!("; {b:.1} ms through PgBouncer"))
                    .unwrap_or_default()
            ),
            ratio <= 3.0,
        ),
        row(
            "B15",
            "a due slot claimed by 3 racing hosts on PostgreSQL",
            "≤ 20 ms; exactly one claim",
            format!(
                "{:.1} ms until all three ticks returned{}; {} over {} slots",
                m.claim_ms,
                m.claim_bouncer_ms
                    .map(|b| format!(" ({b:.1} ms through PgBouncer)"))
                    .unwrap_or_default(),
                if m.one_claim_each {
                    "exactly one claim"
                } else {
                    "**more or less than one claim**"
                },
                m.trials + 3
            ),
            m.claim_ms <= 20.0 && m.one_claim_each,
        ),
    ])
}

/// `doc` with the table rows of `rows` replaced (or added, in id order), each saying when
/// (and with what timer) it was measured, and the note of how each is measured added
/// where the doc has none yet; the rest as it was.
fn splice(doc: &str, rows: &[Row], tool: &str) -> String {
    let date = jiff::Zoned::now().strftime("%Y-%m-%d").to_string();
    let line = |r: &Row| {
        let with = match r.id {
            "B19" => ", with wrk".to_string(),
            id if PROCESS_IDS.contains(&id) => format!(", with {tool}"),
            _ => String::new(),
        };
        format!(
            "| {} | {} | {} | {} (measured {date} alone{with}) | {} |",
            r.id,
            r.scenario,
            r.target,
            r.measured,
            if r.met { "yes" } else { "**no**" }
        )
    };
    let id_of = |l: &str| -> Option<(u32, String)> {
        let id = l.strip_prefix("| ")?.split(' ').next()?;
        id.starts_with('B').then(|| id_number(id))
    };
    let mut out: Vec<String> = doc.lines().map(String::from).collect();
    for r in rows {
        let id = id_number(r.id);
        if let Some(i) = out.iter().position(|l| id_of(l).as_ref() == Some(&id)) {
            out[i] = line(r);
        } else {
            let after = out
                .iter()
                .rposition(|l| id_of(l).is_some_and(|other| other < id))
                .or_else(|| out.iter().position(|l| l.starts_with("|---")));
            let at = after.map_or(out.len(), |i| i + 1);
            out.insert(at, line(r));
        }
    }
    for r in rows {
        let Some((_, note)) = HOW.iter().find(|(ids, _)| ids.contains(&r.id)) else {
            continue;
        };
        let head = note.split(':').next().unwrap_or(note);
        if out.iter().any(|l| l.starts_with(&format!("{head}:"))) {
            continue;
        }
        // After the notes of lower ids, before the next section.
        let id = id_number(r.id);
        let note_id = |l: &str| -> Option<(u32, String)> {
            let id = l.strip_prefix("- ")?.split([':', ',']).next()?;
            id.starts_with('B').then(|| id_number(id))
        };
        let at = out
            .iter()
            .rposition(|l| note_id(l).is_some_and(|other| other < id))
            .map(|i| i + 1)
            .or_else(|| {
                out.iter()
                    .position(|l| l == "## What was done where a target was missed")
                    .map(|i| i.saturating_sub(1))
            })
            .unwrap_or(out.len());
        out.insert(at, note.trim_end().to_string());
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// B1-B7, B10, B14 and B15 (those `want` names): the tick, list, force, budgets, a big
/// output, a tree kill, run control, the tick and a racing claim on PostgreSQL; and the
/// timer used.
fn process_rows(
    root: &Path,
    tmp: &Path,
    want: &dyn Fn(&str) -> bool,
) -> Result<(Vec<Row>, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building jobctl (release)...");
    let bin = build_release(&cargo, root)?;
    eprintln!("timing {}", bin.display());
    eprintln!("generating fixtures: 1,000 jobs with 100,000 runs...");
    let a = fixtures::build(&tmp.join("a"), 1000, 100_000, 200)?;
    eprintln!("fixture: {} jobs / {} runs", a.jobs, a.runs);
    let hyperfine_version = Command::new("hyperfine")
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let hyperfine = hyperfine_version.is_some();
    let tool = match &hyperfine_version {
        Some(v) => v.clone(),
        None => "the benchmark's own timing loop (hyperfine is not installed)".to_string(),
    };
    let tool = tool.as_str();
    eprintln!("timing with {tool}, {RUNS} runs each...");

    let warm = Timing {
        hyperfine,
        cold: false,
    };
    let cold = Timing {
        hyperfine,
        cold: true,
    };
    let b1_args = ["--config", s(&a.config), "run"];
    let mut rows = Vec::new();
    // B1 is the reference of B7 and B10 too.
    let mut b1_pair = None;
    if want("B1") || want("B7") || want("B10") {
        b1_pair = Some(warm.paired((&bin, &["--version"], &a), (&bin, &b1_args, &a))?);
    }
    let (version, b1) = b1_pair.unwrap_or((0.0, 0.0));
    if want("B1") {
        let b1_cold = cold.median(&bin, &b1_args, &a)?;
        rows.push(row(
            "B1",
            "`jobctl run`, 1,000 jobs, none due, 100,000 runs",
            "≤ 15 ms and ≤ 5× `--version`",
            format!(
                "{b1:.1} ms ({:.1}× `--version` = {version:.1} ms); {b1_cold:.1} ms for the first tick after an edit (no snapshot)",
                b1 / version
            ),
            b1 <= 15.0 && b1 <= 5.0 * version,
        ));
    }
    if want("B1d") {
        eprintln!("generating the fixture of B1d: 1,000 jobs at distinct minutes...");
        let d = fixtures::build_varied(&tmp.join("d"), 1000, 100_000, 200)?;
        let b1d_args = ["--config", s(&d.config), "run"];
        let (b1_same, b1d) = warm.paired((&bin, &b1_args, &a), (&bin, &b1d_args, &d))?;
        let version_again = warm.median(&bin, &["--version"], &a)?;
        let list_d = warm.median(&bin, &["--config", s(&d.config), "list"], &d)?;
        let list_a = warm.median(&bin, &["--config", s(&a.config), "list"], &a)?;
        rows.push(row(
            "B1d",
            "B1 with 1,000 *distinct* cron patterns (job i at minute i%60, hour (i/60)%24) and a realistic mix (every, at, weekday crons)",
            "≤ 1.2× B1 in the same run; ≤ 5× `--version`",
            format!(
                "{b1d:.1} ms ({:.2}× B1 = {b1_same:.1} ms; {:.1}× `--version` = {version_again:.1} ms); `list` {list_d:.1} ms ({:.2}× B2's {list_a:.1} ms)",
                b1d / b1_same,
                b1d / version_again,
                list_d / list_a
            ),
            b1d <= 1.2 * b1_same && b1d <= 5.0 * version_again,
        ));
    }
    if want("B2") {
        let b2 = warm.median(&bin, &["--config", s(&a.config), "list"], &a)?;
        rows.push(row(
            "B2",
            "`jobctl list`, same state",
            "≤ 30 ms",
            format!("{b2:.1} ms"),
            b2 <= 30.0,
        ));
    }
    if want("B3") {
        let (t_true, b3) = warm.paired(
            (Path::new("/bin/true"), &[], &a),
            (&bin, &["--config", s(&a.config), "force", "noop"], &a),
        )?;
        let small = fixtures::build(&tmp.join("c"), 3, 0, 200)?;
        let b3_small = warm.median(
            &bin,
            &["--config", s(&small.config), "force", "noop"],
            &small,
        )?;
        rows.push(row(
            "B3",
            "`jobctl force noop`, overhead over `true`",
            "≤ 10 ms",
            format!(
                "{:.1} ms ({b3:.1} − {t_true:.1}) from the 1,000-job config of B1; {:.1} ms with a config of only the forced jobs",
                b3 - t_true,
                b3_small - t_true
            ),
            b3 - t_true <= 10.0,
        ));
    }
    if want("B4") {
        let (b4_ms, granted) = reservations(&tmp.join("b4"))?;
        rows.push(row(
            "B4",
            "20 processes × 10 reservations, budget 100",
            "exactly 100 granted, 0 lost, ≤ 2 s",
            format!("{granted} granted, {:.0} ms", b4_ms),
            granted == 100 && b4_ms <= 2000.0,
        ));
    }
    if want("B5") {
        let (b5_rss_kib, b5_secs) = big_output(&bin, &a)?;
        // The target is in MB/s (10^6 bytes a second), so the measure is too.
        let mbps = (1u64 << 30) as f64 / 1e6 / b5_secs;
        rows.push(row(
            "B5",
            "job writing 1 GiB, `log_max_bytes` 10 MiB",
            "peak RSS ≤ 20 MiB, ≥ 300 MB/s",
            format!("{:.1} MiB, {mbps:.0} MB/s", b5_rss_kib as f64 / 1024.0),
            b5_rss_kib <= 20 * 1024 && mbps >= 300.0,
        ));
    }
    if want("B6") {
        let b6 = tree_kill(&bin, &a)?;
        rows.push(row(
            "B6",
            "50 processes (TERM ignored, one setsid), timeout 1 s, grace 1 s",
            "all gone ≤ 2.3 s",
            format!("{b6:.2} s"),
            b6 <= 2.3,
        ));
    }
    // B7's fixture, also the history B12 pages through.
    let mut big = None;
    let big_fixture = || -> Result<fixtures::Fixture> {
        eprintln!("generating the fixture of B7: 1,000 jobs with 1,000,000 runs...");
        fixtures::build(&tmp.join("b"), 1000, 1_000_000, 1000)
    };
    if want("B7") {
        let b = big_fixture()?;
        let b7 = warm.median(&bin, &["--config", s(&b.config), "run"], &b)?;
        rows.push(row(
            "B7",
            "B1 with 1,000,000 runs (`keep_runs = 1000`)",
            "≤ 1.5× B1",
            format!("{b7:.1} ms ({:.2}× B1)", b7 / b1),
            b7 <= 1.5 * b1,
        ));
        big = Some(b);
    }
    if want("B10") {
        eprintln!(
            "B10: latencies, a drain of 1,000 queued sub-runs, the tick with 1,000 waiting..."
        );
        let l = control::latencies(&bin, &tmp.join("b10"))?;
        let n = 1000;
        let drained = control::drain(&bin, &tmp.join("b10-drain"), n)?;
        let (aq, _lease) = control::waiting_queue(&a, &tmp.join("b10-queue"), n)?;
        let bq_args = ["--config", s(&aq.config), "run"];
        let (b1_again, bq) = warm.paired((&bin, &b1_args, &a), (&bin, &bq_args, &aq))?;
        let worst = l.slot_process.max(l.needs_process);
        rows.push(row(
            "B10",
            "from a slot freeing (a run ending under `max_running`) or a `needs` met to the next queued run started; 1,000 queued sub-runs drained; the tick with 1,000 runs waiting",
            "≤ 50 ms; 100 due jobs under `max_running = 4` started as runs end, not 25 ticks; the tick no slower than B1",
            format!(
                "slot freed: {:.0} ms to the next run's process ({:.0} ms to its start record); needs met: {:.0} ms ({:.0} ms); 1,000 queued sub-runs (4 at once) drained in {drained:.1} s ({:.0} runs/s); the tick with 1,000 waiting: {bq:.1} ms ({:.2}× B1 = {b1_again:.1} ms)",
                l.slot_process,
                l.slot_record,
                l.needs_process,
                l.needs_record,
                n as f64 / drained,
                bq / b1_again
            ),
            worst <= 50.0 && bq <= 1.15 * b1_again,
        ));
        eprintln!("B10: {} samples of each latency", l.samples);
    }
    if want("B18") {
        eprintln!("B18: submit_run over stdio...");
        let m = mcp::measure(&bin, &tmp.join("b18"))?;
        rows.push(row(
            "B18",
            "`submit_run` over stdio (`jobctl mcp`): the call to the run's process started",
            "≤ 50 ms",
            format!(
                "{:.0} ms to the run's process ({:.0} ms to the tool's answer), median of {}",
                m.to_process, m.to_answer, m.samples
            ),
            m.to_process <= 50.0,
        ));
    }
    if want("B11") || want("B12") || want("B13") {
        eprintln!("timing jobctl serve...");
        let big = match big {
            Some(b) => b,
            None => big_fixture()?,
        };
        let small = fixtures::build(&tmp.join("serve"), 3, 0, 200)?;
        let srv = serve::measure(&bin, &small, &big)?;
        for r in [
            row(
                "B11",
                "`jobctl serve`: an event's commit to its arrival at an SSE client",
                "≤ 250 ms at p95",
                format!(
                    "p95 {:.0} ms, p50 {:.0} ms over {} events",
                    srv.latency_p95, srv.latency_p50, srv.events
                ),
                srv.latency_p95 <= 250.0,
            ),
            row(
                "B12",
                "`GET /api/v1/runs?limit=50` with 1,000,000 runs of history",
                "≤ 20 ms",
                format!("{:.1} ms", srv.page_median),
                srv.page_median <= 20.0,
            ),
            row(
                "B13",
                "100 open SSE clients",
                "≤ 30 MiB RSS for the server in total",
                format!(
                    "{:.1} MiB ({:.1} MiB with one client)",
                    srv.rss_100, srv.rss_idle
                ),
                srv.rss_100 <= 30.0,
            ),
        ] {
            if want(r.id) {
                rows.push(r);
            }
        }
    }
    if want("B19") {
        eprintln!("loading jobctl serve with wrk...");
        let f = fixtures::build(&tmp.join("load"), 20, 10_000, 1000)?;
        let loads = serve::load(&bin, &f)?;
        let of = |p: &str| loads.iter().find(|l| l.path == p);
        let (Some(runs), Some(jobs), Some(health)) = (
            of(serve::LOADED[0]),
            of(serve::LOADED[1]),
            of(serve::LOADED[2]),
        ) else {
            bail!("B19: a path was not measured");
        };
        let met = |l: &serve::Load| l.rps >= 4000.0 && l.p99_ms <= 25.0 && l.errors == 0;
        rows.push(row(
            "B19",
            "`jobctl serve` under load from a second process (wrk, 2 threads, 32 connections, 10 s), read token: `GET /api/v1/runs?limit=50` and `GET /api/v1/jobs`",
            "≥ 4,000 requests/s each, p99 ≤ 25 ms, 0 errors",
            format!(
                "runs: {:.0} requests/s, p99 {:.1} ms, {} errors; jobs: {:.0} requests/s, p99 {:.1} ms, {} errors (`/healthz`: {:.0} requests/s, p99 {:.1} ms)",
                runs.rps, runs.p99_ms, runs.errors, jobs.rps, jobs.p99_ms, jobs.errors, health.rps, health.p99_ms
            ),
            met(runs) && met(jobs),
        ));
    }
    if want("B14") || want("B15") {
        rows.extend(
            host_rows(&bin, tmp, &a, &warm)?
                .into_iter()
                .filter(|r| want(r.id)),
        );
    }
    Ok((rows, tool.to_string()))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or("")
}

struct Row {
    id: &'static str,
    scenario: &'static str,
    target: &'static str,
    measured: String,
    met: bool,
}

fn row(
    id: &'static str,
    scenario: &'static str,
    target: &'static str,
    measured: String,
    met: bool,
) -> Row {
    Row {
        id,
        scenario,
        target,
        measured,
        met,
    }
}

/// Builds jobctl in release mode and returns the binary cargo says it built: wherever the
/// target directory is (`CARGO_TARGET_DIR`, a workspace's, `build.target-dir`).
fn build_release(cargo: &str, root: &Path) -> Result<PathBuf> {
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--bin",
            "jobctl",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("cargo build --release failed");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "jobctl")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo did not say where it built jobctl")
}

fn render(rows: &[Row], tool: &str) -> Result<String> {
    let date = jiff::Zoned::now().strftime("%Y-%m-%d").to_string();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut out = String::new();
    out.push_str("# Benchmarks\n\n");
    out.push_str("Measured by `cargo run --release --example bench` (see the README); `-- B1 B10` (any scenario ids) measures only those and replaces only their rows, each saying when it was measured. It builds jobctl in release mode, \
                  generates its fixtures through jobctl's own store code, and reports whole-process medians over \
                  repeated runs. Timings are not tests: nothing here fails CI.\n\n");
    out.push_str(&format!(
        "Measured {date} on {cores} cores ({cpu}), with {tool}: medians of {RUNS} runs per timing, \
         and of {ROUNDS} alternating rounds of {RUNS} for the pairs whose ratio or difference is the target \
         (B1 and `--version`, B3 and `true`).\n\n"
    ));
    out.push_str("| id | scenario | target (median) | measured | met |\n|---|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.id,
            r.scenario,
            r.target,
            r.measured,
            if r.met { "yes" } else { "**no**" }
        ));
    }
    out.push_str("\n## How each is measured\n\n");
    for (_, note) in HOW {
        out.push_str(note);
    }
    out.push_str(NOTES);
    Ok(out)
}

/// How each scenario is measured, by the ids it covers (the notes of the table).
const HOW: &[(&[&str], &str)] = &[
    (
        &["B1", "B2", "B7"],
        "- B1, B2, B7: `JOBCTL_NOW` pins the moment so no job is due; every run of the command reads the config file, opens the db, closes lost runs, evaluates all 1,000 schedules and (B1) records the tick. Between ticks the config doesn't change, so a run reuses the validated config from the previous one (the config snapshot, docs/design.md); B1 also shows the first tick after an edit, measured with the snapshots deleted before every run.\n",
    ),
    (
        &["B1d"],
        "- B1d: B1's tick on a config whose 1,000 jobs are spread over the day, each at a minute of its own (job i at minute i%60 of hour (i/60)%24): daily crons, weekday crons (`1-5`), `at` times on Monday, Wednesday and Friday, and one job in 20 on an `every` interval; each job's last slot is its latest before the pinned moment. Timed in alternating rounds with B1's tick on B1's fixture (21 distinct patterns); `list` on both beside it. A tick keeps each job's next slot in `STATE_DIR/cache/next-slots.bin` (docs/design.md), so the idle tick parses and searches no pattern.\n",
    ),
    (
        &["B3"],
        "- B3: the median of `jobctl force noop` minus the median of `/bin/true`, both measured in the same run, with the 1,000-job config of B1 (a config of only the forced jobs is shown beside it).\n",
    ),
    (
        &["B4"],
        "- B4: 20 processes each make 10 reservations through the store's `reserve` (the same code `ask` and agent jobs use) on one agent with a budget of 100 units at 1 unit a call; granted reservations are counted and checked against the stored usage.\n",
    ),
    (
        &["B5"],
        "- B5: `jobctl force big` (`head -c 1GiB /dev/zero`); peak RSS is the largest resident size of jobctl and the job (getrusage of the waited children), throughput is 1 GiB over the wall time.\n",
    ),
    (
        &["B6"],
        "- B6: `jobctl force tree` starts 48 processes (23 ignore SIGTERM) and one `setsid` escapee; measured from start until jobctl returns, which it does only when none of them is left.\n",
    ),
    (
        &["B8"],
        "- B8: a repository of 20,000 files (200 directories, about 1 KiB each) with 300 commits of history behind its tip, generated with `git fast-import`, packed and checked out. The set-up is `engine::workspace::set_up` as a run's supervisor calls it (the repository's lock, its remotes, the base, the worktree, included files) from a warm repository: one whose earlier run left its worktree parked, so the set-up takes it and switches it to a new branch (the repository's very first set-up, a full `git worktree add`, is shown beside). Each timed worktree is released (parked again) before the next. The clone is `git clone file://REPO`, what cloning the repository per run costs without a network, alternated with the set-ups in the same run. Medians of 9 set-ups and 5 clones.\n",
    ),
    (
        &["B9"],
        "- B9: in such a workspace 1,000 files get a line appended; timed is `engine::workspace::settle` without a push: `git add --all`, the file list, statuses and line counts from one `git diff --raw --numstat`, and the commit. Median of 5.\n",
    ),
    (
        &["B10"],
        "- B10: a config with `max_running = 1`. A need met: `jobctl force need-a` succeeds and its supervisor queues and starts `dep` (`needs = [\"need-a\"]`); a slot freed: `hold` (`sleep 0.2`) runs, `next` waits queued behind it, and `hold`'s supervisor starts it. Each is timed from the end recorded for the run that ended to the start recorded for the next (the store's clock, ms) and to the first command of its process (`date +%s%N`), medians of 20. The drain: 1,000 queued runs at depth 1 of a job with `concurrency = 4`, started by one `jobctl list` and then by the ends of runs, timed to the last end. The tick: B1's fixture with 1,000 more runs queued whose job's lock is held (none can start, each tick looks), paired with B1 in alternating rounds; \"no slower\" allows this machine's noise, 15%. The 100 due jobs: `tests/it/subruns.rs`. What run control costs an idle tick, counted with callgrind on B1's fixture: 19.3 million instructions against 18.8 million before it (recovery also looks at paused and retrying runs, the tick looks at the queue; a job's run-control keys are kept in the config snapshot only when they differ from the defaults, which took a million instructions off decoding it).\n",
    ),
    (
        &["B11", "B12", "B13"],
        "- B11: one client follows `/api/v1/events/stream` while `jobctl configure job noop --pause/--resume` makes 200 events, one every few milliseconds; each event's latency is the client's clock when it reads the event minus the event's `at`, taken before its transaction commits (so a little more than commit → client).\n\
- B12: `jobctl serve` on B7's state; the median of 30 `GET /api/v1/runs?limit=50` over one kept-alive connection, timed by the client, answer read whole.\n\
- B13: after B11, 100 more clients each replay those 200 events and stay open; the server's VmRSS once every one of them has read them all.\n",
    ),
    (
        &["B16"],
        "- B16: `jobctl scheduler` (release) on the real clock with 60 jobs `every = \"1m\"` whose last slots (written to the state before it starts) put their next slots one second apart, the first 4 s after it starts; each job's command is `date +%s%N`, and a slot's latency is that time minus the slot's instant: the claim, the supervisor's start and the shell included. Then the same jobs an hour apart, their next slots an hour away: after 2 s to settle, the context switches of all the scheduler's threads (`/proc/PID/task/*/status`) and its CPU time over 10 s, and its VmRSS.\n",
    ),
    (
        &["B17"],
        "- B17: `jobctl serve` (release) and the console in headless Chromium through chromedriver, signed in with a read token. `jobctl submit big` writes 50,000 lines of 100 bytes at once, then sleeps 2 s and writes one more; once its log holds 5 MB the run's page is opened (a hash change, as a click on its link) and the page itself times, from that moment, until all 50,000 lines are in its log view (`requestAnimationFrame`), and records every main-thread task over 50 ms (PerformanceObserver `longtask`) while it loads and then follows the log to its last line. Median of 5 rounds; the longest task of any round.\n",
    ),
    (
        &["B19"],
        "- B19: `jobctl serve` on a state of 20 jobs and 10,000 runs, loaded by wrk (installed separately: the benchmark stops with a note without it), 2 threads and 32 kept-alive connections for 10 s on each path, with a read token; requests/s and the 99th percentile of latency as wrk reports them, errors its socket errors and answers other than 2xx/3xx. `/healthz` (no token, no state) is measured beside them: the server's cost without a handler's work. wrk shares the machine's two cores with the server.\n",
    ),
    (
        &["B14"],
        "- B14: B1's fixture with its state copied into a throwaway PostgreSQL cluster on localhost (`jobctl state migrate`, `[state] url`), its `jobctl run` timed in alternating rounds with the SQLite `jobctl run` of B1; each tick connects, closes lost runs, evaluates the 1,000 schedules and records the tick and this host's row. Through PgBouncer (transaction pooling) beside it: most of a direct tick is PostgreSQL starting a backend process for the new connection (3 to 8 ms on this machine, by strace), which a pooler keeps.\n",
    ),
    (
        &["B15"],
        "- B15: three hosts (three homes with their own `[state] host`, one shared database) run `jobctl run` at once when one slot of a job is due; timed from starting the three until all have returned (one claimed the slot and started its supervisor, two were refused by the unique claim), over repeated slots, each checked to have exactly one run; straight and through PgBouncer. Four connections start within the window (three ticks and the winner's supervisor), each a new PostgreSQL backend on two cores: the pooler's figure is the one without them.\n",
    ),
    (
        &["B18"],
        "- B18: `jobctl mcp` started and initialized once, as an agent CLI starts it; then 20 times a `tools/call` of `submit_run` for a job whose command writes `date +%s%N`, timed from writing the call to the server's stdin to the time the job's process wrote (and, beside it, to the tool's answer). The call opens the state, records the queued run, starts it under a detached supervisor and answers; the process starts after the supervisor has taken its lease.\n",
    ),
];

const NOTES: &str = "\n## What was done where a target was missed\n\n\
Profiled with perf and callgrind (instruction counts, which this noisy machine can't disturb).\n\n\
- B1 first measured 38 ms, B2 48 ms and B3 50 ms. Fixed, in order: croner parsing the 667 cron and `at` patterns of the config on every load (each distinct pattern is now parsed once per process and shared: the heap of a 1,000-job config went from 7.7 MB to 3.2 MB); the first time-zone lookup listing the whole zoneinfo tree (zones are read from their TZif file, and the system zone from `TZ` or `/etc/localtime`, which the default `timezone = \"local\"` used to look up the slow way on every load); `list` asking for the local zone once per row; a WAL checkpoint with two fsyncs as every command exited (left to SQLite's autocheckpoint); `list` scanning the runs index for job names (one indexed lookup per job instead); and, for `force`, a 10 ms idle poll after the job ended and an fsync of the log.\n\
- That left B1 at 11-16 ms, over 6× `--version`: 57 million instructions, against under 1 million for `--version`. Of them, 34 million were reading and validating the 1,000-job file (14 million in the TOML parser alone) and 16 million were croner searches, one or two per job. Now: a croner search is made once per pattern, zone and instant (jobs sharing a pattern share it); key paths for error messages are built only for an error; and a tick whose config is unchanged reuses the validated config of the previous load (the config snapshot: used only when the file's text, every variable and prompt file it refers to and the jobctl binary are all the same; see docs/design.md). Also: the loaded config is never freed (the process ends; freeing it was 7% of the tick), and jobs are boxed in the config's map (400-byte jobs inline left half-empty map nodes: every page of them is a page fault, and page faults are most of this machine's system time). `at` weekdays are held as a set of days instead of seven strings per job. B1 went to 19 million instructions, a quarter of them croner parsing the 21 distinct patterns, and from 660 to 550 page faults (`--version`: 190).\n\
- B3 then sat at its 10 ms line. Each command is the db's first connection, which checksums every WAL frame before its first query (580 page reads here, up to 1,000 with SQLite's default autocheckpoint): the WAL is now checkpointed every 100 pages. Snapshot schedules parse their croner patterns only when first searched, which `force` never does. The end-of-run sweep no longer reads the environment of processes older than the run. And the job is started with vfork: std forked instead because the job's program was a bare name with a `PATH` of its own to search, and after a fork every page jobctl writes is copied (110 page faults); jobctl now searches `PATH` itself.\n\
- B2 (`list`) also reads each job's latest run in one statement instead of a query per job, and formats its times without strftime.\n\
- What is left in B1: croner parsing the distinct patterns (its year field sets 5,000 bits per pattern, with seconds and years disallowed), decoding the stored config, and process start-up. The first tick after an edit of the config does the full parse and validation (the second figure of B1). In B2, most of the time is comfy-table laying out 1,000 rows and two index lookups per job.\n\
- This machine is noisy: the same binary's medians move by a few milliseconds from one run of the benchmark to the next; the ratios, measured in one run, move less.\n";

/// How to time a command.
struct Timing {
    hyperfine: bool,
    /// Delete the config snapshots before every run: what the first command after an
    /// edit of the config costs.
    cold: bool,
}

/// A command to time: `bin args` in fixture `f`.
type Cmd<'a> = (&'a Path, &'a [&'a str], &'a fixtures::Fixture);

impl Timing {
    /// Median wall time of `bin args` in milliseconds.
    fn median(&self, bin: &Path, args: &[&str], f: &fixtures::Fixture) -> Result<f64> {
        Ok(median_of(self.times((bin, args, f), RUNS)?))
    }

    /// Medians of two commands whose ratio matters, measured in alternating rounds so
    /// that this machine's slow swings (other tenants, frequency) fall on both alike.
    fn paired(&self, a: Cmd<'_>, b: Cmd<'_>) -> Result<(f64, f64)> {
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            ta.extend(self.times(a, RUNS)?);
            tb.extend(self.times(b, RUNS)?);
        }
        Ok((median_of(ta), median_of(tb)))
    }

    /// The wall times of `runs` runs in milliseconds, after 3 warm-up runs.
    fn times(&self, (bin, args, f): Cmd<'_>, runs: usize) -> Result<Vec<f64>> {
        let cache = f.home.join("cache");
        let mut cmd = vec![bin.display().to_string()];
        cmd.extend(args.iter().map(|a| a.to_string()));
        if self.hyperfine {
            let json = f.home.join("hyperfine.json");
            let mut hf = Command::new("hyperfine");
            hf.args([
                "-N",
                "--warmup",
                "3",
                "--runs",
                &runs.to_string(),
                "--export-json",
            ])
            .arg(&json);
            if self.cold {
                hf.arg("--prepare")
                    .arg(format!("rm -rf {}", cache.display()));
            }
            let status = hf
                .arg(cmd.join(" "))
                .env("JOBCTL_NOW", fixtures::NOW)
                .env("JOBCTL_HOME", &f.home)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            if !status.success() {
                bail!("hyperfine failed on {}", cmd.join(" "));
            }
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
            let times = v["results"][0]["times"]
                .as_array()
                .context("hyperfine json")?;
            return times
                .iter()
                .map(|t| t.as_f64().map(|s| s * 1000.0).context("hyperfine json"))
                .collect();
        }
        let mut times = Vec::with_capacity(runs);
        for i in 0..runs + 3 {
            if self.cold {
                let _ = std::fs::remove_dir_all(&cache);
            }
            let t = Instant::now();
            let st = Command::new(bin)
                .args(args)
                .env("JOBCTL_NOW", fixtures::NOW)
                .env("JOBCTL_HOME", &f.home)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if !st.success() {
                bail!("{} failed", cmd.join(" "));
            }
            if i >= 3 {
                times.push(ms);
            }
        }
        Ok(times)
    }
}

fn median_of(mut times: Vec<f64>) -> f64 {
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// B4: returns (wall ms, granted).
fn reservations(dir: &Path) -> Result<(f64, usize)> {
    std::fs::create_dir_all(dir)?;
    drop(jobctl::store::open(dir)?);
    let me = std::env::current_exe()?;
    let t = Instant::now();
    let children: Vec<_> = (0..20)
        .map(|_| {
            Command::new(&me)
                .arg("reserve-worker")
                .arg(dir)
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    let mut granted = 0;
    for c in children {
        let out = c.wait_with_output()?;
        granted += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .unwrap_or(0);
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let store = jobctl::store::open(dir)?;
    let used = store.usage("bench", "2026-06-15")?;
    if used != granted as i64 * 1000 {
        bail!("B4: {granted} reservations granted but usage says {used} milli-units");
    }
    Ok((ms, granted))
}

fn reserve_worker(dir: &Path) -> Result<()> {
    let mut store = jobctl::store::open(dir)?;
    let mut granted = 0;
    for _ in 0..10 {
        let r = store.reserve(&jobctl::store::ReserveRequest {
            agent: "bench",
            scope: "worker",
            day: "2026-06-15",
            cost: 1000,
            budget: 100_000,
            now: 0,
            for_run: None,
            tree: &[],
        })?;
        if matches!(r, jobctl::store::Reservation::Reserved(_)) {
            granted += 1;
        }
    }
    println!("{granted}");
    Ok(())
}

/// B5: (peak RSS KiB, seconds).
fn big_output(bin: &Path, f: &fixtures::Fixture) -> Result<(i64, f64)> {
    let me = std::env::current_exe()?;
    let out = Command::new(me)
        .args(["rss-probe", s(bin), s(&f.config), "big"])
        .env("JOBCTL_HOME", &f.home)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let rss: i64 = parts.next().context("rss")?.parse()?;
    let secs: f64 = parts.next().context("secs")?.parse()?;
    Ok((rss, secs))
}

/// Runs `jobctl --config C force JOB` as a child and prints "maxrss_kib seconds".
fn rss_probe(args: &[String]) -> Result<()> {
    let t = Instant::now();
    let st = Command::new(&args[0])
        .args(["--config", &args[1], "force", &args[2]])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let secs = t.elapsed().as_secs_f64();
    if !st.success() {
        bail!("force {} failed", args[2]);
    }
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    println!("{} {secs}", usage.max_rss());
    Ok(())
}

/// B6: seconds from start until every process of the run is gone (jobctl returns only then).
fn tree_kill(bin: &Path, f: &fixtures::Fixture) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let st = Command::new(bin)
            .args(["--config", s(&f.config), "force", "tree"])
            .env("JOBCTL_HOME", &f.home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        times.push(t.elapsed().as_secs_f64());
        if st.code() != Some(124) {
            bail!("B6: force tree should time out (124), got {st:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}
