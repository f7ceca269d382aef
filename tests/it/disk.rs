//! Run logs on a small or full disk, and reading them while they change (reliability.md,
//! "Nothing is lost"). The disk tests put the state directory on a 24 MiB tmpfs mounted
//! for the test (as root, or as root of a private user and mount namespace made with
//! `unshare -Urm`; where neither works, they say why and skip).
//!
//! - A log over its cap takes about the cap plus a margin on disk, never room for a
//!   second copy, and keeps the end of the output under a header.
//! - A log that can't be written on a full disk ends the run `failed` with the reason,
//!   leaves nothing behind, and jobctl works again once there is space.
//! - `logs -f` prints each line at most once, in order, through every trim of the log;
//!   `logs` never prints the NULs of freed space, and streams a large log in bounded
//!   memory (`--json` too).

use crate::support::tmpfs::{self, Tmpfs};
use crate::support::*;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

const MIB: u64 = 1 << 20;
const CAP: u64 = 4 * MIB;
/// The room a log takes above its cap before its start is freed (a quarter of the cap,
/// at most 1 MiB), plus what one write and the blocks around it add.
const MARGIN: u64 = MIB + 256 * 1024;
const LIMIT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------
// A small file system for the state directory
// ---------------------------------------------------------------------------------------

/// Runs `body` with `env`'s state directory on a tmpfs of `size` (as root, or in a private
/// namespace; where neither works, says so and skips).
fn on_tmpfs(test: &str, size: &str, body: impl FnOnce(&Env, &Tmpfs)) {
    if !tmpfs::may_mount(module_path!(), test) {
        return;
    }
    let env = Env::new();
    let fs = match Tmpfs::mount(&env.state_dir(), size) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("skipped {test}: can't mount a tmpfs for the state directory ({e})");
            return;
        }
    };
    body(&env, &fs);
}

/// The state directory's config: `log_max_bytes`, then `jobs`.
fn config(cap: &str, jobs: &str) -> String {
    format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\nlog_max_bytes = \"{cap}\"\n\n{jobs}"
    )
}

/// Samples the space in use on `fs` until dropped; `peak` is the most seen.
struct DiskWatch {
    stop: std::sync::Arc<AtomicBool>,
    peak: std::sync::Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DiskWatch {
    fn start(fs: &Tmpfs) -> DiskWatch {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let peak = std::sync::Arc::new(AtomicU64::new(0));
        let dir = fs.dir.clone();
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let v = nix::sys::statvfs::statvfs(&dir).unwrap();
                let used = (v.blocks() - v.blocks_free()) as u64 * v.fragment_size() as u64;
                p.fetch_max(used, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        DiskWatch {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn peak(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.peak.load(Ordering::Relaxed)
    }
}

/// Files under `dir` whose name ends in `.tmp`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(temp_files(&p));
        } else if p.to_string_lossy().ends_with(".tmp") {
            found.push(p);
        }
    }
    found
}

/// `jobctl force JOB`, its output (echoed to stdout) thrown away.
fn force_quietly(env: &Env, job: &str) -> std::process::Output {
    env.cmd(&["force", job])
        .stdout(Stdio::null())
        .output()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// The cap on a small disk
// ---------------------------------------------------------------------------------------

/// 200 MiB of `filler\n`, then `LAST-LINE\n`: the job's output, byte by byte.
const BIG: u64 = 200 * MIB;
const BIG_JOB: &str = "[jobs.big]\ntype = \"script\"\ncommand = \"yes filler | head -c 209715200; echo LAST-LINE\"\ntimeout = \"5m\"\n";

fn big_output_tail(len: u64) -> Vec<u8> {
    let total = BIG + "LAST-LINE\n".len() as u64;
    (total - len..total)
        .map(|i| {
            if i < BIG {
                b"filler\n"[(i % 7) as usize]
            } else {
                b"LAST-LINE\n"[(i - BIG) as usize]
            }
        })
        .collect()
}

/// The log of a run of [`BIG_JOB`]: the header, then the last `CAP` bytes from their
/// first line start on, exactly (the cap cuts at a line boundary).
fn assert_big_log(run: &Value) {
    let log = std::fs::read(run["log_path"].as_str().expect("a log path")).unwrap();
    let total = BIG + "LAST-LINE\n".len() as u64;
    let tail = big_output_tail(CAP);
    let cut = tail.iter().position(|b| *b == b'\n').unwrap() as u64 + 1;
    let kept = CAP - cut;
    let header = format!(
        "[jobctl] output exceeded log_max_bytes ({CAP} bytes): the first {} bytes were dropped, the last {kept} kept\n",
        total - kept
    );
    assert!(
        log.starts_with(header.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&log[..log.len().min(200)])
    );
    assert_eq!(log.len(), header.len() + kept as usize);
    assert!(
        log[header.len()..] == tail[cut as usize..],
        "the log holds the last {CAP} bytes of the output from their first line start"
    );
}

#[test]
fn a_log_over_its_cap_takes_the_cap_and_a_margin_on_disk_and_keeps_the_end() {
    let test = "a_log_over_its_cap_takes_the_cap_and_a_margin_on_disk_and_keeps_the_end";
    on_tmpfs(test, "24M", |env, fs| {
        env.config(&config("4MiB", BIG_JOB));
        let _sweep = Sweep::new(env);
        ok(&env.run(&["list"]));
        let before = fs.used();
        let watch = DiskWatch::start(fs);
        let o = force_quietly(env, "big");
        let peak = watch.peak();
        ok(&o);
        let run = env.last_run("big");
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert!(
            peak - before <= CAP + MARGIN,
            "the log took up to {} KiB on disk; its cap is {} KiB",
            (peak - before) >> 10,
            CAP >> 10
        );
        assert_big_log(&run);
        assert!(temp_files(&fs.dir).is_empty(), "{:?}", temp_files(&fs.dir));
        let after = fs.used() - before;
        assert!(after <= CAP + 256 * 1024, "{after} bytes left in use");
    });
}

#[test]
fn a_log_needs_no_room_for_a_second_copy_of_itself() {
    let test = "a_log_needs_no_room_for_a_second_copy_of_itself";
    on_tmpfs(test, "24M", |env, fs| {
        env.config(&config("4MiB", BIG_JOB));
        let _sweep = Sweep::new(env);
        ok(&env.run(&["list"]));
        // Room for more than the cap and its margin, not for twice the cap and a copy.
        fs.fill(CAP + 5 * MIB);
        let o = force_quietly(env, "big");
        ok(&o);
        let run = env.last_run("big");
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_big_log(&run);
        assert!(temp_files(&fs.dir).is_empty(), "{:?}", temp_files(&fs.dir));
        ok(&env.run(&["list"]));
    });
}

// ---------------------------------------------------------------------------------------
// A full disk
// ---------------------------------------------------------------------------------------

const LOUD_JOB: &str = "[jobs.loud]\ntype = \"script\"\ncommand = \"yes 'a line of output that fills the disk'\"\ntimeout = \"2m\"\n\n\
                        [jobs.quiet]\ntype = \"script\"\ncommand = \"echo fine\"\n";

#[test]
fn a_run_whose_log_fills_the_disk_is_recorded_failed_and_jobctl_works_once_there_is_room() {
    let test =
        "a_run_whose_log_fills_the_disk_is_recorded_failed_and_jobctl_works_once_there_is_room";
    on_tmpfs(test, "24M", |env, fs| {
        env.config(&config("4MiB", LOUD_JOB));
        let _sweep = Sweep::new(env);
        ok(&env.run(&["force", "quiet"]));
        let filler = fs.fill(256 * 1024);
        let o = force_quietly(env, "loud");
        assert_eq!(code(&o), 1, "{}", stderr(&o));

        // Recorded while the disk is still full.
        let run = env.last_run("loud");
        assert_eq!(run["status"], "failed", "{run:#}");
        let error = run["error"].as_str().unwrap_or("");
        let log = run["log_path"].as_str().unwrap();
        assert!(
            error.contains(&format!("can't write the run log {log}"))
                && error.contains("No space left on device"),
            "{error}"
        );
        let id = run["run_id"].as_i64().unwrap();
        assert_eq!(
            run_processes(&env.state_dir(), id),
            (vec![], vec![]),
            "nothing of the run is left"
        );
        assert!(temp_files(&fs.dir).is_empty(), "{:?}", temp_files(&fs.dir));

        // Space back: everything works, nothing to clean up by hand.
        std::fs::remove_file(filler).unwrap();
        ok(&env.run(&["list"]));
        ok(&env.run(&["force", "quiet"]));
        assert_eq!(env.last_run("quiet")["status"], "succeeded");
        // What the log got before the disk was full is still readable.
        let o = env.run(&["logs", &id.to_string()]);
        ok(&o);
        assert!(!o.stdout.contains(&0), "no NULs");
        assert!(stdout(&o).contains("a line of output that fills the disk\n"));
    });
}

#[test]
fn a_run_ended_when_not_even_its_record_fits_is_closed_once_there_is_room() {
    let test = "a_run_ended_when_not_even_its_record_fits_is_closed_once_there_is_room";
    on_tmpfs(test, "24M", |env, fs| {
        // The job fills the disk to the last byte itself, then prints: nothing of its
        // log fits, and the database may not grow either.
        let eaten = fs.dir.join("eaten");
        env.config(&config(
            "4MiB",
            &format!(
                "[jobs.eater]\ntype = \"script\"\ncommand = \"cat /dev/zero > '{}'; yes 'a line of output'\"\ntimeout = \"2m\"\n\n\
                 [jobs.quiet]\ntype = \"script\"\ncommand = \"echo fine\"\n",
                eaten.display()
            ),
        ));
        let _sweep = Sweep::new(env);
        ok(&env.run(&["force", "quiet"]));
        let filler = fs.fill(256 * 1024);
        let o = force_quietly(env, "eater");
        let recorded = match code(&o) {
            1 => true,
            74 => false,
            _ => panic!(
                "the run failed, or jobctl could not record it\n{}",
                both(&o)
            ),
        };
        let marks = [format!("JOBCTL_STATE_DIR={}", env.state_dir().display())];
        assert_eq!(
            marked_pids(&marks),
            Vec::<i32>::new(),
            "nothing of the run is left"
        );
        assert!(temp_files(&fs.dir).is_empty(), "{:?}", temp_files(&fs.dir));

        // Space back: the next command closes the run if its supervisor could not.
        std::fs::remove_file(filler).unwrap();
        std::fs::remove_file(eaten).unwrap();
        ok(&env.run(&["list"]));
        let run = env.last_run("eater");
        let error = run["error"].as_str().unwrap_or("");
        if recorded {
            assert_eq!(run["status"], "failed", "{run:#}");
            assert!(error.contains("No space left on device"), "{error}");
        } else {
            assert_eq!(run["status"], "lost", "{run:#}");
        }
        ok(&env.run(&["force", "quiet"]));
        assert_eq!(env.last_run("quiet")["status"], "succeeded");
    });
}

// ---------------------------------------------------------------------------------------
// Reading a log while it changes
// ---------------------------------------------------------------------------------------

const LINES: u32 = 3000;

/// 3,000 numbered lines of 11 bytes at about 5 KiB a second, under a 1 KiB cap: the
/// log's start is freed while a follower reads it, and the log is compacted at the end.
/// Slow enough that a follower looking every 200 ms would find lines it already printed
/// in a log trimmed and made anew since.
fn count_job() -> String {
    format!(
        "[jobs.count]\ntype = \"script\"\ntimeout = \"2m\"\ncommand = \"i=1; while [ $i -le {LINES} ]; do \
         printf 'line %05d\\\\n' $i; [ $((i % 50)) -eq 0 ] && sleep 0.1; i=$((i + 1)); done\"\n"
    )
}

/// The numbers of the whole numbered lines in `out`, in order.
fn numbered_lines(out: &[u8]) -> Vec<u32> {
    let text = String::from_utf8_lossy(out);
    text.lines()
        .filter_map(|l| {
            let num = l.strip_prefix("line ")?;
            if num.len() != 5 {
                return None;
            }
            num.parse().ok()
        })
        .collect()
}

fn assert_each_at_most_once_in_order(what: &str, out: &[u8]) -> Vec<u32> {
    assert!(!out.contains(&0), "{what}: NUL bytes in the output");
    let nums = numbered_lines(out);
    for w in nums.windows(2) {
        assert!(
            w[0] < w[1],
            "{what}: line {} printed after line {} ({} lines printed)",
            w[1],
            w[0],
            nums.len()
        );
    }
    nums
}

#[test]
fn logs_follow_prints_each_line_at_most_once_in_order_through_every_trim() {
    let env = Env::with_config(&config("1KiB", &count_job()));
    let _sweep = Sweep::new(&env);
    let mut force = env
        .cmd(&["force", "count"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the run to start", LIMIT, || {
        let runs = env.history_json(&["count"]);
        runs.first()
            .filter(|r| r["status"] == "running")
            .map(|_| ())
    });
    let mut follower = env
        .cmd(&["logs", "-f", "--job", "count"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = follower.stdout.take().unwrap();
    let reading = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    // Meanwhile, plain `logs` of the running run: what is there, no NULs, no repeats.
    let mut reads = 0;
    while force.try_wait().unwrap().is_none() {
        let o = env.run(&["logs", "--job", "count"]);
        ok(&o);
        assert_each_at_most_once_in_order("logs of the running run", &o.stdout);
        reads += 1;
    }
    assert!(force.wait().unwrap().success());
    let status = wait_for("logs -f to end with the run", LIMIT, || {
        follower.try_wait().unwrap()
    });
    assert!(status.success());
    let out = reading.join().unwrap();
    let nums = assert_each_at_most_once_in_order("logs -f", &out);
    assert_eq!(
        nums.last(),
        Some(&LINES),
        "the follower got to the last line"
    );
    assert!(
        nums.len() >= 30,
        "the follower printed lines as they came ({} of them)",
        nums.len()
    );
    assert!(reads > 0);
}

#[test]
fn logs_streams_a_large_log_in_bounded_memory_also_as_json() {
    if !alone(
        module_path!(),
        "logs_streams_a_large_log_in_bounded_memory_also_as_json",
    ) {
        return;
    }
    // Larger than the memory allowed, so a log read whole would show.
    const SIZE: u64 = 40 * MIB;
    const LINE: &str = "0123456789abcdef\n";
    let env = Env::with_config(&config(
        "40MiB",
        &format!(
            "[jobs.big]\ntype = \"script\"\ncommand = \"yes 0123456789abcdef | head -c {SIZE}\"\ntimeout = \"5m\"\n"
        ),
    ));
    let _sweep = Sweep::new(&env);
    ok(&force_quietly(&env, "big"));
    let run = env.last_run("big");
    let out = env.home().join("out");
    let (code, rss) = peak_rss_kib(env.cmd(&["logs", "--job", "big"]), &out);
    assert_eq!(code, 0);
    assert!(rss < 32 * 1024, "logs of a 40 MiB log peaked at {rss} KiB");
    let text: String = LINE.repeat(SIZE as usize / LINE.len() + 1)[..SIZE as usize].to_string();
    assert!(
        std::fs::read(&out).unwrap() == text.as_bytes(),
        "the whole log"
    );
    drop(text);

    let (code, rss) = peak_rss_kib(env.cmd(&["--json", "logs", "--job", "big"]), &out);
    assert_eq!(code, 0);
    assert!(
        rss < 32 * 1024,
        "logs --json of a 40 MiB log peaked at {rss} KiB"
    );
    let text: String = LINE.repeat(SIZE as usize / LINE.len() + 1)[..SIZE as usize].to_string();
    // The document, without parsing 40 MiB of JSON in a debug build.
    let expected = format!(
        "{{\n  \"job\": \"big\",\n  \"log_path\": {},\n  \"output\": {},\n  \"run_id\": {},\n  \"status\": \"succeeded\"\n}}\n",
        run["log_path"],
        Value::from(text),
        run["run_id"]
    );
    assert!(
        std::fs::read(&out).unwrap() == expected.as_bytes(),
        "the JSON document"
    );
}
