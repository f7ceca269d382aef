//! Everything besides the config file's text that loading it consults: environment
//! variables (`$VAR` and `~` in paths, the default state directory) and other files
//! (prompt files, the env file).
//!
//! Loading goes through [`Inputs`] for all of them, and it remembers what it saw. That
//! record is what makes the config snapshot (see `snapshot.rs`) safe to reuse: a snapshot
//! is only used when asking every input again gives the same answer. Time zones are not
//! inputs: a snapshot stores zone names and resolves them again when it is read.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a file looked like: its kind and permission bits, or that it could not be looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FileMeta {
    pub(crate) is_dir: bool,
    pub(crate) mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Input {
    /// An environment variable's value (raw bytes), or that it was unset.
    Var { name: String, seen: Option<Vec<u8>> },
    /// A file's metadata, or that there was none.
    Meta {
        path: PathBuf,
        seen: Option<FileMeta>,
    },
    /// A file's content, or that it could not be read.
    Read {
        path: PathBuf,
        seen: Option<Vec<u8>>,
    },
}

impl Input {
    /// Whether asking again gives the answer recorded.
    fn unchanged(&self) -> bool {
        match self {
            Input::Var { name, seen } => var_bytes(name) == *seen,
            Input::Meta { path, seen } => meta(path).ok() == *seen,
            Input::Read { path, seen } => std::fs::read(path).ok() == *seen,
        }
    }
}

fn var_bytes(name: &str) -> Option<Vec<u8>> {
    std::env::var_os(name).map(OsString::into_vec)
}

fn meta(path: &Path) -> io::Result<FileMeta> {
    let m = std::fs::metadata(path)?;
    Ok(FileMeta {
        is_dir: m.is_dir(),
        mode: m.permissions().mode(),
    })
}

/// The recorder: every outside fact loading used, in the order it was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Inputs {
    seen: Vec<Input>,
    /// git's answers about ref names this load (most jobs ask about the same `origin`
    /// and `main`): one process per name, not per job.
    #[serde(skip)]
    refs: std::collections::HashMap<(String, String), bool>,
}

impl Inputs {
    /// An environment variable, if set and valid UTF-8.
    pub(crate) fn var(&mut self, name: &str) -> Option<String> {
        let v = std::env::var_os(name);
        self.seen.push(Input::Var {
            name: name.to_string(),
            seen: v.as_ref().map(|v| v.as_bytes().to_vec()),
        });
        v.and_then(|v| v.into_string().ok())
    }

    pub(crate) fn metadata(&mut self, path: &Path) -> io::Result<FileMeta> {
        let m = meta(path);
        self.seen.push(Input::Meta {
            path: path.to_path_buf(),
            seen: m.as_ref().ok().copied(),
        });
        m
    }

    pub(crate) fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        let r = std::fs::read(path);
        self.seen.push(Input::Read {
            path: path.to_path_buf(),
            seen: r.as_ref().ok().cloned(),
        });
        r
    }

    /// Whether git accepts `refname` (`git check-ref-format`), asking the git program
    /// `git`. Not recorded: the answer depends on the name alone. `Err` says git could
    /// not be run.
    pub(crate) fn git_ref_ok(&mut self, git: &str, refname: &str) -> Result<bool, String> {
        let key = (git.to_string(), refname.to_string());
        if let Some(ok) = self.refs.get(&key) {
            return Ok(*ok);
        }
        let ok = std::process::Command::new(git)
            .args(["check-ref-format", refname])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .map_err(|e| {
                format!("can't run git ({git}: {e}) to check ref names; set runner.git")
            })?;
        self.refs.insert(key, ok);
        Ok(ok)
    }

    /// The files read or looked at, each once.
    pub(super) fn read_paths(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for i in &self.seen {
            if let Input::Meta { path, .. } | Input::Read { path, .. } = i
                && !out.contains(path)
            {
                out.push(path.clone());
            }
        }
        out
    }

    /// Whether every recorded input still reads the same.
    pub(crate) fn unchanged(&self) -> bool {
        self.seen.iter().all(Input::unchanged)
    }
}

/// The dotenv file of `runner.env_file`, read the way the dotenv tools people know read it
/// (dotenvy): `KEY=value` lines, `export ` prefixes, `#` comments (also after a value),
/// single quotes literal, double quotes with escapes, `$VAR`/`${VAR}` substituted from
/// earlier lines and the environment. The file holds secrets, so it must not be readable
/// by others, and an error never quotes a line of it (only its number).
///
/// The one input that is not recorded (a record keeps content): it is read on every load,
/// snapshot or not.
pub(super) fn env_file(p: &Path) -> Result<Vec<(String, String)>, String> {
    let meta = std::fs::metadata(p).map_err(|e| format!("can't read {}: {e}", p.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is mode {:o}; it holds secrets, so make it 0600 or stricter (chmod 600 {})",
            p.display(),
            meta.permissions().mode() & 0o777,
            p.display()
        ));
    }
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("can't read {}: {e}", p.display()))?;
    let mut out = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((k, v)) => out.push((k, v)),
            Err(dotenvy::Error::LineParse(line, at)) => {
                return Err(format!(
                    "{} line {}: expected KEY=value (a key of letters, digits and _, not starting with a digit; quotes closed)",
                    p.display(),
                    line_number(&text, &line, at)
                ));
            }
            Err(e) => {
                return Err(format!("can't read {}: {}", p.display(), redact(&e)));
            }
        }
    }
    Ok(out)
}

/// The 1-based line of the file on which parsing `line` (a logical line, possibly spanning
/// several) failed at byte `at`.
fn line_number(text: &str, line: &str, at: usize) -> usize {
    let start = if line.is_empty() {
        text.len()
    } else {
        text.find(line).unwrap_or(0)
    };
    // Past its end: a quote that never closed; the line where it opened is the one to fix.
    let at = if at >= line.len() { 0 } else { at };
    let upto = (start + at).min(text.len());
    let mut cut = upto;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].matches('\n').count() + 1
}

/// An error of the dotenv reader that is not about one line: its kind, never the text.
fn redact(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::Io(io) => io.to_string(),
        dotenvy::Error::EnvVar(_) => "a variable it names is not valid".into(),
        _ => "it is not a dotenv file".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_file_of(text: &str) -> Result<Vec<(String, String)>, String> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.env");
        std::fs::write(&f, text).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        env_file(&f)
    }

    #[test]
    fn env_files_read_as_dotenv_tools_read_them() {
        let vars = env_file_of(
            "# a comment\nexport A=1\nB=\"two words\" # an inline comment\nB2=plain # inline\nC=\"quoted \\\"x\\\" \\n end\"\nD='single $A'\nE=\"$A-${A}\"\n\nF=\n",
        )
        .unwrap();
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("B"), Some("two words"));
        assert_eq!(get("C"), Some("quoted \"x\" \n end"));
        assert_eq!(get("D"), Some("single $A"));
        assert_eq!(get("E"), Some("1-1"));
        assert_eq!(get("F"), Some(""));
        let e = env_file_of("A=1\n=secret-value\n").unwrap_err();
        assert!(e.contains("line 2: expected KEY=value"), "{e}");
        assert!(!e.contains("secret-value"), "{e}");
        let e = env_file_of("A=1\nB=2\nTOKEN sk-secret\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(!e.contains("sk-secret"), "{e}");
        let e = env_file_of("A=\"never closed\nB=2\n").unwrap_err();
        assert!(e.contains("line 1:"), "{e}");
    }

    #[test]
    fn a_changed_input_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("prompt.md");
        std::fs::write(&f, "one").unwrap();
        let mut inputs = Inputs::default();
        assert_eq!(inputs.read(&f).unwrap(), b"one");
        assert!(!inputs.metadata(&f).unwrap().is_dir);
        assert!(inputs.read(&dir.path().join("missing")).is_err());
        assert_eq!(inputs.var("JOBCTL_SURELY_UNSET_VAR"), None);
        assert!(inputs.unchanged());

        std::fs::write(&f, "two").unwrap();
        assert!(!inputs.unchanged(), "content");
        std::fs::write(&f, "one").unwrap();
        assert!(inputs.unchanged());

        let mut p = std::fs::metadata(&f).unwrap().permissions();
        p.set_mode(0o644);
        std::fs::set_permissions(&f, p.clone()).unwrap();
        let mut inputs = Inputs::default();
        inputs.metadata(&f).unwrap();
        p.set_mode(0o600);
        std::fs::set_permissions(&f, p).unwrap();
        assert!(!inputs.unchanged(), "mode");

        let mut inputs = Inputs::default();
        inputs.read(&dir.path().join("missing")).unwrap_err();
        std::fs::write(dir.path().join("missing"), "").unwrap();
        assert!(!inputs.unchanged(), "a file that appeared");
    }
}
