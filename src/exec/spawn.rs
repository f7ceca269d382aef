//! Starting one process of a run: its command (own process group, stdin from /dev/null,
//! a cleared environment), its pipes, and why it could not start (no workdir, no such
//! program, not executable) as the `Ending` a shell would give. Apart from
//! `process.rs`, which watches the process once it runs.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use tokio::net::unix::pipe;

use super::process::{Ctx, Ending, Launch};

/// Where exec would find a bare program name on the job's `PATH` (an empty entry is the
/// working directory; no `PATH` means exec's default).
///
/// Searching here lets std start the job with posix_spawn (vfork) instead of fork: given
/// a bare name and a new `PATH`, std must fork so the child can search it, and after a fork
/// every page jobctl writes is copied, about 100 page faults for a 1,000-job config. `None`
/// leaves the search to exec, which reports what is missing or not executable as before.
fn on_path(program: &str, env: &[(String, String)], workdir: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        return None;
    }
    super::env::find_program(program, super::env::path_of(env), workdir)
}

/// What a run whose program is not there says, whether exec or a shell found it missing.
pub(crate) fn not_found(program: &str) -> String {
    format!("command not found: {program} (not on PATH or no such file)")
}

fn spawn_error(program: &str, e: &std::io::Error) -> Ending {
    match e.kind() {
        std::io::ErrorKind::NotFound => Ending::SpawnFailed {
            exit_code: 127,
            message: not_found(program),
        },
        std::io::ErrorKind::PermissionDenied => Ending::SpawnFailed {
            exit_code: 126,
            message: format!("command not executable: {program} (permission denied)"),
        },
        _ => Ending::SpawnFailed {
            exit_code: 127,
            message: format!("can't start {program}: {e}"),
        },
    }
}

/// The running process: its pid (it leads its own process group) and the read ends of
/// its pipes (`err` only when stderr is read apart).
pub(super) struct Spawned {
    pub(super) pid: i32,
    pub(super) out: pipe::Receiver,
    pub(super) err: Option<pipe::Receiver>,
}

/// The command of `launch`, writing to `out_w` and `err_w`, in a process group of its own.
fn command(launch: &Launch, out_w: std::io::PipeWriter, err_w: std::io::PipeWriter) -> Command {
    let mut cmd = match on_path(&launch.program, &launch.env, &launch.workdir) {
        Some(found) => {
            let mut c = Command::new(found);
            c.arg0(&launch.program);
            c
        }
        None => Command::new(&launch.program),
    };
    cmd.args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.workdir)
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w)
        .process_group(0);
    cmd
}

/// Starts `launch` with its pipes; `Err(ending)` when it could not start (no workdir, no
/// such program, not executable).
pub(super) fn spawn(
    launch: &Launch,
    ctx: &mut Ctx<'_>,
) -> Result<std::result::Result<Spawned, Ending>> {
    let (out_r, out_w) = std::io::pipe().context("can't create a pipe")?;
    let (err_r, err_w) = if launch.capture_stdout {
        let (r, w) = std::io::pipe().context("can't create a pipe")?;
        (Some(r), w)
    } else {
        (None, out_w.try_clone().context("can't duplicate a pipe")?)
    };
    let mut cmd = command(launch, out_w, err_w);
    if !launch.workdir.is_dir() {
        let message = format!(
            "workdir {} does not exist or is not a directory",
            launch.workdir.display()
        );
        return Ok(Err(Ending::SpawnFailed {
            exit_code: 127,
            message,
        }));
    }
    crate::faults::point("before_spawn");
    (ctx.on_starting)();
    let spawned = cmd.spawn();
    // The write ends live in `cmd`: drop them so the pipes close when the job's side does.
    drop(cmd);
    let child = match spawned {
        Ok(c) => c,
        Err(e) => return Ok(Err(spawn_error(&launch.program, &e))),
    };
    let pid = child.id() as i32;
    // Reaped by `reap_children`, not by std.
    drop(child);
    crate::faults::point("after_spawn");
    (ctx.on_spawn)(pid);
    let receiver = |r: std::io::PipeReader| {
        pipe::Receiver::from_file_unchecked(std::fs::File::from(std::os::fd::OwnedFd::from(r)))
    };
    Ok(Ok(Spawned {
        pid,
        out: receiver(out_r)?,
        err: err_r.map(receiver).transpose()?,
    }))
}

/// This jobctl's executable, for starting more of itself (a run's supervisor, the MCP
/// server an agent is given). When the file it was started from has been replaced since
/// (an upgrade in place, a rebuild: Linux then names it `PATH (deleted)`), the executable
/// now at that path: the installation as it is, which new processes should run.
pub(crate) fn self_exe() -> std::io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    if exe.exists() {
        return Ok(exe);
    }
    let replaced = exe
        .to_str()
        .and_then(|s| s.strip_suffix(" (deleted)"))
        .map(std::path::PathBuf::from)
        .filter(|p| p.exists());
    replaced.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} was removed and nothing stands at its path: reinstall jobctl there, then restart this process",
                exe.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_bare_name_is_found_as_exec_would_find_it() {
        let dir = tempfile::tempdir().unwrap();
        let (work, a, b) = (
            dir.path().join("work"),
            dir.path().join("a"),
            dir.path().join("b"),
        );
        for d in [&work, &a, &b] {
            std::fs::create_dir(d).unwrap();
        }
        let put = |d: &Path, mode: u32| {
            let p = d.join("tool");
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        put(&a, 0o644); // not executable: skipped, as exec skips it
        let in_b = put(&b, 0o755);
        let in_work = put(&work, 0o755);
        let env = |path: &str| vec![("PATH".to_string(), path.to_string())];
        let search = |path: &str| on_path("tool", &env(path), &work);

        assert_eq!(
            search(&format!("{}:{}", a.display(), b.display())),
            Some(in_b.clone())
        );
        // An empty entry is the working directory; a relative one is below it.
        assert_eq!(search(&format!(":{}", b.display())), Some(in_work.clone()));
        assert_eq!(search("."), Some(work.join("./tool")));
        assert_eq!(search(&a.display().to_string()), None);
        // Names with a slash, and what isn't there, are left to exec.
        assert_eq!(
            on_path("./tool", &env(&b.display().to_string()), &work),
            None
        );
        assert_eq!(
            on_path("no-such-tool", &env(&b.display().to_string()), &work),
            None
        );
        // No PATH at all: exec's default.
        assert_eq!(on_path("sh", &[], &work).map(|p| p.is_file()), Some(true));
    }
}
