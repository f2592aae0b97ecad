//! 客服消息 against the fake platform: the documented JSON reaches the platform, 45015 / 48001 come back with hints.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxoa_api::custom::{CustomBody, CustomMessage, MiniProgramPage, Typing};

use crate::support::*;

#[tokio::test]
async fn text_with_kf_account() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/custom/send"))
        .and(query_param("access_token", TOKEN))
        .and(body_json(json!({"touser":"OPENID","msgtype":"text","text":{"content":"你好 <a href=\"https://e.com\">链接</a>"},
            "customservice":{"kf_account":"test1@kftest"}})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    let m = CustomMessage::text("OPENID", "你好 <a href=\"https://e.com\">链接</a>")
        .with_kf_account("test1@kftest");
    client(&s).send_custom(&m).await.unwrap();
}

#[tokio::test]
async fn miniprogrampage_and_typing() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/custom/send"))
        .and(body_json(json!({"touser":"OPENID","msgtype":"miniprogrampage",
            "miniprogrampage":{"title":"T","appid":"APPID","pagepath":"PATH","thumb_media_id":"MEDIA_ID"}})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/custom/typing"))
        .and(body_json(json!({"touser":"OPENID","command":"Typing"})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let page = MiniProgramPage {
        title: "T".into(),
        appid: "APPID".into(),
        pagepath: "PATH".into(),
        thumb_media_id: "MEDIA_ID".into(),
    };
    c.send_custom(&CustomMessage::new(
        "OPENID",
        CustomBody::MiniProgramPage(page),
    ))
    .await
    .unwrap();
    c.custom_typing("OPENID", Typing::Typing).await.unwrap();
}

#[tokio::test]
async fn outside_the_window_is_45015_with_its_hint() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/message/custom/send"))
        .respond_with(ok_fixture("err_45015.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s)
        .send_custom(&CustomMessage::text("OPENID", "late"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(45015));
    assert!(e.to_string().contains("48-hour"), "{e}");
}

#[tokio::test]
async fn missing_permission_is_48001_with_its_hint() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/message/custom/send"))
        .respond_with(ok_fixture("err_48001.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s)
        .send_custom(&CustomMessage::image("OPENID", "MEDIA"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(48001));
    assert!(e.hint_zh().unwrap().contains("接口权限"));
}

#[tokio::test]
async fn invalid_messages_never_reach_the_platform() {
    let s = server().await;
    mount_token(&s, 0).await;
    let e = client(&s)
        .send_custom(&CustomMessage::news("OPENID", vec![]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("1 to 8 articles"), "{e}");
    assert!(s.received_requests().await.unwrap().is_empty());
}
