//! The fake API's semantics through its router (tower `oneshot`, injected clock, no sleeps): tokens, quotas, whitelist, 客服 window, injection, menus, followers, media and the rest.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use wxoa_mock::api::{
    Follower, Injection, ManualClock, MediaKind, MockConfig, MockPlatform, MockTemplate,
    OutboxKind, UserEvent,
};

const APPID: &str = "wx1234567890abcdef";
const SECRET: &str = "0123456789abcdef0123456789abcdef";
/// 2023-11-15 06:13:20 in Beijing.
const T0: i64 = 1_700_000_000;
const HOUR: Duration = Duration::from_secs(3600);

struct Mock {
    platform: MockPlatform,
    clock: Arc<ManualClock>,
    app: Router,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }
}

fn mock() -> Mock {
    mock_with(|c| c)
}

fn mock_with(f: impl FnOnce(MockConfig) -> MockConfig) -> Mock {
    let clock = Arc::new(ManualClock::new(T0));
    let config = f(MockConfig::new(APPID, SECRET).with_clock(clock.clone()));
    let platform = MockPlatform::new(config);
    let app = platform.router();
    Mock {
        platform,
        clock,
        app,
    }
}

fn errcode(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or(0)
}

impl Mock {
    async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            bytes,
        }
    }

    async fn get(&self, uri: &str) -> Value {
        let req = Request::get(uri).body(Body::empty()).unwrap();
        let a = self.send(req).await;
        assert_eq!(a.status, StatusCode::OK, "GET {uri}");
        a.json()
    }

    async fn post(&self, uri: &str, body: Value) -> Value {
        self.post_raw(uri, body.to_string()).await
    }

    async fn post_raw(&self, uri: &str, body: impl Into<String>) -> Value {
        let req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::from(body.into()))
            .unwrap();
        let a = self.send(req).await;
        assert_eq!(a.status, StatusCode::OK, "POST {uri}");
        a.json()
    }

    async fn classic_fetch(&self) -> Value {
        self.get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
        ))
        .await
    }

    async fn token(&self) -> String {
        let v = self.classic_fetch().await;
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {v}"))
            .to_owned()
    }

    async fn stable(&self, force: bool) -> Value {
        self.post(
            "/cgi-bin/stable_token",
            json!({"grant_type":"client_credential","appid":APPID,"secret":SECRET,"force_refresh":force}),
        )
        .await
    }

    /// An API call needing a token: `getcallbackip`.
    async fn probe(&self, token: &str) -> i64 {
        errcode(
            &self
                .get(&format!("/cgi-bin/getcallbackip?access_token={token}"))
                .await,
        )
    }

    async fn custom_text(&self, token: &str, to: &str, text: &str) -> Value {
        self.post(
            &format!("/cgi-bin/message/custom/send?access_token={token}"),
            json!({"touser":to,"msgtype":"text","text":{"content":text}}),
        )
        .await
    }
}

fn errmsg(v: &Value) -> &str {
    v["errmsg"].as_str().unwrap_or_default()
}

mod tokens {
    use super::*;

    #[tokio::test]
    async fn classic_token_survives_the_overlap_then_is_invalid() {
        let m = mock();
        let a = m.token().await;
        assert_eq!(m.probe(&a).await, 0);
        m.clock.advance(Duration::from_secs(600));
        let b = m.token().await;
        assert_ne!(a, b);
        // The old token works for 5 more minutes, then answers 40001; the new one works.
        m.clock.advance(Duration::from_secs(299));
        assert_eq!(m.probe(&a).await, 0);
        m.clock.advance(Duration::from_secs(1));
        let v = m
            .get(&format!("/cgi-bin/getcallbackip?access_token={a}"))
            .await;
        assert_eq!(errcode(&v), 40001);
        assert!(
            errmsg(&v)
                .starts_with("invalid credential, access_token is invalid or not latest rid: "),
            "{v}"
        );
        assert_eq!(m.probe(&b).await, 0);
        // The new one expires 7200 s after it was issued.
        m.clock.set(T0 + 600 + 7199);
        assert_eq!(m.probe(&b).await, 0);
        m.clock.advance(Duration::from_secs(1));
        assert_eq!(m.probe(&b).await, 42001);
        assert_eq!(m.platform.token_fetches().classic, 2);
    }

    #[tokio::test]
    async fn overlap_is_configurable_and_token_answer_has_the_platforms_shape() {
        let m = mock_with(|c| MockConfig {
            token_overlap: Duration::ZERO,
            ..c
        });
        let v = m.classic_fetch().await;
        assert_eq!(v["expires_in"], 7200);
        assert!(v.get("errcode").is_none());
        let a = v["access_token"].as_str().unwrap().to_owned();
        let _b = m.token().await;
        assert_eq!(m.probe(&a).await, 40001);
    }

    #[tokio::test]
    async fn missing_and_unknown_tokens() {
        let m = mock();
        let v = m.get("/cgi-bin/getcallbackip").await;
        assert_eq!(errcode(&v), 41001);
        assert!(errmsg(&v).starts_with("access_token missing rid: "));
        assert_eq!(m.probe("made-up").await, 40001);
        assert_eq!(
            errcode(&m.get("/cgi-bin/menu/get?access_token=").await),
            41001
        );
    }

    #[tokio::test]
    async fn stable_token_is_the_same_until_forced() {
        let m = mock();
        let first = m.stable(false).await;
        let s1 = first["access_token"].as_str().unwrap().to_owned();
        assert_eq!(first["expires_in"], 7200);
        m.clock.advance(Duration::from_secs(1000));
        let again = m.stable(false).await;
        assert_eq!(again["access_token"], s1.as_str());
        assert_eq!(again["expires_in"], 6200);

        // Classic fetches never touch the stable token.
        let c = m.token().await;
        let _ = m.token().await;
        m.clock.advance(Duration::from_secs(301));
        assert_eq!(m.probe(&c).await, 40001);
        assert_eq!(m.probe(&s1).await, 0);

        // Force: a new token, the old one dead at once.
        let forced = m.stable(true).await;
        let s2 = forced["access_token"].as_str().unwrap().to_owned();
        assert_ne!(s2, s1);
        assert_eq!(forced["expires_in"], 7200);
        assert_eq!(m.probe(&s1).await, 40001);
        assert_eq!(m.probe(&s2).await, 0);
        // A second force within 30 s does not refresh.
        m.clock.advance(Duration::from_secs(29));
        assert_eq!(m.stable(true).await["access_token"], s2.as_str());
        m.clock.advance(Duration::from_secs(1));
        let s3 = m.stable(true).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(s3, s2);
        let f = m.platform.token_fetches();
        assert_eq!((f.stable, f.stable_forced), (5, 2));
    }

    #[tokio::test]
    async fn stable_token_rotates_five_minutes_before_expiry_and_both_work() {
        let m = mock();
        let s1 = m.stable(false).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        m.clock.advance(Duration::from_secs(7200 - 301));
        let v = m.stable(false).await;
        assert_eq!(
            (v["access_token"].as_str(), v["expires_in"].as_i64()),
            (Some(s1.as_str()), Some(301))
        );
        m.clock.advance(Duration::from_secs(1));
        let v = m.stable(false).await;
        let s2 = v["access_token"].as_str().unwrap().to_owned();
        assert_ne!(s2, s1);
        assert_eq!(v["expires_in"], 7200);
        assert_eq!(m.probe(&s1).await, 0, "old token valid until it expires");
        m.clock.advance(Duration::from_secs(300));
        assert_eq!(m.probe(&s1).await, 42001);
        assert_eq!(m.probe(&s2).await, 0);
    }

    #[tokio::test]
    async fn stable_force_is_limited_to_twenty_a_day() {
        let m = mock();
        for _ in 0..20 {
            assert!(m.stable(true).await.get("access_token").is_some());
            m.clock.advance(Duration::from_secs(30));
        }
        assert_eq!(errcode(&m.stable(true).await), 45009);
        // Normal mode still works.
        assert!(m.stable(false).await.get("access_token").is_some());
    }

    #[tokio::test]
    async fn wrong_credentials_on_both_endpoints() {
        let m = mock();
        let classic = |q: &str| format!("/cgi-bin/token?grant_type=client_credential&{q}");
        let v = m
            .get(&classic(&format!(
                "appid=wx0000000000000000&secret={SECRET}"
            )))
            .await;
        assert_eq!(errcode(&v), 40013);
        assert!(errmsg(&v).starts_with("invalid appid rid: "), "{v}");
        let v = m
            .get(&classic(&format!("appid={APPID}&secret=wrong")))
            .await;
        assert_eq!(errcode(&v), 40125);
        assert!(errmsg(&v).starts_with("invalid appsecret"), "{v}");
        assert_eq!(
            errcode(&m.get(&classic(&format!("secret={SECRET}"))).await),
            41002
        );
        assert_eq!(
            errcode(&m.get(&classic(&format!("appid={APPID}"))).await),
            41004
        );
        let v = m
            .get(&format!(
                "/cgi-bin/token?grant_type=password&appid={APPID}&secret={SECRET}"
            ))
            .await;
        assert_eq!(errcode(&v), 40002);

        let stable = |appid: &str, secret: &str| json!({"grant_type":"client_credential","appid":appid,"secret":secret});
        let v = m.post("/cgi-bin/stable_token", stable("wx0", SECRET)).await;
        assert_eq!(errcode(&v), 40013);
        let v = m.post("/cgi-bin/stable_token", stable(APPID, "nope")).await;
        assert_eq!(errcode(&v), 40125);
        let v = m.get("/cgi-bin/stable_token").await;
        assert_eq!(errcode(&v), 43002);
        assert_eq!(
            errcode(&m.post_raw("/cgi-bin/stable_token", "{").await),
            47001
        );
        assert_eq!(m.platform.token_fetches().issued, 0);
        assert_eq!(m.platform.calls("/cgi-bin/token"), 5);
    }

    #[tokio::test]
    async fn daily_fetch_quota_then_next_day_and_clear_quota() {
        let m = mock_with(|c| MockConfig {
            daily_token_limit: 3,
            ..c
        });
        for _ in 0..3 {
            m.token().await;
        }
        let v = m.classic_fetch().await;
        assert_eq!(errcode(&v), 45009);
        assert!(errmsg(&v).starts_with("reach max api daily quota limit rid: "));
        assert_eq!(m.platform.stats().classic_fetches_today, 3);
        // Beijing midnight: T0 is 06:13:20 Beijing, so 17h46m40s later is the next day.
        m.clock
            .advance(Duration::from_secs(17 * 3600 + 46 * 60 + 39));
        assert_eq!(errcode(&m.classic_fetch().await), 45009);
        m.clock.advance(Duration::from_secs(1));
        let token = m.token().await;
        m.token().await;
        m.token().await;
        assert_eq!(errcode(&m.classic_fetch().await), 45009);
        // clear_quota resets the counters (with a token still valid).
        let v = m
            .post(
                &format!("/cgi-bin/clear_quota?access_token={token}"),
                json!({"appid": APPID}),
            )
            .await;
        assert_eq!(errcode(&v), 0, "{v}");
        m.token().await;
        // clear_quota/v2 takes the secret instead of a token.
        let v = m
            .post(
                "/cgi-bin/clear_quota/v2",
                json!({"appid": APPID, "appsecret": "bad"}),
            )
            .await;
        assert_eq!(errcode(&v), 40125);
    }

    fn from_ip(uri: &str, ip: &str) -> Request<Body> {
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        let mut req = Request::get(uri).body(Body::empty()).unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        req
    }

    #[tokio::test]
    async fn ip_whitelist_names_the_caller() {
        let m = mock_with(|c| MockConfig {
            ip_whitelist: Some(vec!["10.0.0.1".parse().unwrap()]),
            ..c
        });
        let uri =
            format!("/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}");
        let v = m.send(from_ip(&uri, "203.0.113.45")).await.json();
        assert_eq!(errcode(&v), 40164);
        assert!(
            errmsg(&v).starts_with(
                "invalid ip 203.0.113.45 ipv6 ::ffff:203.0.113.45, not in whitelist rid: "
            ),
            "{v}"
        );
        let v = m.send(from_ip(&uri, "10.0.0.1")).await.json();
        assert!(v.get("access_token").is_some(), "{v}");
        // stable_token too.
        let mut req = Request::post("/cgi-bin/stable_token")
            .body(Body::from(
                json!({"grant_type":"client_credential","appid":APPID,"secret":SECRET}).to_string(),
            ))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(
            "[2001:db8::1]:1".parse::<SocketAddr>().unwrap(),
        ));
        let v = m.send(req).await.json();
        assert_eq!(errcode(&v), 40164);
        assert!(errmsg(&v).contains("2001:db8::1"), "{v}");
    }

    #[tokio::test]
    async fn served_over_tcp_the_caller_ip_comes_from_the_connection() {
        let m = mock_with(|c| MockConfig {
            ip_whitelist: Some(vec!["192.0.2.1".parse().unwrap()]),
            ..c
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let platform = m.platform.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            platform
                .serve_with_shutdown(listener, async {
                    let _ = stopped.await;
                })
                .await
        });
        let body: Value = reqwest::get(format!(
            "http://{addr}/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        assert_eq!(errcode(&body), 40164);
        assert!(
            errmsg(&body).starts_with("invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1"),
            "{body}"
        );
    }
}

mod custom {
    use super::*;

    #[tokio::test]
    async fn window_is_48_hours_after_the_last_message() {
        let m = mock();
        let token = m.token().await;
        m.platform
            .add_follower(Follower::new("o47").last_message_at(T0 - 47 * 3600));
        m.platform
            .add_follower(Follower::new("o49").last_message_at(T0 - 49 * 3600));
        m.platform.add_follower(Follower::new("never"));

        let v = m.custom_text(&token, "o47", "还在吗").await;
        assert_eq!(errcode(&v), 0, "{v}");
        let v = m.custom_text(&token, "o49", "还在吗").await;
        assert_eq!(errcode(&v), 45015);
        assert!(
            errmsg(&v).starts_with("response out of time limit or subscription is canceled rid: ")
        );
        assert_eq!(errcode(&m.custom_text(&token, "never", "x").await), 45015);
        assert_eq!(
            errcode(&m.custom_text(&token, "stranger", "x").await),
            40003
        );

        // A new message from the follower reopens the window.
        m.platform.record_user_message("o49", T0);
        assert_eq!(errcode(&m.custom_text(&token, "o49", "好的").await), 0);

        // Exactly 48 h later it is closed again.
        m.clock.advance(48 * HOUR);
        let fresh = m.token().await;
        assert_eq!(errcode(&m.custom_text(&fresh, "o49", "x").await), 45015);

        let out = m.platform.outbox();
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].touser.as_str(), out[0].text.as_str(), out[0].kind),
            ("o47", "还在吗", OutboxKind::Custom)
        );
        assert_eq!(out[1].body["text"]["content"], "好的");
        assert!(out[1].seq > out[0].seq);
    }

    #[tokio::test]
    async fn five_messages_per_user_message_and_unsubscribed_users() {
        let m = mock();
        let token = m.token().await;
        m.platform.record_user_message("o1", T0 - 60);
        for i in 0..5 {
            assert_eq!(
                errcode(&m.custom_text(&token, "o1", &format!("{i}")).await),
                0
            );
        }
        assert_eq!(errcode(&m.custom_text(&token, "o1", "6").await), 45047);
        m.platform
            .record_user_event("o1", UserEvent::Unsubscribe, T0);
        assert_eq!(errcode(&m.custom_text(&token, "o1", "7").await), 43004);
        // Subscribing opens a 1-minute window of 3 messages.
        m.platform.record_user_event("n1", UserEvent::Subscribe, T0);
        m.clock.advance(Duration::from_secs(59));
        assert_eq!(errcode(&m.custom_text(&token, "n1", "welcome").await), 0);
        m.clock.advance(Duration::from_secs(1));
        assert_eq!(errcode(&m.custom_text(&token, "n1", "late").await), 45015);
    }

    #[tokio::test]
    async fn every_msgtype_is_validated_and_recorded() {
        let m = mock();
        let token = m.token().await;
        m.platform.record_user_message("o1", T0);
        let image = m
            .platform
            .add_media(MediaKind::Image, "p.jpg", vec![0xFF, 0xD8]);
        let uri = format!("/cgi-bin/message/custom/send?access_token={token}");
        let m = &m;
        let send = |body: Value| {
            let uri = uri.clone();
            async move { errcode(&m.post(&uri, body).await) }
        };
        assert_eq!(
            send(json!({"touser":"o1","msgtype":"image","image":{"media_id":image}})).await,
            0
        );
        assert_eq!(
            send(json!({"touser":"o1","msgtype":"image","image":{"media_id":"nope"}})).await,
            40007
        );
        assert_eq!(
            send(json!({"touser":"o1","msgtype":"voice","voice":{"media_id":image}})).await,
            40007
        );
        assert_eq!(
            send(json!({"touser":"o1","msgtype":"text","text":{"content":""}})).await,
            44004
        );
        assert_eq!(
            send(json!({"touser":"o1","msgtype":"gif","gif":{}})).await,
            40008
        );
        let article = json!({"title":"T","description":"D","url":"https://e.com/","picurl":"https://e.com/p.png"});
        assert_eq!(send(json!({"touser":"o1","msgtype":"news","news":{"articles":[article.clone(), article.clone()]}})).await, 45008);
        assert_eq!(
            send(json!({"touser":"o1","msgtype":"news","news":{"articles":[article]}})).await,
            0
        );
        assert_eq!(
            send(json!({"touser":"o1","msgtype":"msgmenu","msgmenu":{"head_content":"满意吗","list":[{"id":"101","content":"满意"}],"tail_content":"谢谢"},"customservice":{"kf_account":"a@kf"}})).await,
            0
        );
        let out = m.platform.outbox();
        let texts: Vec<_> = out
            .iter()
            .map(|o| (o.msgtype.as_str(), o.text.as_str()))
            .collect();
        assert_eq!(texts[0], ("image", format!("[图片] {image}").as_str()));
        assert_eq!(texts[1], ("news", "[图文] T"));
        assert_eq!(texts[2], ("msgmenu", "满意吗 / [101] 满意 / 谢谢"));
        assert_eq!(out[2].body["customservice"]["kf_account"], "a@kf");
        // Typing needs the window too.
        let typing = format!("/cgi-bin/message/custom/typing?access_token={token}");
        assert_eq!(
            errcode(
                &m.post(&typing, json!({"touser":"o1","command":"Typing"}))
                    .await
            ),
            0
        );
        assert_eq!(
            errcode(
                &m.post(&typing, json!({"touser":"o1","command":"Dance"}))
                    .await
            ),
            47003
        );
        m.platform.add_follower(Follower::new("quiet"));
        assert_eq!(
            errcode(
                &m.post(&typing, json!({"touser":"quiet","command":"Typing"}))
                    .await
            ),
            45015
        );
    }

    #[tokio::test]
    async fn outbox_over_http_filters_by_seq_user_and_kind() {
        let m = mock();
        let token = m.token().await;
        m.platform.record_user_message("a", T0);
        m.platform.record_user_message("b", T0);
        m.custom_text(&token, "a", "1").await;
        m.custom_text(&token, "b", "2").await;
        let all = m.get("/mock/outbox").await;
        assert_eq!(all["messages"].as_array().unwrap().len(), 2);
        let first = all["messages"][0]["seq"].as_u64().unwrap();
        let later = m.get(&format!("/mock/outbox?since={first}")).await;
        assert_eq!(later["messages"][0]["text"], "2");
        assert_eq!(later["last_seq"], all["last_seq"]);
        let only_a = m.get("/mock/outbox?touser=a&kind=custom").await;
        assert_eq!(only_a["messages"].as_array().unwrap().len(), 1);
        assert_eq!(
            m.get("/mock/outbox?kind=template").await["messages"],
            json!([])
        );
        let bad = m
            .send(
                Request::get("/mock/outbox?since=x")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}

mod injection {
    use super::*;

    #[tokio::test]
    async fn count_and_path_are_honoured() {
        let m = mock();
        let token = m.token().await;
        m.platform.record_user_message("o1", T0);
        let v = m
            .post(
                "/mock/inject",
                json!({"errcode":45009,"count":2,"path":"/cgi-bin/message/custom/send"}),
            )
            .await;
        assert_eq!(v["pending"][0]["count"], 2);
        for _ in 0..2 {
            let v = m.custom_text(&token, "o1", "x").await;
            assert_eq!(errcode(&v), 45009);
            assert!(
                errmsg(&v).starts_with("reach max api daily quota limit rid: "),
                "{v}"
            );
            // Other paths are untouched meanwhile.
            assert_eq!(m.probe(&token).await, 0);
        }
        assert_eq!(errcode(&m.custom_text(&token, "o1", "x").await), 0);
        assert_eq!(m.platform.outbox().len(), 1, "injected calls send nothing");
        assert!(m.platform.stats().pending_injections.is_empty());
    }

    #[tokio::test]
    async fn without_a_path_any_api_fails_even_the_token_fetch() {
        let m = mock();
        m.platform.inject(Injection::new(-1, 1));
        let v = m.classic_fetch().await;
        assert_eq!(errcode(&v), -1);
        assert!(errmsg(&v).starts_with("system error rid: "));
        let token = m.token().await;
        // Short paths, a custom errmsg and an HTTP status.
        let v = m
            .post(
                "/mock/inject",
                json!({"errcode":48001,"path":"menu/get","errmsg":"api unauthorized, hints: [ req_id: x ]"}),
            )
            .await;
        assert_eq!(v["ok"], true);
        let v = m
            .get(&format!("/cgi-bin/menu/get?access_token={token}"))
            .await;
        assert_eq!(errcode(&v), 48001);
        assert!(errmsg(&v).starts_with("api unauthorized, hints: [ req_id: x ] rid: "));
        m.platform.inject(Injection {
            status: Some(502),
            ..Injection::new(-1, 1)
        });
        let a = m
            .send(
                Request::get("/cgi-bin/getcallbackip")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_GATEWAY);
        // Control routes are never injected.
        m.platform.inject(Injection::new(-1, 1));
        assert_eq!(
            m.get("/mock/stats").await["pending_injections"][0]["errcode"],
            -1
        );
        let bad = m
            .send(
                Request::post("/mock/inject")
                    .body(Body::from(r#"{"count":1}"#))
                    .unwrap(),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&bad.bytes).contains("errcode"));
    }
}

mod menus {
    use super::*;

    fn click(name: &str) -> Value {
        json!({"type":"click","name":name,"key":"K"})
    }

    #[tokio::test]
    async fn validation_errcodes() {
        let m = mock();
        let token = m.token().await;
        let uri = format!("/cgi-bin/menu/create?access_token={token}");
        let m = &m;
        let code = |body: Value| {
            let uri = uri.clone();
            async move { errcode(&m.post(&uri, body).await) }
        };
        assert_eq!(code(json!({"button":[]})).await, 40016);
        assert_eq!(
            code(json!({"button":[click("a"),click("b"),click("c"),click("d")]})).await,
            40016
        );
        assert_eq!(
            code(json!({"button":[{"type":"clik","name":"a","key":"k"}]})).await,
            40017
        );
        // 6 CJK characters = 18 bytes > 16.
        assert_eq!(code(json!({"button":[click("今日歌曲推荐")]})).await, 40018);
        assert_eq!(
            code(json!({"button":[{"type":"click","name":"a","key":"k".repeat(129)}]})).await,
            40019
        );
        assert_eq!(
            code(json!({"button":[{"type":"view","name":"a"}]})).await,
            40020
        );
        let six: Vec<Value> = (0..6).map(|i| click(&format!("s{i}"))).collect();
        assert_eq!(
            code(json!({"button":[{"name":"more","sub_button":six}]})).await,
            40023
        );
        assert_eq!(
            code(json!({"button":[{"name":"more","sub_button":[{"type":"nope","name":"x"}]}]}))
                .await,
            40024
        );
        assert_eq!(
            code(json!({"button":[{"name":"more","sub_button":[click(&"名".repeat(21))]}]})).await,
            40025
        );
        assert_eq!(
            code(json!({"button":[{"name":"more","sub_button":[{"type":"click","name":"x"}]}]}))
                .await,
            40026
        );
        assert_eq!(code(json!({"button":[{"name":"more","sub_button":[{"type":"view","name":"x","url":""}]}]})).await, 40027);
        // Escaped unicode is refused like the platform (send raw UTF-8).
        let v = m
            .post_raw(
                &uri,
                r#"{"button":[{"type":"click","name":"\u83dc\u5355","key":"k"}]}"#,
            )
            .await;
        assert_eq!(errcode(&v), 40033);
        assert_eq!(errcode(&m.post_raw(&uri, "").await), 44002);
        assert!(m.platform.menu().is_none());
    }

    #[tokio::test]
    async fn create_get_conditional_delete() {
        let m = mock();
        let token = m.token().await;
        let q = format!("?access_token={token}");
        assert_eq!(
            errcode(&m.get(&format!("/cgi-bin/menu/get{q}")).await),
            46003
        );
        let menu = json!({"button":[
            {"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC"},
            {"name":"菜单","sub_button":[
                {"type":"view","name":"搜索","url":"http://www.soso.com/"},
                {"type":"miniprogram","name":"wxa","url":"http://mp.weixin.qq.com","appid":"wx286b93c14bbf93aa","pagepath":"pages/lunar/index"}
            ]}
        ]});
        let cond = json!({"button":[click("VIP")],"matchrule":{"tag_id":"2"}});
        // A conditional menu needs a default menu first.
        assert_eq!(
            errcode(
                &m.post(&format!("/cgi-bin/menu/addconditional{q}"), cond.clone())
                    .await
            ),
            65303
        );
        assert_eq!(
            errcode(&m.post(&format!("/cgi-bin/menu/create{q}"), menu).await),
            0
        );
        let got = m.get(&format!("/cgi-bin/menu/get{q}")).await;
        assert_eq!(got["menu"]["button"][0]["key"], "V1001_TODAY_MUSIC");
        assert_eq!(got["menu"]["button"][0]["sub_button"], json!([]));
        assert_eq!(
            got["menu"]["button"][1]["sub_button"][1]["pagepath"],
            "pages/lunar/index"
        );
        assert!(got["menu"]["menuid"].is_u64());
        assert_eq!(m.get("/mock/menu").await, got);

        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/menu/addconditional{q}"),
                    json!({"button":[click("x")],"matchrule":{}})
                )
                .await
            ),
            65304
        );
        let added = m
            .post(&format!("/cgi-bin/menu/addconditional{q}"), cond)
            .await;
        let menuid = added["menuid"].as_str().unwrap().to_owned();
        m.platform.add_follower(Follower {
            tagid_list: vec![2],
            ..Follower::new("star")
        });
        m.platform.add_follower(Follower::new("plain"));
        let trymatch = format!("/cgi-bin/menu/trymatch{q}");
        assert_eq!(
            m.post(&trymatch, json!({"user_id":"star"})).await["button"][0]["name"],
            "VIP"
        );
        assert_eq!(
            m.post(&trymatch, json!({"user_id":"plain"})).await["button"][0]["name"],
            "今日歌曲"
        );
        assert_eq!(
            errcode(&m.post(&trymatch, json!({"user_id":"nobody"})).await),
            65302
        );
        assert_eq!(
            m.get(&format!("/cgi-bin/menu/get{q}")).await["conditionalmenu"][0]["matchrule"]["tag_id"],
            "2"
        );
        let del = format!("/cgi-bin/menu/delconditional{q}");
        assert_eq!(errcode(&m.post(&del, json!({"menuid": menuid})).await), 0);
        assert_eq!(
            errcode(&m.post(&del, json!({"menuid": menuid})).await),
            65301
        );

        let info = m
            .get(&format!("/cgi-bin/get_current_selfmenu_info{q}"))
            .await;
        assert_eq!(info["is_menu_open"], 1);
        assert_eq!(
            info["selfmenu_info"]["button"][1]["sub_button"]["list"][0]["name"],
            "搜索"
        );

        assert_eq!(
            errcode(&m.get(&format!("/cgi-bin/menu/delete{q}")).await),
            0
        );
        assert_eq!(
            errcode(&m.get(&format!("/cgi-bin/menu/get{q}")).await),
            46003
        );
        assert_eq!(m.get("/mock/menu").await, json!({"menu": null}));
    }
}

mod users {
    use super::*;

    #[tokio::test]
    async fn follower_paging_ends_with_a_page_without_data() {
        let m = mock_with(|c| MockConfig {
            follower_page_size: 3,
            ..c
        });
        for i in 1..=7 {
            let f = Follower::new(format!("o{i}"));
            m.platform
                .add_follower(if i == 4 { f.unsubscribed() } else { f });
        }
        let token = m.token().await;
        let m = &m;
        let page = |next: &str| {
            let uri = format!("/cgi-bin/user/get?access_token={token}&next_openid={next}");
            async move { m.get(&uri).await }
        };
        let p1 = page("").await;
        assert_eq!(
            p1,
            json!({"total":6,"count":3,"data":{"openid":["o1","o2","o3"]},"next_openid":"o3"})
        );
        let p2 = page("o3").await;
        assert_eq!(
            p2,
            json!({"total":6,"count":3,"data":{"openid":["o5","o6","o7"]},"next_openid":"o7"})
        );
        let end = page("o7").await;
        assert_eq!(end, json!({"total":6,"count":0,"next_openid":""}));
        assert_eq!(errcode(&page("zz").await), 40003);
        // next_openid absent = from the start.
        let v = m
            .get(&format!("/cgi-bin/user/get?access_token={token}"))
            .await;
        assert_eq!(v["data"]["openid"][0], "o1");
    }

    #[tokio::test]
    async fn info_batchget_remark_and_tags() {
        let m = mock();
        let token = m.token().await;
        let q = format!("access_token={token}");
        m.platform.add_follower(Follower {
            unionid: Some("u1".into()),
            ..Follower::new("o1")
        });
        m.platform
            .add_follower(Follower::new("gone").unsubscribed());
        let info = m
            .get(&format!("/cgi-bin/user/info?{q}&openid=o1&lang=zh_CN"))
            .await;
        assert_eq!(
            (info["subscribe"].as_i64(), info["subscribe_time"].as_i64()),
            (Some(1), Some(T0))
        );
        assert_eq!(
            (info["nickname"].as_str(), info["unionid"].as_str()),
            (Some(""), Some("u1"))
        );
        assert_eq!(
            m.get(&format!("/cgi-bin/user/info?{q}&openid=gone")).await,
            json!({"subscribe":0,"openid":"gone"})
        );
        assert_eq!(
            errcode(&m.get(&format!("/cgi-bin/user/info?{q}&openid=x")).await),
            40003
        );
        let batch = m
            .post(
                &format!("/cgi-bin/user/info/batchget?{q}"),
                json!({"user_list":[{"openid":"o1","lang":"zh_CN"},{"openid":"gone"}]}),
            )
            .await;
        assert_eq!(batch["user_info_list"].as_array().unwrap().len(), 2);
        let many: Vec<Value> = (0..101).map(|_| json!({"openid":"o1"})).collect();
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/user/info/batchget?{q}"),
                    json!({"user_list": many})
                )
                .await
            ),
            40032
        );
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/user/info/updateremark?{q}"),
                    json!({"openid":"o1","remark":"老客户"})
                )
                .await
            ),
            0
        );
        assert_eq!(m.platform.follower("o1").unwrap().remark, "老客户");

        // Tags.
        let created = m
            .post(
                &format!("/cgi-bin/tags/create?{q}"),
                json!({"tag":{"name":"广东"}}),
            )
            .await;
        let id = created["tag"]["id"].as_i64().unwrap();
        assert_eq!(created["tag"]["name"], "广东");
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/tags/create?{q}"),
                    json!({"tag":{"name":"广东"}})
                )
                .await
            ),
            45157
        );
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/tags/members/batchtagging?{q}"),
                    json!({"openid_list":["o1"],"tagid":id})
                )
                .await
            ),
            0
        );
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/tags/members/batchtagging?{q}"),
                    json!({"openid_list":["o1"],"tagid":999})
                )
                .await
            ),
            45159
        );
        let tags = m.get(&format!("/cgi-bin/tags/get?{q}")).await;
        assert_eq!(tags["tags"][1], json!({"id":id,"name":"广东","count":1}));
        assert_eq!(
            m.post(
                &format!("/cgi-bin/tags/getidlist?{q}"),
                json!({"openid":"o1"})
            )
            .await["tagid_list"],
            json!([id])
        );
        let members = m
            .post(
                &format!("/cgi-bin/user/tag/get?{q}"),
                json!({"tagid":id,"next_openid":""}),
            )
            .await;
        assert_eq!(
            members,
            json!({"count":1,"data":{"openid":["o1"]},"next_openid":"o1"})
        );
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/tags/delete?{q}"),
                    json!({"tag":{"id":2}})
                )
                .await
            ),
            45058
        );
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/tags/delete?{q}"),
                    json!({"tag":{"id":id}})
                )
                .await
            ),
            0
        );
        assert!(m.platform.follower("o1").unwrap().tagid_list.is_empty());
    }

    #[tokio::test]
    async fn followers_and_interactions_over_http() {
        let m = mock();
        let v = m
            .post(
                "/mock/followers",
                json!([{"openid":"a","last_message_at":T0 - 49 * 3600},{"openid":"b"}]),
            )
            .await;
        assert_eq!(v["followers"], 2);
        m.post(
            "/mock/followers",
            json!({"followers":[{"openid":"c","subscribed":false}]}),
        )
        .await;
        m.post("/mock/followers", json!({"openid":"d"})).await;
        let list = m.get("/mock/followers").await;
        assert_eq!(list["followers"].as_array().unwrap().len(), 4);
        assert_eq!(list["followers"][2]["subscribed"], false);
        let token = m.token().await;
        assert_eq!(errcode(&m.custom_text(&token, "a", "x").await), 45015);
        m.post("/mock/interaction", json!({"openid":"a","kind":"message"}))
            .await;
        assert_eq!(errcode(&m.custom_text(&token, "a", "x").await), 0);
        let bad = m
            .send(
                Request::post("/mock/followers")
                    .body(Body::from(r#"{"openid":""}"#))
                    .unwrap(),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}

mod media {
    use super::*;

    fn multipart(field: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Body {
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--XBOUNDARY\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n--XBOUNDARY--\r\n");
        Body::from(body)
    }

    async fn upload(
        m: &Mock,
        token: &str,
        kind: &str,
        field: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Value {
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!(
                "/cgi-bin/media/upload?access_token={token}&type={kind}"
            ))
            .header(
                header::CONTENT_TYPE,
                "multipart/form-data; boundary=XBOUNDARY",
            )
            .body(multipart(
                field,
                filename,
                "application/octet-stream",
                bytes,
            ))
            .unwrap();
        m.send(req).await.json()
    }

    #[tokio::test]
    async fn upload_then_download_the_same_bytes() {
        let m = mock();
        let token = m.token().await;
        let png = b"\x89PNG\r\n\x1a\n fake image";
        let v = upload(&m, &token, "image", "media", "cat.png", png).await;
        assert_eq!(
            (v["type"].as_str(), v["created_at"].as_i64()),
            (Some("image"), Some(T0))
        );
        let id = v["media_id"].as_str().unwrap().to_owned();
        let a = m
            .send(
                Request::get(format!(
                    "/cgi-bin/media/get?access_token={token}&media_id={id}"
                ))
                .body(Body::empty())
                .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(&a.bytes[..], png);
        assert_eq!(a.headers[header::CONTENT_TYPE], "image/png");
        assert_eq!(
            a.headers[header::CONTENT_DISPOSITION].to_str().unwrap(),
            format!("attachment; filename=\"{id}.png\"")
        );
        assert_eq!(
            m.platform.media(&id).unwrap().bytes,
            Bytes::from_static(png)
        );
        // Unknown id, then the same id after 3 days.
        let m = &m;
        let get = |id: String| {
            let token = token.clone();
            async move {
                m.get(&format!(
                    "/cgi-bin/media/get?access_token={token}&media_id={id}"
                ))
                .await
            }
        };
        assert_eq!(errcode(&get("nope".into()).await), 40007);
        m.clock.advance(72 * HOUR);
        let token2 = m.token().await;
        let v = m
            .get(&format!(
                "/cgi-bin/media/get?access_token={token2}&media_id={id}"
            ))
            .await;
        assert_eq!(errcode(&v), 40007);
        assert!(errmsg(&v).starts_with("invalid media_id rid: "));
    }

    #[tokio::test]
    async fn upload_is_validated_like_the_platform() {
        let m = mock();
        let token = m.token().await;
        assert_eq!(
            errcode(&upload(&m, &token, "file", "media", "a.png", b"x").await),
            40004
        );
        assert_eq!(
            errcode(&upload(&m, &token, "image", "file", "a.png", b"x").await),
            41005
        );
        assert_eq!(
            errcode(&upload(&m, &token, "image", "media", "a.bmp", b"x").await),
            40005
        );
        assert_eq!(
            errcode(&upload(&m, &token, "voice", "media", "a.png", b"x").await),
            40005
        );
        let big = vec![0_u8; 64 * 1024 + 1];
        assert_eq!(
            errcode(&upload(&m, &token, "thumb", "media", "t.jpg", &big).await),
            40006
        );
        let thumb = upload(&m, &token, "thumb", "media", "t.jpg", b"jpg").await;
        assert!(thumb["thumb_media_id"].is_string(), "{thumb}");
        // Videos come back as a URL, served by the mock.
        let video = upload(&m, &token, "video", "media", "v.mp4", b"mp4 bytes").await;
        let id = video["media_id"].as_str().unwrap();
        let req = Request::get(format!(
            "/cgi-bin/media/get?access_token={token}&media_id={id}"
        ))
        .header(header::HOST, "127.0.0.1:9999")
        .body(Body::empty())
        .unwrap();
        let v = m.send(req).await.json();
        assert_eq!(
            v["video_url"],
            format!("http://127.0.0.1:9999/mock/media/{id}")
        );
        let file = m
            .send(
                Request::get(format!("/mock/media/{id}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(&file.bytes[..], b"mp4 bytes");
        assert_eq!(file.headers[header::CONTENT_TYPE], "video/mp4");
    }
}

mod others {
    use super::*;

    #[tokio::test]
    async fn template_send_is_recorded_and_checked() {
        let m = mock();
        m.platform.add_template(MockTemplate::new(
            "T_SHIP",
            "发货通知",
            "商品：{{thing1.DATA}}\n{{remark.DATA}}",
        ));
        m.platform.add_follower(Follower::new("o1"));
        let token = m.token().await;
        let uri = format!("/cgi-bin/message/template/send?access_token={token}");
        let body = json!({"touser":"o1","template_id":"T_SHIP","url":"https://e.com/",
            "data":{"thing1":{"value":"巧克力"},"remark":{"value":"谢谢"}},"client_msg_id":"m1"});
        let v = m.post(&uri, body.clone()).await;
        assert_eq!((errcode(&v), errmsg(&v)), (0, "ok"));
        let msgid = v["msgid"].as_u64().unwrap();
        // Same client_msg_id: same msgid, not delivered twice.
        assert_eq!(m.post(&uri, body).await["msgid"], msgid);
        assert_eq!(
            errcode(
                &m.post(&uri, json!({"touser":"o1","template_id":"NOPE","data":{}}))
                    .await
            ),
            40037
        );
        assert_eq!(
            errcode(
                &m.post(&uri, json!({"touser":"x","template_id":"T_SHIP","data":{}}))
                    .await
            ),
            40003
        );
        assert_eq!(
            errcode(
                &m.post(
                    &uri,
                    json!({"touser":"o1","template_id":"T_SHIP","data":{"a":"b"}})
                )
                .await
            ),
            47003
        );
        let out = m.platform.outbox();
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].kind, out[0].msgid, out[0].text.as_str()),
            (OutboxKind::Template, Some(msgid), "商品：巧克力")
        );
        let list = m
            .get(&format!(
                "/cgi-bin/template/get_all_private_template?access_token={token}"
            ))
            .await;
        let ids: Vec<_> = list["template_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["template_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [wxoa_mock::api::DEMO_TEMPLATE_ID, "T_SHIP"]);
    }

    #[tokio::test]
    async fn qrcode_ticket_and_jsapi_ticket() {
        let m = mock();
        let token = m.token().await;
        let uri = format!("/cgi-bin/qrcode/create?access_token={token}");
        let v = m.post(&uri, json!({"expire_seconds":604800,"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":123}}})).await;
        assert_eq!(v["expire_seconds"], 604800);
        assert!(v["ticket"].as_str().unwrap().starts_with("gQ"));
        assert!(
            v["url"]
                .as_str()
                .unwrap()
                .starts_with("https://weixin.qq.com/q/")
        );
        let p = m.post(&uri, json!({"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"promo"}}})).await;
        assert!(p.get("expire_seconds").is_none(), "{p}");
        assert_eq!(errcode(&m.post(&uri, json!({"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":100001}}})).await), 40097);
        assert_eq!(
            errcode(
                &m.post(
                    &uri,
                    json!({"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":0}}})
                )
                .await
            ),
            40097
        );
        let codes = m.platform.qr_codes();
        assert_eq!((codes.len(), codes[1].scene().as_str()), (2, "promo"));

        let t1 = m
            .get(&format!(
                "/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
            ))
            .await;
        assert_eq!((errcode(&t1), t1["expires_in"].as_i64()), (0, Some(7200)));
        m.clock.advance(Duration::from_secs(100));
        let t2 = m
            .get(&format!(
                "/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
            ))
            .await;
        assert_eq!(
            (t2["ticket"].clone(), t2["expires_in"].as_i64()),
            (t1["ticket"].clone(), Some(7100))
        );
    }

    #[tokio::test]
    async fn oauth_code_exchange_userinfo_and_reuse() {
        let m = mock();
        m.platform.add_follower(Follower {
            nickname: "小明".into(),
            unionid: Some("u1".into()),
            ..Follower::new("o1")
        });
        let code = m
            .post(
                "/mock/oauth/code",
                json!({"openid":"o1","scope":"snsapi_userinfo"}),
            )
            .await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let exchange = format!(
            "/sns/oauth2/access_token?appid={APPID}&secret={SECRET}&code={code}&grant_type=authorization_code"
        );
        let t = m.get(&exchange).await;
        assert_eq!(
            (
                t["openid"].as_str(),
                t["scope"].as_str(),
                t["unionid"].as_str()
            ),
            (Some("o1"), Some("snsapi_userinfo"), Some("u1"))
        );
        assert_eq!(errcode(&m.get(&exchange).await), 40163);
        let at = t["access_token"].as_str().unwrap();
        let info = m
            .get(&format!(
                "/sns/userinfo?access_token={at}&openid=o1&lang=zh_CN"
            ))
            .await;
        assert_eq!(info["nickname"], "小明");
        assert_eq!(
            errcode(
                &m.get(&format!("/sns/auth?access_token={at}&openid=o1"))
                    .await
            ),
            0
        );
        assert_eq!(
            errcode(
                &m.get(&format!("/sns/auth?access_token={at}&openid=o2"))
                    .await
            ),
            40003
        );
        let rt = t["refresh_token"].as_str().unwrap();
        let r = m.get(&format!("/sns/oauth2/refresh_token?appid={APPID}&grant_type=refresh_token&refresh_token={rt}")).await;
        assert_ne!(r["access_token"], t["access_token"]);
        // A base-scope code cannot read userinfo; an old code is invalid.
        let base = m.platform.issue_oauth_code("o1", "snsapi_base");
        let t = m.get(&format!("/sns/oauth2/access_token?appid={APPID}&secret={SECRET}&code={base}&grant_type=authorization_code")).await;
        let at = t["access_token"].as_str().unwrap();
        assert_eq!(
            errcode(
                &m.get(&format!("/sns/userinfo?access_token={at}&openid=o1"))
                    .await
            ),
            48001
        );
        let late = m.platform.issue_oauth_code("o1", "snsapi_base");
        m.clock.advance(Duration::from_secs(300));
        let v = m.get(&format!("/sns/oauth2/access_token?appid={APPID}&secret={SECRET}&code={late}&grant_type=authorization_code")).await;
        assert_eq!(errcode(&v), 40029);
        // The authorize page redirects with a code.
        let a = m
            .send(
                Request::get(format!(
                    "/connect/oauth2/authorize?appid={APPID}&redirect_uri=https%3A%2F%2Fe.com%2Fcb%3Fx%3D1&response_type=code&scope=snsapi_base&state=s1&openid=o1"
                ))
                .body(Body::empty())
                .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::FOUND);
        let location = a.headers[header::LOCATION].to_str().unwrap();
        assert!(
            location.starts_with("https://e.com/cb?x=1&code="),
            "{location}"
        );
        assert!(location.ends_with("&state=s1"), "{location}");
    }

    #[tokio::test]
    async fn quota_rid_stats_reset_and_unknown_paths() {
        let m = mock();
        let token = m.token().await;
        let q = format!("access_token={token}");
        m.get(&format!("/cgi-bin/getcallbackip?{q}")).await;
        let quota = m
            .post(
                &format!("/cgi-bin/openapi/quota/get?{q}"),
                json!({"cgi_path":"/cgi-bin/token"}),
            )
            .await;
        assert_eq!(
            quota["quota"],
            json!({"daily_limit":2000,"used":1,"remain":1999})
        );
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/openapi/quota/get?{q}"),
                    json!({"cgi_path":"/cgi-bin/nope"})
                )
                .await
            ),
            76021
        );

        // Every error answer can be explained by its rid.
        let failed = m.get(&format!("/cgi-bin/user/info?{q}&openid=ghost")).await;
        let rid = errmsg(&failed).rsplit_once(" rid: ").unwrap().1.to_owned();
        let explained = m
            .post(
                &format!("/cgi-bin/openapi/rid/get?{q}"),
                json!({"rid": rid}),
            )
            .await;
        assert!(
            explained["request"]["request_url"]
                .as_str()
                .unwrap()
                .starts_with("/cgi-bin/user/info?")
        );
        assert!(
            explained["request"]["response_body"]
                .as_str()
                .unwrap()
                .contains("40003")
        );
        assert_eq!(
            errcode(
                &m.post(
                    &format!("/cgi-bin/openapi/rid/get?{q}"),
                    json!({"rid":"00000000-00000000-00000000"})
                )
                .await
            ),
            76001
        );

        let stats = m.get("/mock/stats").await;
        assert_eq!(stats["token_fetches"]["classic"], 1);
        assert_eq!(stats["calls"]["/cgi-bin/getcallbackip"], 1);
        assert_eq!(stats["calls"]["/cgi-bin/openapi/quota/get"], 2);

        let missing = m
            .send(
                Request::get("/cgi-bin/does/not/exist")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(String::from_utf8_lossy(&missing.bytes).contains("/mock/routes"));
        let routes = m.get("/mock/routes").await;
        assert!(routes["api"].as_array().unwrap().len() >= 40);

        // No driver configured: /mock/push explains.
        let push = m
            .send(
                Request::post("/mock/push")
                    .body(Body::from(r#"{"text":"hi"}"#))
                    .unwrap(),
            )
            .await;
        assert_eq!(push.status, StatusCode::NOT_IMPLEMENTED);

        assert_eq!(m.post("/mock/reset", json!({})).await["ok"], true);
        assert_eq!(
            m.probe(&token).await,
            40001,
            "tokens are forgotten by a reset"
        );
        assert_eq!(m.platform.token_fetches().classic, 0);
        // Counters restart: only the probe after the reset is counted.
        assert_eq!(m.platform.calls("/cgi-bin/getcallbackip"), 1);
    }
}

mod push {
    use super::*;
    use axum::extract::{Query, State};
    use axum::routing::post;
    use std::collections::HashMap;
    use wxoa_mock::driver::{Driver, DriverConfig, RouterTransport};

    /// A bot that answers every push with a 客服 message sent through the mock API, then `success`.
    fn bot(api: Router) -> Router {
        async fn handle(
            State(api): State<Router>,
            Query(q): Query<HashMap<String, String>>,
        ) -> &'static str {
            let call = |req: Request<Body>| {
                let api = api.clone();
                async move {
                    let resp = api.oneshot(req).await.unwrap();
                    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                    serde_json::from_slice::<Value>(&bytes).unwrap()
                }
            };
            let token = call(
                Request::get(format!(
                    "/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
                ))
                .body(Body::empty())
                .unwrap(),
            )
            .await["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let body = json!({"touser": q["openid"], "msgtype":"text","text":{"content":"稍等，马上为您处理"}});
            let sent = call(
                Request::post(format!("/cgi-bin/message/custom/send?access_token={token}"))
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
            assert_eq!(errcode(&sent), 0, "{sent}");
            "success"
        }
        Router::new().route("/wechat", post(handle)).with_state(api)
    }

    #[tokio::test]
    async fn a_driven_message_opens_the_window_before_the_server_answers() {
        let m = mock();
        let config = DriverConfig::new(
            url::Url::parse("http://bot.test/wechat").unwrap(),
            "tok",
            APPID,
            "gh_0123456789ab",
        );
        let driver =
            Driver::with_transport(config, Arc::new(RouterTransport::new(bot(m.app.clone()))))
                .unwrap()
                .with_clock(|| T0);
        m.platform.set_driver(driver);
        let delivery = m
            .post("/mock/push", json!({"text":"你好","from":"oPush1"}))
            .await;
        assert_eq!(delivery["outcome"]["sees"], "nothing", "{delivery}");
        assert_eq!(
            m.platform.follower("oPush1").unwrap().last_message_at,
            Some(T0)
        );
        let out = m.platform.outbox();
        assert_eq!((out.len(), out[0].touser.as_str()), (1, "oPush1"));

        // An event that opens no window (VIEW) leaves the follower's message time alone, and a
        // malformed push is a 400.
        m.clock.advance(HOUR);
        let view = m
            .post(
                "/mock/push",
                json!({"event":"VIEW","url":"https://e.com/","from":"oPush1"}),
            )
            .await;
        assert_eq!(view["outcome"]["sees"], "nothing", "{view}");
        let bad = m
            .send(
                Request::post("/mock/push")
                    .body(Body::from(r#"{"nothing":1}"#))
                    .unwrap(),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            m.platform.follower("oPush1").unwrap().last_message_at,
            Some(T0)
        );
    }
}
