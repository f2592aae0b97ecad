//! Per-follower sessions on SQLite / PostgreSQL: one `sessions` row per account and follower.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use wxoa_api::{Clock, StoreError};

use crate::error::DataError;
use crate::session::{DEFAULT_SESSION_TTL, SessionBackend};
use crate::sql::{Db, SqlClock, op_error, secs, with_pool};

const LOAD: &str = "SELECT data FROM sessions WHERE appid = $1 AND openid = $2 AND updated_at > $3";

const SAVE: &str = "INSERT INTO sessions (appid, openid, data, updated_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (appid, openid) DO UPDATE SET data = excluded.data, \
     updated_at = excluded.updated_at";

const DELETE: &str = "DELETE FROM sessions WHERE appid = $1 AND openid = $2";

const SWEEP: &str = "DELETE FROM sessions WHERE updated_at <= $1";

/// [`SessionBackend`] in the SQL database: a `sessions` row per account and follower holding
/// the map as JSON text, stamped with the time of the last save.
///
/// A session idle for its ttl (default [`DEFAULT_SESSION_TTL`]) reads as empty;
/// [`SessionBackend::sweep_sessions`] deletes such rows.
#[derive(Debug, Clone)]
pub struct SqlSessions {
    db: Db,
    clock: SqlClock,
    ttl: Duration,
}

impl SqlSessions {
    pub(crate) fn new(db: Db) -> Self {
        Self {
            db,
            clock: SqlClock::default(),
            ttl: DEFAULT_SESSION_TTL,
        }
    }

    /// Lets sessions live `ttl` after their last save instead of [`DEFAULT_SESSION_TTL`].
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Reads time from `clock` instead of the system clock (tests, simulations).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = SqlClock::injected(clock);
        self
    }

    /// The first instant (Unix seconds) a session saved at or before is expired.
    fn expired_at_or_before(&self) -> i64 {
        self.clock.now_secs().saturating_sub(secs(self.ttl))
    }
}

/// The key for messages.
fn describe(appid: &str, openid: &str) -> String {
    format!("{appid}/{openid}")
}

#[async_trait]
impl SessionBackend for SqlSessions {
    async fn load_session(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Map<String, Value>, StoreError> {
        let cutoff = self.expired_at_or_before();
        let data: Option<String> = with_pool!(&self.db, pool => {
            sqlx::query_scalar(LOAD)
                .bind(appid)
                .bind(openid)
                .bind(cutoff)
                .fetch_optional(pool)
                .await
        })
        .map_err(|e| op_error(&self.db, "load_session", &describe(appid, openid), e))?;
        match data {
            None => Ok(Map::new()),
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                DataError::store_error(self.db.name(), "load_session", &describe(appid, openid), e)
            }),
        }
    }

    async fn save_session(
        &self,
        appid: &str,
        openid: &str,
        session: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        let result = if session.is_empty() {
            with_pool!(&self.db, pool => {
                sqlx::query(DELETE).bind(appid).bind(openid).execute(pool).await.map(drop)
            })
        } else {
            // A map of JSON values always serialises.
            let text = Value::Object(session.clone()).to_string();
            let now = self.clock.now_secs();
            with_pool!(&self.db, pool => {
                sqlx::query(SAVE)
                    .bind(appid)
                    .bind(openid)
                    .bind(&text)
                    .bind(now)
                    .execute(pool)
                    .await
                    .map(drop)
            })
        };
        result.map_err(|e| op_error(&self.db, "save_session", &describe(appid, openid), e))
    }

    async fn sweep_sessions(&self) -> Result<u64, StoreError> {
        let cutoff = self.expired_at_or_before();
        with_pool!(&self.db, pool => {
            sqlx::query(SWEEP).bind(cutoff).execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(|e| op_error(&self.db, "sweep_sessions", "sessions", e))
    }
}
