//! One module per subcommand. Each loads what it needs (config, store), acts, prints, and
//! returns the exit code.

pub mod check;
pub mod history;
pub mod list;
pub mod logs;
pub mod next;
