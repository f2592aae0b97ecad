//! Short keys (`shorten/gen`, `shorten/fetch`): trade a long text (e.g. a page's state) for a short key and back.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode};
use crate::draft::require;
use crate::error::ApiError;

/// Longest lifetime of a short key (30 days), also the platform's default.
pub const MAX_EXPIRE_SECONDS: u32 = 30 * 86_400;
/// Largest `long_data`, in bytes.
pub const MAX_LONG_DATA_BYTES: usize = 4 * 1024;

/// What `shorten/fetch` answers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShortData {
    /// The stored text.
    pub long_data: String,
    /// When the key was made (Unix seconds).
    #[serde(default)]
    pub create_time: i64,
    /// Seconds the key has left.
    #[serde(default)]
    pub expire_seconds: i64,
}

#[derive(Deserialize)]
struct GenResponse {
    short_key: String,
}

impl Client {
    /// `POST shorten/gen`: a short key for `long_data`, valid `expire_seconds` (≤ 30 days).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for empty or too long data or a lifetime over 30 days.
    pub async fn shorten(&self, long_data: &str, expire_seconds: u32) -> Result<String, ApiError> {
        require("long_data", long_data)?;
        if long_data.len() > MAX_LONG_DATA_BYTES {
            return Err(ApiError::Validation(format!(
                "long_data is {} bytes; at most {MAX_LONG_DATA_BYTES}",
                long_data.len()
            )));
        }
        if expire_seconds == 0 || expire_seconds > MAX_EXPIRE_SECONDS {
            return Err(ApiError::Validation(format!(
                "expire_seconds must be 1 to {MAX_EXPIRE_SECONDS}, got {expire_seconds}"
            )));
        }
        let req = Req::post(
            "/cgi-bin/shorten/gen",
            &serde_json::json!({ "long_data": long_data, "expire_seconds": expire_seconds }),
        )?;
        let r: GenResponse = self.inner.call(&req, decode).await?;
        Ok(r.short_key)
    }

    /// `POST shorten/fetch`: the text behind `short_key`.
    ///
    /// # Errors
    /// The platform's error for an unknown or expired key.
    pub async fn shorten_fetch(&self, short_key: &str) -> Result<ShortData, ApiError> {
        require("short_key", short_key)?;
        let req = Req::post(
            "/cgi-bin/shorten/fetch",
            &serde_json::json!({ "short_key": short_key }),
        )?
        .safe();
        self.inner.call(&req, decode).await
    }
}
