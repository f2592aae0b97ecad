//! Compiled matchers of a rule and the test of one inbound message against them.

use std::path::Path;

use regex::Regex;
use wxoa_proto::message::{Inbound, Kind, Message};

use super::error::RuleError;
use super::spec::RuleSpec;

/// Message types whose text the content matchers see (`Content`, voice `Recognition`).
const TEXT_TYPES: &[&str] = &["text", "voice"];

/// The matchers of one rule, validated and ready to test messages.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    msg_type: Option<Box<str>>,
    event: Option<Box<str>>,
    event_key: Option<Box<str>>,
    keyword: Option<Box<str>>,
    prefix: Option<Box<str>>,
    contains: Option<Box<str>>,
    regex: Option<Regex>,
}

/// How a message matched: the regex captures when the rule has a regex.
#[derive(Debug)]
pub(crate) enum Hit<'t> {
    /// Matched; no regex or captures not wanted.
    Plain,
    /// Matched a regex whose groups the reply uses.
    Captures(regex::Captures<'t>),
}

impl Matcher {
    /// Validate the matchers of `spec` (rule number `index`, counted from 1).
    pub(crate) fn compile(spec: &RuleSpec, index: usize, file: &Path) -> Result<Self, RuleError> {
        let err =
            |field: &str, message: String| RuleError::new(file, index, &spec.name, field, message);
        let non_empty =
            |field: &str, value: &Option<String>| -> Result<Option<Box<str>>, RuleError> {
                match value {
                    None => Ok(None),
                    Some(v) if v.trim().is_empty() => Err(err(
                        field,
                        format!("must not be empty; remove `{field}` to match any value"),
                    )),
                    Some(v) => Ok(Some(v.as_str().into())),
                }
            };
        let msg_type = non_empty("msg_type", &spec.msg_type)?;
        let event = non_empty("event", &spec.event)?;
        let event_key = non_empty("event_key", &spec.event_key)?;
        // Message text is compared trimmed (keyword) or start-trimmed (prefix), so whitespace
        // at those ends of the pattern could never match: drop it.
        let keyword = non_empty("keyword", &spec.keyword)?.map(|k| k.trim().into());
        let prefix = non_empty("prefix", &spec.prefix)?.map(|p| p.trim_start().into());
        let contains = non_empty("contains", &spec.contains)?;
        let regex = match &spec.regex {
            None => None,
            Some(r) if r.is_empty() => {
                return Err(err(
                    "regex",
                    "must not be empty; remove `regex` to match any text".to_owned(),
                ));
            }
            Some(r) => Some(Regex::new(r).map_err(|e| err("regex", regex_message(&e)))?),
        };

        let content_field = [
            ("keyword", keyword.is_some()),
            ("prefix", prefix.is_some()),
            ("contains", contains.is_some()),
            ("regex", regex.is_some()),
        ]
        .into_iter()
        .find_map(|(f, set)| set.then_some(f));
        let event_field = [
            ("event", event.is_some()),
            ("event_key", event_key.is_some()),
        ]
        .into_iter()
        .find_map(|(f, set)| set.then_some(f));

        if let (Some(c), Some(e)) = (content_field, event_field) {
            return Err(err(
                c,
                format!(
                    "`{c}` matches message text and `{e}` matches events, so the rule could \
                     never match; split it into two rules"
                ),
            ));
        }
        if let (Some(c), Some(t)) = (content_field, msg_type.as_deref())
            && !TEXT_TYPES.iter().any(|x| x.eq_ignore_ascii_case(t))
        {
            return Err(err(
                c,
                format!(
                    "`{c}` matches message text, which msg_type {t:?} does not have \
                     (only \"text\" and \"voice\" recognition do); remove one of them"
                ),
            ));
        }
        if let (Some(e), Some(t)) = (event_field, msg_type.as_deref())
            && !t.eq_ignore_ascii_case("event")
        {
            return Err(err(
                e,
                format!(
                    "`{e}` matches events but msg_type is {t:?}, so the rule could never \
                     match; remove msg_type (or set it to \"event\")"
                ),
            ));
        }
        if msg_type.is_none() && content_field.is_none() && event_field.is_none() {
            return Err(err(
                "msg_type",
                "the rule has no matcher; give at least one of msg_type, event, event_key, \
                 keyword, prefix, contains, regex (a fallback for all text is msg_type = \"text\")"
                    .to_owned(),
            ));
        }
        Ok(Self {
            msg_type,
            event,
            event_key,
            keyword,
            prefix,
            contains,
            regex,
        })
    }

    /// Test `msg`; with `want_captures` a regex match yields its groups.
    pub(crate) fn test<'m>(&self, msg: &'m Inbound, want_captures: bool) -> Option<Hit<'m>> {
        if let Some(t) = &self.msg_type
            && !msg.msg_type.eq_ignore_ascii_case(t)
        {
            return None;
        }
        if self.event.is_some() || self.event_key.is_some() {
            let Kind::Event(_) = &msg.kind else {
                return None;
            };
            let name = msg.event_name().unwrap_or("");
            if let Some(e) = &self.event
                && !name.eq_ignore_ascii_case(e)
            {
                return None;
            }
            if let Some(want) = &self.event_key {
                let key = msg.event_key().unwrap_or("");
                let stripped = name
                    .eq_ignore_ascii_case("subscribe")
                    .then(|| key.strip_prefix("qrscene_"))
                    .flatten();
                if key != &**want && stripped != Some(&**want) {
                    return None;
                }
            }
        }
        if self.keyword.is_none()
            && self.prefix.is_none()
            && self.contains.is_none()
            && self.regex.is_none()
        {
            return Some(Hit::Plain);
        }
        let text = message_text(msg)?;
        if let Some(k) = &self.keyword
            && text.trim() != &**k
        {
            return None;
        }
        if let Some(p) = &self.prefix
            && !text.trim_start().starts_with(&**p)
        {
            return None;
        }
        if let Some(c) = &self.contains
            && !text.contains(&**c)
        {
            return None;
        }
        match &self.regex {
            None => Some(Hit::Plain),
            Some(re) if want_captures => re.captures(text).map(Hit::Captures),
            Some(re) => re.is_match(text).then_some(Hit::Plain),
        }
    }

    /// The rule's regex, if it has one.
    pub(crate) fn regex(&self) -> Option<&Regex> {
        self.regex.as_ref()
    }
}

/// The text content matchers see: `Content` of a text message, or the non-empty
/// `Recognition` of a voice message. Events and other messages have none.
pub(crate) fn message_text(msg: &Inbound) -> Option<&str> {
    match &msg.kind {
        Kind::Message(Message::Text { content, .. }) => Some(content),
        Kind::Message(Message::Voice {
            recognition: Some(r),
            ..
        }) if !r.trim().is_empty() => Some(r),
        _ => None,
    }
}

/// A regex compile error in one line (the crate's message spans several, with a caret).
fn regex_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            let detail = s
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or(s.as_str());
            format!("does not compile: {detail}")
        }
        regex::Error::CompiledTooBig(limit) => format!(
            "does not compile: the compiled pattern exceeds the size limit of {limit} bytes; simplify it"
        ),
        other => format!("does not compile: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(f: impl FnOnce(&mut RuleSpec)) -> RuleSpec {
        let mut s = RuleSpec {
            name: "r".into(),
            ..RuleSpec::default()
        };
        f(&mut s);
        s
    }

    fn compile_err(f: impl FnOnce(&mut RuleSpec)) -> RuleError {
        Matcher::compile(&spec(f), 1, Path::new("x.toml")).unwrap_err()
    }

    #[test]
    fn regex_error_is_one_line() {
        let e = compile_err(|s| s.regex = Some("(abc".into()));
        assert_eq!(e.field(), "regex");
        assert!(e.message().contains("unclosed group"), "{}", e.message());
        assert!(!e.message().contains('\n'), "{}", e.message());
    }

    #[test]
    fn empty_matchers_are_refused() {
        for field in [
            "msg_type",
            "event",
            "event_key",
            "keyword",
            "prefix",
            "contains",
            "regex",
        ] {
            let e = compile_err(|s| {
                let v = Some("  ".to_owned());
                match field {
                    "msg_type" => s.msg_type = v,
                    "event" => s.event = v,
                    "event_key" => s.event_key = v,
                    "keyword" => s.keyword = v,
                    "prefix" => s.prefix = v,
                    "contains" => s.contains = v,
                    _ => s.regex = Some(String::new()),
                }
            });
            assert_eq!(e.field(), field);
            assert!(e.message().contains("must not be empty"), "{}", e.message());
        }
    }

    #[test]
    fn impossible_combinations_are_refused() {
        let e = compile_err(|s| {
            s.event = Some("subscribe".into());
            s.keyword = Some("hi".into());
        });
        assert_eq!(e.field(), "keyword");
        let e = compile_err(|s| {
            s.msg_type = Some("image".into());
            s.contains = Some("hi".into());
        });
        assert_eq!(e.field(), "contains");
        assert!(e.message().contains("\"image\""), "{}", e.message());
        let e = compile_err(|s| {
            s.msg_type = Some("text".into());
            s.event_key = Some("K".into());
        });
        assert_eq!(e.field(), "event_key");
        let e = compile_err(|_| {});
        assert_eq!(e.field(), "msg_type");
        assert!(e.message().contains("no matcher"), "{}", e.message());
    }

    #[test]
    fn allowed_combinations_compile() {
        for f in [
            (|s: &mut RuleSpec| {
                s.msg_type = Some("Voice".into());
                s.keyword = Some("hi".into());
            }) as fn(&mut RuleSpec),
            |s| {
                s.msg_type = Some("EVENT".into());
                s.event = Some("CLICK".into());
            },
            |s| s.msg_type = Some("location".into()),
            |s| s.event_key = Some("K".into()),
        ] {
            assert!(Matcher::compile(&spec(f), 1, Path::new("x")).is_ok());
        }
    }
}
