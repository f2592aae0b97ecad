//! Subscribe messages against the fake platform: the templates, a send, a refused send.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxoa_api::subscribe::SubscribeMessage;

use crate::support::*;

#[tokio::test]
async fn templates_and_send() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/wxaapi/newtmpl/gettemplate"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok_fixture("subscribe_templates.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/subscribe/bizsend"))
        .and(body_json(
            json!({"touser":"OPENID","template_id":"TEMPLATE_ID","page":"https://example.com",
            "data":{"thing1":{"value":"会议室"},"date2":{"value":"2024-01-01"}}}),
        ))
        .respond_with(ok_fixture("ok.json"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/subscribe/bizsend"))
        .respond_with(ok_fixture("err_43101.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let t = c.subscribe_templates().await.unwrap();
    assert_eq!(
        t[0].pri_tmpl_id,
        "9Aw5ZV1j9xdWTFEkqCpZ7mIBbSC34khK55OtzUPl0rU"
    );
    assert_eq!(t[0].kind, 2);
    let mut msg = SubscribeMessage::new("OPENID", "TEMPLATE_ID")
        .field("thing1", "会议室")
        .field("date2", "2024-01-01");
    msg.page = Some("https://example.com".into());
    c.send_subscribe(&msg).await.unwrap();
    assert_eq!(
        c.send_subscribe(&msg).await.unwrap_err().code(),
        Some(43101)
    );
}
