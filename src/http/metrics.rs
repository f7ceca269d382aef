//! `GET /metrics`: Prometheus text. Runs by job and status with their durations, what runs
//! now, each agent's budget used against its limit, and the last tick's time; for a token
//! limited to some jobs, only theirs and the agents they use (`reach`).

use std::fmt::Write;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::auth::Need;
use super::reach::Reach;
use super::{ApiError, Shared};
use crate::core::run::RunStatus;
use crate::engine::views;

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[utoipa::path(
    get, path = "/metrics",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")),
    security(("bearer" = []))
)]
pub(crate) async fn metrics(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reach = Reach::new(&state.config(), &state.authorize(&headers, Need::Read)?);
    let (counts, status, last_tick) = state
        .engine(|e| {
            let counts = e.store.run_counts()?;
            let status = views::status(e)?;
            let tick = e.store.last_tick()?;
            Ok((counts, status, tick))
        })
        .await?;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP jobctl_runs Runs recorded, by job and status.");
    let _ = writeln!(out, "# TYPE jobctl_runs gauge");
    for c in counts.iter().filter(|c| reach.job(&c.job)) {
        let _ = writeln!(
            out,
            "jobctl_runs{{job=\"{}\",status=\"{}\"}} {}",
            label(&c.job),
            c.status,
            c.count
        );
    }
    let _ = writeln!(
        out,
        "# HELP jobctl_run_duration_seconds How long the ended runs of a job took."
    );
    let _ = writeln!(out, "# TYPE jobctl_run_duration_seconds summary");
    let mut per_job: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for c in counts
        .iter()
        .filter(|c| reach.job(&c.job) && c.status.is_end())
    {
        let e = per_job.entry(&c.job).or_default();
        e.0 += c.duration_ms;
        e.1 += c.count;
    }
    for (job, (ms, n)) in &per_job {
        let _ = writeln!(
            out,
            "jobctl_run_duration_seconds_sum{{job=\"{}\"}} {:.3}",
            label(job),
            *ms as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "jobctl_run_duration_seconds_count{{job=\"{}\"}} {n}",
            label(job)
        );
    }
    let _ = writeln!(out, "# HELP jobctl_runs_now Runs in a state right now.");
    let _ = writeln!(out, "# TYPE jobctl_runs_now gauge");
    let now = |s: RunStatus| {
        counts
            .iter()
            .filter(|c| c.status == s && reach.job(&c.job))
            .map(|c| c.count)
            .sum::<u64>()
    };
    for s in [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Paused,
        RunStatus::Retrying,
    ] {
        let _ = writeln!(out, "jobctl_runs_now{{status=\"{s}\"}} {}", now(s));
    }
    let _ = writeln!(
        out,
        "# HELP jobctl_budget_used Budget units an agent used today."
    );
    let _ = writeln!(out, "# TYPE jobctl_budget_used gauge");
    let _ = writeln!(out, "# HELP jobctl_budget_limit An agent's daily budget.");
    let _ = writeln!(out, "# TYPE jobctl_budget_limit gauge");
    let mut seen = std::collections::BTreeSet::new();
    for a in status.agents.iter().filter(|a| reach.agent(&a.agent)) {
        if seen.insert(a.agent.clone()) {
            let _ = writeln!(
                out,
                "jobctl_budget_used{{agent=\"{}\"}} {}",
                label(&a.agent),
                a.used
            );
            let _ = writeln!(
                out,
                "jobctl_budget_limit{{agent=\"{}\"}} {}",
                label(&a.agent),
                a.budget
            );
        }
    }
    if let Some(t) = last_tick {
        let _ = writeln!(
            out,
            "# HELP jobctl_last_tick_timestamp_seconds When the last tick ran."
        );
        let _ = writeln!(out, "# TYPE jobctl_last_tick_timestamp_seconds gauge");
        let _ = writeln!(
            out,
            "jobctl_last_tick_timestamp_seconds {:.3}",
            t.as_millisecond() as f64 / 1000.0
        );
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
