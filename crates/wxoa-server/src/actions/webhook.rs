//! The `webhook` reply kind: POST the message as JSON to the owner's backend, signed with
//! HMAC-SHA256, and answer with the reply table it returns (200) or nothing (204).
//!
//! The body is a JSON object with the push's WeChat field names (`ToUserName`,
//! `FromUserName`, `CreateTime`, `MsgType`, `Content`, `MsgId`, `Event`, `EventKey`, …; every
//! field a string except `CreateTime`, a number; nested elements are objects, repeated ones
//! arrays) plus `captures` (the regex groups, 0 = the whole match), `named` (named groups)
//! and `rule`. Headers: `X-Wxoa-Timestamp` (Unix seconds) and, with `secret_env`,
//! `X-Wxoa-Signature` = hex HMAC-SHA256(secret, timestamp + "." + body).

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::Sha256;
use wxoa_proto::message::Inbound;
use wxoa_proto::reply::Reply;
use wxoa_proto::xml::Element;

use super::http::{HttpClient, HttpError, error_chain, parse_http_url, read_limited, shown};
use super::{ActionError, Captured};
use crate::rules::literal::literal_reply;
use crate::rules::spec::{ReplySpec, WebhookSpec};

/// How long a backend may take when the rule gives no `timeout_ms`.
pub const DEFAULT_WEBHOOK_TIMEOUT_MS: u64 = 10_000;
/// The longest `timeout_ms` a rule may give (the deadline policy answers the platform in time;
/// the result then arrives by 客服消息 or on the next message).
pub const MAX_WEBHOOK_TIMEOUT_MS: u64 = 300_000;
/// Largest reply body read from a backend.
pub const MAX_WEBHOOK_REPLY_BYTES: usize = 1024 * 1024;
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-Wxoa-Timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Wxoa-Signature";

/// A `webhook` reply, validated at rule compile.
#[derive(Clone)]
pub(crate) struct CompiledWebhook {
    url: Url,
    secret: Option<SecretString>,
    timeout: Duration,
}

impl std::fmt::Debug for CompiledWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledWebhook")
            .field("url", &shown(&self.url))
            .field("signed", &self.secret.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl CompiledWebhook {
    /// Check `spec`; reads the secret from the environment now. The error is `(field, message)`.
    pub(crate) fn compile(spec: &WebhookSpec) -> Result<Self, (&'static str, String)> {
        let url = parse_http_url(spec.url.trim()).map_err(|e| ("reply.webhook", e.to_string()))?;
        let secret = match &spec.secret_env {
            None => None,
            Some(name) if name.trim().is_empty() => {
                return Err((
                    "reply.secret_env",
                    "must name an environment variable; remove it to send unsigned requests"
                        .to_owned(),
                ));
            }
            Some(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Some(SecretString::from(v)),
                _ => {
                    return Err((
                        "reply.secret_env",
                        format!(
                            "environment variable `{name}` is not set or empty; set it to the \
                             signing secret the backend checks"
                        ),
                    ));
                }
            },
        };
        let ms = spec.timeout_ms.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_MS);
        if !(100..=MAX_WEBHOOK_TIMEOUT_MS).contains(&ms) {
            return Err((
                "reply.timeout_ms",
                format!("must be between 100 and {MAX_WEBHOOK_TIMEOUT_MS}, got {ms}"),
            ));
        }
        Ok(Self {
            url,
            secret,
            timeout: Duration::from_millis(ms),
        })
    }

    /// The URL for messages (query hidden).
    pub(crate) fn shown_url(&self) -> String {
        shown(&self.url)
    }

    /// POST the message and turn the answer into a reply.
    pub(crate) async fn call(
        &self,
        http: &HttpClient,
        inbound: &Inbound,
        captures: &Captured,
        rule: &str,
        now: i64,
    ) -> Result<Option<Reply>, ActionError> {
        let url = self.shown_url();
        let body = serde_json::to_vec(&payload(inbound, captures, rule)).map_err(|e| {
            ActionError::WebhookTransport {
                url: url.clone(),
                reason: format!("cannot encode the message: {e}"),
            }
        })?;
        let timestamp = now.to_string();
        let mut request = http
            .inner()
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, &timestamp);
        if let Some(secret) = &self.secret {
            request = request.header(
                SIGNATURE_HEADER,
                sign(secret.expose_secret().as_bytes(), &timestamp, &body),
            );
        }
        let exchange = async {
            let response =
                request
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| ActionError::WebhookTransport {
                        url: url.clone(),
                        reason: error_chain(&e),
                    })?;
            let status = response.status();
            let read = read_limited(response, MAX_WEBHOOK_REPLY_BYTES, &self.url).await;
            Ok::<_, ActionError>((status, read))
        };
        let (status, read) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ActionError::WebhookTimeout {
                url: url.clone(),
                timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            })??;
        match status {
            StatusCode::NO_CONTENT => Ok(None),
            StatusCode::OK => {
                let body = read.map_err(|e| match e {
                    HttpError::TooLarge { limit, .. } => ActionError::WebhookBadReply {
                        url: url.clone(),
                        reason: format!("the body is larger than {limit} bytes"),
                    },
                    other => ActionError::WebhookTransport {
                        url: url.clone(),
                        reason: other.to_string(),
                    },
                })?;
                parse_reply(&body).map_err(|reason| ActionError::WebhookBadReply { url, reason })
            }
            other => Err(ActionError::WebhookStatus {
                url,
                status: other.as_u16(),
                body: read.map(|b| excerpt(&b)).unwrap_or_default(),
            }),
        }
    }
}

/// The reply in a webhook's 200 answer: a reply table as JSON (`{"text": "hi"}`,
/// `{"none": true}`, ...); `None` for no reply.
///
/// # Errors
/// The body is empty, is not JSON, or is not a literal reply table; the text says which.
pub fn parse_reply(body: &[u8]) -> Result<Option<Reply>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty; answer 204 for no reply, or a reply table such as {\"text\": \"hi\"}".to_owned());
    }
    let spec: ReplySpec = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    literal_reply(spec)
}

/// The start of a body, for logs.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().nth(200).is_some() {
        s.push('…');
    }
    s
}

/// hex HMAC-SHA256(secret, timestamp + "." + body).
#[must_use]
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The JSON the backend receives for `inbound`.
#[must_use]
pub(crate) fn payload(inbound: &Inbound, captures: &Captured, rule: &str) -> Value {
    let mut obj = element_fields(inbound.root());
    obj.insert("CreateTime".to_owned(), Value::from(inbound.create_time));
    obj.insert(
        "captures".to_owned(),
        Value::Array(captures.groups.iter().cloned().map(Value::String).collect()),
    );
    obj.insert(
        "named".to_owned(),
        Value::Object(
            captures
                .named
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    );
    obj.insert("rule".to_owned(), Value::String(rule.to_owned()));
    Value::Object(obj)
}

/// The children of `element` as JSON: text leaves as strings, nested elements as objects,
/// repeated names as arrays.
fn element_fields(element: &Element) -> Map<String, Value> {
    let mut obj = Map::new();
    for child in &element.children {
        let value = if child.children.is_empty() {
            Value::String(child.text.clone())
        } else {
            Value::Object(element_fields(child))
        };
        match obj.get_mut(child.name.as_ref()) {
            Some(Value::Array(items)) => items.push(value),
            Some(first) => {
                let first = first.take();
                obj.insert(child.name.to_string(), Value::Array(vec![first, value]));
            }
            None => {
                obj.insert(child.name.to_string(), value);
            }
        }
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::probe;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Reference value computed independently (Python: hmac.new(b"key",
        // b"1700000000.{}", hashlib.sha256).hexdigest()).
        assert_eq!(
            sign(b"key", "1700000000", b"{}"),
            "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(
            sign(b"key", "1700000000", b"{}"),
            sign(b"key", "1700000001", b"{}")
        );
        assert_eq!(sign(b"key", "1", b"x").len(), 64);
    }

    #[test]
    fn payload_has_wechat_names_captures_and_rule() {
        let msg = probe::text_message("goodluck*3");
        let captures = Captured {
            groups: vec!["goodluck*3".into(), "3".into()],
            named: vec![("n".into(), "3".into())],
        };
        let p = payload(&msg, &captures, "lottery");
        assert_eq!(p["ToUserName"], probe::PROBE_ACCOUNT);
        assert_eq!(p["FromUserName"], probe::PROBE_OPENID);
        assert_eq!(p["CreateTime"], probe::PROBE_CREATE_TIME);
        assert_eq!(p["MsgType"], "text");
        assert_eq!(p["Content"], "goodluck*3");
        assert_eq!(p["MsgId"], probe::PROBE_MSG_ID.to_string());
        assert_eq!(p["captures"], serde_json::json!(["goodluck*3", "3"]));
        assert_eq!(p["named"], serde_json::json!({"n": "3"}));
        assert_eq!(p["rule"], "lottery");
    }

    #[test]
    fn nested_and_repeated_elements() {
        let root = Element {
            name: "xml".into(),
            text: String::new(),
            children: vec![
                Element {
                    name: "A".into(),
                    text: "1".into(),
                    children: vec![],
                },
                Element {
                    name: "A".into(),
                    text: "2".into(),
                    children: vec![],
                },
                Element {
                    name: "N".into(),
                    text: String::new(),
                    children: vec![Element {
                        name: "X".into(),
                        text: "y".into(),
                        children: vec![],
                    }],
                },
            ],
        };
        let v = Value::Object(element_fields(&root));
        assert_eq!(v, serde_json::json!({"A": ["1", "2"], "N": {"X": "y"}}));
    }

    #[test]
    fn compile_checks_url_timeout_and_secret_env() {
        let spec = |url: &str, env: Option<&str>, ms: Option<u64>| WebhookSpec {
            url: url.into(),
            secret_env: env.map(Into::into),
            timeout_ms: ms,
        };
        let hook = CompiledWebhook::compile(&spec("https://b.test/wx?k=s", None, None)).unwrap();
        assert_eq!(
            hook.timeout,
            Duration::from_millis(DEFAULT_WEBHOOK_TIMEOUT_MS)
        );
        assert_eq!(hook.shown_url(), "https://b.test/wx?…");
        assert!(!format!("{hook:?}").contains("k=s"));
        let (field, _) = CompiledWebhook::compile(&spec("ftp://b", None, None)).unwrap_err();
        assert_eq!(field, "reply.webhook");
        let (field, m) =
            CompiledWebhook::compile(&spec("https://b.test", None, Some(50))).unwrap_err();
        assert_eq!(field, "reply.timeout_ms");
        assert!(m.contains("got 50"), "{m}");
        let (field, m) = CompiledWebhook::compile(&spec(
            "https://b.test",
            Some("WXOA_TEST_SURELY_UNSET_SECRET_VAR"),
            None,
        ))
        .unwrap_err();
        assert_eq!(field, "reply.secret_env");
        assert!(m.contains("WXOA_TEST_SURELY_UNSET_SECRET_VAR"), "{m}");
    }

    #[test]
    fn reply_bodies() {
        assert_eq!(
            parse_reply(br#"{"text": "{{ not a template }}"}"#),
            Ok(Some(Reply::text("{{ not a template }}")))
        );
        assert_eq!(parse_reply(br#"{"none": true}"#), Ok(None));
        assert!(parse_reply(b"  ").unwrap_err().contains("204"));
        assert!(parse_reply(b"not json").is_err());
        let e = parse_reply(br#"{"webhook": "https://x"}"#).unwrap_err();
        assert!(e.contains("cannot be given"), "{e}");
        assert_eq!(excerpt(&[b'a'; 300]).chars().count(), 201);
    }
}
