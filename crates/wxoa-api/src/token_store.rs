//! The storage a token provider shares with other processes: the `TokenStore` contract and the in-process `MemoryTokenStore`.
//!
//! Every process (or host) that uses one account's credentials must see the same token, or
//! each fetch would invalidate the others' token (PROTOCOL §11 #18). A backend provides five
//! primitives: read, write, compare-and-expire, a lock with a time-to-live, and a per-day
//! fetch counter. `wxoa-store` implements them on SQLite (one host) and Redis (many hosts);
//! [`MemoryTokenStore`] implements them for a single process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A cached credential (access_token or jsapi_ticket).
///
/// `Debug` shows only the first 6 characters of `value`; serde writes it whole (for `wxoa token
/// --json` and for backends that store JSON).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedToken {
    /// The token itself.
    pub value: String,
    /// Unix seconds at which the platform stops accepting it.
    pub expires_at: i64,
}

impl CachedToken {
    /// A token `value` that expires at `expires_at` (Unix seconds).
    #[must_use]
    pub fn new(value: impl Into<String>, expires_at: i64) -> Self {
        Self {
            value: value.into(),
            expires_at,
        }
    }

    /// Whether the platform still accepts it at `now` (Unix seconds).
    #[must_use]
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.expires_at > now
    }

    /// Seconds left at `now`, never negative.
    #[must_use]
    pub fn remaining_secs(&self, now: i64) -> i64 {
        (self.expires_at - now).max(0)
    }

    /// The first 6 characters followed by `…`, safe to log.
    #[must_use]
    pub fn redacted(&self) -> String {
        let head: String = self.value.chars().take(6).collect();
        format!("{head}…")
    }
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("value", &self.redacted())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Error from a token store backend (SQLite, Redis, ...).
#[derive(Debug, thiserror::Error)]
#[error("token store: {0}")]
pub struct StoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wrap a backend error.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(e.into())
    }

    /// An error with only a message.
    #[must_use]
    pub fn msg(message: &str) -> Self {
        Self(message.into())
    }
}

/// Storage shared by every process that uses one account's credentials.
///
/// Keys are built by the provider: `"{appid}:stable_token"` (stable_token mode),
/// `"{appid}:access_token"` (classic `/cgi-bin/token`) and `"{appid}:jsapi_ticket"`.
/// The lock for a key is independent of the token stored under the same key.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored token for `key`, if any (expired or not; the caller decides).
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, StoreError>;
    /// Store `token` for `key` (called by the lock holder after a fetch).
    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), StoreError>;
    /// Expire the stored token only if its value is still `failed` (compare-and-expire). Returns whether it expired it.
    async fn expire_if(&self, key: &str, failed: &str) -> Result<bool, StoreError>;
    /// Try to become the one fetcher for `key`: succeeds if no live lock exists (a lock older than `ttl` is dead).
    async fn try_lock(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Release the lock if `holder` still holds it.
    async fn unlock(&self, key: &str, holder: &str) -> Result<(), StoreError>;
    /// Add one to the fetch counter of `key` for `day` ("YYYY-MM-DD", Beijing time) and return the new count.
    async fn count_fetch(&self, key: &str, day: &str) -> Result<u64, StoreError>;
    /// How many fetches were counted for `key` on `day`, without counting one (what a
    /// dashboard shows). `None` when the backend cannot tell (the default).
    async fn fetch_count(&self, key: &str, day: &str) -> Result<Option<u64>, StoreError> {
        let _ = (key, day);
        Ok(None)
    }
}

/// A [`TokenStore`] in process memory: shares tokens between the clients of one process only.
///
/// Lock ages are measured with tokio's clock, so paused-time tests can expire a lock
/// instantly. Expiring a token sets its `expires_at` to 0 and keeps its value.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    tokens: HashMap<String, CachedToken>,
    locks: HashMap<String, (String, tokio::time::Instant)>,
    counters: HashMap<(String, String), u64>,
}

impl MemoryTokenStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, MemoryState> {
        // The critical sections below cannot leave the maps half-updated, so a poisoned
        // lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryTokenStore {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, StoreError> {
        Ok(self.state().tokens.get(key).cloned())
    }

    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), StoreError> {
        self.state().tokens.insert(key.to_owned(), token.clone());
        Ok(())
    }

    async fn expire_if(&self, key: &str, failed: &str) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.tokens.get_mut(key) {
            Some(t) if t.value == failed && t.expires_at != 0 => {
                t.expires_at = 0;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn try_lock(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = tokio::time::Instant::now();
        let mut state = self.state();
        if let Some((current, since)) = state.locks.get(key) {
            let live = now.saturating_duration_since(*since) < ttl;
            if live && current != holder {
                return Ok(false);
            }
        }
        state.locks.insert(key.to_owned(), (holder.to_owned(), now));
        Ok(true)
    }

    async fn unlock(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.locks.get(key).is_some_and(|(h, _)| h == holder) {
            state.locks.remove(key);
        }
        Ok(())
    }

    async fn count_fetch(&self, key: &str, day: &str) -> Result<u64, StoreError> {
        let mut state = self.state();
        let n = state
            .counters
            .entry((key.to_owned(), day.to_owned()))
            .or_insert(0);
        *n += 1;
        Ok(*n)
    }

    async fn fetch_count(&self, key: &str, day: &str) -> Result<Option<u64>, StoreError> {
        let state = self.state();
        Ok(Some(
            state
                .counters
                .get(&(key.to_owned(), day.to_owned()))
                .copied()
                .unwrap_or(0),
        ))
    }
}

/// A contract test for [`TokenStore`] backends (feature `test-util`).
#[cfg(any(test, feature = "test-util"))]
pub mod conformance {
    use std::time::Duration;

    use rand::Rng;

    use super::{CachedToken, TokenStore};

    /// Check that `store` keeps the [`TokenStore`] contract; panics naming the broken rule.
    ///
    /// Uses fresh random keys, so it can run against a persistent backend repeatedly. Lock
    /// expiry (ttl) is not checked here because it needs the backend's own clock to move;
    /// test it in the backend's own tests.
    pub async fn check_token_store(store: &dyn TokenStore) {
        let run: u64 = rand::rng().random();
        let key = format!("conformance-{run:016x}:access_token");
        let other = format!("conformance-{run:016x}:jsapi_ticket");
        let ttl = Duration::from_secs(30);

        assert_eq!(
            store.get(&key).await.expect("get"),
            None,
            "get of an unknown key must be None"
        );

        let t1 = CachedToken::new("TOKEN-ONE-0123456789", 2_000_000_000);
        store.put(&key, &t1).await.expect("put");
        assert_eq!(
            store.get(&key).await.expect("get"),
            Some(t1.clone()),
            "get must return what put stored"
        );
        assert_eq!(
            store.get(&other).await.expect("get"),
            None,
            "keys must be independent"
        );

        assert!(
            !store
                .expire_if(&key, "SOMETHING-ELSE")
                .await
                .expect("expire_if"),
            "expire_if with a value that is not stored must not expire"
        );
        assert_eq!(
            store.get(&key).await.expect("get"),
            Some(t1.clone()),
            "a refused expire_if must not change the token"
        );

        let t2 = CachedToken::new("TOKEN-TWO-9876543210", 2_000_000_100);
        store.put(&key, &t2).await.expect("put");
        assert_eq!(
            store.get(&key).await.expect("get"),
            Some(t2.clone()),
            "put must overwrite"
        );
        assert!(
            !store.expire_if(&key, &t1.value).await.expect("expire_if"),
            "a stale failure must not expire a newer token"
        );
        assert!(
            store.expire_if(&key, &t2.value).await.expect("expire_if"),
            "expire_if of the stored value must expire it"
        );
        let after = store.get(&key).await.expect("get");
        assert!(
            after.as_ref().is_none_or(|t| t.expires_at <= 1_000_000_000),
            "an expired token must read back as absent or expired, got {after:?}"
        );

        assert!(
            store
                .try_lock(&key, "holder-a", ttl)
                .await
                .expect("try_lock"),
            "a free lock must be taken"
        );
        assert!(
            !store
                .try_lock(&key, "holder-b", ttl)
                .await
                .expect("try_lock"),
            "a live lock must refuse another holder"
        );
        assert!(
            store
                .try_lock(&other, "holder-b", ttl)
                .await
                .expect("try_lock"),
            "locks of other keys must be independent"
        );
        store.unlock(&key, "holder-b").await.expect("unlock");
        assert!(
            !store
                .try_lock(&key, "holder-b", ttl)
                .await
                .expect("try_lock"),
            "unlock by a non-holder must not release the lock"
        );
        store.unlock(&key, "holder-a").await.expect("unlock");
        assert!(
            store
                .try_lock(&key, "holder-b", ttl)
                .await
                .expect("try_lock"),
            "unlock by the holder must release the lock"
        );
        store.unlock(&key, "holder-b").await.expect("unlock");
        store.unlock(&other, "holder-b").await.expect("unlock");

        assert_eq!(
            store.count_fetch(&key, "2024-03-01").await.expect("count"),
            1
        );
        assert_eq!(
            store.count_fetch(&key, "2024-03-01").await.expect("count"),
            2,
            "count_fetch must add one"
        );
        assert_eq!(
            store.count_fetch(&key, "2024-03-02").await.expect("count"),
            1,
            "each day must count on its own"
        );
        assert_eq!(
            store
                .count_fetch(&other, "2024-03-01")
                .await
                .expect("count"),
            1,
            "each key must count on its own"
        );
        if let Some(count) = store.fetch_count(&key, "2024-03-01").await.expect("read") {
            assert_eq!(count, 2, "fetch_count must read what count_fetch counted");
            assert_eq!(
                store.fetch_count(&key, "2024-03-01").await.expect("read"),
                Some(2),
                "fetch_count must not count"
            );
            assert_eq!(
                store.fetch_count(&key, "1999-01-01").await.expect("read"),
                Some(0),
                "a day without fetches reads 0"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_keeps_the_contract() {
        conformance::check_token_store(&MemoryTokenStore::new()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn memory_lock_dies_after_ttl() {
        let s = MemoryTokenStore::new();
        let ttl = Duration::from_secs(10);
        assert!(s.try_lock("k", "a", ttl).await.unwrap());
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!s.try_lock("k", "b", ttl).await.unwrap());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            s.try_lock("k", "b", ttl).await.unwrap(),
            "a lock as old as its ttl is dead"
        );
        assert!(!s.try_lock("k", "a", ttl).await.unwrap());
    }

    #[test]
    fn debug_redacts_the_value() {
        let t = CachedToken::new("ABCDEFGHIJKLMNOP", 5);
        let shown = format!("{t:?}");
        assert!(shown.contains("ABCDEF…"), "{shown}");
        assert!(!shown.contains("GHIJ"), "{shown}");
        // Multi-byte characters are cut on a char boundary.
        assert_eq!(
            CachedToken::new("令牌令牌令牌令牌", 0).redacted(),
            "令牌令牌令牌…"
        );
    }

    #[test]
    fn store_error_constructors_keep_the_message() {
        assert_eq!(
            StoreError::msg("disk full").to_string(),
            "token store: disk full"
        );
        let io = std::io::Error::other("locked");
        assert_eq!(StoreError::new(io).to_string(), "token store: locked");
    }

    #[test]
    fn serde_round_trip_keeps_the_value() {
        let t = CachedToken::new("VALUE", 42);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"value":"VALUE","expires_at":42}"#);
        assert_eq!(serde_json::from_str::<CachedToken>(&json).unwrap(), t);
    }

    #[test]
    fn validity_and_remaining() {
        let t = CachedToken::new("x", 100);
        assert!(t.is_valid_at(99));
        assert!(!t.is_valid_at(100));
        assert_eq!(t.remaining_secs(40), 60);
        assert_eq!(t.remaining_secs(400), 0);
    }
}
