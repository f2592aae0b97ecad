//! The driver against the real wxoa server (`wxoa_server::serve` on 127.0.0.1:0, real HTTP) in
//! all three modes: replies judged correct, encrypted in compat and safe mode.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::oneshot;
use url::Url;
use wxoa_mock::driver::{
    Driver, DriverConfig, Event, Failure, FollowerSees, LocationSpec, Message, Mode, Push,
    ReplyView, RouterTransport, VoiceSpec,
};
use wxoa_server::App;
use wxoa_server::clock::FixedClock;

const TOKEN: &str = "wxoatesttoken";
const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const APPID: &str = "wx49f0ab532d5d035a";
const ACCOUNT: &str = "gh_wxoatest";
const NOW: i64 = 1_700_000_000;

const RULES: &str = r#"
[[rules]]
name = "welcome"
event = "subscribe"
reply = { text = "欢迎关注！" }

[[rules]]
name = "help"
keyword = "使用"
reply = { text = "发送 产品+名称 查询产品" }

[[rules]]
name = "menu-help"
event = "CLICK"
event_key = "MENU_HELP"
reply = { text = "菜单帮助" }

[[rules]]
name = "quiet"
keyword = "安静"
reply = { none = true }

[[rules]]
name = "echo"
msg_type = "text"
reply = { text = "you said: {{ content }}" }
"#;

fn app() -> Arc<App> {
    let text = format!(
        "[server]\npath = \"/wechat\"\ntimestamp_skew_secs = 300\n\n[account]\nappid = \"{APPID}\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{AES_KEY}\"\n{RULES}"
    );
    let config = wxoa_server::Config::from_toml(&text, Path::new("wxoa.toml")).unwrap();
    Arc::new(App::new(&config, Arc::new(FixedClock::new(NOW))))
}

/// The server on a free port; dropping the sender stops it.
async fn serve() -> (Url, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(wxoa_server::serve(listener, app(), async {
        let _ = stopped.await;
    }));
    (Url::parse(&format!("http://{addr}/wechat")).unwrap(), stop)
}

fn config(target: Url) -> DriverConfig {
    let mut config = DriverConfig::new(target, TOKEN, APPID, ACCOUNT);
    config.encoding_aes_key = Some(AES_KEY.to_owned());
    config
}

fn driver(target: Url) -> Driver {
    Driver::new(config(target)).unwrap().with_clock(|| NOW)
}

fn text_of(outcome: &FollowerSees) -> &str {
    match outcome.reply().map(|r| &r.reply) {
        Some(ReplyView::Text { content }) => content,
        other => panic!("expected a text reply, got {other:?} / {outcome:?}"),
    }
}

#[tokio::test]
async fn replies_are_judged_correct_in_all_three_modes() {
    let (target, _stop) = serve().await;
    let driver = driver(target);
    for mode in [Mode::Plain, Mode::Compat, Mode::Safe] {
        let delivery = driver.push(&Push::text("使用").mode(mode)).await.unwrap();
        assert_eq!(delivery.attempts.len(), 1, "{mode}: {delivery:#}");
        assert_eq!(delivery.attempts[0].status, Some(200));
        assert!(delivery.attempts[0].ok());
        assert_eq!(
            text_of(&delivery.outcome),
            "发送 产品+名称 查询产品",
            "{mode}"
        );
        let seen = delivery.outcome.reply().unwrap();
        assert_eq!(
            seen.encrypted,
            mode != Mode::Plain,
            "{mode}: encrypted push, encrypted reply"
        );
        assert_eq!(seen.create_time, NOW);
        assert_eq!(delivery.to_string(), "发送 产品+名称 查询产品");
        assert_eq!(delivery.push.mode, mode);

        let echo = driver
            .push(
                &Push::text("hello ]]> world")
                    .mode(mode)
                    .from("oSomeoneElse"),
            )
            .await
            .unwrap();
        assert_eq!(
            text_of(&echo.outcome),
            "you said: hello ]]> world",
            "{mode}"
        );

        let quiet = driver.push(&Push::text("安静").mode(mode)).await.unwrap();
        assert_eq!(quiet.outcome, FollowerSees::Nothing, "{mode}");
        assert_eq!(quiet.attempts.len(), 1);
    }
}

#[tokio::test]
async fn events_reach_their_rules_in_all_three_modes() {
    let (target, _stop) = serve().await;
    let driver = driver(target);
    for mode in [Mode::Plain, Mode::Compat, Mode::Safe] {
        for (event, want) in [
            (Event::subscribe(), "欢迎关注！"),
            (Event::subscribe_scene("spring"), "欢迎关注！"),
            (Event::click("MENU_HELP"), "菜单帮助"),
        ] {
            let delivery = driver
                .push(
                    &Push::event(event.clone())
                        .mode(mode)
                        .from(format!("o{}", mode.as_str())),
                )
                .await
                .unwrap();
            assert_eq!(
                text_of(&delivery.outcome),
                want,
                "{mode} {event:?}: {delivery:#}"
            );
        }
    }
}

#[tokio::test]
async fn every_message_and_event_type_is_accepted() {
    let (target, _stop) = serve().await;
    let driver = driver(target);
    let pushes: Vec<Push> = vec![
        Push::new(Message::Image(Default::default())),
        Push::new(Message::Voice(VoiceSpec {
            recognition: Some("你好".to_owned()),
            ..Default::default()
        })),
        Push::new(Message::Video(Default::default())),
        Push::new(Message::ShortVideo(Default::default())),
        Push::new(Message::Location(LocationSpec {
            latitude: 23.134521,
            longitude: 113.358803,
            scale: Some(20),
            label: Some("广州".to_owned()),
        })),
        Push::new(Message::Link(Default::default())),
        Push::event(Event::Unsubscribe),
        Push::event(Event::scan("123")),
        Push::event(Event::Location {
            latitude: 23.1,
            longitude: 113.3,
            precision: None,
        }),
        Push::event(Event::view("https://example.com/")),
        serde_json::from_str(r#"{"event":"scancode_waitmsg","key":"S","scan_result":"x"}"#)
            .unwrap(),
        serde_json::from_str(r#"{"event":"pic_photo_or_album","key":"P"}"#).unwrap(),
        serde_json::from_str(
            r#"{"event":"location_select","key":"L","latitude":1.0,"longitude":2.0}"#,
        )
        .unwrap(),
        serde_json::from_str(r#"{"event":"TEMPLATESENDJOBFINISH","status":"failed:user block"}"#)
            .unwrap(),
        serde_json::from_str(r#"{"event":"annual_renew","ExpiredTime":1700000000}"#).unwrap(),
    ];
    for push in pushes {
        for mode in [Mode::Plain, Mode::Safe] {
            let push = push.clone().mode(mode);
            let delivery = driver.push(&push).await.unwrap();
            assert!(!delivery.is_banner(), "{push:?}: {delivery:#}");
            assert_eq!(delivery.attempts.len(), 1, "{push:?}");
            assert_eq!(
                delivery.outcome,
                FollowerSees::Nothing,
                "no rule matches {push:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_replayed_push_gets_the_same_reply() {
    let (target, _stop) = serve().await;
    let driver = driver(target);
    let prepared = driver.prepare(&Push::text("dup").mode(Mode::Safe)).unwrap();
    let first = driver.deliver(&prepared).await;
    let second = driver.deliver(&prepared).await;
    assert_eq!(text_of(&first.outcome), "you said: dup");
    assert_eq!(
        first.outcome.reply().unwrap().reply,
        second.outcome.reply().unwrap().reply
    );
    assert_eq!(first.push, second.push, "the same bytes twice");
}

#[tokio::test]
async fn url_verification_passes() {
    let (target, _stop) = serve().await;
    let v = driver(target).verify_url().await;
    assert!(v.passed, "{v}");
    assert_eq!(v.status, Some(200));
}

#[tokio::test]
async fn a_wrong_token_gets_the_banner() {
    let (target, _stop) = serve().await;
    let mut config = config(target);
    config.token = "notthetoken".to_owned();
    let driver = Driver::new(config).unwrap().with_clock(|| NOW);
    let delivery = driver
        .push(&Push::text("使用").mode(Mode::Plain))
        .await
        .unwrap();
    assert!(delivery.is_banner(), "{delivery:#}");
    assert!(
        delivery
            .attempts
            .iter()
            .all(|a| a.failure == Some(Failure::Status { status: 403 }))
    );
    assert!(!driver.verify_url().await.passed);
}

#[tokio::test(start_paused = true)]
async fn the_server_router_in_process_on_paused_time() {
    let router = wxoa_server::edge::router(app());
    let target = Url::parse("http://wxoa.test/wechat").unwrap();
    let driver = Driver::with_transport(config(target), Arc::new(RouterTransport::new(router)))
        .unwrap()
        .with_clock(|| NOW);
    let delivery = driver
        .push(&Push::text("使用").mode(Mode::Compat))
        .await
        .unwrap();
    assert_eq!(text_of(&delivery.outcome), "发送 产品+名称 查询产品");
    assert!(delivery.outcome.reply().unwrap().encrypted);
    let json = serde_json::to_value(&delivery).unwrap();
    assert_eq!(json["outcome"]["sees"], "reply");
    assert_eq!(
        json["outcome"]["reply"]["content"],
        "发送 产品+名称 查询产品"
    );
    assert_eq!(json["push"]["mode"], "compat");
}
