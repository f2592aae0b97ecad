//! Drafts against the fake platform: add, get, update, list, count, delete, and the errcodes they document.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxoa_api::ApiError;
use wxoa_api::draft::Article;

use crate::support::*;

fn article() -> Article {
    Article::new("标题", "<p>正文</p>", "THUMB_MEDIA_ID")
}

#[tokio::test]
async fn add_sends_the_articles_and_returns_the_media_id() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/draft/add"))
        .and(query_param("access_token", TOKEN))
        .and(body_json(json!({"articles":[{"title":"标题","content":"<p>正文</p>","thumb_media_id":"THUMB_MEDIA_ID"}]})))
        .respond_with(ok_fixture("draft_add.json"))
        .expect(1)
        .mount(&s)
        .await;
    assert_eq!(
        client(&s).draft_add(&[article()]).await.unwrap(),
        "MEDIA_ID"
    );
}

#[tokio::test]
async fn add_is_refused_before_sending_when_invalid_and_reports_a_bad_cover() {
    let s = server().await;
    mount_token(&s, 1).await;
    let c = client(&s);
    assert!(matches!(
        c.draft_add(&[]).await,
        Err(ApiError::Validation(_))
    ));
    Mock::given(method("POST"))
        .and(path("/cgi-bin/draft/add"))
        .respond_with(ok_fixture("err_40007.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = c.draft_add(&[article()]).await.unwrap_err();
    assert_eq!(e.code(), Some(40007));
}

#[tokio::test]
async fn get_update_list_count_delete() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/draft/get"))
        .and(body_json(json!({"media_id":"MEDIA_ID"})))
        .respond_with(ok_fixture("draft_get.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/draft/update"))
        .and(body_json(json!({"media_id":"MEDIA_ID","index":0,
            "articles":{"title":"标题","content":"<p>正文</p>","thumb_media_id":"THUMB_MEDIA_ID"}})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/draft/batchget"))
        .and(body_json(json!({"offset":0,"count":20,"no_content":1})))
        .respond_with(ok_fixture("draft_batchget.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/draft/count"))
        .respond_with(ok_fixture("draft_count.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/draft/delete"))
        .respond_with(ok_fixture("err_40007.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let got = c.draft_get("MEDIA_ID").await.unwrap();
    assert_eq!(got[0].author.as_deref(), Some("AUTHOR"));
    assert_eq!(got[0].url.as_deref(), Some("URL"));
    c.draft_update("MEDIA_ID", 0, &article()).await.unwrap();
    let page = c.draft_list(0, 20, true).await.unwrap();
    assert_eq!(
        (page.total_count, page.item[0].update_time),
        (1, 1_633_332_000)
    );
    assert!(matches!(
        c.draft_list(0, 21, true).await,
        Err(ApiError::Validation(_))
    ));
    assert_eq!(c.draft_count().await.unwrap(), 100);
    assert_eq!(
        c.draft_delete("MEDIA_ID").await.unwrap_err().code(),
        Some(40007)
    );
}
