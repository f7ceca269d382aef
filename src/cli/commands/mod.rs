//! One thin module per subcommand: parse what it was given, call the engine, render what
//! comes back (a table or text for people, one JSON document with `--json`), and return
//! the exit code.

pub(crate) mod ask;
pub(crate) mod cancel;
pub(crate) mod check;
pub(crate) mod configure;
pub(crate) mod docs;
pub(crate) mod edit;
pub(crate) mod events;
pub(crate) mod force;
pub(crate) mod history;
pub(crate) mod import;
pub(crate) mod init;
pub(crate) mod list;
pub(crate) mod logs;
pub(crate) mod next;
pub(crate) mod pause;
pub(crate) mod rerun;
pub(crate) mod reset;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod show;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod submit;
pub(crate) mod supervise;
pub(crate) mod wait;
pub(crate) mod workspaces;

/// jobctl never needs root, and claude refuses to run unattended under it: said once by a
/// command that runs something, and only where it matters (a `claude` agent configured).
pub(crate) fn warn_if_root(cfg: &crate::config::Config) {
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
