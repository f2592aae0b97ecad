//! The dynamic reply kinds from the outside: `lookup` tables, sandboxed `script`s and signed
//! `webhook`s, compiled from TOML and run against probe messages and local HTTP servers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use wxoa_proto::message::Inbound;
use wxoa_proto::reply::{Article, Reply};
use wxoa_server::actions::{
    ActionError, HttpClient, HttpError, MemoryLaterSender, MemorySessionStore, Resources,
    ScriptSpec, Services, TableSpec,
};
use wxoa_server::config::{Config, ConfigError};
use wxoa_server::rules::probe::{PROBE_OPENID, event_message, text_message};
use wxoa_server::rules::{OnSlow, Outcome, RuleError, RuleSet, RuleSpec};

const NOW: i64 = 1_750_000_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/actions")
}

/// A fresh directory for scripts written by a test.
fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wxoa-actions-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Debug, Deserialize)]
struct Doc {
    rules: Vec<RuleSpec>,
}

fn compile_in(dir: &Path, rules: &str, resources: &Resources) -> Result<RuleSet, RuleError> {
    let doc: Doc = toml::from_str(rules).unwrap_or_else(|e| panic!("{e}"));
    RuleSet::compile_with(&doc.rules, &dir.join("wxoa.toml"), resources)
}

fn products() -> Resources {
    Resources::load(
        &[TableSpec {
            name: "products".into(),
            file: "products.csv".into(),
            keys: vec!["name".into(), "shortname".into()],
        }],
        &ScriptSpec::default(),
        &fixtures(),
    )
    .unwrap()
}

fn script_resources(spec: ScriptSpec) -> Resources {
    Resources::load(
        &[TableSpec {
            name: "products".into(),
            file: fixtures().join("products.csv").display().to_string(),
            keys: vec!["name".into(), "shortname".into()],
        }],
        &spec,
        &fixtures(),
    )
    .unwrap()
}

struct Env {
    services: Services,
    sessions: Arc<MemorySessionStore>,
    later: Arc<MemoryLaterSender>,
}

fn env() -> Env {
    let sessions = Arc::new(MemorySessionStore::new());
    let later = Arc::new(MemoryLaterSender::new());
    Env {
        services: Services::new(sessions.clone(), later.clone(), HttpClient::new().unwrap()),
        sessions,
        later,
    }
}

fn text_of(outcome: Outcome) -> String {
    match outcome {
        Outcome::Matched {
            reply: Some(Reply::Text { content }),
            ..
        } => content,
        other => panic!("not a text answer: {other:?}"),
    }
}

async fn run(set: &RuleSet, msg: &Inbound, env: &Env) -> Result<Option<Reply>, ActionError> {
    match set.respond(msg, NOW).unwrap() {
        Outcome::Action { call, .. } => call.run(&env.services).await,
        other => panic!("not an action: {other:?}"),
    }
}

async fn run_text(set: &RuleSet, msg: &Inbound, env: &Env) -> String {
    match run(set, msg, env).await {
        Ok(Some(Reply::Text { content })) => content,
        other => panic!("not a text answer: {other:?}"),
    }
}

/// A one-rule set running `source` as a script for every text message.
fn script_rule(source: &str, spec: ScriptSpec) -> RuleSet {
    let dir = scratch();
    std::fs::write(dir.join("s.rhai"), source).unwrap();
    let set = compile_in(
        &dir,
        r#"
        [[rules]]
        name = "s"
        regex = '^(?<word>\w*)(.*)$'
        reply = { script = "s.rhai" }
        "#,
        &script_resources(spec),
    );
    // Compiled scripts are kept in memory; the file is no longer needed.
    std::fs::remove_dir_all(&dir).unwrap();
    set.unwrap_or_else(|e| panic!("{e}"))
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// A server that accepts connections and never answers.
async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

// ---------------------------------------------------------------- lookup

const PRODUCT_RULES: &str = r#"
[[rules]]
name = "product"
regex = '^产品\s*(?<name>.*)$'
reply = { lookup = { table = "products", key = "{{ captures.name }}", found = """
产品名称：{{ row.name }}
{% if row.has_chinese_ui == 'yes' %}提供中文界面{% else %}不提供中文界面{% endif %}
最后中文版本：{{ row.last_build or '和英文版同步' }}
网站：{{ row.website }}
简介：{{ row.description }}""", not_found = """
没有该产品的信息。
当前提供以下产品信息(不区分大小写)：
{{ keys | join('\n') }}""" } }

[[rules]]
name = "bare-product"
msg_type = "text"
reply = { lookup = { table = "products", key = "{{ content }}", found = "{{ row.name }} ({{ key }})" } }

[[rules]]
name = "fallback"
msg_type = "text"
reply = { text = "fallback" }
"#;

#[test]
fn lookup_found_renders_every_column() {
    let set = compile_in(&fixtures(), PRODUCT_RULES, &products()).unwrap();
    assert_eq!(
        text_of(set.respond(&text_message("产品 VSCODE"), NOW).unwrap()),
        "产品名称：Visual Studio Code\n提供中文界面\n最后中文版本：和英文版同步\n\
         网站：https://code.visualstudio.com\n简介：微软的开源代码编辑器"
    );
    let gimp = text_of(set.respond(&text_message("产品gimp"), NOW).unwrap());
    assert!(gimp.contains("最后中文版本：2.10.38"), "{gimp}");
    assert!(gimp.contains("简介：GNU 图像处理程序, 开源"), "{gimp}");
    let vim = text_of(set.respond(&text_message("产品 Vi"), NOW).unwrap());
    assert!(vim.contains("不提供中文界面"), "{vim}");
}

#[test]
fn lookup_not_found_lists_every_key() {
    let set = compile_in(&fixtures(), PRODUCT_RULES, &products()).unwrap();
    let expected = "没有该产品的信息。\n当前提供以下产品信息(不区分大小写)：\n\
                    Visual Studio Code或vscode\nGIMP\nVim或vi";
    assert_eq!(
        text_of(set.respond(&text_message("产品 emacs"), NOW).unwrap()),
        expected
    );
    // A missing name is not found either.
    assert_eq!(
        text_of(set.respond(&text_message("产品"), NOW).unwrap()),
        expected
    );
}

#[test]
fn lookup_without_not_found_falls_through() {
    let set = compile_in(&fixtures(), PRODUCT_RULES, &products()).unwrap();
    let hit = set
        .respond(&text_message("  visual studio CODE "), NOW)
        .unwrap();
    match &hit {
        Outcome::Matched { rule, .. } => assert_eq!(&**rule, "bare-product"),
        other => panic!("{other:?}"),
    }
    assert_eq!(text_of(hit), "Visual Studio Code (visual studio CODE)");
    assert_eq!(
        text_of(set.respond(&text_message("hello"), NOW).unwrap()),
        "fallback"
    );
}

#[test]
fn lookup_compile_errors_name_the_field() {
    let e = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "p"
        keyword = "p"
        reply = { lookup = { table = "prodcts", key = "{{ content }}", found = "x" } }
        "#,
        &products(),
    )
    .unwrap_err();
    assert_eq!(e.field(), "reply.lookup.table");
    assert!(e.message().contains("tables: products"), "{e}");
    let e = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "p"
        keyword = "p"
        reply = { lookup = { table = "products", key = "{{ content }}", found = "{{ row.name | shout }}" } }
        "#,
        &products(),
    )
    .unwrap_err();
    assert_eq!(e.field(), "reply.lookup.found");
    assert!(e.message().contains("unknown filter"), "{e}");
    let e = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "p"
        keyword = "p"
        reply = { lookup = { table = "products", key = " ", found = "x" } }
        "#,
        &products(),
    )
    .unwrap_err();
    assert_eq!(e.field(), "reply.lookup.key");
}

#[test]
fn lookup_rows_variable_and_custom_separator() {
    let set = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "all"
        keyword = "all"
        reply = { lookup = { table = "products", key = "-", found = "x", not_found = "{% for r in rows %}{{ r.name }};{% endfor %}|{{ keys | join(',') }}|{{ table }}", key_separator = "/" } }
        "#,
        &products(),
    )
    .unwrap();
    assert_eq!(
        text_of(set.respond(&text_message("all"), NOW).unwrap()),
        "Visual Studio Code;GIMP;Vim;|Visual Studio Code/vscode,GIMP,Vim/vi|products"
    );
}

#[test]
fn config_loads_tables_relative_to_the_config_file() {
    let text = format!(
        r#"
[account]
appid = "wx1234567890abcdef"
token = "wxoatoken"

[[tables]]
name = "products"
file = "products.csv"
keys = ["name", "shortname"]

[script]
http_allow = ["api.example.com"]
max_operations = 5000

[script.vars]
joke_url = "https://api.example.com/joke"

{PRODUCT_RULES}
"#
    );
    let config = Config::from_toml(&text, &fixtures().join("wxoa.toml")).unwrap();
    assert_eq!(config.resources.tables().len(), 1);
    assert_eq!(
        config.resources.table_files(),
        [fixtures().join("products.csv")]
    );
    assert_eq!(config.resources.script().max_operations(), 5000);
    assert_eq!(
        text_of(
            config
                .rules
                .respond(&text_message("产品 gimp"), NOW)
                .unwrap()
        )
        .lines()
        .next(),
        Some("产品名称：GIMP")
    );

    let bad = text.replace("keys = [\"name\", \"shortname\"]", "keys = [\"nom\"]");
    let e = Config::from_toml(&bad, &fixtures().join("wxoa.toml")).unwrap_err();
    assert!(matches!(e, ConfigError::Actions { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("tables[1] \"products\""), "{e}");
    assert!(e.contains("`nom` is not in the header row"), "{e}");

    let bad = text.replace("max_operations = 5000", "max_operations = 5");
    let e = Config::from_toml(&bad, &fixtures().join("wxoa.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("script.max_operations"), "{e}");
    let bad = text.replace("[script]", "[script]\nmax_opertions = 1");
    let e = Config::from_toml(&bad, &fixtures().join("wxoa.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_opertions"), "{e}");
}

// ---------------------------------------------------------------- script

fn goodluck() -> RuleSet {
    compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "lottery"
        regex = '^goodluck\*?(\d*)$'
        reply = { script = "scripts/goodluck.rhai" }
        on_slow = "kf"
        on_error = "出错了"
        "#,
        &products(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn check_pick(line: &str) {
    let (reds, blue) = line.split_once(" - ").unwrap_or_else(|| panic!("{line:?}"));
    let reds: Vec<i64> = reds.split(' ').map(|n| n.parse().unwrap()).collect();
    assert_eq!(reds.len(), 6, "{line}");
    assert!(reds.windows(2).all(|w| w[0] < w[1]), "{line}");
    assert!(reds.iter().all(|n| (1..=33).contains(n)), "{line}");
    let blue: i64 = blue.parse().unwrap();
    assert!((1..=16).contains(&blue), "{line}");
}

#[tokio::test]
async fn script_goodluck_counts_caps_and_ranges() {
    let set = goodluck();
    let env = env();
    match set.respond(&text_message("goodluck*3"), NOW).unwrap() {
        Outcome::Action {
            rule,
            call,
            on_slow,
            on_error,
            placeholder,
        } => {
            assert_eq!(&*rule, "lottery");
            assert_eq!(call.kind(), "script");
            assert!(
                call.target().ends_with("goodluck.rhai"),
                "{}",
                call.target()
            );
            assert_eq!(call.captures().groups(), ["goodluck*3", "3"]);
            assert_eq!(call.now(), NOW);
            assert_eq!(
                (on_slow, on_error.as_deref(), placeholder),
                (OnSlow::Kf, Some("出错了"), None)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        set.script_files(),
        [fixtures().join("scripts/goodluck.rhai")]
    );
    for (msg, lines) in [("goodluck", 1), ("goodluck*3", 3), ("goodluck10", 10)] {
        let text = run_text(&set, &text_message(msg), &env).await;
        assert_eq!(text.lines().count(), lines, "{msg}: {text}");
        text.lines().for_each(check_pick);
    }
    for msg in ["goodluck*11", "goodluck99999999999999999999"] {
        let text = run_text(&set, &text_message(msg), &env).await;
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("太多了，先来10个吧:)"), "{msg}");
        assert_eq!(lines.clone().count(), 10, "{msg}");
        lines.for_each(check_pick);
    }
    // Many draws cover the whole ranges.
    let mut seen_red = [false; 34];
    let mut seen_blue = [false; 17];
    for _ in 0..40 {
        let text = run_text(&set, &text_message("goodluck10"), &env).await;
        for line in text.lines() {
            check_pick(line);
            let (reds, blue) = line.split_once(" - ").unwrap();
            for r in reds.split(' ') {
                seen_red[r.parse::<usize>().unwrap()] = true;
            }
            seen_blue[blue.parse::<usize>().unwrap()] = true;
        }
    }
    assert!(seen_red[1..].iter().all(|s| *s), "some red never drawn");
    assert!(seen_blue[1..].iter().all(|s| *s), "some blue never drawn");
}

#[tokio::test]
async fn script_sees_the_template_variables() {
    let set = script_rule(
        r#"`${content}|${from}|${to}|${msg_type}|${create_time}|${now}|${now()}|${captures[1]}|${named.word}|${rule}|${event}|${captures.len()}`"#,
        ScriptSpec::default(),
    );
    let env = env();
    let text = run_text(&set, &text_message("hello world"), &env).await;
    assert_eq!(
        text,
        format!("hello world|{PROBE_OPENID}|gh_probe|text|1700000000|{NOW}|{NOW}|hello|hello|s||3")
    );
}

#[tokio::test]
async fn script_reply_helpers() {
    let env = env();
    let cases: Vec<(&str, Option<Reply>)> = vec![
        (r#"text("hi")"#, Some(Reply::text("hi"))),
        (
            r#"#{ text: "{{ content }}" }"#,
            Some(Reply::text("{{ content }}")),
        ),
        (
            r#"image("M1")"#,
            Some(Reply::Image {
                media_id: "M1".into(),
            }),
        ),
        (
            r#"voice("V1")"#,
            Some(Reply::Voice {
                media_id: "V1".into(),
            }),
        ),
        (
            r#"video(#{ media_id: "V", title: "t" })"#,
            Some(Reply::Video {
                media_id: "V".into(),
                title: Some("t".into()),
                description: None,
            }),
        ),
        (
            r#"music(#{ thumb_media_id: "T", music_url: "u" })"#,
            Some(Reply::Music {
                title: None,
                description: None,
                music_url: Some("u".into()),
                hq_music_url: None,
                thumb_media_id: "T".into(),
            }),
        ),
        (
            r#"news([#{ title: "a", url: "u" }, #{ title: "b", description: "d", pic_url: "p" }])"#,
            Some(Reply::News {
                articles: vec![
                    Article {
                        title: "a".into(),
                        url: "u".into(),
                        ..Article::default()
                    },
                    Article {
                        title: "b".into(),
                        description: "d".into(),
                        pic_url: "p".into(),
                        ..Article::default()
                    },
                ],
            }),
        ),
        (
            r#"transfer_kf("a@kf")"#,
            Some(Reply::TransferCustomerService {
                kf_account: Some("a@kf".into()),
            }),
        ),
        (
            "transfer_kf()",
            Some(Reply::TransferCustomerService { kf_account: None }),
        ),
        ("no_reply()", None),
        ("()", None),
        (r#""""#, None),
    ];
    for (source, expected) in cases {
        let set = script_rule(source, ScriptSpec::default());
        let got = run(&set, &text_message("x"), &env).await;
        assert_eq!(got.unwrap(), expected, "{source}");
    }
}

#[tokio::test]
async fn script_bad_values_are_errors() {
    let env = env();
    for (source, needle) in [
        ("42", "type i64"),
        (r#"#{ txt: "a" }"#, "unknown reply kind `txt`"),
        (r#"news([])"#, "at least one article"),
        (r#"#{ script: "x.rhai" }"#, "cannot be given as an answer"),
    ] {
        let set = script_rule(source, ScriptSpec::default());
        match run(&set, &text_message("x"), &env).await {
            Err(e @ ActionError::ScriptResult { .. }) => {
                assert!(e.to_string().contains(needle), "{source}: {e}");
            }
            other => panic!("{source}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn script_lookup_and_named_captures() {
    let set = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "p"
        regex = '^p (?<name>.+)$'
        reply = { script = "scripts/product.rhai" }
        "#,
        &products(),
    )
    .unwrap();
    let env = env();
    match run(&set, &text_message("p VSCode"), &env).await.unwrap() {
        Some(Reply::News { articles }) => {
            assert_eq!(articles[0].title, "Visual Studio Code");
            assert_eq!(articles[0].url, "https://code.visualstudio.com");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        run(&set, &text_message("p emacs"), &env).await.unwrap(),
        Some(Reply::text("没有 emacs"))
    );
    let set = script_rule(r#"lookup("nope", "x")"#, ScriptSpec::default());
    let e = run(&set, &text_message("x"), &env).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("no table named `nope` (tables: products)"),
        "{e}"
    );
}

#[tokio::test]
async fn script_session_persists_per_follower() {
    let set = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "count"
        msg_type = "text"
        reply = { script = "scripts/counter.rhai" }
        "#,
        &products(),
    )
    .unwrap();
    let env = env();
    assert_eq!(run_text(&set, &text_message("a"), &env).await, "第1次");
    assert_eq!(run_text(&set, &text_message("b"), &env).await, "第2次");
    let stored = env.sessions.get(PROBE_OPENID).unwrap();
    assert_eq!(stored["count"], 2);
}

#[tokio::test]
async fn script_session_must_stay_a_map_and_small() {
    let env = env();
    let set = script_rule("session = 5; \"x\"", ScriptSpec::default());
    let e = run(&set, &text_message("x"), &env).await.unwrap_err();
    assert!(e.to_string().contains("`session` must stay a map"), "{e}");
    let set = script_rule(
        r#"let s = ""; for i in 0..200 { s += "xxxxxxxxxx"; } session.big = s; "ok""#,
        ScriptSpec {
            max_session_bytes: 1000,
            ..ScriptSpec::default()
        },
    );
    let e = run(&set, &text_message("x"), &env).await.unwrap_err();
    assert!(matches!(e, ActionError::ScriptBudget { .. }), "{e}");
    assert!(env.sessions.get(PROBE_OPENID).is_none());
}

#[tokio::test]
async fn script_send_later_goes_to_the_later_sender() {
    let env = env();
    let set = script_rule(
        r#"send_later("second"); send_later(image("M")); send_later(no_reply()); "first""#,
        ScriptSpec::default(),
    );
    assert_eq!(run_text(&set, &text_message("x"), &env).await, "first");
    assert_eq!(
        env.later.take(),
        vec![
            (PROBE_OPENID.to_owned(), Reply::text("second")),
            (
                PROBE_OPENID.to_owned(),
                Reply::Image {
                    media_id: "M".into()
                }
            ),
        ]
    );
    // Nothing is sent when the script fails afterwards, and the count is limited.
    let set = script_rule(r#"send_later("x"); throw "boom""#, ScriptSpec::default());
    assert!(run(&set, &text_message("x"), &env).await.is_err());
    assert!(env.later.sent().is_empty());
    let set = script_rule(
        r#"for i in 0..3 { send_later("x") } "y""#,
        ScriptSpec {
            max_send_later: 2,
            ..ScriptSpec::default()
        },
    );
    let e = run(&set, &text_message("x"), &env).await.unwrap_err();
    assert!(e.to_string().contains("max_send_later"), "{e}");
}

#[tokio::test]
async fn sandbox_stops_an_endless_loop() {
    let env = env();
    for source in ["loop { }", "let x = 0; while true { x += 1; }"] {
        let set = script_rule(
            source,
            ScriptSpec {
                max_operations: 20_000,
                ..ScriptSpec::default()
            },
        );
        match run(&set, &text_message("x"), &env).await {
            Err(e @ ActionError::ScriptBudget { .. }) => {
                assert!(e.to_string().contains("20000 operations"), "{e}");
            }
            other => panic!("{source}: {other:?}"),
        }
    }
    // The default budget stops it too.
    let set = script_rule("loop { }", ScriptSpec::default());
    let e = run(&set, &text_message("x"), &env).await.unwrap_err();
    assert!(e.to_string().contains("1000000 operations"), "{e}");
    // try/catch cannot swallow the budget.
    let set = script_rule(
        r#"try { loop { } } catch { "escaped" }"#,
        ScriptSpec {
            max_operations: 5_000,
            ..ScriptSpec::default()
        },
    );
    assert!(matches!(
        run(&set, &text_message("x"), &env).await,
        Err(ActionError::ScriptBudget { .. })
    ));
}

#[tokio::test]
async fn sandbox_stops_oversize_data_and_deep_recursion() {
    let env = env();
    for (source, needle) in [
        (r#"let s = "x"; loop { s += s; }"#, "max_string_bytes"),
        ("let a = []; loop { a.push(1); }", "max_array_len"),
        (
            "let m = #{}; let i = 0; loop { m.set(`k${i}`, i); i += 1; }",
            "max_map_len",
        ),
        ("fn f(n) { f(n + 1) } f(0)", "max_call_depth"),
    ] {
        let spec = ScriptSpec {
            max_array_len: 1000,
            max_map_len: 1000,
            ..ScriptSpec::default()
        };
        let set = script_rule(source, spec);
        match run(&set, &text_message("x"), &env).await {
            Err(e @ ActionError::ScriptBudget { .. }) => {
                assert!(e.to_string().contains(needle), "{source}: {e}");
            }
            other => panic!("{source}: {other:?}"),
        }
    }
}

#[test]
fn sandbox_has_no_import_or_eval_and_strict_variables() {
    let dir = scratch();
    let resources = script_resources(ScriptSpec::default());
    for (source, needle) in [
        (r#"import "os" as os; 1"#, "import"),
        (r#"eval("1")"#, "eval"),
        ("contnet", "contnet"),
    ] {
        std::fs::write(dir.join("s.rhai"), source).unwrap();
        let e = compile_in(
            &dir,
            r#"
            [[rules]]
            name = "s"
            keyword = "s"
            reply = { script = "s.rhai" }
            "#,
            &resources,
        )
        .unwrap_err();
        assert_eq!(e.field(), "reply.script", "{source}");
        assert!(e.message().contains(needle), "{source}: {e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn script_syntax_error_names_file_line_and_column() {
    let e = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "broken"
        keyword = "b"
        reply = { script = "scripts/syntax_error.rhai" }
        "#,
        &products(),
    )
    .unwrap_err();
    assert_eq!(
        (e.index(), e.rule_name(), e.field()),
        (1, "broken", "reply.script")
    );
    let expected_file = fixtures().join("scripts/syntax_error.rhai");
    assert!(
        e.message()
            .starts_with(&format!("{}:3:", expected_file.display())),
        "{e}"
    );
    assert!(e.message().contains("syntax error"), "{e}");
    let e = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "missing"
        keyword = "m"
        reply = { script = "scripts/nope.rhai" }
        "#,
        &products(),
    )
    .unwrap_err();
    assert!(e.message().contains("cannot read"), "{e}");
    assert!(e.message().contains("nope.rhai"), "{e}");
}

#[tokio::test]
async fn script_runtime_error_has_line_and_column() {
    let env = env();
    let set = script_rule(
        "let a = 1;\nlet b = 2;\nthrow \"boom\";",
        ScriptSpec::default(),
    );
    match run(&set, &text_message("x"), &env).await {
        Err(ActionError::ScriptRuntime {
            line,
            message,
            file,
            ..
        }) => {
            assert_eq!(line, 3);
            assert!(message.contains("boom"), "{message}");
            assert!(file.ends_with("s.rhai"));
        }
        other => panic!("{other:?}"),
    }
    let set = script_rule("random(5, 1)", ScriptSpec::default());
    let e = run(&set, &text_message("x"), &env).await.unwrap_err();
    assert!(e.to_string().contains("random(5, 1)"), "{e}");
}

#[tokio::test]
async fn script_http_refuses_hosts_off_the_list() {
    let env = env();
    let set = script_rule(
        r#"http_get("https://evil.example/steal")"#,
        ScriptSpec {
            http_allow: vec!["api.example.com".into()],
            ..ScriptSpec::default()
        },
    );
    match run(&set, &text_message("x"), &env).await {
        Err(ActionError::Http {
            source: HttpError::HostNotAllowed { host, allowed },
            line,
            ..
        }) => {
            assert_eq!(host, "evil.example");
            assert_eq!(allowed, "api.example.com");
            assert_eq!(line, 1);
        }
        other => panic!("{other:?}"),
    }
    // A script may catch it and answer something else.
    let set = script_rule(
        r#"let r = (); try { r = http_get("http://127.0.0.1:9/"); } catch (e) { r = "caught: " + e; } r"#,
        ScriptSpec::default(),
    );
    let text = run_text(&set, &text_message("x"), &env).await;
    assert!(
        text.starts_with("caught: host `127.0.0.1:9` is not allowed"),
        "{text}"
    );
}

#[tokio::test]
async fn script_http_get_and_post_json() {
    let addr = serve(
        Router::new()
            .route(
                "/joke",
                get(|| async {
                    (
                        [("content-type", "application/json")],
                        r#"{"joke": "程序员的笑话", "id": 7}"#,
                    )
                }),
            )
            .route("/plain", get(|| async { "just text" }))
            .route(
                "/echo",
                post(|body: Bytes| async move { ([("content-type", "application/json")], body) }),
            )
            .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no") }))
            .route(
                "/hop",
                get(|| async { (StatusCode::FOUND, [("location", "https://evil.example/x")]) }),
            ),
    )
    .await;
    let env = env();
    let spec = || ScriptSpec {
        http_allow: vec!["127.0.0.1".into()],
        ..ScriptSpec::default()
    };
    let set = script_rule(
        &format!(
            r#"let j = http_get("http://{addr}/joke");
               let p = http_get("http://{addr}/plain");
               let e = http_post_json("http://{addr}/echo", #{{ a: [1, 2], b: content }});
               `${{j.joke}}|${{j.id}}|${{p}}|${{e.a[1]}}|${{e.b}}`"#
        ),
        spec(),
    );
    assert_eq!(
        run_text(&set, &text_message("hi"), &env).await,
        "程序员的笑话|7|just text|2|hi"
    );
    let set = script_rule(&format!(r#"http_get("http://{addr}/missing")"#), spec());
    match run(&set, &text_message("x"), &env).await {
        Err(ActionError::Http {
            source: HttpError::Status { status, .. },
            ..
        }) => assert_eq!(status, 404),
        other => panic!("{other:?}"),
    }
    // A redirect to a host off the list is refused.
    let set = script_rule(&format!(r#"http_get("http://{addr}/hop")"#), spec());
    match run(&set, &text_message("x"), &env).await {
        Err(ActionError::Http {
            source: HttpError::HostNotAllowed { host, .. },
            ..
        }) => assert_eq!(host, "evil.example"),
        other => panic!("{other:?}"),
    }
    // The call budget.
    let set = script_rule(
        &format!(r#"for i in 0..3 {{ http_get("http://{addr}/plain"); }} "done""#),
        ScriptSpec {
            max_http_calls: 2,
            ..spec()
        },
    );
    match run(&set, &text_message("x"), &env).await {
        Err(ActionError::Http {
            source: HttpError::TooManyCalls { limit },
            ..
        }) => assert_eq!(limit, 2),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn script_http_timeout() {
    let addr = silent_server().await;
    let env = env();
    let set = script_rule(
        &format!(r#"http_get("http://{addr}/slow")"#),
        ScriptSpec {
            http_allow: vec!["127.0.0.1".into()],
            http_timeout_ms: 200,
            ..ScriptSpec::default()
        },
    );
    match run(&set, &text_message("x"), &env).await {
        Err(ActionError::Http {
            source: HttpError::Timeout { timeout_ms, .. },
            ..
        }) => assert_eq!(timeout_ms, 200),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn scripts_run_for_events_too() {
    let dir = scratch();
    std::fs::write(dir.join("e.rhai"), r#"`${event}:${event_key}:${content}`"#).unwrap();
    let set = compile_in(
        &dir,
        r#"
        [[rules]]
        name = "menu"
        event = "CLICK"
        reply = { script = "e.rhai" }
        "#,
        &script_resources(ScriptSpec::default()),
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let env = env();
    assert_eq!(
        run_text(&set, &event_message("CLICK", Some("K1")), &env).await,
        "CLICK:K1:"
    );
}

// ---------------------------------------------------------------- webhook

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A backend at `/hook` that records requests and answers `status` with `body`.
async fn backend(status: StatusCode, body: &'static str) -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let addr = serve(Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body_in: Bytes| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push((headers, body_in));
                (status, [("content-type", "application/json")], body)
            }
        }),
    ))
    .await;
    (addr, seen)
}

fn webhook_rule(url: &str, extra: &str) -> RuleSet {
    compile_in(
        &fixtures(),
        &format!(
            r#"
            [[rules]]
            name = "hook"
            regex = '^ask (?<q>.+)$'
            reply = {{ webhook = "{url}"{extra} }}
            on_error = "稍后再试"
            "#
        ),
        &Resources::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Compile a webhook rule whose secret comes from an environment variable.
#[allow(clippy::result_large_err)] // figment::Jail's closure type
fn signed_webhook_rule(url: &str) -> RuleSet {
    let mut set = None;
    figment::Jail::expect_with(|jail| {
        jail.set_env("WXOA_TEST_HOOK_SECRET", "s3cret-key");
        set = Some(webhook_rule(
            url,
            r#", secret_env = "WXOA_TEST_HOOK_SECRET", timeout_ms = 2000"#,
        ));
        Ok(())
    });
    set.unwrap()
}

#[tokio::test]
async fn webhook_posts_signed_json_and_renders_the_reply_literally() {
    let (addr, seen) = backend(StatusCode::OK, r#"{"text": "答案 {{ content }}"}"#).await;
    let set = signed_webhook_rule(&format!("http://{addr}/hook"));
    let env = env();
    assert_eq!(
        run(&set, &text_message("ask 天气"), &env).await.unwrap(),
        Some(Reply::text("答案 {{ content }}"))
    );
    let (headers, body) = seen.lock().unwrap().pop().unwrap();
    let ts = headers["x-wxoa-timestamp"].to_str().unwrap();
    assert_eq!(ts, NOW.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret-key").unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&body);
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(headers["x-wxoa-signature"].to_str().unwrap(), expected);
    assert_eq!(headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["FromUserName"], PROBE_OPENID);
    assert_eq!(json["MsgType"], "text");
    assert_eq!(json["Content"], "ask 天气");
    assert_eq!(json["CreateTime"], 1_700_000_000);
    assert_eq!(json["captures"], serde_json::json!(["ask 天气", "天气"]));
    assert_eq!(json["named"], serde_json::json!({"q": "天气"}));
    assert_eq!(json["rule"], "hook");
}

#[tokio::test]
async fn webhook_unsigned_without_secret_env_and_news_reply() {
    let (addr, seen) = backend(
        StatusCode::OK,
        r#"{"news": [{"title": "t", "url": "https://x/"}]}"#,
    )
    .await;
    let set = webhook_rule(&format!("http://{addr}/hook"), "");
    let env = env();
    match run(&set, &text_message("ask x"), &env).await.unwrap() {
        Some(Reply::News { articles }) => assert_eq!(articles[0].title, "t"),
        other => panic!("{other:?}"),
    }
    let (headers, _) = seen.lock().unwrap().pop().unwrap();
    assert!(headers.contains_key("x-wxoa-timestamp"));
    assert!(!headers.contains_key("x-wxoa-signature"));
}

#[tokio::test]
async fn webhook_204_is_no_reply() {
    let (addr, seen) = backend(StatusCode::NO_CONTENT, "").await;
    let set = webhook_rule(&format!("http://{addr}/hook"), "");
    assert_eq!(
        run(&set, &text_message("ask x"), &env()).await.unwrap(),
        None
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn webhook_errors_are_specific() {
    let env = env();
    let (addr, _) = backend(StatusCode::INTERNAL_SERVER_ERROR, "backend exploded").await;
    let set = webhook_rule(&format!("http://{addr}/hook"), "");
    match set.respond(&text_message("ask x"), NOW).unwrap() {
        Outcome::Action { on_error, call, .. } => {
            assert_eq!(on_error.as_deref(), Some("稍后再试"));
            assert_eq!(call.kind(), "webhook");
            match call.run(&env.services).await {
                Err(e @ ActionError::WebhookStatus { status: 500, .. }) => {
                    assert!(e.to_string().contains("backend exploded"), "{e}");
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }

    for body in [
        "not json",
        r#"{"txt": "a"}"#,
        r#"{"text": "a", "image": "b"}"#,
        "",
    ] {
        let (addr, _) = backend(StatusCode::OK, body).await;
        let set = webhook_rule(&format!("http://{addr}/hook"), "");
        match run(&set, &text_message("ask x"), &env).await {
            Err(ActionError::WebhookBadReply { .. }) => {}
            other => panic!("{body:?}: {other:?}"),
        }
    }

    let (addr, _) = backend(StatusCode::CREATED, r#"{"text": "a"}"#).await;
    let set = webhook_rule(&format!("http://{addr}/hook"), "");
    assert!(matches!(
        run(&set, &text_message("ask x"), &env).await,
        Err(ActionError::WebhookStatus { status: 201, .. })
    ));

    // Nothing listens on a port just released.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let set = webhook_rule(&format!("http://{closed}/hook"), "");
    assert!(matches!(
        run(&set, &text_message("ask x"), &env).await,
        Err(ActionError::WebhookTransport { .. })
    ));
}

#[tokio::test]
async fn webhook_timeout() {
    let addr = silent_server().await;
    let set = webhook_rule(&format!("http://{addr}/hook"), ", timeout_ms = 200");
    let started = std::time::Instant::now();
    match run(&set, &text_message("ask x"), &env()).await {
        Err(ActionError::WebhookTimeout { timeout_ms, .. }) => assert_eq!(timeout_ms, 200),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn webhook_config_errors() {
    let e = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "h"
        keyword = "h"
        reply = { webhook = "https://b.test/x", secret_env = "WXOA_TEST_UNSET_SECRET_7F3A" }
        "#,
        &Resources::default(),
    )
    .unwrap_err();
    assert_eq!(e.field(), "reply.secret_env");
    assert!(e.message().contains("WXOA_TEST_UNSET_SECRET_7F3A"), "{e}");
    let e = compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "h"
        keyword = "h"
        reply = { webhook = "backend/x" }
        "#,
        &Resources::default(),
    )
    .unwrap_err();
    assert_eq!(e.field(), "reply.webhook");
}

// ---------------------------------------------------------------- reload

#[tokio::test]
async fn scripts_reload_with_the_rules_and_a_bad_edit_keeps_the_old_one() {
    let dir = scratch();
    let config_path = dir.join("wxoa.toml");
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(
        &config_path,
        r#"
[account]
appid = "wx1234567890abcdef"
token = "wxoatoken"

[[rules]]
name = "hello"
msg_type = "text"
reply = { script = "scripts/hello.rhai" }
"#,
    )
    .unwrap();
    let script = dir.join("scripts/hello.rhai");
    std::fs::write(&script, r#""v1""#).unwrap();
    let config = Config::load(&config_path).unwrap();
    let app = wxoa_server::App::new(&config, Arc::new(wxoa_server::clock::FixedClock::new(NOW)));
    let env = env();
    assert_eq!(run_text(&app.rules(), &text_message("x"), &env).await, "v1");

    std::fs::write(&script, "let x = 1;\nlet y = ;\n").unwrap();
    let e = wxoa_server::reload::reload_rules(&app, &config_path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("{}:2:", script.display())),
        "the error names file and line: {e}"
    );
    assert_eq!(run_text(&app.rules(), &text_message("x"), &env).await, "v1");

    std::fs::write(&script, r#""v2""#).unwrap();
    wxoa_server::reload::reload_rules(&app, &config_path).unwrap();
    assert_eq!(run_text(&app.rules(), &text_message("x"), &env).await, "v2");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------- vars, rows: the joke fallback

fn joke_rule(url: &str, timeout_ms: u64) -> RuleSet {
    let mut vars = serde_json::Map::new();
    vars.insert("joke_url".into(), serde_json::Value::from(url));
    let resources = Resources::load(
        &[TableSpec {
            name: "jokes".into(),
            file: "jokes.csv".into(),
            keys: Vec::new(),
        }],
        &ScriptSpec {
            http_allow: vec!["127.0.0.1".into()],
            http_timeout_ms: timeout_ms,
            vars,
            ..ScriptSpec::default()
        },
        &fixtures(),
    )
    .unwrap();
    compile_in(
        &fixtures(),
        r#"
        [[rules]]
        name = "joke"
        msg_type = "text"
        reply = { script = "scripts/joke.rhai" }
        "#,
        &resources,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

const FOOTER: &str = "\n\n* 输入“使用”和我们交流吧。";

fn local_jokes() -> Vec<String> {
    std::fs::read_to_string(fixtures().join("jokes.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap().1.to_owned())
        .collect()
}

#[tokio::test]
async fn joke_comes_from_the_configured_url() {
    let addr = serve(Router::new().route(
        "/joke",
        get(|| async {
            (
                [("content-type", "application/json")],
                r#"{"joke": "远程的笑话"}"#,
            )
        }),
    ))
    .await;
    let set = joke_rule(&format!("http://{addr}/joke"), 2000);
    assert_eq!(
        run_text(&set, &text_message("你好"), &env()).await,
        format!("远程的笑话{FOOTER}")
    );
}

#[tokio::test]
async fn joke_falls_back_to_the_local_table_when_the_fetch_fails_or_is_slow() {
    let failing =
        serve(Router::new().route("/joke", get(|| async { (StatusCode::BAD_GATEWAY, "down") })))
            .await;
    let silent = silent_server().await;
    let jokes = local_jokes();
    for url in [
        format!("http://{failing}/joke"),
        format!("http://{silent}/joke"),
        "https://not-allowed.example/joke".to_owned(),
    ] {
        let set = joke_rule(&url, 200);
        let text = run_text(&set, &text_message("你好"), &env()).await;
        let joke = text
            .strip_suffix(FOOTER)
            .unwrap_or_else(|| panic!("{text}"));
        assert!(jokes.iter().any(|j| j == joke), "{url}: {text}");
    }
}
