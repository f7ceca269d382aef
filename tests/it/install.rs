//! install.sh, run for real into a temporary HOME.
//!
//! `uname`, `systemctl`, `launchctl` and `loginctl` are replaced by small scripts first
//! on PATH that only append how they were called to a file, so nothing here reaches the
//! real service managers, the real HOME or starts a process that outlives the test; `id`
//! answers as a normal user (uid 1000) unless a test makes it root. The jobctl binary
//! installed is the one cargo built for these tests, so `jobctl check` on the starter
//! config, `jobctl completions` and `jobctl man` are the real ones.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const JOBCTL: &str = env!("CARGO_BIN_EXE_jobctl");

fn install_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

/// A temporary HOME with the XDG directories inside it, and a directory of stand-in
/// commands put first on PATH.
struct Sandbox {
    _dir: tempfile::TempDir,
    home: PathBuf,
    stubs: PathBuf,
    calls: PathBuf,
}

impl Sandbox {
    /// `os` is what the stand-in `uname -s` answers: "Linux" or "Darwin".
    fn new(os: &str) -> Self {
        Self::with_home_name(os, "home")
    }

    fn with_home_name(os: &str, home_name: &str) -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let home = dir.path().join(home_name);
        let stubs = dir.path().join("stubs");
        let calls = dir.path().join("calls.log");
        fs::create_dir(&home).unwrap();
        fs::create_dir(&stubs).unwrap();
        let sandbox = Sandbox {
            _dir: dir,
            home,
            stubs,
            calls,
        };
        sandbox.stub("uname", &format!("echo {os}"));
        for name in ["systemctl", "launchctl", "loginctl"] {
            sandbox.stub(name, "");
        }
        sandbox.id_as(USER_UID, "tester");
        sandbox
    }

    /// `id -u` and `id -un` answer `uid` and `name`; anything else is the real `id`.
    fn id_as(&self, uid: &str, name: &str) {
        let path = self.stubs.join("id");
        let script = format!(
            "#!/bin/sh\ncase \"$*\" in\n-u) echo {uid} ;;\n-un) echo {name} ;;\n*) exec /usr/bin/id \"$@\" ;;\nesac\n"
        );
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Writes a stand-in command that logs its arguments, then runs `body`.
    fn stub(&self, name: &str, body: &str) {
        let path = self.stubs.join(name);
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"{name} $*\" >> '{}'\n{body}\n",
            self.calls.display()
        );
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.stubs.display()),
            )
            .env("LANG", "C.UTF-8")
            .current_dir(&self.home);
        cmd
    }

    fn install(&self, args: &[&str]) -> Output {
        self.command("bash")
            .arg(install_script())
            .args(args)
            .output()
            .expect("run bash install.sh")
    }

    /// Runs install.sh, asserts it succeeded, returns stdout and stderr together.
    fn install_ok(&self, args: &[&str]) -> String {
        let out = self.install(args);
        let text = both(&out);
        assert!(
            out.status.success(),
            "install.sh {args:?} failed ({}):\n{text}",
            out.status
        );
        text
    }

    /// Another build: the same program with one more byte at its end.
    fn newer_binary(&self) -> PathBuf {
        let newer = self.home.join("newer-jobctl");
        let mut bytes = fs::read(JOBCTL).unwrap();
        bytes.push(0);
        fs::write(&newer, bytes).unwrap();
        fs::set_permissions(&newer, fs::Permissions::from_mode(0o755)).unwrap();
        newer
    }

    /// `systemd-analyze verify` on the installed `units`: it passes, and says nothing of
    /// them (warnings don't change its exit code).
    fn verify_units(&self, units: &[&str]) {
        let out = Command::new("systemd-analyze")
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &self.home)
            .arg("verify")
            .args(units.iter().map(|u| self.unit(u)))
            .output()
            .expect("run systemd-analyze");
        let text = both(&out);
        assert!(
            out.status.success(),
            "systemd-analyze verify failed:\n{text}"
        );
        let ours: Vec<&str> = text.lines().filter(|l| l.contains("jobctl")).collect();
        assert!(
            ours.is_empty(),
            "systemd-analyze verify:\n{}",
            ours.join("\n")
        );
    }

    /// install.sh with `args`, asserted to succeed: the service managers' calls it made.
    fn install_calls(&self, args: &[&str]) -> String {
        fs::write(&self.calls, "").unwrap();
        self.install_ok(args);
        self.calls()
    }

    fn calls(&self) -> String {
        fs::read_to_string(&self.calls).unwrap_or_default()
    }

    fn bin(&self) -> PathBuf {
        self.home.join(".local/bin/jobctl")
    }

    fn config(&self) -> PathBuf {
        self.home.join(".config/jobctl/jobctl.toml")
    }

    fn unit(&self, name: &str) -> PathBuf {
        self.home.join(".config/systemd/user").join(name)
    }

    fn plist(&self) -> PathBuf {
        self.agent("com.jobctl.run")
    }

    fn agent(&self, label: &str) -> PathBuf {
        self.home
            .join("Library/LaunchAgents")
            .join(format!("{label}.plist"))
    }

    /// Every path under HOME with its content (None for directories), sorted. The
    /// state directory is left out: what jobctl keeps there is not install.sh's.
    fn snapshot(&self) -> Vec<(PathBuf, Option<Vec<u8>>)> {
        fn walk(dir: &Path, skip: &Path, out: &mut Vec<(PathBuf, Option<Vec<u8>>)>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path == skip {
                    continue;
                }
                if path.is_dir() {
                    out.push((path.clone(), None));
                    walk(&path, skip, out);
                } else {
                    out.push((path.clone(), Some(fs::read(&path).unwrap())));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.home, &self.home.join(".local/state"), &mut out);
        out.sort();
        out
    }
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The first `@NAME@` left in a rendered file, if any.
fn leftover_placeholder(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (start, _) in text.match_indices('@') {
        let name_len = bytes[start + 1..]
            .iter()
            .take_while(|b| b.is_ascii_uppercase() || **b == b'_')
            .count();
        if name_len > 0 && bytes.get(start + 1 + name_len) == Some(&b'@') {
            return Some(text[start..start + name_len + 2].to_string());
        }
    }
    None
}

/// Whether `program` can be started at all (for tools a machine may not have).
fn can_run(program: &str, version_arg: &str) -> bool {
    Command::new(program)
        .arg(version_arg)
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The uid the stand-in `id` answers.
const USER_UID: &str = "1000";

fn uid() -> String {
    USER_UID.to_string()
}

#[test]
fn linux_install_puts_binary_config_and_units_in_place() {
    let sb = Sandbox::new("Linux");
    let out = sb.install_ok(&["--binary", JOBCTL]);

    let bin = sb.bin();
    let mode = fs::metadata(&bin)
        .expect("binary installed")
        .permissions()
        .mode();
    assert!(
        mode & 0o111 != 0,
        "{} is not executable ({mode:o})",
        bin.display()
    );
    assert!(
        fs::read(&bin).unwrap() == fs::read(JOBCTL).unwrap(),
        "installed binary differs"
    );

    let config = sb.config();
    let toml = read(&config);
    assert!(toml.contains("[jobs.hello]"), "starter config:\n{toml}");
    assert!(
        toml.contains(&format!("{}:", sb.home.join(".local/bin").display())),
        "{toml}"
    );
    assert!(
        !out.contains("does not pass"),
        "starter config rejected:\n{out}"
    );
    let check = sb
        .command(&bin)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "jobctl check on the starter config:\n{}",
        both(&check)
    );

    let service = read(&sb.unit("jobctl.service"));
    let timer = read(&sb.unit("jobctl.timer"));
    for (name, text) in [("jobctl.service", &service), ("jobctl.timer", &timer)] {
        assert_eq!(leftover_placeholder(text), None, "{name}:\n{text}");
    }
    let exec = format!(
        "ExecStart={} run --config {}",
        bin.display(),
        config.display()
    );
    assert!(service.contains(&exec), "no `{exec}` in:\n{service}");
    assert!(service.contains("\nType=oneshot\n"), "{service}");
    assert!(service.contains("\nKillMode=process\n"), "{service}");
    let path_line = format!(
        "\nEnvironment=PATH={}:",
        sb.home.join(".local/bin").display()
    );
    assert!(
        service.contains(&path_line),
        "no `{path_line}` in:\n{service}"
    );
    assert!(
        service.contains(":/usr/local/bin:/usr/bin:/bin\n"),
        "{service}"
    );
    let state = format!(
        "\nEnvironment=XDG_STATE_HOME={}\n",
        sb.home.join(".local/state").display()
    );
    assert!(service.contains(&state), "no `{state}` in:\n{service}");
    assert!(
        !service.contains("\nUser="),
        "a user unit must not set User=:\n{service}"
    );
    assert!(timer.contains("\nOnCalendar=*:0/5\n"), "{timer}");
    assert!(timer.contains("\nPersistent=true\n"), "{timer}");
    assert!(timer.contains("\nWantedBy=timers.target\n"), "{timer}");

    let calls = sb.calls();
    let reload = calls.find("systemctl --user daemon-reload\n");
    let enable = calls.find("systemctl --user enable --now jobctl.timer\n");
    assert!(
        reload.is_some() && enable.is_some(),
        "systemctl calls:\n{calls}"
    );
    assert!(
        reload < enable,
        "daemon-reload must come before enable:\n{calls}"
    );
    assert!(
        !calls.contains("launchctl"),
        "launchctl called on Linux:\n{calls}"
    );

    assert!(
        out.contains("jobctl status"),
        "no pointer to `jobctl status`:\n{out}"
    );
    assert!(
        out.contains("jobctl list"),
        "no pointer to `jobctl list`:\n{out}"
    );
}

#[test]
fn second_install_changes_nothing_and_keeps_an_edited_config() {
    let sb = Sandbox::new("Linux");
    sb.install_ok(&["--binary", JOBCTL]);
    let edited = format!("{}\n# edited by hand\n", read(&sb.config()));
    fs::write(sb.config(), &edited).unwrap();
    let before = sb.snapshot();

    let out = sb.install_ok(&["--binary", JOBCTL]);
    assert_eq!(read(&sb.config()), edited, "the config was overwritten");
    assert!(out.contains("kept existing config"), "{out}");
    let after = sb.snapshot();
    let paths =
        |s: &[(PathBuf, Option<Vec<u8>>)]| s.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        paths(&before),
        paths(&after),
        "files differ after a second run"
    );
    assert!(before == after, "file contents differ after a second run");
    assert_eq!(
        sb.calls().matches("enable --now jobctl.timer").count(),
        2,
        "{}",
        sb.calls()
    );
}

#[test]
fn dry_run_changes_nothing() {
    let sb = Sandbox::new("Linux");
    let empty = sb.snapshot();
    let out = sb.install_ok(&["--dry-run", "--binary", JOBCTL]);
    assert_eq!(sb.snapshot(), empty, "--dry-run wrote files:\n{out}");
    assert!(
        out.contains(&format!("would write {}", sb.config().display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "would write {}",
            sb.unit("jobctl.service").display()
        )),
        "{out}"
    );
    assert!(
        out.contains("would run: systemctl --user enable --now jobctl.timer"),
        "{out}"
    );
    let calls = sb.calls();
    assert!(
        !calls.contains("daemon-reload") && !calls.contains("enable"),
        "{calls}"
    );

    // Nor does a dry uninstall of a real install.
    sb.install_ok(&["--binary", JOBCTL]);
    let installed = sb.snapshot();
    let out = sb.install_ok(&["--dry-run", "--uninstall"]);
    assert!(
        sb.snapshot() == installed,
        "--dry-run --uninstall changed files:\n{out}"
    );
    assert!(
        out.contains(&format!("would remove {}", sb.bin().display())),
        "{out}"
    );
    assert!(!sb.calls().contains("disable"), "{}", sb.calls());
}

#[test]
fn uninstall_removes_units_and_binary_and_keeps_config() {
    let sb = Sandbox::new("Linux");
    sb.install_ok(&["--binary", JOBCTL]);
    let config = read(&sb.config());
    // A command leaves a config snapshot in the cache.
    let out = sb.command(sb.bin()).arg("list").output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let cache = sb.home.join(".cache/jobctl");
    assert!(cache.is_dir(), "no snapshot was written");

    let out = sb.install_ok(&["--uninstall"]);
    assert!(!cache.exists(), "config snapshots left:\n{out}");
    assert!(!sb.bin().exists(), "binary left:\n{out}");
    assert!(
        !sb.unit("jobctl.service").exists(),
        "service unit left:\n{out}"
    );
    assert!(!sb.unit("jobctl.timer").exists(), "timer unit left:\n{out}");
    assert_eq!(read(&sb.config()), config, "config changed by --uninstall");
    assert!(out.contains("kept your config"), "{out}");
    assert!(
        sb.calls()
            .contains("systemctl --user disable --now jobctl.timer\n"),
        "{}",
        sb.calls()
    );

    // Nothing left to remove is not an error.
    sb.install_ok(&["--uninstall"]);
}

#[test]
fn darwin_install_renders_a_valid_launch_agent() {
    // A HOME with characters that XML must escape.
    let sb = Sandbox::with_home_name("Darwin", "home & <co>");
    let out = sb.install_ok(&["--binary", JOBCTL]);

    let plist = sb.plist();
    let text = read(&plist);
    assert_eq!(leftover_placeholder(&text), None, "{text}");
    assert!(sb.bin().exists() && sb.config().exists(), "{out}");
    assert!(
        sb.home.join("Library/Logs/jobctl").is_dir(),
        "log directory not created:\n{out}"
    );
    assert!(
        !sb.home.join(".config/systemd").exists(),
        "systemd units written on macOS"
    );

    let calls = sb.calls();
    let agent = format!("gui/{}/com.jobctl.run", uid());
    let bootout = calls.find(&format!("launchctl bootout {agent}\n"));
    let bootstrap = calls.find(&format!(
        "launchctl bootstrap gui/{} {}\n",
        uid(),
        plist.display()
    ));
    assert!(
        bootout.is_some() && bootstrap.is_some(),
        "launchctl calls:\n{calls}"
    );
    assert!(
        bootout < bootstrap,
        "bootout must come before bootstrap:\n{calls}"
    );
    assert!(
        !calls.contains("systemctl"),
        "systemctl called on macOS:\n{calls}"
    );

    if can_run("python3", "--version") {
        const CHECK: &str = r#"
import plistlib, sys
path, bin, config, home = sys.argv[1:5]
with open(path, "rb") as f:
    d = plistlib.load(f)
env = d.get("EnvironmentVariables", {})
want = {
    "Label": d.get("Label") == "com.jobctl.run",
    "StartInterval": d.get("StartInterval") == 300 and type(d.get("StartInterval")) is int,
    "RunAtLoad": d.get("RunAtLoad") is True,
    "AbandonProcessGroup": d.get("AbandonProcessGroup") is True,
    "ProgramArguments": d.get("ProgramArguments") == [bin, "run", "--config", config],
    "WorkingDirectory": d.get("WorkingDirectory") == home,
    "HOME": env.get("HOME") == home,
    "PATH": env.get("PATH", "").split(":")[:2] == [bin.rsplit("/", 1)[0], "/opt/homebrew/bin"]
        and env.get("PATH", "").endswith(":/usr/local/bin:/usr/bin:/bin"),
    "StandardOutPath": d.get("StandardOutPath", "").startswith(home + "/Library/Logs/jobctl/"),
    "StandardErrorPath": d.get("StandardErrorPath", "").startswith(home + "/Library/Logs/jobctl/"),
}
wrong = [k for k, ok in want.items() if not ok]
if wrong:
    sys.exit("wrong: %s in %r" % (wrong, d))
"#;
        let check = Command::new("python3")
            .args(["-c", CHECK])
            .arg(&plist)
            .arg(sb.bin())
            .arg(sb.config())
            .arg(&sb.home)
            .output()
            .expect("run python3");
        assert!(
            check.status.success(),
            "plist check failed:\n{}\n{text}",
            both(&check)
        );
    } else {
        eprintln!("note: python3 not found; the plist was not parsed with plistlib");
    }

    // Unchanged plist, agent loaded: a second run leaves launchd alone.
    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&["--binary", JOBCTL]);
    assert!(out.contains("already loaded"), "{out}");
    assert!(!sb.calls().contains("bootstrap"), "{}", sb.calls());

    let out = sb.install_ok(&["--uninstall"]);
    assert!(!plist.exists() && !sb.bin().exists(), "{out}");
    assert!(sb.config().exists(), "config removed by --uninstall");
    assert!(
        sb.calls().contains(&format!("launchctl bootout {agent}\n")),
        "{}",
        sb.calls()
    );
}

#[test]
fn rendered_units_pass_systemd_analyze_verify() {
    if !can_run("systemd-analyze", "--version") {
        eprintln!("note: systemd-analyze not found; the rendered units were not verified");
        return;
    }
    let sb = Sandbox::new("Linux");
    sb.install_ok(&["--binary", JOBCTL, "--with-console"]);
    sb.verify_units(&["jobctl.service", "jobctl.timer", "jobctl-serve.service"]);
}

#[test]
fn install_sh_is_shellcheck_clean() {
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(install_script())
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "bash -n install.sh:\n{}",
        both(&syntax)
    );
    if !can_run("shellcheck", "--version") {
        eprintln!("note: shellcheck not found; install.sh was not linted");
        return;
    }
    let out = Command::new("shellcheck")
        .arg(install_script())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "shellcheck install.sh:\n{}",
        both(&out)
    );
}

#[test]
fn without_a_user_session_it_says_what_to_run_by_hand() {
    let sb = Sandbox::new("Linux");
    sb.stub(
        "systemctl",
        r#"case "$*" in *show-environment*) echo "Failed to connect to bus: No medium found" >&2; exit 1;; esac"#,
    );
    let out = sb.install(&["--binary", JOBCTL]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("NOT running"), "{text}");
    assert!(text.contains("no systemd user session"), "{text}");
    assert!(
        text.contains("systemctl --user enable --now jobctl.timer"),
        "{text}"
    );
    assert!(sb.bin().exists() && sb.config().exists(), "{text}");
    assert!(
        sb.unit("jobctl.service").exists() && sb.unit("jobctl.timer").exists(),
        "{text}"
    );
    assert!(!sb.calls().contains("enable"), "{}", sb.calls());
}

#[test]
fn bad_options_are_refused_with_one_line() {
    let sb = Sandbox::new("Linux");
    for args in [
        &["--frobnicate"][..],
        &["--run-as", "nobody"],
        &["--prefix"],
    ] {
        let out = sb.install(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    let help = sb.install_ok(&["--help"]);
    assert!(
        help.contains("--uninstall") && help.contains("--dry-run"),
        "{help}"
    );
    assert_eq!(sb.snapshot(), Vec::new(), "option errors wrote files");
}

// ---- the console: jobctl serve as a service -------------------------------------

/// The `Environment=` lines of a unit, in order.
fn environment_lines(unit: &str) -> Vec<&str> {
    unit.lines()
        .filter(|l| l.starts_with("Environment="))
        .collect()
}

#[test]
fn linux_with_console_installs_and_enables_the_server() {
    let sb = Sandbox::new("Linux");
    let out = sb.install(&["--binary", JOBCTL, "--with-console"]);
    let text = both(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        out.stderr.is_empty(),
        "a loopback install warns:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let serve = read(&sb.unit("jobctl-serve.service"));
    assert_eq!(leftover_placeholder(&serve), None, "{serve}");
    let exec = format!(
        "\nExecStart={} serve --config {} --listen 127.0.0.1:7878\n",
        sb.bin().display(),
        sb.config().display()
    );
    assert!(serve.contains(&exec), "no `{exec}` in:\n{serve}");
    assert!(
        serve.contains("\nType=exec\n") || serve.contains("\nType=simple\n"),
        "{serve}"
    );
    assert!(serve.contains("\nRestart=on-failure\n"), "{serve}");
    assert!(serve.contains("\nRestartSec="), "{serve}");
    let install = serve.find("\n[Install]\n");
    let wanted = serve.find("\nWantedBy=default.target\n");
    assert!(install.is_some() && install < wanted, "{serve}");
    assert!(
        !serve.contains("\nUser="),
        "a user unit sets User=:\n{serve}"
    );
    // Runs forced from the console go on under supervisors in the server's cgroup.
    assert!(serve.contains("\nKillMode=process\n"), "{serve}");
    let tick = read(&sb.unit("jobctl.service"));
    assert_eq!(
        environment_lines(&serve),
        environment_lines(&tick),
        "the server and the tick see different environments"
    );

    let calls = sb.calls();
    let reload = calls.find("systemctl --user daemon-reload\n");
    let enable = calls.find("systemctl --user enable --now jobctl-serve.service\n");
    assert!(
        reload.is_some() && enable.is_some(),
        "systemctl calls:\n{calls}"
    );
    assert!(reload < enable, "daemon-reload must come first:\n{calls}");
    assert!(
        calls.contains("systemctl --user enable --now jobctl.timer\n"),
        "{calls}"
    );
    assert!(
        !calls.contains("restart"),
        "a new server restarted:\n{calls}"
    );

    assert!(
        text.contains("http://127.0.0.1:7878"),
        "no console URL:\n{text}"
    );
    assert!(
        text.contains("jobctl token create --scope write"),
        "no pointer to a token:\n{text}"
    );
    assert!(
        text.contains("journalctl --user -u jobctl-serve.service"),
        "no pointer to the server's log:\n{text}"
    );
}

#[test]
fn linux_console_is_restarted_only_when_it_changed_and_uninstall_removes_it() {
    let sb = Sandbox::new("Linux");
    sb.install_ok(&["--binary", JOBCTL, "--with-console"]);

    // Same options again: no file touched, the server left running.
    let before = sb.snapshot();
    fs::write(&sb.calls, "").unwrap();
    sb.install_ok(&["--binary", JOBCTL, "--with-console"]);
    assert!(before == sb.snapshot(), "files changed on a second run");
    let calls = sb.calls();
    assert!(
        calls.contains("systemctl --user enable --now jobctl-serve.service\n"),
        "{calls}"
    );
    assert!(
        !calls.contains("restart"),
        "unchanged server restarted:\n{calls}"
    );

    // Another address: the unit is rewritten and the server restarted onto it.
    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&[
        "--binary",
        JOBCTL,
        "--with-console",
        "--listen",
        "127.0.0.1:7879",
    ]);
    let serve = read(&sb.unit("jobctl-serve.service"));
    assert!(serve.contains(" --listen 127.0.0.1:7879\n"), "{serve}");
    let calls = sb.calls();
    let reload = calls.find("systemctl --user daemon-reload\n");
    let restart = calls.find("systemctl --user restart jobctl-serve.service\n");
    assert!(
        reload.is_some() && restart.is_some(),
        "systemctl calls:\n{calls}"
    );
    assert!(reload < restart, "restart before daemon-reload:\n{calls}");
    assert!(out.contains("http://127.0.0.1:7879"), "{out}");

    // Without --with-console the server is kept; --uninstall removes it all the same.
    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&["--binary", JOBCTL]);
    assert!(sb.unit("jobctl-serve.service").exists(), "{out}");
    assert!(!sb.calls().contains("jobctl-serve"), "{}", sb.calls());

    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&["--uninstall"]);
    assert!(
        !sb.unit("jobctl-serve.service").exists(),
        "server unit left:\n{out}"
    );
    assert!(!sb.unit("jobctl.timer").exists(), "{out}");
    let calls = sb.calls();
    assert!(
        calls.contains("systemctl --user disable --now jobctl-serve.service\n"),
        "{calls}"
    );
    assert!(sb.config().exists(), "config removed by --uninstall");

    // With nothing of the console left, neither install nor uninstall mention it.
    fs::write(&sb.calls, "").unwrap();
    sb.install_ok(&["--binary", JOBCTL]);
    sb.install_ok(&["--uninstall"]);
    assert_eq!(
        sb.calls(),
        calls_without_console(&sb.calls()),
        "{}",
        sb.calls()
    );
}

/// `calls` less every line about the console.
fn calls_without_console(calls: &str) -> String {
    calls
        .lines()
        .filter(|l| !l.contains("jobctl-serve"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_new_binary_restarts_the_installed_server() {
    let sb = Sandbox::new("Linux");
    sb.install_ok(&["--binary", JOBCTL, "--with-console"]);
    let newer = sb.newer_binary();
    let newer = newer.to_str().unwrap();

    fs::write(&sb.calls, "").unwrap();
    sb.install_ok(&["--binary", newer, "--with-console"]);
    assert!(
        sb.calls()
            .contains("systemctl --user restart jobctl-serve.service\n"),
        "{}",
        sb.calls()
    );

    // Installed earlier, not asked for now: restarted only if it runs.
    fs::write(&sb.calls, "").unwrap();
    sb.install_ok(&["--binary", JOBCTL]);
    assert!(
        sb.calls()
            .contains("systemctl --user try-restart jobctl-serve.service\n"),
        "{}",
        sb.calls()
    );
}

#[test]
fn dry_run_with_console_changes_nothing() {
    let sb = Sandbox::new("Linux");
    let empty = sb.snapshot();
    let out = sb.install_ok(&["--dry-run", "--binary", JOBCTL, "--with-console"]);
    assert_eq!(sb.snapshot(), empty, "--dry-run wrote files:\n{out}");
    assert!(
        out.contains(&format!(
            "would write {}",
            sb.unit("jobctl-serve.service").display()
        )),
        "{out}"
    );
    assert!(
        out.contains("would run: systemctl --user enable --now jobctl-serve.service"),
        "{out}"
    );
    assert!(!sb.calls().contains("enable"), "{}", sb.calls());

    sb.install_ok(&["--binary", JOBCTL, "--with-console"]);
    let installed = sb.snapshot();
    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&["--dry-run", "--uninstall"]);
    assert!(
        sb.snapshot() == installed,
        "--dry-run --uninstall changed files:\n{out}"
    );
    assert!(
        out.contains("would run: systemctl --user disable --now jobctl-serve.service"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "would remove {}",
            sb.unit("jobctl-serve.service").display()
        )),
        "{out}"
    );
    assert!(!sb.calls().contains("disable"), "{}", sb.calls());
}

#[test]
fn a_listen_address_beyond_loopback_is_installed_with_a_warning() {
    let sb = Sandbox::new("Linux");
    let out = sb.install(&[
        "--binary",
        JOBCTL,
        "--with-console",
        "--listen",
        "0.0.0.0:7878",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        err.contains("warning:") && err.contains("loopback") && err.contains("TLS"),
        "no warning:\n{err}"
    );
    let serve = read(&sb.unit("jobctl-serve.service"));
    assert!(serve.contains(" --listen 0.0.0.0:7878\n"), "{serve}");
    // Every address includes loopback, where a browser here finds it.
    assert!(
        both(&out).contains("http://127.0.0.1:7878"),
        "{}",
        both(&out)
    );

    for loopback in ["127.0.0.1:9000", "[::1]:7878"] {
        let out = sb.install(&[
            "--dry-run",
            "--binary",
            JOBCTL,
            "--with-console",
            "--listen",
            loopback,
        ]);
        assert!(out.status.success(), "{loopback}: {}", both(&out));
        assert!(
            out.stderr.is_empty(),
            "{loopback} warned:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn console_option_errors_are_refused_with_one_line() {
    let sb = Sandbox::new("Linux");
    for args in [
        &["--listen", "127.0.0.1:7878"][..],
        &["--uninstall", "--listen", "127.0.0.1:7878"],
        &["--with-console", "--no-service"],
        &["--with-console", "--listen", "127.0.0.1:78 78"],
        &["--with-console", "--listen", "\"127.0.0.1:7878\""],
        &["--with-console", "--listen", "'127.0.0.1:7878'"],
        &["--with-console", "--listen", "localhost:7878"],
        &["--with-console", "--listen", "127.0.0.1"],
        &["--with-console", "--listen", "127.0.0.1:70000"],
        &["--with-console", "--listen="],
        &["--with-console", "--listen"],
    ] {
        let args = [&["--binary", JOBCTL][..], args].concat();
        let out = sb.install(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    assert_eq!(sb.snapshot(), Vec::new(), "option errors wrote files");
    assert!(
        !sb.calls().contains("systemctl"),
        "option errors called systemctl:\n{}",
        sb.calls()
    );
    let help = sb.install_ok(&["--help"]);
    assert!(
        help.contains("--with-console") && help.contains("--listen ADDR"),
        "{help}"
    );
}

#[test]
fn without_a_user_session_the_console_steps_are_printed_too() {
    let sb = Sandbox::new("Linux");
    sb.stub(
        "systemctl",
        r#"case "$*" in *show-environment*) echo "Failed to connect to bus: No medium found" >&2; exit 1;; esac"#,
    );
    let out = sb.install(&["--binary", JOBCTL, "--with-console"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the console are NOT running"), "{text}");
    assert!(
        text.contains("systemctl --user enable --now jobctl-serve.service"),
        "{text}"
    );
    assert!(sb.unit("jobctl-serve.service").exists(), "{text}");
}

#[test]
fn darwin_with_console_renders_a_valid_serve_agent() {
    // A HOME with characters that XML must escape.
    let sb = Sandbox::with_home_name("Darwin", "home & <co>");
    let out = sb.install_ok(&["--binary", JOBCTL, "--with-console"]);

    let plist = sb.agent("com.jobctl.serve");
    let text = read(&plist);
    assert_eq!(leftover_placeholder(&text), None, "{text}");
    assert!(
        !sb.home.join(".config/systemd").exists(),
        "systemd units written on macOS"
    );
    assert!(
        out.contains(
            &sb.home
                .join("Library/Logs/jobctl/serve.log")
                .display()
                .to_string()
        ),
        "no pointer to the server's log:\n{out}"
    );
    assert!(out.contains("http://127.0.0.1:7878"), "{out}");
    assert!(out.contains("jobctl token create --scope write"), "{out}");

    if can_run("plutil", "-help") {
        let lint = Command::new("plutil")
            .args(["-lint"])
            .arg(&plist)
            .output()
            .unwrap();
        assert!(lint.status.success(), "plutil -lint:\n{}", both(&lint));
    }
    if can_run("python3", "--version") {
        const CHECK: &str = r#"
import plistlib, sys
path, tick_path, bin, config, home = sys.argv[1:6]
with open(path, "rb") as f:
    d = plistlib.load(f)
with open(tick_path, "rb") as f:
    tick = plistlib.load(f)
log = home + "/Library/Logs/jobctl/serve.log"
want = {
    "Label": d.get("Label") == "com.jobctl.serve",
    "ProgramArguments": d.get("ProgramArguments")
        == [bin, "serve", "--config", config, "--listen", "127.0.0.1:7878"],
    "RunAtLoad": d.get("RunAtLoad") is True,
    "KeepAlive": d.get("KeepAlive") == {"SuccessfulExit": False},
    "no StartInterval": "StartInterval" not in d,
    "AbandonProcessGroup": d.get("AbandonProcessGroup") is True,
    "WorkingDirectory": d.get("WorkingDirectory") == home,
    "EnvironmentVariables": d.get("EnvironmentVariables") == tick.get("EnvironmentVariables"),
    "StandardOutPath": d.get("StandardOutPath") == log,
    "StandardErrorPath": d.get("StandardErrorPath") == log,
}
wrong = [k for k, ok in want.items() if not ok]
if wrong:
    sys.exit("wrong: %s in %r" % (wrong, d))
"#;
        let check = Command::new("python3")
            .args(["-c", CHECK])
            .arg(&plist)
            .arg(sb.plist())
            .arg(sb.bin())
            .arg(sb.config())
            .arg(&sb.home)
            .output()
            .expect("run python3");
        assert!(
            check.status.success(),
            "plist check failed:\n{}\n{text}",
            both(&check)
        );
    } else {
        eprintln!("note: python3 not found; the plist was not parsed with plistlib");
    }

    let calls = sb.calls();
    let agent = format!("gui/{}/com.jobctl.serve", uid());
    let bootout = calls.find(&format!("launchctl bootout {agent}\n"));
    let bootstrap = calls.find(&format!(
        "launchctl bootstrap gui/{} {}\n",
        uid(),
        plist.display()
    ));
    assert!(
        bootout.is_some() && bootstrap.is_some(),
        "launchctl calls:\n{calls}"
    );
    assert!(bootout < bootstrap, "bootout must come first:\n{calls}");

    // Unchanged, loaded: left alone.
    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&["--binary", JOBCTL, "--with-console"]);
    assert!(out.contains("com.jobctl.serve is already loaded"), "{out}");
    assert!(!sb.calls().contains("bootstrap"), "{}", sb.calls());

    // Another address: the server's agent, and only it, is reloaded.
    fs::write(&sb.calls, "").unwrap();
    sb.install_ok(&[
        "--binary",
        JOBCTL,
        "--with-console",
        "--listen",
        "127.0.0.1:7879",
    ]);
    let calls = sb.calls();
    assert!(read(&plist).contains("<string>127.0.0.1:7879</string>"));
    let bootout = calls.find(&format!("launchctl bootout {agent}\n"));
    let bootstrap = calls.find(&format!(
        "launchctl bootstrap gui/{} {}\n",
        uid(),
        plist.display()
    ));
    assert!(
        bootout.is_some() && bootout < bootstrap,
        "launchctl calls:\n{calls}"
    );
    assert!(
        !calls.contains("com.jobctl.run.plist"),
        "the tick reloaded:\n{calls}"
    );

    // --uninstall without --with-console removes it too.
    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&["--uninstall"]);
    assert!(!plist.exists() && !sb.plist().exists(), "{out}");
    assert!(
        sb.calls().contains(&format!("launchctl bootout {agent}\n")),
        "{}",
        sb.calls()
    );
}

/// `groff -man -Tutf8 -ww` on a page: its stderr (every warning on).
fn groff_warnings(page: &Path) -> String {
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .arg(page)
        .output()
        .expect("groff renders the man pages (apt-get install groff-base)");
    assert!(
        out.status.success(),
        "groff {}: {}",
        page.display(),
        both(&out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn completions_and_man_pages_go_where_shells_and_man_look_and_the_config_is_0600() {
    let sb = Sandbox::new("Linux");
    let out = sb.install_ok(&["--binary", JOBCTL]);
    let share = sb.home.join(".local/share");
    let bash = share.join("bash-completion/completions/jobctl");
    let zsh = share.join("zsh/site-functions/_jobctl");
    let fish = sb.home.join(".config/fish/completions/jobctl.fish");

    // bash: sourced, it registers a completer for jobctl that calls the installed binary.
    let loaded = Command::new("bash")
        .arg("-c")
        .arg("source \"$1\" && complete -p jobctl")
        .arg("bash")
        .arg(&bash)
        .output()
        .unwrap();
    assert!(loaded.status.success(), "{}", both(&loaded));
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("jobctl"));
    let bash_text = read(&bash);
    assert!(
        bash_text.contains(sb.bin().to_str().unwrap()),
        "{bash_text}"
    );
    // zsh: an fpath function file, its first line the #compdef tag compinit reads.
    let zsh_text = read(&zsh);
    assert!(zsh_text.starts_with("#compdef jobctl\n"), "{zsh_text}");
    assert!(zsh_text.contains(sb.bin().to_str().unwrap()), "{zsh_text}");
    // fish: autoloaded from ~/.config/fish/completions by command name.
    let fish_text = read(&fish);
    assert!(
        fish_text.contains("--command jobctl") && fish_text.contains(sb.bin().to_str().unwrap()),
        "{fish_text}"
    );
    for (shell, file) in [("zsh", &zsh), ("fish", &fish)] {
        if can_run(shell, "--version") {
            let o = Command::new(shell).arg("-n").arg(file).output().unwrap();
            assert!(o.status.success(), "{shell} -n: {}", both(&o));
        } else {
            eprintln!("note: {shell} not found; its completion was not parsed");
        }
    }

    // Man pages under PREFIX/share/man, which man finds from PREFIX/bin on PATH.
    let man = share.join("man");
    for page in [
        "man1/jobctl.1",
        "man1/jobctl-run.1",
        "man1/jobctl-scheduler.1",
        "man5/jobctl.toml.5",
    ] {
        let p = man.join(page);
        assert!(p.is_file(), "{page} not installed:\n{out}");
        assert_eq!(groff_warnings(&p), "", "groff warned about {page}");
    }
    if can_run("man", "--version") {
        let found = Command::new("man")
            .args(["-w", "jobctl.toml"])
            .env_clear()
            .env("HOME", &sb.home)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", sb.home.join(".local/bin").display()),
            )
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&found.stdout).trim(),
            man.join("man5/jobctl.toml.5").to_str().unwrap(),
            "{}",
            both(&found)
        );
    }

    let mode = fs::metadata(sb.config()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the starter config's mode");
    assert!(!out.contains("run as root"), "{out}");

    // Again: nothing changes; uninstalled: all gone.
    let before = sb.snapshot();
    let again = sb.install_ok(&["--binary", JOBCTL]);
    assert_eq!(sb.snapshot(), before, "{again}");
    assert!(
        again.contains(" man pages under ") && !again.contains("\nwrote "),
        "{again}"
    );
    sb.install_ok(&["--uninstall"]);
    for gone in [
        &bash,
        &zsh,
        &fish,
        &man.join("man1/jobctl.1"),
        &man.join("man5/jobctl.toml.5"),
    ] {
        assert!(!gone.exists(), "{} left after --uninstall", gone.display());
    }
    assert!(
        fs::read_dir(man.join("man1")).unwrap().next().is_none(),
        "man pages left after --uninstall"
    );
}

#[test]
fn installed_as_root_it_warns_that_jobs_would_run_as_root() {
    let sb = Sandbox::new("Linux");
    sb.id_as("0", "root");
    let out = sb.install_ok(&["--binary", JOBCTL]);
    assert!(
        out.contains(
            "warning: installing as root: every job will run as root, and agent CLIs refuse that"
        ),
        "{out}"
    );
    let warnings = out.lines().filter(|l| l.contains("run as root")).count();
    assert_eq!(warnings, 1, "{out}");
}

#[test]
fn the_scheduler_replaces_the_timer_and_the_timer_the_scheduler() {
    let sb = Sandbox::new("Linux");
    sb.install_ok(&["--binary", JOBCTL]);
    assert!(sb.unit("jobctl.timer").exists());

    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&["--binary", JOBCTL, "--scheduler"]);
    let unit = read(&sb.unit("jobctl-scheduler.service"));
    assert_eq!(leftover_placeholder(&unit), None, "{unit}");
    let exec = format!(
        "\nExecStart={} scheduler --config {}\n",
        sb.bin().display(),
        sb.config().display()
    );
    for line in [
        "\nType=notify\n",
        exec.as_str(),
        "\nRestart=on-failure\n",
        "\nKillMode=process\n",
        "\nExecReload=/bin/kill -HUP $MAINPID\n",
        "\nWantedBy=default.target\n",
    ] {
        assert!(unit.contains(line), "no {line:?} in:\n{unit}");
    }
    for gone in ["jobctl.timer", "jobctl.service"] {
        assert!(
            !sb.unit(gone).exists(),
            "{gone} left beside the scheduler:\n{out}"
        );
    }
    let calls = sb.calls();
    let order = [
        "systemctl --user disable --now jobctl.timer\n",
        "systemctl --user daemon-reload\n",
        "systemctl --user enable --now jobctl-scheduler.service\n",
    ];
    let at: Vec<Option<usize>> = order.iter().map(|c| calls.find(c)).collect();
    assert!(
        at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
        "{calls}"
    );
    assert!(out.contains("runs `jobctl scheduler`"), "{out}");

    if can_run("systemd-analyze", "--version") {
        sb.verify_units(&["jobctl-scheduler.service"]);
    }

    // Unchanged: left running. A new binary: restarted, as it keeps the one it started with.
    fs::write(&sb.calls, "").unwrap();
    sb.install_ok(&["--binary", JOBCTL, "--scheduler"]);
    assert!(!sb.calls().contains("restart"), "{}", sb.calls());
    let newer = sb.newer_binary();
    let calls = sb.install_calls(&["--binary", newer.to_str().unwrap(), "--scheduler"]);
    assert!(
        calls.contains("systemctl --user restart jobctl-scheduler.service\n"),
        "{calls}"
    );

    // Back to the timer: the scheduler goes.
    let calls = sb.install_calls(&["--binary", JOBCTL]);
    assert!(!sb.unit("jobctl-scheduler.service").exists());
    assert!(sb.unit("jobctl.timer").exists() && sb.unit("jobctl.service").exists());
    let stop = calls.find("systemctl --user disable --now jobctl-scheduler.service\n");
    let enable = calls.find("systemctl --user enable --now jobctl.timer\n");
    assert!(stop.is_some() && stop < enable, "{calls}");

    // Uninstalled from the scheduler: nothing of it is left.
    sb.install_ok(&["--binary", JOBCTL, "--scheduler"]);
    let calls = sb.install_calls(&["--uninstall"]);
    assert!(!sb.unit("jobctl-scheduler.service").exists());
    assert!(
        calls.contains("systemctl --user disable --now jobctl-scheduler.service\n"),
        "{calls}"
    );

    let refused = sb.install(&["--scheduler", "--no-service"]);
    assert_eq!(refused.status.code(), Some(2), "{}", both(&refused));
}

#[test]
fn darwin_scheduler_is_a_keepalive_agent_in_place_of_the_tick() {
    let sb = Sandbox::new("Darwin");
    sb.install_ok(&["--binary", JOBCTL]);
    assert!(sb.plist().exists());
    fs::write(&sb.calls, "").unwrap();
    let out = sb.install_ok(&["--binary", JOBCTL, "--scheduler"]);
    let plist = sb.agent("com.jobctl.scheduler");
    let text = read(&plist);
    assert_eq!(leftover_placeholder(&text), None, "{text}");
    assert!(!sb.plist().exists(), "the tick's agent left:\n{out}");
    let calls = sb.calls();
    let bootout = calls.find(&format!("launchctl bootout gui/{}/com.jobctl.run\n", uid()));
    let bootstrap = calls.find(&format!(
        "launchctl bootstrap gui/{} {}\n",
        uid(),
        plist.display()
    ));
    assert!(bootout.is_some() && bootstrap.is_some(), "{calls}");

    const CHECK: &str = r#"
import plistlib, sys
path, bin, config = sys.argv[1:4]
with open(path, "rb") as f:
    d = plistlib.load(f)
want = {
    "Label": d.get("Label") == "com.jobctl.scheduler",
    "ProgramArguments": d.get("ProgramArguments") == [bin, "scheduler", "--config", config],
    "KeepAlive": d.get("KeepAlive") is True,
    "RunAtLoad": d.get("RunAtLoad") is True,
    "AbandonProcessGroup": d.get("AbandonProcessGroup") is True,
    "no StartInterval": "StartInterval" not in d,
}
wrong = [k for k, ok in want.items() if not ok]
if wrong:
    sys.exit("wrong: %s in %r" % (wrong, d))
"#;
    let check = Command::new("python3")
        .args(["-c", CHECK])
        .arg(&plist)
        .arg(sb.bin())
        .arg(sb.config())
        .output()
        .expect("python3 parses the plist");
    assert!(check.status.success(), "{}\n{text}", both(&check));

    // Back to the tick.
    sb.install_ok(&["--binary", JOBCTL]);
    assert!(sb.plist().exists() && !plist.exists());
}
