//! Parametric QR codes: `qrcode/create` for temporary and permanent codes with integer or string scenes.
//!
//! Validation (PROTOCOL §9.5), all 40097 (invalid args) when broken: `action_name` one of
//! `QR_SCENE`, `QR_STR_SCENE`, `QR_LIMIT_SCENE`, `QR_LIMIT_STR_SCENE`; `action_info.scene` with
//! `scene_id` (temporary: non-zero 32-bit; permanent: 1–100 000) or `scene_str` (1–64
//! characters); temporary `expire_seconds` defaults to 30 and is capped at 2 592 000 (30 days).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors::{WxError, WxResult};
use super::state::MockPlatform;
use super::{int_field, json_body, str_field};

const MAX_EXPIRE_SECONDS: i64 = 2_592_000;
const DEFAULT_EXPIRE_SECONDS: i64 = 30;
const MAX_PERMANENT_SCENE_ID: i64 = 100_000;
const MAX_SCENE_STR_CHARS: usize = 64;

/// A QR code created through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCode {
    /// The ticket (`showqrcode?ticket=…`).
    pub ticket: String,
    /// `QR_SCENE`, `QR_STR_SCENE`, `QR_LIMIT_SCENE` or `QR_LIMIT_STR_SCENE`.
    pub action_name: String,
    /// Integer scene.
    pub scene_id: Option<i64>,
    /// String scene.
    pub scene_str: Option<String>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Expiry of a temporary code; `None` for permanent codes.
    pub expire_at: Option<i64>,
    /// The URL encoded in the image.
    pub url: String,
}

impl QrCode {
    /// The scene as it arrives in `EventKey` of a `SCAN` push (`qrscene_` + this on subscribe).
    #[must_use]
    pub fn scene(&self) -> String {
        match (&self.scene_id, &self.scene_str) {
            (_, Some(s)) => s.clone(),
            (Some(id), None) => id.to_string(),
            (None, None) => String::new(),
        }
    }
}

fn ticket() -> String {
    use rand::Rng;
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut r = rand::rng();
    let body: String = (0..94)
        .map(|_| char::from(B64[r.random_range(0..B64.len())]))
        .collect();
    format!("gQ{body}==")
}

fn invalid() -> WxError {
    WxError::new(40097)
}

/// `POST /cgi-bin/qrcode/create`
pub(crate) async fn create(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let action = str_field(&v, "action_name").unwrap_or_default();
    let (permanent, by_str) = match action.as_str() {
        "QR_SCENE" => (false, false),
        "QR_STR_SCENE" => (false, true),
        "QR_LIMIT_SCENE" => (true, false),
        "QR_LIMIT_STR_SCENE" => (true, true),
        _ => return Err(invalid()),
    };
    let scene = v
        .get("action_info")
        .and_then(|a| a.get("scene"))
        .filter(|s| s.is_object())
        .ok_or_else(invalid)?;
    let (scene_id, scene_str) = if by_str {
        let s = str_field(scene, "scene_str").ok_or_else(invalid)?;
        let n = s.chars().count();
        if n == 0 || n > MAX_SCENE_STR_CHARS {
            return Err(invalid());
        }
        (None, Some(s))
    } else {
        let id = int_field(scene, "scene_id").ok_or_else(invalid)?;
        let max = if permanent {
            MAX_PERMANENT_SCENE_ID
        } else {
            i64::from(u32::MAX)
        };
        if id < 1 || id > max {
            return Err(invalid());
        }
        (Some(id), None)
    };
    let now = p.now();
    let expire = if permanent {
        None
    } else {
        let secs = match v.get("expire_seconds") {
            None | Some(Value::Null) => DEFAULT_EXPIRE_SECONDS,
            Some(_) => int_field(&v, "expire_seconds").ok_or_else(invalid)?,
        };
        if secs < 1 {
            return Err(invalid());
        }
        Some(secs.min(MAX_EXPIRE_SECONDS))
    };
    let code = QrCode {
        ticket: ticket(),
        action_name: action,
        scene_id,
        scene_str,
        created_at: now,
        expire_at: expire.map(|e| now + e),
        url: format!(
            "https://weixin.qq.com/q/{}",
            super::state::random_string(24)
        ),
    };
    let mut out = json!({ "ticket": code.ticket, "url": code.url });
    if let (Some(secs), Some(o)) = (expire, out.as_object_mut()) {
        o.insert("expire_seconds".to_owned(), json!(secs));
    }
    p.lock().qr.push(code);
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_look_like_the_platforms() {
        let t = ticket();
        assert!(t.starts_with("gQ") && t.ends_with("==") && t.len() == 98);
    }

    #[test]
    fn scene_prefers_the_string() {
        let mut c = QrCode {
            ticket: String::new(),
            action_name: "QR_SCENE".into(),
            scene_id: Some(123),
            scene_str: None,
            created_at: 0,
            expire_at: None,
            url: String::new(),
        };
        assert_eq!(c.scene(), "123");
        c.scene_str = Some("promo".into());
        assert_eq!(c.scene(), "promo");
    }
}
