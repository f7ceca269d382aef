//! A job's run-control keys (`retries`, `retry_backoff`, `retry_backoff_max`,
//! `retry_on`, `needs`, `concurrency`, `children`, `tree_budget`, `max_pause`), and the
//! checks of `needs` across the file: every name a job of it, no schedule beside it, no
//! cycle.

use std::collections::BTreeMap;
use std::time::Duration;

use super::jobs::span_of;
use super::walk::{Ctx, Table};
use super::{Job, JobControl, RetryOn};
use crate::core::run::{ChildPolicy, RunStatus};
use crate::core::units;

/// The run-control keys (docs/run-control.md); what is wrong is recorded, the default kept.
pub(super) fn job_control(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> JobControl {
    let mut c = JobControl::default();
    if let Some(n) = t.int(ctx, "retries", 0) {
        c.retries = n.min(1000) as u32;
    }
    if let Some(d) = t.duration(ctx, "retry_backoff", Duration::ZERO) {
        c.retry_backoff = d;
    }
    if let Some(d) = t.duration(ctx, "retry_backoff_max", Duration::ZERO) {
        c.retry_backoff_max = d;
    }
    if let Some(list) = t.strings(ctx, "retry_on") {
        let mut on = RetryOn {
            failed: false,
            timed_out: false,
        };
        for s in &list {
            match RunStatus::parse(s) {
                Some(RunStatus::Failed) => on.failed = true,
                Some(RunStatus::TimedOut) => on.timed_out = true,
                _ => ctx.err(
                    span_of(t, "retry_on"),
                    &t.key_path("retry_on"),
                    format!(
                        "expected \"failed\" or \"timed_out\", found {s:?} (skipped, cancelled and lost runs are never retried)"
                    ),
                ),
            }
        }
        c.retry_on = on;
    }
    if let Some(needs) = t.strings(ctx, "needs") {
        c.needs = needs;
    }
    if let Some(n) = t.int(ctx, "concurrency", 1) {
        c.concurrency = n.min(1000) as u32;
    }
    match t.str(ctx, "children").as_deref() {
        None => {}
        Some("cancel") => c.children = ChildPolicy::Cancel,
        Some("abandon") => c.children = ChildPolicy::Abandon,
        Some(other) => ctx.err(
            span_of(t, "children"),
            &t.key_path("children"),
            format!("expected \"cancel\" or \"abandon\", found {other:?}"),
        ),
    }
    c.tree_budget_milli = t.number(ctx, "tree_budget").map(units::to_milli);
    c.max_pause = t.duration(ctx, "max_pause", Duration::from_secs(1));
    c
}

/// `needs` across the jobs of the file: every name a job of it, no schedule beside it, and
/// no cycle (each one reported once, naming its jobs in order).
pub(super) fn check_needs(
    ctx: &mut Ctx<'_>,
    jobs_t: &Table<'_, '_>,
    jobs: &BTreeMap<String, Box<Job>>,
) {
    let needs_span = |name: &str| match jobs_t.get(name).map(|v| v.get_ref()) {
        Some(toml::de::DeValue::Table(jt)) => jt.get("needs").map(|v| v.span()),
        _ => None,
    };
    for (name, job) in jobs {
        let Some(span) = needs_span(name) else {
            continue;
        };
        let key = format!("jobs.{name}.needs");
        if job.schedule.is_some() {
            ctx.err(
                span.clone(),
                &key,
                "a job with needs runs when they have succeeded and has no schedule of its own; remove every/at/cron or needs",
            );
        }
        for n in &job.control().needs {
            if !jobs.contains_key(n) {
                ctx.err(
                    span.clone(),
                    &key,
                    format!("{n:?} is not a job of this file"),
                );
            }
        }
    }
    let mut reported: Vec<Vec<String>> = Vec::new();
    for start in jobs.keys() {
        if let Some(cycle) = cycle_from(start, jobs) {
            let mut members = cycle[..cycle.len() - 1].to_vec();
            members.sort();
            if reported.contains(&members) {
                continue;
            }
            reported.push(members);
            let span = needs_span(start).unwrap_or(jobs_t.span.clone());
            ctx.err(
                span,
                &format!("jobs.{start}.needs"),
                format!("a dependency cycle: {}", cycle.join(" → ")),
            );
        }
    }
}

/// The cycle through `start`, if its needs lead back to it: `[start, .., start]`.
fn cycle_from(start: &str, jobs: &BTreeMap<String, Box<Job>>) -> Option<Vec<String>> {
    fn walk(
        at: &str,
        start: &str,
        jobs: &BTreeMap<String, Box<Job>>,
        path: &mut Vec<String>,
        seen: &mut std::collections::HashSet<String>,
    ) -> bool {
        let Some(job) = jobs.get(at) else {
            return false;
        };
        for n in &job.control().needs {
            if n == start {
                path.push(n.clone());
                return true;
            }
            if seen.insert(n.clone()) {
                path.push(n.clone());
                if walk(n, start, jobs, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = std::collections::HashSet::new();
    walk(start, start, jobs, &mut path, &mut seen).then_some(path)
}
