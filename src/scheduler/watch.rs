//! Noticing edits of the config and of the files it reads (prompt files, the env file) as
//! they happen, with the `notify` crate (inotify on Linux, kqueue or FSEvents on macOS).
//!
//! The directories are watched, not the files: an editor that saves by writing a new file
//! and renaming it over the old one replaces the inode a file watch would follow. Events
//! of other files in those directories are dropped here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::Config;

/// A watch on one config's files; each change is one message on the receiver.
pub(super) struct ConfigWatch {
    watcher: RecommendedWatcher,
    dirs: BTreeSet<PathBuf>,
    files: std::sync::Arc<std::sync::RwLock<BTreeSet<PathBuf>>>,
}

/// The files of `cfg` worth watching: the file itself, what loading it read, the env file.
fn files_of(cfg: &Config) -> BTreeSet<PathBuf> {
    let mut files: BTreeSet<PathBuf> = cfg.read_files.iter().cloned().collect();
    files.insert(cfg.path.clone());
    files.extend(cfg.runner.env_file.clone());
    files
}

impl ConfigWatch {
    /// Starts watching `cfg`'s files; a change to one is sent to `changed`.
    pub(super) fn start(
        cfg: &Config,
        changed: mpsc::UnboundedSender<PathBuf>,
    ) -> notify::Result<Self> {
        let files = std::sync::Arc::new(std::sync::RwLock::new(BTreeSet::new()));
        let wanted = files.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            if event.kind.is_access() {
                return;
            }
            let Ok(wanted) = wanted.read() else { return };
            for p in event.paths {
                if wanted.contains(&p) {
                    let _ = changed.send(p);
                }
            }
        })?;
        let mut w = ConfigWatch {
            watcher,
            dirs: BTreeSet::new(),
            files,
        };
        w.follow(cfg);
        Ok(w)
    }

    /// Watches the files of `cfg` (after a reload: a new prompt file, an env file moved).
    pub(super) fn follow(&mut self, cfg: &Config) {
        let files = files_of(cfg);
        let dirs: BTreeSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&dirs) {
            let _ = self.watcher.unwatch(gone);
        }
        for new in dirs.difference(&self.dirs) {
            if let Err(e) = self.watcher.watch(new, RecursiveMode::NonRecursive) {
                tracing::warn!("can't watch {} for changes: {e}", new.display());
            }
        }
        self.dirs = dirs;
        if let Ok(mut f) = self.files.write() {
            *f = files;
        }
    }
}
