//! JS-SDK against the fake platform: the shared ticket signs a page exactly as `jsapi_signature` says.

use wiremock::Mock;
use wiremock::matchers::{method, path, query_param};
use wxoa_api::jssdk::jsapi_signature;

use crate::support::*;

#[tokio::test]
async fn config_is_signed_with_the_cached_ticket() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/ticket/getticket"))
        .and(query_param("type", "jsapi"))
        .respond_with(ok_fixture("ticket.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let cfg = c
        .jsapi_config("https://example.com/page?a=1#section")
        .await
        .unwrap();
    assert_eq!(cfg.app_id, APPID);
    assert_eq!(cfg.timestamp, NOW);
    assert_eq!(cfg.url, "https://example.com/page?a=1");
    assert_eq!(cfg.nonce_str.len(), 16);
    let ticket =
        "bxLdikRXVbTPdHSM05e5u5sUoXNKd8-41ZO3MhKoyN5OfkWITDGgnr2fwJ0m9E8NYzWKVZvdVtaUgWvsdshFKA";
    assert_eq!(
        cfg.signature,
        jsapi_signature(ticket, &cfg.nonce_str, NOW, "https://example.com/page?a=1")
    );
    // A second page reuses the ticket (the mock expects one fetch).
    let other = c.jsapi_config("https://example.com/other").await.unwrap();
    assert_ne!(other.signature, cfg.signature);
    let json = serde_json::to_value(&cfg).unwrap();
    assert!(json.get("appId").is_some() && json.get("nonceStr").is_some());
}

#[tokio::test]
async fn a_non_http_url_is_refused() {
    let s = server().await;
    mount_token(&s, 0).await;
    assert!(client(&s).jsapi_config("example.com/page").await.is_err());
}
