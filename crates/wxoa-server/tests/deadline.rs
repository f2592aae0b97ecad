//! The 5-second rule with a slow webhook (7 s), under paused tokio time: every `on_slow`
//! policy gets the result to the follower once, and no delivery ever waits past the platform's
//! timeout without an answer.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use support::*;
use wxoa_server::App;
use wxoa_server::app::Source;
use wxoa_server::clock::FixedClock;
use wxoa_server::push::{DecodedPush, PushQuery, decode_push};

/// A backend that answers after `delay` (virtual time) and counts its calls.
async fn slow_backend(delay: Duration) -> (String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let app = Router::new().route(
        "/hook",
        post(move || {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                axum::Json(serde_json::json!({ "text": "慢慢来的答案" }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), calls)
}

fn app_with(hook: &str, on_slow: &str) -> Arc<App> {
    let text = format!(
        "[server]\nreply_deadline_ms = 4500\nplaceholder = \"稍等\"\n\n[account]\nappid = \"{APPID}\"\ntoken = \"{TOKEN}\"\n\n[[rules]]\nname = \"slow\"\nkeyword = \"问\"\non_slow = \"{on_slow}\"\nreply = {{ webhook = \"{hook}\", timeout_ms = 20000 }}\n\n[[rules]]\nname = \"echo\"\nmsg_type = \"text\"\nreply = {{ text = \"echo {{{{ content }}}}\" }}\n"
    );
    let config = wxoa_server::Config::from_toml(&text, std::path::Path::new("wxoa.toml")).unwrap();
    Arc::new(App::new(&config, Arc::new(FixedClock::new(NOW))))
}

fn push(app: &App, content: &str, msg_id: u64) -> DecodedPush {
    let query = plain_query(NOW, "1");
    let query = PushQuery::parse(&query).unwrap();
    decode_push(
        app.account(),
        &query,
        text_xml(content, msg_id).as_bytes(),
        &app.checks(),
    )
    .unwrap()
}

fn content(handled: &wxoa_server::app::Handled) -> Option<String> {
    match &handled.reply {
        Some(wxoa_proto::reply::Reply::Text { content }) => Some(content.clone()),
        None => None,
        Some(other) => panic!("unexpected reply {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn retry_policy_delivers_on_a_platform_retry_and_calls_the_backend_once() {
    let (hook, calls) = slow_backend(Duration::from_secs(7)).await;
    let app = app_with(&hook, "retry");
    let p = push(&app, "问", 1);
    let started = tokio::time::Instant::now();
    // The platform: attempt 1 now, attempt 2 after its 5 s timeout, attempt 3 after 10 s.
    let first = {
        let (app, p) = (Arc::clone(&app), p.clone());
        tokio::spawn(async move { app.answer(&p).await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let second = {
        let (app, p) = (Arc::clone(&app), p.clone());
        tokio::spawn(async move { app.answer(&p).await })
    };
    let (h1, s1) = first.await.unwrap();
    assert_eq!(s1, Source::Lapsed, "attempt 1 lapses");
    assert_eq!(content(&h1), None);
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "attempt 1 must not answer inside 5 s"
    );
    let (h2, s2) = second.await.unwrap();
    assert_eq!(s2, Source::Coalesced);
    assert_eq!(content(&h2).as_deref(), Some("慢慢来的答案"));
    // A later retry gets the same answer from the cache; the backend ran once.
    let (h3, s3) = app.answer(&p).await;
    assert_eq!(s3, Source::Cached);
    assert_eq!(content(&h3).as_deref(), Some("慢慢来的答案"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_policy_on_the_last_attempt_answers_the_placeholder_and_parks() {
    let (hook, calls) = slow_backend(Duration::from_secs(16)).await;
    let app = app_with(&hook, "retry");
    let p = push(&app, "问", 2);
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (app2, p2) = (Arc::clone(&app), p.clone());
        let attempt = tokio::spawn(async move { app2.answer(&p2).await });
        tokio::time::sleep(Duration::from_secs(5)).await;
        answers.push(attempt);
    }
    let mut results = Vec::new();
    for a in answers {
        results.push(a.await.unwrap());
    }
    assert_eq!(content(&results[0].0), None);
    assert_eq!(content(&results[1].0), None);
    assert_eq!(
        content(&results[2].0).as_deref(),
        Some("稍等"),
        "last attempt: placeholder"
    );
    // Let the backend finish; the result is parked and rides on the next message.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (next, _) = app.answer(&push(&app, "你好", 3)).await;
    assert_eq!(content(&next).as_deref(), Some("慢慢来的答案\n\necho 你好"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn placeholder_policy_answers_at_the_deadline_and_parks() {
    let (hook, calls) = slow_backend(Duration::from_secs(7)).await;
    let app = app_with(&hook, "placeholder");
    let started = tokio::time::Instant::now();
    let (h, s) = app.answer(&push(&app, "问", 4)).await;
    assert_eq!(s, Source::Parked);
    assert_eq!(content(&h).as_deref(), Some("稍等"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered within the platform's window"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (next, _) = app.answer(&push(&app, "再问", 5)).await;
    assert_eq!(content(&next).as_deref(), Some("慢慢来的答案\n\necho 再问"));
    // Taken once.
    let (after, _) = app.answer(&push(&app, "三问", 6)).await;
    assert_eq!(content(&after).as_deref(), Some("echo 三问"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn kf_policy_answers_success_and_delivers_later() {
    let (hook, calls) = slow_backend(Duration::from_secs(7)).await;
    let app = app_with(&hook, "kf");
    let (h, s) = app.answer(&push(&app, "问", 7)).await;
    assert_eq!(s, Source::Kf);
    assert_eq!(content(&h), None, "kf answers success at the deadline");
    tokio::time::sleep(Duration::from_secs(5)).await;
    // No AppSecret in this config: 客服消息 is impossible, so the result was parked.
    let (next, _) = app.answer(&push(&app, "在吗", 8)).await;
    assert_eq!(content(&next).as_deref(), Some("慢慢来的答案\n\necho 在吗"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn fast_actions_answer_directly() {
    let (hook, calls) = slow_backend(Duration::from_millis(300)).await;
    let app = app_with(&hook, "retry");
    let (h, s) = app.answer(&push(&app, "问", 9)).await;
    assert_eq!(s, Source::Fresh);
    assert_eq!(content(&h).as_deref(), Some("慢慢来的答案"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
