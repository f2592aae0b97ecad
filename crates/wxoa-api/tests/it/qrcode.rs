//! QR codes against the fake platform: temporary and permanent, integer and string scenes, the ticket's image URL.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxoa_api::qrcode::{QrCodeRequest, QrScene, showqrcode_url};

use crate::support::*;

#[tokio::test]
async fn temporary_int_scene() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/qrcode/create"))
        .and(query_param("access_token", TOKEN))
        .and(body_json(json!({"expire_seconds":604800,"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":123}}})))
        .respond_with(ok_fixture("qrcode_create.json"))
        .expect(1)
        .mount(&s)
        .await;
    let t = client(&s)
        .qrcode_create(&QrCodeRequest::Temporary {
            scene: QrScene::Id(123),
            expire_seconds: 604_800,
        })
        .await
        .unwrap();
    assert_eq!(t.expire_seconds, Some(1800));
    assert_eq!(t.url, "https://weixin.qq.com/q/kZgfwMTm72WWPkovabbI");
    assert!(showqrcode_url(&t.ticket).ends_with("AAIEZ23sUwMEmm3sUw%3D%3D"));
}

#[tokio::test]
async fn permanent_str_scene() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/qrcode/create"))
        .and(body_json(json!({"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"渠道-A"}}})))
        .respond_with(ok_fixture("qrcode_create_permanent.json"))
        .expect(1)
        .mount(&s)
        .await;
    let t = client(&s)
        .qrcode_create(&QrCodeRequest::Permanent {
            scene: QrScene::Str("渠道-A".into()),
        })
        .await
        .unwrap();
    assert_eq!(t.expire_seconds, None);
    assert!(t.ticket.starts_with("gQFF8DoAAAAAAAAAASxodHRwOi8v"));
}

#[tokio::test]
async fn out_of_range_scenes_are_refused_locally() {
    let s = server().await;
    mount_token(&s, 0).await;
    let c = client(&s);
    assert!(
        c.qrcode_create(&QrCodeRequest::Permanent {
            scene: QrScene::Id(100_001)
        })
        .await
        .is_err()
    );
    assert!(
        c.qrcode_create(&QrCodeRequest::Temporary {
            scene: QrScene::Id(1),
            expire_seconds: 2_592_001
        })
        .await
        .is_err()
    );
}
