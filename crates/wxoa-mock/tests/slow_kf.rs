//! The `kf` slow policy end to end against the fake platform: a webhook that answers in 7 s,
//! the passive answer `success`, and the result in the mock's 客服 outbox — sent once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use wxoa_mock::api::{Follower, MockConfig, MockPlatform};
use wxoa_server::actions::{HttpClient, MemorySessionStore, Services};
use wxoa_server::app::{Backends, Source};
use wxoa_server::clock::{Clock, SystemClock};
use wxoa_server::delivery::{Delivery, MemoryParking};
use wxoa_server::push::{PushQuery, decode_push};
use wxoa_server::{App, Config};

const APPID: &str = "wx49f0ab532d5d035a";
const SECRET: &str = "mocksecret";
const TOKEN: &str = "kftoken";

async fn spawn(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(start_paused = true)]
async fn kf_policy_delivers_a_7_second_answer_through_the_outbox() {
    let now = SystemClock.now_unix();
    let mock = MockPlatform::new(MockConfig::new(APPID, SECRET));
    mock.add_follower(Follower::new("oKfUser").last_message_at(now));
    let mock_url = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let m = mock.clone();
        tokio::spawn(async move { m.serve(listener).await.unwrap() });
        format!("http://{addr}")
    };
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let hook = spawn(Router::new().route(
        "/hook",
        post(move || {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(7)).await;
                axum::Json(serde_json::json!({ "text": "七秒后的答案" }))
            }
        }),
    ))
    .await;

    let text = format!(
        "[account]\nappid = \"{APPID}\"\ntoken = \"{TOKEN}\"\nsecret = \"{SECRET}\"\n[api]\nbase_url = \"{mock_url}\"\n\n[[rules]]\nname = \"slow\"\nmsg_type = \"text\"\non_slow = \"kf\"\nreply = {{ webhook = \"{hook}/hook\", timeout_ms = 20000 }}\n"
    );
    let config = Config::from_toml(&text, std::path::Path::new("wxoa.toml")).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let client = wxoa_api::Client::builder(APPID, secrecy::SecretString::from(SECRET))
        .base_url(mock_url.clone())
        .build()
        .unwrap();
    let delivery = Delivery::new(
        APPID,
        Some(client),
        Arc::new(MemoryParking::new(Arc::clone(&clock))),
        Arc::clone(&clock),
    );
    let backends = Backends {
        services: Services::new(
            Arc::new(MemorySessionStore::new()),
            Arc::new(delivery.clone()),
            HttpClient::new().unwrap(),
        ),
        delivery,
        shared_dedup: None,
        shared_work: None,
        message_log: None,
        redis: None,
    };
    let app = Arc::new(App::with_backends(&config, clock, backends));

    let ts = now.to_string();
    let query = format!(
        "signature={}&timestamp={ts}&nonce=1",
        wxoa_proto::signature::sign(&[TOKEN, &ts, "1"])
    );
    let query = PushQuery::parse(&query).unwrap();
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_kf]]></ToUserName><FromUserName><![CDATA[oKfUser]]></FromUserName><CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[问]]></Content><MsgId>42</MsgId></xml>"
    );
    let push = decode_push(app.account(), &query, body.as_bytes(), &app.checks()).unwrap();

    let (handled, source) = app.answer(&push).await;
    assert_eq!(source, Source::Kf);
    assert_eq!(handled.reply, None, "the passive answer is success");
    assert!(
        mock.outbox().is_empty(),
        "nothing sent before the work is done"
    );

    // Let the webhook finish and the 客服 message go out.
    for _ in 0..100 {
        if !mock.outbox().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outbox = mock.outbox();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0].touser, "oKfUser");
    assert_eq!(outbox[0].text, "七秒后的答案");
    // A retry of the push now gets the cached `success`, not a second copy.
    let (again, source) = app.answer(&push).await;
    assert_eq!(source, Source::Cached);
    assert_eq!(again.reply, None);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(mock.outbox().len(), 1);
}
