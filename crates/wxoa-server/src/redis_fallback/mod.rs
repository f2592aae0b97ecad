//! Serving through a Redis outage: whether Redis answers ([`RedisHealth`]), the background
//! probe that notices it is back, and the stores that fall back to this process and the SQL
//! store while it is down.
//!
//! A failed Redis command marks Redis down (one warning, `wxoa_redis_up` 0); from then on
//! pushes do not wait on Redis at all: dedup stays in this process (its in-memory table
//! already coalesces the platform's retries that reach this instance), and tokens, sessions
//! and parked results use the SQL store at `store.url`. Every use of a fallback is counted in
//! `wxoa_redis_fallback_total{use}`. A probe pings Redis every second while it is down (every
//! five while it is up, so an idle instance notices an outage too); the first answer marks it
//! up again (one info line, `wxoa_redis_up` 1) and the shared stores take over again. Results
//! parked in the SQL store meanwhile are still delivered.

mod dedup;
mod parking;
mod sessions;
mod tokens;
#[cfg(test)]
mod unreachable;

pub use self::dedup::FallbackDedup;
pub use self::parking::FallbackParking;
pub use self::sessions::FallbackSessions;
pub use self::tokens::FallbackTokens;

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wxoa_api::StoreError;
use wxoa_store::RedisStore;

/// 1 while Redis answers, 0 while this instance runs on its fallbacks.
pub const REDIS_UP: &str = "wxoa_redis_up";
/// Operations served by a fallback instead of Redis, by `use` (dedup, parking, token, session).
pub const REDIS_FALLBACKS: &str = "wxoa_redis_fallback_total";

/// How often the probe pings Redis while it is down.
pub const PROBE_EVERY_WHILE_DOWN: Duration = Duration::from_secs(1);
/// How often the probe pings Redis while it is up.
pub const PROBE_EVERY_WHILE_UP: Duration = Duration::from_secs(5);
/// How long one ping may take before it counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a fallback stood in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Dedup and coalescing across instances (now: this process only).
    Dedup,
    /// Parked results (now: the SQL store).
    Parking,
    /// The shared access_token (now: the SQL store).
    Token,
    /// Script sessions (now: the SQL store).
    Session,
}

impl Use {
    /// The `use` label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dedup => "dedup",
            Self::Parking => "parking",
            Self::Token => "token",
            Self::Session => "session",
        }
    }
}

/// Whether Redis answers, as the last command or probe found.
#[derive(Debug)]
pub struct RedisHealth {
    up: AtomicBool,
    /// When it went down, and why.
    down: Mutex<Option<(Instant, String)>>,
    /// Wakes the probe when a command fails.
    failed: Notify,
    /// The URL for messages (password redacted).
    url: String,
}

impl RedisHealth {
    /// Redis at `url` (redacted), taken to be up (it answered at start-up).
    #[must_use]
    pub fn new(url: &str) -> Self {
        metrics::gauge!(REDIS_UP).set(1.0);
        Self {
            up: AtomicBool::new(true),
            down: Mutex::new(None),
            failed: Notify::new(),
            url: url.to_owned(),
        }
    }

    /// Whether Redis is used right now.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// While Redis is down: what `/readyz` says about it.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        if self.is_up() {
            return None;
        }
        let down = self.down.lock().unwrap_or_else(PoisonError::into_inner);
        let (since, why) = down.as_ref()?;
        Some(format!(
            "redis {} unreachable for {} s ({why}): dedup in this process, tokens, sessions and parked results in store.url",
            self.url,
            since.elapsed().as_secs()
        ))
    }

    /// A command (`what`) failed: stop using Redis until the probe reaches it again.
    pub fn mark_down(&self, what: &str, error: &dyn Display) {
        if self.up.swap(false, Ordering::AcqRel) {
            *self.down.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((Instant::now(), format!("{what}: {error}")));
            metrics::gauge!(REDIS_UP).set(0.0);
            tracing::warn!(
                url = %self.url,
                what,
                error = %error,
                "redis unreachable: answering with local fallbacks (dedup in this process; tokens, sessions and parked results in store.url) until it answers again"
            );
            self.failed.notify_one();
        }
    }

    fn mark_up(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            let down = self
                .down
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let secs = down.map_or(0, |(since, _)| since.elapsed().as_secs());
            metrics::gauge!(REDIS_UP).set(1.0);
            tracing::info!(url = %self.url, down_secs = secs, "redis reachable again: shared dedup, tokens, sessions and parking back on redis");
        }
    }

    /// Count one use of a fallback.
    pub fn fell_back(&self, what: Use) {
        metrics::counter!(REDIS_FALLBACKS, "use" => what.as_str()).increment(1);
    }

    /// Runs `op` on Redis while it is up: its value, or `None` when Redis is down or `op`
    /// fails (which marks it down).
    pub async fn attempt<T>(
        &self,
        what: &str,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Option<T> {
        if !self.is_up() {
            return None;
        }
        match op.await {
            Ok(value) => Some(value),
            Err(e) => {
                self.mark_down(what, &e);
                None
            }
        }
    }
}

/// Pings `redis` in the background: every [`PROBE_EVERY_WHILE_UP`] while it answers, every
/// [`PROBE_EVERY_WHILE_DOWN`] (and at once after a failed command) while it does not. Stops
/// when `health` is dropped.
pub fn spawn_probe(health: &Arc<RedisHealth>, redis: RedisStore) -> tokio::task::JoinHandle<()> {
    let weak: Weak<RedisHealth> = Arc::downgrade(health);
    tokio::spawn(async move {
        loop {
            let Some(health) = weak.upgrade() else {
                return;
            };
            let every = if health.is_up() {
                PROBE_EVERY_WHILE_UP
            } else {
                PROBE_EVERY_WHILE_DOWN
            };
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = health.failed.notified() => {}
            }
            match tokio::time::timeout(PROBE_TIMEOUT, redis.ping()).await {
                Ok(Ok(())) => health.mark_up(),
                Ok(Err(e)) => health.mark_down("ping", &e),
                Err(_) => health.mark_down("ping", &"no answer within 2 s"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_command_marks_redis_down_and_skips_it_until_it_is_up() {
        let health = RedisHealth::new("redis://127.0.0.1:1");
        assert!(health.is_up());
        assert_eq!(health.problem(), None);
        let failed: Option<u8> = health
            .attempt("claim", async {
                Err(StoreError::msg("connection refused"))
            })
            .await;
        assert_eq!(failed, None);
        assert!(!health.is_up());
        let problem = health.problem().unwrap();
        assert!(
            problem.contains("redis://127.0.0.1:1")
                && problem.contains("claim: token store: connection refused"),
            "{problem}"
        );
        let ran = AtomicBool::new(false);
        let skipped: Option<u8> = health
            .attempt("claim", async {
                ran.store(true, Ordering::SeqCst);
                Ok(1)
            })
            .await;
        assert_eq!(skipped, None);
        assert!(!ran.load(Ordering::SeqCst), "not tried while down");
        health.mark_up();
        assert_eq!(health.attempt("claim", async { Ok(2) }).await, Some(2));
        assert_eq!(health.problem(), None);
    }
}
