//! 客服消息: `message/custom/send` (every msgtype, recorded in the outbox) and `message/custom/typing`.
//!
//! Checks, in order: openid unknown 40003, not following 43004; msgtype unknown 40008; empty
//! text 44004; news without articles 44003, more than one article 45008 (the platform's
//! current rule for 客服 news); media ids (image, voice, video, thumbs) must be live temporary
//! media of the right kind, else 40007; other required fields 47001; then the window: within
//! [`MockConfig::custom_window`](super::MockConfig::custom_window) (48 h) of the follower's last
//! message, [`MockConfig::custom_quota`](super::MockConfig::custom_quota) (5) messages, or
//! within 1 minute of a subscribe / scan / menu click, 3 messages; closed 45015, spent 45047.
//! Typing needs the same open window (it uses no quota).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use serde_json::Value;

use super::errors::{WxError, WxResult, ok};
use super::media::{MediaKind, StoredMedia, live_media};
use super::state::{MockPlatform, OutboxKind, OutboxMessage};
use super::{json_body, str_field};

fn required(payload: &Value, field: &str) -> Result<String, WxError> {
    str_field(payload, field)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| WxError::new(47001))
}

fn media_of(
    media: &HashMap<String, StoredMedia>,
    payload: &Value,
    field: &str,
    kinds: &[MediaKind],
    now: i64,
) -> Result<String, WxError> {
    let id = str_field(payload, field)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| WxError::new(40007))?;
    let m = live_media(media, &id, now)?;
    if kinds.contains(&m.kind) {
        Ok(id)
    } else {
        Err(WxError::new(40007))
    }
}

const THUMBS: &[MediaKind] = &[MediaKind::Thumb, MediaKind::Image];

/// Validate the message and describe it as the follower sees it.
fn check_message(
    msgtype: &str,
    payload: Option<&Value>,
    media: &HashMap<String, StoredMedia>,
    now: i64,
) -> Result<String, WxError> {
    let empty = Value::Null;
    let p = payload.unwrap_or(&empty);
    let text = match msgtype {
        "text" => str_field(p, "content")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| WxError::new(44004))?,
        "image" => format!(
            "[图片] {}",
            media_of(media, p, "media_id", &[MediaKind::Image], now)?
        ),
        "voice" => format!(
            "[语音] {}",
            media_of(media, p, "media_id", &[MediaKind::Voice], now)?
        ),
        "video" => {
            let id = media_of(media, p, "media_id", &[MediaKind::Video], now)?;
            media_of(media, p, "thumb_media_id", THUMBS, now)?;
            format!("[视频] {}", str_field(p, "title").unwrap_or(id))
        }
        "music" => {
            let url = required(p, "musicurl")?;
            media_of(media, p, "thumb_media_id", THUMBS, now)?;
            format!("[音乐] {}", str_field(p, "title").unwrap_or(url))
        }
        "news" => {
            let articles = p
                .get("articles")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| WxError::new(44003))?;
            if articles.len() > 1 {
                return Err(WxError::new(45008));
            }
            let title = articles
                .first()
                .map(|a| required(a, "title"))
                .transpose()?
                .unwrap_or_default();
            format!("[图文] {title}")
        }
        "mpnews" => format!(
            "[图文] {}",
            str_field(p, "media_id")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| WxError::new(40007))?
        ),
        "mpnewsarticle" => format!("[图文] {}", required(p, "article_id")?),
        "msgmenu" => {
            let list = p
                .get("list")
                .and_then(Value::as_array)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| WxError::new(47001))?;
            let mut lines = vec![str_field(p, "head_content").unwrap_or_default()];
            for item in list {
                lines.push(format!(
                    "[{}] {}",
                    required(item, "id")?,
                    required(item, "content")?
                ));
            }
            lines.push(str_field(p, "tail_content").unwrap_or_default());
            lines.retain(|l| !l.is_empty());
            lines.join(" / ")
        }
        "wxcard" => format!("[卡券] {}", required(p, "card_id")?),
        "miniprogrampage" => {
            required(p, "appid")?;
            required(p, "pagepath")?;
            media_of(media, p, "thumb_media_id", THUMBS, now)?;
            format!("[小程序] {}", str_field(p, "title").unwrap_or_default())
        }
        _ => return Err(WxError::new(40008)),
    };
    Ok(text)
}

/// `POST /cgi-bin/message/custom/send`
pub(crate) async fn send(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let touser = str_field(&v, "touser")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| WxError::new(40003))?;
    let msgtype = str_field(&v, "msgtype").unwrap_or_default();
    let now = p.now();
    let config = p.config();
    let window = i64::try_from(config.custom_window.as_secs()).unwrap_or(i64::MAX);
    let mut s = p.lock();
    s.followers.subscribed(&touser)?;
    let text = check_message(&msgtype, v.get(&msgtype), &s.media, now)?;
    s.followers
        .custom_window(&touser, now, window, config.custom_quota, true)?;
    s.outbox.push(OutboxMessage {
        seq: p.next_seq(),
        kind: OutboxKind::Custom,
        at: now,
        touser,
        msgtype,
        text,
        msgid: None,
        body: v,
    });
    Ok(ok())
}

/// `POST /cgi-bin/message/custom/typing` `{"touser","command":"Typing"|"CancelTyping"}`
pub(crate) async fn typing(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let touser = str_field(&v, "touser")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| WxError::new(40003))?;
    let command = str_field(&v, "command").unwrap_or_default();
    if command != "Typing" && command != "CancelTyping" {
        return Err(WxError::new(47003));
    }
    let now = p.now();
    let config = p.config();
    let window = i64::try_from(config.custom_window.as_secs()).unwrap_or(i64::MAX);
    let mut s = p.lock();
    s.followers
        .custom_window(&touser, now, window, config.custom_quota, false)?;
    Ok(ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_msgtype_is_described_or_rejected() {
        let mut media = HashMap::new();
        let img = StoredMedia::new(MediaKind::Image, "a.jpg", vec![1], 0);
        let img_id = img.media_id.clone();
        media.insert(img_id.clone(), img);
        let t = |ty: &str, p: Value| check_message(ty, Some(&p), &media, 10);
        assert_eq!(t("text", json!({"content":"你好"})).unwrap(), "你好");
        assert_eq!(t("text", json!({"content":""})).unwrap_err().code, 44004);
        assert_eq!(
            t("image", json!({"media_id": img_id})).unwrap(),
            format!("[图片] {img_id}")
        );
        assert_eq!(
            t("voice", json!({"media_id": img_id})).unwrap_err().code,
            40007
        );
        assert_eq!(
            t("image", json!({"media_id":"nope"})).unwrap_err().code,
            40007
        );
        assert_eq!(t("news", json!({"articles":[]})).unwrap_err().code, 44003);
        let a = json!({"title":"T","url":"http://x"});
        assert_eq!(
            t("news", json!({"articles":[a.clone()]})).unwrap(),
            "[图文] T"
        );
        assert_eq!(
            t("news", json!({"articles":[a.clone(), a]}))
                .unwrap_err()
                .code,
            45008
        );
        assert_eq!(
            t("msgmenu", json!({"head_content":"满意吗","list":[{"id":"1","content":"是"}],"tail_content":""}))
                .unwrap(),
            "满意吗 / [1] 是"
        );
        assert_eq!(
            t(
                "miniprogrampage",
                json!({"title":"T","appid":"wx","pagepath":"p","thumb_media_id":img_id})
            )
            .unwrap(),
            "[小程序] T"
        );
        assert_eq!(t("wxcard", json!({})).unwrap_err().code, 47001);
        assert_eq!(t("sticker", json!({})).unwrap_err().code, 40008);
        // A medium past its 3 days is gone.
        assert_eq!(
            check_message(
                "image",
                Some(&json!({"media_id": img_id})),
                &media,
                3 * 86_400
            )
            .unwrap_err()
            .code,
            40007
        );
    }
}
