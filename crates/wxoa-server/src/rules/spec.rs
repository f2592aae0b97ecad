//! The `[[rules]]` entries of the config file as written, before validation.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// One `[[rules]]` entry as it appears in the config file.
///
/// Deserialized with unknown keys rejected; [`RuleSet::compile`](super::RuleSet::compile)
/// validates it. The matchers (`msg_type` to `regex`) must all hold for the rule to match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique, non-empty name; shown in logs, errors and `wxoa rules test`.
    pub name: String,
    /// `MsgType` of the push (`text`, `image`, `event`, …), compared case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_type: Option<String>,
    /// `Event` of an event push (`subscribe`, `CLICK`, …), compared case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `EventKey`, compared exactly; for `subscribe` the `qrscene_` prefix may be left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_key: Option<String>,
    /// The whole message text, compared exactly after trimming surrounding whitespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// The message text (leading whitespace ignored) starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The message text contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// A regular expression (Rust `regex` syntax) searched in the text as sent; its groups
    /// are the template variable `captures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// What to answer.
    pub reply: ReplySpec,
    /// What to do when the reply is not ready before the platform's deadline (default `retry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_slow: Option<OnSlow>,
    /// Interim text for slow replies; `server.placeholder` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Text answered when the reply's backend fails; `success` (nothing) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
}

/// The deadline policy of a rule (`on_slow = "retry" | "kf" | "placeholder"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnSlow {
    /// Let the first attempts lapse so the platform retries; answer the placeholder on the last.
    #[default]
    Retry,
    /// Answer `success` at the deadline and deliver the result as a 客服消息.
    Kf,
    /// Answer the placeholder at the deadline and park the result for the user's next message.
    Placeholder,
}

/// The reply of a rule: a table with exactly one kind key.
///
/// TOML shapes: `{ text = "…" }`, `{ image = "MEDIA_ID" }`, `{ voice = "MEDIA_ID" }`,
/// `{ video = { media_id = "…", title = "…", description = "…" } }`,
/// `{ music = { title, description, music_url, hq_music_url, thumb_media_id } }`,
/// `{ news = [{ title, description, pic_url, url }, …] }`, `{ transfer_kf = "a@kf" }`
/// (`""` for any agent), `{ lookup = { table, key, found, not_found } }`,
/// `{ script = "scripts/x.rhai" }`, `{ webhook = "https://…", secret_env = "…", timeout_ms = … }`,
/// `{ chat = "PROFILE" }` or `{ chat = { model = "…", base_url = "…", … } }` and
/// `{ none = true }`. Every string of the static kinds and of `lookup` is a template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReplySpec {
    /// A text reply.
    Text(String),
    /// An image reply by media id.
    Image(String),
    /// A voice reply by media id.
    Voice(String),
    /// A video reply.
    Video {
        /// Media id of the video (required).
        media_id: String,
        /// Optional title.
        title: Option<String>,
        /// Optional description.
        description: Option<String>,
    },
    /// A music reply.
    Music {
        /// Optional title.
        title: Option<String>,
        /// Optional description.
        description: Option<String>,
        /// Optional music link.
        music_url: Option<String>,
        /// Optional high-quality music link (played on Wi-Fi).
        hq_music_url: Option<String>,
        /// Media id of the thumbnail (required).
        thumb_media_id: String,
    },
    /// A news (图文) reply with 1 to 8 articles.
    News(Vec<ArticleSpec>),
    /// Hand the conversation to customer service; `""` lets any agent take it.
    TransferKf(String),
    /// Look the message up in a `[[tables]]` table and answer with a text template.
    Lookup(LookupSpec),
    /// Run a Rhai script (path relative to the config file's directory).
    Script(String),
    /// POST the message to a backend and answer with the reply it returns.
    Webhook(WebhookSpec),
    /// Answer with a model behind an OpenAI-compatible API: a `[chat.NAME]` profile by name,
    /// or the profile itself.
    Chat(crate::actions::chat::ChatRef),
    /// Answer nothing (`success`); written `none = true`.
    #[default]
    None,
}

/// One article of a `news` reply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleSpec {
    /// Title (required, non-empty).
    pub title: String,
    /// Description (optional).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Picture link (optional).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pic_url: String,
    /// Link opened when the article is tapped (optional).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// A `lookup` reply: `lookup = { table = "products", key = "{{ captures.name }}", found = "…",
/// not_found = "…" }`.
///
/// `key` (a template) is trimmed and compared case-insensitively with every key column of the
/// table. `found` renders with the template variables plus `row` (every column of the row
/// found); `not_found` renders when no row has that key. Without `not_found`, a key that is
/// not in the table makes the rule not match, and the next rule is tried. Both templates also
/// see `key` (the key looked up), `table` (its name), `rows` (every row, in file order) and
/// `keys` (one string per row: its keys joined by `key_separator`, default `或`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSpec {
    /// Name of a `[[tables]]` entry.
    pub table: String,
    /// Template giving the key to look up.
    pub key: String,
    /// Text template answered when the key is found.
    pub found: String,
    /// Text template answered when it is not; absent: the rule does not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found: Option<String>,
    /// Joins a row's keys in the `keys` variable (default `或`: `Visual Studio Code或vscode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_separator: Option<String>,
}

/// A `webhook` reply: `webhook = "https://backend/wx", secret_env = "WXOA_HOOK_SECRET",
/// timeout_ms = 10000` (the side keys sit beside `webhook` in the reply table).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookSpec {
    /// The backend's URL (`http://` or `https://`).
    pub url: String,
    /// Environment variable holding the HMAC-SHA256 signing secret; without it requests are
    /// not signed (no `X-Wxoa-Signature`).
    pub secret_env: Option<String>,
    /// How long to wait for the backend's answer (default 10000 ms).
    pub timeout_ms: Option<u64>,
}

/// The reply kinds, in the order error messages list them.
pub(crate) const KINDS: &[&str] = &[
    "text",
    "image",
    "voice",
    "video",
    "music",
    "news",
    "transfer_kf",
    "lookup",
    "script",
    "webhook",
    "chat",
    "none",
];

impl ReplySpec {
    /// The kind key of this reply as written in the config (`text`, `news`, …).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Image(_) => "image",
            Self::Voice(_) => "voice",
            Self::Video { .. } => "video",
            Self::Music { .. } => "music",
            Self::News(_) => "news",
            Self::TransferKf(_) => "transfer_kf",
            Self::Lookup(_) => "lookup",
            Self::Script(_) => "script",
            Self::Webhook(_) => "webhook",
            Self::Chat(_) => "chat",
            Self::None => "none",
        }
    }

    /// True for the kinds that are computed when a message arrives (`lookup`, `script`,
    /// `webhook`, `chat`), which a backend or a script cannot return as its answer.
    #[must_use]
    pub fn is_dynamic(&self) -> bool {
        matches!(
            self,
            Self::Lookup(_) | Self::Script(_) | Self::Webhook(_) | Self::Chat(_)
        )
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct VideoTable {
    media_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct MusicTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    music_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hq_music_url: Option<String>,
    thumb_media_id: String,
}

impl<'de> Deserialize<'de> for ReplySpec {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        deserializer.deserialize_map(ReplyVisitor)
    }
}

struct ReplyVisitor;

impl<'de> Visitor<'de> for ReplyVisitor {
    type Value = ReplySpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a reply table with exactly one kind, e.g. { text = \"…\" }")
    }

    fn visit_map<A>(self, mut map: A) -> Result<ReplySpec, A::Error>
    where
        A: MapAccess<'de>,
    {
        // Read every key before deciding: the side keys of `webhook` may come in any order.
        let mut kinds: Vec<&'static str> = Vec::new();
        let mut reply: Option<ReplySpec> = None;
        let mut unknown: Option<String> = None;
        let mut secret_env: Option<String> = None;
        let mut timeout_ms: Option<u64> = None;
        while let Some(key) = map.next_key::<String>()? {
            let parsed = match key.as_str() {
                "text" => ReplySpec::Text(map.next_value()?),
                "image" => ReplySpec::Image(map.next_value()?),
                "voice" => ReplySpec::Voice(map.next_value()?),
                "video" => {
                    let t: VideoTable = map.next_value()?;
                    ReplySpec::Video {
                        media_id: t.media_id,
                        title: t.title,
                        description: t.description,
                    }
                }
                "music" => {
                    let t: MusicTable = map.next_value()?;
                    ReplySpec::Music {
                        title: t.title,
                        description: t.description,
                        music_url: t.music_url,
                        hq_music_url: t.hq_music_url,
                        thumb_media_id: t.thumb_media_id,
                    }
                }
                "news" => ReplySpec::News(map.next_value()?),
                "transfer_kf" => ReplySpec::TransferKf(map.next_value()?),
                "lookup" => ReplySpec::Lookup(map.next_value()?),
                "script" => ReplySpec::Script(map.next_value()?),
                "chat" => ReplySpec::Chat(map.next_value()?),
                "webhook" => ReplySpec::Webhook(WebhookSpec {
                    url: map.next_value()?,
                    ..WebhookSpec::default()
                }),
                "secret_env" => {
                    secret_env = Some(map.next_value()?);
                    continue;
                }
                "timeout_ms" => {
                    timeout_ms = Some(map.next_value()?);
                    continue;
                }
                "none" => {
                    if !map.next_value::<bool>()? {
                        return Err(de::Error::custom(
                            "reply kind `none` must be written `none = true` (it answers nothing); \
                             give another kind to answer something",
                        ));
                    }
                    ReplySpec::None
                }
                other => {
                    map.next_value::<IgnoredAny>()?;
                    if unknown.is_none() {
                        unknown = Some(other.to_owned());
                    }
                    continue;
                }
            };
            kinds.push(parsed.kind());
            reply.get_or_insert(parsed);
        }
        if let Some(key) = unknown {
            return Err(de::Error::custom(format_args!(
                "unknown reply kind `{key}`, expected one of {}",
                kind_list()
            )));
        }
        // Name the kinds in a fixed order: some formats (TOML tables) do not keep key order.
        kinds.sort_by_key(|k| KINDS.iter().position(|x| x == k));
        let side_key = [
            ("secret_env", secret_env.is_some()),
            ("timeout_ms", timeout_ms.is_some()),
        ]
        .into_iter()
        .find_map(|(k, set)| set.then_some(k));
        match (kinds.as_slice(), reply) {
            ([_], Some(ReplySpec::Webhook(hook))) => Ok(ReplySpec::Webhook(WebhookSpec {
                secret_env,
                timeout_ms,
                ..hook
            })),
            ([kind], Some(_)) if side_key.is_some() => Err(de::Error::custom(format_args!(
                "`{}` belongs to a `webhook` reply, not to `{kind}`",
                side_key.unwrap_or_default()
            ))),
            ([_], Some(reply)) => Ok(reply),
            ([first, second, ..], _) => Err(de::Error::custom(format_args!(
                "reply has two kinds, `{first}` and `{second}`; give exactly one"
            ))),
            ([], _) if side_key.is_some() => Err(de::Error::custom(format_args!(
                "`{}` belongs to a `webhook` reply; add `webhook = \"https://…\"`",
                side_key.unwrap_or_default()
            ))),
            _ => Err(de::Error::custom(format_args!(
                "reply is empty; give exactly one kind: {}",
                kind_list()
            ))),
        }
    }
}

fn kind_list() -> String {
    KINDS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Serialize for ReplySpec {
    fn serialize<S>(&self, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
    {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Self::Text(s)
            | Self::Image(s)
            | Self::Voice(s)
            | Self::TransferKf(s)
            | Self::Script(s) => {
                map.serialize_entry(self.kind(), s)?;
            }
            Self::Video {
                media_id,
                title,
                description,
            } => map.serialize_entry(
                "video",
                &VideoTable {
                    media_id: media_id.clone(),
                    title: title.clone(),
                    description: description.clone(),
                },
            )?,
            Self::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => map.serialize_entry(
                "music",
                &MusicTable {
                    title: title.clone(),
                    description: description.clone(),
                    music_url: music_url.clone(),
                    hq_music_url: hq_music_url.clone(),
                    thumb_media_id: thumb_media_id.clone(),
                },
            )?,
            Self::News(articles) => map.serialize_entry("news", articles)?,
            Self::Lookup(lookup) => map.serialize_entry("lookup", lookup)?,
            Self::Chat(chat) => map.serialize_entry("chat", chat)?,
            Self::Webhook(hook) => {
                map.serialize_entry("webhook", &hook.url)?;
                if let Some(env) = &hook.secret_env {
                    map.serialize_entry("secret_env", env)?;
                }
                if let Some(ms) = &hook.timeout_ms {
                    map.serialize_entry("timeout_ms", ms)?;
                }
            }
            Self::None => map.serialize_entry("none", &true)?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        reply: ReplySpec,
    }

    fn reply(toml_src: &str) -> Result<ReplySpec, String> {
        toml::from_str::<Holder>(toml_src)
            .map(|h| h.reply)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn text_and_media_shapes() {
        assert_eq!(
            reply(r#"reply = { text = "hi" }"#),
            Ok(ReplySpec::Text("hi".into()))
        );
        assert_eq!(
            reply(r#"reply = { image = "M1" }"#),
            Ok(ReplySpec::Image("M1".into()))
        );
        assert_eq!(
            reply(r#"reply = { voice = "V1" }"#),
            Ok(ReplySpec::Voice("V1".into()))
        );
        assert_eq!(
            reply(r#"reply = { transfer_kf = "" }"#),
            Ok(ReplySpec::TransferKf(String::new()))
        );
        assert_eq!(reply("reply = { none = true }"), Ok(ReplySpec::None));
    }

    #[test]
    fn two_kinds_are_refused_by_name() {
        let err = reply(r#"reply = { text = "a", image = "b" }"#).unwrap_err();
        assert!(err.contains("two kinds, `text` and `image`"), "{err}");
    }

    #[test]
    fn dynamic_kinds_and_webhook_side_keys() {
        assert_eq!(
            reply(r#"reply = { secret_env = "X", timeout_ms = 200, webhook = "https://h/x" }"#),
            Ok(ReplySpec::Webhook(WebhookSpec {
                url: "https://h/x".into(),
                secret_env: Some("X".into()),
                timeout_ms: Some(200),
            }))
        );
        assert_eq!(
            reply(r#"reply = { script = "s.rhai" }"#),
            Ok(ReplySpec::Script("s.rhai".into()))
        );
        assert_eq!(
            reply(r#"reply = { lookup = { table = "t", key = "k", found = "f" } }"#),
            Ok(ReplySpec::Lookup(LookupSpec {
                table: "t".into(),
                key: "k".into(),
                found: "f".into(),
                ..LookupSpec::default()
            }))
        );
        assert!(ReplySpec::Script(String::new()).is_dynamic());
        assert!(!ReplySpec::Text(String::new()).is_dynamic());
        let err = reply(r#"reply = { text = "a", secret_env = "X" }"#).unwrap_err();
        assert!(
            err.contains("`secret_env` belongs to a `webhook` reply, not to `text`"),
            "{err}"
        );
        let err = reply(r#"reply = { timeout_ms = 5 }"#).unwrap_err();
        assert!(err.contains("add `webhook"), "{err}");
        let err = reply(r#"reply = { lookup = "t.csv" }"#).unwrap_err();
        assert!(err.contains("struct LookupSpec"), "{err}");
        let err =
            reply(r#"reply = { lookup = { table = "t", key = "k", found = "f", extra = 1 } }"#)
                .unwrap_err();
        assert!(err.contains("extra"), "{err}");
    }

    #[test]
    fn empty_and_unknown_and_none_false() {
        let err = reply("reply = {}").unwrap_err();
        assert!(err.contains("reply is empty"), "{err}");
        let err = reply(r#"reply = { txt = "a" }"#).unwrap_err();
        assert!(err.contains("unknown reply kind `txt`"), "{err}");
        assert!(err.contains("`text`"), "{err}");
        let err = reply("reply = { none = false }").unwrap_err();
        assert!(err.contains("`none = true`"), "{err}");
    }

    #[test]
    fn wrong_value_type_is_an_error() {
        let err = reply("reply = { text = 5 }").unwrap_err();
        assert!(err.contains("string"), "{err}");
        let err = reply(r#"reply = "hello""#).unwrap_err();
        assert!(err.contains("exactly one kind"), "{err}");
    }

    #[test]
    fn kind_names_match_the_list() {
        let all = [
            ReplySpec::Text(String::new()),
            ReplySpec::Image(String::new()),
            ReplySpec::Voice(String::new()),
            ReplySpec::Video {
                media_id: String::new(),
                title: None,
                description: None,
            },
            ReplySpec::Music {
                title: None,
                description: None,
                music_url: None,
                hq_music_url: None,
                thumb_media_id: String::new(),
            },
            ReplySpec::News(Vec::new()),
            ReplySpec::TransferKf(String::new()),
            ReplySpec::Lookup(LookupSpec::default()),
            ReplySpec::Script(String::new()),
            ReplySpec::Webhook(WebhookSpec::default()),
            ReplySpec::Chat(crate::actions::chat::ChatRef::Named(String::new())),
            ReplySpec::None,
        ];
        let kinds: Vec<_> = all.iter().map(ReplySpec::kind).collect();
        assert_eq!(kinds, KINDS);
    }

    #[test]
    fn serialize_round_trips_through_toml() {
        let specs = [
            ReplySpec::Text("a \"b\"".into()),
            ReplySpec::Video {
                media_id: "m".into(),
                title: Some("t".into()),
                description: None,
            },
            ReplySpec::Music {
                title: None,
                description: Some("d".into()),
                music_url: Some("u".into()),
                hq_music_url: None,
                thumb_media_id: "th".into(),
            },
            ReplySpec::News(vec![ArticleSpec {
                title: "t".into(),
                url: "u".into(),
                ..ArticleSpec::default()
            }]),
            ReplySpec::Lookup(LookupSpec {
                table: "t".into(),
                key: "{{ content }}".into(),
                found: "f".into(),
                not_found: Some("n".into()),
                key_separator: Some(" / ".into()),
            }),
            ReplySpec::Script("scripts/a.rhai".into()),
            ReplySpec::Webhook(WebhookSpec {
                url: "https://b/x".into(),
                secret_env: Some("S".into()),
                timeout_ms: Some(300),
            }),
            ReplySpec::Webhook(WebhookSpec {
                url: "https://b/x".into(),
                ..WebhookSpec::default()
            }),
            ReplySpec::Chat(crate::actions::chat::ChatRef::Named("bot".into())),
            ReplySpec::Chat(crate::actions::chat::ChatRef::Inline(Box::new(
                crate::actions::chat::ChatSpec {
                    model: "m".into(),
                    base_url: "http://x.test/v1".into(),
                    history: Some(4),
                    ..crate::actions::chat::ChatSpec::default()
                },
            ))),
            ReplySpec::None,
        ];
        for spec in specs {
            #[derive(Serialize)]
            struct Out<'a> {
                reply: &'a ReplySpec,
            }
            let text = toml::to_string(&Out { reply: &spec }).unwrap();
            assert_eq!(reply(&text), Ok(spec), "{text}");
        }
    }

    #[test]
    fn on_slow_is_lowercase() {
        #[derive(Deserialize)]
        struct H {
            on_slow: OnSlow,
        }
        let h: H = toml::from_str(r#"on_slow = "kf""#).unwrap();
        assert_eq!(h.on_slow, OnSlow::Kf);
        assert!(toml::from_str::<H>(r#"on_slow = "Kf""#).is_err());
        assert_eq!(OnSlow::default(), OnSlow::Retry);
    }
}
