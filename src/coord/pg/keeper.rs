//! A supervisor's lease keeper: the thread that renews the lease on a connection of its
//! own, looks for stop, pause and resume requests, rides out outages shorter than the
//! lease, and reports what it learns over a channel. Apart from `pg.rs`, which takes,
//! hands over and releases leases in single statements.

use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::types::Type;

use super::{Ctx, STOP_POLL};
use crate::coord::LeaseNews;
use crate::core::error::Result;
use crate::store::postgres::{DB_NOW_MS, reconnect};

/// The thread that renews a supervisor's lease and looks for requests, on a connection of
/// its own (the supervisor's may be busy, or waiting out an outage), and reports what it
/// learns over a channel (it ends, and the channel closes, when the lease is released).
///
/// It outlives outages shorter than the lease: a failed renewal or look is tried again
/// with the backoff of [`reconnect`] (on a new connection), and the first to succeed
/// renews. It gives the lease up (and its run with it) only when no renewal has succeeded
/// for a whole lease, counted from when the last one that did was sent, so never after
/// the database's expiry of it. Every statement it makes, connecting included, has a
/// deadline (`limit`): a network that drops packets, a pooler that has no server to give,
/// a lock held by a transaction cut off mid-way can't keep it from noticing that.
pub(super) struct Keeper {
    done: Option<tokio::sync::oneshot::Sender<()>>,
    thread: JoinHandle<()>,
}

impl Keeper {
    pub(super) fn start(ctx: Ctx, key: String, epoch: i64, news: Sender<LeaseNews>) -> Keeper {
        let (done, stop) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(keep(ctx, key, epoch, &news, stop)),
                // Nothing would renew the lease: the run can't be kept.
                Err(e) => {
                    tracing::error!("can't start the lease's keeper: {e}");
                    let _ = news.send(LeaseNews::Lost);
                }
            }
        });
        Keeper {
            done: Some(done),
            thread,
        }
    }

    pub(super) fn stop(mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        let _ = self.thread.join();
    }
}

/// How often a lease is renewed: a tenth of it (at most as often as requests are looked
/// for), so an outage of up to nine tenths of it is outlived whenever it falls.
fn renew_every(lease: Duration) -> Duration {
    (lease / 10).max(STOP_POLL)
}

/// The deadline of each of the keeper's statements (connecting included): an eighth of
/// the lease, from twice the backoff's first wait up to its longest.
fn keeper_limit(lease: Duration) -> Duration {
    (lease / 8).clamp(2 * reconnect::FIRST_RETRY, reconnect::MAX_RETRY)
}

/// The keeper's longest wait between two tries in an outage: the backoff's, or a tenth
/// of a short lease, so that once the database is back the lease is renewed well before
/// it would expire.
fn keeper_retry_cap(lease: Duration) -> Duration {
    (lease / 10).clamp(reconnect::FIRST_RETRY, reconnect::MAX_RETRY)
}

/// The keeper's loop, until `stop` or the lease is lost.
async fn keep(
    ctx: Ctx,
    key: String,
    epoch: i64,
    news: &Sender<LeaseNews>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let limit = keeper_limit(ctx.lease);
    let mut client: Option<tokio_postgres::Client> = None;
    // The lease was taken (or adopted) just before: its expiry is no earlier than now.
    let mut renewed = Instant::now();
    let mut renew_due = Instant::now();
    let mut outage: Option<reconnect::Outage> = None;
    let mut stop_told = false;
    // Pause and resume requests seen: each new one is passed on (the supervisor reads
    // what the run should be, so one too many changes nothing).
    let mut nudges_seen = 0i64;
    loop {
        let deadline = renewed + ctx.lease;
        let pause = match outage.as_mut() {
            None => STOP_POLL,
            Some(o) => o
                .next_wait()
                .min(keeper_retry_cap(ctx.lease))
                .min(deadline.saturating_duration_since(Instant::now())),
        };
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(pause) => {}
        }
        let renew = Instant::now() >= renew_due;
        let sent = Instant::now();
        let answer =
            tokio::time::timeout(limit, look(&mut client, &ctx, limit, &key, epoch, renew)).await;
        match answer {
            Ok(Ok(Some((stop_requested, nudges)))) => {
                if renew {
                    renewed = sent;
                    renew_due = sent + renew_every(ctx.lease);
                }
                if let Some(o) = outage.take() {
                    tracing::info!(
                        lease = %key,
                        "the lease's keeper reached the state database again after {:.1} s",
                        o.lasted().as_secs_f64()
                    );
                }
                // Told once per request: the flag clears when a retry takes the
                // lease, and the retry can be stopped in its turn.
                match (stop_requested, stop_told) {
                    (true, false) => {
                        stop_told = true;
                        let _ = news.send(LeaseNews::StopRequested);
                    }
                    (false, true) => stop_told = false,
                    _ => {}
                }
                if nudges > nudges_seen {
                    nudges_seen = nudges;
                    let _ = news.send(LeaseNews::ControlRequested);
                }
            }
            Ok(Ok(None)) => {
                let _ = news.send(LeaseNews::Lost);
                return;
            }
            failed => {
                client = None;
                // Back, the first thing is a renewal.
                renew_due = Instant::now();
                if outage.is_none() {
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => format!("no answer within {} s", limit.as_secs_f64()),
                    };
                    tracing::warn!(lease = %key, "the lease's keeper can't reach the state database ({why}); retrying");
                    outage = Some(reconnect::Outage::begin());
                }
                // Not renewed for a whole lease: another host may take it over now.
                if renewed.elapsed() >= ctx.lease {
                    let _ = news.send(LeaseNews::Lost);
                    return;
                }
            }
        }
    }
}

/// One look at the lease (a renewal with `renew`): whether a stop is asked and how many
/// pause and resume requests were made, or `None` when it is no longer this process's.
async fn look(
    client: &mut Option<tokio_postgres::Client>,
    ctx: &Ctx,
    limit: Duration,
    key: &str,
    epoch: i64,
    renew: bool,
) -> Result<Option<(bool, i64)>> {
    if client.as_ref().is_none_or(|c| c.is_closed()) {
        *client = Some(crate::store::postgres::connect_async(&ctx.url, &ctx.host, limit).await?);
    }
    let Some(c) = client.as_ref() else {
        return Ok(None);
    };
    let sql = if renew {
        format!(
            "UPDATE leases SET expires_at = {DB_NOW_MS} + $4 WHERE key = $1 AND epoch = $2 AND host = $3 \
             RETURNING stop_requested, nudges"
        )
    } else {
        "SELECT stop_requested, nudges FROM leases WHERE key = $1 AND epoch = $2 AND host = $3 AND $4::bigint IS NOT NULL"
            .to_string()
    };
    let ms = ctx.lease_ms();
    let row = c
        .query_typed_opt(
            &sql,
            &[
                (&key, Type::TEXT),
                (&epoch, Type::INT8),
                (&ctx.host, Type::TEXT),
                (&ms, Type::INT8),
            ],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}
