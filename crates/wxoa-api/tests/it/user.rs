//! Followers against the fake platform: info, batchget (≤ 100), paging through next_openid to the end.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxoa_api::ApiError;

use crate::support::*;

#[tokio::test]
async fn user_info() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/user/info"))
        .and(query_param("access_token", TOKEN))
        .and(query_param("openid", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"))
        .and(query_param("lang", "zh_CN"))
        .respond_with(ok_fixture("user_info.json"))
        .expect(1)
        .mount(&s)
        .await;
    let u = client(&s)
        .user_info("o6_bmjrPTlm6_2sgVt7hMZOPfL2M", None)
        .await
        .unwrap();
    assert_eq!(u.subscribe, 1);
    assert_eq!(u.subscribe_scene, "ADD_SCENE_QR_CODE");
    assert_eq!(u.qr_scene, 98765);
    assert_eq!(u.tagid_list, [128, 2]);
    assert_eq!(u.unionid.as_deref(), Some("o6_bmasdasdsad6_2sgVt7hMZOPfL"));
}

#[tokio::test]
async fn batchget_sends_the_user_list_and_checks_the_limit() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/user/info/batchget"))
        .and(body_json(json!({"user_list":[
            {"openid":"otvxTs4dckWG7imySrJd6jSi0CWE","lang":"zh_CN"},
            {"openid":"otvxTs_JZ6SEiP0imdhpi50fuSZg","lang":"zh_CN"}]})))
        .respond_with(ok_fixture("user_batchget.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let users = c
        .users_info(
            &[
                "otvxTs4dckWG7imySrJd6jSi0CWE",
                "otvxTs_JZ6SEiP0imdhpi50fuSZg",
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[1].subscribe, 0);

    let many = vec!["o"; 101];
    assert!(
        matches!(c.users_info(&many, None).await, Err(ApiError::Validation(m)) if m.contains("got 101"))
    );
    assert!(matches!(
        c.users_info(&[], None).await,
        Err(ApiError::Validation(_))
    ));
}

#[tokio::test]
async fn follower_paging_follows_next_openid_to_the_end() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/user/get"))
        .and(query_param("next_openid", ""))
        .respond_with(ok_fixture("user_get_page1.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/user/get"))
        .and(query_param("next_openid", "OPENID3"))
        .respond_with(ok_fixture("user_get_page2.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/user/get"))
        .and(query_param("next_openid", "OPENID5"))
        .respond_with(ok_fixture("user_get_end.json"))
        .expect(1)
        .mount(&s)
        .await;
    let all = client(&s).all_followers().await.unwrap();
    assert_eq!(all, ["OPENID1", "OPENID2", "OPENID3", "OPENID4", "OPENID5"]);
}

#[tokio::test]
async fn a_pager_resumes_from_its_cursor() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/user/get"))
        .and(query_param("next_openid", "OPENID3"))
        .respond_with(ok_fixture("user_get_page2.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/user/get"))
        .and(query_param("next_openid", "OPENID5"))
        .respond_with(ok_fixture("user_get_end.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let mut pager = c.follower_pager(Some("OPENID3".into()));
    let page = pager.next_page().await.unwrap().unwrap();
    assert_eq!(page.total, Some(5));
    assert_eq!(page.openids, ["OPENID4", "OPENID5"]);
    assert_eq!(pager.cursor(), Some("OPENID5"));
    assert!(pager.next_page().await.unwrap().is_none());
    assert!(pager.is_done());
    assert!(
        pager.next_page().await.unwrap().is_none(),
        "a finished pager makes no more calls"
    );
}

#[tokio::test]
async fn update_remark() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/user/info/updateremark"))
        .and(body_json(json!({"openid":"O","remark":"老客户"})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    client(&s).user_update_remark("O", "老客户").await.unwrap();
}
