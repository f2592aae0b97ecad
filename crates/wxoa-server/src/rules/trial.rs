//! Trying the rules on a synthetic message without a push: which rule answers and what it
//! renders, running scripts and webhooks as a push would. `wxoa rules test` and the console's
//! "try it" box both use it.

use std::sync::Arc;
use std::time::Instant;

use wxoa_proto::message::Inbound;
use wxoa_proto::reply::{Reply, ReplyError};

use crate::actions::{HttpClient, HttpError, MemoryLaterSender, MemorySessionStore, Services};
use crate::rules::{Outcome, RenderError, RuleSet, probe};

/// The message to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialInput {
    /// A text message with this content.
    Text(String),
    /// An event (`subscribe`, `CLICK`, ...) with its key, when it has one.
    Event {
        /// The event, case kept.
        event: String,
        /// `EventKey`.
        key: Option<String>,
    },
    /// A message of this type with plausible fields.
    MsgType(String),
}

impl TrialInput {
    /// The synthetic push this input stands for (see [`probe`]).
    #[must_use]
    pub fn inbound(&self) -> Inbound {
        match self {
            Self::Text(text) => probe::text_message(text),
            Self::Event { event, key } => probe::event_message(event, key.as_deref()),
            Self::MsgType(msg_type) => probe::message_of_type(msg_type),
        }
    }
}

/// What the rules answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// The synthetic push.
    pub inbound: Inbound,
    /// The rule that matched, `None` when none did (the answer is `success`).
    pub rule: Option<String>,
    /// The reply as it would be sent (text cut to the platform's limit); `None` answers
    /// `success`.
    pub reply: Option<Reply>,
    /// Bytes of text over the platform's limit, which would follow by 客服消息.
    pub overflow_bytes: Option<usize>,
    /// What happened on the way: the action's run time, its failure, results sent later.
    pub notes: Vec<String>,
}

impl Trial {
    /// The reply's XML as it would be answered at `now`, `None` for `success`.
    #[must_use]
    pub fn xml(&self, now: i64) -> Option<String> {
        self.reply.as_ref().map(|r| {
            r.to_xml(
                &self.inbound.from_user_name,
                &self.inbound.to_user_name,
                now,
            )
        })
    }
}

/// Why a trial could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrialError {
    /// A template of the matching rule does not render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The rendered reply is not acceptable to the platform.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// The HTTP client of scripts and webhooks cannot be built.
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Tries `rules` on `input` at `now`: matches, renders and runs the action (with in-memory
/// sessions; results sent "later" are noted, not sent).
///
/// # Errors
/// [`TrialError`]: a template fails, the reply is invalid, or no HTTP client can be built.
pub async fn try_rules(rules: &RuleSet, input: &TrialInput, now: i64) -> Result<Trial, TrialError> {
    let inbound = input.inbound();
    let mut notes = Vec::new();
    let (rule, reply) = match rules.respond(&inbound, now)? {
        Outcome::NoMatch => (None, None),
        Outcome::Matched { rule, reply, .. } => (Some(rule), reply),
        Outcome::Action {
            rule,
            call,
            on_error,
            ..
        } => {
            let kind = call.kind();
            let later = Arc::new(MemoryLaterSender::new());
            let services = Services::new(
                Arc::new(MemorySessionStore::new()),
                later.clone(),
                HttpClient::new()?,
            );
            let started = Instant::now();
            let result = call.run(&services).await;
            notes.push(format!(
                "{kind} ran in {} ms",
                started.elapsed().as_millis()
            ));
            for (openid, reply) in later.sent() {
                notes.push(format!("send_later to {openid}: {}", describe(&reply)));
            }
            let reply = match result {
                Ok(reply) => reply,
                Err(e) => {
                    notes.push(format!("{kind} failed: {e}"));
                    on_error.map(Reply::text)
                }
            };
            (Some(rule), reply)
        }
    };
    let (reply, overflow_bytes) = match reply {
        None => (None, None),
        Some(reply) => {
            let prepared = reply.prepare()?;
            let overflow = prepared.overflow.map(|rest| rest.len());
            if let Some(rest) = overflow {
                notes.push(format!(
                    "the text is over 2047 bytes; {rest} more bytes would follow by 客服消息"
                ));
            }
            (Some(prepared.reply), overflow)
        }
    };
    Ok(Trial {
        inbound,
        rule: rule.map(|r| r.to_string()),
        reply,
        overflow_bytes,
        notes,
    })
}

/// A readable one-paragraph rendering of a reply.
#[must_use]
pub fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Text { content } => content.clone(),
        Reply::Image { media_id } => format!("image media_id={media_id}"),
        Reply::Voice { media_id } => format!("voice media_id={media_id}"),
        Reply::Video {
            media_id, title, ..
        } => format!(
            "video media_id={media_id} title={}",
            title.as_deref().unwrap_or("")
        ),
        Reply::Music {
            title,
            thumb_media_id,
            ..
        } => format!(
            "music title={} thumb_media_id={thumb_media_id}",
            title.as_deref().unwrap_or("")
        ),
        Reply::News { articles } => articles
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{}. {} — {} <{}>", i + 1, a.title, a.description, a.url))
            .collect::<Vec<_>>()
            .join("\n"),
        Reply::TransferCustomerService { kf_account } => format!(
            "transfer to 客服 {}",
            kf_account.as_deref().unwrap_or("(any agent)")
        ),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rules::RuleSpec;

    fn rules(toml: &str) -> RuleSet {
        #[derive(serde::Deserialize)]
        struct File {
            rules: Vec<RuleSpec>,
        }
        let file: File = toml::from_str(toml).unwrap();
        RuleSet::compile(&file.rules, Path::new("wxoa.toml")).unwrap()
    }

    #[tokio::test]
    async fn text_event_and_no_match() {
        let set = rules(
            r#"
[[rules]]
name = "help"
keyword = "帮助"
reply = { text = "可用命令：{{ content }}" }
[[rules]]
name = "menu"
event = "CLICK"
event_key = "MENU_HELP"
reply = { text = "menu help" }
"#,
        );
        let t = try_rules(&set, &TrialInput::Text("帮助".into()), 1)
            .await
            .unwrap();
        assert_eq!(t.rule.as_deref(), Some("help"));
        assert_eq!(t.reply, Some(Reply::text("可用命令：帮助")));
        assert!(t.xml(5).unwrap().contains("<CreateTime>5</CreateTime>"));
        let t = try_rules(
            &set,
            &TrialInput::Event {
                event: "CLICK".into(),
                key: Some("MENU_HELP".into()),
            },
            1,
        )
        .await
        .unwrap();
        assert_eq!(t.rule.as_deref(), Some("menu"));
        let t = try_rules(&set, &TrialInput::MsgType("image".into()), 1)
            .await
            .unwrap();
        assert_eq!((t.xml(1), t.rule, t.reply), (None, None, None));
    }

    #[tokio::test]
    async fn long_text_notes_the_overflow() {
        let set = rules(
            "[[rules]]\nname = \"long\"\nmsg_type = \"text\"\nreply = { text = \"{{ content }}\" }\n",
        );
        let t = try_rules(&set, &TrialInput::Text("长".repeat(1000)), 1)
            .await
            .unwrap();
        assert!(t.overflow_bytes.unwrap() > 0);
        assert!(t.notes[0].contains("客服消息"), "{:?}", t.notes);
    }
}
