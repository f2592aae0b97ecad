//! The Redis store: one reconnecting connection and a key prefix, shared by per-concept stores.

mod dedup;
mod parking;
mod session;
mod token;
mod work;

pub use self::dedup::RedisDedup;
pub use self::parking::RedisParking;
pub use self::session::RedisSessions;
pub use self::token::RedisTokenStore;
pub use self::work::RedisWork;

use std::sync::Arc;
use std::time::Duration;

use ::redis::RedisError;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use wxoa_api::StoreError;

use crate::dsn;
use crate::error::StoreOpenError;

/// How long connecting, and each command, may take before it fails.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnection attempts per failure before a command errors.
const REDIS_RETRIES: usize = 3;

/// Redis at `store.redis_url`, for what instances on several hosts must share within seconds.
///
/// Every key starts with a prefix (default [`RedisStore::DEFAULT_PREFIX`]) so several
/// deployments, or tests, can share one server. Cheap to clone; the connection reconnects in
/// the background after a failure.
#[derive(Debug, Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    url: Arc<str>,
}

impl RedisStore {
    /// The key prefix unless [`RedisStore::with_prefix`] sets another.
    pub const DEFAULT_PREFIX: &'static str = "wxoa:";

    /// Connects to `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`, or `rediss://` for TLS when
    /// the client supports it) and checks the server answers.
    ///
    /// # Errors
    ///
    /// [`StoreOpenError::InvalidUrl`] for a malformed URL, [`StoreOpenError::Redis`] when the
    /// server cannot be reached within 5 s or refuses the credentials.
    pub async fn connect(url: &str) -> Result<Self, StoreOpenError> {
        let shown = dsn::redact(url.trim());
        let client = ::redis::Client::open(url.trim()).map_err(|e| StoreOpenError::InvalidUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(REDIS_RETRIES);
        let mut conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|source| StoreOpenError::Redis {
                url: shown.clone(),
                source,
            })?;
        let _: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|source| StoreOpenError::Redis {
                url: shown.clone(),
                source,
            })?;
        Ok(Self {
            conn,
            prefix: Self::DEFAULT_PREFIX.into(),
            url: shown.into(),
        })
    }

    /// Uses `prefix` before every key (e.g. `"shop1:wxoa:"`).
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key prefix in use.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL for messages, password replaced by `***`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `PING` and checks the answer (reconnecting first when the connection was lost).
    ///
    /// # Errors
    /// The server does not answer (within the command timeout) or answers something else.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let pong: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(fail("ping", ""))?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::new(format!("redis ping answered `{pong}`")))
        }
    }

    /// The token store on this server, under `{prefix}token:`, `{prefix}lock:` and
    /// `{prefix}fetches:`.
    #[must_use]
    pub fn token_store(&self) -> RedisTokenStore {
        RedisTokenStore::new(self.conn.clone(), self.prefix.clone())
    }

    /// Dedup and coalescing shared by instances, under `{prefix}dedup:`.
    #[must_use]
    pub fn dedup(&self) -> RedisDedup {
        RedisDedup::new(self.conn.clone(), self.prefix.clone())
    }

    /// Per-follower sessions, under `{prefix}session:`, each expiring 30 days after its last
    /// save ([`RedisSessions::with_ttl`] changes that).
    #[must_use]
    pub fn sessions(&self) -> RedisSessions {
        RedisSessions::new(self.conn.clone(), self.prefix.clone())
    }

    /// Parked results, under `{prefix}parked:`, kept 48 hours
    /// ([`RedisParking::with_max_age`] changes that).
    #[must_use]
    pub fn parking(&self) -> RedisParking {
        RedisParking::new(self.conn.clone(), self.prefix.clone())
    }

    /// Slow work of the account `appid`, under `{prefix}work:{appid}:` and
    /// `{prefix}work-leases:{appid}`.
    #[must_use]
    pub fn work(&self, appid: &str) -> RedisWork {
        RedisWork::new(self.conn.clone(), self.prefix.clone(), appid)
    }
}

/// A failed command, naming the operation and the key.
#[derive(Debug, thiserror::Error)]
#[error("redis {op} of `{key}` failed: {source}")]
struct RedisOpError {
    op: &'static str,
    key: String,
    #[source]
    source: RedisError,
}

/// Wraps a client error from `op` on `key` as a [`StoreError`].
pub(crate) fn fail(op: &'static str, key: &str) -> impl FnOnce(RedisError) -> StoreError {
    move |source| {
        StoreError(Box::new(RedisOpError {
            op,
            key: key.to_owned(),
            source,
        }))
    }
}

/// Longest `PX` Redis accepts with room to spare (it refuses an expiry past `i64::MAX` ms).
const MAX_PX: u64 = 1 << 62;

/// A ttl in milliseconds for `PX` / `PEXPIRE`, which refuse 0 (or delete the key) and
/// overflowing values.
pub(crate) fn px(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(MAX_PX)
        .clamp(1, MAX_PX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn px_is_never_zero() {
        assert_eq!(px(Duration::ZERO), 1);
        assert_eq!(px(Duration::from_millis(1500)), 1500);
        assert_eq!(px(Duration::MAX), MAX_PX);
    }

    #[test]
    fn op_error_names_op_and_key() {
        let source = RedisError::from((::redis::ErrorKind::Io, "connection refused"));
        let e = fail("try_lock", "wx1:access_token")(source);
        assert!(
            e.to_string()
                .contains("redis try_lock of `wx1:access_token` failed"),
            "{e}"
        );
    }
}
