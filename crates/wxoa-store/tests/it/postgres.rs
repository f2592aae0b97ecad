//! The SQL store on PostgreSQL (only when `WXOA_TEST_POSTGRES_URL` is set), each test in a
//! schema of its own.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use sqlx::Connection;
use wxoa_api::TokenStore;
use wxoa_store::{Backend, Store, StoreOpenError};

use wxoa_api::ManualClock;

use crate::common;

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
        assert_eq!(status.applied, vec![1]);
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
        assert_eq!(status.pending.len(), 1, "{status}");
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
