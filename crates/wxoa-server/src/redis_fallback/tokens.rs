//! The shared access_token in Redis, or in the SQL store while Redis is down.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wxoa_api::{CachedToken, StoreError, TokenStore};

use super::{RedisHealth, Use};

/// [`TokenStore`] on Redis that uses the SQL store while Redis is down: this host's
/// processes keep sharing one token (and one fetch lock and daily count) among themselves;
/// instances on other hosts do the same with theirs until Redis is back.
#[derive(Debug)]
pub struct FallbackTokens {
    redis: Arc<dyn TokenStore>,
    local: Arc<dyn TokenStore>,
    health: Arc<RedisHealth>,
}

impl FallbackTokens {
    /// `redis`, watched by `health`, with `local` standing in.
    #[must_use]
    pub fn new(
        redis: Arc<dyn TokenStore>,
        local: Arc<dyn TokenStore>,
        health: Arc<RedisHealth>,
    ) -> Self {
        Self {
            redis,
            local,
            health,
        }
    }

    fn local(&self) -> &dyn TokenStore {
        self.health.fell_back(Use::Token);
        self.local.as_ref()
    }
}

#[async_trait]
impl TokenStore for FallbackTokens {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, StoreError> {
        match self.health.attempt("token get", self.redis.get(key)).await {
            Some(token) => Ok(token),
            None => self.local().get(key).await,
        }
    }

    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), StoreError> {
        match self
            .health
            .attempt("token put", self.redis.put(key, token))
            .await
        {
            Some(()) => Ok(()),
            None => self.local().put(key, token).await,
        }
    }

    async fn expire_if(&self, key: &str, failed: &str) -> Result<bool, StoreError> {
        match self
            .health
            .attempt("token expire", self.redis.expire_if(key, failed))
            .await
        {
            Some(expired) => Ok(expired),
            None => self.local().expire_if(key, failed).await,
        }
    }

    async fn try_lock(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        match self
            .health
            .attempt("token lock", self.redis.try_lock(key, holder, ttl))
            .await
        {
            Some(locked) => Ok(locked),
            None => self.local().try_lock(key, holder, ttl).await,
        }
    }

    async fn unlock(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        // Both: the lock may have been taken on either side of a change of state.
        let _ = self
            .health
            .attempt("token unlock", self.redis.unlock(key, holder))
            .await;
        self.local.unlock(key, holder).await
    }

    async fn count_fetch(&self, key: &str, day: &str) -> Result<u64, StoreError> {
        match self
            .health
            .attempt("token count", self.redis.count_fetch(key, day))
            .await
        {
            Some(count) => Ok(count),
            None => self.local().count_fetch(key, day).await,
        }
    }

    async fn fetch_count(&self, key: &str, day: &str) -> Result<Option<u64>, StoreError> {
        match self
            .health
            .attempt("token count", self.redis.fetch_count(key, day))
            .await
        {
            Some(count) => Ok(count),
            None => self.local().fetch_count(key, day).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use wxoa_api::MemoryTokenStore;

    use super::*;
    use crate::redis_fallback::unreachable::Unreachable;

    #[tokio::test]
    async fn tokens_go_to_the_local_store_while_redis_is_down() {
        let health = Arc::new(RedisHealth::new("redis://127.0.0.1:1"));
        let local = Arc::new(MemoryTokenStore::new());
        let tokens = FallbackTokens::new(
            Arc::new(Unreachable),
            Arc::clone(&local) as Arc<dyn TokenStore>,
            Arc::clone(&health),
        );
        // The first command fails on Redis, marks it down, and is served locally.
        assert!(
            tokens
                .try_lock("k", "me", Duration::from_secs(5))
                .await
                .unwrap()
        );
        assert!(!health.is_up());
        let token = CachedToken::new("T1", 2_000_000_000);
        tokens.put("k", &token).await.unwrap();
        tokens.unlock("k", "me").await.unwrap();
        assert_eq!(tokens.get("k").await.unwrap(), Some(token.clone()));
        assert_eq!(local.get("k").await.unwrap(), Some(token));
        assert_eq!(tokens.count_fetch("k", "2026-01-01").await.unwrap(), 1);
    }
}
