//! The access_token provider: single-flight, refresh margin, cross-process lock, compare-and-expire, retry-once, escalation, daily counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};
use wxoa_api::{ApiError, CachedToken, MemoryTokenStore, StoreError, TokenStore, beijing_date};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_callers_cause_one_fetch() {
    // A server of its own (not one from wiremock's pool that another test used), and a bound
    // on the whole run, so that a stuck caller fails the test instead of stalling the suite.
    let s = own_server().await;
    tokio::time::timeout(Duration::from_secs(60), ten_thousand_callers(&s))
        .await
        .expect("10 000 callers did not all get the token within 60 s");
}

async fn ten_thousand_callers(s: &wiremock::MockServer) {
    // Latency keeps the fetch in flight while every caller queues behind it.
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"grant_type":"client_credential","appid":APPID,"secret":SECRET,"force_refresh":false})))
        .respond_with(ok_fixture("stable_token.json").set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(s)
        .await;
    let c = client(s);
    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.access_token().await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().value, TOKEN);
    }
    assert_eq!(requests_to(s, "/cgi-bin/stable_token").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_api_calls_share_one_fetch() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("stable_token.json").set_delay(Duration::from_millis(100)))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/getcallbackip"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok_fixture("getcallbackip.json"))
        .expect(200)
        .mount(&s)
        .await;
    let c = client(&s);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.callback_ips().await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().len(), 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_sharing_a_store_fetch_once() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("stable_token.json").set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&s)
        .await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    // Eight clients stand for eight processes: separate caches and gates, one store.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            builder(&s)
                .0
                .token_store(store.clone())
                .lock_poll_interval(Duration::from_millis(10))
                .build()
                .unwrap()
        })
        .collect();
    let tasks: Vec<_> = clients
        .iter()
        .flat_map(|c| (0..25).map(move |_| c.clone()))
        .map(|c| tokio::spawn(async move { c.access_token().await }))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().value, TOKEN);
    }
    let stored = store
        .get(&format!("{APPID}:stable_token"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, CachedToken::new(TOKEN, NOW + 7200));
}

#[tokio::test]
async fn refreshes_ahead_of_expiry_not_before() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(TokenSeq::new("T"))
        .expect(2)
        .mount(&s)
        .await;
    let (b, clock) = builder(&s);
    let c = b.build().unwrap();
    assert_eq!(
        c.access_token().await.unwrap(),
        CachedToken::new("T1", NOW + 7200)
    );
    // 301 s left: still fresh (margin is 300 s).
    clock.advance(7200 - 301);
    assert_eq!(c.access_token().await.unwrap().value, "T1");
    assert_eq!(requests_to(&s, "/cgi-bin/stable_token").await.len(), 1);
    // 300 s left: refreshed before use.
    clock.advance(1);
    let t = c.access_token().await.unwrap();
    assert_eq!(t, CachedToken::new("T2", NOW + 6900 + 7200));
    assert_eq!(c.access_token().await.unwrap().value, "T2");
}

#[tokio::test]
async fn classic_token_uses_get_and_its_own_key() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/token"))
        .and(query_param("grant_type", "client_credential"))
        .and(query_param("appid", APPID))
        .and(query_param("secret", SECRET))
        .respond_with(ok_fixture("token.json"))
        .expect(1)
        .mount(&s)
        .await;
    let store = Arc::new(MemoryTokenStore::new());
    let c = builder(&s)
        .0
        .stable_token(false)
        .token_store(store.clone())
        .build()
        .unwrap();
    assert_eq!(c.access_token_key(), format!("{APPID}:access_token"));
    assert_eq!(c.access_token().await.unwrap().value, "ACCESS_TOKEN");
    assert_eq!(
        store
            .get(&format!("{APPID}:access_token"))
            .await
            .unwrap()
            .unwrap()
            .value,
        "ACCESS_TOKEN"
    );
    assert_eq!(
        store.get(&format!("{APPID}:stable_token")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_token_from_another_process_is_used_without_fetching() {
    let s = server().await;
    mount_token(&s, 0).await;
    let store = Arc::new(MemoryTokenStore::new());
    store
        .put(
            &format!("{APPID}:stable_token"),
            &CachedToken::new("FROM-ELSEWHERE", NOW + 3000),
        )
        .await
        .unwrap();
    let c = builder(&s).0.token_store(store).build().unwrap();
    assert_eq!(c.access_token().await.unwrap().value, "FROM-ELSEWHERE");
}

/// A store in which another process puts a newer token just before this one's compare-and-expire.
#[derive(Debug)]
struct RacingStore {
    inner: MemoryTokenStore,
    newer: CachedToken,
    raced: AtomicBool,
}

#[async_trait::async_trait]
impl TokenStore for RacingStore {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), StoreError> {
        self.inner.put(key, token).await
    }
    async fn expire_if(&self, key: &str, failed: &str) -> Result<bool, StoreError> {
        if !self.raced.swap(true, Ordering::SeqCst) {
            self.inner.put(key, &self.newer).await?;
        }
        self.inner.expire_if(key, failed).await
    }
    async fn try_lock(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.try_lock(key, holder, ttl).await
    }
    async fn unlock(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.inner.unlock(key, holder).await
    }
    async fn count_fetch(&self, key: &str, day: &str) -> Result<u64, StoreError> {
        self.inner.count_fetch(key, day).await
    }
}

#[tokio::test]
async fn a_stale_failure_does_not_expire_a_newer_token() {
    let s = server().await;
    mount_token(&s, 0).await;
    Mock::given(path("/cgi-bin/getcallbackip"))
        .and(query_param("access_token", "OLD"))
        .respond_with(ok_fixture("err_40001.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/getcallbackip"))
        .and(query_param("access_token", "NEW"))
        .respond_with(ok_fixture("getcallbackip.json"))
        .expect(1)
        .mount(&s)
        .await;
    let key = format!("{APPID}:stable_token");
    let newer = CachedToken::new("NEW", NOW + 7000);
    let store = Arc::new(RacingStore {
        inner: MemoryTokenStore::new(),
        newer: newer.clone(),
        raced: AtomicBool::new(false),
    });
    store
        .put(&key, &CachedToken::new("OLD", NOW + 5000))
        .await
        .unwrap();
    let c = builder(&s).0.token_store(store.clone()).build().unwrap();

    assert_eq!(c.callback_ips().await.unwrap().len(), 4);
    // The failure of OLD left NEW alone, and NEW was used without a fetch.
    assert_eq!(store.get(&key).await.unwrap(), Some(newer));
    assert!(!c.expire_access_token("OLD").await.unwrap());
    assert!(c.expire_access_token("NEW").await.unwrap());
}

#[tokio::test]
async fn a_call_that_keeps_failing_with_40001_is_retried_once_never_looped() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/token"))
        .respond_with(TokenSeq::new("C"))
        .expect(2)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/getcallbackip"))
        .respond_with(ok_fixture("err_40001.json"))
        .expect(2)
        .mount(&s)
        .await;
    let c = builder(&s).0.stable_token(false).build().unwrap();
    let e = c.callback_ips().await.unwrap_err();
    assert_eq!(e.code(), Some(40001));
    let calls = requests_to(&s, "/cgi-bin/getcallbackip").await;
    let used: Vec<_> = calls.iter().map(|r| token_of(r).unwrap()).collect();
    assert_eq!(used, ["C1", "C2"], "the retry must use the refetched token");
}

#[tokio::test]
async fn a_send_rejected_for_its_token_is_retried_once_with_a_new_token() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(TokenSeq::new("S"))
        .expect(2)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/message/custom/send"))
        .and(query_param("access_token", "S1"))
        .respond_with(ok_fixture("err_42001.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/message/custom/send"))
        .and(query_param("access_token", "S2"))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    c.send_custom(&wxoa_api::custom::CustomMessage::text("OPENID", "hi"))
        .await
        .unwrap();
}

#[tokio::test]
async fn stable_token_escalates_once_to_force_refresh_when_handed_the_same_token() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": false})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token":"SAME","expires_in":7000})),
        )
        .expect(2)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token":"FORCED","expires_in":7200})),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/getcallbackip"))
        .and(query_param("access_token", "SAME"))
        .respond_with(ok_fixture("err_40001.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/getcallbackip"))
        .and(query_param("access_token", "FORCED"))
        .respond_with(ok_fixture("getcallbackip.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    assert_eq!(c.callback_ips().await.unwrap().len(), 4);
    assert_eq!(c.access_token().await.unwrap().value, "FORCED");
}

#[tokio::test]
async fn force_refresh_fetches_even_with_a_fresh_token() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": false})))
        .respond_with(ok_fixture("stable_token.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token":"FORCED","expires_in":7200})),
        )
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    assert_eq!(c.access_token().await.unwrap().value, TOKEN);
    assert_eq!(c.force_refresh().await.unwrap().value, "FORCED");
    assert_eq!(c.access_token().await.unwrap().value, "FORCED");
    assert_eq!(
        c.token_store()
            .get(c.access_token_key())
            .await
            .unwrap()
            .unwrap()
            .value,
        "FORCED"
    );
}

#[tokio::test(start_paused = true)]
async fn a_waiting_process_takes_the_token_the_lock_holder_stored() {
    let s = server().await;
    mount_token(&s, 0).await;
    let store = Arc::new(MemoryTokenStore::new());
    let key = format!("{APPID}:stable_token");
    assert!(
        store
            .try_lock(&key, "other-process", Duration::from_secs(15))
            .await
            .unwrap()
    );
    let c = builder(&s)
        .0
        .token_store(store.clone())
        .disable_timeouts()
        .build()
        .unwrap();
    let waiter = tokio::spawn(async move { c.access_token().await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !waiter.is_finished(),
        "must wait while the lock is held and no token is stored"
    );
    store
        .put(&key, &CachedToken::new("THEIRS", NOW + 7200))
        .await
        .unwrap();
    store.unlock(&key, "other-process").await.unwrap();
    assert_eq!(waiter.await.unwrap().unwrap().value, "THEIRS");
}

#[tokio::test(start_paused = true)]
async fn a_dead_lock_holder_blocks_others_only_until_the_lock_ttl() {
    let s = server().await;
    mount_token(&s, 1).await;
    let store = Arc::new(MemoryTokenStore::new());
    let key = format!("{APPID}:stable_token");
    // A process took the lock and died mid-fetch: it never stores or unlocks.
    assert!(
        store
            .try_lock(&key, "dead-process", Duration::from_secs(15))
            .await
            .unwrap()
    );
    let c = builder(&s)
        .0
        .token_store(store)
        .lock_ttl(Duration::from_secs(15))
        .disable_timeouts()
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(c.access_token().await.unwrap().value, TOKEN);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(15),
        "took the lock after {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn busy_is_retried_with_back_off_for_reads() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/getcallbackip"))
        .respond_with(ok_fixture("err_busy.json"))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/getcallbackip"))
        .respond_with(ok_fixture("getcallbackip.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = builder(&s).0.disable_timeouts().build().unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(c.callback_ips().await.unwrap().len(), 4);
    // 1 s then 2 s of back-off.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn busy_reads_give_up_after_the_retry_budget() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/getcallbackip"))
        .respond_with(ok_fixture("err_busy.json"))
        .expect(4)
        .mount(&s)
        .await;
    let c = builder(&s).0.disable_timeouts().build().unwrap();
    assert_eq!(c.callback_ips().await.unwrap_err().code(), Some(-1));
}

#[tokio::test(start_paused = true)]
async fn busy_is_never_retried_for_a_message_send() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/message/custom/send"))
        .respond_with(ok_fixture("err_busy.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/message/template/send"))
        .respond_with(ok_fixture("err_busy.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = builder(&s).0.disable_timeouts().build().unwrap();
    let e = c
        .send_custom(&wxoa_api::custom::CustomMessage::text("OPENID", "once"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(-1));
    let t = wxoa_api::template::TemplateMessage::new("OPENID", "TPL").field("k", "v");
    assert_eq!(c.send_template(&t).await.unwrap_err().code(), Some(-1));
}

#[tokio::test(start_paused = true)]
async fn busy_token_fetch_is_retried() {
    let s = server().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("err_busy.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&s)
        .await;
    mount_token(&s, 1).await;
    let c = builder(&s).0.disable_timeouts().build().unwrap();
    assert_eq!(c.access_token().await.unwrap().value, TOKEN);
}

#[tokio::test]
async fn a_failed_refresh_inside_the_margin_keeps_using_the_valid_token() {
    let s = server().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("err_45009.json"))
        .expect(1)
        .mount(&s)
        .await;
    let store = Arc::new(MemoryTokenStore::new());
    store
        .put(
            &format!("{APPID}:stable_token"),
            &CachedToken::new("STILL-GOOD", NOW + 200),
        )
        .await
        .unwrap();
    let c = builder(&s).0.token_store(store).build().unwrap();
    assert_eq!(c.access_token().await.unwrap().value, "STILL-GOOD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_queued_behind_a_failed_fetch_share_its_error() {
    let s = server().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("err_40125.json").set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.access_token().await })
        })
        .collect();
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert_eq!(e.code(), Some(40125), "{e}");
        assert!(e.hint_en().unwrap().contains("AppSecret"));
    }
}

#[tokio::test]
async fn the_daily_counter_warns_from_80_percent() {
    let s = server().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(TokenSeq::new("D"))
        .expect(2)
        .mount(&s)
        .await;
    let store = Arc::new(MemoryTokenStore::new());
    let key = format!("{APPID}:stable_token");
    let day = beijing_date(NOW);
    for _ in 0..1598 {
        store.count_fetch(&key, &day).await.unwrap();
    }
    let c = builder(&s).0.token_store(store.clone()).build().unwrap();
    let logs = LogBuf::default();
    let _guard = logs.install();

    c.access_token().await.unwrap(); // fetch 1599
    assert!(
        !logs.text().contains("80%"),
        "warned early: {}",
        logs.text()
    );
    c.force_refresh().await.unwrap(); // fetch 1600 = 80 % of 2000
    let text = logs.text();
    assert!(text.contains("80% of the daily limit"), "{text}");
    assert!(text.contains("count=1600"), "{text}");
    assert_eq!(store.count_fetch(&key, &day).await.unwrap(), 1601);
}

#[tokio::test]
async fn the_jsapi_ticket_is_cached_like_the_token() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/ticket/getticket"))
        .and(query_param("access_token", TOKEN))
        .and(query_param("type", "jsapi"))
        .respond_with(ok_fixture("ticket.json"))
        .expect(1)
        .mount(&s)
        .await;
    let store = Arc::new(MemoryTokenStore::new());
    let c = builder(&s).0.token_store(store.clone()).build().unwrap();
    let t1 = c.jsapi_ticket().await.unwrap();
    let t2 = c.jsapi_ticket().await.unwrap();
    assert_eq!(t1, t2);
    assert_eq!(c.jsapi_ticket_key(), format!("{APPID}:jsapi_ticket"));
    assert_eq!(
        store.get(&format!("{APPID}:jsapi_ticket")).await.unwrap(),
        Some(t1)
    );
}

#[tokio::test]
async fn store_failures_surface_as_store_errors() {
    #[derive(Debug)]
    struct Broken;
    #[async_trait::async_trait]
    impl TokenStore for Broken {
        async fn get(&self, _: &str) -> Result<Option<CachedToken>, StoreError> {
            Err(StoreError::msg("database is locked"))
        }
        async fn put(&self, _: &str, _: &CachedToken) -> Result<(), StoreError> {
            Ok(())
        }
        async fn expire_if(&self, _: &str, _: &str) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn try_lock(&self, _: &str, _: &str, _: Duration) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn unlock(&self, _: &str, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
        async fn count_fetch(&self, _: &str, _: &str) -> Result<u64, StoreError> {
            Ok(1)
        }
    }
    let s = server().await;
    mount_token(&s, 0).await;
    let c = builder(&s).0.token_store(Arc::new(Broken)).build().unwrap();
    let e = c.access_token().await.unwrap_err();
    assert!(matches!(e, ApiError::Store(_)), "{e:?}");
    assert_eq!(e.to_string(), "token store: database is locked");
}

/// The attempts the back-off plan allows within `elapsed`: the first at once, each further
/// one only after the wait that follows a failure (`first` doubling to `max`).
fn attempts_allowed(elapsed: Duration, first: Duration, max: Duration) -> usize {
    let (mut at, mut attempts, mut wait) = (Duration::ZERO, 1, first);
    loop {
        at += wait;
        if at > elapsed {
            return attempts;
        }
        attempts += 1;
        wait = (wait * 2).min(max);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_that_never_answers_is_asked_at_the_back_off_pace() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("stable_token.json").set_delay(Duration::from_secs(600)))
        .mount(&s)
        .await;
    let (first, max) = (Duration::from_millis(200), Duration::from_millis(400));
    let c = builder(&s)
        .0
        .timeout(Duration::from_millis(100))
        .token_backoff(first, max)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                let mut calls = 0_u32;
                while started.elapsed() < Duration::from_millis(1500) {
                    let e = c.access_token().await.unwrap_err();
                    assert!(
                        matches!(e, ApiError::TokenFetchFailed { .. } | ApiError::Http { .. }),
                        "{e:?}"
                    );
                    calls += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                calls
            })
        })
        .collect();
    let mut calls = 0;
    for caller in callers {
        calls += caller.await.unwrap();
    }
    let elapsed = started.elapsed();
    let attempts = requests_to(&s, "/cgi-bin/stable_token").await.len();
    assert!(
        attempts >= 2,
        "it tries again after the back-off: {attempts}"
    );
    let allowed = attempts_allowed(elapsed, first, max);
    assert!(
        attempts <= allowed,
        "{attempts} fetches in {elapsed:?}, the plan allows {allowed}"
    );
    assert!(
        calls as usize > 4 * attempts,
        "callers are answered without a fetch each: {calls} calls, {attempts} fetches"
    );
}
