//! 客服 accounts against the fake platform: list, online, add (and 65406 / 65400), update, delete, invite.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};

use crate::support::*;

#[tokio::test]
async fn list_and_online() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/customservice/getkflist"))
        .respond_with(ok_fixture("kf_list.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/customservice/getonlinekflist"))
        .respond_with(ok_fixture("kf_online.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let list = c.kf_list().await.unwrap();
    assert_eq!(list[0].kf_id, "1001");
    assert_eq!(list[0].kf_wx.as_deref(), Some("kfwx1"));
    assert_eq!(list[1].invite_status.as_deref(), Some("waiting"));
    let online = c.kf_online().await.unwrap();
    assert_eq!((online[0].status, online[0].accepted_case), (1, 1));
}

#[tokio::test]
async fn add_update_delete_invite() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/customservice/kfaccount/add"))
        .and(body_json(
            json!({"kf_account":"test1@test","nickname":"客服1"}),
        ))
        .respond_with(ok_fixture("ok.json"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/customservice/kfaccount/add"))
        .respond_with(ok_fixture("err_65406.json"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/customservice/kfaccount/update"))
        .respond_with(ok_fixture("err_65400.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/customservice/kfaccount/del"))
        .and(query_param("kf_account", "test1@test"))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/customservice/kfaccount/inviteworker"))
        .and(body_json(
            json!({"kf_account":"test1@test","invite_wx":"test_kfwx"}),
        ))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    c.kf_add("test1@test", "客服1").await.unwrap();
    assert_eq!(
        c.kf_add("test1@test", "客服1").await.unwrap_err().code(),
        Some(65406)
    );
    let e = c.kf_update("test1@test", "客服2").await.unwrap_err();
    assert!(e.hint_en().unwrap().contains("enable the new"));
    c.kf_delete("test1@test").await.unwrap();
    c.kf_invite("test1@test", "test_kfwx").await.unwrap();
}
