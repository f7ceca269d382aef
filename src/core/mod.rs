//! The pure core: units and formats, "now", time zones, schedules and the due rule, run
//! states and records, the run state machine, and the one error type. Nothing here knows about the command line,
//! tables, SQL or processes.

pub mod backoff;
pub mod budget;
pub mod clock;
pub mod control;
pub mod end;
pub mod error;
pub mod names;
pub mod run;
pub mod schedule;
pub mod slots;
pub mod text;
pub mod units;
pub mod workspace;
pub mod zone;
