//! Exit codes from the command-line spec, and the typed error that carries one.
//!
//! Everything below `main` returns `anyhow::Result`; a caller that must choose an exit
//! code other than 1 wraps its error in [`Coded`], and `main` finds it in the chain.

use std::fmt;

use crate::core::run::RunStatus;

/// Process exit codes (cli.md, "Exit codes").
pub mod code {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const UNAVAILABLE: u8 = 69;
    pub const STATE: u8 = 74;
    pub const BUSY: u8 = 75;
    pub const TIMEOUT: u8 = 124;
    pub const CONFIG: u8 = 78;
    pub const SIGINT: u8 = 130;
    pub const SIGTERM: u8 = 143;
}

/// An error that decides the process exit code.
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

impl Coded {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Coded {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// Shorthand: `bail_code!(code::BUSY, "job {} is running", name)`.
#[macro_export]
macro_rules! bail_code {
    ($code:expr, $($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::exit_code::Coded::new($code, format!($($arg)*))))
    };
}

/// The exit code an error chain asks for: a [`Coded`] anywhere in it, a database or
/// state-directory failure (74), a config failure (78), else 1.
pub fn of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        if cause
            .downcast_ref::<crate::config::ConfigErrors>()
            .is_some()
        {
            return code::CONFIG;
        }
        if cause.downcast_ref::<rusqlite::Error>().is_some() {
            return code::STATE;
        }
    }
    code::FAILURE
}

/// The exit code of a run that a command waited for (cli.md): the job's own code when it
/// failed with 1..=125 (or 126/127: "not executable", "not found", which jobctl itself
/// reports that way), 124 on timeout, 128+N when killed by signal N, else 1.
pub fn of_run(status: RunStatus, exit_code: Option<i64>, signal: Option<i64>) -> u8 {
    match status {
        RunStatus::Succeeded => code::OK,
        RunStatus::TimedOut => code::TIMEOUT,
        RunStatus::Cancelled | RunStatus::Lost | RunStatus::Skipped => code::FAILURE,
        RunStatus::Running | RunStatus::Failed => match (exit_code, signal) {
            (Some(c), _) if (1..=127).contains(&c) => c as u8,
            (_, Some(s)) if (1..=127).contains(&s) => 128 + s as u8,
            _ => code::FAILURE,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_codes_follow_the_spec() {
        assert_eq!(of_run(RunStatus::Succeeded, Some(0), None), 0);
        assert_eq!(of_run(RunStatus::Failed, Some(3), None), 3);
        assert_eq!(of_run(RunStatus::Failed, Some(127), None), 127);
        assert_eq!(of_run(RunStatus::Failed, Some(255), None), 1);
        assert_eq!(of_run(RunStatus::Failed, None, Some(9)), 137);
        assert_eq!(of_run(RunStatus::TimedOut, None, Some(15)), 124);
        assert_eq!(of_run(RunStatus::Skipped, None, None), 1);
        assert_eq!(of_run(RunStatus::Lost, None, None), 1);
    }

    #[test]
    fn coded_error_wins_in_a_chain() {
        let err = anyhow::Error::new(Coded::new(code::BUSY, "busy")).context("forcing x");
        assert_eq!(of(&err), code::BUSY);
        assert_eq!(of(&anyhow::anyhow!("plain")), code::FAILURE);
    }
}
