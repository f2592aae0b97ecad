//! Router-tier tests of the callback edge (`oneshot`, no socket): every row of the edge table.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use support::*;
use tower::ServiceExt;
use wxoa_proto::signature::sign;
use wxoa_server::edge::router;

async fn send(
    app: &std::sync::Arc<wxoa_server::App>,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_owned()))
        .unwrap();
    call(app, req).await
}

/// The router's answer to `req`: status and body.
async fn call(app: &std::sync::Arc<wxoa_server::App>, req: Request<Body>) -> (StatusCode, String) {
    let resp = router(app.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// POST a body that arrives in `frames`, without a declared length.
async fn send_frames(
    app: &std::sync::Arc<wxoa_server::App>,
    uri: &str,
    frames: Vec<Vec<u8>>,
) -> (StatusCode, String) {
    let frames = frames.into_iter().map(Ok::<_, std::io::Error>);
    let req = Request::builder()
        .method("POST")
        .uri(uri)
        .body(Body::from_stream(futures_util::stream::iter(frames)))
        .unwrap();
    call(app, req).await
}

#[tokio::test]
async fn get_with_valid_signature_echoes_echostr_verbatim() {
    let app = app("");
    let uri = format!(
        "/wechat?{}&echostr=2958099473294221495",
        plain_query(NOW, "3234762544")
    );
    let (status, body) = send(&app, "GET", &uri, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "2958099473294221495");
}

#[tokio::test]
async fn get_with_wrong_or_missing_signature_is_403() {
    let app = app("");
    let (status, body) = send(
        &app,
        "GET",
        &format!("/wechat?signature=deadbeef&timestamp={NOW}&nonce=1&echostr=42"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.contains("42"), "never echo on a bad signature");
    let (status, body) = send(
        &app,
        "GET",
        &format!("/wechat?timestamp={NOW}&nonce=1&echostr=42"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("missing signature"), "{body}");
}

#[tokio::test]
async fn stale_timestamp_is_403() {
    let app = app("");
    let uri = format!("/wechat?{}&echostr=1", plain_query(NOW - 301, "5"));
    let (status, body) = send(&app, "GET", &uri, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, "stale timestamp");
    let uri = format!("/wechat?{}", plain_query(NOW + 301, "5"));
    let (status, _) = send(&app, "POST", &uri, &text_xml("使用", 1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Inside the window is fine.
    let uri = format!("/wechat?{}", plain_query(NOW - 299, "5"));
    let (status, _) = send(&app, "POST", &uri, &text_xml("使用", 2)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn plaintext_push_gets_plaintext_reply_with_swapped_ids() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "7"));
    let (status, body) = send(&app, "POST", &uri, &text_xml("使用", 10)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(field(&body, "ToUserName").as_deref(), Some("oUser"));
    assert_eq!(field(&body, "FromUserName").as_deref(), Some(ACCOUNT));
    assert_eq!(field(&body, "MsgType").as_deref(), Some("text"));
    assert_eq!(
        field(&body, "Content").as_deref(),
        Some("发送 产品+名称 查询产品")
    );
    assert_eq!(field(&body, "CreateTime").as_deref(), Some("1700000000"));
}

#[tokio::test]
async fn safe_mode_push_gets_encrypted_reply() {
    let app = app("");
    let (query, body) = encrypted_push(&text_xml("产品 abc", 11), NOW, "99", false);
    let (status, reply) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        field(&reply, "Content").is_none(),
        "safe reply must not be plaintext"
    );
    let inner = open_reply(&reply);
    assert_eq!(field(&inner, "Content").as_deref(), Some("产品：abc/abc"));
    assert_eq!(field(&inner, "ToUserName").as_deref(), Some("oUser"));
}

#[tokio::test]
async fn compat_mode_push_gets_encrypted_reply() {
    let app = app("");
    let (query, body) = encrypted_push(&event_xml("subscribe", ""), NOW, "98", true);
    let (status, reply) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(status, StatusCode::OK);
    let inner = open_reply(&reply);
    assert_eq!(field(&inner, "Content").as_deref(), Some("欢迎关注！"));
}

#[tokio::test]
async fn success_stays_plain_in_safe_mode() {
    let app = app("");
    let (query, body) = encrypted_push(&event_xml("unsubscribe", ""), NOW, "97", false);
    let (status, reply) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply, "success");
    let (query, body) = encrypted_push(&text_xml("安静", 12), NOW, "96", false);
    let (_, reply) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(reply, "success");
}

#[tokio::test]
async fn wrong_msg_signature_is_403() {
    let app = app("");
    let (query, body) = encrypted_push(&text_xml("x", 13), NOW, "95", false);
    let query = query.replace("msg_signature=", "msg_signature=0");
    let (status, reply) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(reply.contains("msg_signature"), "{reply}");
}

#[tokio::test]
async fn ciphertext_for_another_appid_is_400_naming_the_appid() {
    let app = app("");
    let other = wxoa_proto::crypto::MsgCrypt::new(AES_KEY, "wx0000000000000000").unwrap();
    let encrypt = other.encrypt(text_xml("x", 14).as_bytes());
    let ts = NOW.to_string();
    let msg_sig = sign(&[TOKEN, &ts, "9", &encrypt]);
    let query = format!(
        "{}&encrypt_type=aes&msg_signature={msg_sig}",
        plain_query(NOW, "9")
    );
    let body = format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    let (status, reply) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply.contains("wx0000000000000000"), "{reply}");
}

#[tokio::test]
async fn ciphertext_under_another_key_is_400() {
    let app = app("");
    let other =
        wxoa_proto::crypto::MsgCrypt::new("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", APPID)
            .unwrap();
    let encrypt = other.encrypt(text_xml("x", 15).as_bytes());
    let ts = NOW.to_string();
    let msg_sig = sign(&[TOKEN, &ts, "8", &encrypt]);
    let query = format!(
        "{}&encrypt_type=aes&msg_signature={msg_sig}",
        plain_query(NOW, "8")
    );
    let body = format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    let (status, reply) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply.starts_with("cannot decrypt push"), "{reply}");
}

#[tokio::test]
async fn malformed_xml_and_doctype_are_400() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    let (status, body) = send(&app, "POST", &uri, "<xml><ToUserName>").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("malformed push"), "{body}");
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><Content>&e;</Content></xml>";
    let (status, _) = send(&app, "POST", &uri, xxe).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    let big = format!("<xml><Content>{}</Content></xml>", "a".repeat(1_100_000));
    let (status, body) = send(&app, "POST", &uri, &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("1048576"), "{body}");
}

#[tokio::test]
async fn oversized_body_is_413_whether_declared_or_streamed() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    // Declared too large: refused from the header, before the body is read.
    let req = Request::builder()
        .method("POST")
        .uri(&uri)
        .header("content-length", "2000000")
        .body(Body::from("<xml/>"))
        .unwrap();
    let (status, _) = call(&app, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length: refused once the limit is passed.
    let (status, body) = send_frames(&app, &uri, vec![vec![b'a'; 32 * 1024]; 40]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("1048576"), "{body}");
}

#[tokio::test]
async fn a_body_in_many_frames_is_read_whole() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "8"));
    let xml = text_xml("使用", 11);
    // Split inside multi-byte characters too: the frames are joined as bytes.
    let mut frames: Vec<Vec<u8>> = xml.as_bytes().chunks(7).map(<[u8]>::to_vec).collect();
    frames.insert(1, Vec::new());
    let (status, body) = send_frames(&app, &uri, frames).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        field(&body, "Content").as_deref(),
        Some("发送 产品+名称 查询产品"),
        "{body}"
    );
}

#[tokio::test]
async fn require_encryption_refuses_plaintext() {
    let app = app("require_encryption = true");
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    let (status, body) = send(&app, "POST", &uri, &text_xml("使用", 20)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("require_encryption"), "{body}");
    let (query, body) = encrypted_push(&text_xml("使用", 21), NOW, "2", false);
    let (status, _) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn encrypted_push_without_key_configured_is_400_naming_the_key() {
    let text = config_text("").replace(&format!("encoding_aes_key = \"{AES_KEY}\""), "");
    let config = wxoa_server::Config::from_toml(&text, std::path::Path::new("wxoa.toml")).unwrap();
    let app = std::sync::Arc::new(wxoa_server::App::new(
        &config,
        std::sync::Arc::new(wxoa_server::clock::FixedClock::new(NOW)),
    ));
    let (query, body) = encrypted_push(&text_xml("使用", 22), NOW, "3", false);
    let (status, reply) = send(&app, "POST", &format!("/wechat?{query}"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply.contains("account.encoding_aes_key"), "{reply}");
}

#[tokio::test]
async fn unknown_types_route_like_any_other() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    let xml = format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>{NOW}</CreateTime><MsgType><![CDATA[hologram]]></MsgType><MsgId>77</MsgId></xml>"
    );
    let (status, body) = send(&app, "POST", &uri, &xml).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "success");
}

#[tokio::test]
async fn control_characters_are_removed_not_rejected() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    let (status, body) = send(&app, "POST", &uri, &text_xml("hi\u{1}there\u{8}", 30)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        field(&body, "Content").as_deref(),
        Some("you said: hithere")
    );
}

#[tokio::test]
async fn retry_after_answer_gets_the_cached_reply() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    let (_, first) = send(&app, "POST", &uri, &text_xml("使用", 40)).await;
    // Change the rules: a retry must still get the first answer.
    let mut config = config("");
    config.rules = std::sync::Arc::new(
        wxoa_server::rules::RuleSet::compile(&[], std::path::Path::new("wxoa.toml")).unwrap(),
    );
    app.set_rules(config.rules.clone());
    let (_, retry) = send(&app, "POST", &uri, &text_xml("使用", 40)).await;
    assert_eq!(field(&first, "Content"), field(&retry, "Content"));
    // A new message sees the new (empty) rules.
    let (_, fresh) = send(&app, "POST", &uri, &text_xml("使用", 41)).await;
    assert_eq!(fresh, "success");
}

#[tokio::test]
async fn same_msg_id_from_different_users_is_not_a_duplicate() {
    let app = app("");
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    let (_, a) = send(&app, "POST", &uri, &text_xml("使用", 50)).await;
    let other_user = text_xml("hello", 50).replace("[oUser]", "[oOther]");
    let (_, b) = send(&app, "POST", &uri, &other_user).await;
    assert_eq!(
        field(&a, "Content").as_deref(),
        Some("发送 产品+名称 查询产品")
    );
    assert_eq!(
        field(&b, "Content").as_deref(),
        Some("you said: hello"),
        "{b}"
    );
}

#[tokio::test]
async fn other_paths_are_404() {
    let app = app("");
    let uri = format!("/other?{}", plain_query(NOW, "1"));
    let (status, _) = send(&app, "POST", &uri, &text_xml("使用", 60)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rule_failing_at_render_time_answers_success() {
    let text = format!(
        "{}\n[[rules]]\nname = \"explode\"\nregex = '^big (\\d+)$'\nreply = {{ text = \"{{{{ range(captures[1] | int) | length }}}}\" }}\n",
        config_text("")
    )
    .replace("name = \"echo\"\nmsg_type = \"text\"", "name = \"echo\"\nkeyword = \"echo\"");
    let config = wxoa_server::Config::from_toml(&text, std::path::Path::new("wxoa.toml")).unwrap();
    let app = std::sync::Arc::new(wxoa_server::App::new(
        &config,
        std::sync::Arc::new(wxoa_server::clock::FixedClock::new(NOW)),
    ));
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    let (status, body) = send(&app, "POST", &uri, &text_xml("big 3", 90)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(field(&body, "Content").as_deref(), Some("3"));
    let (status, body) = send(&app, "POST", &uri, &text_xml("big 100000000", 91)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "success");
}
