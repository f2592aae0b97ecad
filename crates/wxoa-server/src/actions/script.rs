//! The `script` reply kind: Rhai scripts compiled with the rules and run sandboxed on a
//! blocking thread, with the `[script]` limits, helpers that build replies, and access to
//! lookup tables, the follower's session, allow-listed HTTP and later delivery.
//!
//! # What a script sees
//! Variables: `content`, `from`, `to`, `create_time`, `msg_type`, `event`, `event_key`,
//! `media_id`, `now` (as in templates), `captures` (array: 0 = whole match), `named` (map of
//! named groups), `rule`, `vars` (`[script.vars]`) and `session` (this follower's map: read
//! it, assign into it; saved after the run when it changed). Undeclared variables are a
//! compile error.
//!
//! Functions: `text(s)`, `news([#{title, description, pic_url, url}, …])` (or one map),
//! `image(id)`, `voice(id)`, `video(#{media_id, title, description})`,
//! `music(#{title, description, music_url, hq_music_url, thumb_media_id})`,
//! `transfer_kf(account)` / `transfer_kf()`, `no_reply()`; `random(lo, hi)` (inclusive),
//! `sample(lo, hi, n)` (n distinct, sorted), `now()`, `lookup(table, key)` (the row as a map,
//! or `()`), `rows(table)` (every row), `http_get(url)` and `http_post_json(url, value)`
//! (JSON answers parsed, others as text; failures are errors a script may `try`/`catch`),
//! `send_later(reply)` (delivered after the run succeeds), `print`/`debug` (to the log).
//!
//! The value of the script is the reply: `()` or a blank string answers nothing, a string is
//! a text, a map is a reply table as in the config (`#{ text: "hi" }`), used verbatim.
//!
//! # Sandbox
//! No module imports and no `eval`; Rhai itself has no file, process or network access, and
//! only the functions registered here reach outside. Operations, string sizes, array and map
//! sizes (checked when a value passes through a function or an operator; the operations
//! budget bounds growth in between) and call depth are limited; a script over budget is
//! stopped and logged. HTTP calls count against `max_http_calls` and each waits at most
//! `http_timeout_ms`; redirects are followed only to allowed hosts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rand::Rng as _;
use rhai::packages::{Package as _, StandardPackage};
use rhai::{
    AST, Array, Dynamic, Engine, EvalAltResult, INT, ImmutableString, Map, Position, Scope,
};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use wxoa_proto::reply::Reply;

use super::http::{Fetched, HttpClient, HttpError, HttpPolicy};
use super::lookup::Tables;
use super::{ActionError, Captured, MessageFields, SetupError};
use crate::rules::literal::literal_reply;
use crate::rules::spec::ReplySpec;

/// The `[script]` section as written; every key has a default.
///
/// ```toml
/// [script]
/// http_allow = ["api.example.com", "*.example.org"]   # hosts scripts may call (none by default)
/// http_timeout_ms = 3000        # one HTTP call, redirects and body included (100–60000)
/// max_http_calls = 5            # HTTP calls per run (0–100)
/// max_operations = 1000000      # Rhai operations per run (1000–1000000000)
/// max_string_bytes = 65536      # longest string, also the largest HTTP body (1024–16777216)
/// max_array_len = 10000         # longest array (16–1000000)
/// max_map_len = 10000           # largest map (16–1000000)
/// max_call_depth = 32           # nested function calls (4–256)
/// max_session_bytes = 16384     # a follower's session as JSON (256–1048576)
/// max_send_later = 5            # send_later calls per run (0–20)
///
/// [script.vars]                 # the map `vars` in every script (env: WXOA_SCRIPT__VARS__KEY)
/// joke_url = "https://api.example.com/joke"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptSpec {
    /// Hosts scripts may call: `api.example.com`, `*.example.com` (subdomains), `host:port`.
    pub http_allow: Vec<String>,
    /// Timeout of one HTTP call, in milliseconds.
    pub http_timeout_ms: u64,
    /// HTTP calls one run may make.
    pub max_http_calls: u32,
    /// Rhai operations one run may take.
    pub max_operations: u64,
    /// Longest string, in bytes (also the largest HTTP body a script may receive).
    pub max_string_bytes: usize,
    /// Longest array.
    pub max_array_len: usize,
    /// Largest map.
    pub max_map_len: usize,
    /// Deepest nesting of function calls.
    pub max_call_depth: usize,
    /// Largest session, as JSON bytes.
    pub max_session_bytes: usize,
    /// `send_later` calls one run may make.
    pub max_send_later: u32,
    /// Values every script sees in the map `vars` (URLs, texts, switches).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub vars: serde_json::Map<String, serde_json::Value>,
}

impl Default for ScriptSpec {
    fn default() -> Self {
        Self {
            http_allow: Vec::new(),
            http_timeout_ms: 3000,
            max_http_calls: 5,
            max_operations: 1_000_000,
            max_string_bytes: 64 * 1024,
            max_array_len: 10_000,
            max_map_len: 10_000,
            max_call_depth: 32,
            max_session_bytes: 16 * 1024,
            max_send_later: 5,
            vars: serde_json::Map::new(),
        }
    }
}

/// The `[script]` section, validated.
#[derive(Debug, Clone)]
pub struct ScriptSettings {
    http: HttpPolicy,
    max_operations: u64,
    max_string_bytes: usize,
    max_array_len: usize,
    max_map_len: usize,
    max_call_depth: usize,
    max_session_bytes: usize,
    max_send_later: u32,
    /// `[script.vars]` as a Rhai map.
    vars: Dynamic,
}

impl Default for ScriptSettings {
    fn default() -> Self {
        let d = ScriptSpec::default();
        Self {
            http: HttpPolicy::new(
                &[],
                Duration::from_millis(d.http_timeout_ms),
                d.max_string_bytes,
                d.max_http_calls,
            )
            .unwrap_or_default(),
            max_operations: d.max_operations,
            max_string_bytes: d.max_string_bytes,
            max_array_len: d.max_array_len,
            max_map_len: d.max_map_len,
            max_call_depth: d.max_call_depth,
            max_session_bytes: d.max_session_bytes,
            max_send_later: d.max_send_later,
            vars: Dynamic::from_map(Map::new()),
        }
    }
}

impl ScriptSettings {
    /// Validate `spec`.
    ///
    /// # Errors
    /// [`SetupError::Script`] naming the key that is out of range or the allow-list entry that
    /// is not a host.
    pub fn from_spec(spec: &ScriptSpec) -> Result<Self, SetupError> {
        fn range<T: PartialOrd + std::fmt::Display + Copy>(
            key: &'static str,
            value: T,
            lo: T,
            hi: T,
        ) -> Result<T, SetupError> {
            if value < lo || value > hi {
                return Err(SetupError::Script {
                    key,
                    message: format!("must be between {lo} and {hi}, got {value}"),
                });
            }
            Ok(value)
        }
        let timeout = range("http_timeout_ms", spec.http_timeout_ms, 100, 60_000)?;
        let calls = range("max_http_calls", spec.max_http_calls, 0, 100)?;
        let strings = range("max_string_bytes", spec.max_string_bytes, 1024, 16 << 20)?;
        let http = HttpPolicy::new(
            &spec.http_allow,
            Duration::from_millis(timeout),
            strings,
            calls,
        )
        .map_err(|message| SetupError::Script {
            key: "http_allow",
            message,
        })?;
        let vars = rhai::serde::to_dynamic(&spec.vars).map_err(|e| SetupError::Script {
            key: "vars",
            message: format!("cannot be given to scripts: {e}"),
        })?;
        Ok(Self {
            vars,
            http,
            max_operations: range("max_operations", spec.max_operations, 1000, 1_000_000_000)?,
            max_string_bytes: strings,
            max_array_len: range("max_array_len", spec.max_array_len, 16, 1_000_000)?,
            max_map_len: range("max_map_len", spec.max_map_len, 16, 1_000_000)?,
            max_call_depth: range("max_call_depth", spec.max_call_depth, 4, 256)?,
            max_session_bytes: range("max_session_bytes", spec.max_session_bytes, 256, 1 << 20)?,
            max_send_later: range("max_send_later", spec.max_send_later, 0, 20)?,
        })
    }

    /// The HTTP policy of scripts.
    #[must_use]
    pub fn http(&self) -> &HttpPolicy {
        &self.http
    }

    /// Operations one run may take.
    #[must_use]
    pub fn max_operations(&self) -> u64 {
        self.max_operations
    }

    fn engine(&self) -> Engine {
        let mut engine = Engine::new_raw();
        engine.register_global_module(standard_package());
        // No `import` (the default resolver reads files) and no `eval`.
        engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
        engine.disable_symbol("import");
        engine.disable_symbol("eval");
        engine.set_max_operations(self.max_operations);
        engine.set_max_string_size(self.max_string_bytes);
        engine.set_max_array_size(self.max_array_len);
        engine.set_max_map_size(self.max_map_len);
        engine.set_max_call_levels(self.max_call_depth);
        engine.set_max_expr_depths(64, 32);
        engine.set_max_variables(10_000);
        engine.set_max_functions(1_000);
        engine.set_strict_variables(true);
        engine
    }
}

fn standard_package() -> rhai::Shared<rhai::Module> {
    static PACKAGE: OnceLock<rhai::Shared<rhai::Module>> = OnceLock::new();
    PACKAGE
        .get_or_init(|| StandardPackage::new().as_shared_module())
        .clone()
}

/// The variables a script sees besides the functions.
const SCRIPT_VARS: &[&str] = &[
    "content",
    "from",
    "to",
    "create_time",
    "msg_type",
    "event",
    "event_key",
    "media_id",
    "now",
    "captures",
    "named",
    "rule",
    "vars",
    "session",
];

/// A script compiled with the rules.
#[derive(Debug)]
pub(crate) struct CompiledScript {
    /// The file, resolved against the config's directory.
    path: PathBuf,
    ast: AST,
    /// The script mentions `session`: load it before, save it after.
    uses_session: bool,
    settings: Arc<ScriptSettings>,
    tables: Arc<Tables>,
}

impl CompiledScript {
    /// Read and compile `written` (relative to `base_dir`). The error is the message of a
    /// rule error: the file, and for a syntax error `file:line:col: what`.
    pub(crate) fn compile(
        written: &str,
        base_dir: &Path,
        settings: &Arc<ScriptSettings>,
        tables: &Arc<Tables>,
    ) -> Result<Self, String> {
        if written.trim().is_empty() {
            return Err("must name a Rhai script file, e.g. \"scripts/reply.rhai\"".to_owned());
        }
        let path = base_dir.join(written);
        let source = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let engine = settings.engine();
        let mut scope = Scope::new();
        for name in SCRIPT_VARS {
            scope.push_dynamic(*name, Dynamic::UNIT);
        }
        let ast = engine.compile_with_scope(&scope, &source).map_err(|e| {
            let (line, col) = line_col(e.position());
            format!(
                "{}:{line}:{col}: syntax error: {}",
                path.display(),
                e.err_type()
            )
        })?;
        Ok(Self {
            path,
            uses_session: source.contains("session"),
            ast,
            settings: settings.clone(),
            tables: tables.clone(),
        })
    }

    /// The script file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether runs need the follower's session.
    pub(crate) fn uses_session(&self) -> bool {
        self.uses_session
    }
}

fn line_col(pos: Position) -> (usize, usize) {
    (pos.line().unwrap_or(0), pos.position().unwrap_or(0))
}

/// Everything one run needs, moved onto the blocking thread.
pub(crate) struct ScriptInput {
    pub(crate) script: Arc<CompiledScript>,
    pub(crate) rule: Arc<str>,
    pub(crate) fields: MessageFields,
    pub(crate) captures: Captured,
    pub(crate) now: i64,
    /// The loaded session, when the script uses it.
    pub(crate) session: Option<serde_json::Map<String, serde_json::Value>>,
    pub(crate) http: HttpClient,
    pub(crate) handle: Handle,
}

/// What a run produced.
#[derive(Debug)]
pub(crate) struct ScriptOutput {
    pub(crate) reply: Option<Reply>,
    /// The session after the run, when it changed.
    pub(crate) session: Option<serde_json::Map<String, serde_json::Value>>,
    /// Replies given to `send_later`, in order.
    pub(crate) later: Vec<Reply>,
}

/// State shared by the functions of one run.
struct RunState {
    http: HttpClient,
    policy: HttpPolicy,
    handle: Handle,
    http_calls: AtomicU32,
    /// HTTP failures raised into the script, to tell them apart if uncaught.
    http_errors: Mutex<Vec<(String, HttpError)>>,
    later: Mutex<Vec<Reply>>,
    max_send_later: u32,
}

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

impl RunState {
    fn http(&self, url: &str, body: Option<Vec<u8>>) -> RhaiResult<Dynamic> {
        let n = self.http_calls.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.policy.max_calls() {
            return Err(self.http_fail(HttpError::TooManyCalls {
                limit: self.policy.max_calls(),
            }));
        }
        match self
            .handle
            .block_on(self.http.fetch(&self.policy, url, body))
        {
            Ok(fetched) => Ok(body_value(&fetched)),
            Err(e) => Err(self.http_fail(e)),
        }
    }

    fn http_fail(&self, e: HttpError) -> Box<EvalAltResult> {
        let message = e.to_string();
        self.http_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((message.clone(), e));
        message.into()
    }

    fn send_later(&self, value: &Dynamic) -> RhaiResult<()> {
        let reply = reply_from_dynamic(value).map_err(|m| format!("send_later: {m}"))?;
        let Some(reply) = reply else {
            return Ok(());
        };
        let mut later = self.later.lock().unwrap_or_else(PoisonError::into_inner);
        if later.len() >= usize::try_from(self.max_send_later).unwrap_or(usize::MAX) {
            return Err(format!(
                "send_later: more than {} calls in one run; raise `max_send_later` in [script]",
                self.max_send_later
            )
            .into());
        }
        later.push(reply);
        Ok(())
    }
}

/// An HTTP body for the script: parsed JSON when it is JSON, else the text.
fn body_value(fetched: &Fetched) -> Dynamic {
    let text = String::from_utf8_lossy(&fetched.body);
    let looks_json = fetched.is_json() || {
        let t = text.trim_start();
        t.starts_with('{') || t.starts_with('[')
    };
    if looks_json
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
        && let Ok(value) = rhai::serde::to_dynamic(json)
    {
        return value;
    }
    Dynamic::from(text.into_owned())
}

/// Row `row` of `table` as a map of its columns.
fn row_map(table: &super::lookup::Table, row: usize) -> Map {
    table
        .columns()
        .iter()
        .zip(table.values(row))
        .map(|(c, v)| (c.as_str().into(), Dynamic::from(v.clone())))
        .collect()
}

fn map1(key: &str, value: impl Into<Dynamic>) -> Map {
    let mut m = Map::new();
    m.insert(key.into(), value.into());
    m
}

fn strings(values: impl IntoIterator<Item = impl Into<ImmutableString>>) -> Array {
    values
        .into_iter()
        .map(|v| Dynamic::from(v.into()))
        .collect()
}

/// The reply a script's value stands for: `()` nothing, a string text, a map a reply table.
fn reply_from_dynamic(value: &Dynamic) -> Result<Option<Reply>, String> {
    if value.is_unit() {
        return Ok(None);
    }
    if value.is_string() {
        let text = value.clone().into_string().unwrap_or_default();
        return literal_reply(ReplySpec::Text(text));
    }
    if value.is_map() {
        let spec: ReplySpec = rhai::serde::from_dynamic(value).map_err(|e| {
            let mut e = *e;
            e.clear_position();
            format!("the map is not a reply: {}", strip_runtime(&e.to_string()))
        })?;
        return literal_reply(spec);
    }
    Err(format!(
        "a value of type {} is not a reply; give a string (text) or a reply made with \
         text(), news(), image(), voice(), video(), music(), transfer_kf() or no_reply()",
        value.type_name()
    ))
}

fn strip_runtime(s: &str) -> &str {
    s.strip_prefix("Runtime error: ").unwrap_or(s)
}

/// Register the reply helpers and the pure functions.
fn register_helpers(engine: &mut Engine, now: i64, max_array: usize) {
    engine.register_fn("text", |s: ImmutableString| map1("text", s));
    engine.register_fn("news", |a: Array| map1("news", a));
    engine.register_fn("news", |m: Map| map1("news", vec![Dynamic::from_map(m)]));
    engine.register_fn("image", |s: ImmutableString| map1("image", s));
    engine.register_fn("voice", |s: ImmutableString| map1("voice", s));
    engine.register_fn("video", |m: Map| map1("video", m));
    engine.register_fn("music", |m: Map| map1("music", m));
    engine.register_fn("transfer_kf", |s: ImmutableString| map1("transfer_kf", s));
    engine.register_fn("transfer_kf", || map1("transfer_kf", ""));
    engine.register_fn("no_reply", || map1("none", true));
    engine.register_fn("now", move || -> INT { now });
    engine.register_fn("random", |lo: INT, hi: INT| -> RhaiResult<INT> {
        if lo > hi {
            return Err(format!("random({lo}, {hi}): the low end is above the high end").into());
        }
        Ok(rand::rng().random_range(lo..=hi))
    });
    engine.register_fn(
        "sample",
        move |lo: INT, hi: INT, n: INT| -> RhaiResult<Array> { sample(lo, hi, n, max_array) },
    );
}

/// `n` distinct numbers from `lo..=hi`, sorted.
fn sample(lo: INT, hi: INT, n: INT, max_array: usize) -> RhaiResult<Array> {
    let call = || format!("sample({lo}, {hi}, {n})");
    if lo > hi {
        return Err(format!("{}: the low end is above the high end", call()).into());
    }
    let span = u64::try_from(i128::from(hi) - i128::from(lo) + 1)
        .ok()
        .and_then(|s| usize::try_from(s).ok())
        .ok_or_else(|| format!("{}: the range is too large", call()))?;
    let count = usize::try_from(n).map_err(|_| format!("{}: the count is negative", call()))?;
    if count > span {
        return Err(format!(
            "{}: cannot draw {count} distinct numbers from {span}",
            call()
        )
        .into());
    }
    if count > max_array {
        return Err(format!("{}: more than max_array_len numbers", call()).into());
    }
    let mut picked: Vec<INT> = rand::seq::index::sample(&mut rand::rng(), span, count)
        .into_iter()
        .map(|i| lo + INT::try_from(i).unwrap_or(0))
        .collect();
    picked.sort_unstable();
    Ok(picked.into_iter().map(Dynamic::from).collect())
}

/// Run a script to its end (on a blocking thread: Rhai is synchronous, and HTTP calls wait
/// on the runtime through `input.handle`).
pub(crate) fn run_blocking(input: ScriptInput) -> Result<ScriptOutput, ActionError> {
    let ScriptInput {
        script,
        rule,
        fields,
        captures,
        now,
        session,
        http,
        handle,
    } = input;
    let settings = &script.settings;
    let mut engine = settings.engine();
    let state = Arc::new(RunState {
        http,
        policy: settings.http.clone(),
        handle,
        http_calls: AtomicU32::new(0),
        http_errors: Mutex::new(Vec::new()),
        later: Mutex::new(Vec::new()),
        max_send_later: settings.max_send_later,
    });
    {
        let (rule, file) = (rule.clone(), script.path.display().to_string());
        engine.on_print(move |s| tracing::info!(rule = %rule, script = %file, "script print: {s}"));
    }
    {
        let (rule, file) = (rule.clone(), script.path.display().to_string());
        engine.on_debug(move |s, _, pos| {
            let (line, col) = line_col(pos);
            tracing::debug!(rule = %rule, script = %file, line, col, "script debug: {s}");
        });
    }
    register_helpers(&mut engine, now, settings.max_array_len);
    {
        let tables = script.tables.clone();
        engine.register_fn(
            "lookup",
            move |table: &str, key: &str| -> RhaiResult<Dynamic> {
                let Some(t) = tables.get(table) else {
                    return Err(format!(
                        "lookup: no table named `{table}` (tables: {})",
                        tables.name_list()
                    )
                    .into());
                };
                Ok(match t.find_index(key) {
                    Some(row) => Dynamic::from_map(row_map(t, row)),
                    None => Dynamic::UNIT,
                })
            },
        );
    }
    {
        let tables = script.tables.clone();
        engine.register_fn("rows", move |table: &str| -> RhaiResult<Array> {
            let Some(t) = tables.get(table) else {
                return Err(format!(
                    "rows: no table named `{table}` (tables: {})",
                    tables.name_list()
                )
                .into());
            };
            Ok((0..t.len())
                .map(|row| Dynamic::from_map(row_map(t, row)))
                .collect())
        });
    }
    {
        let s = state.clone();
        engine.register_fn("http_get", move |url: &str| s.http(url, None));
        let s = state.clone();
        engine.register_fn(
            "http_post_json",
            move |url: &str, value: Dynamic| -> RhaiResult<Dynamic> {
                let body = serde_json::to_vec(&value)
                    .map_err(|e| format!("http_post_json: the value is not JSON: {e}"))?;
                s.http(url, Some(body))
            },
        );
        let s = state.clone();
        engine.register_fn("send_later", move |reply: Dynamic| s.send_later(&reply));
    }

    let before = session.map(serde_json::Value::Object);
    let mut scope = Scope::new();
    let MessageFields {
        content,
        from,
        to,
        create_time,
        msg_type,
        event,
        event_key,
        media_id,
    } = fields;
    scope.push("content", content);
    scope.push("from", from);
    scope.push("to", to);
    scope.push("create_time", create_time);
    scope.push("msg_type", msg_type);
    scope.push("event", event);
    scope.push("event_key", event_key);
    scope.push("media_id", media_id);
    scope.push("now", now);
    scope.push(
        "captures",
        strings(captures.groups.iter().map(String::as_str)),
    );
    let mut named = Map::new();
    for (k, v) in &captures.named {
        named.insert(k.as_str().into(), Dynamic::from(v.clone()));
    }
    scope.push("named", named);
    scope.push("rule", rule.to_string());
    scope.push_dynamic("vars", settings.vars.clone());
    let session_value = match &before {
        Some(v) => rhai::serde::to_dynamic(v).unwrap_or_else(|_| Dynamic::from_map(Map::new())),
        None => Dynamic::from_map(Map::new()),
    };
    scope.push_dynamic("session", session_value);

    let result = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &script.ast);
    let value = match result {
        Ok(v) => v,
        Err(e) => return Err(eval_error(*e, &script, &rule, &state)),
    };
    let reply = reply_from_dynamic(&value).map_err(|message| ActionError::ScriptResult {
        file: script.path.clone(),
        message,
    })?;
    let session = match before {
        Some(before) => {
            let after = scope
                .get_value::<Dynamic>("session")
                .unwrap_or(Dynamic::UNIT);
            session_after(&after, &before, &script)?
        }
        None => None,
    };
    let later = std::mem::take(&mut *state.later.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(ScriptOutput {
        reply,
        session,
        later,
    })
}

/// The session to save: `None` when unchanged.
fn session_after(
    after: &Dynamic,
    before: &serde_json::Value,
    script: &CompiledScript,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, ActionError> {
    let not_a_map = |what: String| ActionError::ScriptResult {
        file: script.path.clone(),
        message: format!("`session` must stay a map; it {what}"),
    };
    let value = if after.is_unit() {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        serde_json::to_value(after)
            .map_err(|e| not_a_map(format!("cannot be stored as JSON: {e}")))?
    };
    if &value == before {
        return Ok(None);
    }
    let serde_json::Value::Object(map) = value else {
        return Err(not_a_map(format!("became a {}", after.type_name())));
    };
    let bytes = serde_json::to_vec(&map).map_or(usize::MAX, |b| b.len());
    if bytes > script.settings.max_session_bytes {
        return Err(ActionError::ScriptBudget {
            file: script.path.clone(),
            line: 0,
            col: 0,
            limit: format!(
                "a session of {} bytes (max_session_bytes; this one has {bytes})",
                script.settings.max_session_bytes
            ),
        });
    }
    Ok(Some(map))
}

/// The innermost error of a chain of function calls, with the best position.
fn innermost(mut e: EvalAltResult) -> (EvalAltResult, Position) {
    let mut pos = e.position();
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(_, _, inner, p)
            | EvalAltResult::ErrorInModule(_, inner, p) => {
                if !p.is_none() {
                    pos = p;
                }
                e = *inner;
                if !e.position().is_none() {
                    pos = e.position();
                }
            }
            other => return (other, pos),
        }
    }
}

fn eval_error(
    e: EvalAltResult,
    script: &CompiledScript,
    rule: &str,
    state: &RunState,
) -> ActionError {
    let (mut e, pos) = innermost(e);
    let (line, col) = line_col(pos);
    let file = script.path.clone();
    let s = &script.settings;
    let limit = match &e {
        EvalAltResult::ErrorTooManyOperations(_) => {
            Some(format!("{} operations (max_operations)", s.max_operations))
        }
        EvalAltResult::ErrorStackOverflow(_) => Some(format!(
            "{} nested calls (max_call_depth)",
            s.max_call_depth
        )),
        EvalAltResult::ErrorDataTooLarge(what, _) => Some(format!(
            "data size: {what} (max_string_bytes {}, max_array_len {}, max_map_len {})",
            s.max_string_bytes, s.max_array_len, s.max_map_len
        )),
        EvalAltResult::ErrorTooManyVariables(_) => Some("10000 variables".to_owned()),
        EvalAltResult::ErrorTooManyModules(_) => Some("modules".to_owned()),
        EvalAltResult::ErrorTerminated(..) => Some("its run time".to_owned()),
        _ => None,
    };
    if let Some(limit) = limit {
        tracing::warn!(
            rule,
            script = %file.display(),
            line,
            col,
            limit = %limit,
            "script stopped: over its budget"
        );
        return ActionError::ScriptBudget {
            file,
            line,
            col,
            limit,
        };
    }
    if let EvalAltResult::ErrorRuntime(value, _) = &e
        && let Some(text) = value.read_lock::<ImmutableString>()
    {
        let errors = state
            .http_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, http)) = errors
            .iter()
            .rev()
            .find(|(m, _)| m.as_str() == text.as_str())
        {
            return ActionError::Http {
                file,
                line,
                col,
                source: http.clone(),
            };
        }
    }
    e.clear_position();
    ActionError::ScriptRuntime {
        file,
        line,
        col,
        message: strip_runtime(&e.to_string()).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_draws_distinct_sorted_numbers_in_range() {
        for _ in 0..200 {
            let a = sample(1, 33, 6, 100).unwrap();
            let v: Vec<INT> = a.iter().map(|d| d.as_int().unwrap()).collect();
            assert_eq!(v.len(), 6);
            assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
            assert!(v.iter().all(|n| (1..=33).contains(n)), "{v:?}");
        }
        assert_eq!(sample(5, 5, 1, 10).unwrap().len(), 1);
        assert_eq!(sample(1, 3, 0, 10).unwrap().len(), 0);
        let e = sample(1, 3, 4, 10).unwrap_err().to_string();
        assert!(e.contains("cannot draw 4 distinct numbers from 3"), "{e}");
        assert!(sample(3, 1, 1, 10).is_err());
        assert!(sample(1, 3, -1, 10).is_err());
        assert!(sample(1, 100, 50, 10).is_err());
        let e = sample(INT::MIN, INT::MAX, 1, 10).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
        let big = sample(0, INT::MAX, 3, 10).unwrap();
        assert_eq!(big.len(), 3);
    }

    #[test]
    fn settings_are_range_checked_by_key() {
        let spec = ScriptSpec {
            max_operations: 10,
            ..ScriptSpec::default()
        };
        let e = ScriptSettings::from_spec(&spec).unwrap_err().to_string();
        assert!(e.contains("script.max_operations"), "{e}");
        assert!(e.contains("got 10"), "{e}");
        let spec = ScriptSpec {
            http_allow: vec!["https://x.test".into()],
            ..ScriptSpec::default()
        };
        let e = ScriptSettings::from_spec(&spec).unwrap_err().to_string();
        assert!(e.contains("script.http_allow"), "{e}");
        let ok = ScriptSettings::from_spec(&ScriptSpec::default()).unwrap();
        assert_eq!(ok.max_operations(), 1_000_000);
        assert_eq!(ok.http().max_calls(), 5);
    }

    #[test]
    fn reply_values() {
        assert_eq!(reply_from_dynamic(&Dynamic::UNIT), Ok(None));
        assert_eq!(
            reply_from_dynamic(&Dynamic::from("hi".to_owned())),
            Ok(Some(Reply::text("hi")))
        );
        assert_eq!(reply_from_dynamic(&Dynamic::from(" ".to_owned())), Ok(None));
        assert_eq!(
            reply_from_dynamic(&Dynamic::from_map(map1("image", "M1"))),
            Ok(Some(Reply::Image {
                media_id: "M1".into()
            }))
        );
        let e = reply_from_dynamic(&Dynamic::from(5 as INT)).unwrap_err();
        assert!(e.contains("type i64"), "{e}");
        let e = reply_from_dynamic(&Dynamic::from_map(map1("txt", "x"))).unwrap_err();
        assert!(e.contains("unknown reply kind `txt`"), "{e}");
    }
}
