//! jobctl: a cron-style job runner for scripts and AI-agent CLIs.
//!
//! `main.rs` only calls [`app::main`]; the library exists so the benchmark's fixture
//! generator fills a database through the same store code as jobctl itself.

pub mod agents;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod coord;
pub mod core;
pub mod exec;
pub mod exit_code;
pub mod faults;
pub mod output;
pub mod plan;
pub mod recovery;
pub mod store;
pub mod supervisor;
pub mod tick;
