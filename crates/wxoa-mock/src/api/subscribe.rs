//! 订阅通知: `wxaapi/newtmpl/gettemplate` and `message/subscribe/bizsend`, with the followers' subscriptions.
//!
//! A send needs the follower to have accepted the template (a one-time grant is used up by
//! one send; grant with [`MockPlatform::grant_subscription`] or `POST /mock/subscribe/grant`):
//! otherwise 43101. Unknown template 40037; unknown openid 40003; `data` missing, not an
//! object of `{"value"}`, or a `thing` value over 20 characters 47003. Sends land in
//! [`MockPlatform::subscribe_sent`].

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use super::errors::{WxError, WxResult, ok, ok_with};
use super::state::MockPlatform;
use super::{json_body, str_field};

/// Id of the subscribe-message template every mock starts with (one-time).
pub const DEMO_SUBSCRIBE_TEMPLATE_ID: &str = "wxoa_mock_subscribe_notice_Pq7Ld2";

/// A sent subscribe message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscribeSent {
    /// The follower.
    pub touser: String,
    /// The template.
    pub template_id: String,
    /// When.
    pub at: i64,
    /// The body as received.
    pub body: Value,
}

/// Grants and sent messages.
#[derive(Debug, Default)]
pub(crate) struct SubscribeState {
    /// Remaining sends by (openid, template_id); `u32::MAX` for long-term.
    pub(crate) grants: HashMap<(String, String), u32>,
    pub(crate) sent: Vec<SubscribeSent>,
}

fn templates() -> Value {
    json!([{
        "priTmplId": DEMO_SUBSCRIBE_TEMPLATE_ID,
        "title": "预约提醒",
        "content": "预约项目:{{thing1.DATA}}\n预约时间:{{time2.DATA}}\n",
        "example": "预约项目:体检\n预约时间:2024-01-01 10:00\n",
        "type": 2
    }])
}

/// `GET /wxaapi/newtmpl/gettemplate` → `{"data":[…]}`
pub(crate) async fn list(State(_): State<MockPlatform>) -> WxResult {
    Ok(ok_with(json!({ "data": templates() })))
}

/// `POST /cgi-bin/message/subscribe/bizsend`
pub(crate) async fn send(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let touser = str_field(&v, "touser").unwrap_or_default();
    let template_id = str_field(&v, "template_id").unwrap_or_default();
    if template_id != DEMO_SUBSCRIBE_TEMPLATE_ID {
        return Err(WxError::new(40037));
    }
    let now = p.now();
    let mut s = p.lock();
    if s.followers.get(&touser).is_none() {
        return Err(WxError::new(40003));
    }
    let Some(Value::Object(data)) = v.get("data") else {
        return Err(WxError::new(47003));
    };
    for (k, d) in data {
        let value = str_field(d, "value").ok_or_else(|| WxError::new(47003))?;
        if k.starts_with("thing") && value.chars().count() > 20 {
            return Err(WxError::with_msg(
                47003,
                format!("argument invalid! data.{k}.value"),
            ));
        }
    }
    let key = (touser.clone(), template_id.clone());
    match s.subscribe.grants.get_mut(&key) {
        Some(left) if *left > 0 => {
            if *left != u32::MAX {
                *left -= 1;
            }
        }
        _ => return Err(WxError::new(43101)),
    }
    s.subscribe.sent.push(SubscribeSent {
        touser,
        template_id,
        at: now,
        body: v,
    });
    Ok(ok())
}

impl MockPlatform {
    /// The follower `openid` accepted template `template_id` once (as after a popup).
    pub fn grant_subscription(&self, openid: &str, template_id: &str) {
        let mut s = self.lock();
        let left = s
            .subscribe
            .grants
            .entry((openid.to_owned(), template_id.to_owned()))
            .or_insert(0);
        *left = left.saturating_add(1);
    }

    /// Subscribe messages sent so far.
    #[must_use]
    pub fn subscribe_sent(&self) -> Vec<SubscribeSent> {
        self.lock().subscribe.sent.clone()
    }
}
