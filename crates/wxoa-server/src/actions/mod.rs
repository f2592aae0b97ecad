//! Actions: replies that need work when a message arrives (`script`, `webhook`), the lookup
//! tables of the `lookup` kind, and the services they use.
//!
//! # Layout
//! - [`script`]: Rhai scripts, their sandbox and the `[script]` section.
//! - [`lookup`]: `[[tables]]` (CSV) and the `lookup` reply kind.
//! - [`webhook`]: the `webhook` reply kind (signed JSON POST, reply table back).
//! - [`chat`]: the `chat` reply kind (a model behind an OpenAI-compatible API).
//! - [`http`]: the HTTP client, with the scripts' host allow-list.
//! - [`services`]: sessions, later delivery, and their in-memory implementations.
//!
//! # Flow
//! [`RuleSet::respond`](crate::rules::RuleSet::respond) answers `lookup` rules itself (the
//! tables are in memory). For `script`, `webhook` and `chat` rules it returns
//! [`Outcome::Action`](crate::rules::Outcome::Action) with an [`ActionCall`]: everything the
//! work needs, `Send + 'static`, to be run once with [`ActionCall::run`] under the deadline
//! policy.

pub mod chat;
pub mod http;
pub mod lookup;
pub mod script;
pub mod services;
pub mod webhook;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wxoa_proto::message::Inbound;
use wxoa_proto::reply::Reply;

pub use self::http::{HttpClient, HttpError, HttpPolicy};
pub use self::lookup::{Table, TableSpec, Tables};
pub use self::script::{ScriptSettings, ScriptSpec};
pub use self::services::{
    LaterSender, MemoryLaterSender, MemorySessionStore, ServiceError, Services, SessionStore,
};

pub use self::chat::PartialOutput;

use self::chat::{ChatProfile, ChatSpec, CompiledChat};
use self::script::{CompiledScript, ScriptInput};
use self::webhook::CompiledWebhook;
use crate::rules::matcher::message_text;

/// A `[[tables]]` entry or the `[script]` section that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A table does not load.
    #[error("tables[{index}] {name:?}: {message}")]
    Table {
        /// Position in `[[tables]]`, counted from 1.
        index: usize,
        /// The table's name as written.
        name: String,
        /// What is wrong (the file, the line).
        message: String,
    },
    /// A `[chat.NAME]` profile cannot be used.
    #[error("chat.{name}.{}", source)]
    Chat {
        /// The profile's name.
        name: String,
        /// The key and what is wrong.
        #[source]
        source: chat::ProfileError,
    },
    /// A `[script]` key is out of range or malformed.
    #[error("script.{key} {message}")]
    Script {
        /// The key, e.g. `max_operations`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// What rules can refer to besides their own text: the loaded tables and the script settings.
/// Part of the config; reloaded with it.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    tables: Arc<Tables>,
    script: Arc<ScriptSettings>,
    chat: Arc<BTreeMap<String, Arc<ChatProfile>>>,
}

impl Resources {
    /// Load the `[[tables]]` (files relative to `base_dir`) and validate `[script]`.
    ///
    /// # Errors
    /// The first table or setting that cannot be used.
    pub fn load(
        tables: &[TableSpec],
        script: &ScriptSpec,
        base_dir: &Path,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            script: Arc::new(ScriptSettings::from_spec(script)?),
            tables: Arc::new(Tables::load(tables, base_dir)?),
            chat: Arc::default(),
        })
    }

    /// These resources with the `[chat.NAME]` profiles, validated (API keys read now).
    ///
    /// # Errors
    /// The first profile that cannot be used.
    pub fn with_chat_profiles(
        mut self,
        profiles: &BTreeMap<String, ChatSpec>,
    ) -> Result<Self, SetupError> {
        let mut compiled = BTreeMap::new();
        for (name, spec) in profiles {
            let profile = ChatProfile::compile(name, spec).map_err(|source| SetupError::Chat {
                name: name.clone(),
                source,
            })?;
            compiled.insert(name.clone(), Arc::new(profile));
        }
        self.chat = Arc::new(compiled);
        Ok(self)
    }

    /// The `[chat.NAME]` profile called `name`.
    #[must_use]
    pub fn chat_profile(&self, name: &str) -> Option<&Arc<ChatProfile>> {
        self.chat.get(name)
    }

    /// The names of the `[chat.NAME]` profiles.
    pub fn chat_profile_names(&self) -> impl Iterator<Item = &str> {
        self.chat.keys().map(String::as_str)
    }

    /// Resources from loaded parts.
    #[must_use]
    pub fn new(tables: Tables, script: ScriptSettings) -> Self {
        Self {
            tables: Arc::new(tables),
            script: Arc::new(script),
            chat: Arc::default(),
        }
    }

    /// The lookup tables.
    #[must_use]
    pub fn tables(&self) -> &Arc<Tables> {
        &self.tables
    }

    /// The script settings.
    #[must_use]
    pub fn script(&self) -> &Arc<ScriptSettings> {
        &self.script
    }

    /// The files the tables were loaded from (a reloader watches them).
    #[must_use]
    pub fn table_files(&self) -> Vec<PathBuf> {
        self.tables
            .names()
            .filter_map(|n| self.tables.get(n))
            .map(|t| t.file().to_path_buf())
            .collect()
    }
}

/// Something that went wrong while running an action. The deadline policy answers the rule's
/// `on_error` text, or `success`, and logs this.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The script raised an error (a failed function, a type mismatch, `throw`, …).
    #[error("{}:{line}:{col}: script error: {message}", file.display())]
    ScriptRuntime {
        /// The script file.
        file: PathBuf,
        /// Line (from 1; 0 when unknown).
        line: usize,
        /// Column (from 1; 0 when unknown).
        col: usize,
        /// Rhai's explanation.
        message: String,
    },
    /// The script went over a `[script]` limit and was stopped.
    #[error("{}:{line}:{col}: script stopped: over its budget of {limit}", file.display())]
    ScriptBudget {
        /// The script file.
        file: PathBuf,
        /// Where it was stopped (0 when unknown).
        line: usize,
        /// Column (0 when unknown).
        col: usize,
        /// Which limit, with its configured value.
        limit: String,
    },
    /// The script finished, but what it gave is not a reply (or `session` is not a map).
    #[error("{}: {message}", file.display())]
    ScriptResult {
        /// The script file.
        file: PathBuf,
        /// What is wrong with the value.
        message: String,
    },
    /// An HTTP call of the script failed and the script did not catch it.
    #[error("{}:{line}:{col}: {source}", file.display())]
    Http {
        /// The script file.
        file: PathBuf,
        /// Line of the call.
        line: usize,
        /// Column of the call.
        col: usize,
        /// What failed (host not allowed, timeout, status, …).
        #[source]
        source: HttpError,
    },
    /// The webhook answered a status other than 200 or 204.
    #[error("webhook {url} answered HTTP {status} (expected 200 with a reply or 204){}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    WebhookStatus {
        /// The URL (query hidden).
        url: String,
        /// The status.
        status: u16,
        /// The start of the body, for the log.
        body: String,
    },
    /// The webhook did not answer within its `timeout_ms`.
    #[error("webhook {url} did not answer within {timeout_ms} ms")]
    WebhookTimeout {
        /// The URL (query hidden).
        url: String,
        /// The rule's timeout.
        timeout_ms: u64,
    },
    /// The webhook answered 200 with a body that is not a reply table.
    #[error("webhook {url} answered 200 with a body that is not a reply: {reason}")]
    WebhookBadReply {
        /// The URL (query hidden).
        url: String,
        /// Why (JSON error with its position, unknown kind, empty field, …).
        reason: String,
    },
    /// The webhook could not be reached (DNS, connection refused, TLS, …).
    #[error("webhook {url} could not be reached: {reason}")]
    WebhookTransport {
        /// The URL (query hidden).
        url: String,
        /// Why.
        reason: String,
    },
    /// The chat model gave no answer.
    #[error("chat profile {profile:?}: {source}")]
    Chat {
        /// The profile's name.
        profile: String,
        /// What went wrong.
        #[source]
        source: chat::ChatError,
    },
    /// The follower's session could not be loaded or saved.
    #[error("session: {0}")]
    Session(#[source] ServiceError),
    /// The action panicked (a bug); the message is the panic's.
    #[error("{kind} action of rule {rule:?} panicked: {message}")]
    Panicked {
        /// The rule.
        rule: String,
        /// `script` or `webhook`.
        kind: &'static str,
        /// The panic message.
        message: String,
    },
}

/// The regex groups of a match: by index (0 = the whole match; a group that did not take
/// part is empty) and the named ones by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub(crate) groups: Vec<String>,
    pub(crate) named: Vec<(String, String)>,
}

impl Captured {
    /// The groups of `caps`; `names` are the regex's group names by index.
    pub(crate) fn from_match(caps: &regex::Captures<'_>, names: &[Option<Box<str>>]) -> Self {
        let groups: Vec<String> = caps
            .iter()
            .map(|m| m.map_or_else(String::new, |m| m.as_str().to_owned()))
            .collect();
        let named = names
            .iter()
            .zip(&groups)
            .filter_map(|(n, g)| n.as_ref().map(|n| (n.to_string(), g.clone())))
            .collect();
        Self { groups, named }
    }

    /// The groups by index.
    #[must_use]
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The named groups, `(name, value)` in pattern order.
    #[must_use]
    pub fn named(&self) -> &[(String, String)] {
        &self.named
    }
}

/// The message fields scripts see as variables (absent fields are empty strings).
#[derive(Debug, Clone)]
pub(crate) struct MessageFields {
    pub(crate) content: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) create_time: i64,
    pub(crate) msg_type: String,
    pub(crate) event: String,
    pub(crate) event_key: String,
    pub(crate) media_id: String,
}

impl MessageFields {
    fn of(msg: &Inbound) -> Self {
        let s = |v: Option<&str>| v.unwrap_or("").to_owned();
        Self {
            content: s(message_text(msg)),
            from: msg.from_user_name.clone(),
            to: msg.to_user_name.clone(),
            create_time: msg.create_time,
            msg_type: msg.msg_type.clone(),
            event: s(msg.event_name()),
            event_key: s(msg.event_key()),
            media_id: s(msg.media_id()),
        }
    }
}

/// A compiled action of a rule.
#[derive(Debug)]
pub(crate) enum CompiledAction {
    /// `script`.
    Script(Arc<CompiledScript>),
    /// `webhook`.
    Webhook(CompiledWebhook),
    /// `chat`.
    Chat(CompiledChat),
}

impl CompiledAction {
    fn kind(&self) -> &'static str {
        match self {
            Self::Script(_) => "script",
            Self::Webhook(_) => "webhook",
            Self::Chat(_) => "chat",
        }
    }

    /// The script file, for a script.
    pub(crate) fn script_path(&self) -> Option<&Path> {
        match self {
            Self::Script(s) => Some(s.path()),
            Self::Webhook(_) | Self::Chat(_) => None,
        }
    }
}

/// One pending action: a matched rule's script or webhook with the message it answers.
/// `Send + 'static`; run it once with [`ActionCall::run`].
#[derive(Clone)]
pub struct ActionCall {
    inbound: Arc<Inbound>,
    captures: Captured,
    rule: Arc<str>,
    now: i64,
    action: Arc<CompiledAction>,
    partial: Option<PartialOutput>,
}

impl ActionCall {
    pub(crate) fn new(
        inbound: Arc<Inbound>,
        captures: Captured,
        rule: Arc<str>,
        now: i64,
        action: Arc<CompiledAction>,
    ) -> Self {
        let partial = match &*action {
            CompiledAction::Chat(chat) => Some(chat.new_partial()),
            _ => None,
        };
        Self {
            inbound,
            captures,
            rule,
            now,
            action,
            partial,
        }
    }

    /// The answer as it streams, for actions that stream (`chat`): the deadline logic reads
    /// it to show what is ready at the platform's last attempt.
    #[must_use]
    pub fn partial_output(&self) -> Option<PartialOutput> {
        self.partial.clone()
    }

    /// `script`, `webhook` or `chat`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.action.kind()
    }

    /// The rule's name.
    #[must_use]
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The message being answered.
    #[must_use]
    pub fn inbound(&self) -> &Inbound {
        &self.inbound
    }

    /// The regex groups of the match.
    #[must_use]
    pub fn captures(&self) -> &Captured {
        &self.captures
    }

    /// Unix seconds when the message was routed (the `now` of scripts, the webhook timestamp).
    #[must_use]
    pub fn now(&self) -> i64 {
        self.now
    }

    /// What runs: the script file, or the webhook URL (query hidden).
    #[must_use]
    pub fn target(&self) -> String {
        match &*self.action {
            CompiledAction::Script(s) => s.path().display().to_string(),
            CompiledAction::Webhook(w) => w.shown_url(),
            CompiledAction::Chat(c) => {
                format!(
                    "{} at {}",
                    c.profile().model(),
                    c.profile().shown_endpoint()
                )
            }
        }
    }

    /// Do the work and give the reply (`None` answers nothing).
    ///
    /// A script runs on a blocking thread (its HTTP calls wait on the current runtime); its
    /// session is loaded before and saved after when it changed; its `send_later` replies go
    /// to [`Services::later`] after it succeeds, in order (a failure there is logged, the
    /// reply still stands). Must be called within a Tokio runtime.
    ///
    /// # Errors
    /// An [`ActionError`] saying what failed; the caller answers the rule's `on_error`.
    pub async fn run(self, services: &Services) -> Result<Option<Reply>, ActionError> {
        match &*self.action {
            CompiledAction::Webhook(hook) => {
                hook.call(
                    &services.http,
                    &self.inbound,
                    &self.captures,
                    &self.rule,
                    self.now,
                )
                .await
            }
            CompiledAction::Script(script) => self.run_script(script.clone(), services).await,
            CompiledAction::Chat(chat) => {
                let partial = self.partial.clone().unwrap_or_default();
                chat.run(&self.inbound, &self.captures, self.now, &partial, services)
                    .await
            }
        }
    }

    async fn run_script(
        &self,
        script: Arc<CompiledScript>,
        services: &Services,
    ) -> Result<Option<Reply>, ActionError> {
        let openid = self.inbound.from_user_name.as_str();
        let session = if script.uses_session() {
            Some(
                services
                    .sessions
                    .load(openid)
                    .await
                    .map_err(ActionError::Session)?,
            )
        } else {
            None
        };
        let input = ScriptInput {
            script,
            rule: self.rule.clone(),
            fields: MessageFields::of(&self.inbound),
            captures: self.captures.clone(),
            now: self.now,
            session,
            http: services.http.clone(),
            handle: tokio::runtime::Handle::current(),
        };
        let output = tokio::task::spawn_blocking(move || script::run_blocking(input))
            .await
            .map_err(|e| ActionError::Panicked {
                rule: self.rule.to_string(),
                kind: "script",
                message: panic_message(e),
            })??;
        if let Some(session) = &output.session {
            services
                .sessions
                .save(openid, session)
                .await
                .map_err(ActionError::Session)?;
        }
        for reply in output.later {
            if let Err(e) = services.later.send_later(openid, reply).await {
                tracing::warn!(rule = %self.rule, error = %e, "send_later: could not deliver");
            }
        }
        Ok(output.reply)
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned()),
        Err(e) => e.to_string(),
    }
}

impl PartialEq for ActionCall {
    /// The same compiled action for the same message, captures and time.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.action, &other.action)
            && self.rule == other.rule
            && self.now == other.now
            && self.captures == other.captures
            && self.inbound == other.inbound
    }
}

impl fmt::Debug for ActionCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionCall")
            .field("rule", &self.rule)
            .field("kind", &self.kind())
            .field("target", &self.target())
            .field("from", &self.inbound.from_user_name)
            .field("now", &self.now)
            .field("captures", &self.captures.groups)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_static<T: Send + Sync + 'static>() {}

    #[test]
    fn calls_and_errors_are_send() {
        assert_send_static::<ActionCall>();
        assert_send_static::<ActionError>();
        assert_send_static::<Services>();
        assert_send_static::<Resources>();
    }

    #[test]
    fn captured_from_match_names_groups() {
        let re = regex::Regex::new(r"^(?<cmd>\w+)(\d)?(?<n>\d*)$").unwrap();
        let names: Vec<Option<Box<str>>> = re.capture_names().map(|n| n.map(Box::from)).collect();
        let caps = re.captures("abc").unwrap();
        let c = Captured::from_match(&caps, &names);
        assert_eq!(c.groups(), ["abc", "abc", "", ""]);
        assert_eq!(
            c.named(),
            [
                ("cmd".to_owned(), "abc".to_owned()),
                ("n".to_owned(), String::new())
            ]
        );
    }

    #[test]
    fn error_messages_name_file_line_and_limit() {
        let e = ActionError::ScriptBudget {
            file: "scripts/a.rhai".into(),
            line: 3,
            col: 5,
            limit: "1000 operations (max_operations)".into(),
        };
        assert_eq!(
            e.to_string(),
            "scripts/a.rhai:3:5: script stopped: over its budget of 1000 operations (max_operations)"
        );
        let e = ActionError::WebhookStatus {
            url: "https://b/x".into(),
            status: 500,
            body: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "webhook https://b/x answered HTTP 500 (expected 200 with a reply or 204)"
        );
    }
}
