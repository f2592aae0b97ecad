//! A chat profile: the `chat = { … }` reply table or a top-level `[chat.NAME]` section as
//! written ([`ChatSpec`], [`ChatRef`]), and its validated form ([`ChatProfile`]).

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::actions::http::{parse_http_url, shown};

/// The default number of past turns (a question and its answer) sent with a question.
pub const DEFAULT_HISTORY_TURNS: usize = 10;
/// The default token budget of the history sent with a question.
pub const DEFAULT_HISTORY_TOKENS: u32 = 3000;
/// How long the model may take for a whole answer when the profile gives no `timeout_ms`.
pub const DEFAULT_CHAT_TIMEOUT_MS: u64 = 60_000;
/// The longest `timeout_ms` a profile may give.
pub const MAX_CHAT_TIMEOUT_MS: u64 = 300_000;
/// The default keyword that starts a new conversation.
pub const DEFAULT_RESET_KEYWORD: &str = "新对话";
/// The default keyword that asks for the rest of a long answer.
pub const DEFAULT_CONTINUE_KEYWORD: &str = "继续";
/// The default idle time after which a conversation is forgotten.
pub const DEFAULT_IDLE_MINUTES: u64 = 30;

/// A chat profile as written: `reply = { chat = { model = "…", base_url = "…", … } }` or
/// `[chat.NAME]`. Every key but `model` and `base_url` is optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSpec {
    /// The model name the provider knows (`deepseek-chat`, `qwen-plus`, …).
    pub model: String,
    /// The OpenAI-compatible API root, e.g. `https://api.deepseek.com/v1`;
    /// `/chat/completions` is appended.
    pub base_url: String,
    /// Environment variable holding the API key (sent as `Authorization: Bearer …`); absent
    /// for servers without keys (Ollama, a local vLLM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// The system prompt, a template with the rule variables (`content`, `from`, `now`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Past turns sent with a question (default 10; 0 forgets every turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<usize>,
    /// Token budget of that history (default 3000); older turns are dropped first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_tokens: Option<u32>,
    /// `max_tokens` of the request (the longest answer); the provider's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// `temperature` of the request (0 to 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// How long the whole answer may take (default 60000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Pass followers' pictures (PicUrl) to the model (a vision model is needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision: Option<bool>,
    /// The message that starts a new conversation (default `新对话`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_keyword: Option<String>,
    /// The answer to the reset keyword.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_text: Option<String>,
    /// The message that asks for the rest of a long answer (default `继续`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_keyword: Option<String>,
    /// Minutes without a message after which the conversation is forgotten (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_minutes: Option<u64>,
    /// Questions one follower may ask per minute (no limit when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_user_per_minute: Option<u32>,
    /// The answer when a follower goes over `per_user_per_minute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_text: Option<String>,
    /// Tokens (in + out) the account may spend per day, Beijing time (no limit when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_token_budget: Option<u64>,
    /// The answer when the day's budget is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_text: Option<String>,
    /// Questions or answers containing one of these are not answered (case-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_keywords: Vec<String>,
    /// A moderation backend: POST `{"openid","question","answer"}`, answers
    /// `{"allow": true}` or `{"allow": false}` (optionally with `"text"` to answer instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_webhook: Option<String>,
    /// The answer when the filter refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_text: Option<String>,
}

// The only float, `temperature`, is checked finite at validation.
impl Eq for ChatSpec {}

/// The `chat` key of a reply: a profile's name, or the profile itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatRef {
    /// `chat = "NAME"`: the top-level `[chat.NAME]`.
    Named(String),
    /// `chat = { … }`.
    Inline(Box<ChatSpec>),
}

impl<'de> Deserialize<'de> for ChatRef {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        struct RefVisitor;
        impl<'de> Visitor<'de> for RefVisitor {
            type Value = ChatRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a profile name (chat = \"NAME\" for [chat.NAME]) or a table (chat = { model = \"…\", base_url = \"…\" })",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChatRef, E> {
                Ok(ChatRef::Named(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ChatRef, A::Error> {
                ChatSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|s| ChatRef::Inline(Box::new(s)))
            }
        }
        deserializer.deserialize_any(RefVisitor)
    }
}

impl Serialize for ChatRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Named(name) => serializer.serialize_str(name),
            Self::Inline(spec) => spec.serialize(serializer),
        }
    }
}

/// A validated chat profile.
#[derive(Clone)]
pub struct ChatProfile {
    /// The name metrics and logs use: the `[chat.NAME]`, or the rule's name for inline ones.
    pub name: String,
    pub(crate) model: String,
    pub(crate) endpoint: Url,
    pub(crate) api_key: Option<SecretString>,
    pub(crate) system: Option<String>,
    pub(crate) history: usize,
    pub(crate) history_tokens: u32,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) temperature: Option<f64>,
    pub(crate) timeout: Duration,
    pub(crate) vision: bool,
    pub(crate) reset_keyword: String,
    pub(crate) reset_text: String,
    pub(crate) continue_keyword: String,
    pub(crate) idle_secs: i64,
    pub(crate) per_user_per_minute: Option<u32>,
    pub(crate) rate_limit_text: String,
    pub(crate) daily_token_budget: Option<u64>,
    pub(crate) budget_text: String,
    pub(crate) filter_keywords: Vec<String>,
    pub(crate) filter_webhook: Option<Url>,
    pub(crate) filter_text: String,
}

impl fmt::Debug for ChatProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatProfile")
            .field("name", &self.name)
            .field("model", &self.model)
            .field("endpoint", &shown(&self.endpoint))
            .field("keyed", &self.api_key.is_some())
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

/// A chat profile that cannot be used: the key (`model`, `base_url`, …) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} {message}")]
pub struct ProfileError {
    /// The key as written.
    pub key: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn bad(key: &'static str, message: impl Into<String>) -> ProfileError {
    ProfileError {
        key,
        message: message.into(),
    }
}

fn text_or(
    key: &'static str,
    value: Option<&String>,
    default: &str,
) -> Result<String, ProfileError> {
    match value {
        Some(v) if v.trim().is_empty() => Err(bad(
            key,
            format!("must not be empty; remove `{key}` to use the default"),
        )),
        Some(v) if v.len() > wxoa_proto::limits::MAX_TEXT_REPLY_BYTES => Err(bad(
            key,
            format!(
                "is {} bytes; a text reply carries at most {} bytes",
                v.len(),
                wxoa_proto::limits::MAX_TEXT_REPLY_BYTES
            ),
        )),
        Some(v) => Ok(v.trim().to_owned()),
        None => Ok(default.to_owned()),
    }
}

impl ChatProfile {
    /// Validate `spec` under `name`; reads the API key from the environment now.
    ///
    /// # Errors
    /// The first key that cannot be used.
    pub fn compile(name: &str, spec: &ChatSpec) -> Result<Self, ProfileError> {
        let model = spec.model.trim();
        if model.is_empty() {
            return Err(bad(
                "model",
                "must name the provider's model, e.g. \"deepseek-chat\" or \"qwen-plus\"",
            ));
        }
        let base = spec.base_url.trim().trim_end_matches('/');
        let base_url = parse_http_url(base).map_err(|e| {
            bad(
                "base_url",
                format!(
                    "{e}; give the OpenAI-compatible root, e.g. \"https://api.deepseek.com/v1\""
                ),
            )
        })?;
        if base_url.query().is_some() {
            return Err(bad("base_url", "must not carry a query"));
        }
        let endpoint = if base.ends_with("/chat/completions") {
            base_url
        } else {
            parse_http_url(&format!("{base}/chat/completions"))
                .map_err(|e| bad("base_url", e.to_string()))?
        };
        let api_key = match &spec.api_key_env {
            None => None,
            Some(var) if var.trim().is_empty() => {
                return Err(bad(
                    "api_key_env",
                    "must name an environment variable; remove it for servers without keys",
                ));
            }
            Some(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Some(SecretString::from(v.trim().to_owned())),
                _ => {
                    return Err(bad(
                        "api_key_env",
                        format!(
                            "environment variable `{var}` is not set or empty; export it with the provider's API key"
                        ),
                    ));
                }
            },
        };
        if let Some(t) = spec.temperature
            && !(t.is_finite() && (0.0..=2.0).contains(&t))
        {
            return Err(bad(
                "temperature",
                format!("must be between 0 and 2, got {t}"),
            ));
        }
        if spec.max_tokens == Some(0) {
            return Err(bad("max_tokens", "must be at least 1"));
        }
        let ms = spec.timeout_ms.unwrap_or(DEFAULT_CHAT_TIMEOUT_MS);
        if !(1000..=MAX_CHAT_TIMEOUT_MS).contains(&ms) {
            return Err(bad(
                "timeout_ms",
                format!("must be between 1000 and {MAX_CHAT_TIMEOUT_MS}, got {ms}"),
            ));
        }
        if spec.history.is_some_and(|h| h > 100) {
            return Err(bad("history", "must be at most 100 turns"));
        }
        let idle = spec.idle_minutes.unwrap_or(DEFAULT_IDLE_MINUTES);
        if idle == 0 || idle > 7 * 24 * 60 {
            return Err(bad(
                "idle_minutes",
                format!("must be between 1 and 10080 (a week), got {idle}"),
            ));
        }
        if spec.per_user_per_minute == Some(0) {
            return Err(bad(
                "per_user_per_minute",
                "must be at least 1; remove it for no limit",
            ));
        }
        if spec.daily_token_budget == Some(0) {
            return Err(bad(
                "daily_token_budget",
                "must be at least 1; remove it for no budget",
            ));
        }
        if let Some(i) = spec
            .filter_keywords
            .iter()
            .position(|k| k.trim().is_empty())
        {
            return Err(bad("filter_keywords", format!("entry {} is empty", i + 1)));
        }
        let filter_webhook = match &spec.filter_webhook {
            None => None,
            Some(url) => {
                Some(parse_http_url(url.trim()).map_err(|e| bad("filter_webhook", e.to_string()))?)
            }
        };
        let reset_keyword = text_or(
            "reset_keyword",
            spec.reset_keyword.as_ref(),
            DEFAULT_RESET_KEYWORD,
        )?;
        let continue_keyword = text_or(
            "continue_keyword",
            spec.continue_keyword.as_ref(),
            DEFAULT_CONTINUE_KEYWORD,
        )?;
        if reset_keyword == continue_keyword {
            return Err(bad(
                "continue_keyword",
                format!(
                    "is the same as reset_keyword ({reset_keyword:?}); give two different words"
                ),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            model: model.to_owned(),
            endpoint,
            api_key,
            system: spec.system.clone().filter(|s| !s.trim().is_empty()),
            history: spec.history.unwrap_or(DEFAULT_HISTORY_TURNS),
            history_tokens: spec.history_tokens.unwrap_or(DEFAULT_HISTORY_TOKENS),
            max_tokens: spec.max_tokens,
            temperature: spec.temperature,
            timeout: Duration::from_millis(ms),
            vision: spec.vision.unwrap_or(false),
            reset_text: text_or(
                "reset_text",
                spec.reset_text.as_ref(),
                "好的，我们开始新的对话。",
            )?,
            reset_keyword,
            continue_keyword,
            idle_secs: i64::try_from(idle * 60).unwrap_or(i64::MAX),
            per_user_per_minute: spec.per_user_per_minute,
            rate_limit_text: text_or(
                "rate_limit_text",
                spec.rate_limit_text.as_ref(),
                "你问得太快了，请稍等一分钟再问。",
            )?,
            daily_token_budget: spec.daily_token_budget,
            budget_text: text_or(
                "budget_text",
                spec.budget_text.as_ref(),
                "今天的 AI 回答额度已用完，请明天再来。",
            )?,
            filter_keywords: spec
                .filter_keywords
                .iter()
                .map(|k| k.trim().to_lowercase())
                .collect(),
            filter_webhook,
            filter_text: text_or(
                "filter_text",
                spec.filter_text.as_ref(),
                "抱歉，这个问题我无法回答。",
            )?,
        })
    }

    /// The endpoint for messages (query hidden).
    #[must_use]
    pub fn shown_endpoint(&self) -> String {
        shown(&self.endpoint)
    }

    /// The model name.
    #[must_use]
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The keyword that asks for the rest of a long answer.
    #[must_use]
    pub fn continue_keyword(&self) -> &str {
        &self.continue_keyword
    }

    /// The line appended to an answer whose rest waits for the continue keyword.
    #[must_use]
    pub fn more_hint(&self) -> String {
        format!("\n\n（回复「{}」查看剩余内容）", self.continue_keyword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ChatSpec {
        ChatSpec {
            model: "m".into(),
            base_url: "http://127.0.0.1:9/v1/".into(),
            ..ChatSpec::default()
        }
    }

    #[test]
    fn defaults_and_endpoint() {
        let p = ChatProfile::compile("bot", &spec()).unwrap();
        assert_eq!(
            p.endpoint.as_str(),
            "http://127.0.0.1:9/v1/chat/completions"
        );
        assert_eq!(p.history, DEFAULT_HISTORY_TURNS);
        assert_eq!(p.reset_keyword, "新对话");
        assert_eq!(p.continue_keyword(), "继续");
        assert!(p.more_hint().contains("回复「继续」查看剩余内容"));
        let mut s = spec();
        s.base_url = "https://x.test/v1/chat/completions".into();
        let p = ChatProfile::compile("bot", &s).unwrap();
        assert_eq!(p.endpoint.as_str(), "https://x.test/v1/chat/completions");
    }

    #[test]
    fn bad_keys_are_named() {
        let cases: Vec<(ChatSpec, &str)> = vec![
            (
                ChatSpec {
                    model: " ".into(),
                    ..spec()
                },
                "model",
            ),
            (
                ChatSpec {
                    base_url: "ftp://x".into(),
                    ..spec()
                },
                "base_url",
            ),
            (
                ChatSpec {
                    temperature: Some(3.0),
                    ..spec()
                },
                "temperature",
            ),
            (
                ChatSpec {
                    timeout_ms: Some(10),
                    ..spec()
                },
                "timeout_ms",
            ),
            (
                ChatSpec {
                    api_key_env: Some("WXOA_SURELY_UNSET_KEY_VAR".into()),
                    ..spec()
                },
                "api_key_env",
            ),
            (
                ChatSpec {
                    per_user_per_minute: Some(0),
                    ..spec()
                },
                "per_user_per_minute",
            ),
            (
                ChatSpec {
                    continue_keyword: Some("新对话".into()),
                    ..spec()
                },
                "continue_keyword",
            ),
            (
                ChatSpec {
                    filter_keywords: vec![String::new()],
                    ..spec()
                },
                "filter_keywords",
            ),
            (
                ChatSpec {
                    idle_minutes: Some(0),
                    ..spec()
                },
                "idle_minutes",
            ),
        ];
        for (s, key) in cases {
            let e = ChatProfile::compile("bot", &s).unwrap_err();
            assert_eq!(e.key, key, "{e}");
        }
    }

    #[test]
    fn chat_ref_reads_a_name_or_a_table() {
        #[derive(Deserialize)]
        struct H {
            chat: ChatRef,
        }
        let h: H = toml::from_str(r#"chat = "bot""#).unwrap();
        assert_eq!(h.chat, ChatRef::Named("bot".into()));
        let h: H = toml::from_str(r#"chat = { model = "m", base_url = "http://x" }"#).unwrap();
        assert!(matches!(h.chat, ChatRef::Inline(s) if s.model == "m"));
        let e = toml::from_str::<H>(r#"chat = { model = "m", base_url = "http://x", modle = 1 }"#)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("modle"), "{e}");
    }
}
