//! Running processes: spawning one in its own process group, copying its output to a
//! capped log, its deadline, signals, pausing and stopping its whole tree. This layer knows
//! processes and signals, not runs, jobs or the database.

pub(crate) mod echo;
pub(crate) mod env;
pub(crate) mod logfile;
mod output;
pub(crate) mod pause;
pub(crate) mod process;
pub(crate) mod proctree;
pub(crate) mod signal;
pub(crate) mod spawn;
