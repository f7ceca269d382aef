//! jobctl: a cron-style job runner for scripts and AI-agent CLIs.
//!
//! The layers, from the bottom: [`core`] (pure: units, time, schedules, run states, the
//! error type), [`config`] (the TOML file, validated), [`store`] (state behind traits,
//! SQLite by default), [`coord`] (leases and stop requests between processes), [`exec`]
//! (processes, their logs and signals), [`agents`] (the agent CLIs), [`engine`] (the
//! use-cases, returning data), and the two front ends on top: [`cli`] (arguments,
//! rendering) and [`http`] (`jobctl serve`: the API, live events, the console). A layer uses only those
//! below it; nothing below the CLI knows clap or tables.

pub(crate) mod agents;
pub mod cli;
pub mod config;
pub mod coord;
pub mod core;
pub mod engine;
pub(crate) mod exec;
pub mod faults;
pub mod http;
pub(crate) mod import;
pub(crate) mod mcp;
pub(crate) mod scheduler;
pub mod store;
