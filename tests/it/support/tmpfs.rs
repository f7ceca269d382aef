//! A small file system for a test: a tmpfs mounted on one of its directories, to fill up
//! and see what jobctl does on a full disk. Mounting needs root, or root of a private user
//! and mount namespace (`unshare -Urm`), in which [`may_mount`] runs the test again.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{both, stderr, test_path};

/// A tmpfs mounted on a directory, unmounted on drop.
pub struct Tmpfs {
    pub dir: PathBuf,
}

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("can't run mount: {e}"))?;
        if !o.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", stderr(&o).trim()));
        }
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    /// Bytes in use.
    pub fn used(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.dir).unwrap();
        (s.blocks() - s.blocks_free()) as u64 * s.fragment_size() as u64
    }

    pub fn available(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.dir).unwrap();
        s.blocks_available() as u64 * s.fragment_size() as u64
    }

    /// Fills the file system with a file until `leave` bytes are left.
    pub fn fill(&self, leave: u64) -> PathBuf {
        use std::io::Write;
        let p = self.dir.join("filler");
        let mut f = std::fs::File::create(&p).unwrap();
        let chunk = vec![b'f'; 64 * 1024];
        while self.available() > leave {
            let n = (self.available() - leave).min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).unwrap();
        }
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Something still has a file open in it: detach it rather than leave it
            // mounted under a temp dir that is about to go.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Whether this process may mount a tmpfs: as root, yes. Otherwise it runs test `test` of
/// `module` (`module_path!()`) again inside `unshare -Urm` (root of a private user and
/// mount namespace), asserts that it passed there, and returns false; where neither works,
/// it says why and returns false (the test is skipped).
pub fn may_mount(module: &str, test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let unshare_works = Command::new("unshare")
        .args(["-Urm", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !unshare_works {
        eprintln!(
            "skipped {test}: mounting a tmpfs needs root or `unshare -Urm` (user namespaces)"
        );
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let o = Command::new("unshare")
        .arg("-Urm")
        .arg(exe)
        .args([
            "--exact",
            &test_path(module, test),
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{test} in a private namespace:\n{}",
        both(&o)
    );
    false
}
