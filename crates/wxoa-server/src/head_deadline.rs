//! The request-head deadline of a connection (`server.header_timeout_ms`): one timer a
//! connection instead of one a request.
//!
//! A connection that waits longer than the timeout for a complete request head (a slow client,
//! a slowloris, or a keep-alive connection left idle) is closed. The connection's service marks
//! each request as it starts and ends ([`Activity`], two plain stores a request); a check every
//! quarter of the timeout ([`head_deadline`]) closes the connection once no request has been in
//! flight and none has started for the whole timeout. A connection is thus closed between
//! 1 and 1.5 timeouts after it began waiting for a head (the wait is noticed at the next check),
//! and never while a request is being handled or its body read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

/// Requests started and finished on one connection.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Activity {
    /// A request head arrived and its handling starts.
    pub(crate) fn start(&self) {
        // One writer (the connection's task): a load and a store, no locked instruction.
        bump(&self.started);
    }

    /// The request's response is ready.
    pub(crate) fn finish(&self) {
        bump(&self.finished);
    }

    fn snapshot(&self) -> (u64, u64) {
        (
            self.started.load(Ordering::Relaxed),
            self.finished.load(Ordering::Relaxed),
        )
    }
}

fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// Completes once the connection has waited `timeout` for a request head (see the module
/// docs); never while a request is in flight.
pub(crate) async fn head_deadline(activity: &Activity, timeout: Duration) {
    let period = (timeout / 4).max(Duration::from_millis(1));
    let mut waiting_since = Instant::now();
    let mut checks = tokio::time::interval_at(waiting_since + period, period);
    checks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seen = activity.snapshot();
    loop {
        let now = checks.tick().await;
        let current = activity.snapshot();
        let (started, finished) = current;
        if current != seen || started != finished {
            // A request is in flight, or one came and went since the last check: the wait
            // for the next head began at most now.
            seen = current;
            waiting_since = now;
            continue;
        }
        if now.duration_since(waiting_since) >= timeout {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(8);

    /// How long `head_deadline` takes to complete while `during` runs beside it (paused time).
    async fn fires_after(activity: &Activity, during: impl Future<Output = ()>) -> Duration {
        let started = Instant::now();
        let deadline = head_deadline(activity, TIMEOUT);
        tokio::pin!(deadline);
        tokio::pin!(during);
        let mut during_done = false;
        loop {
            tokio::select! {
                biased;
                () = &mut deadline => return started.elapsed(),
                () = &mut during, if !during_done => during_done = true,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_no_head_is_closed_after_the_timeout() {
        let activity = Activity::default();
        let after = fires_after(&activity, async {}).await;
        assert!(after >= TIMEOUT && after <= TIMEOUT * 3 / 2, "{after:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_is_never_cut_and_the_wait_restarts_after_it() {
        let activity = Activity::default();
        let handling = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            activity.start();
            // A handler (or a body) far slower than the head timeout.
            tokio::time::sleep(TIMEOUT * 5).await;
            activity.finish();
        };
        let after = fires_after(&activity, handling).await;
        let finished_at = Duration::from_secs(1) + TIMEOUT * 5;
        assert!(
            after >= finished_at + TIMEOUT && after <= finished_at + TIMEOUT * 3 / 2,
            "{after:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_that_keep_coming_keep_the_connection() {
        let activity = Activity::default();
        let busy = async {
            for _ in 0..20 {
                tokio::time::sleep(TIMEOUT / 2).await;
                activity.start();
                activity.finish();
            }
        };
        let after = fires_after(&activity, busy).await;
        let last_request = TIMEOUT * 10;
        assert!(
            after >= last_request + TIMEOUT && after <= last_request + TIMEOUT * 3 / 2,
            "{after:?}"
        );
    }
}
