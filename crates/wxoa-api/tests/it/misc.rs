//! Misc endpoints against the fake platform: callback and API IP lists, clear_quota, quota and rid lookups, the escape hatch.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};

use crate::support::*;

#[tokio::test]
async fn ip_lists() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/getcallbackip"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok_fixture("getcallbackip.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/get_api_domain_ip"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok_fixture("get_api_domain_ip.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    assert_eq!(c.callback_ips().await.unwrap()[0], "101.226.62.77");
    assert_eq!(
        c.api_domain_ips().await.unwrap(),
        ["101.89.47.18", "101.91.34.103", "101.91.37.19"]
    );
}

#[tokio::test]
async fn clear_quota_sends_the_appid() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/clear_quota"))
        .and(query_param("access_token", TOKEN))
        .and(body_json(json!({"appid": APPID})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    client(&s).clear_quota().await.unwrap();
}

#[tokio::test]
async fn quota_and_rid() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/openapi/quota/get"))
        .and(body_json(
            json!({"cgi_path":"/cgi-bin/message/custom/send"}),
        ))
        .respond_with(ok_fixture("quota_get.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/openapi/rid/get"))
        .and(body_json(json!({"rid":"617682e0-09059ac5-34a8e2ea"})))
        .respond_with(ok_fixture("rid_get.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    assert_eq!(
        c.quota_get("/cgi-bin/message/custom/send")
            .await
            .unwrap()
            .daily_limit,
        0
    );
    let rid = c.rid_get("617682e0-09059ac5-34a8e2ea").await.unwrap();
    assert_eq!(rid.cost_in_ms, 30);
    assert!(rid.response_body.contains("45011"));
}

#[tokio::test]
async fn get_json_escape_hatch_carries_the_token() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/get_current_selfmenu_info"))
        .and(query_param("access_token", TOKEN))
        .and(query_param("x", "1"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({"is_menu_open":1})))
        .expect(1)
        .mount(&s)
        .await;
    let v = client(&s)
        .get_json("/cgi-bin/get_current_selfmenu_info", &[("x", "1")])
        .await
        .unwrap();
    assert_eq!(v["is_menu_open"], 1);
}

#[tokio::test]
async fn an_unexpected_http_500_is_a_status_error() {
    let s = server().await;
    mount_token(&s, 1).await;
    // No mock for this path: the catch-all answers 500.
    let e = client(&s).api_domain_ips().await.unwrap_err();
    assert!(
        matches!(e, wxoa_api::ApiError::Status { status: 500, .. }),
        "{e:?}"
    );
}
