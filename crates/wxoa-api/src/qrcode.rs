//! Parametric QR codes (带参数二维码): `qrcode/create` for temporary and permanent codes with integer or string scenes, and the showqrcode URL.
//!
//! Limits (PROTOCOL §9.5): temporary codes live at most 2 592 000 s (30 days) and take a
//! non-zero 32-bit scene id; permanent codes take a scene id 1–100 000 (at most 100 000 codes
//! per account); a string scene is 1–64 characters. Scanning pushes `subscribe` (EventKey
//! `qrscene_…`) or `SCAN`.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode};
use crate::error::ApiError;
use crate::pct::encode_component;

/// Longest life of a temporary code, in seconds (30 days).
pub const MAX_EXPIRE_SECONDS: u32 = 2_592_000;
/// Largest scene id of a permanent code.
pub const MAX_PERMANENT_SCENE_ID: u32 = 100_000;
/// Longest string scene, in characters.
pub const MAX_SCENE_STR_CHARS: usize = 64;
/// Where the code image is fetched (no token needed).
pub const SHOWQRCODE_URL: &str = "https://mp.weixin.qq.com/cgi-bin/showqrcode";

/// A QR code's scene value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrScene {
    /// `scene_id`.
    Id(u32),
    /// `scene_str`.
    Str(String),
}

impl QrScene {
    /// A scene from user input: digits that fit a `u32` are a `scene_id`, anything else a `scene_str`.
    #[must_use]
    pub fn parse(input: &str) -> Self {
        match input.parse::<u32>() {
            Ok(id)
                if input.bytes().all(|b| b.is_ascii_digit())
                    && (input == "0" || !input.starts_with('0')) =>
            {
                Self::Id(id)
            }
            _ => Self::Str(input.to_owned()),
        }
    }
}

/// What `qrcode/create` should make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrCodeRequest {
    /// `QR_SCENE` / `QR_STR_SCENE`: expires after `expire_seconds`.
    Temporary {
        /// The scene.
        scene: QrScene,
        /// Lifetime, 1 to [`MAX_EXPIRE_SECONDS`].
        expire_seconds: u32,
    },
    /// `QR_LIMIT_SCENE` / `QR_LIMIT_STR_SCENE`: never expires.
    Permanent {
        /// The scene.
        scene: QrScene,
    },
}

impl QrCodeRequest {
    /// The platform's `action_name`.
    #[must_use]
    pub fn action_name(&self) -> &'static str {
        match self {
            Self::Temporary {
                scene: QrScene::Id(_),
                ..
            } => "QR_SCENE",
            Self::Temporary {
                scene: QrScene::Str(_),
                ..
            } => "QR_STR_SCENE",
            Self::Permanent {
                scene: QrScene::Id(_),
            } => "QR_LIMIT_SCENE",
            Self::Permanent {
                scene: QrScene::Str(_),
            } => "QR_LIMIT_STR_SCENE",
        }
    }

    /// Check the ranges above.
    ///
    /// # Errors
    /// A message naming the value out of range.
    pub fn validate(&self) -> Result<(), String> {
        let (scene, permanent) = match self {
            Self::Temporary {
                scene,
                expire_seconds,
            } => {
                if *expire_seconds == 0 || *expire_seconds > MAX_EXPIRE_SECONDS {
                    return Err(format!(
                        "expire_seconds must be 1 to {MAX_EXPIRE_SECONDS} (30 days), got {expire_seconds}"
                    ));
                }
                (scene, false)
            }
            Self::Permanent { scene } => (scene, true),
        };
        match scene {
            QrScene::Id(0) => Err("scene_id must not be 0".to_owned()),
            QrScene::Id(id) if permanent && *id > MAX_PERMANENT_SCENE_ID => Err(format!(
                "a permanent code's scene_id must be 1 to {MAX_PERMANENT_SCENE_ID}, got {id}"
            )),
            QrScene::Id(_) => Ok(()),
            QrScene::Str(s) => {
                let n = s.chars().count();
                if n == 0 || n > MAX_SCENE_STR_CHARS {
                    Err(format!(
                        "scene_str must be 1 to {MAX_SCENE_STR_CHARS} characters, got {n}"
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let (scene, expire) = match self {
            Self::Temporary {
                scene,
                expire_seconds,
            } => (scene, Some(*expire_seconds)),
            Self::Permanent { scene } => (scene, None),
        };
        let scene = match scene {
            QrScene::Id(id) => serde_json::json!({ "scene_id": id }),
            QrScene::Str(s) => serde_json::json!({ "scene_str": s }),
        };
        let mut body = serde_json::json!({ "action_name": self.action_name(), "action_info": { "scene": scene } });
        if let (Some(secs), Some(obj)) = (expire, body.as_object_mut()) {
            obj.insert("expire_seconds".to_owned(), secs.into());
        }
        body
    }
}

/// The answer of `qrcode/create`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct QrCodeTicket {
    /// Ticket for [`showqrcode_url`].
    pub ticket: String,
    /// Lifetime of a temporary code.
    #[serde(default)]
    pub expire_seconds: Option<i64>,
    /// The URL the code encodes (make your own image from it if you like).
    #[serde(default)]
    pub url: String,
}

/// The image URL of a code: `https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=…` with the
/// ticket percent-encoded (tickets are base64 with `+`, `/`, `=`).
#[must_use]
pub fn showqrcode_url(ticket: &str) -> String {
    format!("{SHOWQRCODE_URL}?ticket={}", encode_component(ticket))
}

impl Client {
    /// `POST qrcode/create`. Not repeated on `-1`.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for an out-of-range scene or lifetime; the platform's error.
    pub async fn qrcode_create(&self, request: &QrCodeRequest) -> Result<QrCodeTicket, ApiError> {
        request.validate().map_err(ApiError::Validation)?;
        let req = Req::post("/cgi-bin/qrcode/create", &request.to_json())?;
        self.inner.call(&req, decode).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_match_the_documented_json() {
        let t = QrCodeRequest::Temporary {
            scene: QrScene::Id(123),
            expire_seconds: 604_800,
        };
        assert_eq!(
            t.to_json(),
            json!({"expire_seconds":604800,"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":123}}})
        );
        let t = QrCodeRequest::Temporary {
            scene: QrScene::Str("test".into()),
            expire_seconds: 60,
        };
        assert_eq!(t.to_json()["action_name"], "QR_STR_SCENE");
        let p = QrCodeRequest::Permanent {
            scene: QrScene::Str("test".into()),
        };
        assert_eq!(
            p.to_json(),
            json!({"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"test"}}})
        );
        assert_eq!(
            QrCodeRequest::Permanent {
                scene: QrScene::Id(1)
            }
            .action_name(),
            "QR_LIMIT_SCENE"
        );
    }

    #[test]
    fn scene_parse() {
        assert_eq!(QrScene::parse("123"), QrScene::Id(123));
        assert_eq!(
            QrScene::parse("0123"),
            QrScene::Str("0123".into()),
            "leading zeros are kept as text"
        );
        assert_eq!(QrScene::parse("+5"), QrScene::Str("+5".into()));
        assert_eq!(
            QrScene::parse("99999999999"),
            QrScene::Str("99999999999".into())
        );
        assert_eq!(QrScene::parse("渠道"), QrScene::Str("渠道".into()));
    }

    #[test]
    fn ranges_are_checked() {
        let perm = |id| QrCodeRequest::Permanent {
            scene: QrScene::Id(id),
        };
        perm(100_000).validate().unwrap();
        assert!(
            perm(100_001)
                .validate()
                .unwrap_err()
                .contains("1 to 100000")
        );
        assert!(perm(0).validate().is_err());
        let temp = |secs| QrCodeRequest::Temporary {
            scene: QrScene::Id(u32::MAX),
            expire_seconds: secs,
        };
        temp(MAX_EXPIRE_SECONDS).validate().unwrap();
        assert!(
            temp(MAX_EXPIRE_SECONDS + 1)
                .validate()
                .unwrap_err()
                .contains("30 days")
        );
        assert!(temp(0).validate().is_err());
        let s = |v: &str| QrCodeRequest::Permanent {
            scene: QrScene::Str(v.to_owned()),
        };
        s(&"场".repeat(64)).validate().unwrap();
        assert!(
            s(&"x".repeat(65))
                .validate()
                .unwrap_err()
                .contains("got 65")
        );
        assert!(s("").validate().is_err());
    }

    #[test]
    fn showqrcode_url_encodes_the_ticket() {
        let t = "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==";
        assert_eq!(
            showqrcode_url(t),
            "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw%3D%3D"
        );
        assert!(showqrcode_url("a+b/c").ends_with("ticket=a%2Bb%2Fc"));
    }
}
