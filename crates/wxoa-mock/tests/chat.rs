//! `chat` rules end to end against the fake model server (`wxoa_mock::llm`) and the fake
//! platform, under paused tokio time: passive answers, answers carried by a platform retry,
//! partial answers with 继续, 客服 delivery in parts, 48001 fallback, memory, limits, failures.
//! The model is never asked twice for one follower message.

use std::sync::Arc;
use std::time::Duration;

use wxoa_mock::api::{Follower, Injection, MockConfig, MockPlatform};
use wxoa_mock::llm::{LlmConfig, LlmFault, MockLlm};
use wxoa_proto::reply::Reply;
use wxoa_server::actions::{HttpClient, MemorySessionStore, Services};
use wxoa_server::app::{Backends, Handled, Source};
use wxoa_server::clock::{Clock, FixedClock, SystemClock};
use wxoa_server::delivery::{Delivery, MemoryParking};
use wxoa_server::push::{DecodedPush, PushQuery, decode_push};
use wxoa_server::{App, Config};

const APPID: &str = "wx49f0ab532d5d035a";
const SECRET: &str = "mocksecret";
const TOKEN: &str = "chattoken";
const OPENID: &str = "oChatUser";

struct Setup {
    app: Arc<App>,
    llm: MockLlm,
    platform: Option<MockPlatform>,
    now: i64,
}

async fn serve_llm(llm: &MockLlm) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let l = llm.clone();
    tokio::spawn(async move { l.serve(listener).await.unwrap() });
    format!("http://{addr}/v1")
}

/// An app with one chat rule (`profile` is the rest of the `[chat.bot]` table) under
/// `on_slow`; with `kf`, the account has an AppSecret and the fake platform's API.
async fn setup(llm: LlmConfig, on_slow: &str, profile: &str) -> Setup {
    let now = SystemClock.now_unix();
    let llm = MockLlm::new(llm);
    let base = serve_llm(&llm).await;
    let with_platform = on_slow == "kf";
    let (platform, api) = if with_platform {
        let mock = MockPlatform::new(MockConfig::new(APPID, SECRET));
        mock.add_follower(Follower::new(OPENID).last_message_at(now));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let m = mock.clone();
        tokio::spawn(async move { m.serve(listener).await.unwrap() });
        (
            Some(mock),
            format!("secret = \"{SECRET}\"\n[api]\nbase_url = \"http://{addr}\"\n"),
        )
    } else {
        (None, String::new())
    };
    let text = format!(
        "[server]\nreply_deadline_ms = 4500\nplaceholder = \"稍等\"\n\n[account]\nappid = \"{APPID}\"\ntoken = \"{TOKEN}\"\n{api}\n[chat.bot]\nmodel = \"mock-model\"\nbase_url = \"{base}\"\nsystem = \"你是公众号助手。用户：{{{{ from }}}}\"\n{profile}\n\n[[rules]]\nname = \"ai\"\nmsg_type = \"text\"\non_slow = \"{on_slow}\"\non_error = \"模型出错了\"\nreply = {{ chat = \"bot\" }}\n\n[[rules]]\nname = \"ai-media\"\nmsg_type = \"image\"\nreply = {{ chat = \"bot\" }}\n\n[[rules]]\nname = \"ai-voice\"\nmsg_type = \"voice\"\nreply = {{ chat = \"bot\" }}\n"
    );
    let config = Config::from_toml(&text, std::path::Path::new("wxoa.toml")).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(now));
    let client = with_platform.then(|| {
        wxoa_api::Client::builder(APPID, secrecy::SecretString::from(SECRET))
            .base_url(config.api.base_url.clone())
            .build()
            .unwrap()
    });
    let delivery = Delivery::new(
        APPID,
        client,
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
    Setup {
        app: Arc::new(App::with_backends(&config, clock, backends)),
        llm,
        platform,
        now,
    }
}

impl Setup {
    fn push(&self, content: &str, msg_id: u64) -> DecodedPush {
        self.push_of(
            "text",
            &format!("<Content><![CDATA[{content}]]></Content>"),
            msg_id,
        )
    }

    fn push_of(&self, msg_type: &str, fields: &str, msg_id: u64) -> DecodedPush {
        let ts = self.now.to_string();
        let query = format!(
            "signature={}&timestamp={ts}&nonce=1",
            wxoa_proto::signature::sign(&[TOKEN, &ts, "1"])
        );
        let query = PushQuery::parse(&query).unwrap();
        let body = format!(
            "<xml><ToUserName><![CDATA[gh_chat]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{fields}<MsgId>{msg_id}</MsgId></xml>",
            self.now
        );
        decode_push(
            self.app.account(),
            &query,
            body.as_bytes(),
            &self.app.checks(),
        )
        .unwrap()
    }

    /// The platform: up to three attempts 5 s apart; an attempt answered within 5 s is final.
    /// Gives what the follower sees (`None`: nothing, i.e. `success` or the banner) and which
    /// attempt answered (4 when none did).
    async fn platform(&self, push: &DecodedPush) -> (Option<String>, u32) {
        for attempt in 1..=3 {
            let (app, p) = (Arc::clone(&self.app), push.clone());
            let mut handle = tokio::spawn(async move { app.answer(&p).await });
            if let Ok(result) = tokio::time::timeout(Duration::from_secs(5), &mut handle).await {
                let (handled, _): (Arc<Handled>, Source) = result.unwrap();
                return (text(&handled), attempt);
            }
        }
        (None, 4)
    }

    async fn ask(&self, content: &str, msg_id: u64) -> Option<String> {
        self.platform(&self.push(content, msg_id)).await.0
    }
}

fn text(handled: &Handled) -> Option<String> {
    match &handled.reply {
        Some(Reply::Text { content }) => Some(content.clone()),
        None => None,
        Some(other) => panic!("unexpected reply {other:?}"),
    }
}

/// An answer of `chars` characters, made of distinct numbered sentences.
fn long_answer(chars: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.chars().count() < chars {
        i += 1;
        s.push_str(&format!("这是第{i}句话，用来测试很长的回答。"));
    }
    s
}

fn paced(answer: &str, chars_per_sec: usize) -> LlmConfig {
    LlmConfig {
        answer: Some(answer.to_owned()),
        chars_per_chunk: chars_per_sec / 10,
        chunk_interval: Duration::from_millis(100),
        ..LlmConfig::default()
    }
}

/// A model answering at once (for the tests that run in real time: several requests over
/// real sockets do not mix with paused time, which jumps ahead while a socket is awaited).
fn fast() -> LlmConfig {
    LlmConfig {
        chars_per_chunk: 50,
        chunk_interval: Duration::from_millis(1),
        ..LlmConfig::default()
    }
}

fn strip_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_two_second_answer_is_the_passive_reply() {
    let answer = "你好！我是**助手**。有什么可以帮你？"; // 20 characters at 10 a second
    let s = setup(paced(answer, 10), "retry", "").await;
    let started = tokio::time::Instant::now();
    let (seen, attempt) = s.platform(&s.push("你好", 1)).await;
    assert_eq!(seen.as_deref(), Some("你好！我是助手。有什么可以帮你？"));
    assert_eq!(attempt, 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    let requests = s.llm.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["stream"], true);
    assert_eq!(requests[0]["model"], "mock-model");
    assert_eq!(requests[0]["messages"][0]["role"], "system");
    assert_eq!(
        requests[0]["messages"][0]["content"],
        format!("你是公众号助手。用户：{OPENID}")
    );
}

#[tokio::test(start_paused = true)]
async fn a_twelve_second_answer_rides_on_the_second_retry() {
    let answer = long_answer(120); // 120 characters at 10 a second
    let s = setup(paced(&answer, 10), "retry", "").await;
    let (seen, attempt) = s.platform(&s.push("讲个长故事", 2)).await;
    assert_eq!(attempt, 3, "attempts 1 and 2 lapse; the third carries it");
    assert_eq!(seen.as_deref(), Some(answer.as_str()));
    assert_eq!(
        s.llm.requests().len(),
        1,
        "one model request for three attempts"
    );
}

#[tokio::test(start_paused = true)]
async fn a_forty_second_answer_shows_its_first_sentences_then_the_rest_on_continue() {
    let answer = long_answer(400); // 400 characters at 10 a second
    let s = setup(paced(&answer, 10), "retry", "").await;
    let (seen, attempt) = s.platform(&s.push("写一篇长文", 3)).await;
    assert_eq!(attempt, 3);
    let seen = seen.expect("the last attempt shows a prefix");
    let (prefix, hint) = seen
        .split_once("\n\n（")
        .expect("the hint follows the prefix");
    assert!(hint.contains("回复「继续」查看剩余内容"), "{seen}");
    assert!(prefix.ends_with('。'), "whole sentences only: {prefix}");
    assert!(answer.starts_with(prefix));
    assert!(prefix.chars().count() > 100, "about 14 s of text: {prefix}");

    // Asked for too early, the rest is announced, not lost.
    let early = s.ask("继续", 40).await.expect("an answer");
    assert!(early.starts_with("答案还在生成中"), "{early}");
    // The stream finishes in the background; 继续 then gives the rest.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let rest = s.ask("继续", 4).await.expect("the rest");
    assert!(!rest.contains("继续"), "the rest fits in one part: {rest}");
    assert_eq!(strip_ws(&format!("{prefix}{rest}")), strip_ws(&answer));
    assert_eq!(s.llm.requests().len(), 1, "继续 does not ask the model");
}

#[tokio::test(start_paused = true)]
async fn a_long_answer_is_split_at_sentences_and_continued() {
    let answer = long_answer(2000); // ~6 000 bytes
    let s = setup(paced(&answer, 1000), "retry", "").await;
    let first = s.ask("长一点", 5).await.unwrap();
    assert!(first.len() <= 2047);
    assert!(first.ends_with("（回复「继续」查看剩余内容）"), "{first}");
    let mut shown = first.replace("\n\n（回复「继续」查看剩余内容）", "");
    assert!(shown.ends_with('。'));
    let mut id = 6;
    loop {
        let part = s.ask("继续", id).await.unwrap();
        id += 1;
        assert!(part.len() <= 2047);
        let more = part.ends_with("（回复「继续」查看剩余内容）");
        shown.push_str(&part.replace("\n\n（回复「继续」查看剩余内容）", ""));
        if !more {
            break;
        }
    }
    assert!(id >= 8, "three or more parts");
    assert_eq!(strip_ws(&shown), strip_ws(&answer));
}

#[tokio::test(start_paused = true)]
async fn kf_delivers_a_three_part_answer_in_order() {
    let answer = long_answer(1700); // ~5 100 bytes: three parts
    let s = setup(paced(&answer, 200), "kf", "").await;
    let (seen, attempt) = s.platform(&s.push("请详细介绍", 10)).await;
    assert_eq!((seen, attempt), (None, 1), "success at the deadline");
    let platform = s.platform.as_ref().unwrap();
    for _ in 0..200 {
        if platform.outbox().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outbox = platform.outbox();
    assert_eq!(outbox.len(), 3, "{outbox:?}");
    for m in &outbox {
        assert_eq!(m.touser, OPENID);
        assert!(m.text.len() <= 2047);
        assert!(m.text.ends_with('。'));
    }
    let joined: String = outbox.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        strip_ws(&joined),
        strip_ws(&answer),
        "in order, nothing lost"
    );
    assert_eq!(s.llm.requests().len(), 1);
}

#[tokio::test]
async fn kf_refused_with_48001_parks_the_parts_for_the_next_messages() {
    let answer = long_answer(1000); // two parts
    let s = setup(fast(), "kf", "").await;
    s.llm.set_answer(Some(answer.clone()));
    let platform = s.platform.as_ref().unwrap();
    platform.inject(Injection::new(48001, 10).on("/cgi-bin/message/custom/send"));
    let (seen, _) = s.platform(&s.push("介绍一下", 20)).await;
    assert_eq!(seen, None, "a long answer goes out of band");
    assert!(platform.outbox().is_empty());
    // The next messages carry the parts in order, then the answers parked behind them.
    s.llm.set_answer(None);
    let next = s.ask("好的", 21).await.unwrap();
    assert!(next.starts_with("这是第1句话"), "{next}");
    assert!(next.len() <= 2047);
    let after = s.ask("嗯", 22).await.unwrap();
    let second_part = after.split_once("\n\n").map_or(after.as_str(), |(a, _)| a);
    assert_eq!(strip_ws(&format!("{next}{second_part}")), strip_ws(&answer));
    let third = s.ask("然后呢", 23).await.unwrap();
    assert!(
        third.contains("「好的」"),
        "the answer parked behind the parts: {third}"
    );
    assert_eq!(s.llm.requests().len(), 4);
}

#[tokio::test]
async fn history_is_sent_and_reset() {
    let s = setup(fast(), "retry", "history = 5").await;
    let first = s.ask("我叫小明", 30).await.unwrap();
    assert!(first.contains("第 1 轮"), "{first}");
    let second = s.ask("我叫什么", 31).await.unwrap();
    assert!(second.contains("第 2 轮"), "{second}");
    let requests = s.llm.requests();
    let messages = requests[1]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "system, the first turn, the question");
    assert_eq!(messages[1]["content"], "我叫小明");
    assert_eq!(messages[2]["role"], "assistant");
    assert_eq!(
        s.ask("新对话", 32).await.as_deref(),
        Some("好的，我们开始新的对话。")
    );
    let third = s.ask("我叫什么", 33).await.unwrap();
    assert!(third.contains("第 1 轮"), "{third}");
    assert_eq!(
        s.llm.requests().len(),
        3,
        "the reset keyword does not ask the model"
    );
}

#[tokio::test]
async fn rate_limit_and_budget_refuse_politely() {
    let s = setup(
        fast(),
        "retry",
        "per_user_per_minute = 2\nrate_limit_text = \"慢一点\"",
    )
    .await;
    assert!(s.ask("一", 40).await.unwrap().contains("模拟回答"));
    assert!(s.ask("二", 41).await.unwrap().contains("模拟回答"));
    assert_eq!(s.ask("三", 42).await.as_deref(), Some("慢一点"));
    assert_eq!(s.llm.requests().len(), 2);

    let s = setup(
        fast(),
        "retry",
        "daily_token_budget = 10\nbudget_text = \"额度用完\"",
    )
    .await;
    assert!(s.ask("一", 43).await.unwrap().contains("模拟回答"));
    assert_eq!(s.ask("二", 44).await.as_deref(), Some("额度用完"));
    assert_eq!(s.llm.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn model_failures_answer_on_error_once() {
    for fault in [
        LlmFault::Status {
            status: 429,
            retry_after: Some(20),
        },
        LlmFault::Status {
            status: 500,
            retry_after: None,
        },
        LlmFault::Status {
            status: 401,
            retry_after: None,
        },
        LlmFault::CutAfter(8),
    ] {
        let s = setup(paced(&long_answer(40), 10), "retry", "").await;
        s.llm.fail_always(Some(fault.clone()));
        let push = s.push("你好", 50);
        let (seen, _) = s.platform(&push).await;
        assert_eq!(seen.as_deref(), Some("模型出错了"), "{fault:?}");
        // A late retry of the same push gets the cached answer, not a new request.
        let (again, source) = s.app.answer(&push).await;
        assert_eq!(source, Source::Cached);
        assert_eq!(text(&again).as_deref(), Some("模型出错了"));
        assert_eq!(s.llm.requests().len(), 1, "{fault:?}: asked once");
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_failure_is_parked_not_repeated() {
    let s = setup(
        LlmConfig {
            first_token_delay: Duration::from_secs(20),
            ..LlmConfig::default()
        },
        "retry",
        "",
    )
    .await;
    s.llm.fail_always(Some(LlmFault::CutAfter(0)));
    let (seen, attempt) = s.platform(&s.push("你好", 60)).await;
    assert_eq!(
        (seen.as_deref(), attempt),
        (Some("稍等"), 3),
        "placeholder on the last attempt"
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    // The reset keyword needs no model; the parked error text rides along.
    let next = s.ask("新对话", 61).await.unwrap();
    assert_eq!(next, "模型出错了\n\n好的，我们开始新的对话。");
    assert_eq!(s.llm.requests().len(), 1, "one per follower message");
}

#[tokio::test]
async fn pictures_go_to_vision_models_and_voice_uses_recognition() {
    let s = setup(fast(), "retry", "vision = true").await;
    let picture = s.push_of(
        "image",
        "<PicUrl><![CDATA[https://mmbiz.test/pic.jpg]]></PicUrl><MediaId><![CDATA[M1]]></MediaId>",
        70,
    );
    assert!(
        s.platform(&picture)
            .await
            .0
            .unwrap()
            .contains("请描述这张图片")
    );
    let voice = s.push_of(
        "voice",
        "<MediaId><![CDATA[V1]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[明天天气怎么样]]></Recognition>",
        71,
    );
    assert!(
        s.platform(&voice)
            .await
            .0
            .unwrap()
            .contains("「明天天气怎么样」")
    );
    let requests = s.llm.requests();
    let content = &requests[0]["messages"][1]["content"];
    assert_eq!(content[0]["type"], "text");
    assert_eq!(content[1]["image_url"]["url"], "https://mmbiz.test/pic.jpg");
    assert_eq!(requests[1]["messages"][3]["content"], "明天天气怎么样");

    // Without vision a picture is not a question: nothing is asked, nothing answered.
    let s = setup(fast(), "retry", "").await;
    let picture = s.push_of(
        "image",
        "<PicUrl><![CDATA[https://mmbiz.test/p.jpg]]></PicUrl>",
        72,
    );
    assert_eq!(s.platform(&picture).await.0, None);
    assert!(s.llm.requests().is_empty());
}

#[tokio::test]
async fn the_filter_stops_questions_and_answers_before_anything_is_sent() {
    let s = setup(
        fast(),
        "retry",
        "filter_keywords = [\"机密\", \"Forbidden\"]\nfilter_text = \"不能回答\"",
    )
    .await;
    assert_eq!(
        s.ask("公司机密是什么", 80).await.as_deref(),
        Some("不能回答")
    );
    assert!(
        s.llm.requests().is_empty(),
        "a refused question is not sent"
    );
    s.llm
        .set_answer(Some("This is FORBIDDEN knowledge.".into()));
    assert_eq!(s.ask("tell me", 81).await.as_deref(), Some("不能回答"));

    // A moderation webhook sees question and answer; it refuses with its own text.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let hook = axum::Router::new().route(
        "/moderate",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let record = Arc::clone(&record);
            async move {
                let allow = !body["answer"].as_str().unwrap_or("").contains("坏");
                record.lock().unwrap().push(body);
                axum::Json(serde_json::json!({ "allow": allow, "text": "审核未通过" }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });
    let s = setup(
        fast(),
        "retry",
        &format!("filter_webhook = \"http://{addr}/moderate\""),
    )
    .await;
    s.llm.set_answer(Some("好的回答。".into()));
    assert_eq!(s.ask("问题一", 82).await.as_deref(), Some("好的回答。"));
    s.llm.set_answer(Some("坏的回答。".into()));
    assert_eq!(s.ask("问题二", 83).await.as_deref(), Some("审核未通过"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1]["question"], "问题二");
    assert_eq!(seen[1]["openid"], OPENID);
}

#[tokio::test(start_paused = true)]
async fn a_parked_answer_survives_a_lapsed_attempt() {
    let s = setup(
        LlmConfig {
            first_token_delay: Duration::from_secs(20),
            ..LlmConfig::default()
        },
        "retry",
        "",
    )
    .await;
    s.llm.fail_always(Some(LlmFault::CutAfter(0)));
    let (seen, _) = s.platform(&s.push("第一问", 90)).await;
    assert_eq!(seen.as_deref(), Some("稍等"));
    tokio::time::sleep(Duration::from_secs(20)).await;
    // The second question is slow too: its first attempt takes the parked error text and
    // lapses; the text must not be lost with it.
    s.llm.fail_always(None);
    s.llm.set_answer(Some("第二个答案。".into()));
    let (seen, attempt) = s.platform(&s.push("第二问", 91)).await;
    assert_eq!(attempt, 3);
    assert!(seen.is_some());
    tokio::time::sleep(Duration::from_secs(30)).await;
    let next = s.ask("新对话", 92).await.unwrap();
    assert!(next.starts_with("模型出错了"), "{next}");
    // One parked result rides on each message; the second answer comes with the next.
    let after = s.ask("新对话", 93).await.unwrap();
    assert!(after.starts_with("第二个答案。"), "{after}");
    assert_eq!(s.llm.requests().len(), 2);
}
