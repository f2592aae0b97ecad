//! Several accounts on one server (router tier, `oneshot`, no socket): account A in 明文 mode
//! and account B in 安全 mode, each at its own path, each verified with its own Token,
//! decrypted with its own key and answered by its own rules; and two accounts' access tokens
//! kept apart in one SQLite token store.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use wxoa_proto::crypto::MsgCrypt;
use wxoa_proto::signature::sign;
use wxoa_server::clock::FixedClock;
use wxoa_server::{Accounts, App, Config};

const NOW: i64 = 1_700_000_000;
const APPID_A: &str = "wx1111111111111111";
const APPID_B: &str = "wx2222222222222222";
const TOKEN_A: &str = "tokenOfA";
const TOKEN_B: &str = "tokenOfB";
const KEY_B: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
/// Another valid EncodingAESKey: what B's pushes must not decrypt with.
const OTHER_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
/// The same 原始ID in both accounts' pushes, so their dedup keys would be equal.
const TO_USER: &str = "gh_same";

fn config_text() -> String {
    format!(
        r#"
[server]
timestamp_skew_secs = 300

[[accounts]]
name = "plain"
appid = "{APPID_A}"
token = "{TOKEN_A}"

[[accounts.rules]]
name = "hi-a"
keyword = "hi"
reply = {{ text = "A says hi" }}

[[accounts]]
name = "safe"
appid = "{APPID_B}"
token = "{TOKEN_B}"
encoding_aes_key = "{KEY_B}"
require_encryption = true
path = "/wx/b"

[[accounts.rules]]
name = "hi-b"
keyword = "hi"
reply = {{ text = "B says hi" }}
"#
    )
}

fn accounts() -> Accounts {
    let config = Config::from_toml(&config_text(), Path::new("wxoa.toml")).expect("config");
    let apps = config
        .each_account()
        .iter()
        .map(|view| Arc::new(App::new(view, Arc::new(FixedClock::new(NOW)))))
        .collect();
    Accounts::new(apps).expect("two accounts")
}

async fn send(accounts: &Accounts, method: &str, uri: &str, body: String) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body))
        .unwrap();
    let resp = wxoa_server::edge::accounts_router(accounts)
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn text_xml(content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{TO_USER}]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>{NOW}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

/// The query of a push signed with `token`.
fn plain_query(token: &str, nonce: &str) -> String {
    let ts = NOW.to_string();
    let sig = sign(&[token, &ts, nonce]);
    format!("signature={sig}&timestamp={ts}&nonce={nonce}&openid=oUser")
}

/// Query and body of a 安全 mode push of `xml`, encrypted with `key` for B and signed with
/// `token`.
fn safe_push(xml: &str, token: &str, key: &str) -> (String, String) {
    let encrypt = MsgCrypt::new(key, APPID_B).unwrap().encrypt(xml.as_bytes());
    let ts = NOW.to_string();
    let nonce = "77";
    let msg_sig = sign(&[token, &ts, nonce, &encrypt]);
    let query = format!(
        "{}&encrypt_type=aes&msg_signature={msg_sig}",
        plain_query(token, nonce)
    );
    let body = format!(
        "<xml><ToUserName><![CDATA[{TO_USER}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    (query, body)
}

/// The text content of `<name>` in `xml`.
fn field(xml: &str, name: &str) -> Option<String> {
    let root = wxoa_proto::xml::parse_document(xml.as_bytes(), Default::default()).ok()?;
    root.child(name).map(|e| e.text.clone())
}

/// B's encrypted reply, opened with B's Token and key.
fn open_b_reply(body: &str) -> String {
    let encrypt = field(body, "Encrypt").expect("Encrypt in reply");
    let sig = field(body, "MsgSignature").expect("MsgSignature");
    let ts = field(body, "TimeStamp").expect("TimeStamp");
    let nonce = field(body, "Nonce").expect("Nonce");
    assert!(
        wxoa_proto::signature::verify(&[TOKEN_B, &ts, &nonce, &encrypt], &sig),
        "B's reply is signed with B's Token"
    );
    assert!(
        !wxoa_proto::signature::verify(&[TOKEN_A, &ts, &nonce, &encrypt], &sig),
        "and not with A's"
    );
    assert!(
        MsgCrypt::new(OTHER_KEY, APPID_B)
            .unwrap()
            .decrypt(&encrypt)
            .is_err(),
        "B's reply opens with B's key only"
    );
    let plain = MsgCrypt::new(KEY_B, APPID_B)
        .unwrap()
        .decrypt(&encrypt)
        .expect("B's reply decrypts with B's key");
    String::from_utf8(plain).unwrap()
}

#[tokio::test]
async fn each_account_is_answered_at_its_path_by_its_own_rules() {
    let accounts = accounts();
    let a = format!("/wechat/{APPID_A}?{}", plain_query(TOKEN_A, "1"));
    let (status, body) = send(&accounts, "POST", &a, text_xml("hi", 1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "Content").as_deref(), Some("A says hi"));
    assert!(field(&body, "Encrypt").is_none(), "A answers in 明文");

    let (query, push) = safe_push(&text_xml("hi", 2), TOKEN_B, KEY_B);
    let (status, body) = send(&accounts, "POST", &format!("/wx/b?{query}"), push).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply = open_b_reply(&body);
    assert_eq!(field(&reply, "Content").as_deref(), Some("B says hi"));
}

#[tokio::test]
async fn a_push_signed_with_one_accounts_token_is_refused_at_the_others_path() {
    let accounts = accounts();
    // Encrypted with B's key (so only the signature is wrong), signed with A's Token.
    let (query, push) = safe_push(&text_xml("hi", 3), TOKEN_A, KEY_B);
    let (status, body) = send(&accounts, "POST", &format!("/wx/b?{query}"), push).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!body.contains("says hi"));
    // A plain push signed with B's Token at A's path.
    let a = format!("/wechat/{APPID_A}?{}", plain_query(TOKEN_B, "4"));
    let (status, body) = send(&accounts, "POST", &a, text_xml("hi", 4)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // URL verification: each path echoes only for its own Token.
    let verify =
        |token: &str, path: &str| format!("{path}?{}&echostr=4242", plain_query(token, "5"));
    let (status, body) = send(&accounts, "GET", &verify(TOKEN_A, "/wx/b"), String::new()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.contains("4242"));
    let (status, body) = send(&accounts, "GET", &verify(TOKEN_B, "/wx/b"), String::new()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "4242"));
    let a_path = format!("/wechat/{APPID_A}");
    let (status, _) = send(&accounts, "GET", &verify(TOKEN_B, &a_path), String::new()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(&accounts, "GET", &verify(TOKEN_A, &a_path), String::new()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "4242"));
}

#[tokio::test]
async fn bs_pushes_decrypt_with_bs_key_only_and_b_refuses_plaintext() {
    let accounts = accounts();
    let (query, push) = safe_push(&text_xml("hi", 6), TOKEN_B, OTHER_KEY);
    let (status, body) = send(&accounts, "POST", &format!("/wx/b?{query}"), push).await;
    assert_ne!(status, StatusCode::OK, "{body}");
    assert!(!body.contains("says hi"));
    // B requires encryption: a correctly signed plaintext push is refused.
    let plain = format!("/wx/b?{}", plain_query(TOKEN_B, "7"));
    let (status, body) = send(&accounts, "POST", &plain, text_xml("hi", 7)).await;
    assert_ne!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_same_msg_id_to_two_accounts_is_two_pushes() {
    let accounts = accounts();
    // Same ToUserName, FromUserName and MsgId: the same dedup key within an account.
    let a = format!("/wechat/{APPID_A}?{}", plain_query(TOKEN_A, "8"));
    let (status, body) = send(&accounts, "POST", &a, text_xml("hi", 99)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(field(&body, "Content").as_deref(), Some("A says hi"));
    let (query, push) = safe_push(&text_xml("hi", 99), TOKEN_B, KEY_B);
    let (status, body) = send(&accounts, "POST", &format!("/wx/b?{query}"), push).await;
    assert_eq!(status, StatusCode::OK);
    let reply = open_b_reply(&body);
    assert_eq!(
        field(&reply, "Content").as_deref(),
        Some("B says hi"),
        "not A's cached answer"
    );
    // Within one account the retry is still the same push: answered from its cache.
    let (_, again) = send(&accounts, "POST", &a, text_xml("changed", 99)).await;
    assert_eq!(field(&again, "Content").as_deref(), Some("A says hi"));
}

#[tokio::test]
async fn a_path_of_no_account_is_404_in_plain_text() {
    let accounts = accounts();
    for path in ["/wechat", "/wechat/wx3333333333333333", "/wx/b/extra"] {
        let uri = format!("{path}?{}", plain_query(TOKEN_A, "9"));
        let (status, body) = send(&accounts, "POST", &uri, text_xml("hi", 10)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.starts_with("not found"), "{path}: {body}");
    }
}

/// A mock platform serving A (`secretA`) and B (`secretB`), and its base URL.
async fn mock_platform() -> (wxoa_mock::api::MockPlatform, String) {
    let platform = wxoa_mock::api::MockPlatform::new(
        wxoa_mock::api::MockConfig::new(APPID_A, "secretA").with_app(APPID_B, "secretB"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = platform.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    (platform, base)
}

/// A's and B's clients, sharing `store`, get each its own token, and keep getting it.
async fn assert_tokens_apart(
    a: &wxoa_api::Client,
    b: &wxoa_api::Client,
    store: &dyn wxoa_api::TokenStore,
    platform: &wxoa_mock::api::MockPlatform,
) {
    let token_a = a.access_token().await.unwrap().value;
    let token_b = b.access_token().await.unwrap().value;
    assert_ne!(token_a, token_b, "each AppID has its own token");
    // Asked again, each gets its own back from the store, not the other's.
    assert_eq!(a.access_token().await.unwrap().value, token_a);
    assert_eq!(b.access_token().await.unwrap().value, token_b);
    for (appid, token) in [(APPID_A, &token_a), (APPID_B, &token_b)] {
        let stored = store
            .get(&format!("{appid}:stable_token"))
            .await
            .unwrap()
            .map(|t| t.value);
        assert_eq!(stored.as_ref(), Some(token), "{appid}");
    }
    assert_eq!(platform.token_fetches().issued, 2, "one fetch each");
}

#[tokio::test]
async fn two_accounts_tokens_are_kept_apart_in_one_store() {
    let dir = std::env::temp_dir().join(format!(
        "wxoa-accounts-tokens-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (platform, base) = mock_platform().await;
    let text = format!(
        "{}\n[api]\nbase_url = \"{base}\"\n[store]\nurl = \"sqlite://wxoa.db\"\nmessage_log = false\n",
        config_text()
            .replace(
                &format!("token = \"{TOKEN_A}\""),
                &format!("token = \"{TOKEN_A}\"\nsecret = \"secretA\"")
            )
            .replace(
                &format!("token = \"{TOKEN_B}\""),
                &format!("token = \"{TOKEN_B}\"\nsecret = \"secretB\"")
            )
    );
    let config = Config::from_toml(&text, &dir.join("wxoa.toml")).unwrap();
    let connected = wxoa_server::backends::connect_accounts(
        &config,
        Arc::new(FixedClock::new(NOW)),
        wxoa_server::backends::DedupScope::Process,
    )
    .await
    .unwrap();
    let client = |i: usize| connected.accounts[i].api.clone().expect("a secret is set");
    let store = connected.store.token_store();
    assert_tokens_apart(&client(0), &client(1), &store, &platform).await;
    connected.store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn two_accounts_tokens_are_kept_apart_in_redis() {
    let Ok(url) = std::env::var("WXOA_TEST_REDIS_URL") else {
        println!("skipped: WXOA_TEST_REDIS_URL is not set");
        return;
    };
    let prefix = format!(
        "wxoa_test_accounts_{}_{}:",
        std::process::id(),
        rand::random::<u32>()
    );
    let redis = wxoa_store::RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let (platform, base) = mock_platform().await;
    let client = |appid: &str, secret: &str| {
        wxoa_api::Client::builder(appid.to_owned(), secrecy::SecretString::from(secret))
            .base_url(base.clone())
            .token_store(Arc::new(redis.token_store()))
            .build()
            .unwrap()
    };
    let (a, b) = (client(APPID_A, "secretA"), client(APPID_B, "secretB"));
    let store = redis.token_store();
    assert_tokens_apart(&a, &b, &store, &platform).await;
    // Leave nothing behind.
    let mut raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the tokens were stored under the prefix");
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut raw)
        .await
        .unwrap();
}

#[tokio::test]
async fn reload_gives_each_account_its_own_new_rules() {
    let dir = std::env::temp_dir().join(format!(
        "wxoa-accounts-reload-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wxoa.toml");
    std::fs::write(&path, config_text()).unwrap();
    let config = Config::load(&path).unwrap();
    let apps: Vec<Arc<App>> = config
        .each_account()
        .iter()
        .map(|view| Arc::new(App::new(view, Arc::new(FixedClock::new(NOW)))))
        .collect();
    let accounts = Accounts::new(apps).unwrap();
    std::fs::write(&path, config_text().replace("B says hi", "B says hello")).unwrap();
    for app in accounts.iter() {
        assert_eq!(wxoa_server::reload::reload_rules(app, &path).unwrap(), 1);
    }
    let a = format!("/wechat/{APPID_A}?{}", plain_query(TOKEN_A, "11"));
    let (_, body) = send(&accounts, "POST", &a, text_xml("hi", 11)).await;
    assert_eq!(field(&body, "Content").as_deref(), Some("A says hi"));
    let (query, push) = safe_push(&text_xml("hi", 12), TOKEN_B, KEY_B);
    let (_, body) = send(&accounts, "POST", &format!("/wx/b?{query}"), push).await;
    assert_eq!(
        field(&open_b_reply(&body), "Content").as_deref(),
        Some("B says hello")
    );
    // An account renamed away keeps its rules, and the error names it.
    std::fs::write(
        &path,
        config_text().replace("name = \"safe\"", "name = \"other\""),
    )
    .unwrap();
    let b = accounts.by_name("safe").unwrap();
    let err = wxoa_server::reload::reload_rules(b, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("safe") && err.contains("other"), "{err}");
    assert_eq!(b.rules().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_same_msg_id_to_two_accounts_is_two_pushes_in_the_shared_dedup_store() {
    let dir = std::env::temp_dir().join(format!(
        "wxoa-accounts-dedup-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "{}\n[store]\nurl = \"sqlite://wxoa.db\"\nmessage_log = false\n",
        config_text()
    );
    let config = Config::from_toml(&text, &dir.join("wxoa.toml")).unwrap();
    let clock = Arc::new(FixedClock::new(NOW));
    // As CGI processes do: dedup through the store, which every account shares.
    let connected = wxoa_server::backends::connect_accounts(
        &config,
        clock.clone(),
        wxoa_server::backends::DedupScope::Store,
    )
    .await
    .unwrap();
    let apps = connected
        .accounts
        .into_iter()
        .map(|a| Arc::new(App::with_backends(&a.config, clock.clone(), a.backends)))
        .collect();
    let accounts = Accounts::new(apps).unwrap();
    let a = format!("/wechat/{APPID_A}?{}", plain_query(TOKEN_A, "13"));
    let (_, body) = send(&accounts, "POST", &a, text_xml("hi", 1313)).await;
    assert_eq!(field(&body, "Content").as_deref(), Some("A says hi"));
    let (query, push) = safe_push(&text_xml("hi", 1313), TOKEN_B, KEY_B);
    let (_, body) = send(&accounts, "POST", &format!("/wx/b?{query}"), push).await;
    assert_eq!(
        field(&open_b_reply(&body), "Content").as_deref(),
        Some("B says hi"),
        "not A's answer from the shared store"
    );
    connected.store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
