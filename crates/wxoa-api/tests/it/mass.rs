//! Mass sends against the fake platform: the sendall body with its clientmsgid, 45065 as "already sent", a lost answer retried with the same id, and the other calls.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};
use wxoa_api::mass::{MassContent, MassMessage, MassTarget, PreviewTo};

use crate::support::*;

fn news_to_tag() -> MassMessage {
    MassMessage::new(
        MassTarget::Tag(2),
        MassContent::News {
            media_id: "MEDIA_ID".into(),
        },
    )
}

#[tokio::test]
async fn sendall_carries_the_derived_clientmsgid() {
    let s = server().await;
    mount_token(&s, 1).await;
    let msg = news_to_tag();
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/sendall"))
        .and(body_json(
            json!({"filter":{"is_to_all":false,"tag_id":2},"mpnews":{"media_id":"MEDIA_ID"},
            "msgtype":"mpnews","send_ignore_reprint":0,"clientmsgid":msg.derived_clientmsgid()}),
        ))
        .respond_with(ok_fixture("mass_sendall.json"))
        .expect(1)
        .mount(&s)
        .await;
    let sent = client(&s).mass_send(&msg).await.unwrap();
    assert_eq!(
        (sent.msg_id, sent.msg_data_id, sent.already_sent),
        (34182, Some(206_227_730), false)
    );
}

#[tokio::test]
async fn a_repeat_is_reported_as_already_sent_with_the_original_msg_id() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/sendall"))
        .respond_with(ok_fixture("err_45065.json"))
        .expect(1)
        .mount(&s)
        .await;
    let sent = client(&s).mass_send(&news_to_tag()).await.unwrap();
    assert!(sent.already_sent);
    assert_eq!(sent.msg_id, 34182);
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_clientmsgid() {
    let s = server().await;
    mount_token(&s, 1).await;
    let msg = news_to_tag();
    let id = msg.derived_clientmsgid();
    // First answer too late for the client's timeout, the retry answered 45065.
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/sendall"))
        .respond_with(ok_fixture("mass_sendall.json").set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/sendall"))
        .and(body_partial_json(json!({"clientmsgid": id})))
        .respond_with(ok_fixture("err_45065.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = builder(&s)
        .0
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let sent = c.mass_send(&msg).await.unwrap();
    assert!(sent.already_sent);
    assert_eq!(sent.clientmsgid, id);
}

#[tokio::test]
async fn quota_and_list_errors_are_returned_with_hints() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/sendall"))
        .respond_with(ok_fixture("err_45028.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/send"))
        .respond_with(ok_fixture("err_40130.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let e = c.mass_send(&news_to_tag()).await.unwrap_err();
    assert_eq!(e.code(), Some(45028));
    assert!(e.hint_en().unwrap().contains("quota"));
    let list = MassMessage::new(
        MassTarget::Openids(vec!["a".into(), "b".into()]),
        MassContent::Text("x".into()),
    );
    assert_eq!(c.mass_send(&list).await.unwrap_err().code(), Some(40130));
}

#[tokio::test]
async fn preview_status_delete_speed() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/preview"))
        .and(body_json(
            json!({"touser":"OPENID","msgtype":"text","text":{"content":"hi"}}),
        ))
        .respond_with(ok_fixture("mass_preview.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/get"))
        .and(body_json(json!({"msg_id":"201053012"})))
        .respond_with(ok_fixture("mass_get.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/delete"))
        .and(body_json(json!({"msg_id":30124,"article_idx":2})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/speed/get"))
        .respond_with(ok_fixture("mass_speed_get.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/mass/speed/set"))
        .and(body_json(json!({"speed":1})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("ok.json")))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let id = c
        .mass_preview(
            &PreviewTo::Openid("OPENID".into()),
            &MassContent::Text("hi".into()),
        )
        .await
        .unwrap();
    assert_eq!(id, Some(34182));
    assert_eq!(
        c.mass_status(201_053_012).await.unwrap().msg_status,
        "SEND_SUCCESS"
    );
    c.mass_delete(30124, Some(2)).await.unwrap();
    let speed = c.mass_speed().await.unwrap();
    assert_eq!((speed.speed, speed.realspeed), (3, 15));
    c.mass_speed_set(1).await.unwrap();
}
