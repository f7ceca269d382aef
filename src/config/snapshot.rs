//! The validated config, kept between runs so that a tick does not parse and check a large
//! file again when nothing changed.
//!
//! Parsing and validating a 1,000-job file is most of what an idle tick costs, and the
//! tick runs every 5 minutes for the life of the machine. A snapshot holds the config
//! file's whole text, every outside input loading consulted (see `inputs.rs`), the
//! identity of the jobctl binary that wrote it, and the resulting [`Config`]. It is used
//! only when all of them still match: the text byte for byte, each input asked again, the
//! same binary. Anything else (a missing, foreign, corrupt or stale snapshot) means a full
//! load, which writes a fresh one. Writing is best effort: a snapshot that can't be
//! written costs speed, never correctness.
//!
//! Schedules and time zones are stored as written and parsed again when read, so they
//! follow `TZ`, `/etc/localtime` and the zone files like a full load does.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Config;
use super::inputs::Inputs;

/// The file's first bytes; the last one is the layout version. A CRC-32 of everything
/// after it follows: a snapshot damaged on disk could otherwise decode into a different
/// command.
const MAGIC: &[u8; 8] = b"jobctl\xc5\x02";

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct Binary {
    path: PathBuf,
    inode: u64,
    len: u64,
    mtime_ns: i128,
    /// Unlike the mtime, no copy (`cp -p`, rsync) can carry it over.
    ctime_ns: i128,
}

/// What a snapshot was made from; checked before the config itself is decoded. The text
/// is compared where it lies in the file's bytes, not copied out.
#[derive(Serialize, Deserialize)]
struct Header<'a> {
    binary: Binary,
    config_path: PathBuf,
    text: &'a str,
    inputs: Inputs,
}

/// Where the snapshot of a config lives: under its state directory when the file names
/// one (`STATE_DIR/cache/`; "state stays in ./state" includes this), else
/// `$JOBCTL_HOME/cache`, else `$XDG_CACHE_HOME/jobctl` (`~/.cache/jobctl`).
///
/// The snapshot must be found before the file is parsed (that is its point), so the state
/// directory comes from a cheap scan of the text ([`state_dir_in`]); the snapshot itself
/// still checks the exact text and every input, so a wrong guess costs a full load only.
pub(crate) fn cache_dir(config_path: &Path, text: &str) -> Option<PathBuf> {
    if let Some(raw) = state_dir_in(text) {
        let base = config_path.parent().unwrap_or(Path::new("/"));
        if let Ok(dir) = super::paths::expand_path(&raw, base, &mut Inputs::default()) {
            return Some(dir.join("cache"));
        }
    }
    super::paths::cache_dir_default()
}

/// `state_dir` of the `[runner]` table as written (a basic or literal string on a line of
/// its own, or `runner.state_dir` before any table), without parsing the file.
fn state_dir_in(text: &str) -> Option<String> {
    let mut table = "";
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            table = l;
            continue;
        }
        let rest = match table {
            "[runner]" => l.strip_prefix("state_dir"),
            "" => l.strip_prefix("runner.state_dir"),
            _ => None,
        };
        let Some(rest) = rest.map(str::trim_start).and_then(|r| r.strip_prefix('=')) else {
            continue;
        };
        let v = rest.trim();
        let (q, body) = match v.chars().next()? {
            q @ ('"' | '\'') => (q, &v[1..]),
            _ => return None,
        };
        let end = body.find(q)?;
        let s = &body[..end];
        // Escapes are TOML's business; a value with one is left to the default place.
        return (q == '\'' || !s.contains('\\')).then(|| s.to_string());
    }
    None
}

/// The snapshot file of one config file (by its absolute path).
fn file_for(config_path: &Path, text: &str) -> Option<PathBuf> {
    let mut h = std::hash::DefaultHasher::new();
    config_path.hash(&mut h);
    Some(cache_dir(config_path, text)?.join(format!("config-{:016x}.bin", h.finish())))
}

/// The running binary (path, inode, size, modification and change times): a rebuilt or
/// upgraded jobctl never reads an older one's snapshot, whose layout may differ.
fn this_binary() -> Option<Binary> {
    let path = std::env::current_exe().ok()?;
    let m = std::fs::metadata(&path).ok()?;
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    Some(Binary {
        path,
        inode: m.ino(),
        len: m.len(),
        mtime_ns: ns(m.mtime(), m.mtime_nsec()),
        ctime_ns: ns(m.ctime(), m.ctime_nsec()),
    })
}

/// The config stored for `config_path`, if it was made from exactly `text` and the same
/// inputs by this binary.
pub(super) fn read(config_path: &Path, text: &str) -> Option<Config> {
    let file = file_for(config_path, text)?;
    let bytes = read_trusted(&file)?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let (crc, rest) = rest.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*crc) != crc32fast::hash(rest) {
        tracing::debug!("config snapshot {} is damaged", file.display());
        return None;
    }
    let (header, rest) = postcard::take_from_bytes::<Header>(rest).ok()?;
    if header.config_path != config_path
        || header.text != text
        || Some(header.binary) != this_binary()
        || !header.inputs.unchanged()
    {
        tracing::debug!("config snapshot {} is stale", file.display());
        return None;
    }
    match postcard::take_from_bytes::<Config>(rest) {
        Ok((mut config, [])) => {
            if let Some(p) = &config.runner.env_file {
                // Read like a full load reads it; a problem is the full load's to report.
                config.runner.env_file_vars = super::inputs::env_file(p).ok()?;
            }
            tracing::debug!("config: using snapshot {}", file.display());
            Some(config)
        }
        _ => {
            // A zone or pattern that no longer resolves lands here too: the full load
            // reports it properly.
            tracing::debug!("config snapshot {} does not decode", file.display());
            None
        }
    }
}

/// The file's bytes, if it is ours: owned by this user and writable by no one else
/// (a snapshot decides what commands run; so do the next slots, `engine/next_slots.rs`).
pub(crate) fn read_trusted(file: &Path) -> Option<Vec<u8>> {
    let f = std::fs::File::open(file)
        .inspect_err(|e| tracing::debug!("no config snapshot at {}: {e}", file.display()))
        .ok()?;
    let m = f.metadata().ok()?;
    if m.uid() != nix::unistd::geteuid().as_raw() || m.mode() & 0o022 != 0 || !m.is_file() {
        tracing::debug!(
            "ignoring config snapshot {}: not private to this user",
            file.display()
        );
        return None;
    }
    let mut bytes = Vec::with_capacity(m.len() as usize);
    std::io::Read::read_to_end(&mut &f, &mut bytes).ok()?;
    Some(bytes)
}

/// Stores `config` for the next load; failures are logged at debug level and ignored.
pub(super) fn write(config_path: &Path, text: &str, inputs: &Inputs, config: &Config) {
    if let Err(e) = try_write(config_path, text, inputs, config) {
        tracing::debug!("config snapshot not written: {e:#}");
    }
}

fn try_write(
    config_path: &Path,
    text: &str,
    inputs: &Inputs,
    config: &Config,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let file = file_for(config_path, text).context("no cache directory (no home directory)")?;
    let binary = this_binary().context("can't identify the running binary")?;
    let header = Header {
        binary,
        config_path: config_path.to_path_buf(),
        text,
        inputs: inputs.clone(),
    };
    let body = postcard::to_extend(config, postcard::to_stdvec(&header)?)?;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);

    write_private(&file, &bytes)
}

/// Writes `bytes` to `file`, private to this user, in its directory made if need be:
/// written aside and renamed into place, so a reader sees the old file or the new one,
/// never half of one.
pub(crate) fn write_private(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = file.parent().context("cache file has no directory")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    // A leftover of a crashed process that had our pid is ours to replace.
    let _ = std::fs::remove_file(&tmp);
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, file));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_is_found_without_parsing() {
        let cfg = Path::new("/jobs/jobctl.toml");
        let dir = |t: &str| cache_dir(cfg, t);
        assert_eq!(
            dir("[runner]\nmax_running = 2\nstate_dir = \"state\"\n[jobs.a]\n"),
            Some(PathBuf::from("/jobs/state/cache"))
        );
        assert_eq!(
            dir("runner.state_dir = '/var/lib/j'\n"),
            Some(PathBuf::from("/var/lib/j/cache"))
        );
        assert_eq!(
            dir("[runner]\n  state_dir='/s' # here\n"),
            Some(PathBuf::from("/s/cache"))
        );
        // Only [runner]'s: a job's key of that name, or none, is the default place.
        let default = super::super::paths::cache_dir_default();
        assert_eq!(dir("[jobs.a]\nstate_dir = \"x\"\n"), default);
        assert_eq!(dir("[runner]\nscope = \"worker\"\n"), default);
    }

    /// Every kind of value a config holds survives a snapshot unchanged.
    #[test]
    fn a_config_reads_back_as_it_was_stored() {
        let text = r#"
[runner]
scope = "ops"
timezone = "Europe/Amsterdam"
max_running = 3
keep_runs = 50
log_max_bytes = "2MiB"
env_remove = ["AWS_SECRET_ACCESS_KEY"]
env = { A = "1" }

[budget]
scopes = ["ops", "dev"]
day_starts = "04:30"

[daemon]
socket = "/run/d.sock"

[agents.claude]
preset = "claude"
daily_budget = 12.5
rates = { opus = 4, sonnet = 1.5 }

[agents.local]
preset = "command"
daily_budget = 3
command = ["./agent.sh", "{prompt}"]
auth = { env = ["LOCAL_TOKEN"] }

[fallback]
order = ["claude", "local"]

[jobs.a]
type = "script"
command = ["echo", "a b"]
every = "90m"
deadline = "1h"

[jobs.b]
type = "script"
command = "echo $HOME"
at = ["03:00", "15:30"]
weekdays = ["mon", "fri"]
timezone = "America/New_York"
catch_up = false
env = { B = "2" }

[jobs.c]
type = "agent"
prompt = "review the diff"
thinking = "slow"
cron = "*/15 9-17 * * 1-5"
agent = "local"
scope = "ops"

[jobs.d]
type = "script"
command = ["true"]
enabled = false
"#;
        let path = Path::new("/etc/jobctl/jobctl.toml");
        let (config, _) = super::super::parse::parse_config(path, text).expect("valid config");
        let bytes = postcard::to_stdvec(&config).unwrap();
        let back: Config = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(format!("{back:?}"), format!("{config:?}"));
        assert_eq!(back.jobs["b"].timezone.name(), "America/New_York");
        // Schedules read back (parsed on first use) give the same slots.
        let from: jiff::Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        for (name, job) in &config.jobs {
            let Some(s) = &job.schedule else { continue };
            let b = back.jobs[name].schedule.as_ref().unwrap();
            let slots = |s| crate::core::schedule::upcoming(s, &job.timezone, None, from, 20);
            assert_eq!(slots(b), slots(s), "{name}");
        }
    }

    /// Loading must ask [`Inputs`] for everything outside the file, or a snapshot could
    /// outlive a change it never saw. (`paths.rs` finds the file itself, before loading.)
    #[test]
    fn loading_consults_nothing_behind_the_recorders_back() {
        let sources = [
            ("walk.rs", include_str!("walk.rs")),
            ("sections.rs", include_str!("sections.rs")),
            ("jobs.rs", include_str!("jobs.rs")),
            ("units.rs", include_str!("../core/units.rs")),
            ("errors.rs", include_str!("errors.rs")),
            ("workspace.rs", include_str!("workspace.rs")),
        ];
        let forbidden = [
            "std::env",
            "std::fs",
            "env::var",
            "fs::read",
            ".exists()",
            ".is_dir()",
            ".is_file()",
            "metadata(",
            "current_dir",
            "TimeZone::system",
        ];
        for (name, src) in sources {
            for f in forbidden {
                let hits: Vec<&str> = src
                    .lines()
                    .filter(|l| l.contains(f) && !l.contains("inputs."))
                    .collect();
                assert!(hits.is_empty(), "{name} uses {f} directly: {hits:?}");
            }
        }
    }
}
