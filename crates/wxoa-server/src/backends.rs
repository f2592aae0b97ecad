//! Connecting the backends a deployment uses: the SQL store (SQLite by default, PostgreSQL)
//! for sessions, parked results and — in CGI mode — dedup; Redis, when `store.redis_url` is
//! set, for everything instances must share within seconds; and the API client (with the
//! shared token store) for 客服 delivery. While Redis is down, what it holds falls back to
//! this process and the SQL store (see [`crate::redis_fallback`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret as _;
use serde_json::{Map, Value};
use wxoa_api::TokenStore;
use wxoa_store::{
    ParkingBackend, RedisStore, SessionBackend, SharedDedup, SharedWork, Store, StoreOpenError,
};

use crate::actions::{HttpClient, ServiceError, Services, SessionStore};
use crate::app::Backends;
use crate::clock::Clock;
use crate::config::Config;
use crate::delivery::{Delivery, IndexedParking};
use crate::message_log::{LogWriter, LogWriterConfig};
use crate::redis_fallback::{
    FallbackDedup, FallbackParking, FallbackSessions, FallbackTokens, RedisHealth,
};

/// Where dedup state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupScope {
    /// In this process (`serve` without Redis: one process answers every push).
    Process,
    /// In the SQL store (CGI: every request is a new process).
    Store,
}

/// Why the backends could not be connected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The SQL store or Redis does not open.
    #[error(transparent)]
    Store(#[from] StoreOpenError),
    /// The API client cannot be built.
    #[error("building the API client from [api] and [account]: {0}")]
    Api(#[from] wxoa_api::ApiError),
    /// Parked results cannot be read at start-up.
    #[error("reading parked results from store.url: {0}")]
    Parking(String),
    /// The HTTP client of scripts and webhooks cannot be built.
    #[error("building the HTTP client of scripts and webhooks: {0}")]
    Http(#[from] crate::actions::HttpError),
}

/// Sessions kept by a store backend, for scripts.
#[derive(Debug)]
struct StoredSessions {
    appid: String,
    backend: Arc<dyn SessionBackend>,
}

#[async_trait]
impl SessionStore for StoredSessions {
    async fn load(&self, openid: &str) -> Result<Map<String, Value>, ServiceError> {
        self.backend
            .load_session(&self.appid, openid)
            .await
            .map_err(|e| ServiceError::backend("loading the session", e))
    }

    async fn save(&self, openid: &str, session: &Map<String, Value>) -> Result<(), ServiceError> {
        self.backend
            .save_session(&self.appid, openid, session)
            .await
            .map_err(|e| ServiceError::backend("saving the session", e))
    }
}

/// Sessions, parked results, tokens and dedup, from one place.
type Shared = (
    Arc<dyn SessionBackend>,
    Arc<dyn ParkingBackend>,
    Arc<dyn TokenStore>,
    Option<Arc<dyn SharedDedup>>,
);

/// The connected backends and the handles that must be closed on shutdown.
#[derive(Debug)]
pub struct Connected {
    /// What [`App`](crate::App) uses.
    pub backends: Backends,
    /// The SQL store (closed on shutdown).
    pub store: Store,
    /// The API client, when an AppSecret is configured.
    pub api: Option<wxoa_api::Client>,
    /// The message log's writer (stop it with [`LogWriter::shutdown`] after the last request,
    /// before closing the store), when `store.message_log` is on.
    pub log_writer: Option<LogWriter>,
}

/// An API client builder set up from `[account]` and `[api]` (appid, secret, base URL, token
/// endpoint, timeout); callers add their token store.
#[must_use]
pub fn api_client_builder(config: &Config) -> wxoa_api::ClientBuilder {
    wxoa_api::Client::builder(config.account.appid.clone(), config.account.secret.clone())
        .base_url(config.api.base_url.clone())
        .stable_token(config.api.stable_token)
        .timeout(Duration::from_millis(config.api.timeout_ms))
}

/// One account's backends, over the pieces every account shares.
#[derive(Debug)]
pub struct AccountBackends {
    /// The account's view of the config (see [`Config::for_account`]).
    pub config: Config,
    /// What its [`App`](crate::App) uses.
    pub backends: Backends,
    /// Its API client, when its AppSecret is configured.
    pub api: Option<wxoa_api::Client>,
}

/// Every account's backends and the shared handles that must be closed on shutdown.
#[derive(Debug)]
pub struct ConnectedAccounts {
    /// One entry per account, in config order.
    pub accounts: Vec<AccountBackends>,
    /// The SQL store all accounts share (closed on shutdown).
    pub store: Store,
    /// The message log's writer all accounts share, when `store.message_log` is on.
    pub log_writer: Option<LogWriter>,
}

/// Connect everything `config` asks for, for its first (with `[account]`, only) account.
///
/// # Errors
/// A store does not open, or a client cannot be built; the error names the setting.
pub async fn connect(
    config: &Config,
    clock: Arc<dyn Clock>,
    scope: DedupScope,
) -> Result<Connected, BackendError> {
    let mut connected = connect_accounts(&config.for_account(0), clock, scope).await?;
    let first = connected.accounts.remove(0);
    Ok(Connected {
        backends: first.backends,
        store: connected.store,
        api: first.api,
        log_writer: connected.log_writer,
    })
}

/// Connect the stores once and every account of `config` over them: sessions, parked
/// results, tokens and dedup are kept apart by AppID; the HTTP client and the message log's
/// writer are shared.
///
/// # Errors
/// A store does not open, or a client cannot be built; the error names the setting.
pub async fn connect_accounts(
    config: &Config,
    clock: Arc<dyn Clock>,
    scope: DedupScope,
) -> Result<ConnectedAccounts, BackendError> {
    let store = Store::open(&config.store.url, &config.base_dir).await?;
    let appids: Vec<String> = config
        .accounts
        .iter()
        .map(|entry| entry.account.appid.clone())
        .collect();
    let redis = match &config.store.redis_url {
        Some(url) => Some(
            RedisStore::connect(url)
                .await?
                .with_prefix(&config.store.redis_prefix),
        ),
        None => None,
    };
    let redis_health = redis.as_ref().map(|redis| {
        let health = Arc::new(RedisHealth::new(redis.url()));
        crate::redis_fallback::spawn_probe(&health, redis.clone());
        health
    });
    let (sessions, parking, token_store, shared_dedup): Shared = match (&redis, &redis_health) {
        (Some(redis), Some(health)) => {
            let local_parking = indexed_parking(&store, &appids).await?;
            (
                Arc::new(FallbackSessions::new(
                    Arc::new(redis.sessions()),
                    Arc::new(store.sessions()),
                    Arc::clone(health),
                )),
                Arc::new(FallbackParking::new(
                    Arc::new(redis.parking()),
                    local_parking,
                    Arc::clone(health),
                )),
                Arc::new(FallbackTokens::new(
                    Arc::new(redis.token_store()),
                    Arc::new(store.token_store()),
                    Arc::clone(health),
                )),
                Some(Arc::new(FallbackDedup::new(
                    Arc::new(redis.dedup()),
                    Arc::clone(health),
                ))),
            )
        }
        _ => (
            Arc::new(store.sessions()),
            match scope {
                // The one writer of parked results: index them in memory.
                DedupScope::Process => indexed_parking(&store, &appids).await?,
                DedupScope::Store => Arc::new(store.parking()),
            },
            Arc::new(store.token_store()),
            match scope {
                DedupScope::Store => Some(Arc::new(store.dedup()) as Arc<dyn SharedDedup>),
                DedupScope::Process => None,
            },
        ),
    };
    let http = HttpClient::new()?;
    let (message_log, log_writer) = if config.store.message_log {
        let (log, writer) = LogWriter::spawn(
            Arc::new(store.message_log()),
            LogWriterConfig {
                capacity: config.store.log_queue,
                retention_days: config.store.log_retention_days,
            },
            Arc::clone(&clock),
        );
        (Some(log), Some(writer))
    } else {
        (None, None)
    };
    let mut accounts = Vec::with_capacity(config.accounts.len());
    for view in config.each_account() {
        let appid = view.account.appid.clone();
        let api = if view.account.secret.expose_secret().is_empty() {
            tracing::info!(
                account = %view.account.name,
                "the account's secret is empty: late results are parked, never sent by 客服消息"
            );
            None
        } else {
            Some(
                api_client_builder(&view)
                    .token_store(Arc::clone(&token_store))
                    .build()?,
            )
        };
        let shared_work = redis
            .as_ref()
            .map(|redis| Arc::new(redis.work(&appid)) as Arc<dyn SharedWork>);
        let delivery = Delivery::new(
            &appid,
            api.clone(),
            Arc::clone(&parking),
            Arc::clone(&clock),
        );
        let services = Services::new(
            Arc::new(StoredSessions {
                appid,
                backend: Arc::clone(&sessions),
            }),
            Arc::new(delivery.clone()),
            http.clone(),
        );
        accounts.push(AccountBackends {
            config: view,
            backends: Backends {
                services,
                delivery,
                shared_dedup: shared_dedup.clone(),
                shared_work,
                message_log: message_log.clone(),
                redis: redis_health.clone(),
            },
            api,
        });
    }
    Ok(ConnectedAccounts {
        accounts,
        store,
        log_writer,
    })
}

/// The SQL store's parked results of every account, indexed in memory by follower (read from
/// the store once).
async fn indexed_parking(
    store: &Store,
    appids: &[String],
) -> Result<Arc<dyn ParkingBackend>, BackendError> {
    let parking = store.parking();
    let mut known = Vec::new();
    for appid in appids {
        let openids = parking
            .parked_openids(appid)
            .await
            .map_err(|e| BackendError::Parking(e.to_string()))?;
        known.extend(openids.into_iter().map(|o| (appid.clone(), o)));
    }
    Ok(Arc::new(IndexedParking::new(Arc::new(parking), known)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::clock::FixedClock;

    #[tokio::test]
    async fn sqlite_backends_share_sessions_and_dedup_in_cgi_scope() {
        let dir = std::env::temp_dir().join(format!(
            "wxoa-backends-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "[account]\nappid = \"wx1234567890abcdef\"\ntoken = \"abc\"\n[store]\nurl = \"sqlite://state/wxoa.db\"\n";
        let config = Config::from_toml(text, &dir.join("wxoa.toml")).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_700_000_000));
        let a = connect(&config, Arc::clone(&clock), DedupScope::Store)
            .await
            .unwrap();
        let b = connect(&config, clock, DedupScope::Store).await.unwrap();
        assert!(
            dir.join("state/wxoa.db").exists(),
            "relative to the config file"
        );
        let mut session = Map::new();
        session.insert("n".into(), Value::from(3));
        a.backends
            .services
            .sessions
            .save("o1", &session)
            .await
            .unwrap();
        assert_eq!(
            b.backends.services.sessions.load("o1").await.unwrap(),
            session
        );
        let (da, db) = (
            a.backends.shared_dedup.clone().unwrap(),
            b.backends.shared_dedup.clone().unwrap(),
        );
        let lease = Duration::from_secs(30);
        let window = Duration::from_secs(60);
        assert_eq!(
            da.claim("k", "a", lease, window).await.unwrap(),
            wxoa_store::DedupClaim::First
        );
        assert_eq!(
            db.claim("k", "b", lease, window).await.unwrap(),
            wxoa_store::DedupClaim::InFlight
        );
        assert!(a.api.is_none());
        a.store.close().await;
        b.store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        let _ = Path::new(&dir);
    }
}
