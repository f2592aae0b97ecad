//! Short keys: `shorten/gen` and `shorten/fetch`.
//!
//! Checks: `long_data` empty or over 4 KB, `expire_seconds` over 30 days 40097; an unknown
//! or expired key 40097 (the mock's code for both).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use serde_json::json;

use super::errors::{WxError, WxResult, ok_with};
use super::state::{MockPlatform, random_string};
use super::{int_field, json_body, str_field};

/// Default and longest lifetime (30 days).
const MAX_EXPIRE: i64 = 30 * 86_400;

/// Stored short keys: key → (long_data, create_time, expire_seconds).
pub(crate) type ShortKeys = HashMap<String, (String, i64, i64)>;

/// `POST /cgi-bin/shorten/gen` `{"long_data","expire_seconds"}` → `{"short_key"}`
pub(crate) async fn generate(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let data = str_field(&v, "long_data").unwrap_or_default();
    if data.is_empty() || data.len() > 4096 {
        return Err(WxError::with_msg(
            40097,
            "invalid args: long_data must be 1 to 4096 bytes",
        ));
    }
    let expire = int_field(&v, "expire_seconds").unwrap_or(MAX_EXPIRE);
    if !(1..=MAX_EXPIRE).contains(&expire) {
        return Err(WxError::with_msg(40097, "invalid args: expire_seconds"));
    }
    let key = random_string(16);
    let now = p.now();
    p.lock().short_keys.insert(key.clone(), (data, now, expire));
    Ok(ok_with(json!({ "short_key": key })))
}

/// `POST /cgi-bin/shorten/fetch` `{"short_key"}` → `{"long_data","create_time","expire_seconds"}`
pub(crate) async fn fetch(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let key = str_field(&v, "short_key").unwrap_or_default();
    let now = p.now();
    let s = p.lock();
    let (data, created, expire) = s
        .short_keys
        .get(&key)
        .filter(|(_, c, e)| now < c + e)
        .ok_or_else(|| WxError::with_msg(40097, "invalid args: short_key not found or expired"))?;
    Ok(ok_with(json!({
        "long_data": data,
        "create_time": created,
        "expire_seconds": created + expire - now,
    })))
}
