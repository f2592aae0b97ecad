//! Template messages: `message/template/send` (recorded in the outbox), `template/get_all_private_template`, `template/del_private_template`.
//!
//! Send checks: `template_id` unknown 40037; openid unknown 40003, not following 43004;
//! `data` not an object of `{"value": …}` 47003; `miniprogram` without `appid` 47003. Like the
//! platform since 2023-05 the follower sees no `first` / `remark`, and each value without line
//! breaks and cut to 20 characters ([`OutboxMessage::text`](super::OutboxMessage::text)).
//! A repeated `client_msg_id` for the same follower within 10 minutes is answered with the
//! first send's msgid and not delivered again.

use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::errors::{WxError, WxResult, ok, ok_with};
use super::state::{MockPlatform, OutboxKind, OutboxMessage};
use super::{json_body, str_field};

/// Id of the template every [`MockConfig`](super::MockConfig) starts with.
pub const DEMO_TEMPLATE_ID: &str = "wxoa_mock_order_status_Vx3Kq8";

/// Longest keyword value shown (characters).
const MAX_VALUE_CHARS: usize = 20;
/// Window in which a repeated `client_msg_id` is not delivered again.
const DEDUP_SECS: i64 = 600;

/// A template of the account (`template/get_all_private_template` item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockTemplate {
    /// Its id, used in `message/template/send`.
    pub template_id: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Primary industry.
    #[serde(default)]
    pub primary_industry: String,
    /// Deputy industry.
    #[serde(default)]
    pub deputy_industry: String,
    /// Content with `{{keyword.DATA}}` placeholders.
    #[serde(default)]
    pub content: String,
    /// Example rendering.
    #[serde(default)]
    pub example: String,
}

impl MockTemplate {
    /// A template with `content` such as `"订单号：{{character_string1.DATA}}"`.
    pub fn new(
        template_id: impl Into<String>,
        title: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            template_id: template_id.into(),
            title: title.into(),
            primary_industry: "IT科技".to_owned(),
            deputy_industry: "互联网|电子商务".to_owned(),
            content: content.into(),
            example: String::new(),
        }
    }

    /// The demo template ([`DEMO_TEMPLATE_ID`]).
    #[must_use]
    pub fn demo() -> Self {
        Self {
            example: "订单号：20240101001\n状态：已发货\n时间：2024-01-01 12:00".to_owned(),
            ..Self::new(
                DEMO_TEMPLATE_ID,
                "订单状态通知",
                "订单号：{{character_string1.DATA}}\n状态：{{phrase2.DATA}}\n时间：{{time3.DATA}}",
            )
        }
    }
}

/// What the follower sees: placeholders filled, `first` / `remark` dropped, values cut to 20
/// characters without line breaks, lines joined with " / ".
fn render(content: &str, data: &Map<String, Value>) -> String {
    let value = |key: &str| -> String {
        if key == "first" || key == "remark" {
            return String::new();
        }
        data.get(key)
            .and_then(|v| str_field(v, "value"))
            .unwrap_or_default()
            .replace(['\r', '\n'], "")
            .chars()
            .take(MAX_VALUE_CHARS)
            .collect()
    };
    let mut out = String::new();
    let mut rest = content;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let key = after[..end].trim();
        out.push_str(&value(key.strip_suffix(".DATA").unwrap_or(key)));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let mut lines: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.ends_with('：') && !l.ends_with(':'))
        .map(str::to_owned)
        .collect();
    if content.trim().is_empty() {
        lines = data
            .keys()
            .map(|k| (k, value(k)))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
    }
    lines.join(" / ")
}

/// `POST /cgi-bin/message/template/send` → `{"errcode":0,"errmsg":"ok","msgid":…}`
pub(crate) async fn send(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let touser = str_field(&v, "touser")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| WxError::new(40003))?;
    let template_id = str_field(&v, "template_id").unwrap_or_default();
    let now = p.now();
    let mut s = p.lock();
    let template = s
        .templates
        .iter()
        .find(|t| t.template_id == template_id)
        .cloned()
        .ok_or_else(|| WxError::new(40037))?;
    s.followers.subscribed(&touser)?;
    let data = match v.get("data") {
        Some(Value::Object(d)) => d.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(WxError::new(47003)),
    };
    if data.values().any(|d| str_field(d, "value").is_none()) {
        return Err(WxError::new(47003));
    }
    if let Some(mp) = v.get("miniprogram")
        && str_field(mp, "appid").is_none_or(|a| a.is_empty())
    {
        return Err(WxError::new(47003));
    }
    if let Some(id) = str_field(&v, "client_msg_id").filter(|i| !i.is_empty()) {
        let earlier = s.outbox.iter().rev().find(|m| {
            m.kind == OutboxKind::Template
                && m.touser == touser
                && now - m.at < DEDUP_SECS
                && str_field(&m.body, "client_msg_id").as_deref() == Some(id.as_str())
        });
        if let Some(msgid) = earlier.and_then(|m| m.msgid) {
            return Ok(ok_with(json!({ "msgid": msgid })));
        }
    }
    s.next_msgid += 1;
    let msgid = s.next_msgid;
    let text = render(&template.content, &data);
    s.outbox.push(OutboxMessage {
        seq: p.next_seq(),
        kind: OutboxKind::Template,
        at: now,
        touser,
        msgtype: "template".to_owned(),
        text,
        msgid: Some(msgid),
        body: v,
    });
    Ok(ok_with(json!({ "msgid": msgid })))
}

/// `GET /cgi-bin/template/get_all_private_template`
pub(crate) async fn list(State(p): State<MockPlatform>) -> WxResult {
    let s = p.lock();
    Ok(axum::Json(json!({ "template_list": s.templates })))
}

/// `POST /cgi-bin/template/del_private_template` `{"template_id"}`
pub(crate) async fn delete(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let id = str_field(&v, "template_id").unwrap_or_default();
    let mut s = p.lock();
    let before = s.templates.len();
    s.templates.retain(|t| t.template_id != id);
    if s.templates.len() == before {
        return Err(WxError::new(40037));
    }
    Ok(ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn rendering_follows_the_2023_rules() {
        let content = "{{first.DATA}}\n订单号：{{character_string1.DATA}}\n状态：{{phrase2.DATA}}\n{{remark.DATA}}";
        let d = data(serde_json::json!({
            "first": {"value": "您好"},
            "character_string1": {"value": "2024\n0101"},
            "phrase2": {"value": "一二三四五六七八九十一二三四五六七八九十超出"},
            "remark": {"value": "谢谢"}
        }));
        assert_eq!(
            render(content, &d),
            "订单号：20240101 / 状态：一二三四五六七八九十一二三四五六七八九十"
        );
    }

    #[test]
    fn missing_values_drop_their_line_and_templates_without_content_list_pairs() {
        let d = data(serde_json::json!({"time3": {"value": "12:00"}}));
        assert_eq!(
            render("状态：{{phrase2.DATA}}\n时间：{{time3.DATA}}", &d),
            "时间：12:00"
        );
        assert_eq!(render("", &d), "time3: 12:00");
    }
}
