//! Rules engine from the outside: `[[rules]]` TOML in, outcomes for probe messages out.

use std::path::Path;

use serde::Deserialize;
use wxoa_proto::event::Event;
use wxoa_proto::message::{Kind, Message};
use wxoa_proto::reply::{Article, Reply};
use wxoa_server::rules::probe::{
    self, PROBE_ACCOUNT, PROBE_CREATE_TIME, PROBE_OPENID, event_message, message_of_type,
    text_message, voice_message,
};
use wxoa_server::rules::{
    ArticleSpec, OnSlow, Outcome, RenderError, ReplySpec, RuleError, RuleSet, RuleSpec,
};

const NOW: i64 = 1_750_000_000;

#[derive(Debug, Deserialize)]
struct Doc {
    rules: Vec<RuleSpec>,
}

fn specs(toml_src: &str) -> Vec<RuleSpec> {
    toml::from_str::<Doc>(toml_src)
        .unwrap_or_else(|e| panic!("{e}"))
        .rules
}

fn rules(toml_src: &str) -> RuleSet {
    RuleSet::compile(&specs(toml_src), Path::new("wxoa.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn compile_err(toml_src: &str) -> RuleError {
    RuleSet::compile(&specs(toml_src), Path::new("conf/wxoa.toml")).unwrap_err()
}

fn parse_err(toml_src: &str) -> String {
    toml::from_str::<Doc>(toml_src).unwrap_err().to_string()
}

/// Name of the matching rule, or `None`.
fn hit(set: &RuleSet, msg: &wxoa_proto::message::Inbound) -> Option<String> {
    match set.respond(msg, NOW).unwrap() {
        Outcome::NoMatch => None,
        Outcome::Matched { rule, .. } | Outcome::Action { rule, .. } => Some(rule.to_string()),
    }
}

fn reply(set: &RuleSet, msg: &wxoa_proto::message::Inbound) -> Option<Reply> {
    match set.respond(msg, NOW).unwrap() {
        Outcome::NoMatch => panic!("no rule matched"),
        Outcome::Matched { reply, .. } => reply,
        Outcome::Action { rule, .. } => panic!("rule {rule} needs an action"),
    }
}

fn text_of(set: &RuleSet, msg: &wxoa_proto::message::Inbound) -> String {
    match reply(set, msg) {
        Some(Reply::Text { content }) => content,
        other => panic!("not a text reply: {other:?}"),
    }
}

// ---------------------------------------------------------------- matchers

#[test]
fn keyword_is_exact_after_trimming() {
    let set = rules(
        r#"
        [[rules]]
        name = "help"
        keyword = "使用"
        reply = { text = "help" }
        "#,
    );
    assert_eq!(hit(&set, &text_message("使用")).as_deref(), Some("help"));
    assert_eq!(
        hit(&set, &text_message("  使用\n")).as_deref(),
        Some("help")
    );
    assert_eq!(hit(&set, &text_message("使用说明")), None);
    assert_eq!(hit(&set, &text_message("请问使用")), None);
}

#[test]
fn prefix_ignores_leading_whitespace_only() {
    let set = rules(
        r#"
        [[rules]]
        name = "product"
        prefix = "产品"
        reply = { text = "p" }
        "#,
    );
    assert_eq!(
        hit(&set, &text_message("产品 abc")).as_deref(),
        Some("product")
    );
    assert_eq!(
        hit(&set, &text_message(" \t产品abc")).as_deref(),
        Some("product")
    );
    assert_eq!(hit(&set, &text_message("新产品")), None);
}

#[test]
fn contains_anywhere_and_case_sensitive() {
    let set = rules(
        r#"
        [[rules]]
        name = "price"
        contains = "价格"
        reply = { text = "p" }

        [[rules]]
        name = "vip"
        contains = "VIP"
        reply = { text = "v" }
        "#,
    );
    assert_eq!(
        hit(&set, &text_message("请问价格多少")).as_deref(),
        Some("price")
    );
    assert_eq!(hit(&set, &text_message("I am VIP")).as_deref(), Some("vip"));
    assert_eq!(hit(&set, &text_message("i am vip")), None);
}

#[test]
fn regex_searches_the_text_as_sent() {
    let set = rules(
        r#"
        [[rules]]
        name = "lottery"
        regex = '^goodluck\*?(\d*)$'
        reply = { text = "n={{ captures[1] }}" }
        "#,
    );
    assert_eq!(text_of(&set, &text_message("goodluck*12")), "n=12");
    assert_eq!(text_of(&set, &text_message("goodluck")), "n=");
    // Not trimmed: the anchors see the spaces.
    assert_eq!(hit(&set, &text_message(" goodluck")), None);
}

#[test]
fn msg_type_is_case_insensitive_and_catches_all_of_a_type() {
    let set = rules(
        r#"
        [[rules]]
        name = "pics"
        msg_type = "IMAGE"
        reply = { text = "nice picture" }

        [[rules]]
        name = "fallback"
        msg_type = "text"
        reply = { text = "?" }
        "#,
    );
    assert_eq!(
        hit(&set, &message_of_type("image")).as_deref(),
        Some("pics")
    );
    assert_eq!(
        hit(&set, &text_message("anything")).as_deref(),
        Some("fallback")
    );
    assert_eq!(hit(&set, &message_of_type("location")), None);
    assert_eq!(hit(&set, &event_message("subscribe", None)), None);
}

#[test]
fn event_is_case_insensitive() {
    let set = rules(
        r#"
        [[rules]]
        name = "welcome"
        event = "SUBSCRIBE"
        reply = { text = "欢迎" }

        [[rules]]
        name = "menu"
        event = "click"
        reply = { text = "menu" }
        "#,
    );
    assert_eq!(
        hit(&set, &event_message("subscribe", None)).as_deref(),
        Some("welcome")
    );
    assert_eq!(
        hit(&set, &event_message("CLICK", Some("K1"))).as_deref(),
        Some("menu")
    );
    assert_eq!(hit(&set, &event_message("unsubscribe", None)), None);
    // An event rule never matches a message whose text is the event name.
    assert_eq!(hit(&set, &text_message("subscribe")), None);
}

#[test]
fn event_key_is_exact_and_strips_qrscene_for_subscribe() {
    let set = rules(
        r#"
        [[rules]]
        name = "scene"
        event_key = "42"
        reply = { text = "scene 42" }

        [[rules]]
        name = "full"
        event_key = "qrscene_7"
        reply = { text = "full" }
        "#,
    );
    assert_eq!(
        hit(&set, &event_message("subscribe", Some("qrscene_42"))).as_deref(),
        Some("scene")
    );
    assert_eq!(
        hit(&set, &event_message("SCAN", Some("42"))).as_deref(),
        Some("scene")
    );
    assert_eq!(
        hit(&set, &event_message("CLICK", Some("42"))).as_deref(),
        Some("scene")
    );
    // Only subscribe strips the prefix.
    assert_eq!(hit(&set, &event_message("SCAN", Some("qrscene_42"))), None);
    assert_eq!(hit(&set, &event_message("CLICK", Some("420"))), None);
    // The prefixed form matches exactly too.
    assert_eq!(
        hit(&set, &event_message("subscribe", Some("qrscene_7"))).as_deref(),
        Some("full")
    );
    assert_eq!(hit(&set, &event_message("subscribe", None)), None);
}

#[test]
fn content_matchers_never_match_events_or_media() {
    let set = rules(
        r#"
        [[rules]]
        name = "any"
        regex = '.*'
        reply = { text = "x" }
        "#,
    );
    assert_eq!(hit(&set, &event_message("CLICK", Some("anything"))), None);
    assert_eq!(hit(&set, &message_of_type("image")), None);
    assert_eq!(hit(&set, &message_of_type("link")), None);
    assert_eq!(hit(&set, &text_message("")).as_deref(), Some("any"));
}

#[test]
fn voice_recognition_is_text() {
    let set = rules(
        r#"
        [[rules]]
        name = "weather"
        contains = "天气"
        reply = { text = "you said: {{ content }}" }

        [[rules]]
        name = "voice"
        msg_type = "voice"
        reply = { text = "no text" }
        "#,
    );
    let said = voice_message(Some("今天天气怎么样"));
    assert_eq!(hit(&set, &said).as_deref(), Some("weather"));
    assert_eq!(text_of(&set, &said), "you said: 今天天气怎么样");
    assert_eq!(hit(&set, &voice_message(None)).as_deref(), Some("voice"));
    assert_eq!(
        hit(&set, &voice_message(Some(""))).as_deref(),
        Some("voice")
    );
}

#[test]
fn combinations_require_every_matcher() {
    let set = rules(
        r##"
        [[rules]]
        name = "order"
        msg_type = "text"
        prefix = "order"
        contains = "#"
        regex = '#(\d+)$'
        reply = { text = "order {{ captures[1] }}" }

        [[rules]]
        name = "menu-buy"
        msg_type = "event"
        event = "CLICK"
        event_key = "BUY"
        reply = { text = "buy" }
        "##,
    );
    assert_eq!(text_of(&set, &text_message("order #12")), "order 12");
    assert_eq!(hit(&set, &text_message("order 12")), None);
    assert_eq!(hit(&set, &text_message("order #x")), None);
    assert_eq!(hit(&set, &text_message("my order #12")), None);
    assert_eq!(
        hit(&set, &event_message("click", Some("BUY"))).as_deref(),
        Some("menu-buy")
    );
    assert_eq!(hit(&set, &event_message("CLICK", Some("SELL"))), None);
    assert_eq!(hit(&set, &event_message("VIEW", Some("BUY"))), None);
}

#[test]
fn first_match_wins() {
    let set = rules(
        r#"
        [[rules]]
        name = "specific"
        keyword = "hi"
        reply = { text = "specific" }

        [[rules]]
        name = "general"
        contains = "h"
        reply = { text = "general" }

        [[rules]]
        name = "specific-too-late"
        keyword = "hello"
        reply = { text = "never" }
        "#,
    );
    assert_eq!(text_of(&set, &text_message("hi")), "specific");
    assert_eq!(text_of(&set, &text_message("hello")), "general");
    assert_eq!(
        set.names().collect::<Vec<_>>(),
        ["specific", "general", "specific-too-late"]
    );
}

#[test]
fn no_match_and_empty_rule_set() {
    let set = rules(
        r#"
        [[rules]]
        name = "help"
        keyword = "help"
        reply = { text = "h" }
        "#,
    );
    assert_eq!(
        set.respond(&text_message("other"), NOW).unwrap(),
        Outcome::NoMatch
    );
    let empty = RuleSet::compile(&[], Path::new("wxoa.toml")).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    assert_eq!(
        empty.respond(&text_message("x"), NOW).unwrap(),
        Outcome::NoMatch
    );
}

#[test]
fn outcome_carries_policy_fields() {
    let set = rules(
        r#"
        [[rules]]
        name = "slow"
        keyword = "s"
        reply = { text = "done" }
        on_slow = "placeholder"
        placeholder = "稍等"
        on_error = "出错了"

        [[rules]]
        name = "quiet"
        keyword = "q"
        reply = { none = true }
        "#,
    );
    assert_eq!(
        set.respond(&text_message("s"), NOW).unwrap(),
        Outcome::Matched {
            rule: "slow".into(),
            reply: Some(Reply::Text {
                content: "done".into()
            }),
            on_slow: OnSlow::Placeholder,
            placeholder: Some("稍等".into()),
            on_error: Some("出错了".into()),
        }
    );
    assert_eq!(
        set.respond(&text_message("q"), NOW).unwrap(),
        Outcome::Matched {
            rule: "quiet".into(),
            reply: None,
            on_slow: OnSlow::Retry,
            placeholder: None,
            on_error: None,
        }
    );
}

// ---------------------------------------------------------------- templates

#[test]
fn every_template_variable() {
    let set = rules(
        r#"
        [[rules]]
        name = "vars-text"
        msg_type = "text"
        reply = { text = "{{ content }}|{{ from }}|{{ to }}|{{ create_time }}|{{ msg_type }}|{{ event }}|{{ event_key }}|{{ media_id }}|{{ now }}" }

        [[rules]]
        name = "vars-event"
        msg_type = "event"
        reply = { text = "{{ msg_type }}/{{ event }}/{{ event_key }}/[{{ content }}]" }

        [[rules]]
        name = "vars-image"
        msg_type = "image"
        reply = { text = "{{ media_id }}" }
        "#,
    );
    assert_eq!(
        text_of(&set, &text_message("hi")),
        format!("hi|{PROBE_OPENID}|{PROBE_ACCOUNT}|{PROBE_CREATE_TIME}|text||||{NOW}")
    );
    assert_eq!(
        text_of(&set, &event_message("subscribe", Some("qrscene_9"))),
        "event/subscribe/qrscene_9/[]"
    );
    assert_eq!(
        text_of(&set, &message_of_type("image")),
        "probe_image_media_id"
    );
}

#[test]
fn regex_captures_by_index_and_name() {
    let set = rules(
        r#"
        [[rules]]
        name = "product"
        regex = '^产品\s*(?<name>\w+)(?:\s+(?<qty>\d+))?$'
        reply = { text = "{{ captures[0] }}|{{ captures[1] }}|{{ captures.name }}|{{ captures['name'] }}|{{ captures.qty }}|{{ captures[2] }}|{{ captures.nope }}{{ captures[7] }}" }
        "#,
    );
    assert_eq!(
        text_of(&set, &text_message("产品 abc 3")),
        "产品 abc 3|abc|abc|abc|3|3|"
    );
    // An optional group that did not take part renders empty.
    assert_eq!(
        text_of(&set, &text_message("产品abc")),
        "产品abc|abc|abc|abc|||"
    );
}

#[test]
fn captures_in_conditions_and_loops() {
    let set = rules(
        r#"
        [[rules]]
        name = "pair"
        regex = '^(\w+)=(\w*)$'
        reply = { text = "{% if captures[2] %}set {{ captures[1] }}{% else %}clear {{ captures[1] }}{% endif %};{% for c in captures %}[{{ c }}]{% endfor %}" }
        "#,
    );
    assert_eq!(text_of(&set, &text_message("a=1")), "set a;[a=1][a][1]");
    assert_eq!(text_of(&set, &text_message("a=")), "clear a;[a=][a][]");
}

#[test]
fn templates_are_not_html_escaped_and_literals_pass_through() {
    let set = rules(
        r#"
        [[rules]]
        name = "link"
        keyword = "link"
        reply = { text = '<a href="https://example.com/?a=1&b=2">{{ content }}</a>' }

        [[rules]]
        name = "literal"
        keyword = "lit"
        reply = { text = "50% { not a template } #1 ]]> done" }
        "#,
    );
    assert_eq!(
        text_of(&set, &text_message("link")),
        r#"<a href="https://example.com/?a=1&b=2">link</a>"#
    );
    assert_eq!(
        text_of(&set, &text_message("lit")),
        "50% { not a template } #1 ]]> done"
    );
}

#[test]
fn blank_rendered_text_answers_nothing() {
    let set = rules(
        r#"
        [[rules]]
        name = "maybe"
        regex = '^x(\d*)$'
        reply = { text = "{{ captures[1] }}" }
        "#,
    );
    assert_eq!(reply(&set, &text_message("x")), None);
    assert_eq!(
        reply(&set, &text_message("x5")),
        Some(Reply::Text {
            content: "5".into()
        })
    );
}

#[test]
fn news_music_video_and_media_are_templated() {
    let set = rules(
        r#"
        [[rules]]
        name = "news"
        regex = '^news (?<q>\w+)$'
        reply = { news = [
            { title = "Result for {{ captures.q }}", description = "from {{ from }}", pic_url = "https://img/{{ captures.q }}.png", url = "https://s/?q={{ captures.q }}" },
            { title = "Plain second" },
        ] }

        [[rules]]
        name = "music"
        keyword = "music"
        reply = { music = { title = "Song for {{ from }}", music_url = "https://m/{{ now }}.mp3", thumb_media_id = "THUMB" } }

        [[rules]]
        name = "video"
        keyword = "video"
        reply = { video = { media_id = "VID_{{ content }}", title = "{{ content }} video", description = "" } }

        [[rules]]
        name = "image"
        keyword = "image"
        reply = { image = "IMG_{{ content }}" }

        [[rules]]
        name = "voice"
        keyword = "voice"
        reply = { voice = "VOICE" }

        [[rules]]
        name = "kf"
        keyword = "kf"
        reply = { transfer_kf = "{{ 'agent@kf' if content == 'kf' }}" }

        [[rules]]
        name = "any-kf"
        keyword = "human"
        reply = { transfer_kf = "" }
        "#,
    );
    assert_eq!(
        reply(&set, &text_message("news rust")),
        Some(Reply::News {
            articles: vec![
                Article {
                    title: "Result for rust".into(),
                    description: format!("from {PROBE_OPENID}"),
                    pic_url: "https://img/rust.png".into(),
                    url: "https://s/?q=rust".into(),
                },
                Article {
                    title: "Plain second".into(),
                    ..Article::default()
                },
            ]
        })
    );
    assert_eq!(
        reply(&set, &text_message("music")),
        Some(Reply::Music {
            title: Some(format!("Song for {PROBE_OPENID}")),
            description: None,
            music_url: Some(format!("https://m/{NOW}.mp3")),
            hq_music_url: None,
            thumb_media_id: "THUMB".into(),
        })
    );
    assert_eq!(
        reply(&set, &text_message("video")),
        Some(Reply::Video {
            media_id: "VID_video".into(),
            title: Some("video video".into()),
            description: None,
        })
    );
    assert_eq!(
        reply(&set, &text_message("image")),
        Some(Reply::Image {
            media_id: "IMG_image".into()
        })
    );
    assert_eq!(
        reply(&set, &text_message("voice")),
        Some(Reply::Voice {
            media_id: "VOICE".into()
        })
    );
    assert_eq!(
        reply(&set, &text_message("kf")),
        Some(Reply::TransferCustomerService {
            kf_account: Some("agent@kf".into())
        })
    );
    assert_eq!(
        reply(&set, &text_message("human")),
        Some(Reply::TransferCustomerService { kf_account: None })
    );
}

#[test]
fn multiline_text_keeps_its_trailing_newline_either_way() {
    let set = rules(
        "
        [[rules]]
        name = \"lit\"
        keyword = \"a\"
        reply = { text = \"line\\n\" }

        [[rules]]
        name = \"tpl\"
        keyword = \"b\"
        reply = { text = \"{{ content }}\\n\" }
        ",
    );
    assert_eq!(text_of(&set, &text_message("a")), "line\n");
    assert_eq!(text_of(&set, &text_message("b")), "b\n");
}

#[test]
fn render_error_names_rule_and_field() {
    let set = rules(
        r#"
        [[rules]]
        name = "fragile"
        msg_type = "text"
        reply = { news = [{ title = "t", url = "{% if content == 'boom' %}{{ content | explode }}{% endif %}" }] }
        "#,
    );
    assert!(set.respond(&text_message("fine"), NOW).is_ok());
    let err: RenderError = set.respond(&text_message("boom"), NOW).unwrap_err();
    assert_eq!(err.rule(), "fragile");
    assert_eq!(err.field(), "reply.news[1].url");
    let shown = err.to_string();
    assert!(
        shown.starts_with("rule \"fragile\": reply.news[1].url: "),
        "{shown}"
    );
    assert!(shown.contains("unknown filter"), "{shown}");
}

// ---------------------------------------------------------------- invalid specs

/// Asserts the error names the file, the rule (number and name) and the field, and
/// mentions `needle`.
fn assert_rule_error(err: &RuleError, index: usize, name: &str, field: &str, needle: &str) {
    let shown = err.to_string();
    let head = format!("conf/wxoa.toml: rule #{index} \"{name}\": {field}: ");
    assert!(
        shown.starts_with(&head),
        "{shown:?} does not start with {head:?}"
    );
    assert!(
        shown.contains(needle),
        "{shown:?} does not mention {needle:?}"
    );
    assert_eq!(err.file(), Path::new("conf/wxoa.toml"));
    assert_eq!(
        (err.index(), err.rule_name(), err.field()),
        (index, name, field)
    );
}

const OK_RULE: &str = r#"
[[rules]]
name = "ok"
keyword = "ok"
reply = { text = "ok" }
"#;

fn with_ok(bad: &str) -> String {
    format!("{OK_RULE}\n{bad}")
}

#[test]
fn invalid_regex() {
    let e = compile_err(&with_ok(
        r#"
        [[rules]]
        name = "help"
        regex = '(unclosed'
        reply = { text = "x" }
        "#,
    ));
    assert_rule_error(&e, 2, "help", "regex", "unclosed group");
}

#[test]
fn invalid_template_syntax() {
    let e = compile_err(&with_ok(
        r#"
        [[rules]]
        name = "broken"
        keyword = "b"
        reply = { text = "hello {{ content " }
        "#,
    ));
    assert_rule_error(&e, 2, "broken", "reply.text", "syntax error");
    let e = compile_err(
        r#"
        [[rules]]
        name = "broken-news"
        keyword = "b"
        reply = { news = [{ title = "a" }, { title = "b", url = "{% if %}" }] }
        "#,
    );
    assert_rule_error(&e, 1, "broken-news", "reply.news[2].url", "syntax error");
    let e = compile_err(
        r#"
        [[rules]]
        name = "m"
        keyword = "b"
        reply = { music = { thumb_media_id = "T", hq_music_url = "{{ x | nofilter }}" } }
        "#,
    );
    assert_rule_error(&e, 1, "m", "reply.music.hq_music_url", "unknown filter");
    let e = compile_err(
        r#"
        [[rules]]
        name = "v"
        keyword = "b"
        reply = { video = { media_id = "M", title = "{% include 'x' %}" } }
        "#,
    );
    assert_rule_error(&e, 1, "v", "reply.video.title", "does not compile");
}

#[test]
fn empty_and_duplicate_names() {
    let e = compile_err(&with_ok(
        r#"
        [[rules]]
        name = ""
        keyword = "x"
        reply = { text = "x" }
        "#,
    ));
    assert_rule_error(&e, 2, "", "name", "must not be empty");
    let e = compile_err(&with_ok(
        r#"
        [[rules]]
        name = "ok"
        keyword = "x"
        reply = { text = "x" }
        "#,
    ));
    assert_rule_error(&e, 2, "ok", "name", "rule #1 has the same name");
}

#[test]
fn rule_without_matcher() {
    let e = compile_err(
        r#"
        [[rules]]
        name = "everything"
        reply = { text = "x" }
        "#,
    );
    assert_rule_error(&e, 1, "everything", "msg_type", "no matcher");
}

#[test]
fn content_matcher_with_non_text_msg_type() {
    let e = compile_err(
        r#"
        [[rules]]
        name = "pic-help"
        msg_type = "image"
        keyword = "help"
        reply = { text = "x" }
        "#,
    );
    assert_rule_error(&e, 1, "pic-help", "keyword", "\"image\"");
    let e = compile_err(
        r#"
        [[rules]]
        name = "ev"
        msg_type = "event"
        regex = 'x'
        reply = { text = "x" }
        "#,
    );
    assert_rule_error(&e, 1, "ev", "regex", "\"event\"");
    let e = compile_err(
        r#"
        [[rules]]
        name = "sub-help"
        event = "subscribe"
        prefix = "help"
        reply = { text = "x" }
        "#,
    );
    assert_rule_error(&e, 1, "sub-help", "prefix", "never match");
    let e = compile_err(
        r#"
        [[rules]]
        name = "text-click"
        msg_type = "text"
        event = "CLICK"
        reply = { text = "x" }
        "#,
    );
    assert_rule_error(&e, 1, "text-click", "event", "never match");
}

#[test]
fn empty_matcher_values() {
    let e = compile_err(
        r#"
        [[rules]]
        name = "blank"
        keyword = "   "
        reply = { text = "x" }
        "#,
    );
    assert_rule_error(&e, 1, "blank", "keyword", "must not be empty");
}

#[test]
fn missing_required_reply_fields() {
    let cases = [
        (r#"{ text = "" }"#, "reply.text", "none = true"),
        (r#"{ image = " " }"#, "reply.image", "must not be empty"),
        (r#"{ voice = "" }"#, "reply.voice", "must not be empty"),
        (
            r#"{ video = { media_id = "" } }"#,
            "reply.video.media_id",
            "must not be empty",
        ),
        (
            r#"{ music = { thumb_media_id = "" } }"#,
            "reply.music.thumb_media_id",
            "must not be empty",
        ),
        (r#"{ news = [] }"#, "reply.news", "at least one article"),
        (
            r#"{ news = [{ title = "" }] }"#,
            "reply.news[1].title",
            "must not be empty",
        ),
    ];
    for (reply, field, needle) in cases {
        let e = compile_err(&format!(
            "[[rules]]\nname = \"r\"\nkeyword = \"k\"\nreply = {reply}\n"
        ));
        assert_rule_error(&e, 1, "r", field, needle);
    }
}

#[test]
fn too_many_articles() {
    let articles = vec![
        ArticleSpec {
            title: "t".into(),
            ..ArticleSpec::default()
        };
        9
    ];
    let spec = RuleSpec {
        name: "big".into(),
        event: Some("CLICK".into()),
        reply: ReplySpec::News(articles),
        ..RuleSpec::default()
    };
    let e = RuleSet::compile(&[spec], Path::new("conf/wxoa.toml")).unwrap_err();
    assert_rule_error(&e, 1, "big", "reply.news", "at most 8");
}

#[test]
fn empty_placeholder() {
    let e = compile_err(
        r#"
        [[rules]]
        name = "p"
        keyword = "k"
        reply = { text = "x" }
        placeholder = ""
        "#,
    );
    assert_rule_error(&e, 1, "p", "placeholder", "server.placeholder");
}

// ---------------------------------------------------------------- TOML shapes

fn one_reply(reply: &str) -> Result<ReplySpec, String> {
    toml::from_str::<Doc>(&format!(
        "[[rules]]\nname = \"r\"\nkeyword = \"k\"\nreply = {reply}\n"
    ))
    .map(|mut d| d.rules.remove(0).reply)
    .map_err(|e| e.to_string())
}

#[test]
fn toml_every_reply_shape() {
    assert_eq!(
        one_reply(r#"{ text = "hi" }"#),
        Ok(ReplySpec::Text("hi".into()))
    );
    assert_eq!(
        one_reply(r#"{ image = "IMG" }"#),
        Ok(ReplySpec::Image("IMG".into()))
    );
    assert_eq!(
        one_reply(r#"{ voice = "VOC" }"#),
        Ok(ReplySpec::Voice("VOC".into()))
    );
    assert_eq!(
        one_reply(r#"{ video = { media_id = "V", title = "T" } }"#),
        Ok(ReplySpec::Video {
            media_id: "V".into(),
            title: Some("T".into()),
            description: None
        })
    );
    assert_eq!(
        one_reply(
            r#"{ music = { title = "a", description = "b", music_url = "c", hq_music_url = "d", thumb_media_id = "e" } }"#
        ),
        Ok(ReplySpec::Music {
            title: Some("a".into()),
            description: Some("b".into()),
            music_url: Some("c".into()),
            hq_music_url: Some("d".into()),
            thumb_media_id: "e".into(),
        })
    );
    assert_eq!(
        one_reply(
            r#"{ news = [{ title = "t", description = "d", pic_url = "p", url = "u" }, { title = "t2" }] }"#
        ),
        Ok(ReplySpec::News(vec![
            ArticleSpec {
                title: "t".into(),
                description: "d".into(),
                pic_url: "p".into(),
                url: "u".into(),
            },
            ArticleSpec {
                title: "t2".into(),
                ..ArticleSpec::default()
            },
        ]))
    );
    assert_eq!(
        one_reply(r#"{ transfer_kf = "a@kf" }"#),
        Ok(ReplySpec::TransferKf("a@kf".into()))
    );
    assert_eq!(
        one_reply(r#"{ transfer_kf = "" }"#),
        Ok(ReplySpec::TransferKf(String::new()))
    );
    assert_eq!(one_reply("{ none = true }"), Ok(ReplySpec::None));
}

#[test]
fn toml_reply_as_a_subtable() {
    let d: Doc = toml::from_str(
        r#"
        [[rules]]
        name = "n"
        event = "CLICK"
        [rules.reply]
        news = [{ title = "t" }]
        "#,
    )
    .unwrap();
    assert_eq!(
        d.rules[0].reply,
        ReplySpec::News(vec![ArticleSpec {
            title: "t".into(),
            ..ArticleSpec::default()
        }])
    );
}

#[test]
fn toml_reply_errors_name_the_kind() {
    let e = one_reply(r#"{ text = "a", news = [] }"#).unwrap_err();
    assert!(e.contains("two kinds, `text` and `news`"), "{e}");
    let e = one_reply(r#"{ picture = "a" }"#).unwrap_err();
    assert!(e.contains("unknown reply kind `picture`"), "{e}");
    let e = one_reply("{ none = false }").unwrap_err();
    assert!(e.contains("`none`"), "{e}");
    let e = one_reply(r#"{ lookup = "x" }"#).unwrap_err();
    assert!(e.contains("LookupSpec"), "{e}");
    let e = one_reply(r#"{ text = "x", secret_env = "S" }"#).unwrap_err();
    assert!(
        e.contains("`secret_env` belongs to a `webhook` reply"),
        "{e}"
    );
    let e = one_reply(r#"{ video = { media_id = "m", subtitle = "x" } }"#).unwrap_err();
    assert!(e.contains("subtitle"), "{e}");
    let e = one_reply(r#"{ news = [{ title = "t", link = "x" }] }"#).unwrap_err();
    assert!(e.contains("link"), "{e}");
    let e = one_reply(r#"{ music = { title = "t" } }"#).unwrap_err();
    assert!(e.contains("thumb_media_id"), "{e}");
}

#[test]
fn toml_rule_keys() {
    let e = parse_err(
        r#"
        [[rules]]
        name = "x"
        keywords = "typo"
        reply = { text = "x" }
        "#,
    );
    assert!(e.contains("keywords"), "{e}");
    let e = parse_err(
        r#"
        [[rules]]
        name = "x"
        keyword = "k"
        "#,
    );
    assert!(e.contains("reply"), "{e}");
    let e = parse_err(
        r#"
        [[rules]]
        name = "x"
        keyword = "k"
        reply = { text = "x" }
        on_slow = "later"
        "#,
    );
    assert!(e.contains("later"), "{e}");
    let d: Doc = toml::from_str(
        r#"
        [[rules]]
        name = "x"
        keyword = "k"
        reply = { text = "x" }
        on_slow = "kf"
        "#,
    )
    .unwrap();
    assert_eq!(d.rules[0].on_slow, Some(OnSlow::Kf));
}

#[test]
fn architecture_example_rules_compile_without_the_script_rule() {
    let set = rules(
        r#"
        [[rules]]
        name = "welcome"
        event = "subscribe"
        reply = { text = "欢迎关注!" }

        [[rules]]
        name = "help"
        keyword = "使用"
        reply = { text = "发送 产品+名称 查询产品" }

        [[rules]]
        name = "echo"
        msg_type = "text"
        reply = { text = "you said: {{ content }}" }
        "#,
    );
    assert_eq!(
        text_of(&set, &event_message("subscribe", None)),
        "欢迎关注!"
    );
    assert_eq!(
        text_of(&set, &text_message(" 使用 ")),
        "发送 产品+名称 查询产品"
    );
    assert_eq!(
        text_of(&set, &text_message("产品 abc")),
        "you said: 产品 abc"
    );
}

// ---------------------------------------------------------------- probes

#[test]
fn probe_text_and_voice() {
    let m = text_message("产品 abc");
    assert_eq!(m.msg_type, "text");
    assert_eq!(m.content(), Some("产品 abc"));
    assert_eq!(
        (m.from_user_name.as_str(), m.to_user_name.as_str()),
        (PROBE_OPENID, PROBE_ACCOUNT)
    );
    assert!(m.msg_id().is_some());
    let v = voice_message(Some("你好"));
    assert!(matches!(
        &v.kind,
        Kind::Message(Message::Voice { recognition: Some(r), format, .. }) if r == "你好" && format == "amr"
    ));
}

#[test]
fn probe_message_types() {
    for t in [
        "text",
        "image",
        "voice",
        "video",
        "shortvideo",
        "location",
        "link",
        "miniprogrampage",
    ] {
        let m = message_of_type(t);
        assert_eq!(m.msg_type, t);
        assert!(m.msg_id().is_some(), "{t}");
        let ok = match (&m.kind, t) {
            (Kind::Message(Message::Text { .. }), "text")
            | (Kind::Message(Message::Image { .. }), "image")
            | (Kind::Message(Message::Voice { .. }), "voice")
            | (Kind::Message(Message::Video { .. }), "video")
            | (Kind::Message(Message::ShortVideo { .. }), "shortvideo")
            | (Kind::Message(Message::Link { .. }), "link")
            | (Kind::Message(Message::MiniProgramPage { .. }), "miniprogrampage") => true,
            (
                Kind::Message(Message::Location {
                    latitude,
                    longitude,
                    ..
                }),
                "location",
            ) => latitude.is_some() && longitude.is_some(),
            _ => false,
        };
        assert!(ok, "{t}: {:?}", m.kind);
    }
    assert_eq!(
        message_of_type("image").media_id(),
        Some("probe_image_media_id")
    );
    let u = message_of_type("device_text");
    assert_eq!(u.msg_type, "device_text");
    assert!(
        matches!(u.kind, Kind::Message(Message::Unknown { .. })),
        "{:?}",
        u.kind
    );
    assert!(matches!(message_of_type("event").kind, Kind::Event(_)));
}

#[test]
fn probe_events() {
    let sub = event_message("subscribe", Some("qrscene_123"));
    assert_eq!(sub.msg_type, "event");
    assert_eq!(sub.event_name(), Some("subscribe"));
    assert_eq!(sub.event_key(), Some("qrscene_123"));
    assert_eq!(sub.field("Ticket"), Some("probe_ticket"));
    assert_eq!(sub.msg_id(), None);
    let plain = event_message("subscribe", None);
    assert_eq!(plain.event_key(), None);
    assert_eq!(plain.field("Ticket"), None);
    let click = event_message("CLICK", Some("MENU_1"));
    assert_eq!(
        (click.event_name(), click.event_key()),
        (Some("CLICK"), Some("MENU_1"))
    );
    let loc = event_message("LOCATION", None);
    assert!(loc.field("Latitude").is_some());
    let scan = event_message("scancode_waitmsg", Some("rselfmenu_0_0"));
    assert!(scan.root().child("ScanCodeInfo").is_some());
    let unknown = event_message("something_new", None);
    assert!(
        matches!(unknown.kind, Kind::Event(Event::Unknown { .. })),
        "{:?}",
        unknown.kind
    );
    assert_eq!(probe::PROBE_CREATE_TIME, sub.create_time);
}

#[test]
fn publishing_and_subscription_events_are_routable() {
    let set = rules(
        r#"
        [[rules]]
        name = "published"
        event = "PUBLISHJOBFINISH"
        reply = { none = true }

        [[rules]]
        name = "mass done"
        event = "MASSSENDJOBFINISH"
        reply = { none = true }

        [[rules]]
        name = "subscribed"
        event = "subscribe_msg_popup_event"
        reply = { none = true }

        [[rules]]
        name = "sent"
        event = "subscribe_msg_sent_event"
        reply = { none = true }
        "#,
    );
    for (event, rule) in [
        ("PUBLISHJOBFINISH", "published"),
        ("MASSSENDJOBFINISH", "mass done"),
        ("subscribe_msg_popup_event", "subscribed"),
        ("subscribe_msg_sent_event", "sent"),
    ] {
        assert_eq!(
            hit(&set, &event_message(event, None)).as_deref(),
            Some(rule),
            "{event}"
        );
    }
    assert_eq!(
        hit(&set, &event_message("subscribe_msg_change_event", None)),
        None
    );
    // The probes carry the fields the platform sends, so the events parse fully.
    let publish = event_message("PUBLISHJOBFINISH", None);
    let Some(Event::PublishJobFinish {
        publish_status,
        articles,
        ..
    }) = publish.event()
    else {
        panic!("not a publish event");
    };
    assert_eq!((*publish_status, articles.len()), (Some(0), 1));
    let mass = event_message("MASSSENDJOBFINISH", None);
    let Some(Event::MassSendJobFinish {
        sent_count,
        error_count,
        ..
    }) = mass.event()
    else {
        panic!("not a mass event");
    };
    assert_eq!((*sent_count, *error_count), (Some(75), Some(5)));
    let popup = event_message("subscribe_msg_popup_event", None);
    let Some(Event::SubscribeMsgPopup { items }) = popup.event() else {
        panic!("not a popup event");
    };
    assert_eq!(items[0].subscribe_status, "accept");
}
