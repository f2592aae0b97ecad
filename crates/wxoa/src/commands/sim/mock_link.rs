//! The chat's line to a running `wxoa mock`: tell it what the follower did (so 客服 messages
//! the bot sends later pass the platform's 48-hour window) and read its outbox for the 客服 and
//! template messages sent to the follower.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use url::{Host, Url};
use wxoa_mock::api::{OutboxKind, OutboxMessage};
use wxoa_mock::driver::PushSummary;

/// How long one call to the mock may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A `wxoa mock` at a base URL.
#[derive(Debug, Clone)]
pub(super) struct MockLink {
    base: Url,
    client: reqwest::Client,
}

/// Why the outbox could not be read.
#[derive(Debug)]
pub(super) enum LinkError {
    /// Nothing answered, or the answer did not come.
    Unreachable(String),
    /// Something answered that is not a `wxoa mock`.
    NotAMock(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Unreachable(reason) => write!(f, "{reason}"),
            LinkError::NotAMock(reason) => write!(f, "not a wxoa mock: {reason}"),
        }
    }
}

#[derive(Deserialize)]
struct OutboxPage {
    messages: Vec<OutboxMessage>,
    last_seq: u64,
}

impl MockLink {
    /// A link to the mock at `base` (`http://127.0.0.1:9200`; a bare `host:port` gets `http://`).
    pub(super) fn new(base: &str) -> anyhow::Result<Self> {
        let text = base.trim();
        let text = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let base = Url::parse(&text).with_context(|| format!("--mock {base:?} is not a URL"))?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(CALL_TIMEOUT)
            .build()
            .context("building the HTTP client for the mock")?;
        Ok(Self { base, client })
    }

    /// The base URL as the user wrote it (without a trailing `/`).
    pub(super) fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{path}", self.base.path().trim_end_matches('/'));
        url.set_path(&joined);
        url.set_query(None);
        url
    }

    /// Tell the mock what the follower just did, as the platform records it when a push
    /// arrives: a message opens the 48-hour 客服 window; subscribe, scan and menu clicks the
    /// 1-minute one. Best effort: a mock that is not there changes nothing for the chat.
    pub(super) async fn record(&self, push: &PushSummary) {
        let Some(kind) = interaction_kind(&push.msg_type, push.event.as_deref()) else {
            return;
        };
        let body = serde_json::json!({ "openid": push.from, "kind": kind });
        let result = self
            .client
            .post(self.url("/mock/interaction"))
            .json(&body)
            .send()
            .await;
        if let Err(e) = result {
            tracing::debug!(error = %e, "the mock did not record the interaction");
        }
    }

    /// The outbox position now (the last message's sequence number), to show only what comes
    /// after it.
    pub(super) async fn position(&self) -> Result<u64, LinkError> {
        Ok(self.page(0, None).await?.last_seq)
    }

    /// Messages to `touser` after `since`, and the position to ask from next.
    pub(super) async fn messages(
        &self,
        since: u64,
        touser: &str,
    ) -> Result<(Vec<OutboxMessage>, u64), LinkError> {
        let page = self.page(since, Some(touser)).await?;
        Ok((page.messages, page.last_seq))
    }

    async fn page(&self, since: u64, touser: Option<&str>) -> Result<OutboxPage, LinkError> {
        let mut url = self.url("/mock/outbox");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("since", &since.to_string());
            if let Some(touser) = touser {
                query.append_pair("touser", touser);
            }
        }
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| LinkError::Unreachable(format!("{url}: {}", error_chain(&e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(LinkError::NotAMock(format!(
                "GET {} answered HTTP {}",
                url.path(),
                status.as_u16()
            )));
        }
        response.json::<OutboxPage>().await.map_err(|e| {
            LinkError::NotAMock(format!("GET {} answered {}", url.path(), error_chain(&e)))
        })
    }
}

/// Whether `url` is on this machine (so `api.base_url` pointing there is taken for a mock).
pub(super) fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// What a push does to the follower's 客服 windows, in `POST /mock/interaction` terms.
fn interaction_kind(msg_type: &str, event: Option<&str>) -> Option<&'static str> {
    if !msg_type.eq_ignore_ascii_case("event") {
        return Some("message");
    }
    match event?.to_ascii_lowercase().as_str() {
        "subscribe" => Some("subscribe"),
        "unsubscribe" => Some("unsubscribe"),
        "scan" => Some("scan"),
        "click" | "scancode_push" | "scancode_waitmsg" => Some("menu_click"),
        _ => None,
    }
}

/// How a message from the outbox shows in the chat: `[客服] …` or `[模板消息] …`.
pub(super) fn chat_line(message: &OutboxMessage) -> String {
    let label = match message.kind {
        OutboxKind::Custom => "客服",
        OutboxKind::Template => "模板消息",
    };
    format!("[{label}] {}", message.text)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_joined_under_the_base() {
        let link = MockLink::new("127.0.0.1:9200").unwrap();
        assert_eq!(link.base(), "http://127.0.0.1:9200");
        assert_eq!(
            link.url("/mock/outbox").as_str(),
            "http://127.0.0.1:9200/mock/outbox"
        );
        let link = MockLink::new("http://localhost:1/prefix/").unwrap();
        assert_eq!(
            link.url("/mock/outbox").as_str(),
            "http://localhost:1/prefix/mock/outbox"
        );
        assert!(MockLink::new("http://").is_err());
    }

    #[test]
    fn local_hosts() {
        for local in [
            "http://127.0.0.1:9200",
            "http://localhost:1",
            "http://[::1]:2",
        ] {
            assert!(is_local(&Url::parse(local).unwrap()), "{local}");
        }
        for remote in ["https://api.weixin.qq.com", "http://10.0.0.1:9200"] {
            assert!(!is_local(&Url::parse(remote).unwrap()), "{remote}");
        }
    }

    #[test]
    fn pushes_map_to_interactions() {
        assert_eq!(interaction_kind("text", None), Some("message"));
        assert_eq!(interaction_kind("voice", None), Some("message"));
        assert_eq!(
            interaction_kind("event", Some("subscribe")),
            Some("subscribe")
        );
        assert_eq!(interaction_kind("event", Some("CLICK")), Some("menu_click"));
        assert_eq!(interaction_kind("event", Some("SCAN")), Some("scan"));
        assert_eq!(interaction_kind("event", Some("VIEW")), None);
        assert_eq!(interaction_kind("event", None), None);
    }

    #[test]
    fn outbox_lines_are_labelled() {
        let message: OutboxMessage = serde_json::from_value(serde_json::json!({
            "seq": 3, "kind": "custom", "at": 1, "touser": "o", "msgtype": "text",
            "text": "你的订单已发货", "body": {}
        }))
        .unwrap();
        assert_eq!(chat_line(&message), "[客服] 你的订单已发货");
        let template = OutboxMessage {
            kind: OutboxKind::Template,
            text: "x".to_owned(),
            ..message
        };
        assert_eq!(chat_line(&template), "[模板消息] x");
    }
}
