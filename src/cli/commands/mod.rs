//! One thin module per subcommand: parse what it was given, call the engine, render what
//! comes back (a table or text for people, one JSON document with `--json`), and return
//! the exit code.

pub mod ask;
pub mod cancel;
pub mod check;
pub mod configure;
pub mod docs;
pub mod edit;
pub mod events;
pub mod force;
pub mod history;
pub mod import;
pub mod init;
pub mod list;
pub mod logs;
pub mod next;
pub mod pause;
pub mod rerun;
pub mod reset;
pub mod run;
pub mod serve;
pub mod show;
pub mod state;
pub mod status;
pub mod submit;
pub mod supervise;
pub mod workspaces;

/// jobctl never needs root, and claude refuses to run unattended under it: said once by a
/// command that runs something, and only where it matters (a `claude` agent configured).
pub fn warn_if_root(cfg: &crate::config::Config) {
    let claude = cfg
        .agents
        .values()
        .any(|a| a.preset == crate::config::Preset::Claude);
    if claude && nix::unistd::geteuid().is_root() {
        tracing::warn!(
            "running as root: jobctl never needs it, and claude refuses --dangerously-skip-permissions under root; run jobctl as a normal user"
        );
    }
}

/// The config and the engine over its state, for a command.
pub(crate) fn engine(
    g: &crate::cli::args::Global,
) -> crate::core::error::Result<crate::engine::Engine<'static>> {
    let cfg = crate::cli::load_config(g)?;
    crate::engine::Engine::open(cfg)
}
