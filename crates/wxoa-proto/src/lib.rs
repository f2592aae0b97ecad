//! The WeChat Official Account (公众号) callback protocol, with no I/O and no async.
//!
//! # Layout
//! - [`signature`]: the SHA-1 signatures of URL verification, pushes and encrypted bodies.
//! - [`crypto`]: WXBizMsgCrypt (AES-256-CBC with 32-byte PKCS#7 blocks and an appid trailer).
//! - [`envelope`]: the encrypted reply envelope.
//! - [`xml`]: a hardened XML reader (no DTD, no entities, depth and size limits).
//! - [`message`] and [`event`]: the inbound model, typed with an `Unknown` fallback.
//! - [`reply`]: passive replies, their XML and their validation.
//! - [`limits`]: the platform's numeric limits.

pub mod crypto;
mod document;
pub mod envelope;
pub mod event;
pub mod limits;
pub mod message;
pub mod reply;
pub mod signature;
pub mod xml;
