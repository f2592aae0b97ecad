//! Script sessions in Redis, or in the SQL store while Redis is down.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use wxoa_api::StoreError;
use wxoa_store::SessionBackend;

use super::{RedisHealth, Use};

/// [`SessionBackend`] on Redis that loads and saves in the SQL store while Redis is down. A
/// session saved during an outage stays there: once Redis is back, scripts see the session
/// Redis held before (documented in docs/operations.md).
#[derive(Debug)]
pub struct FallbackSessions {
    redis: Arc<dyn SessionBackend>,
    local: Arc<dyn SessionBackend>,
    health: Arc<RedisHealth>,
}

impl FallbackSessions {
    /// `redis`, watched by `health`, with `local` standing in.
    #[must_use]
    pub fn new(
        redis: Arc<dyn SessionBackend>,
        local: Arc<dyn SessionBackend>,
        health: Arc<RedisHealth>,
    ) -> Self {
        Self {
            redis,
            local,
            health,
        }
    }
}

#[async_trait]
impl SessionBackend for FallbackSessions {
    async fn load_session(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Map<String, Value>, StoreError> {
        if let Some(session) = self
            .health
            .attempt("load session", self.redis.load_session(appid, openid))
            .await
        {
            return Ok(session);
        }
        self.health.fell_back(Use::Session);
        self.local.load_session(appid, openid).await
    }

    async fn save_session(
        &self,
        appid: &str,
        openid: &str,
        session: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        if self
            .health
            .attempt(
                "save session",
                self.redis.save_session(appid, openid, session),
            )
            .await
            .is_some()
        {
            return Ok(());
        }
        self.health.fell_back(Use::Session);
        self.local.save_session(appid, openid, session).await
    }

    async fn sweep_sessions(&self) -> Result<u64, StoreError> {
        let remote = self
            .health
            .attempt("sweep sessions", self.redis.sweep_sessions())
            .await
            .unwrap_or(0);
        Ok(remote + self.local.sweep_sessions().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis_fallback::unreachable::Unreachable;

    /// Sessions in memory, standing in for the SQL store.
    #[derive(Debug, Default)]
    struct Local(std::sync::Mutex<Map<String, Value>>);

    #[async_trait]
    impl SessionBackend for Local {
        async fn load_session(&self, _: &str, _: &str) -> Result<Map<String, Value>, StoreError> {
            Ok(self.0.lock().unwrap().clone())
        }
        async fn save_session(
            &self,
            _: &str,
            _: &str,
            session: &Map<String, Value>,
        ) -> Result<(), StoreError> {
            *self.0.lock().unwrap() = session.clone();
            Ok(())
        }
        async fn sweep_sessions(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn sessions_are_kept_locally_while_redis_is_down() {
        let health = Arc::new(RedisHealth::new("redis://127.0.0.1:1"));
        let sessions =
            FallbackSessions::new(Arc::new(Unreachable), Arc::new(Local::default()), health);
        let mut session = Map::new();
        session.insert("step".into(), Value::from(2));
        sessions.save_session("wx1", "o1", &session).await.unwrap();
        assert_eq!(sessions.load_session("wx1", "o1").await.unwrap(), session);
    }
}
