//! The callback driver: the platform's side of the push.
//!
//! A [`Driver`] builds a message or event of any type ([`Push`]), signs it, encrypts it in
//! plain / compat / safe mode ([`Mode`]), posts it to the server URL the way the platform does
//! (5 s timeout, the same bytes re-sent up to 3 attempts in all), judges every response as the
//! platform would, and reports what the follower sees ([`Delivery`], [`FollowerSees`]).
//!
//! # Layout
//! - [`push`]: what to push, with its JSON shape (used by `POST /mock/push`).
//! - `build`: the platform's XML, bodies per mode, signed query strings.
//! - [`transport`]: real HTTP, or an in-process axum router for deterministic tests.
//! - [`deliver`]: attempts, timing, the delivery report.
//! - [`judge`]: the platform's checks of a reply and what the follower sees.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), wxoa_mock::driver::DriverError> {
//! use wxoa_mock::driver::{Driver, DriverConfig, Event, Mode, Push};
//!
//! let target = url::Url::parse("http://127.0.0.1:8080/wechat").expect("url");
//! let mut config = DriverConfig::new(target, "token", "wx1234567890abcdef", "gh_0123456789ab");
//! config.encoding_aes_key = Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".to_owned());
//! let driver = Driver::new(config)?;
//! let delivery = driver.push(&Push::text("使用").mode(Mode::Safe)).await?;
//! println!("{delivery:#}"); // attempts, then what the follower sees
//! let delivery = driver.push(&Push::event(Event::click("MENU_HELP"))).await?;
//! assert!(!delivery.is_banner());
//! # Ok(()) }
//! ```

mod build;
pub mod deliver;
pub mod judge;
pub mod push;
pub mod transport;

use std::fmt;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::Method;
use bytes::Bytes;
use url::Url;
use wxoa_proto::crypto::{KeyError, MsgCrypt};

pub use deliver::{Attempt, Delivery, PushSummary, Verification};
pub use judge::{ArticleView, BANNER, Failure, FollowerSees, ReplyView, SeenReply};
pub use push::{
    Event, ImageSpec, LinkSpec, LocationSpec, MenuChoice, Message, Mode, OtherEvent, OtherMessage,
    Pics, Push, Scancode, SubscribeItem, VideoSpec, VoiceSpec, What,
};
pub use transport::{
    HttpRequest, HttpResponse, HttpTransport, RouterTransport, Transport, TransportError,
};

/// The follower a push comes from when it names none.
pub const DEFAULT_OPENID: &str = "oMockUser0000000000000000001";

/// The platform's timeout per attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The platform's attempts per push (the first and two retries).
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// Where and as which account the driver pushes.
#[derive(Clone)]
pub struct DriverConfig {
    /// The server URL, path included (`http://127.0.0.1:8080/wechat`); the driver appends the
    /// query string.
    pub target: Url,
    /// The account's Token (signs every request).
    pub token: String,
    /// The account's EncodingAESKey (43 characters); required for compat and safe mode.
    pub encoding_aes_key: Option<String>,
    /// The account's AppID (inside every encrypted message).
    pub appid: String,
    /// The account's original id `gh_…` (`ToUserName` of every push).
    pub account_id: String,
    /// The follower of pushes that name none (default [`DEFAULT_OPENID`]).
    pub openid: String,
    /// Timeout per attempt (default 5 s).
    pub timeout: Duration,
    /// Attempts per push, the first included (default 3).
    pub attempts: u32,
}

impl DriverConfig {
    /// A config with the platform's timing (5 s, 3 attempts), no EncodingAESKey and the default
    /// follower.
    #[must_use]
    pub fn new(
        target: Url,
        token: impl Into<String>,
        appid: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        Self {
            target,
            token: token.into(),
            encoding_aes_key: None,
            appid: appid.into(),
            account_id: account_id.into(),
            openid: DEFAULT_OPENID.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
        }
    }
}

impl fmt::Debug for DriverConfig {
    /// Shows whether a key is set, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverConfig")
            .field("target", &self.target.as_str())
            .field("token", &"<redacted>")
            .field(
                "encoding_aes_key",
                &self.encoding_aes_key.as_ref().map(|_| "<redacted>"),
            )
            .field("appid", &self.appid)
            .field("account_id", &self.account_id)
            .field("openid", &self.openid)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// Why the driver cannot be built or a push cannot be sent (failed attempts are not errors: they
/// are in the [`Delivery`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The EncodingAESKey does not decode.
    #[error("driver EncodingAESKey: {0}")]
    Key(#[from] KeyError),
    /// A setting is unusable.
    #[error("driver config: {setting} {problem}")]
    Config {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// Compat or safe mode without an EncodingAESKey.
    #[error(
        "{mode} mode encrypts the push, but the driver has no EncodingAESKey: set encoding_aes_key (the account's 43-character key) or push in plain mode"
    )]
    EncryptionNeedsKey {
        /// The mode asked for.
        mode: Mode,
    },
    /// The push cannot be built.
    #[error("invalid push: {reason}")]
    InvalidPush {
        /// What is wrong.
        reason: String,
    },
    /// The HTTP transport cannot be set up.
    #[error("{0}")]
    Transport(#[from] TransportError),
}

/// A Unix-seconds clock.
type UnixClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The platform's side of the callback for one account. Cheap to clone; share it freely.
#[derive(Clone)]
pub struct Driver {
    config: DriverConfig,
    crypt: Option<MsgCrypt>,
    transport: Arc<dyn Transport>,
    clock: UnixClock,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("config", &self.config)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// A push built and signed, ready to be delivered (once, or again to replay the same bytes).
#[derive(Debug, Clone)]
pub struct PreparedPush {
    summary: PushSummary,
    outgoing: deliver::Outgoing,
}

impl PreparedPush {
    /// What will be pushed, bytes included.
    #[must_use]
    pub fn summary(&self) -> &PushSummary {
        &self.summary
    }

    /// The HTTP request every attempt sends.
    #[must_use]
    pub fn request(&self) -> &HttpRequest {
        &self.outgoing.request
    }
}

impl Driver {
    /// A driver posting over real HTTP.
    ///
    /// # Errors
    /// [`DriverError::Key`] for an EncodingAESKey that does not decode, [`DriverError::Config`]
    /// for an empty token / account id / appid (with a key) or a zero timeout or attempt count,
    /// [`DriverError::Transport`] when the HTTP client cannot be built.
    pub fn new(config: DriverConfig) -> Result<Self, DriverError> {
        let transport = HttpTransport::new()?;
        Self::with_transport(config, Arc::new(transport))
    }

    /// A driver sending through `transport` (e.g. a [`RouterTransport`] over the server's router).
    ///
    /// # Errors
    /// As [`Driver::new`], except the transport error.
    pub fn with_transport(
        config: DriverConfig,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, DriverError> {
        let config_error = |setting, problem: &str| DriverError::Config {
            setting,
            problem: problem.to_owned(),
        };
        if config.token.trim().is_empty() {
            return Err(config_error("token", "is empty"));
        }
        if config.account_id.trim().is_empty() {
            return Err(config_error(
                "account_id",
                "is empty; use the account's original id (gh_…)",
            ));
        }
        if config.openid.trim().is_empty() {
            return Err(config_error("openid", "is empty"));
        }
        if config.timeout.is_zero() {
            return Err(config_error("timeout", "must be more than zero"));
        }
        if config.attempts == 0 {
            return Err(config_error("attempts", "must be at least 1"));
        }
        let key = config
            .encoding_aes_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let crypt = match key {
            Some(key) => {
                if config.appid.trim().is_empty() {
                    return Err(config_error(
                        "appid",
                        "is empty; encrypted pushes carry the account's AppID",
                    ));
                }
                Some(MsgCrypt::new(key, config.appid.trim())?)
            }
            None => None,
        };
        Ok(Self {
            config,
            crypt,
            transport,
            clock: Arc::new(system_unix_time),
        })
    }

    /// The same driver reading time (CreateTime, timestamp) from `clock` (Unix seconds), e.g. to
    /// match a server on a fixed clock.
    #[must_use]
    pub fn with_clock<F>(mut self, clock: F) -> Self
    where
        F: Fn() -> i64 + Send + Sync + 'static,
    {
        self.clock = Arc::new(clock);
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// The mode of pushes that name none: safe with an EncodingAESKey, else plain.
    #[must_use]
    pub fn default_mode(&self) -> Mode {
        if self.crypt.is_some() {
            Mode::Safe
        } else {
            Mode::Plain
        }
    }

    /// Build, sign and (in compat/safe mode) encrypt `push`, fixing its MsgId, CreateTime,
    /// timestamp and nonce.
    ///
    /// # Errors
    /// [`DriverError::EncryptionNeedsKey`] for compat/safe without a key;
    /// [`DriverError::InvalidPush`] for an empty openid or unusable free-form fields.
    pub fn prepare(&self, push: &Push) -> Result<PreparedPush, DriverError> {
        let mode = push.mode.unwrap_or_else(|| self.default_mode());
        if mode.is_encrypted() && self.crypt.is_none() {
            return Err(DriverError::EncryptionNeedsKey { mode });
        }
        let openid = push.from.as_deref().unwrap_or(&self.config.openid).trim();
        if openid.is_empty() {
            return Err(DriverError::InvalidPush {
                reason: "\"from\" (the follower's openid) is empty".to_owned(),
            });
        }
        let now = (self.clock)();
        let create_time = push.create_time.unwrap_or(now);
        let ctx = build::Context {
            account_id: &self.config.account_id,
            openid,
            create_time,
            serial: next_serial(),
            msg_id: push.msg_id,
        };
        let built = build::message_xml(&push.what, &ctx)?;
        let (body, encrypt) = build::body(
            mode,
            &built.xml,
            &self.config.account_id,
            self.crypt.as_ref(),
        )?;
        let timestamp = now.to_string();
        let nonce = rand::random::<u32>().to_string();
        let url = build::push_url(
            &self.config.target,
            &self.config.token,
            &timestamp,
            &nonce,
            openid,
            encrypt.as_deref(),
        );
        let summary = PushSummary {
            mode,
            from: openid.to_owned(),
            to: self.config.account_id.clone(),
            msg_type: built.msg_type,
            msg_id: built.msg_id,
            event: built.event,
            event_key: built.event_key,
            create_time,
            timestamp,
            nonce,
            url: url.to_string(),
            xml: built.xml,
            body: body.clone(),
        };
        Ok(PreparedPush {
            summary,
            outgoing: deliver::Outgoing {
                request: HttpRequest {
                    method: Method::POST,
                    url,
                    body: Bytes::from(body),
                },
                user_message: built.user_message,
                reply_shown: built.reply_shown,
            },
        })
    }

    /// Deliver a prepared push with the platform's timing and judge the reply. Calling it again
    /// re-sends the very same bytes (a duplicate delivery, as after a lost response).
    pub async fn deliver(&self, prepared: &PreparedPush) -> Delivery {
        self.deliver_observed(prepared, |_| {}).await
    }

    /// [`Driver::deliver`], calling `observer` with each attempt as soon as it ends (so a chat
    /// can show "attempt 1: no response in 5000 ms" while the retry is under way).
    pub async fn deliver_observed<F>(&self, prepared: &PreparedPush, mut observer: F) -> Delivery
    where
        F: FnMut(&Attempt) + Send,
    {
        let expect = judge::Expect {
            mode: prepared.summary.mode,
            token: &self.config.token,
            crypt: self.crypt.as_ref(),
            openid: &prepared.summary.from,
            account_id: &self.config.account_id,
            user_message: prepared.outgoing.user_message,
        };
        let plan = deliver::Plan {
            transport: self.transport.as_ref(),
            timeout: self.config.timeout,
            attempts: self.config.attempts,
        };
        deliver::deliver(
            plan,
            &expect,
            &prepared.outgoing,
            prepared.summary.clone(),
            &mut observer,
        )
        .await
    }

    /// [`Driver::prepare`] then [`Driver::deliver`].
    ///
    /// # Errors
    /// As [`Driver::prepare`]; failed attempts are reported in the [`Delivery`], not as errors.
    pub async fn push(&self, push: &Push) -> Result<Delivery, DriverError> {
        let prepared = self.prepare(push)?;
        Ok(self.deliver(&prepared).await)
    }

    /// The URL verification the platform sends when the server URL is saved: a plain `GET`
    /// with `signature`, `timestamp`, `nonce` and a random `echostr`, which must come back
    /// verbatim with status 200 within the timeout.
    pub async fn verify_url(&self) -> Verification {
        let timestamp = (self.clock)().to_string();
        let nonce = rand::random::<u32>().to_string();
        let echostr = rand::random::<u64>().to_string();
        let url = build::verify_url(
            &self.config.target,
            &self.config.token,
            &timestamp,
            &nonce,
            &echostr,
        );
        deliver::verify(self.transport.as_ref(), self.config.timeout, url, echostr).await
    }
}

fn system_unix_time() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A process-wide counter seeded from the time in nanoseconds: unique MsgIds of realistic size
/// (~1.7e18, like the platform's 64-bit ids) across every driver in the process.
fn next_serial() -> u64 {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    NEXT.get_or_init(|| {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| {
            d.as_secs()
                .saturating_mul(1_000_000_000)
                .saturating_add(u64::from(d.subsec_nanos()))
        });
        AtomicU64::new(seed)
    })
    .fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    fn config() -> DriverConfig {
        DriverConfig::new(
            Url::parse("http://127.0.0.1:9/wechat").unwrap(),
            "tok",
            "wx49f0ab532d5d035a",
            "gh_test",
        )
    }

    #[test]
    fn config_defaults_and_debug_redacts() {
        let mut c = config();
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.attempts, 3);
        c.encoding_aes_key = Some(KEY.to_owned());
        let debug = format!("{c:?}");
        assert!(
            !debug.contains(KEY) && !debug.contains("\"tok\""),
            "{debug}"
        );
    }

    #[test]
    fn config_is_validated() {
        let err = |f: &dyn Fn(&mut DriverConfig)| {
            let mut c = config();
            f(&mut c);
            Driver::new(c).unwrap_err().to_string()
        };
        assert!(err(&|c| c.token.clear()).contains("token is empty"));
        assert!(err(&|c| c.attempts = 0).contains("attempts"));
        assert!(err(&|c| c.timeout = Duration::ZERO).contains("timeout"));
        assert!(err(&|c| c.encoding_aes_key = Some("short".to_owned())).contains("EncodingAESKey"));
        assert!(
            err(&|c| {
                c.encoding_aes_key = Some(KEY.to_owned());
                c.appid.clear();
            })
            .contains("appid")
        );
    }

    #[test]
    fn default_mode_follows_the_key() {
        let d = Driver::new(config()).unwrap();
        assert_eq!(d.default_mode(), Mode::Plain);
        let err = d.prepare(&Push::text("x").mode(Mode::Safe)).unwrap_err();
        assert_eq!(err, DriverError::EncryptionNeedsKey { mode: Mode::Safe });
        let mut c = config();
        c.encoding_aes_key = Some(KEY.to_owned());
        assert_eq!(Driver::new(c).unwrap().default_mode(), Mode::Safe);
    }

    #[test]
    fn prepare_fixes_ids_and_signs() {
        let mut c = config();
        c.encoding_aes_key = Some(KEY.to_owned());
        let d = Driver::new(c).unwrap().with_clock(|| 1_700_000_000);
        let a = d.prepare(&Push::text("x").from("oA")).unwrap();
        let b = d.prepare(&Push::text("x").from("oA")).unwrap();
        let (sa, sb) = (a.summary(), b.summary());
        assert_ne!(sa.msg_id, sb.msg_id, "every push gets a fresh MsgId");
        assert!(sa.msg_id.unwrap() > 1_000_000_000_000_000_000);
        assert_eq!(sa.create_time, 1_700_000_000);
        assert_eq!(sa.timestamp, "1700000000");
        assert_eq!(sa.mode, Mode::Safe);
        assert_eq!(sa.from, "oA");
        let q: std::collections::HashMap<String, String> =
            a.request().url.query_pairs().into_owned().collect();
        assert_eq!(q["openid"], "oA");
        assert_eq!(q["encrypt_type"], "aes");
        assert_eq!(q["nonce"], sa.nonce);
        assert!(wxoa_proto::signature::verify(
            &["tok", &sa.timestamp, &sa.nonce],
            &q["signature"]
        ));
        assert_eq!(&a.request().body[..], sa.body.as_bytes());
        let fixed = d
            .prepare(&Push::text("x").msg_id(42).create_time(5))
            .unwrap();
        assert_eq!(fixed.summary().msg_id, Some(42));
        assert_eq!(fixed.summary().create_time, 5);
        assert_eq!(fixed.summary().from, DEFAULT_OPENID);
        assert!(d.prepare(&Push::text("x").from(" ")).is_err());
    }
}
