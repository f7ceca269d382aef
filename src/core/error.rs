//! The one error type of jobctl, and the exit codes of the command-line spec. Every layer
//! returns [`Result`]; what an error means for the process (its exit code) or for an HTTP
//! client (its status) is one exhaustive `match` here, never a guess from its text.

use std::fmt;

use serde::Serialize;

use crate::core::run::RunStatus;

/// Process exit codes (cli.md, "Exit codes").
pub(crate) mod code {
    pub(crate) const OK: u8 = 0;
    pub(crate) const FAILURE: u8 = 1;
    pub(crate) const USAGE: u8 = 2;
    pub(crate) const UNAVAILABLE: u8 = 69;
    pub(crate) const STATE: u8 = 74;
    pub(crate) const BUSY: u8 = 75;
    pub(crate) const TIMEOUT: u8 = 124;
    pub(crate) const CONFIG: u8 = 78;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A wrong command line or request: a bad flag value, an unknown scope.
    #[error("{0}")]
    Usage(String),
    /// The config is invalid: every problem, located.
    #[error("{}", describe_config(.0))]
    Config(ConfigErrors),
    /// No such job, run or agent.
    #[error("{0}")]
    NotFound(String),
    /// Not possible in the state things are in ("run 3 of x is not running").
    #[error("{0}")]
    Conflict(String),
    /// The job is already running.
    #[error("{0}")]
    Busy(String),
    /// No agent could take the call; each one's reason is in the message.
    #[error("{0}")]
    Unavailable(String),
    /// The state directory, database or a lock can't be used, or is unsafe.
    #[error("{0}")]
    State(String),
    /// The state database can't be reached, or the connection to it was lost: what a
    /// supervisor waits out (it reconnects), and what a command reports at once.
    #[error("{0}")]
    Unreachable(String),
    /// A write under a lease that another process has taken over since (a host cut off
    /// or frozen for longer than the lease, and back): nothing was recorded.
    #[error(
        "the lease on {key} was taken over by another host (this process held epoch {epoch}): nothing recorded"
    )]
    Fenced { key: String, epoch: i64 },
    /// A call that was waited for ran out of time.
    #[error("{0}")]
    TimedOut(String),
    /// A run or call that was waited for failed, with why.
    #[error("{0}")]
    Failed(String),
    /// Anything else: an I/O failure with its context.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// The exit code of a command that ends with this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => code::USAGE,
            Error::Config(_) => code::CONFIG,
            Error::NotFound(_) | Error::Conflict(_) | Error::Failed(_) | Error::Internal(_) => {
                code::FAILURE
            }
            Error::Busy(_) => code::BUSY,
            Error::Unavailable(_) => code::UNAVAILABLE,
            Error::State(_) | Error::Unreachable(_) | Error::Fenced { .. } => code::STATE,
            Error::TimedOut(_) => code::TIMEOUT,
        }
    }

    /// The HTTP status of a request that ends with this error.
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            Error::Usage(_) => 400,
            Error::Config(_) => 422,
            Error::NotFound(_) => 404,
            Error::Conflict(_) | Error::Busy(_) => 409,
            Error::Unavailable(_) => 503,
            Error::State(_) | Error::Unreachable(_) | Error::Fenced { .. } | Error::Internal(_) => {
                500
            }
            Error::TimedOut(_) => 504,
            Error::Failed(_) => 500,
        }
    }

    /// The config problems, for the `--json` error document.
    pub(crate) fn config_issues(&self) -> &[ConfigIssue] {
        match self {
            Error::Config(c) => &c.issues,
            _ => &[],
        }
    }

    /// An I/O or other failure, with what was being done.
    pub(crate) fn internal(e: impl Into<anyhow::Error>) -> Error {
        Error::Internal(e.into())
    }
}

impl From<ConfigErrors> for Error {
    fn from(c: ConfigErrors) -> Error {
        Error::Config(c)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Internal(e.into())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Internal(e.into())
    }
}

fn describe_config(c: &ConfigErrors) -> String {
    // One problem with the file as a whole (missing, unreadable, too big) is one line; a
    // message that names the file already is said as it is.
    if let [one] = &c.issues[..]
        && one.line == 0
        && one.key.is_empty()
    {
        return if one.expected.contains(&one.file) {
            one.expected.clone()
        } else {
            one.to_string()
        };
    }
    let n = c.issues.len();
    let plural = if n == 1 { "" } else { "s" };
    format!("invalid config ({n} error{plural}):\n{c}")
}

/// Returns early with an error variant and a formatted message:
/// `fail!(Busy, "job {name} is already running")`.
#[macro_export]
macro_rules! fail {
    ($variant:ident, $($arg:tt)*) => {
        return Err($crate::core::error::Error::$variant(format!($($arg)*)))
    };
}

/// One problem of a config file: where, which key, what was expected.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConfigIssue {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) key: String,
    pub(crate) expected: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.expected)
        } else {
            write!(f, ": {}: {}", self.key, self.expected)
        }
    }
}

/// Every problem of one config file, in file order.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub(crate) issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The exit code of a run that a command waited for (cli.md): the job's own code when it
/// failed with 1..=125 (or 126/127: "not executable", "not found", which jobctl itself
/// reports that way), 124 on timeout, 128+N when killed by signal N, else 1.
pub(crate) fn exit_code_of_run(
    status: RunStatus,
    exit_code: Option<i64>,
    signal: Option<i64>,
) -> u8 {
    match status {
        RunStatus::Succeeded => code::OK,
        RunStatus::TimedOut => code::TIMEOUT,
        RunStatus::Cancelled
        | RunStatus::Lost
        | RunStatus::Skipped
        | RunStatus::Queued
        | RunStatus::Paused
        | RunStatus::Retrying => code::FAILURE,
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
        let of = exit_code_of_run;
        assert_eq!(of(RunStatus::Succeeded, Some(0), None), 0);
        assert_eq!(of(RunStatus::Failed, Some(3), None), 3);
        assert_eq!(of(RunStatus::Failed, Some(127), None), 127);
        assert_eq!(of(RunStatus::Failed, Some(255), None), 1);
        assert_eq!(of(RunStatus::Failed, None, Some(9)), 137);
        assert_eq!(of(RunStatus::TimedOut, None, Some(15)), 124);
        assert_eq!(of(RunStatus::Skipped, None, None), 1);
        assert_eq!(of(RunStatus::Lost, None, None), 1);
    }

    #[test]
    fn every_error_has_its_exit_code_and_http_status() {
        let cases = [
            (Error::Usage("x".into()), 2, 400),
            (Error::NotFound("x".into()), 1, 404),
            (Error::Conflict("x".into()), 1, 409),
            (Error::Busy("x".into()), 75, 409),
            (Error::Unavailable("x".into()), 69, 503),
            (Error::State("x".into()), 74, 500),
            (Error::Unreachable("x".into()), 74, 500),
            (
                Error::Fenced {
                    key: "x".into(),
                    epoch: 1,
                },
                74,
                500,
            ),
            (Error::TimedOut("x".into()), 124, 504),
            (Error::Failed("x".into()), 1, 500),
            (Error::Internal(anyhow::anyhow!("x")), 1, 500),
        ];
        for (e, exit, http) in cases {
            assert_eq!((e.exit_code(), e.http_status()), (exit, http), "{e:?}");
        }
        let c = Error::from(ConfigErrors { issues: vec![] });
        assert_eq!(c.exit_code(), 78);
    }
}
