//! The SQL store on PostgreSQL (only when `WXOA_TEST_POSTGRES_URL` is set), each test in a
//! schema of its own.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use sqlx::Connection;
use wxoa_api::TokenStore;
use wxoa_store::{Backend, ParkingBackend, SharedDedup, Store, StoreOpenError};

use wxoa_api::ManualClock;

use crate::common;
use crate::shared;

const ENV: &str = "WXOA_TEST_POSTGRES_URL";

/// Runs `body` with a URL whose `search_path` is a fresh schema, dropped afterwards.
/// Returns without running it when the variable is not set.
async fn with_schema<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(base) = std::env::var(ENV) else {
        println!("skipped: {ENV} not set");
        return;
    };
    let schema = format!("wxoa_test_{}", common::unique());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
    common::run_then(body(url), || async {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn open_migrates_into_the_schema() {
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        let status = store.check_migrations().await.unwrap();
        assert!(status.is_current(), "{status}");
        assert_eq!(status.applied, vec![1, 2, 3, 4, 5, 6]);
        store.migrate().await.unwrap();
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn connect_leaves_migrations_pending() {
    with_schema(|url| async move {
        let store = Store::connect(&url, Path::new(".")).await.unwrap();
        let status = store.check_migrations().await.unwrap();
        assert_eq!(status.pending.len(), 6, "{status}");
        store.migrate().await.unwrap();
        assert!(store.check_migrations().await.unwrap().is_current());
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn token_store_conformance() {
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        common::conformance(Arc::new(store.token_store())).await;
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_is_exclusive_across_pools() {
    with_schema(|url| async move {
        let mut stores: Vec<Arc<dyn TokenStore>> = Vec::new();
        let mut opened = Vec::new();
        for _ in 0..3 {
            let store = Store::open(&url, Path::new(".")).await.unwrap();
            stores.push(Arc::new(store.token_store()));
            opened.push(store);
        }
        common::lock_is_exclusive(stores, 60).await;
        for store in opened {
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn dead_lock_is_taken_over_after_its_ttl() {
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        let clock = Arc::new(ManualClock::new(1_767_225_600));
        let tokens = Arc::new(store.token_store().with_clock(clock.clone()));
        crate::sqlite::takeover(tokens, &clock).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn unreachable_server_error_names_url_without_password() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let err = Store::open("postgres://wx:s3cret@127.0.0.1:1/wxoa", Path::new("."))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreOpenError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("postgres://wx:***@127.0.0.1:1/wxoa"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn missing_database_is_named_plainly() {
    let Ok(base) = std::env::var(ENV) else {
        println!("skipped: {ENV} not set");
        return;
    };
    let mut url = url::Url::parse(&base).unwrap();
    let missing = format!("wxoa_missing_{}", common::unique());
    url.set_path(&missing);
    let err = Store::open(url.as_str(), Path::new(".")).await.unwrap_err();
    assert!(matches!(err, StoreOpenError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("database \"{missing}\" does not exist")),
        "{text}"
    );
    assert!(text.contains("(code 3D000)"), "{text}");
}

#[tokio::test]
async fn dedup_claims_complete_and_abandon() {
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        let dedup: Arc<dyn SharedDedup> = Arc::new(store.dedup());
        shared::dedup_first_inflight_done(dedup.clone()).await;
        shared::dedup_abandon(dedup).await;
        let clock = Arc::new(ManualClock::new(1_767_225_600));
        let manual: Arc<dyn SharedDedup> = Arc::new(store.dedup().with_clock(clock.clone()));
        let expire: shared::Expire = Arc::new(move |_key| {
            clock.advance(3600);
            Box::pin(async {}) as shared::ExpireFuture
        });
        shared::dedup_expiry(manual, expire).await;
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedup_is_shared_across_pools() {
    with_schema(|url| async move {
        let mut dedups: Vec<Arc<dyn SharedDedup>> = Vec::new();
        let mut opened = Vec::new();
        for _ in 0..3 {
            let store = Store::open(&url, Path::new(".")).await.unwrap();
            dedups.push(Arc::new(store.dedup()));
            opened.push(store);
        }
        for _ in 0..3 {
            shared::dedup_claim_is_exclusive(dedups.clone(), 30).await;
        }
        shared::dedup_wait_for_answer(dedups[0].clone(), dedups[1].clone()).await;
        for store in opened {
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn sql_leases_windows_ttls_and_sweeps_follow_the_clock() {
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        shared::sql_time_boundaries(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn sessions_and_parking_round_trip() {
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        shared::session_round_trip(Arc::new(store.sessions())).await;
        shared::parking_round_trip(Arc::new(store.parking())).await;
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parked_results_are_taken_once_across_pools() {
    with_schema(|url| async move {
        let mut backends: Vec<Arc<dyn ParkingBackend>> = Vec::new();
        let mut opened = Vec::new();
        for _ in 0..2 {
            let store = Store::open(&url, Path::new(".")).await.unwrap();
            backends.push(Arc::new(store.parking()));
            opened.push(store);
        }
        shared::parking_take_is_atomic(backends, 4).await;
        for store in opened {
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn message_log_and_followers() {
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        shared::log_and_followers(&store).await;
        shared::log_batch_keeps_followers(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn console_read_side() {
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        crate::console::message_search(&store).await;
        store.close().await;
    })
    .await;
    with_schema(|url| async move {
        let store = Store::open(&url, Path::new(".")).await.unwrap();
        crate::console::dashboard(&store).await;
        crate::console::follower_directory(&store).await;
        crate::console::audit(&store).await;
        store.close().await;
    })
    .await;
}
