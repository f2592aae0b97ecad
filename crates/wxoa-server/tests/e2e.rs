//! End-to-end: `serve` on port 0 over real HTTP, driven by pushes built independently with
//! wechatpy (tests/fixtures/wechatpy/pushes.json, made by tools/fixtures/gen_wechatpy.py).

mod support;

use std::sync::Arc;

use serde_json::Value;
use support::*;
use tokio::sync::oneshot;
use wxoa_server::App;
use wxoa_server::clock::FixedClock;

const PUSHES: &str = include_str!("fixtures/wechatpy/pushes.json");

/// What the follower should get for each fixture push under the test rules.
fn expected_text(name: &str) -> Option<&'static str> {
    match name.rsplit('/').next()? {
        "text_shiyong" => Some("发送 产品+名称 查询产品"),
        "text_hello" => Some("you said: hello"),
        "subscribe" | "subscribe_qrscene" => Some("欢迎关注！"),
        "click_menu_help" => Some("菜单帮助"),
        _ => None,
    }
}

async fn start(app: Arc<App>) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        wxoa_server::serve(listener, app, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (format!("http://{addr}"), stop, task)
}

#[tokio::test]
async fn wechatpy_pushes_in_all_three_modes() {
    let fixtures: Value = serde_json::from_str(PUSHES).unwrap();
    let config = &fixtures["config"];
    assert_eq!(config["token"], TOKEN);
    assert_eq!(config["encoding_aes_key"], AES_KEY);
    assert_eq!(config["appid"], APPID);
    let app = Arc::new(App::new(
        &support::config(""),
        Arc::new(FixedClock::new(NOW + 20)),
    ));
    let (base, stop, task) = start(app).await;
    let client = reqwest::Client::new();
    let mut seen_modes = std::collections::BTreeSet::new();
    for push in fixtures["pushes"].as_array().unwrap() {
        let name = push["name"].as_str().unwrap();
        let mode = push["mode"].as_str().unwrap();
        let url = format!("{base}/wechat?{}", push["query"].as_str().unwrap());
        let request = match push["method"].as_str().unwrap() {
            "GET" => client.get(&url),
            _ => client
                .post(&url)
                .header("content-type", "text/xml")
                .body(push["body"].as_str().unwrap().to_owned()),
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        let expect = &push["expect"];
        if !expect["accept"].as_bool().unwrap() {
            let want = match name {
                "bad/other_appid" => 400,
                _ => 403,
            };
            assert_eq!(status, want, "{name}: {body}");
            if name == "bad/other_appid" {
                assert!(body.contains("wx0123456789abcdef"), "{name}: {body}");
            }
            continue;
        }
        assert_eq!(status, 200, "{name}: {body}");
        if push["method"] == "GET" {
            assert_eq!(body, expect["body"].as_str().unwrap(), "{name}");
            continue;
        }
        seen_modes.insert(mode.to_owned());
        match expected_text(name) {
            None => assert_eq!(body, "success", "{name}"),
            Some(text) => {
                let xml = if mode == "plain" {
                    assert!(field(&body, "Encrypt").is_none(), "{name}: plain reply");
                    body.clone()
                } else {
                    assert!(
                        field(&body, "Content").is_none(),
                        "{name}: must be encrypted"
                    );
                    open_reply(&body)
                };
                assert_eq!(field(&xml, "Content").as_deref(), Some(text), "{name}");
                assert_eq!(field(&xml, "MsgType").as_deref(), Some("text"), "{name}");
                assert_eq!(
                    field(&xml, "ToUserName").as_deref(),
                    Some("oWxoaPushTestUser000000001"),
                    "{name}"
                );
                assert_eq!(
                    field(&xml, "FromUserName").as_deref(),
                    Some(ACCOUNT),
                    "{name}"
                );
            }
        }
    }
    assert_eq!(seen_modes.len(), 3, "plain, compat and safe all exercised");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn retries_over_http_get_the_same_answer() {
    let app = Arc::new(App::new(
        &support::config(""),
        Arc::new(FixedClock::new(NOW)),
    ));
    let (base, stop, task) = start(app).await;
    let client = reqwest::Client::new();
    let (query, body) = encrypted_push(&text_xml("产品 wxoa", 777), NOW, "12345", false);
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r = client
            .post(format!("{base}/wechat?{query}"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        answers.push(open_reply(&r.text().await.unwrap()));
    }
    let contents: Vec<_> = answers.iter().map(|a| field(a, "Content")).collect();
    assert_eq!(contents[0].as_deref(), Some("产品：wxoa/wxoa"));
    assert!(contents.iter().all(|c| c == &contents[0]));
    stop.send(()).unwrap();
    task.await.unwrap();
}
