//! The owner's console through its router (tower `oneshot`, no socket for the console itself):
//! logins, cookies, CSRF, the rate limit, the loopback rule of /metrics, every API area, rule
//! edits written to the file and reloaded, menu pushes and 客服 texts landing in the fake
//! platform, and the audit trail.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;
use wxoa_api::Clock as _;
use wxoa_mock::api::{Follower, MockConfig, MockPlatform};
use wxoa_server::admin::{Console, ConsoleSetup, LoggedError, RecentErrors};
use wxoa_server::clock::FixedClock;
use wxoa_server::metrics::admin_listener;
use wxoa_server::{App, Config};
use wxoa_store::{MessageLogEntry, Store};

const SECRET: &str = "consolesecret";
const PASSWORD: &str = "correct horse battery";
const LOCAL: &str = "127.0.0.1:50000";
const REMOTE: &str = "192.0.2.7:50000";
const PROXY: &str = "10.0.0.9:443";

/// An argon2id hash with the cheapest parameters, so each login takes microseconds.
fn cheap_hash(password: &str) -> String {
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"wxoa-console-salt").unwrap();
    hasher
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wxoa-console-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Env {
    _dir: TempDir,
    path: PathBuf,
    app: Arc<App>,
    store: Store,
    mock: MockPlatform,
    errors: RecentErrors,
    router: Router,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

/// The test config: the shared rules (with a comment to keep), the fake platform's API, an
/// SQLite store in the directory, and `[admin]` with `admin_extra`.
fn config_file(mock_url: &str, admin_extra: &str) -> String {
    let base = config_text(&format!("secret = \"{SECRET}\""));
    base.replace(
        "[[rules]]\nname = \"help\"",
        "# The help text; keep this comment.\n[[rules]]\nname = \"help\"",
    ) + format!(
        "\n[api]\nbase_url = \"{mock_url}\"\n\n[store]\nurl = \"sqlite://wxoa.db\"\n\n[admin]\npassword_hash = \"{}\"\n{admin_extra}",
        cheap_hash(PASSWORD)
    )
    .as_str()
}

async fn env_with(admin_extra: &str, with_api: bool) -> Env {
    let mock = MockPlatform::new(MockConfig::new(APPID, SECRET));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock_url = format!("http://{}", listener.local_addr().unwrap());
    let served = mock.clone();
    tokio::spawn(async move { served.serve(listener).await.unwrap() });

    let dir = TempDir::new();
    let path = dir.0.join("wxoa.toml");
    std::fs::write(&path, config_file(&mock_url, admin_extra)).unwrap();
    let config = Config::load(&path).unwrap();
    let app = Arc::new(App::new(&config, Arc::new(FixedClock::new(NOW))));
    let store = Store::open(&config.store.url, &config.base_dir)
        .await
        .unwrap();
    let api = with_api.then(|| {
        wxoa_server::backends::api_client_builder(&config)
            .token_store(Arc::new(wxoa_api::MemoryTokenStore::new()))
            .clock(Arc::new(wxoa_api::ManualClock::new(NOW)))
            .build()
            .unwrap()
    });
    let errors = RecentErrors::default();
    let console = Console::new(ConsoleSetup {
        app: Arc::clone(&app),
        config_path: path.clone(),
        admin: config.admin.clone(),
        store: store.clone(),
        api,
        recent_errors: errors.clone(),
        log_stats: None,
    });
    let router = admin_listener(Arc::clone(&app), None, Some(console));
    Env {
        _dir: dir,
        path,
        app,
        store,
        mock,
        errors,
        router,
    }
}

async fn env() -> Env {
    env_with("", true).await
}

impl Env {
    async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            headers,
            json,
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        session: Option<&Session>,
        peer: &str,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(s) = session {
            req = req
                .header(header::COOKIE, format!("wxoa_session={}", s.cookie))
                .header("x-csrf-token", &s.csrf);
        }
        let mut req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let peer: SocketAddr = peer.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        self.send(req).await
    }

    async fn login(&self) -> Session {
        let a = self
            .call(
                Method::POST,
                "/api/v1/login",
                Some(json!({"password": PASSWORD})),
                None,
                LOCAL,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.json);
        let cookie = a.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
        Session {
            cookie: cookie_value(&cookie),
            csrf: a.json["csrf"].as_str().unwrap().to_owned(),
        }
    }

    async fn get(&self, uri: &str, s: &Session) -> Answer {
        self.call(Method::GET, uri, None, Some(s), LOCAL).await
    }

    async fn with_body(&self, method: Method, uri: &str, body: Value, s: &Session) -> Answer {
        self.call(method, uri, Some(body), Some(s), LOCAL).await
    }

    /// The reply text to a routed (signed, plain) text push.
    async fn routed_reply(&self, text: &str, msg_id: u64) -> String {
        let uri = format!("/wechat?{}", plain_query(NOW, &msg_id.to_string()));
        let req = Request::post(&uri)
            .body(Body::from(text_xml(text, msg_id)))
            .unwrap();
        let resp = wxoa_server::edge::router(Arc::clone(&self.app))
            .oneshot(req)
            .await
            .unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        field(&String::from_utf8_lossy(&body), "Content").unwrap_or_default()
    }
}

struct Session {
    cookie: String,
    csrf: String,
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap()
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_wrong_passwords_are_limited() {
    let env = env().await;
    let a = env
        .call(
            Method::POST,
            "/api/v1/login",
            Some(json!({"password": PASSWORD})),
            None,
            REMOTE,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let cookie = a.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("wxoa_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
    assert_eq!(a.json["user"], "admin");
    assert_eq!(a.json["expires_at"], NOW + 12 * 3600);
    assert_eq!(a.json["csrf"].as_str().unwrap().len(), 64);

    let session = Session {
        cookie: cookie_value(cookie),
        csrf: a.json["csrf"].as_str().unwrap().to_owned(),
    };
    let s = env
        .call(Method::GET, "/api/v1/session", None, Some(&session), REMOTE)
        .await;
    assert_eq!(
        (s.status, s.json["appid"].as_str()),
        (StatusCode::OK, Some(APPID))
    );
    assert_eq!(s.json["csrf"], a.json["csrf"]);

    for _ in 0..5 {
        let wrong = env
            .call(
                Method::POST,
                "/api/v1/login",
                Some(json!({"password": "nope"})),
                None,
                REMOTE,
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.json["error"], "wrong password");
        assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    }
    let limited = env
        .call(
            Method::POST,
            "/api/v1/login",
            Some(json!({"password": PASSWORD})),
            None,
            REMOTE,
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers[header::RETRY_AFTER], "60");
    assert_eq!(limited.json["retry_after_secs"], 60);
    // Another address is not limited.
    env.login().await;

    let bad = env
        .call(
            Method::POST,
            "/api/v1/login",
            Some(json!({"pass": 1})),
            None,
            LOCAL,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json["error"].is_string());

    let out = env
        .call(Method::POST, "/api/v1/logout", None, Some(&session), REMOTE)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let gone = env
        .call(Method::GET, "/api/v1/session", None, Some(&session), REMOTE)
        .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_are_required_and_changes_need_the_csrf_token() {
    let env = env().await;
    let anonymous = env
        .call(Method::GET, "/api/v1/dashboard", None, None, LOCAL)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json["error"], "not logged in");

    let session = env.login().await;
    let no_csrf = Session {
        cookie: session.cookie.clone(),
        csrf: String::new(),
    };
    let before = std::fs::read_to_string(&env.path).unwrap();
    let refused = env
        .call(
            Method::DELETE,
            "/api/v1/rules/0",
            None,
            Some(&no_csrf),
            LOCAL,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.json["error"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token")
    );
    assert_eq!(
        std::fs::read_to_string(&env.path).unwrap(),
        before,
        "nothing changed"
    );
    // Reading needs no token.
    assert_eq!(
        env.get("/api/v1/rules", &no_csrf).await.status,
        StatusCode::OK
    );

    let unknown = env.get("/api/v1/nothing", &session).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.json["error"]
            .as_str()
            .unwrap()
            .contains("/api/v1/nothing")
    );
}

#[tokio::test]
async fn page_and_assets_are_served_with_protective_headers() {
    let env = env().await;
    let page = env.call(Method::GET, "/", None, None, REMOTE).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.json.as_str().unwrap().contains("/assets/app.js"));
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(
        page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let js = env
        .call(Method::GET, "/assets/app.js", None, None, REMOTE)
        .await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let css = env
        .call(Method::GET, "/assets/app.css", None, None, REMOTE)
        .await;
    assert_eq!(css.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_and_health_are_open_on_loopback_only() {
    let env = env().await;
    for path in ["/healthz", "/readyz"] {
        let local = env.call(Method::GET, path, None, None, LOCAL).await;
        assert_eq!(local.status, StatusCode::OK, "{path}");
        let v6 = env.call(Method::GET, path, None, None, "[::1]:4000").await;
        assert_eq!(v6.status, StatusCode::OK, "{path} from ::1");
        let remote = env.call(Method::GET, path, None, None, REMOTE).await;
        assert_eq!(remote.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            remote.headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
    }
    // No recorder in tests: /metrics answers 404 once admitted.
    let local = env.call(Method::GET, "/metrics", None, None, LOCAL).await;
    assert_eq!(local.status, StatusCode::NOT_FOUND);
    let remote = env.call(Method::GET, "/metrics", None, None, REMOTE).await;
    assert_eq!(remote.status, StatusCode::UNAUTHORIZED);

    use base64::Engine as _;
    let basic = |password: &str| {
        let mut req = Request::get("/healthz")
            .header(
                header::AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("prometheus:{password}"))
                ),
            )
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(REMOTE.parse::<SocketAddr>().unwrap()));
        req
    };
    assert_eq!(env.send(basic(PASSWORD)).await.status, StatusCode::OK);
    assert_eq!(
        env.send(basic("wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A console session admits too.
    let session = env.login().await;
    let with_session = env
        .call(Method::GET, "/healthz", None, Some(&session), REMOTE)
        .await;
    assert_eq!(with_session.status, StatusCode::OK);
}

#[tokio::test]
async fn console_off_keeps_the_listener_as_before() {
    let app = app("");
    let router = wxoa_server::metrics::admin_router(app, None);
    let req = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
    let health = router.clone().oneshot(req("/healthz")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let api = router.oneshot(req("/api/v1/session")).await.unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let body = api.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("wxoa admin passwd"));
}

#[tokio::test]
async fn sso_header_is_believed_from_trusted_proxies_only() {
    let env = env_with(
        "sso_header = \"X-Forwarded-User\"\nsso_trusted_proxies = [\"10.0.0.9\"]\n",
        true,
    )
    .await;
    let ask = |peer: &str| {
        let mut req = Request::get("/api/v1/session")
            .header("x-forwarded-user", "alice")
            .header("x-forwarded-proto", "https")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        req
    };
    let trusted = env.send(ask(PROXY)).await;
    assert_eq!(trusted.status, StatusCode::OK);
    assert_eq!(trusted.json["user"], "alice");
    let cookie = trusted.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    let untrusted = env.send(ask(REMOTE)).await;
    assert_eq!(untrusted.status, StatusCode::UNAUTHORIZED);
    // Requests without the cookie keep the one session of the user.
    let again = env.send(ask(PROXY)).await;
    assert_eq!(again.json["csrf"], trusted.json["csrf"]);
    // The proxy's user may read /metrics and /healthz through it.
    let mut health = Request::get("/healthz")
        .header("x-forwarded-user", "alice")
        .body(Body::empty())
        .unwrap();
    health
        .extensions_mut()
        .insert(ConnectInfo(PROXY.parse::<SocketAddr>().unwrap()));
    assert_eq!(env.send(health).await.status, StatusCode::OK);

    // The SSO user's changes are audited under their name.
    let session = Session {
        cookie: cookie_value(cookie),
        csrf: trusted.json["csrf"].as_str().unwrap().to_owned(),
    };
    let moved = env
        .call(
            Method::POST,
            "/api/v1/rules/1/move",
            Some(json!({"to": 0})),
            Some(&session),
            PROXY,
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.json);
    let audit = env
        .call(Method::GET, "/api/v1/audit", None, Some(&session), PROXY)
        .await;
    assert_eq!(audit.json["entries"][0]["actor"], "alice");
}

#[tokio::test]
async fn rules_are_listed_and_tried_like_rules_test() {
    let env = env().await;
    let s = env.login().await;
    let list = env.get("/api/v1/rules", &s).await;
    assert_eq!(list.status, StatusCode::OK);
    let rules = list.json["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 6);
    assert_eq!(rules[1]["name"], "help");
    assert_eq!(rules[1]["matchers"], "keyword = \"使用\"");
    assert_eq!(rules[1]["reply_kind"], "text");
    assert!(
        rules[1]["toml"]
            .as_str()
            .unwrap()
            .starts_with("name = \"help\"\nkeyword")
    );
    assert!(list.json["source"].as_str().unwrap().ends_with("wxoa.toml"));

    let tried = env
        .with_body(
            Method::POST,
            "/api/v1/rules/test",
            json!({"text": "产品 Rust"}),
            &s,
        )
        .await;
    assert_eq!(tried.status, StatusCode::OK, "{}", tried.json);
    assert_eq!(tried.json["matched"], true);
    assert_eq!(tried.json["rule"], "product");
    assert_eq!(
        tried.json["reply"],
        json!({"kind": "text", "text": "产品：Rust/Rust"})
    );
    assert!(
        tried.json["xml"]
            .as_str()
            .unwrap()
            .contains("<![CDATA[产品：Rust/Rust]]>")
    );
    let event = env
        .with_body(
            Method::POST,
            "/api/v1/rules/test",
            json!({"event": "CLICK", "key": "MENU_HELP"}),
            &s,
        )
        .await;
    assert_eq!(event.json["rule"], "menu-help");
    let none = env
        .with_body(
            Method::POST,
            "/api/v1/rules/test",
            json!({"msg_type": "image"}),
            &s,
        )
        .await;
    assert_eq!(
        (none.json["matched"].clone(), none.json["xml"].clone()),
        (json!(false), Value::Null)
    );
    let empty = env
        .with_body(Method::POST, "/api/v1/rules/test", json!({}), &s)
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_rule_edit_is_written_keeping_comments_and_the_next_push_gets_it() {
    let env = env().await;
    let s = env.login().await;
    assert_eq!(env.routed_reply("使用", 1).await, "发送 产品+名称 查询产品");
    let before = std::fs::read_to_string(&env.path).unwrap();

    let toml = "name = \"help\"\nkeyword = \"使用\"\nreply = { text = \"新的帮助\" }";
    let a = env
        .with_body(Method::PUT, "/api/v1/rules/1", json!({"toml": toml}), &s)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["rules"][1]["toml"], toml);
    let after = std::fs::read_to_string(&env.path).unwrap();
    assert_eq!(
        after,
        before.replace("发送 产品+名称 查询产品", "新的帮助"),
        "only the rule changed"
    );
    assert!(after.contains("# The help text; keep this comment.\n[[rules]]\nname = \"help\""));
    assert_eq!(env.routed_reply("使用", 2).await, "新的帮助");

    let audit = env.get("/api/v1/audit?limit=5", &s).await;
    let entry = &audit.json["entries"][0];
    assert_eq!(
        (
            entry["actor"].as_str(),
            entry["action"].as_str(),
            entry["target"].as_str()
        ),
        (Some("admin"), Some("rule.update"), Some("help"))
    );
    assert_eq!(entry["detail"], toml);
    assert_eq!(entry["at"], NOW);
}

#[tokio::test]
async fn a_bad_rule_edit_is_refused_with_the_loader_message_and_nothing_written() {
    let env = env().await;
    let s = env.login().await;
    let before = std::fs::read_to_string(&env.path).unwrap();
    for toml in [
        "name = \"help\"\nregex = \"(\"\nreply = { text = \"x\" }",
        "name = \"help\"\nkeyword = \"使用\"\nreply = { txet = \"x\" }",
        "name = ",
    ] {
        let a = env
            .with_body(Method::PUT, "/api/v1/rules/1", json!({"toml": toml}), &s)
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{toml}: {}",
            a.json
        );
        assert_eq!(a.json["field"], "toml");
        assert!(!a.json["error"].as_str().unwrap().is_empty());
        assert_eq!(
            std::fs::read_to_string(&env.path).unwrap(),
            before,
            "{toml}"
        );
    }
    let regex = env
        .with_body(
            Method::PUT,
            "/api/v1/rules/1",
            json!({"toml": "name = \"help\"\nregex = \"(\"\nreply = { text = \"x\" }"}),
            &s,
        )
        .await;
    let message = regex.json["error"].as_str().unwrap();
    let loader = Config::from_toml(
        &before.replace("keyword = \"使用\"", "regex = \"(\""),
        &env.path,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(message, loader, "the same message a reload gives");
    assert_eq!(env.routed_reply("使用", 3).await, "发送 产品+名称 查询产品");
    let missing = env
        .with_body(
            Method::PUT,
            "/api/v1/rules/60",
            json!({"toml": "name = \"x\""}),
            &s,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        env.get("/api/v1/audit", &s).await.json["entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn rules_are_inserted_moved_and_deleted() {
    let env = env().await;
    let s = env.login().await;
    let names = |a: &Answer| -> Vec<String> {
        a.json["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let inserted = env
        .with_body(
            Method::POST,
            "/api/v1/rules",
            json!({"toml": "name = \"hi\"\nkeyword = \"hi\"\nreply = { text = \"hello!\" }", "index": 0}),
            &s,
        )
        .await;
    assert_eq!(inserted.status, StatusCode::OK, "{}", inserted.json);
    assert_eq!(names(&inserted)[..2], ["hi", "welcome"]);
    assert_eq!(env.routed_reply("hi", 4).await, "hello!");

    let moved = env
        .with_body(Method::POST, "/api/v1/rules/0/move", json!({"to": 6}), &s)
        .await;
    assert_eq!(names(&moved)[6], "hi");
    // Behind the catch-all echo now.
    assert_eq!(env.routed_reply("hi", 5).await, "you said: hi");

    let deleted = env
        .call(Method::DELETE, "/api/v1/rules/5", None, Some(&s), LOCAL)
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(!names(&deleted).contains(&"echo".to_owned()));
    assert_eq!(env.routed_reply("hi", 6).await, "hello!");

    let appended = env
        .with_body(Method::POST, "/api/v1/rules", json!({"toml": "name = \"last\"\nmsg_type = \"image\"\nreply = { text = \"nice picture\" }"}), &s)
        .await;
    assert_eq!(names(&appended).last().unwrap(), "last");
    let text = std::fs::read_to_string(&env.path).unwrap();
    assert!(
        text.find("name = \"last\"").unwrap() < text.find("[api]").unwrap(),
        "{text}"
    );

    let actions: Vec<String> = env.get("/api/v1/audit", &s).await.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        ["rule.insert", "rule.delete", "rule.move", "rule.insert"]
    );
}

#[tokio::test]
async fn menu_is_validated_pushed_read_and_deleted_on_the_platform() {
    let env = env().await;
    let s = env.login().await;
    let none = env.get("/api/v1/menu", &s).await;
    assert_eq!(
        (none.status, none.json["menu"].clone()),
        (StatusCode::OK, Value::Null)
    );

    let menu = json!({"button": [
        {"type": "click", "name": "帮助", "key": "MENU_HELP"},
        {"name": "更多", "sub_button": [{"type": "view", "name": "官网", "url": "https://example.com/"}]}
    ]});
    let ok = env
        .with_body(
            Method::POST,
            "/api/v1/menu/validate",
            json!({"menu": menu}),
            &s,
        )
        .await;
    assert_eq!(ok.json, json!({"ok": true}));
    let bad_menu = json!({"button": [{"type": "click", "name": "这个名字实在是太长了"}]});
    let bad = env
        .with_body(
            Method::POST,
            "/api/v1/menu/validate",
            json!({"menu": bad_menu}),
            &s,
        )
        .await;
    assert_eq!(bad.json["ok"], false);
    let issues = bad.json["issues"].as_array().unwrap();
    assert!(
        issues.iter().all(|i| i["path"] == "button[0]"),
        "{issues:?}"
    );
    assert!(issues.len() >= 2, "name too long and no key: {issues:?}");

    let refused = env
        .with_body(Method::PUT, "/api/v1/menu", json!({"menu": bad_menu}), &s)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json["field"], "menu");
    assert!(refused.json["issues"].is_array());
    assert!(env.mock.menu().is_none(), "nothing pushed");

    let pushed = env
        .with_body(Method::PUT, "/api/v1/menu", json!({"menu": menu}), &s)
        .await;
    assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.json);
    let on_platform = env.mock.menu().unwrap();
    assert_eq!(on_platform["menu"]["button"][0]["key"], "MENU_HELP");
    let read = env.get("/api/v1/menu", &s).await;
    assert_eq!(
        read.json["menu"]["button"][1]["sub_button"][0]["url"],
        "https://example.com/"
    );

    let deleted = env
        .call(Method::DELETE, "/api/v1/menu", None, Some(&s), LOCAL)
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(env.mock.menu().is_none());
    let actions: Vec<Value> = env.get("/api/v1/audit", &s).await.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(actions, [json!("menu.delete"), json!("menu.push")]);
}

#[tokio::test]
async fn platform_calls_answer_503_without_an_app_secret() {
    let env = env_with("", false).await;
    let s = env.login().await;
    let menu = env.get("/api/v1/menu", &s).await;
    assert_eq!(menu.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        menu.json["error"]
            .as_str()
            .unwrap()
            .contains("account.secret")
    );
    let refresh = env
        .call(
            Method::POST,
            "/api/v1/followers/refresh",
            None,
            Some(&s),
            LOCAL,
        )
        .await;
    assert_eq!(refresh.status, StatusCode::SERVICE_UNAVAILABLE);
    let dashboard = env.get("/api/v1/dashboard", &s).await;
    assert_eq!(dashboard.json["token"]["state"], "no_secret");
}

#[tokio::test]
async fn a_kf_text_reaches_the_platform_and_refusals_carry_the_errcode() {
    let env = env().await;
    let s = env.login().await;
    let now = wxoa_api::SystemClock.now_unix();
    env.mock
        .add_follower(Follower::new("oWriter").last_message_at(now));
    env.mock.add_follower(Follower::new("oSilent"));
    env.store
        .followers()
        .follower_event(APPID, "oWriter", true, NOW - 10, None)
        .await
        .unwrap();

    let sent = env
        .with_body(
            Method::POST,
            "/api/v1/followers/oWriter/send",
            json!({"text": "您好，订单已发货"}),
            &s,
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
    assert_eq!(sent.json, json!({"ok": true}));
    let outbox = env.mock.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].touser.as_str(), outbox[0].text.as_str()),
        ("oWriter", "您好，订单已发货")
    );

    let refused = env
        .with_body(
            Method::POST,
            "/api/v1/followers/oSilent/send",
            json!({"text": "hello"}),
            &s,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_GATEWAY, "{}", refused.json);
    assert_eq!(refused.json["errcode"], 45015);

    let empty = env
        .with_body(
            Method::POST,
            "/api/v1/followers/oWriter/send",
            json!({"text": "  "}),
            &s,
        )
        .await;
    assert_eq!(
        (empty.status, empty.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("text"))
    );
    let long = env
        .with_body(
            Method::POST,
            "/api/v1/followers/oWriter/send",
            json!({"text": "长".repeat(700)}),
            &s,
        )
        .await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(env.mock.outbox().len(), 1);

    // The client fetched one token for the calls; the dashboard reads it without fetching.
    let token = env.get("/api/v1/dashboard", &s).await.json["token"].clone();
    assert_eq!(
        (token["state"].as_str(), token["fetches_today"].as_u64()),
        (Some("valid"), Some(1))
    );
    assert!(token["expires_in_secs"].as_i64().unwrap() > 0);
    assert_eq!(env.mock.token_fetches().stable, 1);

    let audit = env.get("/api/v1/audit", &s).await;
    let entries = audit.json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["action"], "message.send");
    assert_eq!(entries[1]["target"], "oWriter");
    assert!(
        entries[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("refused")
    );
}

#[tokio::test]
async fn followers_are_listed_annotated_and_refreshed_from_the_platform() {
    let env = env().await;
    let s = env.login().await;
    let followers = env.store.followers();
    followers
        .follower_event(APPID, "oA", true, NOW - 100, Some("ADD_SCENE_QR_CODE"))
        .await
        .unwrap();
    followers
        .follower_event(APPID, "oB", true, NOW - 50, None)
        .await
        .unwrap();
    followers
        .follower_event(APPID, "oB", false, NOW - 40, None)
        .await
        .unwrap();
    followers
        .follower_event(APPID, "oGone", true, NOW - 30, None)
        .await
        .unwrap();

    let list = env.get("/api/v1/followers?per_page=1", &s).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    assert_eq!(
        (list.json["total"].clone(), list.json["per_page"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(list.json["followers"][0]["openid"], "oGone");
    let subscribed = env.get("/api/v1/followers?subscribed=true", &s).await;
    assert_eq!(subscribed.json["total"], 2);
    assert_eq!(
        env.get("/api/v1/followers?per_page=0", &s).await.status,
        StatusCode::BAD_REQUEST
    );

    let detail = env.get("/api/v1/followers/oB", &s).await;
    assert_eq!(detail.json["follower"]["subscribed"], false);
    assert_eq!(detail.json["events"].as_array().unwrap().len(), 2);
    assert_eq!(
        detail.json["kf_window"],
        json!({"open": false, "until": null})
    );
    assert_eq!(
        env.get("/api/v1/followers/oNobody", &s).await.status,
        StatusCode::NOT_FOUND
    );

    env.mock.add_follower(Follower::new("oA"));
    let updated = env
        .with_body(
            Method::PUT,
            "/api/v1/followers/oA",
            json!({"remark": "VIP", "tags": ["客户", "北京", "客户"]}),
            &s,
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.json);
    assert_eq!(updated.json["follower"]["tags"], json!(["客户", "北京"]));
    assert_eq!(
        env.mock.follower("oA").unwrap().remark,
        "VIP",
        "set on the platform too"
    );
    let tagged = env
        .get("/api/v1/followers?tag=%E5%8C%97%E4%BA%AC", &s)
        .await;
    assert_eq!(tagged.json["total"], 1);
    let too_long = env
        .with_body(
            Method::PUT,
            "/api/v1/followers/oA",
            json!({"remark": "长".repeat(31)}),
            &s,
        )
        .await;
    assert_eq!(
        (too_long.status, too_long.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("remark"))
    );

    // The platform knows three more followers.
    for openid in ["oP1", "oP2", "oP3"] {
        env.mock.add_follower(Follower::new(openid));
    }
    let started = env
        .call(
            Method::POST,
            "/api/v1/followers/refresh",
            None,
            Some(&s),
            LOCAL,
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    assert_eq!(started.json["running"], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = env.get("/api/v1/followers/refresh", &s).await.json;
        if status["running"] == false {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the refresh never finished: {status}"
        );
        tokio::task::yield_now().await;
    };
    assert_eq!(status["error"], Value::Null, "{status}");
    assert_eq!(
        (status["done"].clone(), status["total"].clone()),
        (json!(4), json!(4))
    );
    assert_eq!(env.get("/api/v1/followers", &s).await.json["total"], 6);
    // oGone is not on the platform's list any more: marked as having left.
    let subscribed = env.get("/api/v1/followers?subscribed=true", &s).await;
    assert_eq!(
        subscribed.json["total"], 4,
        "oA and the three read from the platform"
    );
    assert_eq!(
        env.get("/api/v1/followers/oGone", &s).await.json["follower"]["subscribed"],
        false
    );
    let audit = env.get("/api/v1/audit?limit=1", &s).await;
    assert_eq!(audit.json["entries"][0]["action"], "followers.refresh");
}

#[tokio::test]
async fn messages_and_the_dashboard_read_the_log() {
    let env = env().await;
    let s = env.login().await;
    let log = env.store.message_log();
    for (i, (openid, content, rule)) in [
        ("oA", "使用", Some("help")),
        ("oB", "hi", None),
        ("oA", "产品 X", Some("product")),
    ]
    .into_iter()
    .enumerate()
    {
        let i = i64::try_from(i).unwrap();
        log.log_message(&MessageLogEntry {
            at: NOW - 30 + i,
            appid: APPID.into(),
            openid: openid.into(),
            msg_type: "text".into(),
            content: Some(content.into()),
            rule: rule.map(Into::into),
            reply_type: Some("text".into()),
            reply: Some("ok".into()),
            latency_ms: 2,
            mode: "plain".into(),
            source: "fresh".into(),
            ..MessageLogEntry::default()
        })
        .await
        .unwrap();
    }
    let all = env.get("/api/v1/messages", &s).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.json);
    let messages = all.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0]["content"], "产品 X");
    assert_eq!(all.json["has_more"], false);
    let first_id = messages[2]["id"].as_i64().unwrap();
    let of_a = env.get("/api/v1/messages?openid=oA&limit=1", &s).await;
    assert_eq!(of_a.json["messages"].as_array().unwrap().len(), 1);
    assert_eq!(of_a.json["has_more"], true);
    let newer = env
        .get(&format!("/api/v1/messages?after_id={first_id}"), &s)
        .await;
    assert_eq!(newer.json["messages"].as_array().unwrap().len(), 2);
    let search = env.get("/api/v1/messages?q=%E4%BA%A7%E5%93%81", &s).await;
    assert_eq!(search.json["messages"][0]["rule"], "product");
    assert_eq!(
        env.get("/api/v1/messages?limit=500", &s).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        env.get("/api/v1/messages?since=soon", &s).await.status,
        StatusCode::BAD_REQUEST
    );

    env.errors.record(LoggedError {
        at: NOW - 60,
        level: "ERROR".into(),
        target: "wxoa_server::app".into(),
        message: "action failed".into(),
    });
    let d = env.get("/api/v1/dashboard", &s).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.json);
    assert_eq!(d.json["now"], NOW);
    let per_minute = d.json["pushes_per_minute"].as_array().unwrap();
    assert_eq!(per_minute.len(), 60);
    assert_eq!(
        per_minute
            .iter()
            .map(|m| m["count"].as_u64().unwrap())
            .sum::<u64>(),
        3
    );
    assert!(
        d.json["answers_by_rule"]
            .as_array()
            .unwrap()
            .contains(&json!({"rule": null, "count": 1}))
    );
    assert_eq!(d.json["latency_ms"]["count"], 3);
    assert_eq!(d.json["latency_ms"]["budget_ms"], 5000);
    assert_eq!(d.json["outcomes"], json!([{"source": "fresh", "count": 3}]));
    assert_eq!(d.json["token"]["state"], "none");
    assert_eq!(d.json["token"]["fetches_today"], 0);
    assert_eq!(d.json["errors"][0]["message"], "action failed");
    assert_eq!(
        d.json["log"],
        json!({"queue_depth": 0, "dropped": 0, "written": 0})
    );
    // Two followers wrote; a message from someone not yet known counts them as following.
    assert_eq!(
        d.json["followers"],
        json!({"subscribed": 2, "unsubscribed": 0})
    );
}

#[test]
fn the_config_path_is_absolute_or_relative_to_the_test() {
    // Guards the helper above: a relative store URL resolves beside the config file.
    let text = "[account]\nappid = \"wx49f0ab532d5d035a\"\ntoken = \"abc\"\n[store]\nurl = \"sqlite://wxoa.db\"\n";
    let c = Config::from_toml(text, Path::new("/srv/bot/wxoa.toml")).unwrap();
    assert_eq!(c.base_dir, Path::new("/srv/bot"));
}
