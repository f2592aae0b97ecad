//! `ApiError`: everything that can go wrong calling the platform, with the errcode hint attached.

use std::fmt;
use std::time::Duration;

use crate::errcode::{self, Hint};
use crate::token_store::StoreError;

/// An error from the outbound API client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The HTTP exchange failed (DNS, connect, TLS, timeout, reading the body).
    ///
    /// The URL is stripped from the inner error: it would carry the access_token or AppSecret.
    #[error("HTTP request to the WeChat API {path} failed ({})", transport_kind(.source))]
    Http {
        /// The API path that was called, without its query string.
        path: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The platform answered with a non-2xx HTTP status (it normally answers 200 even for errors).
    #[error("WeChat API {path} answered HTTP {status}: {body}")]
    Status {
        /// The API path that was called.
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The response body (truncated).
        body: String,
    },
    /// The platform answered with a non-zero `errcode`.
    #[error("{}", ApiDisplay { code: *.code, errmsg, hint: *.hint })]
    Api {
        /// The `errcode`.
        code: i64,
        /// The `errmsg`, verbatim (it usually ends with `rid: …`, usable with `rid_get`).
        errmsg: String,
        /// What the code means and what to do, when the table in [`errcode`](crate::errcode) knows it.
        hint: Option<&'static Hint>,
    },
    /// The response was not the JSON this call expects.
    #[error("could not decode the WeChat API response (body: {body})")]
    Decode {
        /// The response body (truncated; redacted for token responses).
        body: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The shared token store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request was refused before sending because it breaks a platform limit.
    #[error("invalid request: {0}")]
    Validation(String),
    /// The client was configured with an unusable value.
    #[error("invalid API client configuration: {0}")]
    Config(String),
    /// Another process held the token lock for `key` and no fresh token appeared in time.
    #[error(
        "gave up after {waited:?} waiting for another process to fetch `{key}`; \
         if that process died, its lock expires after the lock ttl; check the token store"
    )]
    TokenLockTimeout {
        /// The token store key.
        key: String,
        /// How long this caller waited.
        waited: Duration,
    },
    /// The token fetch that this caller queued behind failed (the original error is in `reason`).
    #[error("fetching `{key}` failed: {reason}")]
    TokenFetchFailed {
        /// The token store key.
        key: String,
        /// The failure of the fetch this caller waited on.
        reason: String,
    },
}

struct ApiDisplay<'a> {
    code: i64,
    errmsg: &'a str,
    hint: Option<&'static Hint>,
}

impl fmt::Display for ApiDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WeChat API error {}: {}", self.code, self.errmsg)?;
        if let Some(h) = self.hint {
            write!(
                f,
                " — {} / {}",
                h.render_en(self.errmsg),
                h.render_zh(self.errmsg)
            )?;
        }
        Ok(())
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "could not read the response body"
    } else if e.is_builder() {
        "could not build the request"
    } else {
        "transport error"
    }
}

impl ApiError {
    /// An [`ApiError::Api`] for `code`, with its hint looked up.
    #[must_use]
    pub fn api(code: i64, errmsg: impl Into<String>) -> Self {
        Self::Api {
            code,
            errmsg: errmsg.into(),
            hint: errcode::hint(code),
        }
    }

    pub(crate) fn http(path: &str, e: reqwest::Error) -> Self {
        Self::Http {
            path: path.to_owned(),
            source: e.without_url(),
        }
    }

    /// The platform's `errcode`, if this is an [`ApiError::Api`].
    #[must_use]
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The hint for this error's `errcode`, if any.
    #[must_use]
    pub fn hint(&self) -> Option<&'static Hint> {
        match self {
            Self::Api { hint, .. } => *hint,
            _ => None,
        }
    }

    /// The English hint with the details of this error filled in (e.g. the IP of a 40164).
    #[must_use]
    pub fn hint_en(&self) -> Option<String> {
        match self {
            Self::Api {
                hint: Some(h),
                errmsg,
                ..
            } => Some(h.render_en(errmsg)),
            _ => None,
        }
    }

    /// The Chinese hint with the details of this error filled in.
    #[must_use]
    pub fn hint_zh(&self) -> Option<String> {
        match self {
            Self::Api {
                hint: Some(h),
                errmsg,
                ..
            } => Some(h.render_zh(errmsg)),
            _ => None,
        }
    }

    /// Whether the platform rejected the access_token (40001 / 40014 / 42001).
    #[must_use]
    pub fn is_token_rejected(&self) -> bool {
        self.code().is_some_and(errcode::is_token_rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_display_names_code_errmsg_and_both_hints() {
        let e = ApiError::api(45009, "reach max api daily quota limit rid: 1");
        let s = e.to_string();
        assert!(
            s.starts_with("WeChat API error 45009: reach max api daily quota limit"),
            "{s}"
        );
        assert!(s.contains("clear_quota"), "{s}");
        assert!(s.contains("每日上限"), "{s}");
        assert_eq!(e.code(), Some(45009));
        assert!(!e.is_token_rejected());
    }

    #[test]
    fn unknown_code_has_no_hint() {
        let e = ApiError::api(99999, "strange");
        assert_eq!(e.to_string(), "WeChat API error 99999: strange");
        assert!(e.hint().is_none() && e.hint_en().is_none());
    }

    #[test]
    fn hint_text_names_the_ip() {
        let e = ApiError::api(
            40164,
            "invalid ip 198.51.100.20 ipv6 ::ffff:198.51.100.20, not in whitelist",
        );
        assert!(e.hint_en().unwrap().contains("198.51.100.20"));
        assert!(e.hint_zh().unwrap().contains("添加 198.51.100.20"));
        assert!(ApiError::api(42001, "expired").is_token_rejected());
    }
}
