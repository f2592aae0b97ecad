//! Outbound API client for a WeChat Official Account (公众号): a shared access_token provider, typed endpoints and errcode hints.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wxoa_api::ApiError> {
//! use wxoa_api::Client;
//! use wxoa_api::custom::CustomMessage;
//!
//! let client = Client::builder("wx1234567890abcdef", "APPSECRET".to_owned()).build()?;
//! client.send_custom(&CustomMessage::text("OPENID", "你好")).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`Client`] / [`ClientBuilder`] (`client.rs`): configuration and the request plumbing every
//!   call shares: access_token from the provider, one retry after a rejected token, back-off
//!   on `-1` for calls safe to repeat, `errcode` → [`ApiError::Api`] with a [`errcode::Hint`].
//! - `token.rs`: the provider (refresh margin, single-flight, cross-process lock,
//!   compare-and-expire, stable_token escalation, daily fetch counter).
//! - [`TokenStore`] (`token_store.rs`): the contract shared with `wxoa-store`, and [`MemoryTokenStore`].
//! - [`Clock`] (`clock.rs`): injectable time.
//! - [`errcode`]: hints for the common error codes.
//! - One module per endpoint family: [`menu`], [`custom`] (客服消息), [`template`], [`user`],
//!   [`tags`], [`qrcode`], [`media`], [`misc`], [`jssdk`], [`oauth`]; publishing: [`draft`]
//!   (草稿箱), [`publish`] (发布), [`material`] (永久素材), [`mass`] (群发, idempotent by
//!   `clientmsgid`); [`subscribe`] (订阅通知), [`kf`] (客服 accounts), [`blacklist`],
//!   [`shorten`] (short keys), [`datacube`] (数据统计).
//!
//! # Retry rules
//! | situation | what happens |
//! |---|---|
//! | 40001 / 40014 / 42001 | failing token expired only if still stored, one fetch, the call retried once (sends included: the platform did nothing) |
//! | `-1` on a read or idempotent write | retried after 1 s, 2 s, 4 s |
//! | `-1` on a send (客服, template, QR create, upload, OAuth code) | returned at once, never sent twice |
//! | a mass send whose answer is lost (timeout, 5xx, `-1`) | sent again with the same `clientmsgid`; the platform's 45065 "already sent" is reported as success with the first job's msg_id |
//! | anything else | returned, with the hint when the code is known |

mod client;
mod clock;
mod de;
mod error;
mod pct;
mod token;
mod token_store;

pub mod blacklist;
pub mod custom;
pub mod datacube;
pub mod draft;
pub mod errcode;
pub mod jssdk;
pub mod kf;
pub mod mass;
pub mod material;
pub mod media;
pub mod menu;
pub mod misc;
pub mod oauth;
pub mod publish;
pub mod qrcode;
pub mod shorten;
pub mod subscribe;
pub mod tags;
pub mod template;
pub mod user;

pub use client::{
    Client, ClientBuilder, DEFAULT_BACKOFF, DEFAULT_BASE_URL, DEFAULT_BUSY_RETRIES,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_LOCK_POLL_INTERVAL, DEFAULT_LOCK_TTL, DEFAULT_OAUTH_BASE_URL,
    DEFAULT_TIMEOUT, DEFAULT_TOKEN_BACKOFF, DEFAULT_TOKEN_BACKOFF_MAX, Progress,
    REFRESH_MARGIN_SECS,
};
pub use clock::{Clock, ManualClock, SystemClock, beijing_date};
pub use error::ApiError;
pub use secrecy::SecretString;
pub use token::{DAILY_FETCH_LIMIT, FETCH_WARN_THRESHOLD};
#[cfg(any(test, feature = "test-util"))]
pub use token_store::conformance;
pub use token_store::{CachedToken, MemoryTokenStore, StoreError, TokenStore};
