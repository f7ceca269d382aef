//! Sleeping until a wall-clock instant, and no longer: the next slot of any job.
//!
//! On Linux the alarm is a `timerfd` on `CLOCK_REALTIME` set to the instant itself
//! (`TFD_TIMER_ABSTIME`), so it fires at that wall-clock time even when the machine slept
//! through part of the wait, and with `TFD_TIMER_CANCEL_ON_SET` it fires at once when the
//! clock is set (an NTP step, a manual change): the scheduler then ticks, as the timer's
//! next tick would, and the tick's repair and catch-up rules apply. Nothing wakes between
//! two slots. Elsewhere the wait is a monotonic sleep of at most a minute at a time, each
//! wake-up checking the wall clock.

use jiff::Timestamp;

/// Why the alarm went off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rang {
    /// The instant came.
    Due,
    /// The wall clock was set while waiting.
    ClockSet,
}

#[cfg(target_os = "linux")]
pub(super) use linux::Alarm;

#[cfg(target_os = "linux")]
mod linux {
    use std::os::fd::{AsFd, AsRawFd, RawFd};

    use jiff::Timestamp;
    use nix::errno::Errno;
    use nix::sys::time::TimeSpec;
    use nix::sys::timer::Expiration;
    use nix::sys::timerfd::{ClockId, TimerFd, TimerFlags, TimerSetTimeFlags};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    use super::Rang;

    pub(crate) struct Alarm {
        fd: AsyncFd<Timer>,
    }

    /// The timer, as the reactor sees it: its descriptor.
    struct Timer(TimerFd);

    impl AsRawFd for Timer {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    impl Alarm {
        pub(crate) fn new() -> std::io::Result<Alarm> {
            let fd = TimerFd::new(
                ClockId::CLOCK_REALTIME,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )?;
            // SAFETY: the descriptor is the timer's own, owned by it and so open, and the
            // same one, for as long as the `AsyncFd` holds the timer.
            let fd = unsafe { AsyncFd::register_with_interest(Timer(fd), Interest::READABLE) }
                .map_err(|e| e.into_parts().1)?;
            Ok(Alarm { fd })
        }

        /// Waits until `at` (at once when it has passed), or until the clock is set.
        pub(crate) async fn until(&mut self, at: Timestamp) -> std::io::Result<Rang> {
            // A zero it_value would disarm the timer: an instant at or before the epoch
            // is "now".
            let ns = at.as_nanosecond().max(1);
            let spec = TimeSpec::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64);
            self.fd.get_ref().0.set(
                Expiration::OneShot(spec),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET,
            )?;
            loop {
                let mut guard = self.fd.readable().await?;
                let mut buf = [0u8; 8];
                match nix::unistd::read(guard.get_inner().0.as_fd(), &mut buf) {
                    Ok(_) => return Ok(Rang::Due),
                    Err(Errno::ECANCELED) => return Ok(Rang::ClockSet),
                    Err(Errno::EAGAIN) => guard.clear_ready(),
                    Err(Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub use portable::Alarm;

#[cfg(not(target_os = "linux"))]
mod portable {
    use std::time::Duration;

    use jiff::Timestamp;

    use super::Rang;

    /// The longest monotonic sleep: how late a slot can be after the wall clock jumped.
    const STEP: Duration = Duration::from_secs(60);

    pub struct Alarm;

    impl Alarm {
        pub fn new() -> std::io::Result<Alarm> {
            Ok(Alarm)
        }

        pub async fn until(&mut self, at: Timestamp) -> std::io::Result<Rang> {
            loop {
                let left = at.duration_since(Timestamp::now());
                if left.is_negative() || left.is_zero() {
                    return Ok(Rang::Due);
                }
                let left = Duration::try_from(left).unwrap_or(STEP).min(STEP);
                tokio::time::sleep(left).await;
            }
        }
    }
}

/// Whether the wall clock moved other than with real time between two readings: a
/// suspend and resume, or a step the alarm could not see. `wall` and `mono` are the
/// readings at the start; a difference of more than `slack` counts.
pub(super) fn jumped(
    wall: Timestamp,
    mono: std::time::Instant,
    slack: std::time::Duration,
) -> Option<jiff::SignedDuration> {
    let wall_elapsed = Timestamp::now().duration_since(wall);
    let mono_elapsed = jiff::SignedDuration::try_from(mono.elapsed()).ok()?;
    let drift = wall_elapsed - mono_elapsed;
    (drift.unsigned_abs() > slack).then_some(drift)
}
