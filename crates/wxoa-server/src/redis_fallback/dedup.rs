//! Dedup shared through Redis, or kept in this process while Redis is down.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wxoa_api::StoreError;
use wxoa_store::{DedupClaim, SharedDedup};

use super::{RedisHealth, Use};

/// [`SharedDedup`] on Redis that never fails: while Redis is down every claim is `First`, so
/// the push is handled by this process, whose in-memory table still coalesces the platform's
/// retries that reach it (retries sent to another instance may be handled there again).
#[derive(Debug)]
pub struct FallbackDedup {
    redis: Arc<dyn SharedDedup>,
    health: Arc<RedisHealth>,
}

impl FallbackDedup {
    /// `redis`, watched by `health`.
    #[must_use]
    pub fn new(redis: Arc<dyn SharedDedup>, health: Arc<RedisHealth>) -> Self {
        Self { redis, health }
    }
}

#[async_trait]
impl SharedDedup for FallbackDedup {
    async fn claim(
        &self,
        key: &str,
        holder: &str,
        lease: Duration,
        window: Duration,
    ) -> Result<DedupClaim, StoreError> {
        let claimed = self
            .health
            .attempt("dedup claim", self.redis.claim(key, holder, lease, window))
            .await;
        Ok(claimed.unwrap_or_else(|| {
            self.health.fell_back(Use::Dedup);
            DedupClaim::First
        }))
    }

    async fn complete(&self, key: &str, holder: &str, answer: &str) -> Result<bool, StoreError> {
        let stored = self
            .health
            .attempt("dedup complete", self.redis.complete(key, holder, answer))
            .await;
        Ok(stored.unwrap_or(false))
    }

    async fn abandon(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let _ = self
            .health
            .attempt("dedup abandon", self.redis.abandon(key, holder))
            .await;
        Ok(())
    }

    async fn wait(&self, key: &str, timeout: Duration) -> Result<Option<String>, StoreError> {
        let answer = self
            .health
            .attempt("dedup wait", self.redis.wait(key, timeout))
            .await;
        Ok(answer.flatten())
    }

    async fn sweep(&self, window: Duration) -> Result<u64, StoreError> {
        let swept = self
            .health
            .attempt("dedup sweep", self.redis.sweep(window))
            .await;
        Ok(swept.unwrap_or(0))
    }
}
