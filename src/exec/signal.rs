//! The signals jobctl reacts to, as typed [`Event`]s: installed here and nowhere else, and
//! delivered to the one place that waits for them in each kind of process.
//!
//! | process | SIGTERM, SIGINT, SIGHUP | SIGUSR1, SIGUSR2 |
//! |---|---|---|
//! | a run's supervisor (`supervise`, `force`, `ask`) | stop the run as a timeout does, record it `cancelled`, exit 128 + N | pause, resume: it reads what the run should be |
//! | `run --wait` | passed on to the supervisors it started (SIGINT as SIGINT, the others as SIGTERM), exit 128 + N | handled, and ignored |
//! | `serve` | SIGTERM, SIGINT: every answer ends, exit 0 (SIGHUP keeps its default) | default |
//! | `scheduler` | SIGTERM, SIGINT: start nothing more, exit 0; SIGHUP: load the config again | default |
//!
//! Every other command, and the tick without `--wait`, keeps the default dispositions. A
//! supervisor also listens to SIGCHLD: it is the reaper of the run's processes; so does
//! the scheduler, the reaper of the supervisors it starts (and, as a container's PID 1,
//! of every orphan).
//!
//! Handlers, never `SIG_IGN`: exec resets a handler to the default, so a job gets the
//! default dispositions, while an ignored signal would stay ignored in it. A detached
//! supervisor starts with the stop signals blocked (its starter blocks them before exec)
//! and `force` blocks them before it records its run: [`Listen::Supervisor`] unblocks them
//! once its handlers are in place, so one sent meanwhile waits for them instead of killing
//! jobctl and leaving the run `lost`. SIGPIPE stays ignored, as Rust sets it: a write to a
//! closed pipe fails where it is made (and std gives a spawned child the default back).
//!
//! What comes other than by signal (a stop, pause or resume asked on another host, which
//! the lease's keeper reads from the database) is sent through [`Requests`], and reaches
//! the handlers exactly as the signal does on one host: one sent before the first handler
//! listens waits for it (as a blocked signal does), later ones reach the handlers
//! listening at that moment.
//!
//! [`Listen::Nothing`] installs no handler: for tests, it yields requests only.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use anyhow::Context;
use nix::sys::signal::{SigSet, Signal};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast;
use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;

/// A signal that stops what jobctl does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGTERM: `jobctl cancel` on this host (and a stop asked on another), a shutdown.
    Term,
    /// SIGINT: Ctrl-C.
    Int,
    /// SIGHUP: the terminal closed, the ssh session dropped; nobody is left to see the
    /// run, and nothing may run on unsupervised.
    Hup,
}

impl Stop {
    pub(crate) fn signal(self) -> Signal {
        match self {
            Stop::Term => Signal::SIGTERM,
            Stop::Int => Signal::SIGINT,
            Stop::Hup => Signal::SIGHUP,
        }
    }
}

/// What jobctl reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// SIGTERM, SIGINT, SIGHUP; a stop asked through the lease comes as SIGTERM's.
    Stop(Stop),
    /// SIGUSR1: `jobctl pause` on this host.
    Pause,
    /// SIGUSR2: `jobctl resume` on this host.
    Resume,
    /// A pause or resume asked on another host (counted on the lease): which one, the
    /// run's record says.
    PauseOrResume,
    /// SIGCHLD: a child ended (or stopped).
    Child,
}

/// Which process listens, and so which signals it handles (the table above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listen {
    /// A run's supervisor: the stop signals, SIGUSR1, SIGUSR2 and SIGCHLD; then unblocks
    /// the stop signals.
    Supervisor,
    /// `run --wait`: the stop signals, and SIGUSR1 and SIGUSR2 so that a stray one doesn't
    /// end it and leave nobody to report the runs.
    TickWait,
    /// `serve`: SIGTERM and SIGINT.
    Server,
    /// `scheduler`: the stop signals (SIGHUP asks for a reload) and SIGCHLD.
    Scheduler,
    /// No handler at all: tests, and the scheduler beside `serve`, whose process the
    /// server's own handler already listens for.
    Nothing,
}

impl Listen {
    fn signals(self) -> Vec<(Signal, Event)> {
        use Signal::*;
        let stop = [
            (SIGTERM, Event::Stop(Stop::Term)),
            (SIGINT, Event::Stop(Stop::Int)),
            (SIGHUP, Event::Stop(Stop::Hup)),
        ];
        let control = [(SIGUSR1, Event::Pause), (SIGUSR2, Event::Resume)];
        match self {
            Listen::Supervisor => [&stop[..], &control, &[(SIGCHLD, Event::Child)]].concat(),
            Listen::TickWait => [&stop[..], &control].concat(),
            Listen::Server => stop[..2].to_vec(),
            Listen::Scheduler => [&stop[..], &[(SIGCHLD, Event::Child)]].concat(),
            Listen::Nothing => Vec::new(),
        }
    }
}

/// The events of one process, for the one place that waits for them.
pub(crate) struct Handler {
    signals: Vec<(Event, tokio::signal::unix::Signal)>,
    requests: Option<BroadcastStream<Event>>,
}

impl Handler {
    /// Installs the handlers of `listen` (in a tokio runtime's context): from now on those
    /// signals are this handler's events, and no longer end the process.
    pub(crate) fn install(listen: Listen) -> anyhow::Result<Handler> {
        let mut signals = Vec::new();
        for (sig, event) in listen.signals() {
            let s = signal(SignalKind::from_raw(sig as i32))
                .with_context(|| format!("can't handle {sig}"))?;
            signals.push((event, s));
        }
        if listen == Listen::Supervisor {
            stop_signals()
                .thread_unblock()
                .context("can't unblock the stop signals")?;
        }
        Ok(Handler {
            signals,
            requests: None,
        })
    }

    /// Also the requests sent through `r`: from now on, and, for the first handler of
    /// `r`, those sent before it.
    pub(crate) fn with_requests(mut self, r: &Requests) -> Handler {
        let first = r.first.lock().ok().and_then(|mut f| f.take());
        let rx = first.unwrap_or_else(|| r.tx.subscribe());
        self.requests = Some(BroadcastStream::new(rx));
        self
    }

    /// The next event. Pending for as long as none comes (for ever, with nothing to
    /// listen to).
    pub(crate) async fn recv(&mut self) -> Event {
        poll_fn(|cx| {
            for (event, s) in &mut self.signals {
                // `None`: the runtime is shutting down; nothing more comes from it.
                if let Poll::Ready(Some(())) = s.poll_recv(cx) {
                    return Poll::Ready(*event);
                }
            }
            if let Some(r) = &mut self.requests {
                // A listener too slow to keep up lost some: the next one still counts.
                while let Poll::Ready(Some(got)) = Pin::new(&mut *r).poll_next(cx) {
                    if let Ok(event) = got {
                        return Poll::Ready(event);
                    }
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// Where events that come other than by signal are sent: to every handler listening at
/// that moment (with [`Handler::with_requests`]), as a signal would be; before the first
/// one listens, kept for it, as a blocked signal is.
#[derive(Clone)]
pub(crate) struct Requests {
    tx: broadcast::Sender<Event>,
    /// Subscribed from the start, for the first handler.
    first: Arc<Mutex<Option<broadcast::Receiver<Event>>>>,
}

impl Default for Requests {
    fn default() -> Requests {
        let (tx, first) = broadcast::channel(16);
        Requests {
            tx,
            first: Arc::new(Mutex::new(Some(first))),
        }
    }
}

impl Requests {
    pub(crate) fn send(&self, event: Event) {
        // Nobody listening any more: lost, as the signal would be.
        let _ = self.tx.send(event);
    }
}

/// The signals that stop (or, their default action being to end the process, would
/// orphan) a run, and that are blocked until a supervisor's handlers are in place.
pub(crate) fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(s);
    }
    set
}

/// Holds back [`stop_signals`] in this thread: until a supervisor's handlers are
/// installed (a process about to record a run and supervise it: `jobctl force`), or for
/// good (a helper thread: the signals are for the supervising thread).
pub(crate) fn block_stop_signals() -> io::Result<()> {
    stop_signals().thread_block().map_err(io::Error::from)
}

/// The exit code of a jobctl that stopped its runs because of `sig`: 128 + N, as a shell
/// reports a process the signal ended (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
pub(crate) fn interrupted_exit(sig: Signal) -> u8 {
    128 + sig as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    async fn nothing_within_50ms(h: &mut Handler) {
        let got = tokio::time::timeout(Duration::from_millis(50), h.recv()).await;
        assert!(got.is_err(), "nothing was sent: {got:?}");
    }

    #[test]
    fn requests_reach_handlers_as_signals_would_even_one_that_installs_nothing() {
        runtime().block_on(async {
            let requests = Requests::default();
            // Before anyone listens: kept for the first handler, as a blocked signal is.
            requests.send(Event::Stop(Stop::Term));
            let mut first = Handler::install(Listen::Nothing)
                .unwrap()
                .with_requests(&requests);
            assert_eq!(first.recv().await, Event::Stop(Stop::Term));
            nothing_within_50ms(&mut first).await;
            let mut second = Handler::install(Listen::Nothing)
                .unwrap()
                .with_requests(&requests);
            requests.send(Event::PauseOrResume);
            assert_eq!(first.recv().await, Event::PauseOrResume);
            assert_eq!(second.recv().await, Event::PauseOrResume);
            // Once handlers have listened, one sent while none does is lost.
            drop((first, second));
            requests.send(Event::Stop(Stop::Int));
            let mut third = Handler::install(Listen::Nothing)
                .unwrap()
                .with_requests(&requests);
            nothing_within_50ms(&mut third).await;
            let mut deaf = Handler::install(Listen::Nothing).unwrap();
            nothing_within_50ms(&mut deaf).await;
        });
    }

    #[test]
    fn stops_are_their_signals_and_exit_as_a_shell_says() {
        let codes: Vec<(Signal, u8)> = [Stop::Term, Stop::Int, Stop::Hup]
            .iter()
            .map(|s| (s.signal(), interrupted_exit(s.signal())))
            .collect();
        assert_eq!(
            codes,
            [
                (Signal::SIGTERM, 143),
                (Signal::SIGINT, 130),
                (Signal::SIGHUP, 129)
            ]
        );
    }
}
