//! The blacklist against the fake platform: pages followed to the end, black / unblack and 49003.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path};
use wxoa_api::ApiError;

use crate::support::*;

#[tokio::test]
async fn every_page_is_read() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/tags/members/getblacklist"))
        .and(body_json(json!({"begin_openid":""})))
        .respond_with(ok_fixture("blacklist_page1.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/tags/members/getblacklist"))
        .and(body_json(json!({"begin_openid":"OPENID2"})))
        .respond_with(ok_fixture("blacklist_page2.json"))
        .expect(1)
        .mount(&s)
        .await;
    let all = client(&s).blacklist_all().await.unwrap();
    assert_eq!(all, vec!["OPENID1", "OPENID2", "OPENID3"]);
}

#[tokio::test]
async fn black_and_unblack() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/tags/members/batchblacklist"))
        .and(body_json(json!({"openid_list":["OPENID1","OPENID2"]})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/tags/members/batchunblacklist"))
        .respond_with(ok_fixture("err_49003.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    c.blacklist_add(&["OPENID1", "OPENID2"]).await.unwrap();
    assert_eq!(
        c.blacklist_remove(&["X"]).await.unwrap_err().code(),
        Some(49003)
    );
    let many: Vec<&str> = vec!["o"; 21];
    assert!(matches!(
        c.blacklist_add(&many).await,
        Err(ApiError::Validation(_))
    ));
}
