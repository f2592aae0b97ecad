//! The `chat` reply kind: answer with a model behind any OpenAI-compatible chat-completions
//! API, with conversation memory, limits, a content filter and metrics.
//!
//! # Layout
//! - [`profile`]: the profile as written (`chat = { … }`, `[chat.NAME]`) and validated.
//! - [`client`]: one streaming request per question; [`sse`] reads the stream.
//! - [`partial`]: the streaming answer shared with the deadline logic of the push.
//! - [`memory`]: the conversation in the follower's session.
//! - [`split`] and [`markdown`]: what the chat window can show, in ≤ 2047-byte parts.
//! - [`ledger`]: rate limit per follower, daily token budget.
//! - [`filter`]: keyword list and moderation webhook.
//!
//! # Flow of one message
//! The reset keyword clears the conversation; the continue keyword shows the next part of the
//! last long answer. Anything else is a question: limits and the filter are checked, the
//! model is asked once with the system prompt and the recent turns, and its answer, rendered
//! and split, goes out by the rule's `on_slow` policy: `retry`/`placeholder` answer the first
//! part and keep the rest for the continue keyword; `kf` sends a long answer by 客服消息, in
//! order (parked when that is not allowed).

pub mod client;
pub mod filter;
pub mod ledger;
pub mod markdown;
pub mod memory;
pub mod partial;
pub mod profile;
pub mod split;
mod sse;

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::time::Instant;
use wxoa_proto::limits::MAX_TEXT_REPLY_BYTES;
use wxoa_proto::reply::Reply;

pub use self::client::{ChatError, Completion};
pub use self::ledger::ChatLedger;
pub use self::partial::PartialOutput;
pub use self::profile::{ChatProfile, ChatRef, ChatSpec, ProfileError};

use self::filter::Verdict;
use self::memory::{Memory, Turn, estimate_tokens};
use super::{ActionError, Captured, Services};
use crate::rules::OnSlow;
use crate::rules::matcher::message_text;

/// Chat requests, by `profile` and `outcome` (`ok`, `rate_limited`, `timeout`, `cut`, …,
/// and the refusals `user_limit`, `budget`, `filtered`).
pub const CHAT_REQUESTS: &str = "wxoa_chat_requests_total";
/// Tokens, by `profile` and `direction` (`in`: prompt, `out`: answer).
pub const CHAT_TOKENS: &str = "wxoa_chat_tokens_total";
/// Seconds from the question to the complete answer, by `profile`.
pub const CHAT_SECONDS: &str = "wxoa_chat_seconds";
/// Buckets of [`CHAT_SECONDS`]: around the platform's 5, 10 and 15 seconds, up to 2 minutes.
pub const CHAT_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 4.5, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0,
];

/// The answer when a long answer's rest is asked for while it is still being written.
const STILL_WRITING: &str = "答案还在生成中，请稍后再回复";

/// A `chat` reply of one rule.
#[derive(Debug)]
pub(crate) struct CompiledChat {
    profile: Arc<ChatProfile>,
    system: Option<Arc<minijinja::Environment<'static>>>,
    on_slow: OnSlow,
}

impl CompiledChat {
    /// The chat of a rule with policy `on_slow`; the system prompt is compiled and tried now.
    /// The error is `(field, message)`.
    pub(crate) fn compile(
        profile: Arc<ChatProfile>,
        on_slow: OnSlow,
    ) -> Result<Self, (&'static str, String)> {
        let system = match &profile.system {
            None => None,
            Some(source) => {
                let mut env = minijinja::Environment::new();
                env.add_template_owned("system", source.clone())
                    .map_err(|e| ("reply.chat.system", e.to_string()))?;
                env.get_template("system")
                    .and_then(|t| t.render(minijinja::context! {}))
                    .map_err(|e| ("reply.chat.system", e.to_string()))?;
                Some(Arc::new(env))
            }
        };
        Ok(Self {
            profile,
            system,
            on_slow,
        })
    }

    /// The profile.
    pub(crate) fn profile(&self) -> &ChatProfile {
        &self.profile
    }

    /// A fresh streaming buffer for one question.
    pub(crate) fn new_partial(&self) -> PartialOutput {
        PartialOutput::new(
            self.profile.more_hint(),
            self.profile.filter_keywords.clone(),
            self.profile.filter_webhook.is_none(),
        )
    }

    fn system_prompt(
        &self,
        inbound: &wxoa_proto::message::Inbound,
        captures: &Captured,
        now: i64,
    ) -> Option<String> {
        let env = self.system.as_ref()?;
        let rendered = env.get_template("system").and_then(|t| {
            t.render(minijinja::context! {
                content => message_text(inbound).unwrap_or(""),
                from => inbound.from_user_name.as_str(),
                to => inbound.to_user_name.as_str(),
                create_time => inbound.create_time,
                msg_type => inbound.msg_type.as_str(),
                now => now,
                captures => captures.groups(),
                profile => self.profile.name.as_str(),
                model => self.profile.model.as_str(),
            })
        });
        match rendered {
            Ok(s) if !s.trim().is_empty() => Some(s),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(profile = %self.profile.name, error = %e, "system prompt failed to render; asking without it");
                None
            }
        }
    }

    fn count(&self, outcome: &'static str) {
        metrics::counter!(CHAT_REQUESTS, "profile" => self.profile.name.clone(), "outcome" => outcome)
            .increment(1);
    }

    /// Answer one message.
    pub(crate) async fn run(
        &self,
        inbound: &wxoa_proto::message::Inbound,
        captures: &Captured,
        now: i64,
        partial: &PartialOutput,
        services: &Services,
    ) -> Result<Option<Reply>, ActionError> {
        let result = self.answer(inbound, captures, now, partial, services).await;
        // Whatever happened, no prefix may be shown from now on.
        partial.finish();
        result
    }

    async fn answer(
        &self,
        inbound: &wxoa_proto::message::Inbound,
        captures: &Captured,
        now: i64,
        partial: &PartialOutput,
        services: &Services,
    ) -> Result<Option<Reply>, ActionError> {
        let p = &*self.profile;
        let openid = inbound.from_user_name.as_str();
        let sessions = &*services.sessions;
        let text = message_text(inbound).map(str::trim).unwrap_or("");
        let picture = if p.vision && inbound.msg_type.eq_ignore_ascii_case("image") {
            inbound.field("PicUrl").filter(|u| !u.is_empty())
        } else {
            None
        };
        let mut memory = Memory::load(sessions, openid, &p.name, now, p.idle_secs).await?;
        if text == p.reset_keyword {
            memory.conversation = memory::Conversation::default();
            memory.save(sessions, openid, now).await?;
            self.count("reset");
            return Ok(Some(Reply::text(p.reset_text.clone())));
        }
        if text == p.continue_keyword {
            if !memory.conversation.more.is_empty() {
                let next = memory.conversation.more.remove(0);
                let reply = if memory.conversation.more.is_empty() {
                    next
                } else {
                    format!("{next}{}", p.more_hint())
                };
                memory.save(sessions, openid, now).await?;
                self.count("continued");
                return Ok(Some(Reply::text(reply)));
            }
            if services.chat_ledger.is_streaming(&p.name, openid) {
                self.count("continued");
                return Ok(Some(Reply::text(format!(
                    "{STILL_WRITING}「{}」。",
                    p.continue_keyword
                ))));
            }
        }
        if text.is_empty() && picture.is_none() {
            tracing::info!(profile = %p.name, msg_type = %inbound.msg_type, "nothing to ask the model (no text; vision is off for pictures)");
            self.count("no_question");
            return Ok(None);
        }
        if !services
            .chat_ledger
            .admit(&p.name, openid, now, p.per_user_per_minute)
        {
            tracing::info!(profile = %p.name, openid, "per_user_per_minute reached");
            self.count("user_limit");
            return Ok(Some(Reply::text(p.rate_limit_text.clone())));
        }
        if !services
            .chat_ledger
            .within_budget(&p.name, now, p.daily_token_budget)
        {
            tracing::warn!(profile = %p.name, "daily_token_budget spent");
            self.count("budget");
            return Ok(Some(Reply::text(p.budget_text.clone())));
        }
        if let Some(word) = filter::blocked_keyword(p, text) {
            tracing::info!(profile = %p.name, openid, word, "question refused by filter_keywords");
            self.count("filtered");
            return Ok(Some(Reply::text(p.filter_text.clone())));
        }

        // A new question abandons the rest of the previous answer.
        memory.conversation.more.clear();
        let messages = self.messages(inbound, captures, now, &memory, text, picture);
        let prompt_estimate: u64 = messages
            .iter()
            .map(|m| estimate_tokens(&m["content"].to_string()))
            .sum();
        let streaming = Streaming::start(&services.chat_ledger, &p.name, openid);
        let started = Instant::now();
        let result = client::complete(services.http.inner(), p, messages, partial).await;
        drop(streaming);
        metrics::histogram!(CHAT_SECONDS, "profile" => p.name.clone())
            .record(started.elapsed().as_secs_f64());
        let completion = match result {
            Ok(c) => c,
            Err(e) => {
                self.count(e.outcome());
                if let ChatError::RateLimited {
                    retry_after: Some(secs),
                    ..
                } = &e
                {
                    tracing::warn!(profile = %p.name, retry_after = secs, "the provider asks to slow down");
                }
                return Err(ActionError::Chat {
                    profile: p.name.clone(),
                    source: e,
                });
            }
        };
        let tokens_in = completion.prompt_tokens.unwrap_or(prompt_estimate);
        let tokens_out = completion
            .completion_tokens
            .unwrap_or_else(|| estimate_tokens(&completion.text));
        services
            .chat_ledger
            .spend(&p.name, now, tokens_in + tokens_out);
        metrics::counter!(CHAT_TOKENS, "profile" => p.name.clone(), "direction" => "in")
            .increment(tokens_in);
        metrics::counter!(CHAT_TOKENS, "profile" => p.name.clone(), "direction" => "out")
            .increment(tokens_out);

        let question = if text.is_empty() { "[图片]" } else { text };
        let rendered = markdown::render(&completion.text);
        let (rendered, refused) =
            match filter::check_answer(services.http.inner(), p, openid, question, &rendered).await
            {
                Verdict::Allow => {
                    memory.conversation.record(
                        Turn {
                            user: question.to_owned(),
                            assistant: completion.text.clone(),
                        },
                        p.history,
                    );
                    self.count("ok");
                    (rendered, false)
                }
                Verdict::Refuse(text) => {
                    self.count("filtered");
                    (text, true)
                }
            };

        let shown = partial.finish();
        let reply = match (&shown, self.on_slow) {
            // The last attempt showed the first sentences: keep the rest for the keyword.
            (Some(shown), _) => {
                memory.conversation.more = if refused {
                    vec![rendered]
                } else {
                    self.parts_with_hint(partial::rest_after(&rendered, shown))
                };
                None
            }
            (None, OnSlow::Kf) => {
                let parts = split::split_answer(&rendered, MAX_TEXT_REPLY_BYTES);
                if parts.len() > 1 {
                    // In order, all by 客服消息 (each parked when that is refused).
                    for part in parts {
                        if let Err(e) = services.later.send_later(openid, Reply::text(part)).await {
                            tracing::error!(profile = %p.name, openid, error = %e, "a part of the answer could not be delivered");
                        }
                    }
                    None
                } else {
                    parts.into_iter().next().map(Reply::text)
                }
            }
            (None, OnSlow::Retry | OnSlow::Placeholder) => {
                let mut parts = self.parts_with_hint(&rendered);
                if parts.is_empty() {
                    None
                } else {
                    let first = parts.remove(0);
                    memory.conversation.more = parts;
                    if memory.conversation.more.is_empty() {
                        Some(Reply::text(first))
                    } else {
                        Some(Reply::text(format!("{first}{}", p.more_hint())))
                    }
                }
            }
        };
        memory.save(sessions, openid, now).await?;
        Ok(reply)
    }

    /// `text` in parts that fit with the continue hint appended.
    fn parts_with_hint(&self, text: &str) -> Vec<String> {
        let room = MAX_TEXT_REPLY_BYTES - self.profile.more_hint().len();
        split::split_answer(text, room)
    }

    /// The request's messages: system prompt, recent turns, the question.
    fn messages(
        &self,
        inbound: &wxoa_proto::message::Inbound,
        captures: &Captured,
        now: i64,
        memory: &Memory,
        text: &str,
        picture: Option<&str>,
    ) -> Vec<Value> {
        let p = &*self.profile;
        let mut messages = Vec::new();
        if let Some(system) = self.system_prompt(inbound, captures, now) {
            messages.push(json!({ "role": "system", "content": system }));
        }
        for turn in memory.conversation.history(p.history, p.history_tokens) {
            messages.push(json!({ "role": "user", "content": turn.user }));
            messages.push(json!({ "role": "assistant", "content": turn.assistant }));
        }
        let content = match picture {
            Some(url) => {
                let prompt = if text.is_empty() {
                    "请描述这张图片。"
                } else {
                    text
                };
                json!([
                    { "type": "text", "text": prompt },
                    { "type": "image_url", "image_url": { "url": url } },
                ])
            }
            None => Value::String(text.to_owned()),
        };
        messages.push(json!({ "role": "user", "content": content }));
        messages
    }
}

/// Marks an answer as streaming in the ledger until dropped (also when the task is cancelled
/// or panics), so the continue keyword never waits for an answer that will not come.
struct Streaming<'a> {
    ledger: &'a ChatLedger,
    profile: &'a str,
    openid: &'a str,
}

impl<'a> Streaming<'a> {
    fn start(ledger: &'a ChatLedger, profile: &'a str, openid: &'a str) -> Self {
        ledger.set_streaming(profile, openid, true);
        Self {
            ledger,
            profile,
            openid,
        }
    }
}

impl Drop for Streaming<'_> {
    fn drop(&mut self) {
        self.ledger.set_streaming(self.profile, self.openid, false);
    }
}
