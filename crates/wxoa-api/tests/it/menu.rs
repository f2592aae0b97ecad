//! Menu endpoints against the fake platform: create (raw UTF-8, validated first), get, delete, conditional menus.

use serde_json::json;
use wiremock::matchers::{body_json, body_string_contains, method, path, query_param};
use wiremock::{Match, Mock, Request};
use wxoa_api::ApiError;
use wxoa_api::menu::{Button, ButtonType, ConditionalMenu, MatchRule, Menu};

use crate::support::*;

/// Matches a body that contains no `\u` escape.
struct NoUnicodeEscapes;

impl Match for NoUnicodeEscapes {
    fn matches(&self, r: &Request) -> bool {
        !String::from_utf8_lossy(&r.body).contains("\\u")
    }
}

fn sample_menu() -> Menu {
    Menu::new(vec![
        Button {
            kind: Some(ButtonType::Click),
            name: "今日歌曲".into(),
            key: Some("V1001_TODAY_MUSIC".into()),
            ..Button::default()
        },
        Button {
            name: "菜单".into(),
            sub_button: vec![Button {
                kind: Some(ButtonType::View),
                name: "搜索".into(),
                url: Some("http://www.soso.com/".into()),
                ..Button::default()
            }],
            ..Button::default()
        },
    ])
}

#[tokio::test]
async fn create_sends_raw_utf8_json() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/create"))
        .and(query_param("access_token", TOKEN))
        .and(body_string_contains("\"name\":\"今日歌曲\""))
        .and(NoUnicodeEscapes)
        .and(body_json(json!({"button":[
            {"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC"},
            {"name":"菜单","sub_button":[{"type":"view","name":"搜索","url":"http://www.soso.com/"}]}
        ]})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    client(&s).menu_create(&sample_menu()).await.unwrap();
}

#[tokio::test]
async fn an_invalid_menu_is_refused_before_any_call() {
    let s = server().await;
    mount_token(&s, 0).await;
    let mut menu = sample_menu();
    menu.button[1].sub_button[0].url = None;
    let e = client(&s).menu_create(&menu).await.unwrap_err();
    match e {
        ApiError::Validation(msg) => assert!(
            msg.contains(r#"button[1].sub_button[0] "搜索": url is required for type view"#),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(s.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn get_parses_default_and_conditional_menus() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/menu/get"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok_fixture("menu_get.json"))
        .expect(1)
        .mount(&s)
        .await;
    let info = client(&s).menu_get().await.unwrap();
    assert_eq!(info.menu.menuid.as_deref(), Some("208396938"));
    assert_eq!(info.menu.button.len(), 2);
    assert_eq!(
        info.menu.button[1].sub_button[1].kind,
        Some(ButtonType::Miniprogram)
    );
    assert_eq!(
        info.menu.button[1].sub_button[1].pagepath.as_deref(),
        Some("pages/lunar/index")
    );
    info.menu.validate().unwrap();
    assert_eq!(info.conditional.len(), 1);
    assert_eq!(
        info.conditional[0]
            .matchrule
            .client_platform_type
            .as_deref(),
        Some("2")
    );
    assert_eq!(info.conditional[0].menuid.as_deref(), Some("208396993"));
}

#[tokio::test]
async fn get_without_a_menu_is_46003() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/menu/get"))
        .respond_with(ok_fixture("err_46003.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s).menu_get().await.unwrap_err();
    assert_eq!(e.code(), Some(46003));
    assert!(e.hint().is_some());
}

#[tokio::test]
async fn delete() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/menu/delete"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    client(&s).menu_delete().await.unwrap();
}

#[tokio::test]
async fn conditional_add_delete_and_trymatch() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/addconditional"))
        .and(body_json(
            json!({"button":[{"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC"}],
            "matchrule":{"tag_id":"2","client_platform_type":"2","language":"zh_CN"}}),
        ))
        .respond_with(ok_fixture("menu_addconditional.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/delconditional"))
        .and(body_json(json!({"menuid":"208379533"})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/trymatch"))
        .and(body_json(json!({"user_id":"weixin"})))
        .respond_with(ok_fixture("menu_trymatch.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let menu = ConditionalMenu {
        button: vec![sample_menu().button[0].clone()],
        matchrule: MatchRule {
            tag_id: Some("2".into()),
            client_platform_type: Some("2".into()),
            language: Some("zh_CN".into()),
        },
        menuid: None,
    };
    let id = c.menu_add_conditional(&menu).await.unwrap();
    assert_eq!(id, "208379533");
    c.menu_delete_conditional(&id).await.unwrap();
    let m = c.menu_try_match("weixin").await.unwrap();
    assert_eq!(m.button[0].url.as_deref(), Some("http://www.qq.com/"));
}

#[test]
fn a_toml_menu_file_mirrors_the_platform_json() {
    let text = r#"
[[button]]
name = "今日歌曲"
type = "click"
key = "V1001_TODAY_MUSIC"

[[button]]
name = "菜单"

[[button.sub_button]]
name = "搜索"
type = "view"
url = "http://www.soso.com/"

[[button.sub_button]]
name = "小程序"
type = "miniprogram"
url = "http://mp.weixin.qq.com"
appid = "wx286b93c14bbf93aa"
pagepath = "pages/lunar/index"
"#;
    let menu: Menu = toml::from_str(text).unwrap();
    menu.validate().unwrap();
    assert_eq!(
        menu.button[1].sub_button[1].kind,
        Some(ButtonType::Miniprogram)
    );

    let bad: Menu = toml::from_str(&text.replace("key = \"V1001_TODAY_MUSIC\"\n", "")).unwrap();
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        r#"invalid menu: button[0] "今日歌曲": key is required for type click"#
    );
}
