//! Reply templates: compiled minijinja templates, a literal fast path, and the variables.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use wxoa_proto::limits::MAX_NEWS_ARTICLES;
use wxoa_proto::message::Inbound;
use wxoa_proto::reply::{Article, Reply};

use super::error::{RenderError, RuleError};
use super::matcher::message_text;
use super::spec::{ArticleSpec, ReplySpec};

/// Names of the regex groups by index (`None` for unnamed groups), shared by a rule's renders.
pub(crate) type GroupNames = Arc<[Option<Box<str>>]>;

/// One string of a reply: used as is, or rendered.
#[derive(Debug, Clone)]
pub(crate) enum Tpl {
    /// No template syntax: used verbatim, no template engine at request time.
    Literal(String),
    /// A template stored in the rule set's environment under `key`.
    Template {
        /// Name in the environment.
        key: Box<str>,
        /// The reply field, for errors (`reply.text`).
        field: Arc<str>,
    },
}

/// True when `s` contains template syntax (`{{`, `{%` or `{#`).
pub(crate) fn is_template(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'{' && matches!(w[1], b'{' | b'%' | b'#'))
}

/// The template environment of a rule set.
#[derive(Debug)]
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        // Replies are plain text; the XML writer does the escaping (CDATA).
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // A literal keeps its trailing newline, so a template must too.
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        Self { env }
    }

    /// Compile `source` (the value of `field`); a literal stays a literal. The template is
    /// also rendered once against empty variables so that an unknown filter, test, function
    /// or method on the main path is a compile error, not a failure on a follower's message.
    fn add(
        &mut self,
        rule_index: usize,
        field: &str,
        source: &str,
        groups: &GroupNames,
    ) -> Result<Tpl, String> {
        self.add_probed(rule_index, field, source, &Vars::empty(groups))
    }

    /// [`Templates::add`] with the trial render against `probe` (for templates that see more
    /// variables than a message's).
    pub(crate) fn add_probed(
        &mut self,
        rule_index: usize,
        field: &str,
        source: &str,
        probe: &Value,
    ) -> Result<Tpl, String> {
        if !is_template(source) {
            return Ok(Tpl::Literal(source.to_owned()));
        }
        let key = format!("rule #{rule_index} {field}");
        self.env
            .add_template_owned(key.clone(), source.to_owned())
            .map_err(|e| format!("template does not compile: {}", describe(&e)))?;
        let tpl = Tpl::Template {
            key: key.into(),
            field: field.into(),
        };
        if let Err(e) = self.render(&tpl, probe)
            && matches!(
                e.kind(),
                ErrorKind::UnknownFilter
                    | ErrorKind::UnknownTest
                    | ErrorKind::UnknownFunction
                    | ErrorKind::UnknownMethod
                    | ErrorKind::TooManyArguments
                    | ErrorKind::MissingArgument
            )
        {
            return Err(format!("template does not render: {}", describe(&e)));
        }
        Ok(tpl)
    }

    /// Render one string; literals are cloned without touching the engine.
    pub(crate) fn render(&self, tpl: &Tpl, vars: &Value) -> Result<String, minijinja::Error> {
        match tpl {
            Tpl::Literal(s) => Ok(s.clone()),
            Tpl::Template { key, .. } => self.env.get_template(key)?.render(vars),
        }
    }
}

/// `kind: detail (line N)` of a template error, without the internal template name.
pub(crate) fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(d) = e.detail() {
        let _ = write!(s, ": {d}");
    }
    if let Some(line) = e.line() {
        let _ = write!(s, " (line {line})");
    }
    s
}

/// A reply with every string compiled.
#[derive(Debug, Clone)]
pub(crate) enum CompiledReply {
    Text(Tpl),
    Image(Tpl),
    Voice(Tpl),
    Video {
        media_id: Tpl,
        title: Option<Tpl>,
        description: Option<Tpl>,
    },
    Music {
        title: Option<Tpl>,
        description: Option<Tpl>,
        music_url: Option<Tpl>,
        hq_music_url: Option<Tpl>,
        thumb_media_id: Tpl,
    },
    News(Vec<[Tpl; 4]>),
    TransferKf(Tpl),
    None,
}

/// Where a rule's reply is being compiled, for templates keys and error messages.
pub(crate) struct ReplyCompiler<'a> {
    pub(crate) templates: &'a mut Templates,
    pub(crate) file: &'a Path,
    pub(crate) index: usize,
    pub(crate) rule: &'a str,
    pub(crate) groups: &'a GroupNames,
}

impl ReplyCompiler<'_> {
    pub(crate) fn err(&self, field: &str, message: impl Into<String>) -> RuleError {
        RuleError::new(self.file, self.index, self.rule, field, message)
    }

    /// Compile one template that sees the message's variables plus those of `probe`.
    pub(crate) fn tpl_probed(
        &mut self,
        field: &str,
        source: &str,
        probe: &Value,
    ) -> Result<Tpl, RuleError> {
        self.templates
            .add_probed(self.index, field, source, probe)
            .map_err(|m| self.err(field, m))
    }

    /// The variables of the compile-time trial render of this rule's templates.
    pub(crate) fn probe_vars(&self) -> Value {
        Vars::empty(self.groups)
    }

    fn tpl(&mut self, field: &str, source: &str) -> Result<Tpl, RuleError> {
        self.templates
            .add(self.index, field, source, self.groups)
            .map_err(|m| self.err(field, m))
    }

    /// A string the platform requires: a literal must not be blank.
    fn required(&mut self, field: &str, source: &str) -> Result<Tpl, RuleError> {
        if source.trim().is_empty() {
            return Err(self.err(field, "must not be empty"));
        }
        self.tpl(field, source)
    }

    fn optional(&mut self, field: &str, source: Option<&String>) -> Result<Option<Tpl>, RuleError> {
        source.map(|s| self.tpl(field, s)).transpose()
    }

    pub(crate) fn compile(&mut self, spec: &ReplySpec) -> Result<CompiledReply, RuleError> {
        Ok(match spec {
            ReplySpec::Text(s) => {
                if s.trim().is_empty() {
                    return Err(self.err(
                        "reply.text",
                        "is empty, which the platform shows as an error; write \
                         `reply = { none = true }` to answer nothing",
                    ));
                }
                CompiledReply::Text(self.tpl("reply.text", s)?)
            }
            ReplySpec::Image(s) => CompiledReply::Image(self.required("reply.image", s)?),
            ReplySpec::Voice(s) => CompiledReply::Voice(self.required("reply.voice", s)?),
            ReplySpec::Video {
                media_id,
                title,
                description,
            } => CompiledReply::Video {
                media_id: self.required("reply.video.media_id", media_id)?,
                title: self.optional("reply.video.title", title.as_ref())?,
                description: self.optional("reply.video.description", description.as_ref())?,
            },
            ReplySpec::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => CompiledReply::Music {
                title: self.optional("reply.music.title", title.as_ref())?,
                description: self.optional("reply.music.description", description.as_ref())?,
                music_url: self.optional("reply.music.music_url", music_url.as_ref())?,
                hq_music_url: self.optional("reply.music.hq_music_url", hq_music_url.as_ref())?,
                thumb_media_id: self.required("reply.music.thumb_media_id", thumb_media_id)?,
            },
            ReplySpec::News(articles) => {
                if articles.is_empty() {
                    return Err(self.err("reply.news", "needs at least one article"));
                }
                if articles.len() > MAX_NEWS_ARTICLES {
                    return Err(self.err(
                        "reply.news",
                        format!(
                            "has {} articles; a reply carries at most {MAX_NEWS_ARTICLES}",
                            articles.len()
                        ),
                    ));
                }
                let mut out = Vec::with_capacity(articles.len());
                for (i, a) in articles.iter().enumerate() {
                    out.push(self.article(i + 1, a)?);
                }
                CompiledReply::News(out)
            }
            ReplySpec::TransferKf(s) => {
                CompiledReply::TransferKf(self.tpl("reply.transfer_kf", s)?)
            }
            ReplySpec::Lookup(_)
            | ReplySpec::Script(_)
            | ReplySpec::Webhook(_)
            | ReplySpec::Chat(_) => {
                return Err(self.err(
                    "reply",
                    format!("reply kind `{}` is not a static reply", spec.kind()),
                ));
            }
            ReplySpec::None => CompiledReply::None,
        })
    }

    fn article(&mut self, n: usize, a: &ArticleSpec) -> Result<[Tpl; 4], RuleError> {
        Ok([
            self.required(&format!("reply.news[{n}].title"), &a.title)?,
            self.tpl(&format!("reply.news[{n}].description"), &a.description)?,
            self.tpl(&format!("reply.news[{n}].pic_url"), &a.pic_url)?,
            self.tpl(&format!("reply.news[{n}].url"), &a.url)?,
        ])
    }
}

impl CompiledReply {
    /// True when some string of the reply is a template (the variables must be built).
    pub(crate) fn has_templates(&self) -> bool {
        let mut any = false;
        self.for_each(&mut |t| any |= matches!(t, Tpl::Template { .. }));
        any
    }

    fn for_each(&self, f: &mut dyn FnMut(&Tpl)) {
        fn opt(t: &Option<Tpl>, f: &mut dyn FnMut(&Tpl)) {
            if let Some(t) = t {
                f(t);
            }
        }
        match self {
            Self::Text(t) | Self::Image(t) | Self::Voice(t) | Self::TransferKf(t) => f(t),
            Self::Video {
                media_id,
                title,
                description,
            } => {
                f(media_id);
                opt(title, f);
                opt(description, f);
            }
            Self::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => {
                opt(title, f);
                opt(description, f);
                opt(music_url, f);
                opt(hq_music_url, f);
                f(thumb_media_id);
            }
            Self::News(articles) => articles.iter().flatten().for_each(f),
            Self::None => {}
        }
    }

    /// Render the reply for one message. `None` = answer nothing: the `none` kind, or a text
    /// that renders blank (an empty text reply shows the follower an error).
    pub(crate) fn render(
        &self,
        templates: &Templates,
        vars: &Value,
        rule: &Arc<str>,
    ) -> Result<Option<Reply>, RenderError> {
        let one = |t: &Tpl| -> Result<String, RenderError> {
            templates
                .render(t, vars)
                .map_err(|e| RenderError::Template {
                    rule: rule.clone(),
                    field: match t {
                        Tpl::Template { field, .. } => field.clone(),
                        Tpl::Literal(_) => Arc::from("reply"),
                    },
                    reason: describe(&e),
                })
        };
        let opt = |t: &Option<Tpl>| -> Result<Option<String>, RenderError> {
            Ok(match t {
                Some(t) => Some(one(t)?).filter(|s| !s.is_empty()),
                None => None,
            })
        };
        Ok(Some(match self {
            Self::Text(t) => {
                let content = one(t)?;
                if content.trim().is_empty() {
                    return Ok(None);
                }
                Reply::Text { content }
            }
            Self::Image(t) => Reply::Image { media_id: one(t)? },
            Self::Voice(t) => Reply::Voice { media_id: one(t)? },
            Self::Video {
                media_id,
                title,
                description,
            } => Reply::Video {
                media_id: one(media_id)?,
                title: opt(title)?,
                description: opt(description)?,
            },
            Self::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => Reply::Music {
                title: opt(title)?,
                description: opt(description)?,
                music_url: opt(music_url)?,
                hq_music_url: opt(hq_music_url)?,
                thumb_media_id: one(thumb_media_id)?,
            },
            Self::News(articles) => Reply::News {
                articles: articles
                    .iter()
                    .map(|[title, description, pic_url, url]| {
                        Ok(Article {
                            title: one(title)?,
                            description: one(description)?,
                            pic_url: one(pic_url)?,
                            url: one(url)?,
                        })
                    })
                    .collect::<Result<_, RenderError>>()?,
            },
            Self::TransferKf(t) => Reply::TransferCustomerService {
                kf_account: Some(one(t)?).filter(|s| !s.trim().is_empty()),
            },
            Self::None => return Ok(None),
        }))
    }
}

/// The names of the template variables, in documentation order.
const VAR_NAMES: &[&str] = &[
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
];

/// The template variables of one message: a lazily read map, not a serialized struct.
#[derive(Debug)]
pub(crate) struct Vars {
    content: Value,
    from: Value,
    to: Value,
    create_time: Value,
    msg_type: Value,
    event: Value,
    event_key: Value,
    media_id: Value,
    now: Value,
    captures: Value,
}

impl Vars {
    /// The variables of `msg` at `now` (unix seconds). Absent fields are empty strings.
    pub(crate) fn for_message(msg: &Inbound, now: i64, captures: Captures) -> Value {
        let s = |v: Option<&str>| Value::from(v.unwrap_or(""));
        Value::from_object(Self {
            content: s(message_text(msg)),
            from: Value::from(msg.from_user_name.as_str()),
            to: Value::from(msg.to_user_name.as_str()),
            create_time: Value::from(msg.create_time),
            msg_type: Value::from(msg.msg_type.as_str()),
            event: s(msg.event_name()),
            event_key: s(msg.event_key()),
            media_id: s(msg.media_id()),
            now: Value::from(now),
            captures: Value::from_object(captures),
        })
    }

    /// Empty variables (and empty groups) for the compile-time trial render.
    fn empty(groups: &GroupNames) -> Value {
        let e = || Value::from("");
        Value::from_object(Self {
            content: e(),
            from: e(),
            to: e(),
            create_time: Value::from(0),
            msg_type: e(),
            event: e(),
            event_key: e(),
            media_id: e(),
            now: Value::from(0),
            captures: Value::from_object(Captures {
                groups: vec![Value::from(""); groups.len()],
                names: groups.clone(),
            }),
        })
    }

    fn lookup(&self, key: &str) -> Option<Value> {
        Some(
            match key {
                "content" => &self.content,
                "from" => &self.from,
                "to" => &self.to,
                "create_time" => &self.create_time,
                "msg_type" => &self.msg_type,
                "event" => &self.event,
                "event_key" => &self.event_key,
                "media_id" => &self.media_id,
                "now" => &self.now,
                "captures" => &self.captures,
                _ => return None,
            }
            .clone(),
        )
    }
}

impl Object for Vars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.lookup(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.lookup(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(VAR_NAMES)
    }
}

/// Regex groups for templates: `captures[1]` by index (0 = whole match, negative from the
/// end) and `captures.name` / `captures["name"]` for named groups. A group that did not
/// take part in the match is an empty string.
#[derive(Debug)]
pub(crate) struct Captures {
    groups: Vec<Value>,
    names: GroupNames,
}

impl Captures {
    /// No groups (the rule has no regex, or its groups were not asked for).
    pub(crate) fn none(names: &GroupNames) -> Self {
        Self {
            groups: Vec::new(),
            names: names.clone(),
        }
    }

    /// The groups of a regex match.
    pub(crate) fn from_match(caps: &regex::Captures<'_>, names: &GroupNames) -> Self {
        Self {
            groups: caps
                .iter()
                .map(|m| Value::from(m.map_or("", |m| m.as_str())))
                .collect(),
            names: names.clone(),
        }
    }
}

/// The group names of a regex, by index.
pub(crate) fn group_names(re: Option<&regex::Regex>) -> GroupNames {
    match re {
        Some(re) => re.capture_names().map(|n| n.map(Box::from)).collect(),
        None => Arc::from(Vec::new()),
    }
}

impl Object for Captures {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(name) = key.as_str() {
            let i = self.names.iter().position(|n| n.as_deref() == Some(name))?;
            return self.groups.get(i).cloned();
        }
        self.groups.get(key.as_usize()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.groups.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_syntax_is_detected() {
        assert!(!is_template("hello { world } {x}"));
        assert!(!is_template("50% off, #1"));
        assert!(is_template("hi {{ content }}"));
        assert!(is_template("{% if x %}y{% endif %}"));
        assert!(is_template("a {# note #}"));
        assert!(!is_template(""));
    }

    fn groups(names: &[Option<&str>]) -> GroupNames {
        names.iter().map(|n| n.map(Box::from)).collect()
    }

    fn render(source: &str, vars: &Value) -> Result<String, String> {
        let mut t = Templates::new();
        let tpl = t.add(1, "reply.text", source, &groups(&[]))?;
        t.render(&tpl, vars).map_err(|e| describe(&e))
    }

    #[test]
    fn literal_is_not_compiled() {
        let mut t = Templates::new();
        let tpl = t.add(1, "reply.text", "plain {x}", &groups(&[])).unwrap();
        assert!(matches!(&tpl, Tpl::Literal(s) if s == "plain {x}"));
        assert_eq!(t.env.templates().count(), 0);
    }

    #[test]
    fn captures_by_index_name_and_negative() {
        let re = regex::Regex::new(r"^(?<cmd>\w+) (\d+)?(x)?").unwrap();
        let names = group_names(Some(&re));
        let caps = re.captures("buy 42").unwrap();
        let vars = Value::from_object(Captures::from_match(&caps, &names));
        let mut t = Templates::new();
        let src = "{{ c[0] }}|{{ c[1] }}|{{ c.cmd }}|{{ c['cmd'] }}|{{ c[2] }}|{{ c[3] }}|{{ c[-2] }}|{{ c[9] }}|{{ c|length }}";
        let tpl = t.add(1, "f", src, &names).unwrap();
        let ctx = Value::from_iter([("c", vars)]);
        assert_eq!(
            t.render(&tpl, &ctx).unwrap(),
            "buy 42|buy|buy|buy|42||42||4"
        );
    }

    #[test]
    fn syntax_error_names_line() {
        let err = render("a\n{{ content ", &Value::UNDEFINED).unwrap_err();
        assert!(
            err.starts_with("template does not compile: syntax error"),
            "{err}"
        );
        assert!(err.contains("(line 2)"), "{err}");
    }

    #[test]
    fn unknown_filter_on_main_path_fails_compile() {
        let err = render("{{ content | shout }}", &Value::UNDEFINED).unwrap_err();
        assert!(err.contains("unknown filter"), "{err}");
        let err = render("{{ content.upper() }}", &Value::UNDEFINED).unwrap_err();
        assert!(err.contains("unknown method"), "{err}");
    }

    #[test]
    fn no_html_escaping_and_trailing_newline_kept() {
        let vars = Value::from_iter([("content", Value::from("<a href=\"x\">&</a>"))]);
        assert_eq!(
            render("{{ content }}\n", &vars).unwrap(),
            "<a href=\"x\">&</a>\n"
        );
    }

    #[test]
    fn undefined_renders_empty() {
        let vars = Value::from_iter([("content", Value::from("x"))]);
        assert_eq!(render("[{{ nothing }}]", &vars).unwrap(), "[]");
    }
}
