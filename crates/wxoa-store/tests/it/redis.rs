//! The Redis token store (only when `WXOA_TEST_REDIS_URL` is set), each test under a key
//! prefix of its own.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use wxoa_api::TokenStore;
use wxoa_store::{RedisStore, StoreOpenError};

use crate::common;

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
