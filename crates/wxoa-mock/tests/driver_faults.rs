//! The driver against misbehaving servers: in-process axum handlers on paused tokio time (a 6 s
//! sleep costs nothing and the 5 s timeout fires deterministically), one case over real HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use url::Url;
use wxoa_mock::driver::{
    BANNER, Driver, DriverConfig, Event, Failure, FollowerSees, Mode, Push, ReplyView,
    RouterTransport,
};
use wxoa_proto::crypto::MsgCrypt;
use wxoa_proto::envelope::encrypted_reply;
use wxoa_proto::reply::Reply;

const TOKEN: &str = "wxoatesttoken";
const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const APPID: &str = "wx49f0ab532d5d035a";
const ACCOUNT: &str = "gh_wxoatest";
const FOLLOWER: &str = "oFollower";

/// One request as the fake server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    query: String,
    body: String,
}

/// How the fake server answers the n-th request (0-based).
type Behaviour = Arc<dyn Fn(usize) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Answer {
    delay: Duration,
    status: StatusCode,
    body: String,
}

fn answer(body: impl Into<String>) -> Answer {
    Answer {
        delay: Duration::ZERO,
        status: StatusCode::OK,
        body: body.into(),
    }
}

#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    behaviour: Behaviour,
}

async fn handler(
    State(fake): State<Fake>,
    RawQuery(query): RawQuery,
    body: String,
) -> impl IntoResponse {
    let n = {
        let mut seen = fake.seen.lock().unwrap();
        seen.push(Seen {
            query: query.unwrap_or_default(),
            body,
        });
        seen.len() - 1
    };
    let a = (fake.behaviour)(n);
    if !a.delay.is_zero() {
        tokio::time::sleep(a.delay).await;
    }
    (a.status, a.body)
}

/// A driver whose server is `behaviour`, plus the log of what that server received.
fn driver(
    behaviour: impl Fn(usize) -> Answer + Send + Sync + 'static,
) -> (Driver, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fake = Fake {
        seen: seen.clone(),
        behaviour: Arc::new(behaviour),
    };
    let router = axum::Router::new()
        .route("/wechat", post(handler).get(handler))
        .with_state(fake);
    let mut config = DriverConfig::new(
        Url::parse("http://wxoa.test/wechat").unwrap(),
        TOKEN,
        APPID,
        ACCOUNT,
    );
    config.encoding_aes_key = Some(AES_KEY.to_owned());
    config.openid = FOLLOWER.to_owned();
    let driver = Driver::with_transport(config, Arc::new(RouterTransport::new(router))).unwrap();
    (driver, seen)
}

fn text_reply(content: &str) -> String {
    Reply::text(content).to_xml(FOLLOWER, ACCOUNT, 1_700_000_000)
}

fn sealed(xml: &str) -> String {
    let crypt = MsgCrypt::new(AES_KEY, APPID).unwrap();
    encrypted_reply(TOKEN, &crypt, xml, "1700000000", "12345")
}

/// Three failed attempts, each with `check`, and the banner.
fn assert_banner(delivery: &wxoa_mock::driver::Delivery, check: impl Fn(&Failure) -> bool) {
    assert_eq!(delivery.attempts.len(), 3, "{delivery:#}");
    for a in &delivery.attempts {
        let failure = a.failure.as_ref().expect("every attempt failed");
        assert!(
            check(failure),
            "unexpected failure on attempt {}: {failure:?}",
            a.number
        );
        assert_eq!(a.reason.as_deref(), Some(failure.to_string().as_str()));
    }
    assert!(delivery.is_banner());
    assert_eq!(delivery.to_string(), BANNER);
    let FollowerSees::Banner { reason } = &delivery.outcome else {
        panic!("{:?}", delivery.outcome)
    };
    assert!(reason.starts_with("3 attempts failed: "), "{reason}");
}

#[tokio::test(start_paused = true)]
async fn a_handler_past_5_seconds_is_retried_with_the_same_bytes_then_banner() {
    let (driver, seen) = driver(|_| Answer {
        delay: Duration::from_secs(6),
        ..answer(sealed(&text_reply("too late")))
    });
    let started = tokio::time::Instant::now();
    let delivery = driver.push(&Push::text("slow please")).await.unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(15),
        "3 × the 5 s timeout"
    );
    assert_banner(&delivery, |f| *f == Failure::Timeout { timeout_ms: 5000 });
    for a in &delivery.attempts {
        assert_eq!(a.elapsed_ms, 5000);
        assert_eq!(a.status, None);
    }
    assert!(
        delivery.attempts[0]
            .to_string()
            .contains("no response in 5000 ms")
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "the server saw three deliveries");
    assert!(
        seen.iter().all(|s| *s == seen[0]),
        "same query and body bytes on every attempt"
    );
    assert_eq!(seen[0].body, delivery.push.body);
    let msg_id = delivery.push.msg_id.unwrap();
    let crypt = MsgCrypt::new(AES_KEY, APPID).unwrap();
    let root =
        wxoa_proto::xml::parse_document(seen[0].body.as_bytes(), Default::default()).unwrap();
    let inner = crypt.decrypt(root.child_text("Encrypt").unwrap()).unwrap();
    let inbound = wxoa_proto::message::Inbound::parse(&inner, Default::default()).unwrap();
    assert_eq!(
        inbound.msg_id(),
        Some(msg_id),
        "the MsgId inside is the reported one"
    );
    assert_eq!(inbound.create_time, delivery.push.create_time);
    assert_eq!(inbound.content(), Some("slow please"));

    let json = serde_json::to_value(&delivery).unwrap();
    assert_eq!(json["outcome"]["sees"], "banner");
    assert_eq!(json["attempts"][2]["failure"]["kind"], "timeout");
    assert_eq!(json["push"]["msg_id"], msg_id.to_string());
}

#[tokio::test(start_paused = true)]
async fn a_reply_just_inside_5_seconds_is_accepted_first_time() {
    let (driver, seen) = driver(|_| Answer {
        delay: Duration::from_millis(4900),
        ..answer(sealed(&text_reply("in time")))
    });
    let delivery = driver
        .push(&Push::text("hi").mode(Mode::Safe))
        .await
        .unwrap();
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.attempts[0].elapsed_ms, 4900);
    assert_eq!(delivery.attempts[0].status, Some(200));
    assert_eq!(delivery.to_string(), "in time");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_succeeds_shows_the_reply() {
    let (driver, seen) = driver(|n| Answer {
        delay: if n == 0 {
            Duration::from_secs(6)
        } else {
            Duration::ZERO
        },
        ..answer(text_reply("second time lucky"))
    });
    let prepared = driver
        .prepare(&Push::text("hi").mode(Mode::Compat))
        .unwrap();
    let mut live = Vec::new();
    let delivery = driver
        .deliver_observed(&prepared, |a| live.push((a.number, a.ok())))
        .await;
    assert_eq!(
        live,
        [(1, false), (2, true)],
        "each attempt reported as it ends"
    );
    assert_eq!(delivery.attempts.len(), 2, "{delivery:#}");
    assert!(!delivery.attempts[0].ok() && delivery.attempts[1].ok());
    let reply = delivery.outcome.reply().expect("a reply");
    assert_eq!(
        reply.reply,
        ReplyView::Text {
            content: "second time lucky".to_owned()
        }
    );
    assert!(!reply.encrypted, "compat mode accepts a plaintext reply");
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0], seen[1]);
    let rendered = format!("{delivery:#}");
    assert!(
        rendered.starts_with("attempt 1: no response in 5000 ms"),
        "{rendered}"
    );
    assert!(
        rendered.contains("\nattempt 2: HTTP 200 in 0 ms\n"),
        "{rendered}"
    );
    assert!(rendered.ends_with("second time lucky"), "{rendered}");
}

#[tokio::test(start_paused = true)]
async fn wrong_to_user_name_fails_every_attempt() {
    let (driver, seen) = driver(|_| answer(Reply::text("x").to_xml(ACCOUNT, FOLLOWER, 1)));
    let delivery = driver
        .push(&Push::text("hi").mode(Mode::Plain))
        .await
        .unwrap();
    assert_banner(&delivery, |f| {
        *f == Failure::WrongToUserName {
            expected: FOLLOWER.to_owned(),
            found: ACCOUNT.to_owned(),
        }
    });
    assert_eq!(seen.lock().unwrap().len(), 3);
    let reason = delivery.attempts[0].reason.clone().unwrap();
    assert!(reason.contains("To and From swap"), "{reason}");
}

#[tokio::test(start_paused = true)]
async fn malformed_xml_fails_every_attempt() {
    let (driver, _) = driver(|_| answer("<xml><ToUserName><![CDATA[oFollower]]></ToUserName>"));
    let delivery = driver
        .push(&Push::text("hi").mode(Mode::Plain))
        .await
        .unwrap();
    assert_banner(&delivery, |f| matches!(f, Failure::NotXml { .. }));
}

#[tokio::test(start_paused = true)]
async fn status_500_fails_every_attempt() {
    let (driver, _) = driver(|_| Answer {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        ..answer("<html>oops</html>")
    });
    let delivery = driver.push(&Push::event(Event::click("K"))).await.unwrap();
    assert_banner(&delivery, |f| *f == Failure::Status { status: 500 });
    assert_eq!(delivery.attempts[0].status, Some(500));
    assert_eq!(
        delivery.attempts[0].response.as_deref(),
        Some("<html>oops</html>")
    );
}

#[tokio::test(start_paused = true)]
async fn plaintext_reply_in_safe_mode_fails_every_attempt() {
    let (driver, _) = driver(|_| answer(text_reply("not sealed")));
    let delivery = driver
        .push(&Push::text("hi").mode(Mode::Safe))
        .await
        .unwrap();
    assert_banner(&delivery, |f| *f == Failure::PlaintextInSafeMode);
}

#[tokio::test(start_paused = true)]
async fn text_over_2047_bytes_fails_every_attempt() {
    let long = "好".repeat(700); // 2100 bytes
    let (driver, _) = driver(move |_| answer(sealed(&text_reply(&long))));
    let delivery = driver
        .push(&Push::text("long").mode(Mode::Safe))
        .await
        .unwrap();
    assert_banner(&delivery, |f| {
        *f == Failure::TextTooLong {
            bytes: 2100,
            max: 2047,
        }
    });
}

#[tokio::test(start_paused = true)]
async fn success_and_empty_mean_the_follower_sees_nothing() {
    for body in ["success", ""] {
        for mode in [Mode::Plain, Mode::Compat, Mode::Safe] {
            let (driver, seen) = driver(move |_| answer(body));
            let delivery = driver.push(&Push::text("hi").mode(mode)).await.unwrap();
            assert_eq!(
                delivery.outcome,
                FollowerSees::Nothing,
                "{body:?} in {mode}"
            );
            assert_eq!(delivery.attempts.len(), 1, "no retry after {body:?}");
            assert_eq!(delivery.to_string(), "(no reply)");
            assert_eq!(seen.lock().unwrap().len(), 1);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_reply_to_unsubscribe_is_not_shown() {
    let (driver, _) = driver(|_| answer(sealed(&text_reply("bye"))));
    let delivery = driver.push(&Push::event(Event::Unsubscribe)).await.unwrap();
    assert_eq!(delivery.outcome, FollowerSees::Nothing);
    assert!(
        delivery.notes[0].contains("unsubscribe"),
        "{:?}",
        delivery.notes
    );
}

#[tokio::test(start_paused = true)]
async fn news_in_reply_to_a_message_shows_one_article() {
    let articles = (1..=3)
        .map(|i| wxoa_proto::reply::Article {
            title: format!("第{i}篇"),
            url: format!("https://example.com/{i}"),
            ..Default::default()
        })
        .collect();
    let xml = Reply::News { articles }.to_xml(FOLLOWER, ACCOUNT, 1);
    let (driver, _) = driver(move |_| answer(sealed(&xml)));
    let delivery = driver.push(&Push::text("新闻")).await.unwrap();
    assert_eq!(delivery.to_string(), "[图文] 第1篇\nhttps://example.com/1");
    assert!(
        delivery.notes[0].contains("only the first"),
        "{:?}",
        delivery.notes
    );
    let clicked = driver
        .push(&Push::event(Event::click("NEWS")))
        .await
        .unwrap();
    assert_eq!(
        clicked
            .to_string()
            .lines()
            .filter(|l| l.starts_with("[图文]"))
            .count(),
        3
    );
    assert!(clicked.notes.is_empty());
}

#[tokio::test(start_paused = true)]
async fn url_verification_echoes_or_explains() {
    let echo = |query: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "echostr")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    // A server that echoes correctly: the test reads echostr back out of the recorded query.
    let seen_log: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(Vec::new()));
    let log = seen_log.clone();
    let router = axum::Router::new().route(
        "/wechat",
        axum::routing::get(move |RawQuery(q): RawQuery| {
            let log = log.clone();
            async move {
                let q = q.unwrap_or_default();
                log.lock().unwrap().push(Seen {
                    query: q.clone(),
                    body: String::new(),
                });
                echo(&q)
            }
        }),
    );
    let config = DriverConfig::new(
        Url::parse("http://wxoa.test/wechat").unwrap(),
        TOKEN,
        APPID,
        ACCOUNT,
    );
    let good = Driver::with_transport(config, Arc::new(RouterTransport::new(router))).unwrap();
    let v = good.verify_url().await;
    assert!(v.passed, "{v}");
    assert_eq!(v.response.as_deref(), Some(v.echostr.as_str()));
    let q = seen_log.lock().unwrap()[0].query.clone();
    let pairs: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
    assert!(wxoa_proto::signature::verify(
        &[TOKEN, &pairs["timestamp"], &pairs["nonce"]],
        &pairs["signature"]
    ));
    assert!(
        !pairs.contains_key("encrypt_type"),
        "the GET is always plain"
    );

    let (quoting, _) = driver(|_| answer("\"123\""));
    let v = quoting.verify_url().await;
    assert!(!v.passed);
    assert!(matches!(&v.failure, Some(Failure::EchoMismatch { found, .. }) if found == "\"123\""));
    assert!(v.to_string().contains("echo it verbatim"), "{v}");

    let (slow, _) = driver(|_| Answer {
        delay: Duration::from_secs(10),
        ..answer("")
    });
    let v = slow.verify_url().await;
    assert_eq!(v.failure, Some(Failure::Timeout { timeout_ms: 5000 }));
    assert_eq!(v.elapsed_ms, 5000);
}

#[tokio::test]
async fn real_http_500_and_refused_connections_are_failed_attempts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/wechat",
        post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let config = DriverConfig::new(
        Url::parse(&format!("http://{addr}/wechat")).unwrap(),
        TOKEN,
        APPID,
        ACCOUNT,
    );
    let driver = Driver::new(config).unwrap();
    let delivery = driver.push(&Push::text("hi")).await.unwrap();
    assert_banner(&delivery, |f| *f == Failure::Status { status: 500 });
    server.abort();

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let config = DriverConfig::new(
        Url::parse(&format!("http://{closed_addr}/wechat")).unwrap(),
        TOKEN,
        APPID,
        ACCOUNT,
    );
    let delivery = Driver::new(config)
        .unwrap()
        .push(&Push::text("hi"))
        .await
        .unwrap();
    assert_banner(
        &delivery,
        |f| matches!(f, Failure::Transport { reason } if reason.contains("cannot connect")),
    );
}
