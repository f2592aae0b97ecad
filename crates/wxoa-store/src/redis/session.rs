//! Per-follower sessions on Redis: a JSON string per follower that expires after its ttl.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use serde_json::{Map, Value};
use wxoa_api::StoreError;

use crate::error::DataError;
use crate::redis::{fail, px};
use crate::session::{DEFAULT_SESSION_TTL, SessionBackend};

/// [`SessionBackend`] on Redis: `{prefix}session:{appid}:{openid}` holds the map as JSON and
/// expires its ttl (default [`DEFAULT_SESSION_TTL`]) after the last save.
#[derive(Debug, Clone)]
pub struct RedisSessions {
    conn: ConnectionManager,
    prefix: Arc<str>,
    ttl: Duration,
}

impl RedisSessions {
    pub(crate) fn new(conn: ConnectionManager, prefix: Arc<str>) -> Self {
        Self {
            conn,
            prefix,
            ttl: DEFAULT_SESSION_TTL,
        }
    }

    /// Lets sessions live `ttl` after their last save instead of [`DEFAULT_SESSION_TTL`].
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    fn session_key(&self, appid: &str, openid: &str) -> String {
        format!("{}session:{appid}:{openid}", self.prefix)
    }
}

#[async_trait]
impl SessionBackend for RedisSessions {
    async fn load_session(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Map<String, Value>, StoreError> {
        let key = self.session_key(appid, openid);
        let text: Option<String> = ::redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(fail("load_session", &key))?;
        match text {
            None => Ok(Map::new()),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| DataError::store_error("redis", "load_session", &key, e)),
        }
    }

    async fn save_session(
        &self,
        appid: &str,
        openid: &str,
        session: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        let key = self.session_key(appid, openid);
        if session.is_empty() {
            let _: i64 = ::redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(fail("save_session", &key))?;
            return Ok(());
        }
        // A map of JSON values always serialises.
        let text = Value::Object(session.clone()).to_string();
        let _: () = ::redis::cmd("SET")
            .arg(&key)
            .arg(text)
            .arg("PX")
            .arg(px(self.ttl))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(fail("save_session", &key))?;
        Ok(())
    }

    /// Redis expires sessions by itself: nothing to do.
    async fn sweep_sessions(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
