//! The configuration file: parsing (TOML + `WXOA_<SECTION>__<KEY>` env overrides) and validation.
//!
//! [`Config::load`] reads a file, merges environment overrides over it, rejects unknown keys and
//! checks every value once at start-up, so the rest of the server works with typed, valid data
//! (a decoded AES key, a parsed listen address, compiled rules) and never re-checks it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use wxoa_proto::crypto::MsgCrypt;

use crate::rules::{RuleSet, RuleSpec};

mod accounts;

pub use self::accounts::AccountEntry;

/// The environment variable that names the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "WXOA_CONFIG";
/// The config file used when neither `--config` nor [`CONFIG_ENV`] is given.
pub const DEFAULT_CONFIG_FILE: &str = "wxoa.toml";

/// A configuration problem, naming the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file or an environment override does not parse or has an unknown or mistyped key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, naming the key.
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("{path}: {key} {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The dotted key, e.g. `account.encoding_aes_key` or `accounts[2].token`.
        key: String,
        /// What is wrong, e.g. "must be 43 base64 characters, got 42".
        message: String,
    },
    /// The rules do not compile.
    #[error(transparent)]
    Rules(#[from] crate::rules::RuleError),
    /// No account of the config has this name (a reload after the account was renamed or
    /// removed, or `--account` naming none of them).
    #[error("{path}: no account named {name:?} (the accounts are: {known})")]
    NoSuchAccount {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// A `[[tables]]` entry or the `[script]` section cannot be used (see [`crate::actions`]).
    #[error("{path}: {source}")]
    Actions {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the table or the key.
        source: crate::actions::SetupError,
    },
}

/// The default of `server.max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// The default of `server.max_header_bytes`.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// The smallest `server.max_header_bytes` (a push's head is about 300 bytes; browsers and
/// proxies may send up to 8 KiB).
pub const MIN_HEADER_BYTES: usize = 8 * 1024;
/// The largest `server.max_header_bytes`.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;
/// The default of `server.header_timeout_ms`.
pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
/// The default of `server.body_timeout_ms`.
pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 10_000;
/// `store.log_queue`: pushes waiting for the message log's writer. The writer takes up to 512
/// a write and rests at most 2 s between writes; 1 024 covers 6 s of writes failing and being
/// retried (0.1 s, 1 s, 5 s) at 170 pushes a second, while bounding what a flood can hold in
/// memory (a waiting push is about 0.7–1.6 kB of heap).
pub const DEFAULT_LOG_QUEUE: usize = 1_024;

/// `[server]`: the callback endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: String,
    /// `None`: `/wechat` for `[account]`; each `[[accounts]]` entry has its own path.
    path: Option<String>,
    reply_deadline_ms: u64,
    placeholder: String,
    timestamp_skew_secs: u64,
    max_body_bytes: usize,
    max_connections: usize,
    max_header_bytes: usize,
    header_timeout_ms: u64,
    body_timeout_ms: u64,
    dedup_max_keys: usize,
    public_url: String,
    admin_listen: String,
    tls_cert: String,
    tls_key: String,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            path: None,
            reply_deadline_ms: 4500,
            placeholder: "正在处理，请稍候…".to_owned(),
            timestamp_skew_secs: 300,
            max_body_bytes: 1024 * 1024,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            header_timeout_ms: DEFAULT_HEADER_TIMEOUT_MS,
            body_timeout_ms: DEFAULT_BODY_TIMEOUT_MS,
            dedup_max_keys: crate::dedup::DEFAULT_MAX_KEYS,
            public_url: String::new(),
            admin_listen: "127.0.0.1:9100".to_owned(),
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}

/// `[account]`: the 公众号's identity and its 服务器配置.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    #[serde(deserialize_with = "lenient_string")]
    appid: String,
    #[serde(default, deserialize_with = "lenient_string")]
    secret: String,
    #[serde(deserialize_with = "lenient_string")]
    token: String,
    #[serde(default, deserialize_with = "lenient_string")]
    encoding_aes_key: String,
    #[serde(default)]
    require_encryption: bool,
}

/// `[api]`: the outbound API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawApi {
    base_url: String,
    stable_token: bool,
    timeout_ms: u64,
}

impl Default for RawApi {
    fn default() -> Self {
        Self {
            base_url: "https://api.weixin.qq.com".to_owned(),
            stable_token: true,
            timeout_ms: 5000,
        }
    }
}

/// The Redis key prefix unless `store.redis_prefix` sets another.
pub const DEFAULT_REDIS_PREFIX: &str = "wxoa:";

/// `[store]`: persistence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    url: String,
    redis_url: String,
    redis_prefix: String,
    message_log: bool,
    log_retention_days: u32,
    log_queue: usize,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            url: "sqlite://data/wxoa.db".to_owned(),
            redis_url: String::new(),
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            message_log: true,
            log_retention_days: 30,
            log_queue: DEFAULT_LOG_QUEUE,
        }
    }
}

/// `[admin]`: who may use the console on `server.admin_listen`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAdmin {
    password_hash: String,
    sso_header: String,
    sso_trusted_proxies: Vec<String>,
    session_hours: u64,
}

impl Default for RawAdmin {
    fn default() -> Self {
        Self {
            password_hash: String::new(),
            sso_header: String::new(),
            sso_trusted_proxies: Vec::new(),
            session_hours: 12,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    /// The single-account form.
    #[serde(default)]
    account: Option<RawAccount>,
    /// The several-accounts form (see [`accounts`]).
    #[serde(default)]
    accounts: Vec<accounts::RawAccountEntry>,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    rules: Vec<RuleSpec>,
    // Used by the dynamic reply kinds (see `crate::actions`).
    #[serde(default)]
    tables: Vec<crate::actions::TableSpec>,
    #[serde(default)]
    script: crate::actions::ScriptSpec,
    /// `[chat.NAME]` profiles for `chat = "NAME"` replies.
    #[serde(default)]
    chat: std::collections::BTreeMap<String, crate::actions::chat::ChatSpec>,
}

/// Accepts a string, or a number/bool written where a string was meant (env overrides such as
/// `WXOA_ACCOUNT__TOKEN=123456` arrive as numbers).
fn lenient_string<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Lenient::deserialize(deserializer)? {
        Lenient::Text(s) => s,
        Lenient::Int(n) => n.to_string(),
        Lenient::Float(n) => n.to_string(),
        Lenient::Bool(b) => b.to_string(),
    })
}

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where `wxoa serve` listens (`--listen` overrides).
    pub listen: SocketAddr,
    /// The callback path, starting with `/`.
    pub path: String,
    /// Budget before the deadline policy acts, in milliseconds.
    pub reply_deadline_ms: u64,
    /// Interim text for slow handlers.
    pub placeholder: String,
    /// Accepted clock difference between the push's timestamp and ours; 0 disables the check.
    pub timestamp_skew_secs: u64,
    /// Larger bodies are refused with 413.
    pub max_body_bytes: usize,
    /// The most client connections open at once (TLS handshakes included); further clients
    /// wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// The largest request head (request line and headers); a larger one is refused with 431.
    pub max_header_bytes: usize,
    /// How long a client has to send a whole request head, and how long an idle keep-alive
    /// connection is kept, in milliseconds.
    pub header_timeout_ms: u64,
    /// How long a client has to send a whole request body (else 408), in milliseconds.
    pub body_timeout_ms: u64,
    /// The most pushes the in-memory dedup table remembers (its memory bound).
    pub dedup_max_keys: usize,
    /// The URL entered in 服务器配置, if known (used by diagnostics).
    pub public_url: Option<String>,
    /// Where health and metrics are served (never the public callback port).
    pub admin_listen: SocketAddr,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
}

/// `[account]` or one `[[accounts]]` entry, validated.
#[derive(Clone)]
pub struct AccountConfig {
    /// What `--account` and the metrics' `account` label call it (default: the AppID).
    pub name: String,
    /// The AppID (`wx…`).
    pub appid: String,
    /// The AppSecret (empty when only the callback is used).
    pub secret: SecretString,
    /// The 服务器配置 Token.
    pub token: String,
    /// The message crypto, when an EncodingAESKey is configured.
    pub crypt: Option<MsgCrypt>,
    /// Refuse plaintext pushes (安全模式 only).
    pub require_encryption: bool,
}

impl std::fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountConfig")
            .field("name", &self.name)
            .field("appid", &self.appid)
            .field("secret", &"[redacted]")
            .field("token", &"[redacted]")
            .field("crypt", &self.crypt.as_ref().map(|_| "[configured]"))
            .field("require_encryption", &self.require_encryption)
            .finish()
    }
}

/// `[api]`, validated.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Base URL of the platform API (point it at `wxoa mock` in tests).
    pub base_url: String,
    /// Use `/cgi-bin/stable_token` (default) instead of the classic `/cgi-bin/token`.
    pub stable_token: bool,
    /// Timeout of one API call.
    pub timeout_ms: u64,
}

/// `[store]`, validated.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://…` (relative to the config file's directory) or `postgres://…`.
    pub url: String,
    /// `redis://…` to share state across instances; `None` when unset.
    pub redis_url: Option<String>,
    /// What every Redis key starts with (several deployments can share one server).
    pub redis_prefix: String,
    /// Log every answered push and keep the followers table (`message_log`, `followers`).
    pub message_log: bool,
    /// Logged pushes older than this many days are deleted; 0 keeps them.
    pub log_retention_days: u32,
    /// Entries the log's queue holds before it drops (and counts) new ones.
    pub log_queue: usize,
}

/// `[admin]`, validated: the console is on when [`AdminConfig::enabled`].
#[derive(Clone)]
pub struct AdminConfig {
    /// The argon2 PHC string of the admin password (`wxoa admin passwd` writes it); `None`:
    /// no password login.
    pub password_hash: Option<String>,
    /// The header a trusted reverse proxy sets to the authenticated user's name (SSO).
    pub sso_header: Option<axum::http::HeaderName>,
    /// The peers whose `sso_header` is believed.
    pub sso_trusted_proxies: Vec<std::net::IpAddr>,
    /// How long a login lasts, in hours (default 12).
    pub session_hours: u64,
}

impl AdminConfig {
    /// Whether the console and its API are served (a password hash or an SSO header is set).
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.password_hash.is_some() || self.sso_header.is_some()
    }
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[configured]"),
            )
            .field("sso_header", &self.sso_header)
            .field("sso_trusted_proxies", &self.sso_trusted_proxies)
            .field("session_hours", &self.session_hours)
            .finish()
    }
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub source: PathBuf,
    /// The directory relative paths are resolved against (the file's own directory).
    pub base_dir: PathBuf,
    /// `[server]`, with the first account's callback path and overrides (see
    /// [`Config::accounts`]).
    pub server: ServerConfig,
    /// The first (with `[account]`, the only) account. Code serving several accounts goes
    /// through [`Config::accounts`] or [`Config::each_account`].
    pub account: AccountConfig,
    /// `[api]`.
    pub api: ApiConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// The first account's rules as written.
    pub rule_specs: Vec<RuleSpec>,
    /// The first account's rules, compiled.
    pub rules: std::sync::Arc<RuleSet>,
    /// Every account in file order (one for `[account]`), each with its callback path, server
    /// overrides and rules.
    pub accounts: Vec<AccountEntry>,
    /// Whether the file uses `[[accounts]]` (several accounts, each at its own path).
    pub multi_account: bool,
    /// The `[[tables]]`, loaded, and the `[script]` settings (also compiled into `rules`).
    pub resources: crate::actions::Resources,
}

impl Config {
    /// Read `path`, apply `WXOA_<SECTION>__<KEY>` overrides from the process environment and
    /// validate everything.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key and the problem.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_text(&text, path)
    }

    /// Validate `text` as the contents of `path` exactly as [`Config::load`] would (with the
    /// `WXOA_<SECTION>__<KEY>` overrides of the process environment): the check of an edit
    /// before it is written.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key and the problem.
    pub fn from_text(text: &str, path: &Path) -> Result<Self, ConfigError> {
        Self::from_toml_with_env(text, path, Env::prefixed("WXOA_"))
    }

    /// Parse `text` as if it had been read from `path`, without environment overrides.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key and the problem.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = Figment::from(Toml::string(text))
            .extract()
            .map_err(|e| parse_error(path, e))?;
        Self::validate(raw, path)
    }

    fn from_toml_with_env(text: &str, path: &Path, env: Env) -> Result<Self, ConfigError> {
        // Only `SECTION__KEY` variables are overrides; `WXOA_CONFIG`, `WXOA_LOG` and the test
        // variables are not config keys.
        let env = env.filter(|key| key.as_str().contains("__")).split("__");
        let raw: RawConfig = Figment::from(Toml::string(text))
            .merge(env)
            .extract()
            .map_err(|e| parse_error(path, e))?;
        Self::validate(raw, path)
    }

    fn validate(raw: RawConfig, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        let base_dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_owned()
                }
            })
            .unwrap_or_else(|| PathBuf::from("."));

        let s = raw.server;
        let listen: SocketAddr = s.listen.parse().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "must be an address with a port such as 127.0.0.1:8080, got {:?}",
                    s.listen
                ),
            )
        })?;
        let admin_listen: SocketAddr = s.admin_listen.parse().map_err(|_| {
            invalid(
                "server.admin_listen",
                format!(
                    "must be an address with a port such as 127.0.0.1:9100, got {:?}",
                    s.admin_listen
                ),
            )
        })?;
        if let Some(path) = &s.path {
            check_callback_path(path).map_err(|m| invalid("server.path", m))?;
        }
        check_reply_deadline(s.reply_deadline_ms)
            .map_err(|m| invalid("server.reply_deadline_ms", m))?;
        if s.max_body_bytes < 1024 {
            return Err(invalid(
                "server.max_body_bytes",
                format!("must be at least 1024, got {}", s.max_body_bytes),
            ));
        }
        if s.max_connections == 0 {
            return Err(invalid(
                "server.max_connections",
                "must be at least 1, got 0".to_owned(),
            ));
        }
        if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES).contains(&s.max_header_bytes) {
            return Err(invalid(
                "server.max_header_bytes",
                format!(
                    "must be between {MIN_HEADER_BYTES} and {MAX_HEADER_BYTES}, got {}",
                    s.max_header_bytes
                ),
            ));
        }
        for (key, ms) in [
            ("server.header_timeout_ms", s.header_timeout_ms),
            ("server.body_timeout_ms", s.body_timeout_ms),
        ] {
            if !(1..=600_000).contains(&ms) {
                return Err(invalid(
                    key,
                    format!("must be between 1 and 600000, got {ms}"),
                ));
            }
        }
        if s.dedup_max_keys < crate::dedup::MIN_MAX_KEYS {
            return Err(invalid(
                "server.dedup_max_keys",
                format!(
                    "must be at least {}, got {}",
                    crate::dedup::MIN_MAX_KEYS,
                    s.dedup_max_keys
                ),
            ));
        }
        let public_url = non_empty(s.public_url);
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(
                "server.public_url",
                format!("must start with http:// or https://, got {url:?}"),
            ));
        }
        let tls_cert = non_empty(s.tls_cert).map(|p| base_dir.join(p));
        let tls_key = non_empty(s.tls_key).map(|p| base_dir.join(p));
        if tls_cert.is_some() != tls_key.is_some() {
            return Err(invalid(
                "server.tls_cert",
                "and server.tls_key must be set together".to_owned(),
            ));
        }

        let api = raw.api;
        if !(api.base_url.starts_with("http://") || api.base_url.starts_with("https://")) {
            return Err(invalid(
                "api.base_url",
                format!(
                    "must start with http:// or https://, got {:?}",
                    api.base_url
                ),
            ));
        }
        if api.timeout_ms == 0 {
            return Err(invalid(
                "api.timeout_ms",
                "must be greater than 0".to_owned(),
            ));
        }

        let st = raw.store;
        let url_ok = st.url.starts_with("sqlite:")
            || st.url.starts_with("postgres://")
            || st.url.starts_with("postgresql://");
        if !url_ok {
            return Err(invalid(
                "store.url",
                format!(
                    "must be sqlite://PATH or postgres://…, got {:?}",
                    redact_url(&st.url)
                ),
            ));
        }
        let redis_url = non_empty(st.redis_url);
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(invalid(
                "store.redis_url",
                format!("must be redis://… or rediss://…, got {:?}", redact_url(url)),
            ));
        }

        if st.redis_prefix.is_empty()
            || st.redis_prefix.len() > 64
            || st
                .redis_prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "store.redis_prefix",
                format!(
                    "must be 1 to 64 characters without spaces, got {:?}",
                    st.redis_prefix
                ),
            ));
        }

        if !(100..=10_000_000).contains(&st.log_queue) {
            return Err(invalid(
                "store.log_queue",
                format!("must be between 100 and 10000000, got {}", st.log_queue),
            ));
        }

        let admin = validate_admin(raw.admin, &invalid)?;

        let resources = crate::actions::Resources::load(&raw.tables, &raw.script, &base_dir)
            .and_then(|r| r.with_chat_profiles(&raw.chat))
            .map_err(|source| ConfigError::Actions {
                path: path.to_owned(),
                source,
            })?;
        let server = ServerConfig {
            listen,
            path: s.path.clone().unwrap_or_else(|| "/wechat".to_owned()),
            reply_deadline_ms: s.reply_deadline_ms,
            placeholder: s.placeholder,
            timestamp_skew_secs: s.timestamp_skew_secs,
            max_body_bytes: s.max_body_bytes,
            max_connections: s.max_connections,
            max_header_bytes: s.max_header_bytes,
            header_timeout_ms: s.header_timeout_ms,
            body_timeout_ms: s.body_timeout_ms,
            dedup_max_keys: s.dedup_max_keys,
            public_url,
            admin_listen,
            tls_cert,
            tls_key,
        };
        let multi_account = !raw.accounts.is_empty();
        let accounts = match (raw.account, raw.accounts.is_empty()) {
            (Some(_), false) => {
                return Err(invalid(
                    "accounts",
                    "cannot be used together with [account] (a section, or a WXOA_ACCOUNT__<KEY> environment override): write one account as [account], or every account as [[accounts]]".to_owned(),
                ));
            }
            (None, true) => {
                return Err(ConfigError::Parse {
                    path: path.to_owned(),
                    message: "missing field `account`: add an [account] section (or [[accounts]] entries)".to_owned(),
                });
            }
            (Some(account), true) => {
                let account = accounts::validate_account(account, None, "account", &invalid)?;
                let rules = RuleSet::compile_with(&raw.rules, path, &resources)?;
                vec![AccountEntry {
                    account,
                    server: server.clone(),
                    rule_specs: raw.rules.clone(),
                    rules: std::sync::Arc::new(rules),
                    rules_source: path.to_owned(),
                }]
            }
            (None, false) => {
                if s.path.is_some() {
                    return Err(invalid(
                        "server.path",
                        "applies to [account] only: give each [[accounts]] entry its own path (default /wechat/APPID)".to_owned(),
                    ));
                }
                accounts::validate_entries(
                    raw.accounts,
                    &raw.rules,
                    &server,
                    path,
                    &base_dir,
                    &resources,
                    &invalid,
                )?
            }
        };
        let first = &accounts[0];

        Ok(Self {
            source: path.to_owned(),
            base_dir,
            server: first.server.clone(),
            account: first.account.clone(),
            api: ApiConfig {
                base_url: api.base_url.trim_end_matches('/').to_owned(),
                stable_token: api.stable_token,
                timeout_ms: api.timeout_ms,
            },
            store: StoreConfig {
                url: st.url,
                redis_url,
                redis_prefix: st.redis_prefix,
                message_log: st.message_log,
                log_retention_days: st.log_retention_days,
                log_queue: st.log_queue,
            },
            admin,
            rule_specs: first.rule_specs.clone(),
            rules: std::sync::Arc::clone(&first.rules),
            accounts,
            multi_account,
            resources,
        })
    }
}

/// A callback path: starts with `/`, no `?`, `#` or spaces.
fn check_callback_path(path: &str) -> Result<(), String> {
    let pattern_like = path
        .split('/')
        .any(|segment| segment.starts_with([':', '*']) || segment.contains(['{', '}']));
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) || pattern_like {
        return Err(format!(
            "must start with / and contain no ?, #, spaces, {{ }} or segments starting with : or *, got {path:?}"
        ));
    }
    Ok(())
}

/// `reply_deadline_ms`: 100–60000.
fn check_reply_deadline(ms: u64) -> Result<(), String> {
    if !(100..=60_000).contains(&ms) {
        return Err(format!(
            "must be between 100 and 60000 (the platform waits 5000 ms), got {ms}"
        ));
    }
    Ok(())
}

/// The longest a console login may last: a week.
const MAX_SESSION_HOURS: u64 = 24 * 7;

fn validate_admin(
    raw: RawAdmin,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<AdminConfig, ConfigError> {
    let password_hash = non_empty(raw.password_hash);
    if let Some(hash) = &password_hash {
        crate::admin::auth::check_password_hash(hash).map_err(|why| {
            invalid(
                "admin.password_hash",
                format!("is not an argon2 hash ({why}); write one with `wxoa admin passwd`"),
            )
        })?;
    }
    let sso_header = match non_empty(raw.sso_header) {
        None => None,
        Some(name) => Some(
            axum::http::HeaderName::try_from(name.as_str()).map_err(|_| {
                invalid(
                    "admin.sso_header",
                    format!("must be an HTTP header name such as X-Forwarded-User, got {name:?}"),
                )
            })?,
        ),
    };
    let mut sso_trusted_proxies = Vec::new();
    for ip in &raw.sso_trusted_proxies {
        sso_trusted_proxies.push(ip.trim().parse().map_err(|_| {
            invalid(
                "admin.sso_trusted_proxies",
                format!("must be a list of IP addresses such as \"127.0.0.1\", got {ip:?}"),
            )
        })?);
    }
    if sso_header.is_some() && sso_trusted_proxies.is_empty() {
        return Err(invalid(
            "admin.sso_trusted_proxies",
            "must name the proxy that sets admin.sso_header (e.g. [\"127.0.0.1\"]); without it nobody could log in by SSO".to_owned(),
        ));
    }
    if !(1..=MAX_SESSION_HOURS).contains(&raw.session_hours) {
        return Err(invalid(
            "admin.session_hours",
            format!(
                "must be between 1 and {MAX_SESSION_HOURS}, got {}",
                raw.session_hours
            ),
        ));
    }
    Ok(AdminConfig {
        password_hash,
        sso_header,
        sso_trusted_proxies,
        session_hours: raw.session_hours,
    })
}

/// Whether a token has the form the platform accepts in 服务器配置 (3–32 letters or digits).
#[must_use]
pub fn token_has_platform_form(token: &str) -> bool {
    (3..=32).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn looks_like_appid(appid: &str) -> bool {
    appid.len() == 18
        && appid.starts_with("wx")
        && appid[2..].bytes().all(|b| b.is_ascii_alphanumeric())
}

fn key_message(e: &wxoa_proto::crypto::KeyError) -> String {
    format!("is not a valid EncodingAESKey: {e}")
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else {
        Some(t.to_owned())
    }
}

/// Hide the password of a `scheme://user:password@host` URL.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn parse_error(path: &Path, e: figment::Error) -> ConfigError {
    let messages: Vec<String> = e.into_iter().map(|e| describe_figment_error(&e)).collect();
    ConfigError::Parse {
        path: path.to_owned(),
        message: messages.join("; "),
    }
}

fn describe_figment_error(e: &figment::Error) -> String {
    let key = e.path.join(".");
    let kind = e.kind.to_string();
    let from_env = e
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    let origin = if from_env {
        " (from an environment override)"
    } else {
        ""
    };
    if key.is_empty() {
        format!("{kind}{origin}")
    } else {
        format!("{key}: {kind}{origin}")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure type
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[account]
appid = "wx1234567890abcdef"
token = "wxoatoken"
"#;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("conf/wxoa.toml"))
    }

    #[test]
    fn minimal_config_gets_documented_defaults() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.server.path, "/wechat");
        assert_eq!(c.server.reply_deadline_ms, 4500);
        assert_eq!(c.server.timestamp_skew_secs, 300);
        assert_eq!(c.server.dedup_max_keys, crate::dedup::DEFAULT_MAX_KEYS);
        assert_eq!(c.server.max_body_bytes, 1_048_576);
        assert_eq!(c.server.max_connections, 4096);
        assert_eq!(c.server.max_header_bytes, 16_384);
        assert_eq!(c.server.header_timeout_ms, 10_000);
        assert_eq!(c.server.body_timeout_ms, 10_000);
        assert_eq!(c.store.log_queue, DEFAULT_LOG_QUEUE);
        assert_eq!(c.api.base_url, "https://api.weixin.qq.com");
        assert!(c.api.stable_token);
        assert_eq!(c.store.url, "sqlite://data/wxoa.db");
        assert!(c.store.redis_url.is_none());
        assert!(c.account.crypt.is_none());
        assert_eq!(c.base_dir, PathBuf::from("conf"));
        assert!(c.rules.is_empty());
    }

    #[test]
    fn short_aes_key_names_key_and_length() {
        let text = format!(
            "{MINIMAL}encoding_aes_key = \"{}\"\n",
            &"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"[..42]
        );
        let err = load(&text).unwrap_err().to_string();
        assert!(err.contains("account.encoding_aes_key"), "{err}");
        assert!(err.contains("43"), "{err}");
        assert!(err.contains("42"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = load(&format!("{MINIMAL}tokne = \"x\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tokne"), "{err}");
        let err = load(&format!("{MINIMAL}[servr]\nlisten = \"1.2.3.4:5\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("servr"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (snippet, key) in [
            ("[server]\nlisten = \"localhost\"\n", "server.listen"),
            ("[server]\npath = \"wechat\"\n", "server.path"),
            (
                "[server]\nreply_deadline_ms = 5\n",
                "server.reply_deadline_ms",
            ),
            ("[server]\ndedup_max_keys = 10\n", "server.dedup_max_keys"),
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            (
                "[server]\nmax_header_bytes = 4096\n",
                "server.max_header_bytes",
            ),
            (
                "[server]\nheader_timeout_ms = 0\n",
                "server.header_timeout_ms",
            ),
            ("[server]\nbody_timeout_ms = 0\n", "server.body_timeout_ms"),
            ("[store]\nurl = \"mysql://x\"\n", "store.url"),
            ("[store]\nredis_url = \"http://x\"\n", "store.redis_url"),
            ("[api]\nbase_url = \"ftp://x\"\n", "api.base_url"),
        ] {
            let err = load(&format!("{MINIMAL}{snippet}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{snippet}: {err}");
        }
        let err = load("[account]\nappid = \"12345\"\ntoken = \"abc\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("account.appid"), "{err}");
        let err = load(&format!("{MINIMAL}require_encryption = true\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("account.require_encryption"), "{err}");
    }

    #[test]
    fn admin_section_is_off_by_default_and_validated() {
        let c = load(MINIMAL).unwrap();
        assert!(!c.admin.enabled());
        assert_eq!(c.admin.session_hours, 12);
        for (snippet, key) in [
            (
                "[admin]\npassword_hash = \"secret\"\n",
                "admin.password_hash",
            ),
            ("[admin]\nsso_header = \"bad header\"\n", "admin.sso_header"),
            (
                "[admin]\nsso_header = \"X-User\"\nsso_trusted_proxies = [\"proxy\"]\n",
                "admin.sso_trusted_proxies",
            ),
            (
                "[admin]\nsso_header = \"X-User\"\n",
                "admin.sso_trusted_proxies",
            ),
            ("[admin]\nsession_hours = 0\n", "admin.session_hours"),
            ("[admin]\npasword_hash = \"x\"\n", "pasword_hash"),
        ] {
            let err = load(&format!("{MINIMAL}{snippet}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{snippet}: {err}");
        }
        let hash = crate::admin::auth::hash_password("correct horse").unwrap();
        let c = load(&format!(
            "{MINIMAL}[admin]\npassword_hash = \"{hash}\"\nsso_header = \"X-Forwarded-User\"\nsso_trusted_proxies = [\"127.0.0.1\", \"::1\"]\nsession_hours = 2\n"
        ))
        .unwrap();
        assert!(c.admin.enabled());
        assert_eq!(c.admin.sso_trusted_proxies.len(), 2);
        assert_eq!(c.admin.session_hours, 2);
        assert!(
            !format!("{:?}", c.admin).contains("argon2"),
            "hash not printed"
        );
    }

    #[test]
    fn admin_env_override_is_read() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WXOA_ADMIN__SESSION_HOURS", "3");
            let c =
                Config::from_toml_with_env(MINIMAL, Path::new("wxoa.toml"), Env::prefixed("WXOA_"))
                    .map_err(|e| e.to_string())?;
            assert_eq!(c.admin.session_hours, 3);
            Ok(())
        });
    }

    #[test]
    fn missing_account_section_is_named() {
        let err = load("[server]\n").unwrap_err().to_string();
        assert!(err.contains("account"), "{err}");
    }

    #[test]
    fn env_overrides_win_and_numbers_become_strings() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WXOA_ACCOUNT__TOKEN", "123456");
            jail.set_env("WXOA_SERVER__LISTEN", "0.0.0.0:9000");
            jail.set_env("WXOA_CONFIG", "ignored.toml");
            let c =
                Config::from_toml_with_env(MINIMAL, Path::new("wxoa.toml"), Env::prefixed("WXOA_"))
                    .map_err(|e| e.to_string())?;
            assert_eq!(c.account.token, "123456");
            assert_eq!(c.server.listen, "0.0.0.0:9000".parse().unwrap());
            Ok(())
        });
    }

    #[test]
    fn env_override_with_unknown_key_is_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WXOA_ACCOUNT__SECRTE", "x");
            let err =
                Config::from_toml_with_env(MINIMAL, Path::new("wxoa.toml"), Env::prefixed("WXOA_"))
                    .unwrap_err()
                    .to_string();
            assert!(err.contains("secrte"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let c = load(&format!("{MINIMAL}secret = \"topsecretvalue\"\n")).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("topsecretvalue"));
        assert!(!dbg.contains("wxoatoken"));
    }

    #[test]
    fn token_form_and_url_redaction() {
        assert!(token_has_platform_form("abc123"));
        assert!(!token_has_platform_form("ab"));
        assert!(!token_has_platform_form("change-me"));
        assert_eq!(
            redact_url("postgres://u:pw@host/db"),
            "postgres://u:***@host/db"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
