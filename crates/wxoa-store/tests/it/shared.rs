//! Contract checks of the shared-state backends (dedup, sessions, parking), run on every backend.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::sync::Barrier;
use wxoa_store::{
    DedupClaim, MessageLogEntry, Parked, ParkingBackend, SessionBackend, SharedDedup, Store,
};

use crate::common::unique;

const LEASE: Duration = Duration::from_secs(30);
const WINDOW: Duration = Duration::from_secs(60);

/// Makes the lease or the window of one dedup key run out now (moves an injected clock, or
/// expires the Redis key).
pub(crate) type Expire = Arc<dyn Fn(String) -> ExpireFuture + Send + Sync>;

/// What an [`Expire`] returns.
pub(crate) type ExpireFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A dedup key shaped like the server's (ToUserName + FromUserName + MsgId), unique per call.
fn push_key() -> String {
    format!("gh_{}:o{}:{}", unique(), unique(), rand::random::<u64>())
}

/// Unix seconds now.
pub(crate) fn now_unix() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// First, then InFlight for others, First again for the holder (renewal), Done after
/// complete; complete only by the holder, once.
pub(crate) async fn dedup_first_inflight_done(d: Arc<dyn SharedDedup>) {
    let key = push_key();
    assert_eq!(
        d.claim(&key, "a", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    assert_eq!(
        d.claim(&key, "b", LEASE, WINDOW).await.unwrap(),
        DedupClaim::InFlight
    );
    assert_eq!(
        d.claim(&key, "a", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First,
        "the holder renews its lease"
    );
    assert!(
        !d.complete(&key, "b", "wrong").await.unwrap(),
        "only the holder completes"
    );
    assert_eq!(
        d.claim(&key, "c", LEASE, WINDOW).await.unwrap(),
        DedupClaim::InFlight
    );

    let answer = r#"{"text":"你好 <xml>&amp;"}"#;
    assert!(d.complete(&key, "a", answer).await.unwrap());
    assert!(
        !d.complete(&key, "a", "again").await.unwrap(),
        "answered once"
    );
    for holder in ["b", "c", "a"] {
        assert_eq!(
            d.claim(&key, holder, LEASE, WINDOW).await.unwrap(),
            DedupClaim::Done(answer.to_owned())
        );
    }
    // A very long key is fine (stored hashed) and distinct from the others.
    let long = format!("{key}:{}", "x".repeat(4000));
    assert_eq!(
        d.claim(&long, "a", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    assert_eq!(
        d.wait(&key, Duration::ZERO).await.unwrap().as_deref(),
        Some(answer)
    );
}

/// `tasks` tasks spread over `dedups` (separate pools or connections) claim one key at once:
/// exactly one is First; after it completes everyone gets the answer.
pub(crate) async fn dedup_claim_is_exclusive(dedups: Vec<Arc<dyn SharedDedup>>, tasks: usize) {
    let key = push_key();
    let barrier = Arc::new(Barrier::new(tasks));
    let mut handles = Vec::new();
    for i in 0..tasks {
        let d = dedups[i % dedups.len()].clone();
        let barrier = barrier.clone();
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let holder = format!("holder-{i}");
            let claim = d.claim(&key, &holder, LEASE, WINDOW).await.unwrap();
            (holder, claim)
        }));
    }
    let mut winners = Vec::new();
    for handle in handles {
        let (holder, claim) = handle.await.unwrap();
        match claim {
            DedupClaim::First => winners.push(holder),
            DedupClaim::InFlight => {}
            DedupClaim::Done(answer) => panic!("nobody completed, yet Done({answer})"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {tasks} is First: {winners:?}"
    );
    assert!(dedups[0].complete(&key, &winners[0], "A").await.unwrap());
    for d in &dedups {
        assert_eq!(
            d.claim(&key, "late", LEASE, WINDOW).await.unwrap(),
            DedupClaim::Done("A".to_owned())
        );
    }
}

/// A waiter gets the answer another task stores; a waiter times out on a claim nobody
/// completes; waiting on an unknown key returns at once.
pub(crate) async fn dedup_wait_for_answer(d: Arc<dyn SharedDedup>, other: Arc<dyn SharedDedup>) {
    let key = push_key();
    assert_eq!(
        d.claim(&key, "first", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    assert_eq!(
        other.claim(&key, "retry", LEASE, WINDOW).await.unwrap(),
        DedupClaim::InFlight
    );
    let started = tokio::time::Instant::now();
    let waiter = {
        let other = other.clone();
        let key = key.clone();
        tokio::spawn(async move { other.wait(&key, Duration::from_secs(1)).await.unwrap() })
    };
    let completer = {
        let d = d.clone();
        let key = key.clone();
        tokio::spawn(async move {
            // Let the waiter find the claim pending first.
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            d.complete(&key, "first", "the answer").await.unwrap()
        })
    };
    assert!(completer.await.unwrap());
    assert_eq!(waiter.await.unwrap().as_deref(), Some("the answer"));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "returned when answered, not at the timeout: {:?}",
        started.elapsed()
    );

    // Nobody answers: the waiter gives up at its timeout.
    let pending = push_key();
    assert_eq!(
        d.claim(&pending, "slow", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    let started = tokio::time::Instant::now();
    assert_eq!(
        other
            .wait(&pending, Duration::from_millis(120))
            .await
            .unwrap(),
        None
    );
    assert!(started.elapsed() >= Duration::from_millis(120));

    // Nothing claimed: nothing to wait for.
    let started = tokio::time::Instant::now();
    assert_eq!(
        other
            .wait(&push_key(), Duration::from_secs(5))
            .await
            .unwrap(),
        None
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// abandon by another holder does nothing; by the holder it frees the key and wakes waiters
/// with None; abandoning an answered key keeps the answer.
pub(crate) async fn dedup_abandon(d: Arc<dyn SharedDedup>) {
    let key = push_key();
    assert_eq!(
        d.claim(&key, "a", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    let waiter = {
        let d = d.clone();
        let key = key.clone();
        tokio::spawn(async move { d.wait(&key, Duration::from_secs(1)).await.unwrap() })
    };
    d.abandon(&key, "b").await.unwrap();
    assert_eq!(
        d.claim(&key, "b", LEASE, WINDOW).await.unwrap(),
        DedupClaim::InFlight,
        "b's abandon must not free a's claim"
    );
    d.abandon(&key, "a").await.unwrap();
    assert_eq!(
        waiter.await.unwrap(),
        None,
        "the waiter learns the claim is gone"
    );
    assert!(!d.complete(&key, "a", "late").await.unwrap());
    assert_eq!(
        d.claim(&key, "b", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First,
        "handled afresh"
    );
    assert!(d.complete(&key, "b", "B").await.unwrap());
    d.abandon(&key, "b").await.unwrap();
    assert_eq!(
        d.claim(&key, "c", LEASE, WINDOW).await.unwrap(),
        DedupClaim::Done("B".to_owned())
    );
    // Abandoning what was never claimed is fine.
    d.abandon(&push_key(), "a").await.unwrap();
}

/// A dead holder's lease runs out: the key is claimed again and the dead holder's late
/// complete is refused; an answer older than the window is handled afresh.
pub(crate) async fn dedup_expiry(d: Arc<dyn SharedDedup>, expire: Expire) {
    let key = push_key();
    assert_eq!(
        d.claim(&key, "dead", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    assert_eq!(
        d.claim(&key, "next", LEASE, WINDOW).await.unwrap(),
        DedupClaim::InFlight
    );
    expire(key.clone()).await;
    assert_eq!(
        d.wait(&key, Duration::from_secs(1)).await.unwrap(),
        None,
        "lease died"
    );
    assert_eq!(
        d.claim(&key, "next", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First,
        "an expired lease is claimed again"
    );
    assert!(
        !d.complete(&key, "dead", "stale").await.unwrap(),
        "the dead holder lost the key"
    );
    d.abandon(&key, "dead").await.unwrap();
    assert_eq!(
        d.claim(&key, "third", LEASE, WINDOW).await.unwrap(),
        DedupClaim::InFlight
    );
    assert!(d.complete(&key, "next", "N").await.unwrap());
    assert_eq!(
        d.claim(&key, "third", LEASE, WINDOW).await.unwrap(),
        DedupClaim::Done("N".to_owned())
    );

    expire(key.clone()).await;
    assert_eq!(
        d.claim(&key, "fourth", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First,
        "after the window the push is new again"
    );
}

fn session(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Sessions round trip per account and follower; an empty map deletes.
pub(crate) async fn session_round_trip(s: Arc<dyn SessionBackend>) {
    let appid = format!("wx{}", unique());
    let openid = format!("o{}", unique());
    assert!(s.load_session(&appid, &openid).await.unwrap().is_empty());

    let first = session(json!({
        "count": 1,
        "name": "张三",
        "nested": {"list": [1, 2.5, null, true], "quote": "\"'<>&"},
    }));
    s.save_session(&appid, &openid, &first).await.unwrap();
    assert_eq!(s.load_session(&appid, &openid).await.unwrap(), first);
    assert!(s.load_session(&appid, "other").await.unwrap().is_empty());
    assert!(s.load_session("wxother", &openid).await.unwrap().is_empty());

    let second = session(json!({"count": 2}));
    s.save_session(&appid, &openid, &second).await.unwrap();
    assert_eq!(s.load_session(&appid, &openid).await.unwrap(), second);

    s.save_session(&appid, &openid, &Map::new()).await.unwrap();
    assert!(s.load_session(&appid, &openid).await.unwrap().is_empty());
    // Deleting what is not there is fine.
    s.save_session(&appid, &openid, &Map::new()).await.unwrap();
}

fn rules(items: &[Parked]) -> Vec<&str> {
    items.iter().map(|p| p.rule.as_str()).collect()
}

/// park / take: per follower, oldest first, too old dropped, taken once.
pub(crate) async fn parking_round_trip(p: Arc<dyn ParkingBackend>) {
    let appid = format!("wx{}", unique());
    let openid = format!("o{}", unique());
    let now = now_unix();
    assert!(p.take_parked(&appid, &openid).await.unwrap().is_empty());

    p.park(&appid, &openid, "second", r#"{"text":"2"}"#, now - 20)
        .await
        .unwrap();
    p.park(
        &appid,
        &openid,
        "expired",
        r#"{"text":"old"}"#,
        now - 49 * 3600,
    )
    .await
    .unwrap();
    p.park(&appid, &openid, "first", r#"{"text":"1"}"#, now - 30)
        .await
        .unwrap();
    p.park(&appid, &openid, "third", r#"{"news":[]}"#, now - 10)
        .await
        .unwrap();
    p.park(&appid, "someone-else", "theirs", "{}", now)
        .await
        .unwrap();

    let taken = p.take_parked(&appid, &openid).await.unwrap();
    assert_eq!(rules(&taken), ["first", "second", "third"]);
    assert_eq!(
        taken[0],
        Parked {
            rule: "first".to_owned(),
            answer: r#"{"text":"1"}"#.to_owned(),
            created_at: now - 30,
        }
    );
    assert!(
        p.take_parked(&appid, &openid).await.unwrap().is_empty(),
        "taken means removed, the expired one too"
    );
    assert_eq!(
        rules(&p.take_parked(&appid, "someone-else").await.unwrap()),
        ["theirs"]
    );
}

/// `takers` concurrent take_parked calls over `backends`: every parked item is delivered
/// exactly once, over several rounds.
pub(crate) async fn parking_take_is_atomic(backends: Vec<Arc<dyn ParkingBackend>>, takers: usize) {
    let appid = format!("wx{}", unique());
    let openid = format!("o{}", unique());
    let now = now_unix();
    for round in 0..5 {
        let mut parked = HashSet::new();
        for i in 0..20 {
            let rule = format!("r{round}-{i}");
            backends[i % backends.len()]
                .park(&appid, &openid, &rule, "{}", now)
                .await
                .unwrap();
            parked.insert(rule);
        }
        let barrier = Arc::new(Barrier::new(takers));
        let mut handles = Vec::new();
        for t in 0..takers {
            let p = backends[t % backends.len()].clone();
            let barrier = barrier.clone();
            let (appid, openid) = (appid.clone(), openid.clone());
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                p.take_parked(&appid, &openid).await.unwrap()
            }));
        }
        let mut delivered = Vec::new();
        for handle in handles {
            delivered.extend(handle.await.unwrap().into_iter().map(|p| p.rule));
        }
        let unique_delivered: HashSet<String> = delivered.iter().cloned().collect();
        assert_eq!(
            delivered.len(),
            unique_delivered.len(),
            "an item delivered twice"
        );
        assert_eq!(unique_delivered, parked, "every item delivered");
    }
}

/// The message log keeps entries (cut to 2 KB) newest first; followers keep their timeline
/// and state, even with events out of order.
pub(crate) async fn log_and_followers(store: &Store) {
    let log = store.message_log();
    let appid = format!("wx{}", unique());
    let base = MessageLogEntry {
        at: 1_767_225_600,
        appid: appid.clone(),
        openid: "oLogged".to_owned(),
        msg_type: "text".to_owned(),
        msg_id: Some(u64::MAX),
        content: Some("产品 Rust".to_owned()),
        rule: Some("product".to_owned()),
        reply_type: Some("text".to_owned()),
        reply: Some("产品名称：Rust".to_owned()),
        latency_ms: 12,
        mode: "safe".to_owned(),
        source: "handler".to_owned(),
        ..MessageLogEntry::default()
    };
    let first = log.log_message(&base).await.unwrap();
    let long = MessageLogEntry {
        at: 1_767_225_601,
        content: Some("长".repeat(3000)),
        reply: Some("r".repeat(10_000)),
        msg_id: None,
        ..base.clone()
    };
    let second = log.log_message(&long).await.unwrap();
    let event = MessageLogEntry {
        at: 1_767_225_602,
        msg_type: "event".to_owned(),
        event: Some("subscribe".to_owned()),
        msg_id: None,
        content: None,
        rule: None,
        reply_type: None,
        reply: None,
        latency_ms: 0,
        mode: "plain".to_owned(),
        source: "none".to_owned(),
        event_key: Some("qrscene_3".to_owned()),
        ..base.clone()
    };
    let third = log.log_message(&event).await.unwrap();
    let logged = store
        .followers()
        .follower(&appid, "oLogged")
        .await
        .unwrap()
        .expect("a logged push records its follower");
    assert!(logged.subscribed);
    assert_eq!(logged.messages, 3);
    assert_eq!(logged.first_seen_at, 1_767_225_600);
    assert_eq!(logged.last_seen_at, Some(1_767_225_602));
    assert_eq!(
        logged.last_message_at, None,
        "no entry said it opens the window"
    );
    assert_eq!(logged.subscribed_at, Some(1_767_225_602));
    assert_eq!(logged.scene.as_deref(), Some("qrscene_3"));
    assert!(first < second && second < third);

    let recent = log.recent_messages(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].id, third);
    assert_eq!(recent[0].entry, event);
    assert_eq!(recent[1].id, second);
    let stored = &recent[1].entry;
    let content = stored.content.as_deref().unwrap();
    assert!(
        content.len() <= 2048 && content.len() > 2000,
        "{}",
        content.len()
    );
    assert!(content.starts_with("长长") && content.ends_with('…'));
    assert!(stored.reply.as_deref().unwrap().len() <= 2048);

    let all = log.recent_messages(10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].entry, base, "u64 MsgId and every field round trip");

    assert_eq!(log.prune_messages(1_767_225_602).await.unwrap(), 2);
    assert_eq!(log.recent_messages(10).await.unwrap().len(), 1);

    let followers = store.followers();
    assert_eq!(followers.follower(&appid, "o1").await.unwrap(), None);
    followers
        .follower_event(&appid, "o1", true, 100, Some("qrscene_7"))
        .await
        .unwrap();
    followers
        .follower_event(&appid, "o1", false, 200, Some("ignored"))
        .await
        .unwrap();
    // A late subscribe event from before the unsubscribe.
    followers
        .follower_event(&appid, "o1", true, 150, None)
        .await
        .unwrap();
    followers
        .follower_event(&appid, "o2", true, 120, None)
        .await
        .unwrap();

    let o1 = followers.follower(&appid, "o1").await.unwrap().unwrap();
    assert!(!o1.subscribed, "the newest event is the unsubscribe");
    assert_eq!(
        o1.messages, 0,
        "events recorded directly are not logged pushes"
    );
    assert_eq!(o1.first_seen_at, 100);
    assert_eq!(o1.subscribed_at, Some(150));
    assert_eq!(o1.unsubscribed_at, Some(200));
    assert_eq!(o1.scene, None, "scene of the latest subscribe");
    assert_eq!(o1.updated_at, 200);
    // o2, and oLogged from the logged pushes above.
    assert_eq!(followers.count_followers(&appid, true).await.unwrap(), 2);
    assert_eq!(followers.count_followers(&appid, false).await.unwrap(), 1);

    followers
        .follower_event(&appid, "o1", true, 300, Some("qrscene_9"))
        .await
        .unwrap();
    let o1 = followers.follower(&appid, "o1").await.unwrap().unwrap();
    assert!(o1.subscribed);
    assert_eq!(o1.subscribed_at, Some(300));
    assert_eq!(o1.scene.as_deref(), Some("qrscene_9"));

    let timeline = followers.follower_events(&appid, "o1").await.unwrap();
    let seen: Vec<(bool, i64, Option<&str>)> = timeline
        .iter()
        .map(|e| (e.subscribed, e.at, e.scene.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (true, 100, Some("qrscene_7")),
            (true, 150, None),
            (false, 200, None),
            (true, 300, Some("qrscene_9")),
        ]
    );
    assert_eq!(followers.count_followers(&appid, true).await.unwrap(), 3);
}

/// The SQL backends on an injected clock: exact lease and window boundaries, waiters noticing
/// a dead lease, and the sweeps of dedup, sessions and parking.
pub(crate) async fn sql_time_boundaries(store: &Store) {
    let clock = Arc::new(wxoa_api::ManualClock::new(1_767_225_600));
    let d = store.dedup().with_clock(clock.clone());

    // The lease: live up to its last millisecond, claimable at its end.
    let key = push_key();
    assert_eq!(
        d.claim(&key, "dead", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    clock.advance(29);
    assert_eq!(
        d.claim(&key, "next", LEASE, WINDOW).await.unwrap(),
        DedupClaim::InFlight
    );
    let waiter = {
        let d = d.clone();
        let key = key.clone();
        tokio::spawn(async move { d.wait(&key, Duration::from_secs(1)).await.unwrap() })
    };
    tokio::task::yield_now().await;
    clock.advance(1);
    assert_eq!(
        waiter.await.unwrap(),
        None,
        "the waiter notices the lease died"
    );
    assert_eq!(
        d.claim(&key, "next", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );

    // The window: the answer is served for `window`, then the push is new again.
    assert!(d.complete(&key, "next", "N").await.unwrap());
    clock.advance(59);
    assert_eq!(
        d.claim(&key, "retry", LEASE, WINDOW).await.unwrap(),
        DedupClaim::Done("N".to_owned())
    );
    assert_eq!(
        d.claim(&key, "retry", LEASE, Duration::from_secs(10))
            .await
            .unwrap(),
        DedupClaim::First,
        "a shorter window sees the answer as stale"
    );

    // Sweep: answers older than the window and dead claims go, live ones stay.
    let old_answer = push_key();
    let dead_claim = push_key();
    let live_claim = push_key();
    let fresh_answer = push_key();
    assert_eq!(
        d.claim(&old_answer, "a", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    assert!(d.complete(&old_answer, "a", "old").await.unwrap());
    assert_eq!(
        d.claim(&dead_claim, "a", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    clock.advance(61);
    assert_eq!(
        d.claim(&live_claim, "a", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    assert_eq!(
        d.claim(&fresh_answer, "a", LEASE, WINDOW).await.unwrap(),
        DedupClaim::First
    );
    assert!(d.complete(&fresh_answer, "a", "fresh").await.unwrap());
    // Also gone: `key`, claimed by "retry" 61 s ago and never answered.
    assert_eq!(d.sweep(WINDOW).await.unwrap(), 3);
    assert_eq!(d.sweep(WINDOW).await.unwrap(), 0);
    assert!(
        !d.complete(&dead_claim, "a", "late").await.unwrap(),
        "swept"
    );
    assert_eq!(
        d.claim(&live_claim, "b", LEASE, WINDOW).await.unwrap(),
        DedupClaim::InFlight
    );
    assert_eq!(
        d.claim(&fresh_answer, "b", LEASE, WINDOW).await.unwrap(),
        DedupClaim::Done("fresh".to_owned())
    );

    // Sessions read as empty after their ttl and are swept.
    let sessions = store
        .sessions()
        .with_clock(clock.clone())
        .with_ttl(Duration::from_secs(3600));
    let appid = format!("wx{}", unique());
    let kept = session(json!({"n": 1}));
    sessions.save_session(&appid, "idle", &kept).await.unwrap();
    clock.advance(1800);
    sessions
        .save_session(&appid, "active", &kept)
        .await
        .unwrap();
    clock.advance(1799);
    assert_eq!(sessions.load_session(&appid, "idle").await.unwrap(), kept);
    clock.advance(1);
    assert!(
        sessions
            .load_session(&appid, "idle")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(sessions.load_session(&appid, "active").await.unwrap(), kept);
    assert_eq!(sessions.sweep_sessions().await.unwrap(), 1);
    assert_eq!(sessions.load_session(&appid, "active").await.unwrap(), kept);

    // Parked results older than the maximum age are dropped and swept.
    let parking = store
        .parking()
        .with_clock(clock.clone())
        .with_max_age(Duration::from_secs(600));
    let now = clock_now(&clock);
    parking
        .park(&appid, "o1", "old", "{}", now - 600)
        .await
        .unwrap();
    parking
        .park(&appid, "o1", "young", "{}", now - 599)
        .await
        .unwrap();
    parking
        .park(&appid, "o2", "old", "{}", now - 700)
        .await
        .unwrap();
    parking
        .park(&appid, "o3", "young", "{}", now)
        .await
        .unwrap();
    assert_eq!(parking.sweep_parked().await.unwrap(), 2);
    assert_eq!(
        rules(&parking.take_parked(&appid, "o1").await.unwrap()),
        ["young"]
    );
    assert!(parking.take_parked(&appid, "o2").await.unwrap().is_empty());
    clock.advance(600);
    assert!(
        parking.take_parked(&appid, "o3").await.unwrap().is_empty(),
        "aged out while parked"
    );
}

fn clock_now(clock: &wxoa_api::ManualClock) -> i64 {
    use wxoa_api::Clock;
    clock.now_unix()
}

/// A batch of logged pushes is written in one transaction, rows in order, and keeps each
/// follower's activity: last seen, the 客服 window, counts, subscribes and unsubscribes.
pub(crate) async fn log_batch_keeps_followers(store: &Store) {
    let log = store.message_log();
    let appid = format!("wx{}", unique());
    let entry = |openid: &str, at: i64, event: Option<&str>, opens_window: bool| MessageLogEntry {
        at,
        appid: appid.clone(),
        openid: openid.to_owned(),
        msg_type: if event.is_some() { "event" } else { "text" }.to_owned(),
        event: event.map(str::to_owned),
        content: event.is_none().then(|| format!("hello at {at}")),
        latency_ms: 1,
        mode: "plain".to_owned(),
        source: "fresh".to_owned(),
        opens_window,
        ..MessageLogEntry::default()
    };
    // More rows than one statement takes, several followers interleaved, one unsubscribe.
    let mut batch = Vec::new();
    for i in 0..150 {
        let openid = format!("o{}", i % 3);
        batch.push(entry(&openid, 1_000 + i, None, true));
    }
    batch.push(entry("o1", 2_000, Some("unsubscribe"), false));
    batch.push(entry("o2", 2_001, Some("VIEW"), false));
    let ids = log.log_batch(&batch).await.unwrap();
    assert_eq!(ids.len(), batch.len());
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
    assert!(log.log_batch(&[]).await.unwrap().is_empty());

    let recent = log.recent_messages(200).await.unwrap();
    let ours: Vec<_> = recent.iter().filter(|m| m.entry.appid == appid).collect();
    assert_eq!(ours.len(), 152);
    assert_eq!(ours[0].entry.event.as_deref(), Some("VIEW"), "newest first");
    assert_eq!(ours[151].entry.content.as_deref(), Some("hello at 1000"));

    let followers = store.followers();
    let o0 = followers.follower(&appid, "o0").await.unwrap().unwrap();
    assert!(o0.subscribed, "a follower who writes is following");
    assert_eq!(o0.messages, 50);
    assert_eq!(o0.first_seen_at, 1_000);
    assert_eq!(o0.last_seen_at, Some(1_147));
    assert_eq!(o0.last_message_at, Some(1_147));
    let o1 = followers.follower(&appid, "o1").await.unwrap().unwrap();
    assert!(!o1.subscribed);
    assert_eq!(o1.unsubscribed_at, Some(2_000));
    assert_eq!(o1.messages, 51);
    assert_eq!(o1.last_seen_at, Some(2_000));
    assert_eq!(
        o1.last_message_at,
        Some(1_148),
        "an unsubscribe opens no window"
    );
    let o2 = followers.follower(&appid, "o2").await.unwrap().unwrap();
    assert_eq!(o2.last_seen_at, Some(2_001));
    assert_eq!(
        o2.last_message_at,
        Some(1_149),
        "a VIEW click opens no window"
    );

    // A later batch adds to the counts and moves the times forward, never back.
    log.log_batch(&[entry("o0", 900, None, true), entry("o0", 3_000, None, true)])
        .await
        .unwrap();
    let o0 = followers.follower(&appid, "o0").await.unwrap().unwrap();
    assert_eq!(o0.messages, 52);
    assert_eq!(o0.first_seen_at, 900);
    assert_eq!(o0.last_seen_at, Some(3_000));
    let timeline = followers.follower_events(&appid, "o1").await.unwrap();
    assert_eq!(timeline.len(), 1);
    assert!(!timeline[0].subscribed);
}
