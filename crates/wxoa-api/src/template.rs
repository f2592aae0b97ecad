//! Template messages (模板消息): `message/template/send` and the account's template list.
//!
//! Service accounts only. Since 2023-05-04 the platform drops `first` / `remark`, ignores
//! `color`, strips emoji and cuts each keyword value to 20 characters (PROTOCOL §9.2); old
//! payloads still send. A send is never repeated on `-1`; set `client_msg_id` to let the
//! platform deduplicate your own retries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode};
use crate::error::ApiError;

/// A template message to one follower.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TemplateMessage {
    /// Recipient openid.
    pub touser: String,
    /// Template id from the account's template list.
    pub template_id: String,
    /// Page opened on tap (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Mini program opened on tap (wins over `url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miniprogram: Option<TemplateMiniProgram>,
    /// Your idempotency key (the platform ignores a repeat with the same id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// Values by keyword (`keyword1`, `thing2`, …).
    pub data: BTreeMap<String, TemplateValue>,
}

/// The mini program a template message opens.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TemplateMiniProgram {
    /// Mini program AppID (linked to this account).
    pub appid: String,
    /// Page path with query, e.g. `index?foo=bar`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
}

/// One keyword's value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TemplateValue {
    /// The text (cut to 20 characters by the platform since 2023-05).
    pub value: String,
    /// Ignored by the platform since 2023-05.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

impl TemplateMessage {
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
            TemplateValue {
                value: value.into(),
                color: None,
            },
        );
        self
    }

    /// Open `url` on tap.
    #[must_use]
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Check the required fields.
    ///
    /// # Errors
    /// A message naming the missing field.
    pub fn validate(&self) -> Result<(), String> {
        if self.touser.trim().is_empty() {
            return Err("touser is required".to_owned());
        }
        if self.template_id.trim().is_empty() {
            return Err("template_id is required".to_owned());
        }
        if let Some(mp) = &self.miniprogram
            && mp.appid.trim().is_empty()
        {
            return Err("miniprogram.appid is required when miniprogram is given".to_owned());
        }
        if self.data.keys().any(|k| k.trim().is_empty()) {
            return Err("data keys must not be empty".to_owned());
        }
        Ok(())
    }
}

/// One template of the account (`template/get_all_private_template`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct TemplateInfo {
    /// Template id.
    pub template_id: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Primary industry.
    #[serde(default)]
    pub primary_industry: String,
    /// Secondary industry.
    #[serde(default)]
    pub deputy_industry: String,
    /// Body with `{{keyword1.DATA}}` placeholders.
    #[serde(default)]
    pub content: String,
    /// Example text.
    #[serde(default)]
    pub example: String,
}

#[derive(Deserialize)]
struct SendResponse {
    msgid: u64,
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(default)]
    template_list: Vec<TemplateInfo>,
}

impl Client {
    /// `POST message/template/send`; returns the `msgid` (the outcome arrives later as a
    /// `TEMPLATESENDJOBFINISH` event). Never repeated on `-1`.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; the platform's error, e.g. 40037 (bad template_id), 43004 /
    /// 43101 (not following / refused), 47003 (data does not fit), 45009 (daily quota).
    pub async fn send_template(&self, msg: &TemplateMessage) -> Result<u64, ApiError> {
        msg.validate().map_err(ApiError::Validation)?;
        let req = Req::post("/cgi-bin/message/template/send", msg)?;
        let r: SendResponse = self.inner.call(&req, decode).await?;
        Ok(r.msgid)
    }

    /// `GET template/get_all_private_template`: the account's templates.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn template_list(&self) -> Result<Vec<TemplateInfo>, ApiError> {
        let r: ListResponse = self
            .inner
            .call(
                &Req::get("/cgi-bin/template/get_all_private_template"),
                decode,
            )
            .await?;
        Ok(r.template_list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_like_the_documented_payload() {
        let mut m = TemplateMessage::new("OPENID", "TEMPLATE_ID")
            .url("http://weixin.qq.com/download")
            .field("keyword1", "巧克力")
            .field("keyword2", "39.8元");
        m.miniprogram = Some(TemplateMiniProgram {
            appid: "MINI_APPID".into(),
            pagepath: Some("index?foo=bar".into()),
        });
        m.client_msg_id = Some("MSG_000001".into());
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"touser":"OPENID","template_id":"TEMPLATE_ID","url":"http://weixin.qq.com/download",
              "miniprogram":{"appid":"MINI_APPID","pagepath":"index?foo=bar"},"client_msg_id":"MSG_000001",
              "data":{"keyword1":{"value":"巧克力"},"keyword2":{"value":"39.8元"}}})
        );
    }

    #[test]
    fn validation() {
        assert_eq!(
            TemplateMessage::new("", "t").validate().unwrap_err(),
            "touser is required"
        );
        assert_eq!(
            TemplateMessage::new("o", "").validate().unwrap_err(),
            "template_id is required"
        );
        TemplateMessage::new("o", "t")
            .field("k", "v")
            .validate()
            .unwrap();
    }
}
