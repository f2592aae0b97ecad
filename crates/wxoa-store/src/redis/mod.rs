//! The Redis store: one reconnecting connection and a key prefix, shared by per-concept stores.

mod token;

pub use self::token::RedisTokenStore;

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};

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

    /// The token store on this server, under `{prefix}token:`, `{prefix}lock:` and
    /// `{prefix}fetches:`.
    #[must_use]
    pub fn token_store(&self) -> RedisTokenStore {
        RedisTokenStore::new(self.conn.clone(), self.prefix.clone())
    }
}
