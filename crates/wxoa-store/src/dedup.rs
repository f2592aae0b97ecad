//! The [`SharedDedup`] contract: dedup and coalescing of pushes across processes and instances.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use wxoa_api::StoreError;

/// How often [`SharedDedup::wait`] looks at the entry again.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// What a delivery should do with its dedup key, as decided by [`SharedDedup::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupClaim {
    /// This delivery handles the push: it holds a lease on the key and must
    /// [`complete`](SharedDedup::complete) or [`abandon`](SharedDedup::abandon) it.
    First,
    /// Another delivery (process, instance) holds a live lease: [`wait`](SharedDedup::wait)
    /// for its answer.
    InFlight,
    /// The push was answered within the window: reply with this answer again.
    Done(String),
}

/// Dedup with coalescing shared by every process and instance on one store: the platform's
/// retries of a push (or the same push delivered to two instances) are handled once, and the
/// others get the same answer.
///
/// A claim is a lease: a holder that dies (a CGI process killed by the web server, a crashed
/// instance) stops blocking the key when its lease runs out, and the next retry handles the
/// push afresh. Keys are stored as their SHA-256, so they may be of any length. Answers are
/// opaque strings (the server stores JSON).
///
/// Implemented by [`SqlDedup`](crate::SqlDedup) (SQLite, PostgreSQL) and
/// [`RedisDedup`](crate::RedisDedup).
#[async_trait]
pub trait SharedDedup: Send + Sync + Debug {
    /// Claims `key` for `holder` (a name unique to this delivery, e.g. process id and a random
    /// suffix).
    ///
    /// - [`DedupClaim::First`]: nobody holds the key, its holder's lease ran out, or its answer
    ///   is older than `window`; `holder` now holds a lease of `lease`. Claiming again as the
    ///   same holder while the claim is pending also answers `First` and restarts the lease
    ///   (so a long handler can renew it).
    /// - [`DedupClaim::InFlight`]: another holder's lease is live.
    /// - [`DedupClaim::Done`]: the answer, stored less than `window` ago.
    ///
    /// Among any number of concurrent callers exactly one gets `First`.
    async fn claim(
        &self,
        key: &str,
        holder: &str,
        lease: Duration,
        window: Duration,
    ) -> Result<DedupClaim, StoreError>;

    /// Stores `answer` for `key` and ends `holder`'s lease; later claims within the window get
    /// [`DedupClaim::Done`], and [`wait`](SharedDedup::wait)ers return it.
    ///
    /// Returns whether the answer was stored: `false` when `holder` no longer holds the
    /// pending claim (another holder took it over after the lease ran out, it was abandoned
    /// or swept, or on Redis its lease expired).
    async fn complete(&self, key: &str, holder: &str, answer: &str) -> Result<bool, StoreError>;

    /// Gives up `holder`'s pending claim on `key` (the handler failed): the next delivery
    /// handles the push afresh and [`wait`](SharedDedup::wait)ers return `None`. Does nothing
    /// when `holder` does not hold a pending claim.
    async fn abandon(&self, key: &str, holder: &str) -> Result<(), StoreError>;

    /// Waits, polling every 50 ms, until `key` is answered and returns the answer; `None` when
    /// `timeout` passes first, or when the claim is gone (abandoned, or its lease ran out: the
    /// holder died).
    async fn wait(&self, key: &str, timeout: Duration) -> Result<Option<String>, StoreError>;

    /// Drops answers older than `window` and claims whose lease ran out; returns how many
    /// entries were removed. Call it now and then (the SQL backends keep entries until then;
    /// Redis expires them by itself and returns 0).
    async fn sweep(&self, window: Duration) -> Result<u64, StoreError>;
}

/// The stored form of a dedup key: its SHA-256 in lower-case hex.
pub(crate) fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// What one look at a dedup entry found.
#[derive(Debug)]
pub(crate) enum Probe {
    /// Answered.
    Done(String),
    /// Still being handled under a live lease.
    Pending,
    /// Abandoned, swept, or its lease ran out.
    Gone,
}

/// Calls `probe` every [`POLL_INTERVAL`] until it finds an answer or the claim gone, or
/// `timeout` passes (tokio time, so paused time in tests moves it).
pub(crate) async fn poll<F, Fut>(
    timeout: Duration,
    mut probe: F,
) -> Result<Option<String>, StoreError>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Result<Probe, StoreError>> + Send,
{
    let deadline = tokio::time::Instant::now().checked_add(timeout);
    loop {
        match probe().await? {
            Probe::Done(answer) => return Ok(Some(answer)),
            Probe::Gone => return Ok(None),
            Probe::Pending => {}
        }
        let pause = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                left.min(POLL_INTERVAL)
            }
            None => POLL_INTERVAL,
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn key_hash_is_sha256_hex() {
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(key_hash(&"k".repeat(10_000)).len(), 64);
    }

    #[tokio::test(start_paused = true)]
    async fn poll_returns_the_answer_once_found() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let started = tokio::time::Instant::now();
        let answer = poll(Duration::from_secs(5), move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(if n < 3 {
                    Probe::Pending
                } else {
                    Probe::Done("A".to_owned())
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(answer.as_deref(), Some("A"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(started.elapsed(), POLL_INTERVAL * 3);
    }

    #[tokio::test(start_paused = true)]
    async fn poll_gives_up_at_the_timeout_or_when_gone() {
        let started = tokio::time::Instant::now();
        let answer = poll(Duration::from_millis(120), || async { Ok(Probe::Pending) })
            .await
            .unwrap();
        assert_eq!(answer, None);
        assert_eq!(started.elapsed(), Duration::from_millis(120));

        let gone = poll(Duration::MAX, || async { Ok(Probe::Gone) })
            .await
            .unwrap();
        assert_eq!(gone, None);
    }

    #[tokio::test(start_paused = true)]
    async fn poll_passes_errors_on() {
        let err = poll(Duration::from_secs(1), || async {
            Err(StoreError::msg("down"))
        })
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), StoreError::msg("down").to_string());
    }
}
