//! A throwaway PostgreSQL cluster for the tests: `initdb` and `pg_ctl` from the
//! postgresql package (`/usr/lib/postgresql/*/bin`, or `JOBCTL_TEST_PG_BIN`), in a temp
//! dir, on a free port of 127.0.0.1, as an unprivileged user (`nobody`) when the tests run
//! as root, stopped on drop (and by a watchdog should the test process die first).
//!
//! Without PostgreSQL a test says so in one line and passes, except under `CI=true`,
//! where it fails: CI installs the package. PgBouncer (for the transaction pooling tests)
//! is optional in the same way.
#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The directory of `initdb` and `pg_ctl`, the newest version installed.
pub fn pg_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("JOBCTL_TEST_PG_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `None` (after one line saying why) when PostgreSQL is not installed and this is not CI.
pub fn cluster_or_skip(test: &str) -> Option<Cluster> {
    cluster_or_skip_with(test, &Setup::default())
}

/// [`cluster_or_skip`] for a cluster set up as `setup` says.
pub fn cluster_or_skip_with(test: &str, setup: &Setup<'_>) -> Option<Cluster> {
    match pg_bin() {
        Some(bin) => Some(Cluster::start_with(&bin, setup)),
        None if ci() => panic!(
            "{test}: PostgreSQL is not installed (initdb not found under /usr/lib/postgresql/*/bin); CI must install the postgresql package"
        ),
        None => {
            eprintln!("skipping {test}: PostgreSQL is not installed (apt-get install postgresql)");
            None
        }
    }
}

/// The uid and gid the cluster runs as: nobody's when the tests run as root (PostgreSQL
/// refuses root), else our own.
fn server_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("nobody").ok().flatten()?;
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

fn as_server(cmd: &mut Command, user: Option<(u32, u32)>) {
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
        // nobody can't read root's home; the tools look there for nothing they need.
        cmd.env("HOME", "/").current_dir("/");
    }
}

/// A watchdog: runs the shell command `cleanup` once this test process is gone, should it
/// die without cleaning up itself (kill it when the thing it cleans is gone). It runs as
/// this process's user, so `kill -0` can see this process, in a process group of its own.
pub fn when_this_process_dies(cleanup: &str) -> std::process::Child {
    let script = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; {cleanup}",
        std::process::id()
    );
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.process_group(0);
    cmd.spawn().expect("start a watchdog")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    pub port: u16,
    /// The server's options (`pg_ctl -o`), for starting it again.
    opts: String,
    dbs: AtomicUsize,
    watchdog: Option<std::process::Child>,
}

/// How a cluster differs from the default one (loopback only, commits not waited for).
#[derive(Default)]
pub struct Setup<'a> {
    /// Another address to listen on (a veth's), and the network allowed to connect from
    /// beside loopback (CIDR).
    pub also_on: Option<(&'a str, &'a str)>,
    /// Commits wait for their WAL to be written (`synchronous_commit = on`): an immediate
    /// shutdown keeps every commit it answered.
    pub durable: bool,
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    pub fn start(bin: &Path) -> Cluster {
        Cluster::start_with(bin, &Setup::default())
    }

    pub fn start_with(bin: &Path, setup: &Setup<'_>) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let user = server_user();
        // The server's user must reach its data dir inside ours.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if let Some((uid, gid)) = user {
            nix::unistd::chown(&data, Some(uid.into()), Some(gid.into())).unwrap();
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut init = Command::new(bin.join("initdb"));
        init.args([
            "-A",
            "trust",
            "-U",
            "jobctl",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .stdin(Stdio::null());
        as_server(&mut init, user);
        run(&mut init, "initdb");
        let mut listen = "127.0.0.1".to_string();
        if let Some((addr, net)) = setup.also_on {
            listen = format!("{listen},{addr}");
            let hba = data.join("pg_hba.conf");
            let mut text = std::fs::read_to_string(&hba).unwrap();
            text.push_str(&format!("host all all {net} trust\n"));
            std::fs::write(&hba, text).unwrap();
        }
        let sync = if setup.durable { "on" } else { "off" };
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let opts = format!(
                "-c listen_addresses={listen} -c port={port} -c unix_socket_directories='' \
                 -c fsync=off -c synchronous_commit={sync} -c full_page_writes=off \
                 -c max_connections=300 -c shared_buffers=32MB"
            );
            let mut start = Command::new(bin.join("pg_ctl"));
            start
                .args(["-D"])
                .arg(&data)
                .args(["-w", "-t", "60", "-l"])
                .arg(data.join("server.log"))
                .args(["-o", &opts, "start"])
                .stdin(Stdio::null());
            as_server(&mut start, user);
            let out = start.output().expect("pg_ctl start");
            if out.status.success() {
                let mut c = Cluster {
                    _dir: dir,
                    data,
                    bin: bin.to_path_buf(),
                    user,
                    port,
                    opts,
                    dbs: AtomicUsize::new(0),
                    watchdog: None,
                };
                c.watchdog = Some(c.watchdog());
                return c;
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                std::fs::read_to_string(data.join("server.log")).unwrap_or_default()
            );
        }
        panic!("pg_ctl start failed:\n{last}");
    }

    /// Stops the cluster should this test process die without dropping it.
    fn watchdog(&self) -> std::process::Child {
        // SIGQUIT is an immediate shutdown.
        when_this_process_dies(&format!(
            "kill -QUIT $(head -n 1 '{}/postmaster.pid') 2>/dev/null",
            self.data.display()
        ))
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://jobctl@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn create_db(&self) -> String {
        let n = self.dbs.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{n}");
        let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the test cluster");
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a database");
        self.url(&name)
    }

    /// Turns TLS on with a new certificate for 127.0.0.1 and localhost, signed by a new
    /// CA (by the `openssl` command); the CA's path, or `None` without openssl.
    pub fn enable_tls(&self) -> Option<PathBuf> {
        let dir = self._dir.path();
        let cert = self.data.join("server.crt");
        let key = self.data.join("server.key");
        let (ca, ca_key, csr, ext) = (
            dir.join("ca.pem"),
            dir.join("ca.key"),
            dir.join("server.csr"),
            dir.join("server.ext"),
        );
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let openssl = |args: &[&std::ffi::OsStr]| {
            Command::new("openssl")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()
                .map(|s| assert!(s.success(), "openssl {args:?} failed"))
        };
        let os = |s: &'static str| std::ffi::OsStr::new(s);
        openssl(&[
            os("req"),
            os("-x509"),
            os("-newkey"),
            os("rsa:2048"),
            os("-nodes"),
            os("-days"),
            os("2"),
            os("-subj"),
            os("/CN=jobctl test CA"),
            os("-keyout"),
            ca_key.as_os_str(),
            os("-out"),
            ca.as_os_str(),
        ])?;
        openssl(&[
            os("req"),
            os("-newkey"),
            os("rsa:2048"),
            os("-nodes"),
            os("-subj"),
            os("/CN=localhost"),
            os("-keyout"),
            key.as_os_str(),
            os("-out"),
            csr.as_os_str(),
        ])?;
        openssl(&[
            os("x509"),
            os("-req"),
            os("-days"),
            os("2"),
            os("-in"),
            csr.as_os_str(),
            os("-CA"),
            ca.as_os_str(),
            os("-CAkey"),
            ca_key.as_os_str(),
            os("-CAcreateserial"),
            os("-extfile"),
            ext.as_os_str(),
            os("-out"),
            cert.as_os_str(),
        ])?;
        for f in [&cert, &key] {
            if let Some((uid, gid)) = self.user {
                nix::unistd::chown(f, Some(uid.into()), Some(gid.into())).unwrap();
            }
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
        c.batch_execute("ALTER SYSTEM SET ssl = on").unwrap();
        c.batch_execute("SELECT pg_reload_conf()").unwrap();
        // The reload is asynchronous: wait until a new connection sees it.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
            let on = c.query_one("SHOW ssl", &[]).unwrap().get::<_, String>(0) == "on";
            if on {
                return Some(ca);
            }
            assert!(Instant::now() < deadline, "ssl did not turn on");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `pg_ctl ARGS` on this cluster, as its user, waiting for the server.
    fn ctl(&self, args: &[&str]) {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.args(["-D"])
            .arg(&self.data)
            .args(["-w", "-t", "60", "-l"])
            .arg(self.data.join("server.log"))
            .args(["-o", &self.opts])
            .args(args)
            .stdin(Stdio::null());
        as_server(&mut cmd, self.user);
        run(&mut cmd, &format!("pg_ctl {args:?}"));
    }

    /// Stops the server: `fast` (sessions ended, a clean shutdown) or `immediate` (as a
    /// crash: recovery at the next start).
    pub fn stop(&self, mode: &str) {
        self.ctl(&["-m", mode, "stop"]);
    }

    /// Starts the stopped server again, on its port; returns once it accepts connections.
    pub fn start_again(&self) {
        self.ctl(&["start"]);
    }

    /// `pg_ctl restart` with shutdown `mode`.
    pub fn restart(&self, mode: &str) {
        self.ctl(&["-m", mode, "restart"]);
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub fn user(&self) -> Option<(u32, u32)> {
        self.user
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = Command::new(self.bin.join("pg_ctl"));
        stop.args(["-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_server(&mut stop, self.user);
        let _ = stop.status();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// PgBouncer in transaction pooling mode in front of a cluster, when installed.
pub struct Bouncer {
    child: Option<std::process::Child>,
    pub port: u16,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    _dir: tempfile::TempDir,
}

pub fn pgbouncer_bin() -> Option<PathBuf> {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// `None` (after one line saying why) when pgbouncer is not installed and this is not CI.
pub fn bouncer_or_skip(test: &str, cluster: &Cluster) -> Option<Bouncer> {
    match pgbouncer_bin() {
        Some(bin) => Some(Bouncer::start(&bin, cluster)),
        None if ci() => panic!("{test}: pgbouncer is not installed; CI must install it"),
        None => {
            eprintln!("skipping {test}: pgbouncer is not installed (apt-get install pgbouncer)");
            None
        }
    }
}

impl Bouncer {
    pub fn start(bin: &Path, cluster: &Cluster) -> Bouncer {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = free_port();
        let ini = dir.path().join("pgbouncer.ini");
        // After a failed login to PostgreSQL (it was stopped) PgBouncer tries again after
        // `server_login_retry`: 1 s rather than 15, so PostgreSQL started again behind it
        // serves its clients within a second.
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {}\npool_mode = transaction\n\
                 max_client_conn = 500\ndefault_pool_size = 10\nserver_login_retry = 1\nlogfile = {}\n",
                cluster.port,
                dir.path().join("users.txt").display(),
                dir.path().join("pgbouncer.log").display()
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("users.txt"), "\"jobctl\" \"\"\n").unwrap();
        let mut b = Bouncer {
            child: None,
            port,
            bin: bin.to_path_buf(),
            user: cluster.user(),
            _dir: dir,
        };
        b.start_again();
        b
    }

    /// Starts the stopped bouncer again, on its port; returns once it listens.
    pub fn start_again(&mut self) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg(self._dir.path().join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_server(&mut cmd, self.user);
        self.child = Some(cmd.spawn().expect("start pgbouncer"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the bouncer as a service manager would (SIGTERM; SIGKILL if it lingers):
    /// every client loses its connection.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The URL of database `db` of the cluster through this bouncer.
    pub fn url(&self, cluster_url: &str) -> String {
        let db = cluster_url.rsplit('/').next().unwrap_or("postgres");
        format!("postgres://jobctl@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
