//! Parked results on Redis: a list per follower, taken and deleted in one transaction.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use wxoa_api::{Clock, StoreError, SystemClock};

use crate::error::DataError;
use crate::parking::{DEFAULT_PARKED_MAX_AGE, Parked, ParkingBackend, fresh_oldest_first};
use crate::redis::{fail, px};

/// A list element: one parked result as JSON.
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    rule: String,
    answer: String,
    created_at: i64,
}

/// [`ParkingBackend`] on Redis: `{prefix}parked:{appid}:{openid}` is a list of the follower's
/// results (JSON), expiring the maximum age (default [`DEFAULT_PARKED_MAX_AGE`]) after the
/// latest was parked. [`take_parked`](ParkingBackend::take_parked) reads and deletes the list
/// in one `MULTI`, so two instances taking at once never both get an item.
#[derive(Debug, Clone)]
pub struct RedisParking {
    conn: ConnectionManager,
    prefix: Arc<str>,
    max_age: Duration,
    clock: Arc<dyn Clock>,
}

impl RedisParking {
    pub(crate) fn new(conn: ConnectionManager, prefix: Arc<str>) -> Self {
        Self {
            conn,
            prefix,
            max_age: DEFAULT_PARKED_MAX_AGE,
            clock: Arc::new(SystemClock),
        }
    }

    /// Keeps parked results for `max_age` instead of [`DEFAULT_PARKED_MAX_AGE`].
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Judges the age of results with `clock` instead of the system clock (tests,
    /// simulations); the list's own expiry still runs on the server's clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn list_key(&self, appid: &str, openid: &str) -> String {
        format!("{}parked:{appid}:{openid}", self.prefix)
    }
}

#[async_trait]
impl ParkingBackend for RedisParking {
    async fn park(
        &self,
        appid: &str,
        openid: &str,
        rule: &str,
        answer_json: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let key = self.list_key(appid, openid);
        let item = Item {
            rule: rule.to_owned(),
            answer: answer_json.to_owned(),
            created_at,
        };
        // Strings and an integer always serialise.
        let text = serde_json::to_string(&item)
            .map_err(|e| DataError::store_error("redis", "park", &key, e))?;
        let _: () = ::redis::pipe()
            .atomic()
            .cmd("RPUSH")
            .arg(&key)
            .arg(text)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(px(self.max_age))
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(fail("park", &key))?;
        Ok(())
    }

    async fn take_parked(&self, appid: &str, openid: &str) -> Result<Vec<Parked>, StoreError> {
        let key = self.list_key(appid, openid);
        let (texts,): (Vec<String>,) = ::redis::pipe()
            .atomic()
            .cmd("LRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(fail("take_parked", &key))?;
        let mut items = Vec::with_capacity(texts.len());
        for text in texts {
            // The list is gone already: a damaged element is dropped, the others delivered.
            match serde_json::from_str::<Item>(&text) {
                Ok(item) => items.push(Parked {
                    rule: item.rule,
                    answer: item.answer,
                    created_at: item.created_at,
                }),
                Err(error) => {
                    tracing::warn!(key = %key, %error, "dropping a parked result that is not valid JSON");
                }
            }
        }
        Ok(fresh_oldest_first(
            items,
            self.clock.now_unix(),
            self.max_age,
        ))
    }

    /// Redis expires the lists by itself: nothing to do.
    async fn sweep_parked(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
