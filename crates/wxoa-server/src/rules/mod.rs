//! The rules engine: `[[rules]]` compiled once, then the first matching rule answers a message.
//!
//! # Layout
//! - [`spec`]: the rules as written in the config (serde).
//! - `matcher`: validated matchers and the test of a message against them.
//! - `template`: reply templates (minijinja, with a literal fast path) and their variables.
//! - [`probe`]: synthetic inbound messages for `wxoa rules test` and for tests.
//! - [`trial`]: trying the rules on a synthetic message (`wxoa rules test`, the console).
//! - `literal`: replies given as data (a webhook's or a script's answer), never templated.
//!
//! The dynamic kinds live in [`crate::actions`]: `lookup` is answered here (its tables are in
//! memory), `script`, `webhook` and `chat` become [`Outcome::Action`], run by the caller.
//!
//! # Matching
//! All matchers a rule gives must hold; the first rule that matches answers. `msg_type` and
//! `event` compare case-insensitively; `event_key` exactly (a `subscribe` key also matches
//! without its `qrscene_` prefix); `keyword` is the whole text after trimming, `prefix` the
//! start after leading whitespace, `contains` anywhere, `regex` searches the text as sent.
//! The text is a text message's `Content` or a voice message's non-empty `Recognition`;
//! content matchers never match events or other messages.
//!
//! # Templates
//! Every string of a reply is a minijinja template (no HTML escaping; undefined variables
//! render empty) with the variables `content`, `from`, `to`, `create_time`, `msg_type`,
//! `event`, `event_key`, `media_id`, `now` and `captures` (`captures[1]`, `captures.name`).
//! A string without `{{`, `{%` or `{#` is used as is, without the template engine.

mod error;
pub(crate) mod literal;
pub(crate) mod matcher;
pub mod probe;
pub mod spec;
pub(crate) mod template;
pub mod trial;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;
use wxoa_proto::limits::MAX_TEXT_REPLY_BYTES;
use wxoa_proto::message::Inbound;
use wxoa_proto::reply::Reply;

pub use self::error::{RenderError, RuleError};
pub use self::spec::{ArticleSpec, LookupSpec, OnSlow, ReplySpec, RuleSpec, WebhookSpec};

use crate::actions::chat::{ChatProfile, ChatRef, CompiledChat};
use crate::actions::lookup::{CompiledLookup, LookupOutcome};
use crate::actions::script::CompiledScript;
use crate::actions::webhook::CompiledWebhook;

/// What a `chat` rule without `on_error` answers when the model fails.
pub const DEFAULT_CHAT_ON_ERROR: &str = "抱歉，AI 暂时无法回答，请稍后再试。";
use crate::actions::{ActionCall, Captured, CompiledAction, Resources};

use self::matcher::{Hit, Matcher};
use self::template::{Captures, CompiledReply, GroupNames, ReplyCompiler, Templates, Vars};

/// A validated, compiled list of rules; immutable, `Send + Sync`, meant to sit in an `Arc`
/// and be swapped whole when the config reloads.
pub struct RuleSet {
    rules: Vec<Rule>,
    templates: Templates,
}

/// One compiled rule.
#[derive(Debug)]
struct Rule {
    name: Arc<str>,
    matcher: Matcher,
    reply: RuleReply,
    /// The reply needs the variables (and regex captures).
    has_templates: bool,
    groups: GroupNames,
    on_slow: OnSlow,
    placeholder: Option<String>,
    on_error: Option<String>,
}

/// How a rule answers.
#[derive(Debug)]
enum RuleReply {
    /// A reply rendered from the rule's templates.
    Static(CompiledReply),
    /// A lookup in a table.
    Lookup(CompiledLookup),
    /// A script or a webhook, run by the caller.
    Action(Arc<CompiledAction>),
}

/// What the rules decided for a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No rule matched: answer `success`.
    NoMatch,
    /// A rule matched.
    Matched {
        /// The rule's name.
        rule: Arc<str>,
        /// The rendered reply; `None` answers nothing (`success`): the `none` kind, or a text
        /// template that rendered blank.
        reply: Option<Reply>,
        /// The rule's deadline policy (`retry` when not set).
        on_slow: OnSlow,
        /// The rule's placeholder text, if it sets one.
        placeholder: Option<String>,
        /// The rule's `on_error` text, if it sets one.
        on_error: Option<String>,
    },
    /// A `script` or `webhook` rule matched: the reply needs work; run `call` (once) under the
    /// deadline policy.
    Action {
        /// The rule's name.
        rule: Arc<str>,
        /// The work, with the message it answers.
        call: ActionCall,
        /// The rule's deadline policy (`retry` when not set).
        on_slow: OnSlow,
        /// The rule's placeholder text, if it sets one.
        placeholder: Option<String>,
        /// The rule's `on_error` text (answered when `call` fails), if it sets one.
        on_error: Option<String>,
    },
}

impl RuleSet {
    /// Validate and compile `specs` in order, without tables and with the default `[script]`
    /// settings: [`RuleSet::compile_with`] with [`Resources::default`].
    ///
    /// # Errors
    /// As [`RuleSet::compile_with`].
    pub fn compile(specs: &[RuleSpec], source: &Path) -> Result<Self, RuleError> {
        Self::compile_with(specs, source, &Resources::default())
    }

    /// Validate and compile `specs` in order.
    ///
    /// Checks that names are non-empty and unique, every rule has a matcher (a rule with only
    /// `msg_type` is a catch-all for that type), matchers are non-empty and can match together
    /// (content matchers need text, so they cannot be combined with `event`/`event_key` or a
    /// `msg_type` other than `text`/`voice`), regexes and templates compile, and literal reply
    /// fields the platform requires are present. Dynamic kinds: a `lookup` names a table of
    /// `resources`; a `script` file is read and compiled now (relative to `source`'s
    /// directory; a syntax error names `file:line:col`); a `webhook` URL is checked and its
    /// `secret_env` read now. `source` is the config file.
    ///
    /// # Errors
    /// The first invalid rule, as a [`RuleError`] naming the file, the rule and the field.
    pub fn compile_with(
        specs: &[RuleSpec],
        source: &Path,
        resources: &Resources,
    ) -> Result<Self, RuleError> {
        let base_dir = match source.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut templates = Templates::new();
        let mut rules: Vec<Rule> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let index = i + 1;
            let err = |field: &str, message: String| {
                RuleError::new(source, index, &spec.name, field, message)
            };
            if spec.name.trim().is_empty() {
                return Err(err("name", "must not be empty".to_owned()));
            }
            if let Some(j) = specs[..i].iter().position(|s| s.name == spec.name) {
                return Err(err(
                    "name",
                    format!("rule #{} has the same name; names must be unique", j + 1),
                ));
            }
            let matcher = Matcher::compile(spec, index, source)?;
            let groups = template::group_names(matcher.regex());
            let mut compiler = ReplyCompiler {
                templates: &mut templates,
                file: source,
                index,
                rule: &spec.name,
                groups: &groups,
            };
            let reply = match &spec.reply {
                ReplySpec::Lookup(lookup) => RuleReply::Lookup(CompiledLookup::compile(
                    lookup,
                    &mut compiler,
                    resources.tables(),
                )?),
                ReplySpec::Script(path) => {
                    let script = CompiledScript::compile(
                        path,
                        &base_dir,
                        resources.script(),
                        resources.tables(),
                    )
                    .map_err(|m| err("reply.script", m))?;
                    RuleReply::Action(Arc::new(CompiledAction::Script(Arc::new(script))))
                }
                ReplySpec::Webhook(hook) => {
                    let hook = CompiledWebhook::compile(hook).map_err(|(f, m)| err(f, m))?;
                    RuleReply::Action(Arc::new(CompiledAction::Webhook(hook)))
                }
                ReplySpec::Chat(chat) => {
                    let profile = match chat {
                        ChatRef::Named(name) => resources
                            .chat_profile(name.trim())
                            .cloned()
                            .ok_or_else(|| {
                                let known: Vec<_> = resources.chat_profile_names().collect();
                                err(
                                    "reply.chat",
                                    if known.is_empty() {
                                        format!("names the profile {name:?}, but the config has no [chat.*] section; add [chat.{name}] with model and base_url, or write the profile inline")
                                    } else {
                                        format!("names the profile {name:?}, which is not defined; the [chat.*] profiles are: {}", known.join(", "))
                                    },
                                )
                            })?,
                        ChatRef::Inline(inline) => Arc::new(
                            ChatProfile::compile(&spec.name, inline)
                                .map_err(|e| err(&format!("reply.chat.{}", e.key), e.message))?,
                        ),
                    };
                    let chat = CompiledChat::compile(profile, spec.on_slow.unwrap_or_default())
                        .map_err(|(f, m)| err(f, m))?;
                    RuleReply::Action(Arc::new(CompiledAction::Chat(chat)))
                }
                other => RuleReply::Static(compiler.compile(other)?),
            };
            let text_option = |field: &str, value: &Option<String>, absent: &str| match value {
                Some(v) if v.trim().is_empty() => Err(err(
                    field,
                    format!("must not be empty; remove `{field}` to {absent}"),
                )),
                Some(v) if v.len() > MAX_TEXT_REPLY_BYTES => Err(err(
                    field,
                    format!(
                        "is {} bytes; a text reply carries at most {MAX_TEXT_REPLY_BYTES} bytes of UTF-8",
                        v.len()
                    ),
                )),
                _ => Ok(value.clone()),
            };
            let placeholder =
                text_option("placeholder", &spec.placeholder, "use server.placeholder")?;
            let mut on_error = text_option("on_error", &spec.on_error, "answer nothing on errors")?;
            if matches!(spec.reply, ReplySpec::Chat(_)) && on_error.is_none() {
                // A model that fails should not leave the follower without a word.
                on_error = Some(DEFAULT_CHAT_ON_ERROR.to_owned());
            }
            rules.push(Rule {
                name: Arc::from(spec.name.as_str()),
                has_templates: match &reply {
                    RuleReply::Static(r) => r.has_templates(),
                    RuleReply::Lookup(_) | RuleReply::Action(_) => true,
                },
                matcher,
                reply,
                groups,
                on_slow: spec.on_slow.unwrap_or_default(),
                placeholder,
                on_error,
            });
        }
        Ok(Self { rules, templates })
    }

    /// Number of rules.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules (every message gets `success`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.name)
    }

    /// The script files of `script` rules, resolved, in rule order (a reloader watches them:
    /// the rules are recompiled, so the scripts re-read, when one changes).
    #[must_use]
    pub fn script_files(&self) -> Vec<PathBuf> {
        self.rules
            .iter()
            .filter_map(|r| match &r.reply {
                RuleReply::Action(a) => a.script_path().map(Path::to_path_buf),
                _ => None,
            })
            .collect()
    }

    /// The first rule matching `msg`, with its reply rendered; `now` is unix seconds (the
    /// template variable `now`). A `lookup` rule whose key is not in its table and which has
    /// no `not_found` does not match (the next rule is tried). A `script` or `webhook` rule
    /// gives [`Outcome::Action`].
    ///
    /// # Errors
    /// [`RenderError`] when a template of the matching rule fails for this message; later
    /// rules are not tried.
    pub fn respond(&self, msg: &Inbound, now: i64) -> Result<Outcome, RenderError> {
        for rule in &self.rules {
            let Some(hit) = rule.matcher.test(msg, rule.has_templates) else {
                continue;
            };
            if let RuleReply::Action(action) = &rule.reply {
                let captures = match &hit {
                    Hit::Captures(c) => Captured::from_match(c, &rule.groups),
                    Hit::Plain => Captured::default(),
                };
                return Ok(Outcome::Action {
                    rule: rule.name.clone(),
                    call: ActionCall::new(
                        Arc::new(msg.clone()),
                        captures,
                        rule.name.clone(),
                        now,
                        action.clone(),
                    ),
                    on_slow: rule.on_slow,
                    placeholder: rule.placeholder.clone(),
                    on_error: rule.on_error.clone(),
                });
            }
            let vars = if rule.has_templates {
                let captures = match &hit {
                    Hit::Captures(c) => Captures::from_match(c, &rule.groups),
                    Hit::Plain => Captures::none(&rule.groups),
                };
                Vars::for_message(msg, now, captures)
            } else {
                Value::UNDEFINED
            };
            let reply = match &rule.reply {
                RuleReply::Static(reply) => reply.render(&self.templates, &vars, &rule.name)?,
                RuleReply::Lookup(lookup) => {
                    match lookup.render(&self.templates, &vars, &rule.name)? {
                        LookupOutcome::Answer(reply) => reply,
                        LookupOutcome::NotFound => continue,
                    }
                }
                RuleReply::Action(_) => continue,
            };
            return Ok(Outcome::Matched {
                rule: rule.name.clone(),
                reply,
                on_slow: rule.on_slow,
                placeholder: rule.placeholder.clone(),
                on_error: rule.on_error.clone(),
            });
        }
        Ok(Outcome::NoMatch)
    }
}

impl Default for RuleSet {
    /// No rules: every message gets `success`.
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            templates: Templates::new(),
        }
    }
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn rule_set_is_send_sync() {
        assert_send_sync::<RuleSet>();
        assert_send_sync::<Outcome>();
        assert_send_sync::<RuleError>();
        assert_send_sync::<RenderError>();
    }

    fn rule(name: &str, keyword: &str) -> RuleSpec {
        RuleSpec {
            name: name.into(),
            keyword: Some(keyword.into()),
            reply: ReplySpec::Text("ok".into()),
            ..RuleSpec::default()
        }
    }

    #[test]
    fn duplicate_and_empty_names() {
        let e =
            RuleSet::compile(&[rule("a", "x"), rule("a", "y")], Path::new("w.toml")).unwrap_err();
        assert_eq!((e.index(), e.field()), (2, "name"));
        assert!(e.message().contains("rule #1"), "{e}");
        let e = RuleSet::compile(&[rule(" ", "x")], Path::new("w.toml")).unwrap_err();
        assert_eq!((e.index(), e.field()), (1, "name"));
    }

    #[test]
    fn debug_lists_names_and_default_is_empty() {
        let set = RuleSet::compile(&[rule("a", "x"), rule("b", "y")], Path::new("w")).unwrap();
        assert_eq!(format!("{set:?}"), r#"RuleSet { rules: ["a", "b"] }"#);
        assert!(RuleSet::default().is_empty());
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn placeholder_and_on_error_validated() {
        let mut r = rule("a", "x");
        r.placeholder = Some(String::new());
        let e = RuleSet::compile(&[r], Path::new("w")).unwrap_err();
        assert_eq!(e.field(), "placeholder");
        let mut r = rule("a", "x");
        r.on_error = Some("x".repeat(MAX_TEXT_REPLY_BYTES + 1));
        let e = RuleSet::compile(&[r], Path::new("w")).unwrap_err();
        assert_eq!(e.field(), "on_error");
        assert!(e.message().contains("2048 bytes"), "{e}");
    }

    fn chat_rule(reply: &str) -> Vec<RuleSpec> {
        #[derive(serde::Deserialize)]
        struct Doc {
            rules: Vec<RuleSpec>,
        }
        let text = format!("[[rules]]\nname = \"ai\"\nmsg_type = \"text\"\nreply = {reply}\n");
        toml::from_str::<Doc>(&text).unwrap().rules
    }

    #[test]
    fn chat_rules_name_their_profile_and_default_on_error() {
        let rules = chat_rule(r#"{ chat = "bot" }"#);
        let e = RuleSet::compile(&rules, Path::new("w.toml")).unwrap_err();
        assert_eq!(e.field(), "reply.chat");
        assert!(e.message().contains("add [chat.bot]"), "{e}");

        let rules = chat_rule(r#"{ chat = { model = "m", base_url = "nope" } }"#);
        let e = RuleSet::compile(&rules, Path::new("w.toml")).unwrap_err();
        assert_eq!(e.field(), "reply.chat.base_url");

        let rules = chat_rule(
            r#"{ chat = { model = "m", base_url = "http://127.0.0.1:9/v1", system = "{{ oops" } }"#,
        );
        let e = RuleSet::compile(&rules, Path::new("w.toml")).unwrap_err();
        assert_eq!(e.field(), "reply.chat.system");

        let rules = chat_rule(r#"{ chat = { model = "m", base_url = "http://127.0.0.1:9/v1" } }"#);
        let set = RuleSet::compile(&rules, Path::new("w.toml")).unwrap();
        let msg = probe::text_message("你好");
        match set.respond(&msg, 0).unwrap() {
            Outcome::Action { call, on_error, .. } => {
                assert_eq!(call.kind(), "chat");
                assert_eq!(call.target(), "m at http://127.0.0.1:9/v1/chat/completions");
                assert!(call.partial_output().is_some());
                assert_eq!(on_error.as_deref(), Some(DEFAULT_CHAT_ON_ERROR));
            }
            other => panic!("expected an action, got {other:?}"),
        }
    }

    #[test]
    fn named_chat_profiles_come_from_the_resources() {
        let mut profiles = std::collections::BTreeMap::new();
        profiles.insert(
            "bot".to_owned(),
            crate::actions::chat::ChatSpec {
                model: "m".into(),
                base_url: "http://127.0.0.1:9/v1".into(),
                ..Default::default()
            },
        );
        let resources = Resources::default().with_chat_profiles(&profiles).unwrap();
        let rules = chat_rule(r#"{ chat = "bot" }"#);
        assert!(RuleSet::compile_with(&rules, Path::new("w.toml"), &resources).is_ok());
        let rules = chat_rule(r#"{ chat = "other" }"#);
        let e = RuleSet::compile_with(&rules, Path::new("w.toml"), &resources).unwrap_err();
        assert!(e.message().contains("profiles are: bot"), "{e}");
        profiles.get_mut("bot").unwrap().temperature = Some(9.0);
        let e = Resources::default()
            .with_chat_profiles(&profiles)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("chat.bot.temperature must be between 0 and 2"),
            "{e}"
        );
    }
}
