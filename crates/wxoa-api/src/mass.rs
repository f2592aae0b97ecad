//! 群发 (mass messages): `message/mass/sendall` (everyone or a tag), `send` (an openid list), `preview`, `get`, `delete`, `speed/get|set`.
//!
//! A mass send is never repeated blindly. Every send carries a `clientmsgid` (yours, or one
//! derived from the content and the targets, see [`MassMessage::derived_clientmsgid`]); the
//! platform refuses a second send with the same id (45065, naming the first job's `msg_id`),
//! so [`Client::mass_send`] retries a send whose answer was lost (timeout, connection reset,
//! `-1`, 45066 "retry too fast" after a minute) and reports a 45065 as
//! [`MassSent::already_sent`] with the original `msg_id`. The outcome of the job arrives as a
//! `MASSSENDJOBFINISH` event.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::client::{Client, Raw, Req, check_errcode, decode, decode_ok, json_value, snippet};
use crate::draft::require;
use crate::error::ApiError;

/// Longest `clientmsgid` the platform takes (45067 above it).
pub const MAX_CLIENTMSGID_CHARS: usize = 64;
/// Fewest openids of `message/mass/send` (40130 below it).
pub const MIN_OPENIDS: usize = 2;
/// Most openids of `message/mass/send`.
pub const MAX_OPENIDS: usize = 10_000;
/// Attempts of one mass send when answers are lost (each with the same `clientmsgid`).
pub const MASS_SEND_ATTEMPTS: u32 = 3;
/// Wait after 45066 (the same clientmsgid retried too fast) before the next attempt.
pub const RETRY_TOO_FAST_WAIT: Duration = Duration::from_secs(60);

/// errcode: a job with this clientmsgid exists (the answer names its msg_id).
pub const CLIENTMSGID_EXISTS: i64 = 45065;
/// errcode: the same clientmsgid was retried within a minute.
pub const CLIENTMSGID_TOO_FAST: i64 = 45066;

/// What a mass message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MassContent {
    /// `mpnews`: a draft (草稿) by its media_id.
    News {
        /// The draft's media_id.
        media_id: String,
    },
    /// `text`.
    Text(String),
    /// `voice`: a permanent voice material.
    Voice {
        /// Its media_id.
        media_id: String,
    },
    /// `image`: 1–8 permanent image materials (图片消息).
    Images {
        /// Their media_ids.
        media_ids: Vec<String>,
    },
    /// `mpvideo`: a video by the media_id of `media/uploadvideo` or a permanent video.
    Video {
        /// Its media_id.
        media_id: String,
    },
}

impl MassContent {
    /// The `msgtype`.
    #[must_use]
    pub fn msgtype(&self) -> &'static str {
        match self {
            Self::News { .. } => "mpnews",
            Self::Text(_) => "text",
            Self::Voice { .. } => "voice",
            Self::Images { .. } => "image",
            Self::Video { .. } => "mpvideo",
        }
    }

    /// The content object under the `msgtype` key.
    fn payload(&self) -> Value {
        match self {
            Self::News { media_id } | Self::Voice { media_id } | Self::Video { media_id } => {
                json!({ "media_id": media_id })
            }
            Self::Text(content) => json!({ "content": content }),
            Self::Images { media_ids } => json!({ "media_ids": media_ids }),
        }
    }

    /// One line describing the content (for confirmations and dry runs).
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            Self::News { media_id } => format!("the draft {media_id} (mpnews)"),
            Self::Text(t) => format!("the text {t:?}"),
            Self::Voice { media_id } => format!("the voice {media_id}"),
            Self::Images { media_ids } => format!("the images {}", media_ids.join(", ")),
            Self::Video { media_id } => format!("the video {media_id}"),
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            Self::News { media_id } | Self::Voice { media_id } | Self::Video { media_id } => {
                if media_id.trim().is_empty() {
                    return Err("media_id is required".to_owned());
                }
            }
            Self::Text(t) if t.trim().is_empty() => return Err("the text is empty".to_owned()),
            Self::Text(_) => {}
            Self::Images { media_ids } => {
                if media_ids.is_empty() || media_ids.len() > 8 {
                    return Err(format!(
                        "an image message has 1 to 8 images, got {}",
                        media_ids.len()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Who receives a mass message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MassTarget {
    /// Every follower (`sendall`, `is_to_all`).
    All,
    /// The followers with a tag (`sendall`, `tag_id`).
    Tag(i64),
    /// An openid list (`send`, 2 to 10 000).
    Openids(Vec<String>),
}

impl MassTarget {
    /// One line describing the recipients.
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            Self::All => "every follower".to_owned(),
            Self::Tag(t) => format!("the followers tagged {t}"),
            Self::Openids(l) => format!("{} listed followers", l.len()),
        }
    }
}

/// A mass message: content, recipients, options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MassMessage {
    /// Recipients.
    pub target: MassTarget,
    /// Content.
    pub content: MassContent,
    /// For `mpnews`: send even when an article is judged a reprint (`send_ignore_reprint`).
    pub send_ignore_reprint: bool,
    /// Your idempotency key; `None` uses [`derived_clientmsgid`](Self::derived_clientmsgid).
    pub clientmsgid: Option<String>,
}

impl MassMessage {
    /// `content` to `target`, with the derived clientmsgid.
    #[must_use]
    pub fn new(target: MassTarget, content: MassContent) -> Self {
        Self {
            target,
            content,
            send_ignore_reprint: false,
            clientmsgid: None,
        }
    }

    /// Check the message against the platform's limits.
    ///
    /// # Errors
    /// A message naming the problem.
    pub fn validate(&self) -> Result<(), String> {
        self.content.validate()?;
        if let MassTarget::Openids(list) = &self.target
            && !(MIN_OPENIDS..=MAX_OPENIDS).contains(&list.len())
        {
            return Err(format!(
                "a send by openid list needs {MIN_OPENIDS} to {MAX_OPENIDS} openids, got {} \
                 (preview sends to one follower)",
                list.len()
            ));
        }
        if let Some(id) = &self.clientmsgid
            && (id.trim().is_empty() || id.chars().count() > MAX_CLIENTMSGID_CHARS)
        {
            return Err(format!(
                "clientmsgid must be 1 to {MAX_CLIENTMSGID_CHARS} characters"
            ));
        }
        Ok(())
    }

    /// The API path: `sendall` for everyone or a tag, `send` for a list.
    #[must_use]
    pub fn path(&self) -> &'static str {
        match self.target {
            MassTarget::Openids(_) => "/cgi-bin/message/mass/send",
            MassTarget::All | MassTarget::Tag(_) => "/cgi-bin/message/mass/sendall",
        }
    }

    /// The request body without `clientmsgid`.
    fn body_without_id(&self) -> Value {
        let mut body = json!({ "msgtype": self.content.msgtype() });
        body[self.content.msgtype()] = self.content.payload();
        match &self.target {
            MassTarget::All => body["filter"] = json!({ "is_to_all": true }),
            MassTarget::Tag(t) => body["filter"] = json!({ "is_to_all": false, "tag_id": t }),
            MassTarget::Openids(l) => body["touser"] = json!(l),
        }
        if matches!(self.content, MassContent::News { .. }) {
            body["send_ignore_reprint"] = json!(u8::from(self.send_ignore_reprint));
        }
        body
    }

    /// The clientmsgid derived from the content and the targets: `wxoa-` and 32 hex digits of
    /// the SHA-256 of the request body. The same message to the same followers always gets the
    /// same id, so the platform refuses to send it twice (within its dedup window); give your
    /// own id to send the same content again on purpose.
    #[must_use]
    pub fn derived_clientmsgid(&self) -> String {
        let digest = Sha256::digest(self.body_without_id().to_string().as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("wxoa-{hex}")
    }

    /// The clientmsgid this message is sent with.
    #[must_use]
    pub fn clientmsgid(&self) -> String {
        self.clientmsgid
            .clone()
            .unwrap_or_else(|| self.derived_clientmsgid())
    }

    /// The full request body, as sent.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = self.body_without_id();
        body["clientmsgid"] = json!(self.clientmsgid());
        body
    }
}

/// The outcome of [`Client::mass_send`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassSent {
    /// The job's msg_id (of the original job when [`already_sent`](Self::already_sent)).
    pub msg_id: u64,
    /// The article statistics id of an `mpnews` send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_data_id: Option<u64>,
    /// The clientmsgid the send carried.
    pub clientmsgid: String,
    /// The platform already had a job with this clientmsgid (45065): nothing new was sent.
    pub already_sent: bool,
}

/// Whom a preview goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewTo {
    /// A follower's openid (`touser`).
    Openid(String),
    /// A follower's WeChat id (`towxname`).
    WxName(String),
}

/// A mass job's state (`message/mass/get`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassStatus {
    /// The job.
    #[serde(deserialize_with = "crate::de::int_lenient")]
    pub msg_id: i64,
    /// `SEND_SUCCESS`, `SENDING`, `SEND_FAIL` or `DELETE`.
    pub msg_status: String,
}

/// The mass send speed (`message/mass/speed/get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassSpeed {
    /// Level 0 (fastest, 80 万/分钟) to 4 (10 万/分钟).
    pub speed: u8,
    /// The level's speed in 万 messages a minute.
    pub realspeed: u32,
}

/// Highest speed level.
pub const MAX_SPEED: u8 = 4;

/// The answer of a send: its ids, or for 45065 the original job's.
fn decode_sent(raw: Raw) -> Result<(u64, Option<u64>, bool), ApiError> {
    let v = match json_value(&raw) {
        Ok(v) => v,
        Err(err) if err.code() == Some(CLIENTMSGID_EXISTS) => {
            let v: Value = serde_json::from_slice(&raw.body).map_err(|e| ApiError::Decode {
                body: snippet(&raw.body),
                source: e,
            })?;
            return match lenient_u64(v.get("msg_id")) {
                Some(id) => Ok((id, lenient_u64(v.get("msg_data_id")), true)),
                None => Err(err),
            };
        }
        Err(err) => return Err(err),
    };
    check_errcode(&v)?;
    let id = lenient_u64(v.get("msg_id")).ok_or_else(|| {
        ApiError::Validation(format!(
            "the platform accepted the mass send but named no msg_id: {}",
            snippet(&raw.body)
        ))
    })?;
    Ok((id, lenient_u64(v.get("msg_data_id")), false))
}

fn lenient_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether a failed attempt may have been lost on the way back (so the send is retried with
/// the same clientmsgid).
fn answer_lost(err: &ApiError) -> bool {
    match err {
        ApiError::Http { .. } => true,
        ApiError::Status { status, .. } => *status >= 500,
        other => other.code() == Some(crate::errcode::SYSTEM_BUSY),
    }
}

impl Client {
    /// Send a mass message once: `sendall` or `send` with its clientmsgid, retried up to
    /// [`MASS_SEND_ATTEMPTS`] times when the answer is lost; a 45065 is reported as
    /// [`MassSent::already_sent`] with the original msg_id.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; the platform's error, e.g. 40007 (unknown media_id / draft),
    /// 45028 (no mass quota left), 40130 (fewer than 2 openids), 45159 (bad tag), 48001 (not
    /// allowed), 45067 (clientmsgid too long); the last transport error after every attempt.
    pub async fn mass_send(&self, msg: &MassMessage) -> Result<MassSent, ApiError> {
        msg.validate().map_err(ApiError::Validation)?;
        let clientmsgid = msg.clientmsgid();
        let req = Req::post(msg.path(), &msg.body())?.never_repeat();
        let mut attempt = 1;
        loop {
            match self.inner.call(&req, decode_sent).await {
                Ok((msg_id, msg_data_id, already_sent)) => {
                    if already_sent {
                        tracing::info!(%clientmsgid, msg_id, "mass send already done (45065); not sent again");
                    }
                    return Ok(MassSent {
                        msg_id,
                        msg_data_id,
                        clientmsgid,
                        already_sent,
                    });
                }
                Err(err) if attempt < MASS_SEND_ATTEMPTS && answer_lost(&err) => {
                    tracing::warn!(%clientmsgid, attempt, error = %err, "mass send answer lost; retrying with the same clientmsgid");
                }
                Err(err)
                    if attempt < MASS_SEND_ATTEMPTS && err.code() == Some(CLIENTMSGID_TOO_FAST) =>
                {
                    tracing::warn!(%clientmsgid, attempt, "45066: retried too fast; waiting {RETRY_TOO_FAST_WAIT:?}");
                    tokio::time::sleep(RETRY_TOO_FAST_WAIT).await;
                }
                Err(err) => return Err(err),
            }
            attempt += 1;
        }
    }

    /// `POST message/mass/preview`: send `content` to one follower only; returns the msg_id.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; 40003 / 43004 (not a follower), 40007 (unknown media).
    pub async fn mass_preview(
        &self,
        to: &PreviewTo,
        content: &MassContent,
    ) -> Result<Option<u64>, ApiError> {
        content.validate().map_err(ApiError::Validation)?;
        let mut body = json!({ "msgtype": content.msgtype() });
        body[content.msgtype()] = content.payload();
        match to {
            PreviewTo::Openid(o) => {
                require("openid", o)?;
                body["touser"] = json!(o);
            }
            PreviewTo::WxName(n) => {
                require("towxname", n)?;
                body["towxname"] = json!(n);
            }
        }
        let req = Req::post("/cgi-bin/message/mass/preview", &body)?;
        let v: Value = self.inner.call(&req, |raw| json_value(&raw)).await?;
        Ok(lenient_u64(v.get("msg_id")))
    }

    /// `POST message/mass/get`: the state of job `msg_id`.
    ///
    /// # Errors
    /// The platform's error for an unknown job.
    pub async fn mass_status(&self, msg_id: u64) -> Result<MassStatus, ApiError> {
        let req = Req::post(
            "/cgi-bin/message/mass/get",
            &json!({ "msg_id": msg_id.to_string() }),
        )?
        .safe();
        self.inner.call(&req, decode).await
    }

    /// `POST message/mass/delete`: delete the articles of a sent `mpnews` / video job (only
    /// article `article_idx`, from 1, when given). Followers who opened them see "已删除".
    ///
    /// # Errors
    /// The platform's error (an unknown or undeletable job).
    pub async fn mass_delete(&self, msg_id: u64, article_idx: Option<u32>) -> Result<(), ApiError> {
        let mut body = json!({ "msg_id": msg_id });
        if let Some(i) = article_idx {
            body["article_idx"] = json!(i);
        }
        let req = Req::post("/cgi-bin/message/mass/delete", &body)?.safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `POST message/mass/speed/get`.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn mass_speed(&self) -> Result<MassSpeed, ApiError> {
        let req = Req::post("/cgi-bin/message/mass/speed/get", &json!({}))?.safe();
        self.inner.call(&req, decode).await
    }

    /// `POST message/mass/speed/set`: level 0 (fastest) to 4.
    ///
    /// # Errors
    /// [`ApiError::Validation`] above 4; 45083 / 45084.
    pub async fn mass_speed_set(&self, speed: u8) -> Result<(), ApiError> {
        if speed > MAX_SPEED {
            return Err(ApiError::Validation(format!(
                "speed is a level from 0 (fastest) to {MAX_SPEED}, got {speed}"
            )));
        }
        let req = Req::post(
            "/cgi-bin/message/mass/speed/set",
            &json!({ "speed": speed }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn news(target: MassTarget) -> MassMessage {
        MassMessage::new(
            target,
            MassContent::News {
                media_id: "DRAFT".into(),
            },
        )
    }

    #[test]
    fn bodies_have_the_documented_shape() {
        let m = news(MassTarget::Tag(2));
        let mut b = m.body();
        assert!(b["clientmsgid"].as_str().unwrap().starts_with("wxoa-"));
        b.as_object_mut().unwrap().remove("clientmsgid");
        assert_eq!(
            b,
            json!({"filter":{"is_to_all":false,"tag_id":2},"mpnews":{"media_id":"DRAFT"},
                   "msgtype":"mpnews","send_ignore_reprint":0})
        );
        let t = MassMessage::new(
            MassTarget::Openids(vec!["a".into(), "b".into()]),
            MassContent::Text("hi".into()),
        );
        assert_eq!(t.path(), "/cgi-bin/message/mass/send");
        assert_eq!(t.body()["touser"], json!(["a", "b"]));
        assert_eq!(t.body()["text"], json!({"content":"hi"}));
    }

    #[test]
    fn clientmsgid_is_stable_and_depends_on_content_and_targets() {
        let a = news(MassTarget::All).derived_clientmsgid();
        assert_eq!(a, news(MassTarget::All).derived_clientmsgid());
        assert_ne!(a, news(MassTarget::Tag(1)).derived_clientmsgid());
        assert_eq!(a.len(), 37);
        let mut own = news(MassTarget::All);
        own.clientmsgid = Some("mine".into());
        assert_eq!(own.body()["clientmsgid"], "mine");
    }

    #[test]
    fn validation() {
        let one = MassMessage::new(
            MassTarget::Openids(vec!["a".into()]),
            MassContent::Text("x".into()),
        );
        assert!(one.validate().unwrap_err().contains("2 to 10000"));
        let mut long = news(MassTarget::All);
        long.clientmsgid = Some("x".repeat(65));
        assert!(long.validate().is_err());
        assert!(
            MassMessage::new(MassTarget::All, MassContent::Text(" ".into()))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn a_repeat_answer_names_the_original_job() {
        let raw = Raw {
            path: "/cgi-bin/message/mass/sendall".into(),
            status: 200,
            content_type: None,
            disposition: None,
            body: br#"{"errcode":45065,"errmsg":"clientmsgid exist","msg_id":1000001}"#.to_vec(),
        };
        assert_eq!(decode_sent(raw).unwrap(), (1_000_001, None, true));
        let raw = Raw {
            path: "/x".into(),
            status: 200,
            content_type: None,
            disposition: None,
            body: br#"{"errcode":45065,"errmsg":"clientmsgid exist"}"#.to_vec(),
        };
        assert_eq!(decode_sent(raw).unwrap_err().code(), Some(45065));
    }
}
