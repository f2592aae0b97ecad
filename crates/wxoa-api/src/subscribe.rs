//! 订阅通知 (subscribe messages, the successor of template messages): the account's templates (`wxaapi/newtmpl/gettemplate`) and `message/subscribe/bizsend`.
//!
//! A follower subscribes to a template on a page (`wx-open-subscribe`) or a popup; the
//! `subscribe_msg_popup_event` / `subscribe_msg_change_event` / `subscribe_msg_sent_event`
//! events say what they chose and how sends went. One-time (一次性) subscriptions allow one
//! message each; long-term (长期) ones need the account's category to allow them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::error::ApiError;
use crate::template::TemplateMiniProgram;

/// Longest value of a `thing` keyword (characters); other keyword kinds have their own limits.
pub const MAX_THING_CHARS: usize = 20;

/// A subscribe message to one follower.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SubscribeMessage {
    /// Recipient openid.
    pub touser: String,
    /// Template id (`priTmplId` of the account's templates).
    pub template_id: String,
    /// Web page opened on tap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Mini program opened on tap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miniprogram: Option<TemplateMiniProgram>,
    /// Values by keyword (`thing1`, `time2`, …).
    pub data: BTreeMap<String, SubscribeValue>,
}

/// One keyword's value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SubscribeValue {
    /// The text.
    pub value: String,
}

impl SubscribeMessage {
    /// A message of template `template_id` to `touser` with no data yet.
    pub fn new(touser: impl Into<String>, template_id: impl Into<String>) -> Self {
        Self {
            touser: touser.into(),
            template_id: template_id.into(),
            ..Self::default()
        }
    }

    /// Set keyword `key` to `value`.
    #[must_use]
    pub fn field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(
            key.into(),
            SubscribeValue {
                value: value.into(),
            },
        );
        self
    }

    /// Check the required fields and the `thing` length.
    ///
    /// # Errors
    /// A message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.touser.trim().is_empty() {
            return Err("touser is required".to_owned());
        }
        if self.template_id.trim().is_empty() {
            return Err("template_id is required".to_owned());
        }
        if self.data.is_empty() {
            return Err("data is required (the template's keywords)".to_owned());
        }
        for (k, v) in &self.data {
            if k.starts_with("thing") && v.value.chars().count() > MAX_THING_CHARS {
                return Err(format!(
                    "{k}: a thing keyword holds at most {MAX_THING_CHARS} characters"
                ));
            }
        }
        Ok(())
    }
}

/// One subscribe-message template of the account.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubscribeTemplate {
    /// Template id.
    #[serde(rename = "priTmplId")]
    pub pri_tmpl_id: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Body with `{{thing1.DATA}}` placeholders.
    #[serde(default)]
    pub content: String,
    /// Example.
    #[serde(default)]
    pub example: String,
    /// 2 one-time, 3 long-term.
    #[serde(rename = "type", default)]
    pub kind: i64,
}

#[derive(Deserialize)]
struct TemplatesResponse {
    #[serde(default)]
    data: Vec<SubscribeTemplate>,
}

impl Client {
    /// `GET wxaapi/newtmpl/gettemplate`: the account's subscribe-message templates.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn subscribe_templates(&self) -> Result<Vec<SubscribeTemplate>, ApiError> {
        let r: TemplatesResponse = self
            .inner
            .call(&Req::get("/wxaapi/newtmpl/gettemplate"), decode)
            .await?;
        Ok(r.data)
    }

    /// `POST message/subscribe/bizsend`. Never repeated on `-1`.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; 40003 (bad openid), 40037 (bad template_id), 43101 (the
    /// follower did not subscribe / used up the subscription), 47003 (data does not fit).
    pub async fn send_subscribe(&self, msg: &SubscribeMessage) -> Result<(), ApiError> {
        msg.validate().map_err(ApiError::Validation)?;
        let req = Req::post("/cgi-bin/message/subscribe/bizsend", msg)?;
        self.inner.call(&req, decode_ok).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_and_limits() {
        let m = SubscribeMessage::new("O", "T").field("thing1", "订单");
        m.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"touser":"O","template_id":"T","data":{"thing1":{"value":"订单"}}})
        );
        let long = SubscribeMessage::new("O", "T").field("thing1", "字".repeat(21));
        assert!(long.validate().unwrap_err().contains("thing1"));
        assert!(SubscribeMessage::new("O", "T").validate().is_err());
    }
}
