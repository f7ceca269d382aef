//! jobctl's integration tests: one test binary, a module per area (`cargo test -- hosts::`
//! runs one area, `cargo test -- hosts::a_name` one test). Every module drives the real
//! `jobctl` binary in a temp `JOBCTL_HOME` through the harness in [`support`]; the store
//! contract ([`contract`]) runs against each backend as one test per check.

// A binary: its helpers are `pub` for the modules beside them, never for another crate.
#![allow(unreachable_pub)]

mod agents;
mod api;
mod api_control;
mod api_events;
mod api_holding;
#[cfg(feature = "postgres")]
mod api_hosts;
mod api_mcp;
mod api_scope;
mod api_tokens;
mod bench_fixtures;
mod budget;
mod check;
mod cli_tables;
mod cli_words;
mod clock;
mod concurrency;
mod config_errors;
mod config_memory;
mod config_snapshot;
mod console;
mod console_journeys;
mod contract;
mod control;
mod crash;
mod crash_control;
mod disk;
mod everyday;
mod hardening;
mod hooks;
#[cfg(feature = "postgres")]
mod hosts;
#[cfg(feature = "postgres")]
mod hosts_control;
mod install;
mod layout;
mod man_pages;
mod mcp;
mod next_slots;
#[cfg(feature = "postgres")]
mod outages;
mod read_commands;
mod read_memory;
mod realcli;
mod realcli_mcp;
mod rerun;
mod safety;
mod scheduler;
mod signals;
#[cfg(feature = "postgres")]
mod state_config;
mod subruns;
mod supervision;
mod support;
mod tick;
mod workspace_claude;
mod workspaces;
mod workspaces_safety;
