//! The outbound API commands as a user runs them: the built `wxoa` binary against a fake
//! platform (wiremock), each test with its own directory, config and SQLite token store.
//!
//! Every fake platform also has a catch-all mock expecting no calls, so a request the test did
//! not plan for fails it. The process races start many `wxoa token` at once on one store and
//! count the token fetches the platform saw.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::TempDir;
use wiremock::matchers::{any, body_json, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const APPID: &str = "wx1234567890abcdef";
/// The ticket of the JS-SDK signature vector (PROTOCOL §9.8).
const VECTOR_TICKET: &str =
    "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";

/// Writes `<dir>/<name>.toml`: the fake platform's URL, a SQLite store under `<name>-data/`,
/// and Redis when given.
fn write_config(
    dir: &Path,
    name: &str,
    base_url: &str,
    appid: &str,
    redis: Option<&str>,
) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        r#"[account]
appid = "{appid}"
secret = "test-app-secret"
token = "wxoaTest"

[api]
base_url = "{base_url}"
stable_token = true
timeout_ms = 10000

[store]
url = "sqlite://{name}-data/wxoa.db"
redis_url = "{}"
"#,
        redis.unwrap_or_default()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The command line for `wxoa ARGS` with `config`, stdin closed, no config overrides from the
/// environment this test runs in.
fn command(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxoa"));
    cmd.args(args)
        .env("WXOA_CONFIG", config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("WXOA_") && key.contains("__") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Hands out `TOKEN-1`, `TOKEN-2`, … and counts the fetches.
#[derive(Clone, Default)]
struct TokenResponder {
    fetches: Arc<AtomicUsize>,
    delay: Option<Duration>,
}

impl Respond for TokenResponder {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let t = ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": format!("TOKEN-{n}"), "expires_in": 7200}));
        match self.delay {
            Some(d) => t.set_delay(d),
            None => t,
        }
    }
}

/// A fake platform, a directory and a config pointing at it.
struct Platform {
    server: MockServer,
    dir: TempDir,
    config: PathBuf,
    fetches: Arc<AtomicUsize>,
}

impl Platform {
    /// A platform that answers stable_token with counted tokens and nothing else yet.
    async fn new(name: &str) -> Self {
        Self::with_token_delay(name, None).await
    }

    async fn with_token_delay(name: &str, delay: Option<Duration>) -> Self {
        let server = MockServer::start().await;
        let responder = TokenResponder {
            delay,
            ..TokenResponder::default()
        };
        let fetches = Arc::clone(&responder.fetches);
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .respond_with(responder)
            .mount(&server)
            .await;
        let p = Self::bare(name, server).await;
        Self { fetches, ..p }
    }

    /// A platform with only the catch-all (no token endpoint).
    async fn bare(name: &str, server: MockServer) -> Self {
        Mock::given(any())
            .respond_with(ResponseTemplate::new(500).set_body_string("unexpected request"))
            .with_priority(u8::MAX)
            .expect(0)
            .named("catch-all: no unplanned request")
            .mount(&server)
            .await;
        let dir = TempDir::new(&format!("api-cli-{name}"));
        let config = write_config(dir.path(), "wxoa", &server.uri(), APPID, None);
        Self {
            server,
            dir,
            config,
            fetches: Arc::default(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        command(&self.config, args).output().expect("run wxoa")
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }
}

fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

// ---------------------------------------------------------------------------------------------
// wxoa token

#[tokio::test]
async fn token_is_fetched_once_then_read_from_the_store() {
    let p = Platform::new("token-cached").await;
    let first = p.run(&["token"]);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(stdout(&first), "TOKEN-1\n");
    let second = p.run(&["token", "--config", p.config.to_str().unwrap()]);
    assert!(second.status.success(), "{second:?}");
    assert_eq!(
        stdout(&second),
        "TOKEN-1\n",
        "the second run must reuse the stored token"
    );
    assert_eq!(p.fetches(), 1);

    let requests = p.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        body(&requests[0]),
        json!({"grant_type": "client_credential", "appid": APPID, "secret": "test-app-secret", "force_refresh": false})
    );
    assert!(
        p.dir.path().join("wxoa-data/wxoa.db").exists(),
        "store.url is relative to the config"
    );
}

#[tokio::test]
async fn token_json_has_value_and_expiry() {
    let p = Platform::new("token-json").await;
    let out = p.run(&["token", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_token", "expires_at", "expires_in"]);
    assert_eq!(v["access_token"], "TOKEN-1");
    let expires_in = v["expires_in"].as_i64().unwrap();
    assert!((7100..=7200).contains(&expires_in), "{v}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires_at = v["expires_at"].as_i64().unwrap();
    assert!((now + 7100..=now + 7201).contains(&expires_at), "{v}");
}

#[tokio::test]
async fn token_force_fetches_with_force_refresh() {
    let p = Platform::new("token-force").await;
    assert_eq!(stdout(&p.run(&["token"])), "TOKEN-1\n");
    let out = p.run(&["token", "--force"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "TOKEN-2\n");
    // The forced token is the stored one now.
    assert_eq!(stdout(&p.run(&["token"])), "TOKEN-2\n");
    let requests = p.requests().await;
    assert_eq!(requests.len(), 2);
    assert_eq!(body(&requests[1])["force_refresh"], true);
}

#[tokio::test]
async fn token_uses_the_classic_endpoint_when_stable_token_is_off() {
    let p = Platform::bare("token-classic", MockServer::start().await).await;
    let text = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(
        &p.config,
        text.replace("stable_token = true", "stable_token = false"),
    )
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/cgi-bin/token"))
        .and(query_param("grant_type", "client_credential"))
        .and(query_param("appid", APPID))
        .and(query_param("secret", "test-app-secret"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "CLASSIC", "expires_in": 7200})),
        )
        .expect(1)
        .mount(&p.server)
        .await;
    for _ in 0..2 {
        let out = p.run(&["token"]);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(stdout(&out), "CLASSIC\n");
    }
}

#[tokio::test]
async fn an_ip_not_in_the_whitelist_prints_the_ip_and_where_to_add_it() {
    let p = Platform::bare("token-40164", MockServer::start().await).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 40164,
            "errmsg": "invalid ip 203.0.113.45 ipv6 ::ffff:203.0.113.45, not in whitelist rid: 6577f3a1-55555555-66666666"
        })))
        .expect(1)
        .mount(&p.server)
        .await;
    let out = p.run(&["token"]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(err.contains("WeChat API error 40164"), "{err}");
    assert!(err.contains("errcode: 40164"), "{err}");
    assert!(err.contains("not in whitelist rid: 6577f3a1"), "{err}");
    assert!(
        err.contains("The caller IP 203.0.113.45 is not in the API IP whitelist"),
        "{err}"
    );
    assert!(
        err.contains("基本配置 → IP白名单 添加 203.0.113.45"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// wxoa menu

const BAD_MENU: &str = r#"
[[button]]
type = "click"
name = "今日推荐"
key = "MENU_TODAY"

[[button]]
name = "More"

[[button.sub_button]]
type = "click"
name = "x"
key = "x"

[[button.sub_button]]
type = "view"
name = "y"
url = "ftp://example.com/"

[[button.sub_button]]
type = "click"
name = "Foo"

[[button]]
type = "click"
name = "一二三四五六"
key = "k"
"#;

#[tokio::test]
async fn menu_problems_name_their_button_and_nothing_is_sent() {
    let p = Platform::bare("menu-invalid", MockServer::start().await).await;
    let file = p.dir.path().join("menu.toml");
    std::fs::write(&file, BAD_MENU).unwrap();
    let out = p.run(&["menu", "push", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("(3 problems)"), "{err}");
    assert!(
        err.contains(r#"button[1].sub_button[1] "y": url "ftp://example.com/" must start with http:// or https://"#),
        "{err}"
    );
    assert!(
        err.contains(r#"button[1].sub_button[2] "Foo": key is required for type click"#),
        "{err}"
    );
    assert!(
        err.contains(r#"button[2] "一二三四五六": name is 18 bytes"#),
        "{err}"
    );
    assert!(err.contains("nothing was sent"), "{err}");
    assert!(
        p.requests().await.is_empty(),
        "no token fetch, no menu call"
    );
    assert!(
        !p.dir.path().join("wxoa-data").exists(),
        "not even the store was opened"
    );
}

#[tokio::test]
async fn menu_push_sends_the_file_as_the_platform_json() {
    let p = Platform::new("menu-push").await;
    let expected = json!({"button": [
        {"type": "click", "name": "今日推荐", "key": "MENU_TODAY"},
        {"name": "服务", "sub_button": [
            {"type": "view", "name": "官网", "url": "https://www.example.com/"},
            {"type": "miniprogram", "name": "小程序", "url": "https://www.example.com/",
             "appid": "wx286b93c14bbf93aa", "pagepath": "pages/index/index"}
        ]}
    ]});
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/create"))
        .and(query_param("access_token", "TOKEN-1"))
        .and(body_json(&expected))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
        )
        .expect(1)
        .mount(&p.server)
        .await;
    let file = p.dir.path().join("menu.toml");
    std::fs::write(
        &file,
        r#"
[[button]]
type = "click"
name = "今日推荐"
key = "MENU_TODAY"

[[button]]
name = "服务"

[[button.sub_button]]
type = "view"
name = "官网"
url = "https://www.example.com/"

[[button.sub_button]]
type = "miniprogram"
name = "小程序"
url = "https://www.example.com/"
appid = "wx286b93c14bbf93aa"
pagepath = "pages/index/index"
"#,
    )
    .unwrap();
    let out = p.run(&["menu", "push", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with("menu pushed: 2 buttons, 2 sub-buttons"),
        "{out:?}"
    );
    let create = p
        .requests()
        .await
        .into_iter()
        .find(|r| r.url.path() == "/cgi-bin/menu/create")
        .unwrap();
    let raw = String::from_utf8(create.body).unwrap();
    assert!(
        raw.contains("今日推荐") && !raw.contains("\\u"),
        "raw UTF-8, no escapes: {raw}"
    );
}

const MENU_GET: &str = r#"{"menu":{"button":[{"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC","sub_button":[]},{"name":"菜单","sub_button":[{"type":"view","name":"搜索","url":"http://www.soso.com/","sub_button":[]},{"type":"miniprogram","name":"wxa","url":"http://mp.weixin.qq.com","appid":"wx286b93c14bbf93aa","pagepath":"pages/lunar/index","sub_button":[]}]}],"menuid":208396938},"conditionalmenu":[{"button":[{"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC","sub_button":[]}],"matchrule":{"group_id":2,"sex":1,"country":"","province":"","city":"","client_platform_type":2,"language":"zh_CN","tag_id":"2"},"menuid":208396993}]}"#;

#[tokio::test]
async fn menu_show_as_tree_json_and_pushable_toml() {
    let p = Platform::new("menu-show").await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/menu/get"))
        .and(query_param("access_token", "TOKEN-1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(MENU_GET, "application/json"))
        .expect(3)
        .mount(&p.server)
        .await;

    let out = p.run(&["menu", "show"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out),
        "menu (menuid 208396938)\n\
         ├── 今日歌曲  [click] key=V1001_TODAY_MUSIC\n\
         └── 菜单\n    \
         ├── 搜索  [view] url=http://www.soso.com/\n    \
         └── wxa  [miniprogram] url=http://mp.weixin.qq.com appid=wx286b93c14bbf93aa pagepath=pages/lunar/index\n\
         conditional menu 208396993 (tag_id=2 client_platform_type=2 language=zh_CN)\n\
         └── 今日歌曲  [click] key=V1001_TODAY_MUSIC\n"
    );

    let out = p.run(&["menu", "show", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v, serde_json::from_str::<Value>(MENU_GET).unwrap());

    let out = p.run(&["menu", "show", "--toml"]);
    assert!(out.status.success(), "{out:?}");
    let file = p.dir.path().join("current.toml");
    std::fs::write(&file, stdout(&out)).unwrap();
    // What `show --toml` prints, `push` accepts: the same buttons the platform had.
    let out = p.run(&["menu", "push", "--dry-run", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let pushed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        pushed,
        json!({"button": [
            {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
            {"name": "菜单", "sub_button": [
                {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
                {"type": "miniprogram", "name": "wxa", "url": "http://mp.weixin.qq.com",
                 "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index"}
            ]}
        ]})
    );
}

#[tokio::test]
async fn menu_delete_needs_confirmation_or_yes() {
    let p = Platform::new("menu-delete").await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/menu/delete"))
        .and(query_param("access_token", "TOKEN-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
        )
        .expect(1)
        .mount(&p.server)
        .await;
    // stdin is not a terminal here: no --yes, no deletion and no call.
    let out = p.run(&["menu", "delete"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pass --yes"), "{out:?}");
    assert!(p.requests().await.is_empty());

    let out = p.run(&["menu", "delete", "--yes"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("menu deleted"), "{out:?}");
}

#[tokio::test]
async fn the_shipped_menu_example_passes_the_checks() {
    let p = Platform::bare("menu-example", MockServer::start().await).await;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../menu.example.toml");
    let out = p.run(&["menu", "push", "--dry-run", example.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["button"].as_array().unwrap().len(), 3);
    assert!(p.requests().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// wxoa send, wxoa template

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"}))
}

#[tokio::test]
async fn send_text_image_and_news() {
    let p = Platform::new("send").await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/custom/send"))
        .and(query_param("access_token", "TOKEN-1"))
        .and(body_json(
            json!({"touser": "OPENID", "msgtype": "text", "text": {"content": "hello 你好"}}),
        ))
        .respond_with(ok())
        .expect(1)
        .mount(&p.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/media/upload"))
        .and(query_param("type", "image"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"type": "image", "media_id": "UPLOADED_ID", "created_at": 1_672_500_000}),
        ))
        .expect(1)
        .mount(&p.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/custom/send"))
        .and(body_json(
            json!({"touser": "OPENID", "msgtype": "image", "image": {"media_id": "UPLOADED_ID"}}),
        ))
        .respond_with(ok())
        .expect(1)
        .mount(&p.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/custom/send"))
        .and(body_json(json!({
            "touser": "OPENID", "msgtype": "news",
            "news": {"articles": [{"title": "标题", "description": "描述", "url": "https://e.com/a", "picurl": "https://e.com/p.jpg"}]},
            "customservice": {"kf_account": "kf2001@gh_1"}
        })))
        .respond_with(ok())
        .expect(1)
        .mount(&p.server)
        .await;

    let out = p.run(&["send", "text", "OPENID", "hello 你好"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "sent text message to OPENID\n");

    let photo = p.dir.path().join("photo.jpg");
    std::fs::write(&photo, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    let out = p.run(&["send", "image", "OPENID", "--file", photo.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("uploaded photo.jpg: media_id UPLOADED_ID"),
        "{out:?}"
    );
    let upload = p
        .requests()
        .await
        .into_iter()
        .find(|r| r.url.path() == "/cgi-bin/media/upload")
        .unwrap();
    let form = String::from_utf8_lossy(&upload.body).into_owned();
    assert!(
        form.contains("name=\"media\"") && form.contains("filename=\"photo.jpg\""),
        "{form}"
    );

    let out = p.run(&[
        "send",
        "news",
        "OPENID",
        "--title",
        "标题",
        "--description",
        "描述",
        "--url",
        "https://e.com/a",
        "--pic-url",
        "https://e.com/p.jpg",
        "--kf-account",
        "kf2001@gh_1",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(p.fetches(), 1, "one token for all three runs");
}

#[tokio::test]
async fn a_send_outside_the_window_explains_45015() {
    let p = Platform::new("send-45015").await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/custom/send"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 45015, "errmsg": "response out of time limit or subscription is canceled rid: 1"
        })))
        .expect(1)
        .mount(&p.server)
        .await;
    let out = p.run(&["send", "text", "OPENID", "hi"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("error: sending the text message to OPENID: WeChat API error 45015"),
        "{err}"
    );
    assert!(err.contains("  hint:") && err.contains("  提示:"), "{err}");
}

#[tokio::test]
async fn template_send_and_list() {
    let p = Platform::new("template").await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/template/send"))
        .and(query_param("access_token", "TOKEN-1"))
        .and(body_json(json!({
            "touser": "OPENID", "template_id": "TEMPLATE_ID", "url": "http://weixin.qq.com/download",
            "data": {"keyword1": {"value": "巧克力"}, "keyword2": {"value": "39.8元"}}
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 0, "errmsg": "ok", "msgid": 200_228_332})),
        )
        .expect(1)
        .mount(&p.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/template/get_all_private_template"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"template_list": [{
            "template_id": "iPk5sOIt5X_flOVKn5GrTFpncEYTojx6ddbt8WYoV5s",
            "title": "领取奖金提醒", "primary_industry": "IT科技", "deputy_industry": "互联网|电子商务",
            "content": "{{result.DATA}}\n\n领奖金额:{{withdrawMoney.DATA}}", "example": "您已提交领奖申请"
        }]})))
        .expect(2)
        .mount(&p.server)
        .await;

    let out = p.run(&[
        "template",
        "send",
        "--to",
        "OPENID",
        "--template-id",
        "TEMPLATE_ID",
        "--data",
        "keyword1=巧克力",
        "keyword2=39.8元",
        "--url",
        "http://weixin.qq.com/download",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("msgid 200228332"), "{out:?}");

    let out = p.run(&["template", "list"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with("iPk5sOIt5X_flOVKn5GrTFpncEYTojx6ddbt8WYoV5s  领取奖金提醒\n"),
        "{out:?}"
    );
    let out = p.run(&["template", "list", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v[0]["title"], "领取奖金提醒");
}

// ---------------------------------------------------------------------------------------------
// wxoa users export

/// Answers batchget with one profile per openid asked for, records each call's openids, and
/// fails (errcode 45011) any call that asks for `fail_on`.
#[derive(Clone, Default)]
struct BatchResponder {
    calls: Arc<Mutex<Vec<Vec<String>>>>,
    fail_on: Arc<Mutex<Option<String>>>,
}

impl Respond for BatchResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let v: Value = serde_json::from_slice(&req.body).unwrap();
        let ids: Vec<String> = v["user_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["openid"].as_str().unwrap().to_owned())
            .collect();
        self.calls.lock().unwrap().push(ids.clone());
        if let Some(bad) = self.fail_on.lock().unwrap().as_ref()
            && ids.contains(bad)
        {
            return ResponseTemplate::new(200).set_body_json(json!({
                "errcode": 45011, "errmsg": "api minute-quota reach limit mustslower retry next minute rid: 2"
            }));
        }
        let users: Vec<Value> = ids
            .iter()
            .map(|o| {
                json!({"subscribe": 1, "openid": o, "language": "zh_CN", "subscribe_time": 1_434_093_047,
                       "unionid": format!("u-{o}"), "remark": if o == "O002" { "VIP, \"gold\"" } else { "" },
                       "groupid": 0, "tagid_list": [128, 2], "subscribe_scene": "ADD_SCENE_QR_CODE",
                       "qr_scene": 98765, "qr_scene_str": ""})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"user_info_list": users}))
    }
}

/// Page 1: O001…O150, page 2: P001…P030, then the empty page the platform ends with.
async fn mount_followers(p: &Platform) -> BatchResponder {
    let page1: Vec<String> = (1..=150).map(|i| format!("O{i:03}")).collect();
    let page2: Vec<String> = (1..=30).map(|i| format!("P{i:03}")).collect();
    for (cursor, ids, next) in [("", page1.clone(), "O150"), ("O150", page2.clone(), "P030")] {
        Mock::given(method("GET"))
            .and(path("/cgi-bin/user/get"))
            .and(query_param("next_openid", cursor))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "total": 180, "count": ids.len(), "data": {"openid": ids}, "next_openid": next
            })))
            .mount(&p.server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/cgi-bin/user/get"))
        .and(query_param("next_openid", "P030"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total": 180, "count": 0, "next_openid": ""})),
        )
        .mount(&p.server)
        .await;
    let batch = BatchResponder::default();
    Mock::given(method("POST"))
        .and(path("/cgi-bin/user/info/batchget"))
        .respond_with(batch.clone())
        .mount(&p.server)
        .await;
    batch
}

fn expected_openids() -> Vec<String> {
    (1..=150)
        .map(|i| format!("O{i:03}"))
        .chain((1..=30).map(|i| format!("P{i:03}")))
        .collect()
}

/// The openid column of the CSV, after checking the header.
fn csv_openids(text: &str) -> Vec<String> {
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "openid,subscribe,subscribe_time,language,remark,tagid_list,subscribe_scene,qr_scene,qr_scene_str,unionid"
        )
    );
    lines
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

fn user_get_cursors(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.url.path() == "/cgi-bin/user/get")
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "next_openid")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn users_export_reads_every_page_in_batches_of_100() {
    let p = Platform::new("users-export").await;
    let batch = mount_followers(&p).await;
    let out_file = p.dir.path().join("users.csv");
    let out = p.run(&["users", "export", "--out", out_file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out),
        format!("exported 180 followers to {}\n", out_file.display())
    );
    // stderr is not a terminal here: no progress line.
    assert!(!stderr(&out).contains("exporting followers"), "{out:?}");

    let text = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(csv_openids(&text), expected_openids());
    assert!(
        text.contains("\nO002,1,1434093047,zh_CN,\"VIP, \"\"gold\"\"\",128;2,ADD_SCENE_QR_CODE,98765,,u-O002\n"),
        "{text}"
    );
    let sizes: Vec<usize> = batch.calls.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 50, 30]);
    assert_eq!(user_get_cursors(&p.requests().await), ["", "O150", "P030"]);
    assert!(
        !p.dir.path().join("users.csv.state").exists(),
        "the state goes when the export completes"
    );

    // A finished export is not overwritten by accident.
    let again = p.run(&["users", "export", "--out", out_file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("--force"), "{again:?}");
}

#[tokio::test]
async fn users_export_resumes_where_it_stopped_without_duplicates() {
    let p = Platform::new("users-resume").await;
    let batch = mount_followers(&p).await;
    let out_file = p.dir.path().join("users.csv");
    let out_arg = out_file.to_str().unwrap();

    // The second batch of page 1 (O101…O150) fails: 100 rows are in, the state says where.
    *batch.fail_on.lock().unwrap() = Some("O101".to_owned());
    let out = p.run(&["users", "export", "--out", out_arg]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("WeChat API error 45011"), "{err}");
    assert!(
        err.contains("100 rows are in") && err.contains("--resume"),
        "{err}"
    );
    assert_eq!(
        csv_openids(&std::fs::read_to_string(&out_file).unwrap()).len(),
        100
    );
    assert!(p.dir.path().join("users.csv.state").exists());

    // Without --resume the interrupted export is neither continued nor overwritten.
    let out = p.run(&["users", "export", "--out", out_arg]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("interrupted export (100 rows"),
        "{out:?}"
    );

    *batch.fail_on.lock().unwrap() = None;
    batch.calls.lock().unwrap().clear();
    let before = p.requests().await.len();
    let out = p.run(&["users", "export", "--out", out_arg, "--resume"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr(&out).contains("100 rows already written"), "{out:?}");
    assert!(
        stdout(&out).starts_with("exported 180 followers"),
        "{out:?}"
    );

    let text = std::fs::read_to_string(&out_file).unwrap();
    let ids = csv_openids(&text);
    assert_eq!(ids, expected_openids());
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        180,
        "no duplicates"
    );
    // It re-read page 1 from its cursor, skipped the 100 done, and went on.
    let calls = batch.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].first().map(String::as_str), Some("O101"));
    assert_eq!(calls[0].len(), 50);
    assert_eq!(calls[1].len(), 30);
    let resumed = p.requests().await.split_off(before);
    assert_eq!(user_get_cursors(&resumed), ["", "O150", "P030"]);
    assert!(!p.dir.path().join("users.csv.state").exists());
    assert_eq!(p.fetches(), 1, "the token was shared by the runs");
}

// ---------------------------------------------------------------------------------------------
// wxoa qrcode, wxoa jssdk

const TICKET: &str = "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==";

#[tokio::test]
async fn qrcode_create_temporary_and_permanent() {
    let p = Platform::new("qrcode").await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/qrcode/create"))
        .and(body_json(json!({"expire_seconds": 604_800, "action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 123}}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ticket": TICKET, "expire_seconds": 604_800, "url": "https://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"
        })))
        .expect(1)
        .mount(&p.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/qrcode/create"))
        .and(body_json(json!({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "shop-7"}}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ticket": TICKET, "url": "https://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"
        })))
        .expect(1)
        .mount(&p.server)
        .await;

    let out = p.run(&["qrcode", "create", "--scene", "123", "--expire", "7d"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("type:   QR_SCENE\n"), "{text}");
    assert!(text.contains(&format!("ticket: {TICKET}\n")), "{text}");
    assert!(
        text.contains("url:    https://weixin.qq.com/q/kZgfwMTm72WWPkovabbI\n"),
        "{text}"
    );
    assert!(
        text.contains("image:  https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw%3D%3D\n"),
        "{text}"
    );
    assert!(text.contains("life:   expires in 604800 s"), "{text}");

    let out = p.run(&["qrcode", "create", "--scene", "shop-7", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["action_name"], "QR_LIMIT_STR_SCENE");
    assert_eq!(v["ticket"], TICKET);
    assert!(
        v["image_url"]
            .as_str()
            .unwrap()
            .starts_with("https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=")
    );

    // Out of range: refused before any call.
    let out = p.run(&["qrcode", "create", "--scene", "0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("scene_id must not be 0"), "{out:?}");
}

#[tokio::test]
async fn jssdk_sign_matches_the_protocol_vector_and_caches_the_ticket() {
    let p = Platform::new("jssdk").await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/ticket/getticket"))
        .and(query_param("type", "jsapi"))
        .and(query_param("access_token", "TOKEN-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"errcode": 0, "errmsg": "ok", "ticket": VECTOR_TICKET, "expires_in": 7200}),
        ))
        .expect(1)
        .mount(&p.server)
        .await;
    let out = p.run(&[
        "jssdk",
        "sign",
        "http://mp.weixin.qq.com?params=value#section",
        "--timestamp",
        "1414587457",
        "--nonce",
        "Wm3WZYTPz0wzccnW",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out),
        format!(
            "appId:     {APPID}\ntimestamp: 1414587457\nnonceStr:  Wm3WZYTPz0wzccnW\nsignature: 0f9de62fce790f9a083d5c99e95740ceb90c27ed\nurl:       http://mp.weixin.qq.com?params=value\n"
        )
    );

    // A second run signs with a fresh nonce and the ticket from the store (no second fetch).
    let out = p.run(&["jssdk", "sign", "https://example.com/page?a=1", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["appId"], APPID);
    assert_eq!(v["nonceStr"].as_str().unwrap().len(), 16);
    assert_eq!(v["signature"].as_str().unwrap().len(), 40);
    assert!(v["timestamp"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(p.fetches(), 1);
}

// ---------------------------------------------------------------------------------------------
// Process races: one fetch, however many processes start at once

/// Starts every `(config, args)` at once and waits for all; returns their outputs.
fn run_all_at_once(runs: &[(PathBuf, &[&str])]) -> Vec<Output> {
    let children: Vec<_> = runs
        .iter()
        .map(|(config, args)| {
            command(config, args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start wxoa")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for wxoa"))
        .collect()
}

#[tokio::test]
async fn twenty_four_processes_on_one_sqlite_file_fetch_once() {
    // The fetch takes a while, so every process is still starting or waiting while it runs.
    let p = Platform::with_token_delay("race-sqlite", Some(Duration::from_millis(300))).await;
    let runs: Vec<(PathBuf, &[&str])> = (0..24)
        .map(|_| (p.config.clone(), &["token"][..]))
        .collect();
    let outputs = run_all_at_once(&runs);
    for (i, out) in outputs.iter().enumerate() {
        assert!(out.status.success(), "process {i}: {out:?}");
        assert_eq!(stdout(out), "TOKEN-1\n", "process {i}: {out:?}");
    }
    assert_eq!(
        p.fetches(),
        1,
        "24 processes on one SQLite file must fetch exactly once"
    );
}

#[tokio::test]
async fn eighteen_processes_on_three_hosts_sharing_redis_fetch_once() {
    let Ok(redis_url) = std::env::var("WXOA_TEST_REDIS_URL") else {
        eprintln!("skipped: set WXOA_TEST_REDIS_URL to race processes over a shared Redis");
        return;
    };
    let p = Platform::with_token_delay("race-redis", Some(Duration::from_millis(300))).await;
    // A new account per run, so keys left by an earlier run cannot answer for this one.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let appid = format!(
        "wx{:016x}",
        nanos ^ u64::from(std::process::id()).rotate_left(40)
    );
    let hosts: Vec<PathBuf> = ["host-a", "host-b", "host-c"]
        .iter()
        .map(|h| write_config(p.dir.path(), h, &p.server.uri(), &appid, Some(&redis_url)))
        .collect();
    let runs: Vec<(PathBuf, &[&str])> = (0..18)
        .map(|i| (hosts[i % 3].clone(), &["token"][..]))
        .collect();
    let outputs = run_all_at_once(&runs);

    let token_key = format!("wxoa:token:{appid}:stable_token");
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let stored: Option<String> = redis::cmd("HGET")
        .arg(&token_key)
        .arg("value")
        .query_async(&mut con)
        .await
        .unwrap();
    support::remove_redis_keys(&mut con, &format!("wxoa:*{appid}*")).await;

    for (i, out) in outputs.iter().enumerate() {
        assert!(out.status.success(), "process {i}: {out:?}");
        assert_eq!(stdout(out), "TOKEN-1\n", "process {i}: {out:?}");
    }
    assert_eq!(
        p.fetches(),
        1,
        "18 processes on three hosts sharing Redis must fetch exactly once"
    );
    assert_eq!(
        stored.as_deref(),
        Some("TOKEN-1"),
        "the token is shared through Redis"
    );
}
