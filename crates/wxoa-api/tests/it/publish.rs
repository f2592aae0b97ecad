//! Free publishing against the fake platform: submit, status (published and failed), list, delete, and the documented errcodes.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path};
use wxoa_api::publish::PublishState;

use crate::support::*;

#[tokio::test]
async fn submit_and_poll() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/freepublish/submit"))
        .and(body_json(json!({"media_id":"MEDIA_ID"})))
        .respond_with(ok_fixture("freepublish_submit.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/freepublish/get"))
        .and(body_json(json!({"publish_id":"100000001"})))
        .respond_with(ok_fixture("freepublish_get.json"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/freepublish/get"))
        .respond_with(ok_fixture("freepublish_get_failed.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let id = c.publish_submit("MEDIA_ID").await.unwrap();
    assert_eq!(id, "100000001");
    let st = c.publish_status(&id).await.unwrap();
    assert_eq!(st.publish_status, PublishState::Published);
    assert_eq!(st.article_id.as_deref(), Some("ARTICLE_ID"));
    assert_eq!(st.article_detail.item[0].article_url, "ARTICLE_URL");
    let failed = c.publish_status(&id).await.unwrap();
    assert_eq!(failed.publish_status, PublishState::OriginalFailed);
    assert_eq!(failed.fail_idx, vec![1, 2]);
}

#[tokio::test]
async fn a_draft_failing_the_check_is_reported_with_its_hint() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/freepublish/submit"))
        .respond_with(ok_fixture("err_53503.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s).publish_submit("MEDIA_ID").await.unwrap_err();
    assert_eq!(e.code(), Some(53503));
    assert!(e.hint_en().unwrap().contains("pre-publish check"));
}

#[tokio::test]
async fn list_and_delete() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/freepublish/batchget"))
        .and(body_json(json!({"offset":0,"count":10,"no_content":0})))
        .respond_with(ok_fixture("freepublish_batchget.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/freepublish/delete"))
        .and(body_json(json!({"article_id":"ARTICLE_ID","index":0})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/freepublish/getarticle"))
        .respond_with(ok_fixture("err_53600.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let page = c.published_list(0, 10, false).await.unwrap();
    assert_eq!(page.item[0].article_id, "ARTICLE_ID");
    assert_eq!(page.item[0].content.news_item[0].is_deleted, Some(false));
    c.published_delete("ARTICLE_ID", 0).await.unwrap();
    assert_eq!(c.published_get("X").await.unwrap_err().code(), Some(53600));
}
