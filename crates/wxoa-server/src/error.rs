//! The one error type that answers at the HTTP edge, and its status codes.
//!
//! Everything here happens before a push is accepted (signature, replay window, size, XML,
//! decryption). Once a push is accepted, failures answer `success` instead, so the follower
//! never sees the platform's error banner because of us.

use axum::http::StatusCode;
use wxoa_proto::crypto::CryptoError;

/// Why a request was refused at the edge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// A required query parameter is absent.
    #[error("missing {0}")]
    MissingParam(&'static str),
    /// `signature` does not match sha1(token, timestamp, nonce).
    #[error("invalid signature (is account.token the Token of 服务器配置?)")]
    BadSignature,
    /// `msg_signature` does not match sha1(token, timestamp, nonce, Encrypt).
    #[error("invalid msg_signature (is account.token the Token of 服务器配置?)")]
    BadMsgSignature,
    /// `timestamp` is not a number.
    #[error("invalid timestamp")]
    BadTimestamp,
    /// `timestamp` is outside the replay window.
    #[error("stale timestamp")]
    StaleTimestamp,
    /// A plaintext push while `account.require_encryption` is set.
    #[error("plaintext push refused: account.require_encryption is set (安全模式)")]
    PlaintextRefused,
    /// The body is larger than `server.max_body_bytes`.
    #[error("body larger than server.max_body_bytes ({max} bytes)")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The body did not arrive within `server.body_timeout_ms`.
    #[error("the request body did not arrive within server.body_timeout_ms ({} ms)", timeout.as_millis())]
    SlowBody {
        /// The limit.
        timeout: std::time::Duration,
    },
    /// The body is not a push we can read.
    #[error("malformed push: {0}")]
    Malformed(String),
    /// An encrypted push arrived but no EncodingAESKey is configured.
    #[error(
        "encrypted push but account.encoding_aes_key is not set: copy the EncodingAESKey of 服务器配置 into it"
    )]
    NoAesKey,
    /// The ciphertext does not decrypt, or belongs to another appid.
    #[error("cannot decrypt push: {0}")]
    Decrypt(#[from] CryptoError),
}

impl EdgeError {
    /// The HTTP status this error answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingParam(_)
            | Self::BadSignature
            | Self::BadMsgSignature
            | Self::BadTimestamp
            | Self::StaleTimestamp
            | Self::PlaintextRefused => StatusCode::FORBIDDEN,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SlowBody { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Malformed(_) | Self::NoAesKey | Self::Decrypt(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// A short label for logs and metrics.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::MissingParam(_) => "missing_param",
            Self::BadSignature => "bad_signature",
            Self::BadMsgSignature => "bad_msg_signature",
            Self::BadTimestamp => "bad_timestamp",
            Self::StaleTimestamp => "stale_timestamp",
            Self::PlaintextRefused => "plaintext_refused",
            Self::TooLarge { .. } => "too_large",
            Self::SlowBody { .. } => "slow_body",
            Self::Malformed(_) => "malformed",
            Self::NoAesKey => "no_aes_key",
            Self::Decrypt(_) => "decrypt",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_edge_table() {
        assert_eq!(EdgeError::BadSignature.status(), StatusCode::FORBIDDEN);
        assert_eq!(EdgeError::StaleTimestamp.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            EdgeError::TooLarge { max: 1 }.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            EdgeError::Malformed("x".into()).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(EdgeError::NoAesKey.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            EdgeError::SlowBody {
                timeout: std::time::Duration::from_secs(1)
            }
            .status(),
            StatusCode::REQUEST_TIMEOUT
        );
        assert_eq!(EdgeError::StaleTimestamp.to_string(), "stale timestamp");
    }
}
