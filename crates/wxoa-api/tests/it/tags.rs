//! Tags against the fake platform: create, list, batch tag / untag (≤ 50), a user's tags, a tag's users.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxoa_api::ApiError;

use crate::support::*;

#[tokio::test]
async fn create_and_list() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/tags/create"))
        .and(query_param("access_token", TOKEN))
        .and(body_json(json!({"tag":{"name":"广东"}})))
        .respond_with(ok_fixture("tags_create.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/tags/get"))
        .respond_with(ok_fixture("tags_get.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let tag = c.tag_create("广东").await.unwrap();
    assert_eq!((tag.id, tag.name.as_str()), (134, "广东"));
    let tags = c.tags().await.unwrap();
    assert_eq!(tags.len(), 3);
    assert_eq!(tags[2].count, 5);
}

#[tokio::test]
async fn batch_tagging_and_untagging() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/tags/members/batchtagging"))
        .and(body_json(json!({"openid_list":["O1","O2"],"tagid":134})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/tags/members/batchuntagging"))
        .and(body_json(json!({"openid_list":["O1"],"tagid":134})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    c.tag_users(134, &["O1", "O2"]).await.unwrap();
    c.untag_users(134, &["O1"]).await.unwrap();
    let too_many = vec!["O"; 51];
    assert!(
        matches!(c.tag_users(134, &too_many).await, Err(ApiError::Validation(m)) if m.contains("1 to 50"))
    );
}

#[tokio::test]
async fn a_users_tags_and_a_tags_users() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/tags/getidlist"))
        .and(body_json(json!({"openid":"O1"})))
        .respond_with(ok_fixture("tags_getidlist.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/user/tag/get"))
        .and(body_json(json!({"tagid":134,"next_openid":""})))
        .respond_with(ok_fixture("user_tag_get.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    assert_eq!(c.user_tags("O1").await.unwrap(), [134, 2]);
    let page = c.tag_followers(134, None).await.unwrap();
    assert_eq!(page.total, None);
    assert_eq!(page.openids.len(), 2);
    assert_eq!(
        page.next_openid.as_deref(),
        Some("ocYxcuBt0mRugKZ7tGAHPnUaOW7Y")
    );
}

#[tokio::test]
async fn system_tags_are_refused_locally() {
    let s = server().await;
    mount_token(&s, 0).await;
    let e = client(&s).tag_delete(2).await.unwrap_err();
    assert!(e.to_string().contains("system tag"), "{e}");
}
