//! OAuth2 web authorization against the fake platform: code exchange, refresh, lenient userinfo, validity check.

use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn code_exchange_and_refresh() {
    let s = server().await;
    mount_token(&s, 0).await;
    Mock::given(method("GET"))
        .and(path("/sns/oauth2/access_token"))
        .and(query_param("appid", APPID))
        .and(query_param("secret", SECRET))
        .and(query_param("code", "CODE"))
        .and(query_param("grant_type", "authorization_code"))
        .and(query_param_is_missing("access_token"))
        .respond_with(ok_fixture("oauth_access_token.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/sns/oauth2/refresh_token"))
        .and(query_param("appid", APPID))
        .and(query_param("grant_type", "refresh_token"))
        .and(query_param("refresh_token", "REFRESH_TOKEN"))
        .respond_with(ok_fixture("oauth_access_token.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let t = c.oauth_exchange_code("CODE").await.unwrap();
    assert_eq!(
        (t.openid.as_str(), t.scope.as_str(), t.is_snapshotuser),
        ("OPENID", "snsapi_userinfo", Some(1))
    );
    assert_eq!(t.unionid.as_deref(), Some("UNIONID"));
    let r = c.oauth_refresh(&t.refresh_token).await.unwrap();
    assert_eq!(r.access_token, "ACCESS_TOKEN_USER");
}

#[tokio::test]
async fn a_bad_code_is_40029_and_not_retried() {
    let s = server().await;
    mount_token(&s, 0).await;
    Mock::given(path("/sns/oauth2/access_token"))
        .respond_with(ok_fixture("err_40029.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s).oauth_exchange_code("USED").await.unwrap_err();
    assert_eq!(e.code(), Some(40029));
    assert!(e.to_string().contains("restart the authorization"), "{e}");
}

#[tokio::test]
async fn userinfo_accepts_sex_as_a_string() {
    let s = server().await;
    mount_token(&s, 0).await;
    Mock::given(method("GET"))
        .and(path("/sns/userinfo"))
        .and(query_param("access_token", "ACCESS_TOKEN_USER"))
        .and(query_param("openid", "OPENID"))
        .and(query_param("lang", "zh_CN"))
        .respond_with(ok_fixture("oauth_userinfo.json"))
        .expect(1)
        .mount(&s)
        .await;
    let u = client(&s)
        .oauth_userinfo("ACCESS_TOKEN_USER", "OPENID", None)
        .await
        .unwrap();
    assert_eq!(u.sex, 1);
    assert_eq!(u.nickname, "NICKNAME");
    assert_eq!(u.privilege, ["PRIVILEGE1", "PRIVILEGE2"]);
}

#[tokio::test]
async fn a_rejected_user_token_is_not_a_reason_to_refetch_the_account_token() {
    let s = server().await;
    mount_token(&s, 0).await;
    Mock::given(path("/sns/auth"))
        .and(query_param("access_token", "GOOD"))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/sns/auth"))
        .and(query_param("access_token", "BAD"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("err_40001.json")))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    assert!(c.oauth_token_valid("GOOD", "OPENID").await.unwrap());
    assert!(!c.oauth_token_valid("BAD", "OPENID").await.unwrap());
}
