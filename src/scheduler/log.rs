//! The scheduler's log: one line per event on stderr, as text for people or as one JSON
//! object per line for collectors (`--log-format json`).
//!
//! Written here rather than through `tracing`: the lines are the scheduler's account of
//! what it did (each with its kind and fields), and a collector needs them whole and
//! stable, whatever the verbosity of the rest.

use std::io::Write;

use serde_json::{Map, Value};

/// How the lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LogFormat {
    /// `2026-06-15T12:00:00.000Z started job=backup run=12`
    #[default]
    Text,
    /// `{"at":"2026-06-15T12:00:00.000Z","event":"started","job":"backup","run":12}`
    Json,
}

/// Where the events go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Log {
    pub format: LogFormat,
}

impl Log {
    /// One event: its kind and its fields (a JSON object's).
    pub(crate) fn event(&self, kind: &str, fields: Value) {
        let at = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let fields = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let line = match self.format {
            LogFormat::Json => {
                let mut m = Map::new();
                m.insert("at".into(), Value::String(at));
                m.insert("event".into(), Value::String(kind.into()));
                m.extend(fields);
                Value::Object(m).to_string()
            }
            LogFormat::Text => {
                let mut s = format!("{at} {kind}");
                for (k, v) in fields {
                    match v {
                        Value::String(t) if !t.contains(char::is_whitespace) => {
                            s.push_str(&format!(" {k}={t}"))
                        }
                        Value::Null => {}
                        v => s.push_str(&format!(" {k}={v}")),
                    }
                }
                s
            }
        };
        // A closed stderr loses the line, never the schedule.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
