//! The shared state outlives the database's outages (docs/several-hosts.md, "What happens
//! when"): a run in flight while PostgreSQL is restarted, stopped (`fast`, `immediate`)
//! and started again, or PgBouncer restarted, goes on, reconnects and ends with its own
//! status, exit code and whole log; a host cut off from the database (a network namespace
//! of its own, the veth's link taken down) for half a lease keeps its run, and for two
//! leases loses it to another host and writes nothing over that host's records. Commands
//! that read or start runs exit 74 at once while the database is away.
//!
//! Each scenario drives the real binary against a throwaway cluster of its own (commits
//! durable, so an immediate shutdown loses none it answered), counts the runs and their
//! statuses, and checks the log byte for byte: numbered lines, none missing, none twice.
//! They run one at a time: each times outages against leases.
use crate::support::hosts::{Closed, one_at_a_time};
use crate::support::{self, netns, pg};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Env, Sweep, code, run_processes, stderr, wait_for};
use jobctl::core::run::RunStatus;
use jobctl::store::postgres::PgStore;
use jobctl::store::{LogStore, RunRecord, RunStore};

/// A password in every host's URL (the clusters trust their clients and never ask for
/// it): no message may show it.
const PASSWORD: &str = "sekrit-pw";

/// The job every scenario runs: a numbered line every 20 ms until the test creates its
/// `GO` file, then one last line.
const LONG_SH: &str = "#!/bin/sh\ni=0\nwhile [ ! -e \"$1\" ]; do i=$((i+1)); echo \"line $i\"; sleep 0.02; done\necho \"done after $i lines\"\n";

/// A host's installation: its home, state and config, with the job `long` and a job
/// `other`.
struct Host {
    env: Env,
    go: PathBuf,
    _sweep: Sweep,
}

impl Host {
    fn new(url: &str, name: &str, lease: &str) -> Host {
        let env = Env::new();
        let script = env.script("long.sh", LONG_SH);
        let go = env.home().join("GO");
        env.config(&format!(
            "{}\n[state]\nurl = \"{url}\"\nhost = \"{name}\"\nlease = \"{lease}\"\n\n\
             [jobs.long]\ntype = \"script\"\ncommand = [\"{}\", \"{}\"]\n\n\
             [jobs.other]\ntype = \"script\"\ncommand = \"true\"\n",
            support::runner(&env, "keep_runs = 1000"),
            script.display(),
            go.display()
        ));
        let _sweep = Sweep::new(&env);
        Host { env, go, _sweep }
    }

    /// `jobctl force long` started, with the supervisor's log at `info` (its reconnects
    /// are said there); its stdout and stderr go to files of the home.
    fn force(&self, inside: Option<&netns::Netns>) -> Child {
        let mut cmd = self.env.cmd(&["force", "long"]);
        cmd.env("JOBCTL_LOG", "jobctl=info");
        let mut cmd = match inside {
            Some(n) => n.inside(&cmd),
            None => cmd,
        };
        let file = |n: &str| std::fs::File::create(self.env.home().join(n)).unwrap();
        cmd.stdout(Stdio::from(file("force.out")))
            .stderr(Stdio::from(file("force.err")))
            .spawn()
            .expect("start jobctl force")
    }

    fn force_output(&self) -> (String, String) {
        let read = |n: &str| std::fs::read_to_string(self.env.home().join(n)).unwrap();
        (read("force.out"), read("force.err"))
    }

    /// Lets the job end.
    fn go(&self) {
        std::fs::write(&self.go, "").unwrap();
    }
}

/// A fresh handle on the state (the test's own connections don't outlive a restart).
fn observer(url: &str) -> PgStore {
    let dir = tempfile::tempdir().unwrap();
    PgStore::open(url, "observer", dir.path()).expect("open the shared state")
}

/// The URL of `db` of `cluster` at `addr`, with the password (and `params`).
fn url_at(addr: &str, port: u16, db_url: &str, params: &str) -> String {
    let db = db_url.rsplit('/').next().unwrap();
    format!("postgres://jobctl:{PASSWORD}@{addr}:{port}/{db}{params}")
}

/// The run of `long` once its job has printed a few lines into the database's copy of its
/// log.
fn run_going(url: &str) -> RunRecord {
    wait_for(
        "the run to copy its first lines in",
        Duration::from_secs(20),
        || {
            let s = observer(url);
            let run = s.history(Some("long"), 10).ok()?.into_iter().next()?;
            let log = s.read_log(run.id, 0, 1 << 20).ok()?;
            (log.data.iter().filter(|b| **b == b'\n').count() >= 5).then_some(run)
        },
    )
}

/// How many lines of run `id`'s log the database holds.
fn lines_in_db(url: &str, id: i64) -> usize {
    let log = observer(url).read_log(id, 0, 1 << 24).unwrap();
    log.data.iter().filter(|b| **b == b'\n').count()
}

/// Waits for `child` to exit, at most `limit`; its exit code.
fn exit_within(child: &mut Child, what: &str, limit: Duration) -> i32 {
    wait_for(what, limit, || child.try_wait().unwrap())
        .code()
        .unwrap_or(-1)
}

/// `list`, `status`, `history` and `force` (of another job) on host `h` named `name`,
/// all at once, with the database away: each exits 74 within `limit`, with one line
/// naming the host, never the password. The slowest's time.
fn commands_refused(
    h: &Host,
    name: &str,
    inside: Option<&netns::Netns>,
    limit: Duration,
) -> Duration {
    let t = Instant::now();
    let started: Vec<(Vec<&str>, Child)> = [
        vec!["list"],
        vec!["status"],
        vec!["history"],
        vec!["force", "other"],
    ]
    .into_iter()
    .map(|args| {
        let cmd = h.env.cmd(&args);
        let mut cmd = match inside {
            Some(n) => n.inside(&cmd),
            None => cmd,
        };
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (args, child)
    })
    .collect();
    let mut slowest = Duration::ZERO;
    for (args, mut child) in started {
        wait_for(&format!("{args:?} to give up"), limit, || {
            child.try_wait().unwrap()
        });
        slowest = slowest.max(t.elapsed());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(
            code(&out),
            74,
            "{args:?} while the database is away\n{}",
            support::both(&out)
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(&format!("host {name} ")),
            "names the host: {err}"
        );
        assert!(!err.contains(PASSWORD), "never the password: {err}");
    }
    assert!(slowest < limit, "{slowest:?}");
    slowest
}

/// Checks a whole log: `line 1` to `line N` in order, each once, then `done after N
/// lines`; returns N.
fn whole_log(log: &str) -> usize {
    let lines: Vec<&str> = log.lines().collect();
    let n = lines.len() - 1;
    for (i, l) in lines[..n].iter().enumerate() {
        assert_eq!(*l, format!("line {}", i + 1), "line {} of the log", i + 1);
    }
    assert_eq!(lines[n], format!("done after {n} lines"));
    n
}

/// The runs of the state, counted by job, host and status.
fn count_runs(url: &str) -> BTreeMap<(String, String, RunStatus), usize> {
    let mut counts = BTreeMap::new();
    for r in observer(url).history(None, 10_000).unwrap() {
        *counts
            .entry((r.job.clone(), r.host.clone().unwrap_or_default(), r.status))
            .or_insert(0) += 1;
    }
    counts
}

fn counted(
    entries: &[(&str, &str, RunStatus, usize)],
) -> BTreeMap<(String, String, RunStatus), usize> {
    entries
        .iter()
        .map(|(j, h, s, n)| ((j.to_string(), h.to_string(), *s), *n))
        .collect()
}

/// Checks that run `id` of host `h` succeeded with its whole output, the same in the
/// database, in its log file and echoed by `force`; returns the log's line count.
fn succeeded_whole(url: &str, h: &Host, id: i64) -> usize {
    let s = observer(url);
    let run = s.get_run(id).unwrap().unwrap();
    assert_eq!(
        (run.status, run.exit_code),
        (RunStatus::Succeeded, Some(0)),
        "{:?}",
        run.error
    );
    let db = s.read_log(id, 0, 1 << 24).unwrap();
    let file = std::fs::read(run.log_path.as_deref().unwrap()).unwrap();
    let (echoed, _) = h.force_output();
    assert_eq!(db.dropped, 0);
    assert_eq!(
        String::from_utf8_lossy(&db.data),
        String::from_utf8_lossy(&file),
        "the database holds the log file's bytes, each once"
    );
    assert_eq!(echoed.as_bytes(), &file[..], "force echoed the same output");
    whole_log(&String::from_utf8_lossy(&file))
}

/// How many times the supervisor's log says it reconnected (store and keeper).
fn reconnects(err: &str) -> usize {
    err.lines()
        .filter(|l| l.contains("reconnected") || l.contains("reached the state database again"))
        .count()
}

// --- PostgreSQL and PgBouncer go away and come back -----------------------------------------

/// What happens to the database mid-run.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// `pg_ctl restart -m fast`.
    Restart,
    /// `pg_ctl stop -m MODE`, about a second, `pg_ctl start`; the job ends meanwhile.
    Stop(&'static str),
    /// PostgreSQL stopped (`fast`) behind PgBouncer, the hosts connecting through it.
    StopBehindBouncer,
    /// PgBouncer stopped (SIGTERM), about a second, started again; the job ends meanwhile.
    Bouncer,
}

fn outlive(test: &str, outage: Outage) {
    let _one = one_at_a_time();
    let setup = pg::Setup {
        durable: true,
        ..Default::default()
    };
    let Some(cluster) = pg::cluster_or_skip_with(test, &setup) else {
        return;
    };
    let direct = cluster.create_db();
    let mut bouncer = match outage {
        Outage::Bouncer | Outage::StopBehindBouncer => match pg::bouncer_or_skip(test, &cluster) {
            Some(b) => Some(b),
            None => return,
        },
        _ => None,
    };
    // Behind PgBouncer a command gets no answer (not a refusal) while PostgreSQL is down:
    // its connect timeout says how long it waits; 2 s keeps the test short.
    let url = match &bouncer {
        Some(b) => url_at("127.0.0.1", b.port, &direct, "?connect_timeout=2"),
        None => url_at("127.0.0.1", cluster.port, &direct, ""),
    };
    let at_once = match outage {
        Outage::StopBehindBouncer => Duration::from_secs(4),
        _ => Duration::from_secs(2),
    };
    let h = Host::new(&url, "ha", "30s");
    let mut force = h.force(None);
    let run = run_going(&url);
    let before = lines_in_db(&url, run.id);
    let away = Instant::now();
    let mut slowest = Duration::ZERO;
    match outage {
        Outage::Restart => cluster.restart("fast"),
        _ => {
            match (outage, bouncer.as_mut()) {
                (Outage::Bouncer, Some(b)) => b.stop(),
                (Outage::Stop(mode), _) => cluster.stop(mode),
                _ => cluster.stop("fast"),
            }
            slowest = commands_refused(&h, "ha", None, at_once);
            // The job ends while the database is away: its end waits for it.
            h.go();
            wait_for(
                "the job to end while the database is away",
                Duration::from_secs(10),
                || {
                    run_processes(&h.env.state_dir(), run.id)
                        .0
                        .is_empty()
                        .then_some(())
                },
            );
            assert!(
                force.try_wait().unwrap().is_none(),
                "force waits for the database to record the end"
            );
            // About a second away in all.
            std::thread::sleep(Duration::from_secs(1).saturating_sub(away.elapsed()));
            match bouncer.as_mut() {
                Some(b) if matches!(outage, Outage::Bouncer) => b.start_again(),
                _ => cluster.start_again(),
            }
        }
    }
    let back = Instant::now();
    let outage_took = back - away;
    let refused = match outage {
        Outage::Restart => "-".to_string(), // pg_ctl restart returns once it is back
        _ => format!("{:.2} s", slowest.as_secs_f64()),
    };
    if matches!(outage, Outage::Restart) {
        // The copy of the log goes on after the restart; then the job ends.
        wait_for(
            "the log copy to go on after the restart",
            Duration::from_secs(10),
            || (lines_in_db(&url, run.id) > before + 5).then_some(()),
        );
        h.go();
    }
    let exit = exit_within(&mut force, "force to exit", Duration::from_secs(30));
    let recorded_after = back.elapsed();
    let (_, err) = h.force_output();
    assert_eq!(exit, 0, "force exits with the run's own code\n{err}");
    let lines = succeeded_whole(&url, &h, run.id);
    let counts = count_runs(&url);
    println!(
        "{test}: outage of {:.1} s ({outage:?}); run {} succeeded, exit 0, {lines} lines copied once each; \
         end recorded {:.2} s after the database was back; {} reconnects; commands refused in at most {refused}; runs {counts:?}",
        outage_took.as_secs_f64(),
        run.id,
        recorded_after.as_secs_f64(),
        reconnects(&err),
    );
    assert_eq!(
        counts,
        counted(&[("long", "ha", RunStatus::Succeeded, 1)]),
        "one run, nothing lost or doubled"
    );
    assert!(reconnects(&err) >= 1, "the supervisor reconnected:\n{err}");
    assert!(
        !err.lines().any(|l| l.contains("can't copy")),
        "the log copy waited the outage out:\n{err}"
    );
    if !matches!(outage, Outage::Restart) {
        // Retries are at most 2 s apart: once back, the end is recorded within that.
        assert!(
            recorded_after < Duration::from_secs(4),
            "recorded {recorded_after:?} after the database came back"
        );
    }
}

#[test]
fn a_postgres_restart_mid_run_loses_nothing() {
    outlive("postgres restart", Outage::Restart);
}

#[test]
fn postgres_stopped_fast_while_the_run_ends_records_its_end_once_back() {
    outlive("postgres stop -m fast", Outage::Stop("fast"));
}

#[test]
fn postgres_stopped_immediate_while_the_run_ends_records_its_end_once_back() {
    outlive("postgres stop -m immediate", Outage::Stop("immediate"));
}

#[test]
fn postgres_stopped_behind_pgbouncer_loses_nothing_and_commands_never_hang() {
    outlive("postgres stop behind pgbouncer", Outage::StopBehindBouncer);
}

#[test]
fn a_pgbouncer_restart_mid_run_loses_nothing() {
    outlive("pgbouncer restart", Outage::Bouncer);
}

// --- a host cut off from the database -------------------------------------------------------

/// The lease of the hosts in the cut-off scenarios.
const LEASE: Duration = Duration::from_secs(4);

/// Host `ha` in a network namespace of its own (its URL the database's address on the
/// veth), host `hb` beside the database, one durable cluster listening to both.
/// `ha`'s `force long` is going on (`force`, its `run`). Fields drop in this order: the
/// hosts' processes go before the namespace and the cluster.
struct CutOff {
    force: Child,
    run: RunRecord,
    a: Host,
    b: Host,
    url: String,
    net: netns::Netns,
    _cluster: pg::Cluster,
}

fn cut_off_hosts(test: &str) -> Option<CutOff> {
    let net = netns::netns_or_skip(test)?;
    let setup = pg::Setup {
        durable: true,
        also_on: Some((&net.outer_addr, &net.inner_net())),
    };
    let cluster = pg::cluster_or_skip_with(test, &setup)?;
    let direct = cluster.create_db();
    let url = url_at("127.0.0.1", cluster.port, &direct, "");
    let lease = format!("{}s", LEASE.as_secs());
    // Cut off, a connection attempt gets no answer at all: its timeout says how long a
    // command waits.
    let a_url = url_at(&net.outer_addr, cluster.port, &direct, "?connect_timeout=1");
    let a = Host::new(&a_url, "ha", &lease);
    let b = Host::new(&url, "hb", &lease);
    let force = a.force(Some(&net));
    let run = run_going(&url);
    Some(CutOff {
        force,
        run,
        a,
        b,
        url,
        net,
        _cluster: cluster,
    })
}

#[test]
fn a_host_cut_off_for_half_a_lease_keeps_its_run() {
    let _one = one_at_a_time();
    let Some(CutOff {
        mut force,
        run,
        a,
        b,
        url,
        net,
        _cluster,
    }) = cut_off_hosts("cut off for half a lease")
    else {
        return;
    };
    // Another host's commands, all along, leave the run be: an outage shorter than its
    // lease never makes it lost.
    let watching = AtomicBool::new(true);
    let (cut, seen) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| watch(&b, &url, run.id, &watching));
        let cut = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cut_for_half_a_lease(&a, &net, run.id, &mut force)
        }));
        watching.store(false, Ordering::SeqCst);
        match (cut, watcher.join()) {
            (Ok(cut), Ok(seen)) => (cut, seen),
            (Err(p), _) | (_, Err(p)) => std::panic::resume_unwind(p),
        }
    });
    let (_, err) = a.force_output();
    assert_eq!(cut.exit, 0, "{err}");
    let lines = succeeded_whole(&url, &a, run.id);
    let counts = count_runs(&url);
    println!(
        "cut off for half a lease: link down {:.1} s of a {} s lease; run {} succeeded, recorded {:.2} s after the link came back, {lines} lines copied once each; \
         the cut-off host's commands refused in at most {:.2} s; {} reconnects; the run as host hb's {} status commands saw it: {seen:?}; runs {counts:?}",
        cut.down.as_secs_f64(),
        LEASE.as_secs(),
        run.id,
        cut.recorded_after.as_secs_f64(),
        cut.slowest.as_secs_f64(),
        reconnects(&err),
        seen.values().sum::<usize>()
    );
    assert_eq!(
        counts,
        counted(&[("long", "ha", RunStatus::Succeeded, 1)]),
        "one run, nothing lost or doubled"
    );
    assert!(!seen.contains_key(&RunStatus::Lost), "never lost: {seen:?}");
    // Noticed, reconnected, within the backoff's cap of the link's return.
    assert!(reconnects(&err) >= 1, "the supervisor reconnected:\n{err}");
    assert!(
        cut.recorded_after < Duration::from_secs(4),
        "{:?}",
        cut.recorded_after
    );
}

/// What cutting a host off for half a lease came to.
struct HalfCut {
    down: Duration,
    /// From the link's return to the end recorded (and `force` exiting).
    recorded_after: Duration,
    /// The slowest of the cut-off host's commands to give up.
    slowest: Duration,
    exit: i32,
}

/// Cuts host `a` off for half a lease while run `run_id` goes on, its commands refused,
/// and its job ending meanwhile; then joins it up again and waits for `force`.
fn cut_for_half_a_lease(a: &Host, net: &netns::Netns, run_id: i64, force: &mut Child) -> HalfCut {
    net.cut();
    let cut = Instant::now();
    let slowest = commands_refused(a, "ha", Some(net), Duration::from_secs(3));
    // The job, printing all along, ends while its host is cut off.
    a.go();
    wait_for("the job to end", Duration::from_secs(5), || {
        run_processes(&a.env.state_dir(), run_id)
            .0
            .is_empty()
            .then_some(())
    });
    assert_eq!(force.try_wait().unwrap(), None, "force waits");
    std::thread::sleep((LEASE / 2).saturating_sub(cut.elapsed()));
    net.mend();
    let mended = Instant::now();
    let exit = exit_within(force, "force to exit", Duration::from_secs(10));
    HalfCut {
        down: mended - cut,
        recorded_after: mended.elapsed(),
        slowest,
        exit,
    }
}

/// Runs `jobctl status` on host `b` again and again until `watching` ends; how often it
/// saw run `run_id` in each status.
fn watch(b: &Host, url: &str, run_id: i64, watching: &AtomicBool) -> BTreeMap<RunStatus, usize> {
    let mut seen = BTreeMap::new();
    while watching.load(Ordering::SeqCst) {
        let out = b.env.run(&["status"]);
        assert_eq!(code(&out), 0, "{}", support::both(&out));
        let status = observer(url).get_run(run_id).unwrap().unwrap().status;
        *seen.entry(status).or_insert(0) += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    seen
}

#[test]
fn a_host_cut_off_for_two_leases_loses_its_run_to_another_host_and_writes_nothing() {
    let _one = one_at_a_time();
    let Some(CutOff {
        mut force,
        run,
        a,
        b,
        url,
        net,
        _cluster,
    }) = cut_off_hosts("cut off for two leases")
    else {
        return;
    };
    net.cut();
    let cut = Instant::now();
    // Not renewed for a whole lease: the cut-off host stops its run and records nothing.
    let exit = exit_within(&mut force, "the cut-off supervisor to give up", 2 * LEASE);
    let gave_up = cut.elapsed();
    assert_eq!(exit, 74);
    wait_for(
        "the run's processes on the cut-off host to be gone",
        Duration::from_secs(5),
        || {
            run_processes(&a.env.state_dir(), run.id)
                .0
                .is_empty()
                .then_some(())
        },
    );
    // Another host closes it as lost once the lease has expired, and runs the job again.
    wait_for("host hb to close the run as lost", 2 * LEASE, || {
        let out = b.env.run(&["status"]);
        assert_eq!(code(&out), 0, "{}", support::both(&out));
        observer(&url)
            .get_run(run.id)
            .unwrap()
            .filter(|r| r.status == RunStatus::Lost)
    });
    let lost_after = cut.elapsed();
    let mut again = b.force(None);
    let rerun = wait_for("host hb's run", Duration::from_secs(10), || {
        observer(&url)
            .history(Some("long"), 10)
            .unwrap()
            .into_iter()
            .find(|r| r.id != run.id && r.pgid.is_some())
    });
    let closed = Closed::of(&observer(&url), run.id);
    std::thread::sleep((2 * LEASE).saturating_sub(cut.elapsed()));
    net.mend();
    // The host is back: its commands work again and change nothing of the other host's.
    let out = net.inside(&a.env.cmd(&["status"])).output().unwrap();
    assert_eq!(code(&out), 0, "{}", support::both(&out));
    let s = observer(&url);
    assert_eq!(
        Closed::of(&s, run.id),
        closed,
        "the cut-off host recorded nothing over the other host's record: no end, no event, no log"
    );
    let running = s.get_run(rerun.id).unwrap().unwrap();
    assert!(running.is_running() && running.host.as_deref() == Some("hb"));
    b.go();
    let code_b = exit_within(
        &mut again,
        "host hb's force to exit",
        Duration::from_secs(20),
    );
    assert_eq!(code_b, 0);
    let (_, err) = a.force_output();
    let counts = count_runs(&url);
    println!(
        "cut off for two leases ({} s lease): the cut-off supervisor stopped its run and exited 74 after {:.1} s; \
         hb closed run {} lost after {:.1} s and ran it again (run {}); after the link came back: record, {} events and log unchanged; runs {counts:?}",
        LEASE.as_secs(),
        gave_up.as_secs_f64(),
        run.id,
        lost_after.as_secs_f64(),
        rerun.id,
        closed.events
    );
    assert!(
        gave_up >= LEASE - Duration::from_millis(500),
        "not before a lease without renewal: {gave_up:?}"
    );
    assert!(
        err.contains("lease on the run is lost"),
        "says why it stopped:\n{err}"
    );
    assert_eq!(
        counts,
        counted(&[
            ("long", "ha", RunStatus::Lost, 1),
            ("long", "hb", RunStatus::Succeeded, 1)
        ]),
        "nothing lost or doubled"
    );
}
