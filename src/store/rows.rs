//! A run's row and an event's row as both stores read them: one list of columns that
//! every SELECT names, and one reading of a row into a [`RunRecord`] or an [`Event`].
//! A backend says only how it reads one cell ([`Cells`]); which column holds what, the
//! JSON columns, the rows from before a column existed and what an unknown value is are
//! decided here, once.

use crate::core::budget::Usage;
use crate::core::end::Held;
use crate::core::run::{Actor, AgentUsage, EventKind, RunRecord, RunStatus, Transition, Trigger};
use crate::store::sql::{ACTIVE, QUEUED, cat_into, const_text};
use crate::store::{Event, JobState, QueueHead, RunCount, ScopeState, StoredAnswer};

/// Declares a table's columns in the order the SELECTs name them: an enum whose
/// variants index a row, and `LIST`, the columns for a SELECT.
macro_rules! columns {
    ($(#[$m:meta])* pub(crate) enum $name:ident {
        $(#[$fm:meta])* $first:ident = $fs:literal
        $(, $(#[$vm:meta])* $v:ident = $s:literal)* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum $name {
            $(#[$fm])* $first,
            $($(#[$vm])* $v,)*
        }

        // Not every table's decoder names its columns one by one, nor its copy all of them.
        #[allow(dead_code)]
        impl $name {
            /// Every column, in order.
            pub(crate) const ALL: &'static [$name] = &[$name::$first, $($name::$v,)*];
            /// The columns, as a SELECT names them.
            pub(crate) const LIST: &'static str = concat!($fs $(, ", ", $s)*);

            /// The column's name in the table.
            pub(crate) const fn name(self) -> &'static str {
                match self {
                    $name::$first => $fs,
                    $($name::$v => $s,)*
                }
            }

            /// Where the column stands in a row selected with [`Self::LIST`].
            pub(crate) const fn at(self) -> usize {
                self as usize
            }
        }
    };
}

columns! {
    /// The columns of a run that every SELECT of a run names, in both stores (the
    /// PostgreSQL store adds `host` after them).
    pub(crate) enum RunCol {
        Id = "id",
        Job = "job",
        Status = "status",
        Forced = "forced",
        ScheduledFor = "scheduled_for",
        StartedAt = "started_at",
        EndedAt = "ended_at",
        DurationMs = "duration_ms",
        ExitCode = "exit_code",
        Signal = "signal",
        Error = "error",
        Role = "role",
        Agent = "agent",
        Model = "model",
        Scope = "scope",
        CostMilli = "cost_milli",
        CostUsd = "cost_usd",
        InputTokens = "input_tokens",
        OutputTokens = "output_tokens",
        NumTurns = "num_turns",
        ToolCalls = "tool_calls",
        Attempts = "attempts",
        LogPath = "log_path",
        SupervisorPid = "supervisor_pid",
        Pgid = "pgid",
        LockName = "lock_name",
        Survivors = "survivors",
        Workspace = "workspace",
        Changes = "changes",
        Hooks = "hooks",
        TriggerKind = "trigger_kind",
        ParentRunId = "parent_run_id",
        Depth = "depth",
        Attempt = "attempt",
        RetryOf = "retry_of",
        Control = "control",
        ControlBy = "control_by",
        PausedAt = "paused_at",
        Prompt = "prompt",
        Env = "env",
        Metadata = "metadata",
    }
}

columns! {
    /// The columns of an event, as every SELECT of the event log names them.
    pub(crate) enum EventCol {
        Id = "id",
        At = "at",
        Kind = "kind",
        Job = "job",
        RunId = "run_id",
        Detail = "detail",
        FromStatus = "from_status",
        ToStatus = "to_status",
        Reason = "reason",
        Actor = "actor",
    }
}

columns! {
    /// The queue's head of one job and depth: its oldest queued run, and how many wait.
    pub(crate) enum HeadCol {
        Id = "min(id)",
        Job = "job",
        Depth = "depth",
        Waiting = "count(*)",
    }
}

/// The queue's heads, oldest first: the same statement in both stores.
pub(crate) const QUEUE_HEADS: &str = const_text!(
    cat_into,
    &[
        "SELECT ",
        HeadCol::LIST,
        " FROM runs WHERE ",
        ACTIVE,
        " AND ",
        QUEUED,
        " GROUP BY job, depth ORDER BY min(id)"
    ]
);

columns! {
    /// What a run holds as its end is recorded ([`Held`]).
    pub(crate) enum HeldCol {
        Status = "status",
        Agent = "agent",
        Model = "model",
        CostMilli = "cost_milli",
        ReserveDay = "reserve_day",
        ReserveEpoch = "reserve_epoch",
        /// Neither its process group nor its agent's start noted.
        Unstarted = "pgid IS NULL AND agent_starting IS NULL",
    }
}

columns! {
    /// A job's schedule state.
    pub(crate) enum JobCol {
        Name = "name",
        FirstSeen = "first_seen",
        LastSlot = "last_slot",
        Paused = "paused",
        Held = "held",
    }
}

/// Every job's state: the same statement in both stores.
pub(crate) const ALL_JOBS: &str = const_text!(cat_into, &["SELECT ", JobCol::LIST, " FROM jobs"]);

columns! {
    /// An agent's state in one scope.
    pub(crate) enum ScopeCol {
        Agent = "agent",
        Scope = "scope",
        Enabled = "enabled",
        Reason = "reason",
        DisabledAt = "disabled_at",
    }
}

/// Every scope's state, by agent and scope: the same statement in both stores.
pub(crate) const ALL_SCOPES: &str = const_text!(
    cat_into,
    &[
        "SELECT ",
        ScopeCol::LIST,
        " FROM agent_scopes ORDER BY agent, scope"
    ]
);

columns! {
    /// An agent's usage counter ([`Usage`]).
    pub(crate) enum UsageCol {
        Day = "day",
        Used = "used_milli",
        Epoch = "epoch",
    }
}

columns! {
    /// The slots one job's supervised runs take at one depth (the PostgreSQL store adds
    /// how many of them are this host's).
    pub(crate) enum LoadCol {
        Job = "job",
        Depth = "depth",
        Taken = "count(*)",
    }
}

columns! {
    /// How many runs one job has in one status, and how long its ended ones took.
    pub(crate) enum CountCol {
        Job = "job",
        Status = "status",
        Runs = "count(*)",
        Ms = "CAST(COALESCE(sum(duration_ms), 0) AS BIGINT)",
    }
}

/// The runs per job and status: the same statement in both stores.
pub(crate) const RUN_COUNTS: &str = const_text!(
    cat_into,
    &[
        "SELECT ",
        CountCol::LIST,
        " FROM runs GROUP BY job, status ORDER BY job, status"
    ]
);

columns! {
    /// The first answer to a request sent with an `Idempotency-Key`.
    pub(crate) enum AnswerCol {
        Request = "request",
        Status = "CAST(status AS BIGINT)",
        Location = "location",
        Body = "body",
        At = "at",
    }
}

/// One row as a backend hands it over: its cells read by where they stand (a column
/// enum's [`RunCol::at`]), each as the backend's driver reads that type.
pub(crate) trait Cells {
    type Error;
    fn int(&self, at: usize) -> Result<i64, Self::Error>;
    fn int_opt(&self, at: usize) -> Result<Option<i64>, Self::Error>;
    fn real_opt(&self, at: usize) -> Result<Option<f64>, Self::Error>;
    fn text(&self, at: usize) -> Result<String, Self::Error>;
    fn text_opt(&self, at: usize) -> Result<Option<String>, Self::Error>;
    fn bytes(&self, at: usize) -> Result<Vec<u8>, Self::Error>;
    /// A yes/no column (an integer in SQLite, a boolean in PostgreSQL).
    fn flag(&self, at: usize) -> Result<bool, Self::Error>;
    /// The error for a value in column `at` that is none of those jobctl writes.
    fn unknown(&self, at: usize, what: String) -> Self::Error;
}

/// A JSON column read back: what can't be read is left out, never an error that would
/// hide the rest of the record.
fn json<C: Cells, T: serde::de::DeserializeOwned>(r: &C, at: usize) -> Result<Option<T>, C::Error> {
    Ok(r.text_opt(at)?.and_then(|t| serde_json::from_str(&t).ok()))
}

/// A run status read from column `at`.
fn status<C: Cells>(r: &C, at: usize, text: &str) -> Result<RunStatus, C::Error> {
    RunStatus::parse(text).ok_or_else(|| r.unknown(at, format!("unknown run status {text:?}")))
}

/// A count kept as a number: within `min..=u32::MAX`.
pub(crate) fn small(v: i64, min: i64) -> u32 {
    v.clamp(min, i64::from(u32::MAX)) as u32
}

/// The run in a row selected with [`RunCol::LIST`] (its `host` is the backend's to add).
pub(crate) fn run_of<C: Cells>(r: &C) -> Result<RunRecord, C::Error> {
    use RunCol as c;
    let job = r.text(c::Job.at())?;
    let forced = r.flag(c::Forced.at())?;
    let lock_name = r.text_opt(c::LockName.at())?;
    let recorded = match r.text_opt(c::TriggerKind.at())? {
        Some(t) => Some(
            Trigger::parse(&t)
                .ok_or_else(|| r.unknown(c::TriggerKind.at(), format!("unknown trigger {t:?}")))?,
        ),
        None => None,
    };
    let trigger = Trigger::of_row(recorded, forced, &job, lock_name.as_deref());
    let control = match r.text_opt(c::Control.at())? {
        Some(want) => Some((
            status(r, c::Control.at(), &want)?,
            r.text_opt(c::ControlBy.at())?
                .as_deref()
                .and_then(Actor::parse)
                .unwrap_or(Actor::Cli),
        )),
        None => None,
    };
    Ok(RunRecord {
        id: r.int(c::Id.at())?,
        status: status(r, c::Status.at(), &r.text(c::Status.at())?)?,
        job,
        forced,
        scheduled_for: r.int(c::ScheduledFor.at())?,
        started_at: r.int(c::StartedAt.at())?,
        ended_at: r.int_opt(c::EndedAt.at())?,
        duration_ms: r.int_opt(c::DurationMs.at())?,
        exit_code: r.int_opt(c::ExitCode.at())?,
        signal: r.int_opt(c::Signal.at())?,
        error: r.text_opt(c::Error.at())?,
        usage: AgentUsage {
            role: r.text_opt(c::Role.at())?,
            agent: r.text_opt(c::Agent.at())?,
            model: r.text_opt(c::Model.at())?,
            scope: r.text_opt(c::Scope.at())?,
            cost_milli: r.int_opt(c::CostMilli.at())?,
            cost_usd: r.real_opt(c::CostUsd.at())?,
            input_tokens: r.int_opt(c::InputTokens.at())?,
            output_tokens: r.int_opt(c::OutputTokens.at())?,
            num_turns: r.int_opt(c::NumTurns.at())?,
            tool_calls: r.int_opt(c::ToolCalls.at())?,
        },
        attempts: json(r, c::Attempts.at())?.unwrap_or_default(),
        log_path: r.text_opt(c::LogPath.at())?,
        supervisor_pid: r.int_opt(c::SupervisorPid.at())?,
        pgid: r.int_opt(c::Pgid.at())?,
        lock_name,
        survivors: json(r, c::Survivors.at())?.unwrap_or_default(),
        workspace: json(r, c::Workspace.at())?,
        changes: json(r, c::Changes.at())?.unwrap_or_default(),
        hooks: json(r, c::Hooks.at())?.unwrap_or_default(),
        host: None,
        trigger,
        parent_run_id: r.int_opt(c::ParentRunId.at())?,
        depth: small(r.int(c::Depth.at())?, 0),
        attempt: small(r.int(c::Attempt.at())?, 1),
        retry_of: r.int_opt(c::RetryOf.at())?,
        control,
        paused_at: r.int_opt(c::PausedAt.at())?,
        prompt: r.text_opt(c::Prompt.at())?,
        env: json(r, c::Env.at())?.unwrap_or_default(),
        metadata: json(r, c::Metadata.at())?,
    })
}

/// What a run holds, in a row selected with [`HeldCol::LIST`].
pub(crate) fn held_of<C: Cells>(r: &C) -> Result<Held, C::Error> {
    use HeldCol as c;
    Ok(Held {
        status: status(r, c::Status.at(), &r.text(c::Status.at())?)?,
        agent: r.text_opt(c::Agent.at())?,
        model: r.text_opt(c::Model.at())?,
        cost_milli: r.int_opt(c::CostMilli.at())?,
        reserve_day: r.text_opt(c::ReserveDay.at())?,
        reserve_epoch: r.int_opt(c::ReserveEpoch.at())?.unwrap_or(0),
        unstarted: r.flag(c::Unstarted.at())?,
    })
}

/// A job's name and state, in a row selected with [`JobCol::LIST`].
pub(crate) fn job_state_of<C: Cells>(r: &C) -> Result<(String, JobState), C::Error> {
    use JobCol as c;
    Ok((
        r.text(c::Name.at())?,
        JobState {
            first_seen: r.int(c::FirstSeen.at())?,
            last_slot: r.int_opt(c::LastSlot.at())?,
            paused: r.flag(c::Paused.at())?,
            held: r.flag(c::Held.at())?,
        },
    ))
}

/// A scope's state, in a row selected with [`ScopeCol::LIST`].
pub(crate) fn scope_state_of<C: Cells>(r: &C) -> Result<ScopeState, C::Error> {
    use ScopeCol as c;
    Ok(ScopeState {
        agent: r.text(c::Agent.at())?,
        scope: r.text(c::Scope.at())?,
        enabled: r.flag(c::Enabled.at())?,
        reason: r.text_opt(c::Reason.at())?,
        disabled_at: r.int_opt(c::DisabledAt.at())?,
    })
}

/// A usage counter, in a row selected with [`UsageCol::LIST`].
pub(crate) fn usage_of<C: Cells>(r: &C) -> Result<Usage, C::Error> {
    use UsageCol as c;
    Ok(Usage {
        day: r.text(c::Day.at())?,
        used: r.int(c::Used.at())?,
        epoch: r.int(c::Epoch.at())?,
    })
}

/// The job, depth and slots taken, in a row selected with [`LoadCol::LIST`].
pub(crate) fn load_of<C: Cells>(r: &C) -> Result<(String, u32, u32), C::Error> {
    use LoadCol as c;
    Ok((
        r.text(c::Job.at())?,
        small(r.int(c::Depth.at())?, 0),
        small(r.int(c::Taken.at())?, 0),
    ))
}

/// The count in a row of [`RUN_COUNTS`]; `None` for a status jobctl doesn't know.
pub(crate) fn run_count_of<C: Cells>(r: &C) -> Result<Option<RunCount>, C::Error> {
    use CountCol as c;
    let Some(status) = RunStatus::parse(&r.text(c::Status.at())?) else {
        return Ok(None);
    };
    Ok(Some(RunCount {
        job: r.text(c::Job.at())?,
        status,
        count: r.int(c::Runs.at())?.max(0) as u64,
        duration_ms: r.int(c::Ms.at())?.max(0) as u64,
    }))
}

/// A stored answer, in a row selected with [`AnswerCol::LIST`].
pub(crate) fn answer_of<C: Cells>(r: &C) -> Result<StoredAnswer, C::Error> {
    use AnswerCol as c;
    Ok(StoredAnswer {
        request: r.text(c::Request.at())?,
        status: r.int(c::Status.at())?.clamp(0, i64::from(u16::MAX)) as u16,
        location: r.text_opt(c::Location.at())?,
        body: r.bytes(c::Body.at())?,
        at: r.int(c::At.at())?,
    })
}

/// The queue's head in a row of [`QUEUE_HEADS`].
pub(crate) fn head_of<C: Cells>(r: &C) -> Result<QueueHead, C::Error> {
    Ok(QueueHead {
        id: r.int(HeadCol::Id.at())?,
        job: r.text(HeadCol::Job.at())?,
        depth: small(r.int(HeadCol::Depth.at())?, 0),
        waiting: small(r.int(HeadCol::Waiting.at())?, 0),
    })
}

/// The event in a row selected with [`EventCol::LIST`].
pub(crate) fn event_of<C: Cells>(r: &C) -> Result<Event, C::Error> {
    use EventCol as c;
    let kind = r.text(c::Kind.at())?;
    let transition = match r.text_opt(c::ToStatus.at())? {
        None => None,
        Some(to) => Some(Transition {
            from: match r.text_opt(c::FromStatus.at())? {
                Some(from) => Some(status(r, c::FromStatus.at(), &from)?),
                None => None,
            },
            to: status(r, c::ToStatus.at(), &to)?,
            reason: r.text_opt(c::Reason.at())?,
            by: r
                .text_opt(c::Actor.at())?
                .as_deref()
                .and_then(Actor::parse)
                .unwrap_or(Actor::Supervisor),
        }),
    };
    let detail = r.text(c::Detail.at())?;
    Ok(Event {
        id: r.int(c::Id.at())?,
        at: r.int(c::At.at())?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| r.unknown(c::Kind.at(), format!("unknown event kind {kind:?}")))?,
        job: r.text_opt(c::Job.at())?,
        run_id: r.int_opt(c::RunId.at())?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        transition,
    })
}

#[cfg(test)]
mod tests;
