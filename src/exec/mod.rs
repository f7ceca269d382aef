//! Running processes: spawning one in its own process group, copying its output to a
//! capped log, its deadline, signals, pausing and stopping its whole tree. This layer knows
//! processes and signals, not runs, jobs or the database.

pub mod echo;
pub mod env;
pub mod logfile;
pub mod pause;
pub mod process;
pub mod proctree;
pub mod signal;
