//! The Redis token store (only when `WXOA_TEST_REDIS_URL` is set), each test under a key
//! prefix of its own.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use wxoa_api::TokenStore;
use wxoa_store::{
    DedupClaim, Finish, HandOff, ParkingBackend, RedisStore, SessionBackend, SharedDedup,
    SharedWork, StoreOpenError, WorkHandoff, WorkRecord,
};

use crate::common;
use crate::shared;

const ENV: &str = "WXOA_TEST_REDIS_URL";

/// Runs `body` with a store under a fresh prefix and deletes the prefix's keys afterwards.
/// Returns without running it when the variable is not set.
async fn with_prefix<F, Fut>(body: F)
where
    F: FnOnce(RedisStore, redis::aio::MultiplexedConnection) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(url) = std::env::var(ENV) else {
        println!("skipped: {ENV} not set");
        return;
    };
    let prefix = format!("wxoa_test_{}:", common::unique());
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    assert_eq!(store.prefix(), prefix);
    let client = redis::Client::open(url.as_str()).unwrap();
    let raw = client.get_multiplexed_async_connection().await.unwrap();
    let mut cleanup = raw.clone();
    common::run_then(body(store, raw), || async move {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut cleanup)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut cleanup)
                .await
                .unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn token_store_conformance() {
    with_prefix(|store, _| async move {
        common::conformance(Arc::new(store.token_store())).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_is_exclusive_across_connections() {
    with_prefix(|store, _| async move {
        let url = std::env::var(ENV).unwrap();
        let mut stores: Vec<Arc<dyn TokenStore>> = vec![Arc::new(store.token_store())];
        for _ in 0..2 {
            let other = RedisStore::connect(&url)
                .await
                .unwrap()
                .with_prefix(store.prefix());
            stores.push(Arc::new(other.token_store()));
        }
        common::lock_is_exclusive(stores, 60).await;
    })
    .await;
}

#[tokio::test]
async fn keys_live_under_the_prefix() {
    with_prefix(|store, mut raw| async move {
        let tokens = store.token_store();
        let prefix = store.prefix().to_owned();
        tokens
            .put(
                "wx1:access_token",
                &wxoa_api::CachedToken {
                    value: "T".to_owned(),
                    expires_at: 1_800_000_000,
                },
            )
            .await
            .unwrap();
        let value: String = redis::cmd("HGET")
            .arg(format!("{prefix}token:wx1:access_token"))
            .arg("value")
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(value, "T");

        assert_eq!(
            tokens
                .count_fetch("wx1:access_token", "2026-05-01")
                .await
                .unwrap(),
            1
        );
        let ttl: i64 = redis::cmd("TTL")
            .arg(format!("{prefix}fetches:wx1:access_token:2026-05-01"))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!(
            (2 * 86_400 - 60..=2 * 86_400).contains(&ttl),
            "counter ttl {ttl}"
        );

        // Another prefix sees nothing of it.
        let url = std::env::var(ENV).unwrap();
        let other = RedisStore::connect(&url)
            .await
            .unwrap()
            .with_prefix(&format!("{prefix}other:"));
        assert_eq!(
            other.token_store().get("wx1:access_token").await.unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn dead_lock_is_taken_over_after_its_ttl() {
    with_prefix(|store, mut raw| async move {
        let tokens = store.token_store();
        let lock = format!("{}lock:wx1:access_token", store.prefix());
        let ttl = Duration::from_secs(30);
        assert!(
            tokens
                .try_lock("wx1:access_token", "dead", ttl)
                .await
                .unwrap()
        );

        // The server expires the lock by itself: it carries the ttl.
        let pttl: i64 = redis::cmd("PTTL")
            .arg(&lock)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!((29_000..=30_000).contains(&pttl), "lock pttl {pttl}");
        assert!(
            !tokens
                .try_lock("wx1:access_token", "next", ttl)
                .await
                .unwrap()
        );

        // Let the ttl run out without waiting: an expiry in the past removes the key now.
        let _: i64 = redis::cmd("PEXPIREAT")
            .arg(&lock)
            .arg(1)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!(
            tokens
                .try_lock("wx1:access_token", "next", ttl)
                .await
                .unwrap()
        );

        tokens.unlock("wx1:access_token", "dead").await.unwrap();
        assert!(
            !tokens
                .try_lock("wx1:access_token", "third", ttl)
                .await
                .unwrap()
        );
        let holder: String = redis::cmd("GET")
            .arg(&lock)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(holder, "next");

        // The holder asking again restarts its ttl.
        let _: i64 = redis::cmd("PEXPIRE")
            .arg(&lock)
            .arg(5_000)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!(
            tokens
                .try_lock("wx1:access_token", "next", ttl)
                .await
                .unwrap()
        );
        let pttl: i64 = redis::cmd("PTTL")
            .arg(&lock)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!((29_000..=30_000).contains(&pttl), "re-lock pttl {pttl}");
    })
    .await;
}

#[tokio::test]
async fn unreachable_server_error_names_url_without_password() {
    let err = RedisStore::connect("redis://:s3cret@127.0.0.1:1/0")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreOpenError::Redis { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("redis://:***@127.0.0.1:1/0"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");

    let err = RedisStore::connect("http://127.0.0.1").await.unwrap_err();
    assert!(matches!(err, StoreOpenError::InvalidUrl { .. }), "{err:?}");
}

/// The Redis key of a dedup entry.
fn dedup_key(prefix: &str, key: &str) -> String {
    format!(
        "{prefix}dedup:{}",
        hex::encode(Sha256::digest(key.as_bytes()))
    )
}

async fn pttl(raw: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(raw).await.unwrap()
}

#[tokio::test]
async fn dedup_claims_complete_and_abandon() {
    with_prefix(|store, raw| async move {
        let dedup: Arc<dyn SharedDedup> = Arc::new(store.dedup());
        shared::dedup_first_inflight_done(dedup.clone()).await;
        shared::dedup_abandon(dedup.clone()).await;
        // Let the lease or the window run out without waiting: an expiry in the past removes
        // the key now, as the server would at its ttl.
        let prefix = store.prefix().to_owned();
        let expire: shared::Expire = Arc::new(move |key| {
            let mut raw = raw.clone();
            let entry = dedup_key(&prefix, &key);
            Box::pin(async move {
                let expired: i64 = redis::cmd("PEXPIREAT")
                    .arg(&entry)
                    .arg(1)
                    .query_async(&mut raw)
                    .await
                    .unwrap();
                assert_eq!(expired, 1, "{entry} exists");
            }) as shared::ExpireFuture
        });
        shared::dedup_expiry(dedup, expire).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedup_is_shared_across_connections() {
    with_prefix(|store, _| async move {
        let url = std::env::var(ENV).unwrap();
        let mut dedups: Vec<Arc<dyn SharedDedup>> = vec![Arc::new(store.dedup())];
        for _ in 0..2 {
            let other = RedisStore::connect(&url)
                .await
                .unwrap()
                .with_prefix(store.prefix());
            dedups.push(Arc::new(other.dedup()));
        }
        for _ in 0..3 {
            shared::dedup_claim_is_exclusive(dedups.clone(), 30).await;
        }
        shared::dedup_wait_for_answer(dedups[0].clone(), dedups[2].clone()).await;
    })
    .await;
}

#[tokio::test]
async fn dedup_entries_expire_with_their_lease_then_their_window() {
    with_prefix(|store, mut raw| async move {
        let dedup = store.dedup();
        let key = "gh_1:o1:4242";
        let entry = dedup_key(store.prefix(), key);
        let lease = Duration::from_secs(30);
        let window = Duration::from_secs(90);
        assert_eq!(
            dedup.claim(key, "a", lease, window).await.unwrap(),
            DedupClaim::First
        );
        let ttl = pttl(&mut raw, &entry).await;
        assert!((29_000..=30_000).contains(&ttl), "lease pttl {ttl}");

        assert!(dedup.complete(key, "a", "A").await.unwrap());
        let ttl = pttl(&mut raw, &entry).await;
        assert!((89_000..=90_000).contains(&ttl), "window pttl {ttl}");

        assert_eq!(dedup.sweep(window).await.unwrap(), 0, "the server expires");
        assert_eq!(
            dedup.claim(key, "b", lease, window).await.unwrap(),
            DedupClaim::Done("A".to_owned())
        );
    })
    .await;
}

#[tokio::test]
async fn sessions_round_trip_and_expire() {
    with_prefix(|store, mut raw| async move {
        shared::session_round_trip(Arc::new(store.sessions())).await;

        let map = match json!({"step": 2}) {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        };
        store
            .sessions()
            .save_session("wx1", "o1", &map)
            .await
            .unwrap();
        let key = format!("{}session:wx1:o1", store.prefix());
        let ttl = pttl(&mut raw, &key).await;
        let month = 30 * 86_400 * 1000;
        assert!(
            (month - 60_000..=month).contains(&ttl),
            "session pttl {ttl}"
        );

        let short = store.sessions().with_ttl(Duration::from_secs(3600));
        short.save_session("wx1", "o1", &map).await.unwrap();
        let ttl = pttl(&mut raw, &key).await;
        assert!((3_599_000..=3_600_000).contains(&ttl), "session pttl {ttl}");
        assert_eq!(short.load_session("wx1", "o1").await.unwrap(), map);
        assert_eq!(short.sweep_sessions().await.unwrap(), 0);

        // Expired: gone.
        let _: i64 = redis::cmd("PEXPIREAT")
            .arg(&key)
            .arg(1)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!(short.load_session("wx1", "o1").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn parking_round_trip_and_expiry() {
    with_prefix(|store, mut raw| async move {
        shared::parking_round_trip(Arc::new(store.parking())).await;

        let parking = store.parking().with_max_age(Duration::from_secs(600));
        let now = shared::now_unix();
        parking.park("wx1", "o1", "r", "{}", now).await.unwrap();
        let key = format!("{}parked:wx1:o1", store.prefix());
        let ttl = pttl(&mut raw, &key).await;
        assert!((599_000..=600_000).contains(&ttl), "parked pttl {ttl}");
        assert_eq!(parking.sweep_parked().await.unwrap(), 0);

        // A damaged element is dropped, the others delivered.
        let _: i64 = redis::cmd("RPUSH")
            .arg(&key)
            .arg("not json")
            .query_async(&mut raw)
            .await
            .unwrap();
        parking.park("wx1", "o1", "r2", "{}", now).await.unwrap();
        let taken = parking.take_parked("wx1", "o1").await.unwrap();
        let rules: Vec<&str> = taken.iter().map(|p| p.rule.as_str()).collect();
        assert_eq!(rules, ["r", "r2"]);
        let exists: i64 = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(exists, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parked_results_are_taken_once_across_connections() {
    with_prefix(|store, _| async move {
        let url = std::env::var(ENV).unwrap();
        let other = RedisStore::connect(&url)
            .await
            .unwrap()
            .with_prefix(store.prefix());
        let backends: Vec<Arc<dyn ParkingBackend>> =
            vec![Arc::new(store.parking()), Arc::new(other.parking())];
        shared::parking_take_is_atomic(backends, 4).await;
    })
    .await;
}

#[tokio::test]
async fn work_is_held_handed_off_and_finished_once() {
    with_prefix(|store, mut raw| async move {
        let work = store.work("wxappid");
        let lease = Duration::from_secs(30);
        let keep = Duration::from_secs(60);
        assert_eq!(work.attempt("k").await.unwrap(), None, "no work yet");
        assert_eq!(
            work.hand_off("k", WorkHandoff::Park).await.unwrap(),
            HandOff::Missing
        );
        let record = work.begin("k", "payload", "A", lease).await.unwrap();
        assert_eq!(
            record,
            WorkRecord {
                key: "k".to_owned(),
                payload: "payload".to_owned(),
                attempts: 1,
                handoff: None
            }
        );
        let seen = work.attempt("k").await.unwrap().unwrap();
        assert_eq!((seen.attempts, seen.payload.as_str()), (2, "payload"));
        assert!(work.renew("k", "A", lease).await.unwrap());
        assert!(
            !work.renew("k", "B", lease).await.unwrap(),
            "B holds nothing"
        );
        // A live lease is not taken over, and is not listed as expired.
        assert_eq!(work.take_over("k", "B", lease).await.unwrap(), None);
        assert!(work.expired(10).await.unwrap().is_empty());
        // The first handoff wins.
        assert_eq!(
            work.hand_off("k", WorkHandoff::Kf).await.unwrap(),
            HandOff::Handed(WorkHandoff::Kf)
        );
        assert_eq!(
            work.hand_off("k", WorkHandoff::Park).await.unwrap(),
            HandOff::Handed(WorkHandoff::Kf)
        );
        assert_eq!(
            work.finish("k", "B", None, keep).await.unwrap(),
            Finish::Lost,
            "only the holder finishes"
        );
        assert_eq!(
            work.finish("k", "A", Some(WorkHandoff::Park), keep)
                .await
                .unwrap(),
            Finish::Held(Some(WorkHandoff::Kf))
        );
        assert_eq!(
            work.finish("k", "A", None, keep).await.unwrap(),
            Finish::Lost,
            "finished once"
        );
        assert_eq!(
            work.hand_off("k", WorkHandoff::Park).await.unwrap(),
            HandOff::Finished
        );
        assert_eq!(work.attempt("k").await.unwrap(), None);

        // No handoff set: the fallback decides, or the passive answer.
        work.begin("p", "x", "A", lease).await.unwrap();
        assert_eq!(
            work.finish("p", "A", None, keep).await.unwrap(),
            Finish::Held(None)
        );
        work.begin("q", "x", "A", lease).await.unwrap();
        assert_eq!(
            work.finish("q", "A", Some(WorkHandoff::Park), keep)
                .await
                .unwrap(),
            Finish::Held(Some(WorkHandoff::Park))
        );

        // The record lost while the work ran (Redis restarted empty): the holder delivers.
        work.begin("gone", "x", "A", lease).await.unwrap();
        let records: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}work:wxappid:*", store.prefix()))
            .query_async(&mut raw)
            .await
            .unwrap();
        let _: i64 = redis::cmd("DEL")
            .arg(&records)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(
            work.finish("gone", "A", Some(WorkHandoff::Kf), keep)
                .await
                .unwrap(),
            Finish::Missing
        );
        assert!(work.expired(10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn work_whose_holder_died_is_taken_over_once() {
    with_prefix(|store, _| async move {
        let work = store.work("wxappid");
        let other_account = store.work("wxother");
        let short = Duration::from_millis(200);
        let lease = Duration::from_secs(30);
        work.begin("dead", "push", "A", short).await.unwrap();
        work.hand_off("dead", WorkHandoff::Park).await.unwrap();
        work.begin("alive", "push2", "A", lease).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(work.expired(10).await.unwrap(), vec!["dead".to_owned()]);
        assert!(
            other_account.expired(10).await.unwrap().is_empty(),
            "accounts apart"
        );
        assert!(!work.renew("dead", "B", lease).await.unwrap());
        let taken = work.take_over("dead", "B", lease).await.unwrap().unwrap();
        assert_eq!(taken.payload, "push");
        assert_eq!(taken.handoff, Some(WorkHandoff::Park));
        assert_eq!(
            work.take_over("dead", "C", lease).await.unwrap(),
            None,
            "B's fresh lease is live"
        );
        assert!(work.expired(10).await.unwrap().is_empty());
        // The dead holder cannot finish what B took over; B can.
        assert_eq!(
            work.finish("dead", "A", None, lease).await.unwrap(),
            Finish::Lost
        );
        assert_eq!(
            work.finish("dead", "B", None, lease).await.unwrap(),
            Finish::Held(Some(WorkHandoff::Park))
        );
        // Beginning again on a running key keeps its attempts (a delivery becoming the holder).
        work.attempt("alive").await.unwrap();
        let again = work.begin("alive", "other", "B", lease).await.unwrap();
        assert_eq!((again.attempts, again.payload.as_str()), (2, "push2"));
        assert!(!work.renew("alive", "A", lease).await.unwrap());
    })
    .await;
}
