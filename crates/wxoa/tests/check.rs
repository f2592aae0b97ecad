//! `wxoa check` as an owner runs it: the binary against temporary configs whose
//! `api.base_url` is a wiremock platform and whose `server.public_url` is a local server
//! (wxoa itself, one with another Token, an HTML login page, a redirect, a self-signed HTTPS);
//! and the HTTPS files of `server.tls_cert` / `server.tls_key`, which `wxoa serve` refuses to
//! start with when they are bad.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use axum::Router;
use axum::response::{Html, Redirect};
use axum::routing::get;
use serde_json::Value;
use support::TempDir;
use tokio::sync::oneshot;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use wxoa_server::clock::SystemClock;
use wxoa_server::{App, Config};

const APPID: &str = "wx49f0ab532d5d035a";
const TOKEN: &str = "wxoatesttoken";
const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

/// The text of a config for the test account.
fn config_text(base_url: &str, secret: &str, public_url: Option<&str>) -> String {
    let public = public_url
        .map(|u| format!("public_url = \"{u}\"\n"))
        .unwrap_or_default();
    format!(
        r#"[server]
timestamp_skew_secs = 300
{public}
[account]
appid = "{APPID}"
secret = "{secret}"
token = "{TOKEN}"
encoding_aes_key = "{AES_KEY}"

[api]
base_url = "{base_url}"
timeout_ms = 5000

[store]
url = "sqlite://data/wxoa.db"

[[rules]]
name = "echo"
msg_type = "text"
reply = {{ text = "you said: {{{{ content }}}}" }}
"#
    )
}

/// Write `text` as `wxoa.toml` in a new directory; returns the directory and the file's path.
fn write_config(name: &str, text: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(&format!("check-{name}"));
    let file = dir.path().join("wxoa.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

/// Run `wxoa check --config FILE [extra]` off the async runtime (the test's servers keep
/// answering meanwhile).
async fn check(file: &Path, extra: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxoa"));
    command
        .arg("check")
        .arg("--config")
        .arg(file)
        .args(extra)
        .env_remove("WXOA_CONFIG")
        .env_remove("WXOA_ACCOUNT__SECRET")
        .env_remove("WXOA_ACCOUNT__TOKEN")
        .env("RUST_LOG", "error");
    tokio::task::spawn_blocking(move || command.output().expect("run wxoa"))
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The line of check `name` and the indented fix lines below it.
fn block(out: &str, name: &str) -> String {
    let mut lines = out
        .lines()
        .skip_while(|l| l.starts_with(' ') || l.split_whitespace().nth(1) != Some(name));
    let mut text = lines.next().unwrap_or_default().to_owned();
    for line in lines.take_while(|l| l.starts_with(' ')) {
        text.push('\n');
        text.push_str(line);
    }
    assert!(!text.is_empty(), "no line for {name} in:\n{out}");
    text
}

/// A platform answering the token fetch with `body`.
async fn platform(body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    server
}

fn token_ok() -> Value {
    serde_json::json!({ "access_token": "ACCESS_TOKEN_FOR_CHECK", "expires_in": 7200 })
}

/// Serve `router` on 127.0.0.1:0 until the returned sender is dropped or used.
async fn serve_router(router: Router) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop)
}

/// Run the real callback server with `token` on 127.0.0.1:0.
async fn serve_wxoa(token: &str) -> (SocketAddr, oneshot::Sender<()>) {
    let text = config_text("http://127.0.0.1:9", "", None).replace(TOKEN, token);
    let config = Config::from_toml(&text, Path::new("wxoa.toml")).unwrap();
    let app = Arc::new(App::new(&config, Arc::new(SystemClock)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(wxoa_server::serve(listener, app, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test]
async fn a_good_setup_passes_with_exit_code_zero() {
    let api = platform(token_ok()).await;
    let (_dir, file) = write_config("good", &config_text(&api.uri(), "APPSECRET", None));
    let out = check(&file, &[]).await;
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{out:?}");
    assert!(text.starts_with("wxoa check: "), "{text}");
    for name in [
        "config",
        "appid",
        "token",
        "encoding_aes_key",
        "rules",
        "api_reachable",
        "clock",
        "access_token",
    ] {
        assert!(block(&text, name).starts_with('✓'), "{name}:\n{text}");
    }
    assert!(
        block(&text, "access_token").contains("stable_token"),
        "{text}"
    );
    // A new store has its migrations still to apply: a warning, not a failure.
    assert!(block(&text, "store").starts_with('!'), "{text}");
    assert!(block(&text, "url_verification").starts_with('-'), "{text}");
    assert!(!text.contains('✗'), "{text}");
}

#[tokio::test]
async fn ip_not_whitelisted_names_the_egress_ip_and_where_to_add_it() {
    let api = platform(serde_json::json!({
        "errcode": 40164,
        "errmsg": "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 6577-1a2b"
    }))
    .await;
    let (_dir, file) = write_config("40164", &config_text(&api.uri(), "APPSECRET", None));
    let out = check(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = block(&stdout(&out), "access_token");
    assert!(line.starts_with("✗ access_token"), "{line}");
    assert!(
        line.contains("40164") && line.contains("203.0.113.7"),
        "{line}"
    );
    assert!(
        line.contains("设置与开发 → 基本配置 → IP白名单 添加 203.0.113.7"),
        "{line}"
    );
    assert!(line.contains("add 203.0.113.7 in"), "{line}");
}

#[tokio::test]
async fn wrong_secret_and_wrong_appid_are_told_apart() {
    let api =
        platform(serde_json::json!({ "errcode": 40125, "errmsg": "invalid appsecret rid: 1" }))
            .await;
    let (_dir, file) = write_config("40125", &config_text(&api.uri(), "WRONG", None));
    let out = check(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = block(&stdout(&out), "access_token");
    assert!(
        line.starts_with('✗') && line.contains("wrong AppSecret"),
        "{line}"
    );
    assert!(line.contains("AppSecret 不合法"), "{line}");

    let api =
        platform(serde_json::json!({ "errcode": 40013, "errmsg": "invalid appid rid: 2" })).await;
    let (_dir, file) = write_config("40013", &config_text(&api.uri(), "APPSECRET", None));
    let out = check(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = block(&stdout(&out), "access_token");
    assert!(
        line.starts_with('✗') && line.contains("wrong AppID"),
        "{line}"
    );
    assert!(line.contains("account.appid"), "{line}");
}

#[tokio::test]
async fn an_empty_secret_skips_the_token_with_a_note() {
    let api = platform(token_ok()).await;
    let (_dir, file) = write_config("nosecret", &config_text(&api.uri(), "", None));
    let out = check(&file, &[]).await;
    assert!(out.status.success(), "{out:?}");
    let line = block(&stdout(&out), "access_token");
    assert!(line.starts_with("- access_token"), "{line}");
    assert!(line.contains("WXOA_ACCOUNT__SECRET"), "{line}");
    // No token was fetched.
    let fetched = api.received_requests().await.unwrap();
    assert!(
        fetched
            .iter()
            .all(|r| r.url.path() != "/cgi-bin/stable_token"),
        "{fetched:?}"
    );
}

#[tokio::test]
async fn a_clock_far_from_the_api_servers_date_fails() {
    let api = platform(token_ok()).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/getcallbackip"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("date", "Mon, 01 Jan 2001 00:00:00 GMT")
                .set_body_json(
                    serde_json::json!({ "errcode": 41001, "errmsg": "access_token missing" }),
                ),
        )
        .mount(&api)
        .await;
    let (_dir, file) = write_config("clock", &config_text(&api.uri(), "", None));
    let out = check(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = block(&stdout(&out), "clock");
    assert!(line.starts_with("✗ clock"), "{line}");
    assert!(line.contains("ahead of the API server's"), "{line}");
    assert!(line.contains("timestamp_skew_secs = 300"), "{line}");
    assert!(line.contains("timedatectl"), "{line}");
}

#[tokio::test]
async fn public_url_answered_by_wxoa_with_the_same_token_verifies() {
    let api = platform(token_ok()).await;
    let (addr, _stop) = serve_wxoa(TOKEN).await;
    let url = format!("http://{addr}/wechat");
    let (_dir, file) = write_config("verify-ok", &config_text(&api.uri(), "", Some(&url)));
    let out = check(&file, &[]).await;
    let text = stdout(&out);
    let line = block(&text, "url_verification");
    assert!(line.starts_with('✓'), "{line}");
    assert!(line.contains("echostr verbatim"), "{line}");
    // A test server is on a high port of the loopback: the platform could call neither.
    let shape = block(&text, "public_url");
    assert!(shape.starts_with('✗'), "{shape}");
    assert!(shape.contains(&format!("port {}", addr.port())), "{shape}");
    assert!(shape.contains("80 (http) or 443 (https)"), "{shape}");
    assert_eq!(out.status.code(), Some(1), "{text}");
}

#[tokio::test]
async fn public_url_with_another_token_behind_it_is_a_token_mismatch() {
    let api = platform(token_ok()).await;
    let (addr, _stop) = serve_wxoa("someothertoken").await;
    let url = format!("http://{addr}/wechat");
    let (_dir, file) = write_config("verify-403", &config_text(&api.uri(), "", Some(&url)));
    let out = check(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = block(&stdout(&out), "url_verification");
    assert!(line.starts_with('✗'), "{line}");
    assert!(line.contains("HTTP 403"), "{line}");
    assert!(line.contains("token mismatch likely"), "{line}");
    assert!(line.contains("account.token"), "{line}");
}

#[tokio::test]
async fn public_url_answered_by_an_html_page_or_a_redirect_is_named() {
    let api = platform(token_ok()).await;
    let router = Router::new()
        .route(
            "/wechat",
            get(|| async {
                Html("<!DOCTYPE html><html><head><title>Sign in</title></head><body><form></form></body></html>")
            }),
        )
        .route(
            "/moved",
            get(|| async { Redirect::permanent("https://example.com/wechat/") }),
        );
    let (addr, _stop) = serve_router(router).await;

    let url = format!("http://{addr}/wechat");
    let (_dir, file) = write_config("verify-html", &config_text(&api.uri(), "", Some(&url)));
    let out = check(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = block(&stdout(&out), "url_verification");
    assert!(line.starts_with('✗'), "{line}");
    assert!(line.contains("HTML page titled \"Sign in\""), "{line}");
    assert!(line.contains("CSRF"), "{line}");

    let url = format!("http://{addr}/moved");
    let (_dir, file) = write_config("verify-redirect", &config_text(&api.uri(), "", Some(&url)));
    let out = check(&file, &[]).await;
    let text = stdout(&out);
    let line = block(&text, "url_verification");
    assert!(
        line.contains("HTTP 308: redirected to https://example.com/wechat/"),
        "{line}"
    );
    assert!(line.contains("does not follow redirects"), "{line}");
    // The path differs from server.path: said on the public_url line.
    assert!(
        block(&text, "public_url").contains("/moved differs"),
        "{text}"
    );
}

#[tokio::test]
async fn public_url_with_nothing_listening_or_a_self_signed_certificate() {
    let api = platform(token_ok()).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{closed}/wechat");
    let (_dir, file) = write_config("verify-refused", &config_text(&api.uri(), "", Some(&url)));
    let out = check(&file, &[]).await;
    let line = block(&stdout(&out), "url_verification");
    assert!(line.starts_with('✗'), "{line}");
    assert!(line.contains("connection refused"), "{line}");

    // HTTPS with a self-signed certificate: the platform would refuse it, and so does check.
    let tmp = TempDir::new("check-self-signed-files");
    let dir = tmp.path();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let certs = Arc::new(
        wxoa_server::tls::CertStore::load(dir.join("cert.pem"), dir.join("key.pem")).unwrap(),
    );
    let text = config_text("http://127.0.0.1:9", "", None);
    let config = Config::from_toml(&text, Path::new("wxoa.toml")).unwrap();
    let app = Arc::new(App::new(&config, Arc::new(SystemClock)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(wxoa_server::tls::serve_tls(
        listener,
        app,
        certs,
        wxoa_server::tls::TlsOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let url = format!("https://{addr}/wechat");
    let (_dir, file) = write_config("verify-tls", &config_text(&api.uri(), "", Some(&url)));
    let out = check(&file, &[]).await;
    let line = block(&stdout(&out), "url_verification");
    assert!(line.starts_with('✗'), "{line}");
    assert!(line.contains("TLS error"), "{line}");
    assert!(line.contains("fullchain.pem"), "{line}");
}

#[tokio::test]
async fn json_output_is_an_array_of_checks() {
    let api =
        platform(serde_json::json!({ "errcode": 40125, "errmsg": "invalid appsecret" })).await;
    let (_dir, file) = write_config("json", &config_text(&api.uri(), "WRONG", None));
    let out = check(&file, &["--json"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let checks = v.as_array().expect("an array");
    assert!(checks.len() >= 10, "{v}");
    for c in checks {
        let obj = c.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["detail", "fix_en", "fix_zh", "name", "status"],
            "{c}"
        );
        assert!(
            ["ok", "fail", "warn", "skip"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        assert!(c["detail"].is_string() && c["name"].is_string(), "{c}");
        if c["status"] == "fail" {
            assert!(c["fix_zh"].is_string() && c["fix_en"].is_string(), "{c}");
        }
    }
    let token = checks.iter().find(|c| c["name"] == "access_token").unwrap();
    assert_eq!(token["status"], "fail");
    assert!(
        token["detail"].as_str().unwrap().contains("40125"),
        "{token}"
    );
    let config = checks.iter().find(|c| c["name"] == "config").unwrap();
    assert_eq!(config["status"], "ok");
    assert!(config["fix_zh"].is_null());
}

#[tokio::test]
async fn a_broken_config_names_each_bad_value_and_skips_the_network() {
    let api = platform(token_ok()).await;
    let text = config_text(&api.uri(), "APPSECRET", None)
        .replace(APPID, "gh_1234567890ab")
        .replace(TOKEN, "change-me")
        .replace(AES_KEY, &AES_KEY[..40]);
    let (_dir, file) = write_config("broken", &text);
    let out = check(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    let config = block(&text, "config");
    assert!(
        config.starts_with('✗') && config.contains("account.appid"),
        "{config}"
    );
    assert!(block(&text, "appid").contains("原始ID"), "{text}");
    assert!(block(&text, "token").contains("\"-\""), "{text}");
    assert!(
        block(&text, "encoding_aes_key").contains("got 40"),
        "{text}"
    );
    assert!(block(&text, "rules").starts_with('✓'), "{text}");
    assert!(block(&text, "access_token").starts_with('-'), "{text}");
    assert!(api.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_config_file_is_one_failure() {
    let dir = TempDir::new("check-missing");
    let out = check(&dir.path().join("nope.toml"), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(block(&text, "config").contains("nope.toml"), "{text}");
    assert!(text.contains("WXOA_CONFIG"), "{text}");
}

#[tokio::test]
async fn tls_files_are_checked_and_serve_refuses_bad_ones() {
    let api = platform(token_ok()).await;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let tls = "[server]\ntls_cert = \"fullchain.pem\"\ntls_key = \"privkey.pem\"\n";
    let text = config_text(&api.uri(), "", None).replacen("[server]\n", tls, 1);
    let (tmp, file) = write_config("tls-files", &text);
    let dir = tmp.path();
    std::fs::write(dir.join("fullchain.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("privkey.pem"), cert.signing_key.serialize_pem()).unwrap();
    let out = check(&file, &[]).await;
    let line = block(&stdout(&out), "tls");
    assert!(line.starts_with("✓ tls"), "{line}");
    assert!(line.contains("load and match"), "{line}");

    std::fs::write(
        dir.join("privkey.pem"),
        "-----BEGIN PRIVATE KEY-----\ngarbage\n",
    )
    .unwrap();
    let out = check(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = block(&stdout(&out), "tls");
    assert!(
        line.starts_with("✗ tls") && line.contains("privkey.pem"),
        "{line}"
    );

    // `wxoa serve` stops before listening and names the file.
    let serve = Command::new(env!("CARGO_BIN_EXE_wxoa"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .env_remove("WXOA_CONFIG")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!serve.status.success(), "{serve:?}");
    let err = String::from_utf8_lossy(&serve.stderr);
    assert!(
        err.contains("server.tls_key") && err.contains("privkey.pem"),
        "{err}"
    );
}

#[tokio::test]
async fn the_classic_token_endpoint_is_checked_too() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_ok()))
        .mount(&api)
        .await;
    let text = config_text(&api.uri(), "APPSECRET", None).replace(
        "timeout_ms = 5000",
        "timeout_ms = 5000\nstable_token = false",
    );
    let (_dir, file) = write_config("classic", &text);
    let out = check(&file, &[]).await;
    assert!(out.status.success(), "{out:?}");
    let line = block(&stdout(&out), "access_token");
    assert!(
        line.starts_with('✓') && line.contains("GET /cgi-bin/token"),
        "{line}"
    );
}
