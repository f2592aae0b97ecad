//! Template messages against the fake platform: send returns the msgid, list parses the templates.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxoa_api::template::TemplateMessage;

use crate::support::*;

#[tokio::test]
async fn send_returns_the_msgid() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/template/send"))
        .and(query_param("access_token", TOKEN))
        .and(body_json(json!({"touser":"OPENID","template_id":"TEMPLATE_ID","url":"http://weixin.qq.com/download",
            "data":{"keyword1":{"value":"巧克力"},"keyword2":{"value":"39.8元"}}})))
        .respond_with(ok_fixture("template_send.json"))
        .expect(1)
        .mount(&s)
        .await;
    let m = TemplateMessage::new("OPENID", "TEMPLATE_ID")
        .url("http://weixin.qq.com/download")
        .field("keyword1", "巧克力")
        .field("keyword2", "39.8元");
    assert_eq!(client(&s).send_template(&m).await.unwrap(), 200_228_332);
}

#[tokio::test]
async fn list() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/template/get_all_private_template"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok_fixture("template_list.json"))
        .expect(1)
        .mount(&s)
        .await;
    let list = client(&s).template_list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0].template_id,
        "iPk5sOIt5X_flOVKn5GrTFpncEYTojx6ddbt8WYoV5s"
    );
    assert_eq!(list[0].title, "领取奖金提醒");
}
