//! Real git repositories for the workspace tests: a bare `origin` in the test's temp dir,
//! seeded with a few files and a `.gitignore`, and the user's checkout cloned from it.
//! Git runs with no system or global config (HOME is the test's), so what the machine's
//! user configured never leaks in.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment every git of a test gets (the test's and jobctl's).
pub fn git_env(home: &Path) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), home.display().to_string()),
        (
            "XDG_CONFIG_HOME".into(),
            home.join(".config").display().to_string(),
        ),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("GIT_AUTHOR_NAME".into(), "Test".into()),
        ("GIT_AUTHOR_EMAIL".into(), "test@example.com".into()),
        ("GIT_COMMITTER_NAME".into(), "Test".into()),
        ("GIT_COMMITTER_EMAIL".into(), "test@example.com".into()),
    ]
}

/// `[runner]` whose jobs (and their git) see the test's `home` as HOME, `home/bin` first on
/// their PATH, and no system git config; `extra` goes inside the table.
pub fn runner_toml(home: &Path, extra: &str) -> String {
    let home = home.display();
    format!(
        "[runner]\ntimezone = \"UTC\"\nkill_grace = \"1s\"\n\
         env = {{ PATH = \"{home}/bin:/usr/bin:/bin\", HOME = \"{home}\", GIT_CONFIG_NOSYSTEM = \"1\" }}\n{extra}\n"
    )
}

/// `runner.git_author`: who jobctl's commits are by.
pub const AUTHOR: &str = "git_author = \"jobctl <jobctl@example.com>\"";

/// `(letter, path)` pairs, sorted: what [`Repos::branch_changes`] returns.
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// The worktree directory of a run (its `history --json` record).
pub fn path_of(run: &serde_json::Value) -> PathBuf {
    PathBuf::from(run["workspace"]["path"].as_str().unwrap())
}

/// `git -C dir ARGS` as the test's user; panics with git's words on failure.
pub fn git(home: &Path, dir: &Path, args: &[&str]) -> String {
    let out = git_out(home, dir, args);
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn git_out(home: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .envs(git_env(home))
        .output()
        .expect("run git")
}

/// A bare origin and the user's checkout of it.
pub struct Repos {
    pub home: PathBuf,
    pub origin: PathBuf,
    pub checkout: PathBuf,
}

impl Repos {
    /// `origin.git` with `main` holding `a.txt`, `b.txt`, `keep/k.txt` and a
    /// `.gitignore` of `.env` and `*.log`; `checkout/` cloned from it, with an ignored
    /// `.env` and an ignored `local.log` in it.
    pub fn new(home: &Path) -> Repos {
        let origin = home.join("origin.git");
        let checkout = home.join("checkout");
        let seed = home.join("seed");
        git(
            home,
            home,
            &[
                "init",
                "--quiet",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        );
        git(
            home,
            home,
            &["init", "--quiet", "-b", "main", seed.to_str().unwrap()],
        );
        for (f, text) in [
            ("a.txt", "alpha\n"),
            ("b.txt", "bravo\n"),
            ("keep/k.txt", "kilo\n"),
            (".gitignore", ".env\n*.log\n"),
        ] {
            let p = seed.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        git(home, &seed, &["add", "-A"]);
        git(home, &seed, &["commit", "--quiet", "-m", "seed"]);
        git(
            home,
            &seed,
            &["push", "--quiet", origin.to_str().unwrap(), "main"],
        );
        git(
            home,
            home,
            &[
                "clone",
                "--quiet",
                origin.to_str().unwrap(),
                checkout.to_str().unwrap(),
            ],
        );
        std::fs::write(checkout.join(".env"), "TOKEN=local\n").unwrap();
        std::fs::write(checkout.join("local.log"), "mine\n").unwrap();
        std::fs::remove_dir_all(&seed).unwrap();
        Repos {
            home: home.to_path_buf(),
            origin,
            checkout,
        }
    }

    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        git(&self.home, dir, args)
    }

    /// `name-status` of `branch` on origin against `main`: `(letter, path)`, sorted.
    pub fn branch_changes(&self, branch: &str) -> Vec<(String, String)> {
        let out = self.git(
            &self.origin,
            &["diff", "--name-status", "--no-renames", "main", branch],
        );
        let mut v: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(s, p)| (s.to_string(), p.to_string()))
            .collect();
        v.sort();
        v
    }

    /// A file as `branch` on origin has it.
    pub fn show(&self, branch: &str, path: &str) -> String {
        self.git(&self.origin, &["show", &format!("{branch}:{path}")])
    }

    /// The branches of a repository (`refs/heads`).
    pub fn branches(&self, repo: &Path) -> Vec<String> {
        let out = self.git(
            repo,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        );
        out.lines().map(String::from).collect()
    }

    /// The checkout's state: HEAD, branch, `status --porcelain`, and its files' contents.
    pub fn checkout_state(&self) -> String {
        let mut s = self.git(&self.checkout, &["rev-parse", "HEAD"]);
        s += &self.git(&self.checkout, &["status", "--porcelain", "--ignored"]);
        s += &self.git(&self.checkout, &["symbolic-ref", "HEAD"]);
        let mut files: Vec<PathBuf> = Vec::new();
        let mut stack = vec![self.checkout.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.file_name().is_some_and(|n| n == ".git") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            s += &format!(
                "\n{}: {}",
                f.display(),
                std::fs::read_to_string(&f).unwrap_or_default()
            );
        }
        s
    }
}

/// A bare repository served over git's "dumb" HTTP protocol (its files as they are, after
/// `update-server-info`) on a loopback port: a repository given by an `http://` URL with
/// no git daemon. The first path segment names the repository and is not read; a query
/// is ignored, also the one git leaves in the middle of a path when the repository's URL
/// has one (`/r.git?access_token=T/info/refs&service=git-upload-pack`). The server lives as long as the test.
pub struct DumbHttp {
    pub port: u16,
}

impl DumbHttp {
    pub fn serve(home: &Path, repo: &Path) -> DumbHttp {
        use std::io::{BufRead, BufReader, Write};
        git(home, repo, &["update-server-info"]);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let repo = repo.to_path_buf();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut reader = BufReader::new(&conn);
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let target = request.split(' ').nth(1).unwrap_or("/");
                let body = file_of(target).and_then(|rel| std::fs::read(repo.join(rel)).ok());
                let mut out = &conn;
                let head = match &body {
                    Some(b) => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", b.len()),
                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n".to_string(),
                };
                let _ = out.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
                let _ = out.write_all(body.as_deref().unwrap_or_default());
            }
        });
        DumbHttp { port }
    }
}

/// The file a dumb-HTTP request target asks for, relative to the repository.
fn file_of(target: &str) -> Option<String> {
    let mut t = target.to_string();
    while let Some(q) = t.find('?') {
        match t[q..].find('/') {
            Some(slash) => t.replace_range(q..q + slash, ""),
            None => t.truncate(q),
        }
    }
    // The query git adds after one it kept starts with `&`.
    let t = t.split('&').next().unwrap_or_default();
    let rel: Vec<&str> = t.trim_start_matches('/').split('/').skip(1).collect();
    (!rel.is_empty() && !rel.iter().any(|s| s.is_empty() || *s == "..")).then(|| rel.join("/"))
}
