//! The pure core: units and formats, "now", time zones, schedules and the due rule, run
//! states and records, the run state machine, and the one error type. Nothing here knows about the command line,
//! tables, SQL or processes.

pub(crate) mod backoff;
pub mod budget;
pub(crate) mod clock;
pub(crate) mod control;
pub(crate) mod end;
pub mod error;
pub(crate) mod names;
pub mod run;
// Public: the benchmark's fixtures build schedules and list their slots.
pub mod schedule;
pub(crate) mod slots;
pub(crate) mod text;
pub(crate) mod units;
pub mod workspace;
pub(crate) mod zone;
