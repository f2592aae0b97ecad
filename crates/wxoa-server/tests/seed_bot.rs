//! The seed bot (`examples/seed-bot/`) as shipped: every rule driven end to end through
//! [`App::answer`] with signed plaintext pushes, in-memory services and local HTTP servers
//! standing in for the joke URL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use wxoa_proto::reply::Reply;
use wxoa_proto::signature::sign;
use wxoa_server::app::Source;
use wxoa_server::clock::FixedClock;
use wxoa_server::push::{PushQuery, decode_push};
use wxoa_server::{App, Config};

const NOW: i64 = 1_750_000_000;
const FOLLOWER: &str = "oSeedFollower";
const ACCOUNT: &str = "gh_seedbot";

const WELCOME: &str = "欢迎关注！\n输入“使用”和我们交流吧。";
const FOOTER: &str = "\n\n* 输入“使用”和我们交流吧。";
const USAGE: &str = "可以这样和我们交流：\n\
    产品 名称 —— 查询产品信息，例如“产品 vscode”；直接发送产品名称或简称也可以（不区分大小写）\n\
    归档 名称 —— 查看产品的历史版本\n\
    goodluck —— 来一注双色球号码；goodluck*5 或 goodluck5 来5注（最多10注）\n\
    使用 —— 显示本说明\n\
    其他任意内容 —— 讲个笑话";
const NOT_FOUND: &str = "没有该产品的信息。\n当前提供以下产品信息(不区分大小写)：\n\
    Visual Studio Code或vscode\n\
    Mozilla Firefox或firefox\n\
    LibreOffice或libo\n\
    GIMP\n\
    7-Zip或7z\n\
    Notepad++或npp\n\
    VLC media player或vlc\n\
    Sublime Text或subl";
const TOO_MANY: &str = "太多了，先来10个吧:)";

/// The shipped joke settings, replaced by the joke tests.
const SHIPPED_ALLOW: &str = r#"http_allow = ["v2.jokeapi.dev"]"#;
const SHIPPED_JOKE_URL: &str =
    r#"joke_url = "https://v2.jokeapi.dev/joke/Programming?type=single&safe-mode""#;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-bot")
}

fn config_path() -> PathBuf {
    example_dir().join("wxoa.toml")
}

fn shipped_text() -> String {
    std::fs::read_to_string(config_path()).unwrap()
}

/// The config from `text`, as if read from the example's own path (no environment overrides).
fn config_from(text: &str) -> Config {
    Config::from_toml(text, &config_path()).unwrap_or_else(|e| panic!("{e}"))
}

/// The shipped config with the joke URL pointing at `url`, and `allow` as the only host
/// scripts may call.
fn config_with_joke_url(url: &str, allow: &str) -> Config {
    let text = shipped_text();
    assert!(text.contains(SHIPPED_ALLOW) && text.contains(SHIPPED_JOKE_URL));
    let text = text
        .replace(SHIPPED_ALLOW, &format!("http_allow = [\"{allow}\"]"))
        .replace(SHIPPED_JOKE_URL, &format!("joke_url = \"{url}\""));
    config_from(&text)
}

/// The bot: the app and a counter giving every push its own MsgId / CreateTime.
struct Bot {
    app: Arc<App>,
    seq: AtomicU64,
}

/// What the follower got for one push.
#[derive(Debug)]
struct Answer {
    rule: Option<String>,
    reply: Option<Reply>,
    source: Source,
}

impl Answer {
    fn text(&self) -> &str {
        match &self.reply {
            Some(Reply::Text { content }) => content,
            other => panic!("not a text reply (rule {:?}): {other:?}", self.rule),
        }
    }

    fn rule(&self) -> &str {
        self.rule.as_deref().unwrap_or("(none)")
    }
}

impl Bot {
    fn new(config: &Config) -> Self {
        Self {
            app: Arc::new(App::new(config, Arc::new(FixedClock::new(NOW)))),
            seq: AtomicU64::new(1),
        }
    }

    fn shipped() -> Self {
        Self::new(&config_from(&shipped_text()))
    }

    /// Push `body` (the fields after MsgType) as the platform does: signed, plaintext.
    async fn push(&self, msg_type: &str, body: &str, msg_id: bool) -> Answer {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let id = if msg_id {
            format!("<MsgId>{}</MsgId>", 24_000_000_000_000_000 + n)
        } else {
            String::new()
        };
        let xml = format!(
            "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>\
             <FromUserName><![CDATA[{FOLLOWER}]]></FromUserName>\
             <CreateTime>{}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{body}{id}</xml>",
            NOW + i64::try_from(n).unwrap()
        );
        let ts = NOW.to_string();
        let nonce = format!("n{n}");
        let token = self.app.account().token.clone();
        let query = format!(
            "signature={}&timestamp={ts}&nonce={nonce}&openid={FOLLOWER}",
            sign(&[&token, &ts, &nonce])
        );
        let query = PushQuery::parse(&query).unwrap();
        let push = decode_push(
            self.app.account(),
            &query,
            xml.as_bytes(),
            &self.app.checks(),
        )
        .unwrap_or_else(|e| panic!("{e}: {xml}"));
        let (handled, source) = self.app.answer(&push).await;
        Answer {
            rule: handled.rule.as_deref().map(str::to_owned),
            reply: handled.reply.clone(),
            source,
        }
    }

    async fn text(&self, content: &str) -> Answer {
        self.push(
            "text",
            &format!("<Content><![CDATA[{content}]]></Content>"),
            true,
        )
        .await
    }

    async fn event(&self, event: &str, key: &str) -> Answer {
        self.push(
            "event",
            &format!("<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey>"),
            false,
        )
        .await
    }

    /// A text message's reply text, checking that it was answered at once by `rule`.
    async fn says(&self, content: &str, rule: &str) -> String {
        let answer = self.text(content).await;
        assert_eq!(answer.rule(), rule, "{content:?}: {answer:?}");
        assert_eq!(answer.source, Source::Fresh, "{content:?}");
        answer.text().to_owned()
    }
}

/// The rows of a CSV file of the example, as maps from column to value.
fn csv_rows(file: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(example_dir().join(file))
        .unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(Into::into).collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn local_jokes() -> Vec<String> {
    csv_rows("jokes.csv")
        .into_iter()
        .map(|mut r| r.remove("joke").unwrap())
        .collect()
}

// ---------------------------------------------------------------- the config itself

#[test]
fn the_shipped_config_loads_with_its_rules_tables_and_a_joke_budget_inside_the_deadline() {
    let config = config_from(&shipped_text());
    assert_eq!(
        config.rules.names().collect::<Vec<_>>(),
        [
            "welcome",
            "other-events",
            "usage",
            "product",
            "archives",
            "goodluck",
            "bare-product",
            "joke",
            "joke-voice",
            "joke-image",
            "joke-video",
            "joke-shortvideo",
            "joke-location",
            "joke-link",
        ]
    );
    let tables = config.resources.tables();
    assert_eq!(tables.names().collect::<Vec<_>>(), ["products", "jokes"]);
    assert_eq!(tables.get("products").unwrap().len(), 8);
    assert!(tables.get("jokes").unwrap().len() >= 5);
    let mut scripts = config.rules.script_files();
    assert_eq!(scripts.len(), 8, "goodluck and the seven joke rules");
    scripts.dedup();
    assert_eq!(
        scripts,
        [
            example_dir().join("scripts/goodluck.rhai"),
            example_dir().join("scripts/joke.rhai"),
        ]
    );

    // The joke script makes one call and waits at most http_timeout_ms for it: the fallback
    // answers well before the deadline (which itself is inside the platform's 5 s).
    let http = config.resources.script().http();
    assert_eq!(http.max_calls(), 1);
    assert_eq!(http.timeout(), Duration::from_millis(2000));
    let deadline = Duration::from_millis(config.server.reply_deadline_ms);
    assert!(http.timeout() * http.max_calls() + Duration::from_millis(1000) < deadline);
    assert!(deadline < Duration::from_secs(5));

    // The shipped joke URL is on the allow-list.
    let doc: toml::Value = toml::from_str(&shipped_text()).unwrap();
    let url = doc["script"]["vars"]["joke_url"].as_str().unwrap();
    http.check(url).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_product_table_has_the_documented_columns() {
    let rows = csv_rows("products.csv");
    assert_eq!(rows.len(), 8);
    for row in &rows {
        let mut columns: Vec<&str> = row.keys().map(String::as_str).collect();
        columns.sort_unstable();
        assert_eq!(
            columns,
            [
                "archives",
                "description",
                "has_chinese_ui",
                "last_build",
                "name",
                "shortname",
                "website"
            ]
        );
        assert!(
            ["yes", "no"].contains(&row["has_chinese_ui"].as_str()),
            "{row:?}"
        );
        assert!(row["website"].starts_with("https://"), "{row:?}");
        assert!(
            !row["description"].is_empty() && !row["archives"].is_empty(),
            "{row:?}"
        );
    }
}

// ---------------------------------------------------------------- events

#[tokio::test]
async fn subscribe_is_welcomed_and_other_events_get_no_reply() {
    let bot = Bot::shipped();
    for key in ["", "qrscene_123"] {
        let a = bot.event("subscribe", key).await;
        assert_eq!((a.rule(), a.text()), ("welcome", WELCOME), "{key}");
    }
    for (event, key) in [
        ("unsubscribe", ""),
        ("CLICK", "MENU_HELP"),
        ("VIEW", "https://example.com/"),
        ("SCAN", "123"),
        ("LOCATION", ""),
        ("TEMPLATESENDJOBFINISH", ""),
    ] {
        let a = bot.event(event, key).await;
        assert_eq!(a.rule(), "other-events", "{event}");
        assert_eq!(a.reply, None, "{event}: the follower sees nothing");
    }
}

// ---------------------------------------------------------------- products

/// What `产品 X` answers for `row`, built from the columns as the issue describes it.
fn product_text(row: &std::collections::HashMap<String, String>) -> String {
    format!(
        "产品名称：{}\n{}\n最后中文版本：{}\n网站：{}\n简介：{}",
        row["name"],
        if row["has_chinese_ui"] == "yes" {
            "提供中文界面"
        } else {
            "不提供中文界面"
        },
        if row["last_build"].is_empty() {
            "和英文版同步"
        } else {
            &row["last_build"]
        },
        row["website"],
        row["description"],
    )
}

#[tokio::test]
async fn product_by_name_or_short_name_case_insensitively() {
    let bot = Bot::shipped();
    let vscode = "产品名称：Visual Studio Code\n提供中文界面\n最后中文版本：和英文版同步\n\
                  网站：https://code.visualstudio.com\n\
                  简介：微软出品的免费代码编辑器，内置调试和 Git 支持，扩展丰富。";
    assert_eq!(bot.says("产品 VSCODE", "product").await, vscode);
    assert_eq!(bot.says("产品vscode", "product").await, vscode);
    assert_eq!(
        bot.says("产品 visual studio code ", "product").await,
        vscode
    );
    assert_eq!(bot.says("VSCode", "bare-product").await, vscode);
    assert_eq!(
        bot.says(" visual studio CODE", "bare-product").await,
        vscode
    );
    let sublime = "产品名称：Sublime Text\n不提供中文界面\n最后中文版本：无\n\
                   网站：https://www.sublimetext.com\n\
                   简介：轻快的跨平台代码编辑器，商业软件，可免费评估使用。";
    assert_eq!(bot.says("产品 SUBL", "product").await, sublime);
    assert_eq!(bot.says("sublime text", "bare-product").await, sublime);

    // Every row, by each of its keys, in three spellings, with and without `产品`.
    for row in csv_rows("products.csv") {
        let expected = product_text(&row);
        for key in [&row["name"], &row["shortname"]] {
            if key.is_empty() {
                continue;
            }
            for spelling in [key.clone(), key.to_uppercase(), key.to_lowercase()] {
                assert_eq!(
                    bot.says(&format!("产品 {spelling}"), "product").await,
                    expected
                );
                assert_eq!(bot.says(&spelling, "bare-product").await, expected);
            }
        }
    }
}

#[tokio::test]
async fn unknown_or_missing_product_lists_what_there_is() {
    let bot = Bot::shipped();
    for msg in [
        "产品 emacs",
        "产品",
        "产品   ",
        "产品 vs code",
        "产品 vscode2",
    ] {
        assert_eq!(bot.says(msg, "product").await, NOT_FOUND, "{msg:?}");
    }
}

#[tokio::test]
async fn archives_by_name_and_unknown_lists_the_products() {
    let bot = Bot::shipped();
    assert_eq!(
        bot.says("归档 7Z", "archives").await,
        "历史版本：https://sourceforge.net/projects/sevenzip/files/7-Zip/"
    );
    for row in csv_rows("products.csv") {
        assert_eq!(
            bot.says(&format!("归档 {}", row["name"].to_lowercase()), "archives")
                .await,
            row["archives"]
        );
        if !row["shortname"].is_empty() {
            assert_eq!(
                bot.says(&format!("归档{}", row["shortname"]), "archives")
                    .await,
                row["archives"]
            );
        }
    }
    for msg in ["归档 emacs", "归档", "归档  "] {
        assert_eq!(bot.says(msg, "archives").await, NOT_FOUND, "{msg:?}");
    }
}

// ---------------------------------------------------------------- goodluck

/// Check one 双色球 line and return its numbers.
fn pick(line: &str) -> (Vec<usize>, usize) {
    let (reds, blue) = line
        .split_once(" - ")
        .unwrap_or_else(|| panic!("no ` - ` in {line:?}"));
    let reds: Vec<usize> = reds
        .split(' ')
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{line:?}")))
        .collect();
    assert_eq!(reds.len(), 6, "{line:?}");
    assert!(
        reds.windows(2).all(|w| w[0] < w[1]),
        "sorted, distinct: {line:?}"
    );
    assert!(reds.iter().all(|n| (1..=33).contains(n)), "{line:?}");
    let blue: usize = blue.parse().unwrap_or_else(|_| panic!("{line:?}"));
    assert!((1..=16).contains(&blue), "{line:?}");
    (reds, blue)
}

#[tokio::test]
async fn goodluck_gives_n_picks_default_one_at_most_ten() {
    let bot = Bot::shipped();
    for (msg, lines) in [
        ("goodluck", 1),
        ("goodluck*", 1),
        ("goodluck0", 1),
        ("goodluck*0", 1),
        ("goodluck1", 1),
        ("goodluck*3", 3),
        ("goodluck3", 3),
        ("goodluck*10", 10),
        ("goodluck10", 10),
    ] {
        let text = bot.says(msg, "goodluck").await;
        assert_eq!(text.lines().count(), lines, "{msg}: {text}");
        assert!(!text.contains(TOO_MANY), "{msg}");
        text.lines().for_each(|l| {
            pick(l);
        });
    }
    for msg in [
        "goodluck11",
        "goodluck*11",
        "goodluck*100",
        "goodluck99999999999999999999999",
    ] {
        let text = bot.says(msg, "goodluck").await;
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(TOO_MANY), "{msg}");
        assert_eq!(lines.clone().count(), 10, "{msg}: {text}");
        lines.for_each(|l| {
            pick(l);
        });
    }
    // Not the command: a joke.
    for msg in ["goodluck 3", "goodluck*x", "good luck"] {
        let a = bot.text(msg).await;
        assert_eq!(a.rule(), "joke", "{msg}");
    }
}

#[tokio::test]
async fn goodluck_numbers_stay_in_range_over_many_draws() {
    let bot = Bot::shipped();
    let mut red_seen = [0_u32; 34];
    let mut blue_seen = [0_u32; 17];
    let mut picks = 0;
    for i in 0..500 {
        let msg = if i % 2 == 0 { "goodluck" } else { "goodluck*2" };
        for line in bot.says(msg, "goodluck").await.lines() {
            let (reds, blue) = pick(line);
            reds.iter().for_each(|&r| red_seen[r] += 1);
            blue_seen[blue] += 1;
            picks += 1;
        }
    }
    assert_eq!(picks, 750);
    assert_eq!(red_seen[0] + blue_seen[0], 0);
    assert!(
        red_seen[1..].iter().all(|&n| n > 0),
        "every red number is drawn: {red_seen:?}"
    );
    assert!(
        blue_seen[1..].iter().all(|&n| n > 0),
        "every blue number is drawn: {blue_seen:?}"
    );
}

// ---------------------------------------------------------------- usage

#[tokio::test]
async fn text_starting_with_the_usage_word_gets_the_usage() {
    let bot = Bot::shipped();
    for msg in ["使用", "使用说明", "  使用", "使用?"] {
        assert_eq!(bot.says(msg, "usage").await, USAGE, "{msg:?}");
    }
    // The welcome text points at it.
    assert!(WELCOME.contains("输入“使用”"));
}

// ---------------------------------------------------------------- jokes

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// A joke service at `/joke` answering `status` with `content_type` and `body`.
async fn joke_service(
    status: StatusCode,
    content_type: &'static str,
    body: &'static str,
) -> String {
    let addr = serve(Router::new().route(
        "/joke",
        get(move || async move { (status, [("content-type", content_type)], body) }),
    ))
    .await;
    format!("http://{addr}/joke")
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

/// Assert `a` is a local joke with the footer, answered within the deadline.
fn assert_local_joke(a: &Answer, jokes: &[String], case: &str) {
    assert_eq!(
        a.source,
        Source::Fresh,
        "{case}: answered within the deadline"
    );
    let text = a.text();
    let joke = text
        .strip_suffix(FOOTER)
        .unwrap_or_else(|| panic!("{case}: no footer in {text:?}"));
    assert!(
        jokes.iter().any(|j| j == joke),
        "{case}: not a local joke: {text:?}"
    );
}

#[tokio::test]
async fn anything_else_gets_a_joke_from_the_configured_url() {
    let url = joke_service(
        StatusCode::OK,
        "application/json",
        r#"{"error": false, "type": "single", "joke": "远程的笑话", "id": 7}"#,
    )
    .await;
    let bot = Bot::new(&config_with_joke_url(&url, "127.0.0.1"));
    let expected = format!("远程的笑话{FOOTER}");
    for msg in ["你好", "emacs", "vscode 怎么样", "goodluck!", "hello"] {
        assert_eq!(bot.says(msg, "joke").await, expected, "{msg:?}");
    }
    // Every other kind of message too.
    for (msg_type, body, rule) in [
        (
            "voice",
            "<MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[讲个笑话]]></Recognition>",
            "joke-voice",
        ),
        (
            "voice",
            "<MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format>",
            "joke-voice",
        ),
        (
            "image",
            "<PicUrl><![CDATA[https://mmbiz.qpic.cn/x]]></PicUrl><MediaId><![CDATA[m]]></MediaId>",
            "joke-image",
        ),
        (
            "video",
            "<MediaId><![CDATA[m]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>",
            "joke-video",
        ),
        (
            "shortvideo",
            "<MediaId><![CDATA[m]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>",
            "joke-shortvideo",
        ),
        (
            "location",
            "<Location_X>23.13</Location_X><Location_Y>113.35</Location_Y><Scale>20</Scale><Label><![CDATA[广州]]></Label>",
            "joke-location",
        ),
        (
            "link",
            "<Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[https://example.com/]]></Url>",
            "joke-link",
        ),
    ] {
        let a = bot.push(msg_type, body, true).await;
        assert_eq!(a.rule(), rule, "{msg_type}");
        assert_eq!(a.text(), expected, "{msg_type}");
    }
    // A voice message whose recognition is a command runs the command.
    let a = bot
        .push(
            "voice",
            "<MediaId><![CDATA[m]]></MediaId><Recognition><![CDATA[产品 vlc]]></Recognition>",
            true,
        )
        .await;
    assert_eq!(a.rule(), "product");
    assert!(
        a.text().starts_with("产品名称：VLC media player\n"),
        "{a:?}"
    );
}

#[tokio::test]
async fn two_part_jokes_are_joined() {
    let url = joke_service(
        StatusCode::OK,
        "application/json",
        r#"{"type": "twopart", "setup": "问：为什么？", "delivery": "答：因为。"}"#,
    )
    .await;
    let bot = Bot::new(&config_with_joke_url(&url, "127.0.0.1"));
    assert_eq!(
        bot.says("你好", "joke").await,
        format!("问：为什么？\n答：因为。{FOOTER}")
    );
}

#[tokio::test]
async fn a_failing_url_gives_a_local_joke_never_an_error() {
    let jokes = local_jokes();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cases = [
        (
            "502",
            joke_service(StatusCode::BAD_GATEWAY, "text/plain", "bad gateway").await,
        ),
        (
            "not JSON",
            joke_service(StatusCode::OK, "text/html", "<html>维护中</html>").await,
        ),
        (
            "JSON without a joke",
            joke_service(
                StatusCode::OK,
                "application/json",
                r#"{"error": true, "message": "No matching joke found"}"#,
            )
            .await,
        ),
        (
            "an empty joke",
            joke_service(StatusCode::OK, "application/json", r#"{"joke": "  "}"#).await,
        ),
        ("connection refused", format!("http://{closed}/joke")),
    ];
    for (case, url) in cases {
        let bot = Bot::new(&config_with_joke_url(&url, "127.0.0.1"));
        for _ in 0..3 {
            assert_local_joke(&bot.text("你好").await, &jokes, case);
        }
    }
    // A URL whose host is not on the allow-list is refused by the sandbox: a local joke too.
    let bot = Bot::new(&config_with_joke_url(
        "https://jokes.example.org/joke",
        "127.0.0.1",
    ));
    assert_local_joke(&bot.text("你好").await, &jokes, "host not allowed");
}

#[tokio::test]
async fn a_slow_url_gives_a_local_joke_inside_the_deadline() {
    let jokes = local_jokes();
    let addr = silent_server().await;
    // The shipped http_timeout_ms (2000) is kept: only the URL changes.
    let config = config_with_joke_url(&format!("http://{addr}/joke"), "127.0.0.1");
    let deadline = Duration::from_millis(config.server.reply_deadline_ms);
    let bot = Bot::new(&config);
    let started = Instant::now();
    let a = bot.text("讲个笑话").await;
    let took = started.elapsed();
    assert_eq!(a.rule(), "joke");
    assert_local_joke(&a, &jokes, "silent server");
    assert!(
        took >= Duration::from_millis(2000),
        "the fetch was given its time: {took:?}"
    );
    assert!(
        took < deadline,
        "answered at {took:?}, deadline {deadline:?}"
    );
}
