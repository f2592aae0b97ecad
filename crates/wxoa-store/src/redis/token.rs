//! The token store on Redis: a hash per token, `SET NX PX` locks, compare-and-delete scripts.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use wxoa_api::{CachedToken, StoreError, TokenStore};

use crate::redis::{fail, px};

/// How long a day's fetch counter outlives its first increment.
const FETCH_COUNTER_TTL_SECS: i64 = 2 * 24 * 60 * 60;

/// `SET NX PX` the lock for ARGV[1] with ttl ARGV[2] ms; if ARGV[1] already holds it, restart
/// its ttl (re-entrant like `MemoryTokenStore`). Returns 1 when ARGV[1] holds the lock.
static TRY_LOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
return 0",
    )
});

/// Deletes the token hash only if its `value` field is still ARGV[1].
static EXPIRE_IF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('HGET', KEYS[1], 'value') == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

/// Deletes the lock only if ARGV[1] still holds it.
static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

/// [`TokenStore`] on Redis, shared by every instance on every host that uses the same server
/// and prefix.
///
/// Keys: `{prefix}token:{key}` is a hash (`value`, `expires_at`), `{prefix}lock:{key}` holds
/// the lock holder with a millisecond expiry (`SET NX PX`, so a killed holder's lock vanishes
/// on its own; the same holder asking again restarts the ttl), `{prefix}fetches:{key}:{day}` counts fetches and expires after two days.
/// Lock, unlock and compare-and-expire are Lua scripts, atomic on the server.
#[derive(Debug, Clone)]
pub struct RedisTokenStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
}

impl RedisTokenStore {
    pub(crate) fn new(conn: ConnectionManager, prefix: Arc<str>) -> Self {
        Self { conn, prefix }
    }

    fn token_key(&self, key: &str) -> String {
        format!("{}token:{key}", self.prefix)
    }

    fn lock_key(&self, key: &str) -> String {
        format!("{}lock:{key}", self.prefix)
    }

    fn fetches_key(&self, key: &str, day: &str) -> String {
        format!("{}fetches:{key}:{day}", self.prefix)
    }
}

#[async_trait]
impl TokenStore for RedisTokenStore {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, StoreError> {
        let (value, expires_at): (Option<String>, Option<i64>) = ::redis::cmd("HMGET")
            .arg(self.token_key(key))
            .arg("value")
            .arg("expires_at")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(fail("get", key))?;
        Ok(match (value, expires_at) {
            (Some(value), Some(expires_at)) => Some(CachedToken { value, expires_at }),
            _ => None,
        })
    }

    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), StoreError> {
        // One HSET writes both fields atomically.
        let _: i64 = ::redis::cmd("HSET")
            .arg(self.token_key(key))
            .arg("value")
            .arg(&token.value)
            .arg("expires_at")
            .arg(token.expires_at)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(fail("put", key))?;
        Ok(())
    }

    /// Deletes the stored token if its value is still `failed`. Returns whether this call
    /// removed it.
    async fn expire_if(&self, key: &str, failed: &str) -> Result<bool, StoreError> {
        let deleted: i64 = EXPIRE_IF
            .key(self.token_key(key))
            .arg(failed)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("expire_if", key))?;
        Ok(deleted > 0)
    }

    async fn try_lock(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let held: i64 = TRY_LOCK
            .key(self.lock_key(key))
            .arg(holder)
            .arg(px(ttl))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("try_lock", key))?;
        Ok(held == 1)
    }

    async fn unlock(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let _: i64 = UNLOCK
            .key(self.lock_key(key))
            .arg(holder)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("unlock", key))?;
        Ok(())
    }

    async fn count_fetch(&self, key: &str, day: &str) -> Result<u64, StoreError> {
        let counter = self.fetches_key(key, day);
        let (count,): (u64,) = ::redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&counter)
            .cmd("EXPIRE")
            .arg(&counter)
            .arg(FETCH_COUNTER_TTL_SECS)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(fail("count_fetch", key))?;
        Ok(count)
    }

    async fn fetch_count(&self, key: &str, day: &str) -> Result<Option<u64>, StoreError> {
        let count: Option<u64> = ::redis::cmd("GET")
            .arg(self.fetches_key(key, day))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(fail("fetch_count", key))?;
        Ok(Some(count.unwrap_or(0)))
    }
}
