//! Errors as a user meets them: 45009 explained, 40164 naming the IP, wrong AppID / AppSecret, transport failures without secrets.

use wiremock::Mock;
use wiremock::matchers::path;
use wxoa_api::{ApiError, Client};

use crate::support::*;

#[tokio::test]
async fn daily_quota_45009_is_surfaced_with_its_hint() {
    let s = server().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("err_45009.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s).access_token().await.unwrap_err();
    assert_eq!(e.code(), Some(45009));
    let text = e.to_string();
    assert!(text.contains("reach max api daily quota limit"), "{text}");
    assert!(
        text.contains("clear_quota") && text.contains("10 resets a month"),
        "{text}"
    );
    assert!(e.hint_zh().unwrap().contains("北京时间零点"));
}

#[tokio::test]
async fn ip_whitelist_40164_names_the_ip_and_where_to_add_it() {
    let s = server().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("err_40164.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s).access_token().await.unwrap_err();
    assert_eq!(e.code(), Some(40164));
    let en = e.hint_en().unwrap();
    assert!(
        en.contains("add 203.0.113.45 in 公众号后台 → 设置与开发 → 基本配置 → IP白名单"),
        "{en}"
    );
    assert!(e.to_string().contains("IP白名单 添加 203.0.113.45"), "{e}");
}

#[tokio::test]
async fn wrong_appid_and_secret_are_named() {
    let s = server().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("err_40013.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s).access_token().await.unwrap_err();
    assert!(e.hint_en().unwrap().contains("Invalid AppID"), "{e}");

    let s = server().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("err_40125.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s).access_token().await.unwrap_err();
    assert!(e.hint_en().unwrap().contains("Invalid AppSecret"), "{e}");
}

#[tokio::test]
async fn transport_errors_never_show_the_secret_or_token() {
    // Nothing listens on port 9 of localhost in the test environment.
    let c = Client::builder(APPID, SECRET)
        .base_url("http://127.0.0.1:9")
        .stable_token(false)
        .build()
        .unwrap();
    let e = c.access_token().await.unwrap_err();
    assert!(matches!(e, ApiError::Http { .. }), "{e:?}");
    let mut chain = format!("{e} {e:?}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        chain.push_str(&s.to_string());
        src = s.source();
    }
    assert!(!chain.contains(SECRET), "{chain}");
    assert!(e.to_string().contains("/cgi-bin/token"), "{e}");
}

#[tokio::test]
async fn an_empty_secret_fails_before_calling_the_platform() {
    let s = server().await;
    mount_token(&s, 0).await;
    let c = Client::builder(APPID, "")
        .base_url(s.uri())
        .build()
        .unwrap();
    let e = c.access_token().await.unwrap_err();
    assert!(
        matches!(&e, ApiError::Config(m) if m.contains("account.secret is empty")),
        "{e:?}"
    );
}
