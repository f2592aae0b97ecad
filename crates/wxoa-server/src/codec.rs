//! Replies as JSON, for state that leaves the process: answers shared through the dedup store
//! (CGI processes, several instances), parked results and 客服 deliveries. The shape is the
//! config's `reply` table (`{"text": "…"}`, `{"news": [...]}`, …) plus the rule name.

use serde_json::{Map, Value, json};
use wxoa_proto::reply::{Article, Reply};

use crate::app::Handled;

/// Encode a reply as the config's reply table.
#[must_use]
pub fn reply_to_json(reply: &Reply) -> Value {
    match reply {
        Reply::Text { content } => json!({ "text": content }),
        Reply::Image { media_id } => json!({ "image": media_id }),
        Reply::Voice { media_id } => json!({ "voice": media_id }),
        Reply::Video {
            media_id,
            title,
            description,
        } => {
            json!({ "video": { "media_id": media_id, "title": title, "description": description } })
        }
        Reply::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => json!({ "music": {
            "title": title, "description": description, "music_url": music_url,
            "hq_music_url": hq_music_url, "thumb_media_id": thumb_media_id } }),
        Reply::News { articles } => json!({ "news": articles.iter().map(|a| json!({
            "title": a.title, "description": a.description, "pic_url": a.pic_url, "url": a.url
        })).collect::<Vec<_>>() }),
        Reply::TransferCustomerService { kf_account } => {
            json!({ "transfer_kf": kf_account.clone().unwrap_or_default() })
        }
        // A reply kind added to the protocol crate later: keep it visible rather than lose it.
        other => json!({ "text": format!("{other:?}") }),
    }
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn required(v: &Value, key: &str, kind: &str) -> Result<String, String> {
    string(v, key).ok_or_else(|| format!("{kind}.{key} is missing"))
}

/// Decode a reply table.
///
/// # Errors
/// The value is not one reply table of a known kind.
pub fn reply_from_json(value: &Value) -> Result<Reply, String> {
    let table: &Map<String, Value> = value.as_object().ok_or("a reply must be a JSON object")?;
    let mut kinds = table.iter();
    let (Some((kind, v)), None) = (kinds.next(), kinds.next()) else {
        return Err("a reply must have exactly one kind".to_owned());
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{kind} must be a string"))
    };
    Ok(match kind.as_str() {
        "text" => Reply::Text { content: text(v)? },
        "image" => Reply::Image { media_id: text(v)? },
        "voice" => Reply::Voice { media_id: text(v)? },
        "video" => Reply::Video {
            media_id: required(v, "media_id", "video")?,
            title: string(v, "title"),
            description: string(v, "description"),
        },
        "music" => Reply::Music {
            title: string(v, "title"),
            description: string(v, "description"),
            music_url: string(v, "music_url"),
            hq_music_url: string(v, "hq_music_url"),
            thumb_media_id: required(v, "thumb_media_id", "music")?,
        },
        "news" => Reply::News {
            articles: v
                .as_array()
                .ok_or("news must be a list")?
                .iter()
                .map(|a| Article {
                    title: string(a, "title").unwrap_or_default(),
                    description: string(a, "description").unwrap_or_default(),
                    pic_url: string(a, "pic_url").unwrap_or_default(),
                    url: string(a, "url").unwrap_or_default(),
                })
                .collect(),
        },
        "transfer_kf" => Reply::TransferCustomerService {
            kf_account: v.as_str().filter(|s| !s.is_empty()).map(str::to_owned),
        },
        other => return Err(format!("unknown reply kind {other:?}")),
    })
}

/// Encode a handled push (rule + reply) for the shared dedup store.
#[must_use]
pub fn handled_to_json(handled: &Handled) -> String {
    json!({
        "rule": handled.rule.as_deref(),
        "reply": handled.reply.as_ref().map(reply_to_json),
    })
    .to_string()
}

/// Decode what [`handled_to_json`] wrote.
///
/// # Errors
/// The text is not such a document.
pub fn handled_from_json(text: &str) -> Result<Handled, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let rule = v
        .get("rule")
        .and_then(Value::as_str)
        .map(std::sync::Arc::from);
    let reply = match v.get("reply") {
        None | Some(Value::Null) => None,
        Some(r) => Some(reply_from_json(r)?),
    };
    Ok(Handled { rule, reply })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Reply> {
        vec![
            Reply::text("你好 ]]> <b>"),
            Reply::Image {
                media_id: "m1".into(),
            },
            Reply::Voice {
                media_id: "v1".into(),
            },
            Reply::Video {
                media_id: "v".into(),
                title: Some("t".into()),
                description: None,
            },
            Reply::Music {
                title: Some("t".into()),
                description: None,
                music_url: Some("http://m".into()),
                hq_music_url: None,
                thumb_media_id: "th".into(),
            },
            Reply::News {
                articles: vec![Article {
                    title: "a".into(),
                    description: "d".into(),
                    pic_url: "p".into(),
                    url: "u".into(),
                }],
            },
            Reply::TransferCustomerService { kf_account: None },
            Reply::TransferCustomerService {
                kf_account: Some("a@kf".into()),
            },
        ]
    }

    #[test]
    fn every_reply_kind_round_trips() {
        for reply in samples() {
            let json = reply_to_json(&reply);
            assert_eq!(reply_from_json(&json).unwrap(), reply, "{json}");
        }
    }

    #[test]
    fn handled_round_trips_including_no_reply() {
        for handled in [
            Handled::default(),
            Handled {
                rule: Some("r".into()),
                reply: Some(Reply::text("x")),
            },
            Handled {
                rule: Some("quiet".into()),
                reply: None,
            },
        ] {
            assert_eq!(
                handled_from_json(&handled_to_json(&handled)).unwrap(),
                handled
            );
        }
    }

    #[test]
    fn bad_tables_are_refused_with_a_reason() {
        assert!(reply_from_json(&json!("x")).is_err());
        assert!(
            reply_from_json(&json!({}))
                .unwrap_err()
                .contains("exactly one")
        );
        assert!(reply_from_json(&json!({"text": "a", "image": "b"})).is_err());
        assert!(
            reply_from_json(&json!({"gif": "a"}))
                .unwrap_err()
                .contains("gif")
        );
        assert!(
            reply_from_json(&json!({"music": {}}))
                .unwrap_err()
                .contains("thumb_media_id")
        );
    }
}
