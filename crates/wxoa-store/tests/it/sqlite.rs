//! The SQL store on SQLite: opening, migrations, and the token store in one process.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use wxoa_api::{CachedToken, TokenStore};
use wxoa_store::{Backend, ParkingBackend, SessionBackend, SharedDedup, Store, StoreOpenError};

use wxoa_api::ManualClock;

use crate::common::{self, TempDir};
use crate::shared;

#[tokio::test]
async fn open_creates_directories_file_and_wal() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://data/nested/wxoa.db", dir.path())
        .await
        .unwrap();
    let file = dir.path().join("data/nested/wxoa.db");
    assert!(file.is_file());
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(
        store.url().starts_with("sqlite://data/nested/wxoa.db ("),
        "{}",
        store.url()
    );
    assert!(store.check_migrations().await.unwrap().is_current());

    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    raw.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn absolute_path_ignores_base_dir() {
    let dir = TempDir::new();
    let file = dir.path().join("abs.db");
    let url = format!("sqlite://{}", file.display());
    let store = Store::open(&url, std::path::Path::new("/nonexistent-base"))
        .await
        .unwrap();
    assert!(file.is_file());
    assert_eq!(store.url(), url);
    store.close().await;
}

#[tokio::test]
async fn connect_leaves_migrations_pending_until_migrate() {
    let dir = TempDir::new();
    let store = Store::connect("sqlite://wxoa.db", dir.path())
        .await
        .unwrap();
    let status = store.check_migrations().await.unwrap();
    assert!(!status.is_current());
    assert_eq!(status.pending[0].version, 1);
    assert_eq!(status.pending.len(), 6, "{status}");
    assert!(status.applied.is_empty());

    store.migrate().await.unwrap();
    let status = store.check_migrations().await.unwrap();
    assert!(status.is_current(), "{status}");
    assert_eq!(status.applied, vec![1, 2, 3, 4, 5, 6]);
    // Migrating again is a no-op.
    store.migrate().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn database_from_a_newer_build_is_reported_and_refused() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    let mut raw = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("wxoa.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, x'00', 0)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();

    let status = store.check_migrations().await.unwrap();
    assert!(!status.is_current());
    assert_eq!(status.unknown, vec![9999]);
    store.close().await;

    let err = Store::open("sqlite://wxoa.db", dir.path())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreOpenError::Migrate { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("sqlite://wxoa.db"), "{text}");
    assert!(text.contains("upgrade this binary"), "{text}");
}

#[tokio::test]
async fn bad_urls_and_paths_are_named_in_errors() {
    let dir = TempDir::new();
    let err = Store::open("mysql://root@localhost/wxoa", dir.path())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreOpenError::InvalidUrl { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("mysql://root@localhost/wxoa"), "{text}");
    assert!(text.contains("expected sqlite://PATH"), "{text}");

    // A regular file where a directory is needed.
    std::fs::write(dir.path().join("blocker"), b"").unwrap();
    let err = Store::open("sqlite://blocker/wxoa.db", dir.path())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreOpenError::CreateDir { .. }), "{err:?}");
    assert!(err.to_string().contains("blocker"), "{err}");
}

#[tokio::test]
async fn token_store_conformance() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    common::conformance(Arc::new(store.token_store())).await;
    store.close().await;
}

#[tokio::test]
async fn memory_database_works_for_one_process() {
    let store = Store::open("sqlite::memory:", std::path::Path::new("."))
        .await
        .unwrap();
    assert!(store.check_migrations().await.unwrap().is_current());
    common::round_trip(Arc::new(store.token_store())).await;
    common::count_fetch_is_atomic(Arc::new(store.token_store()), 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_is_exclusive_across_separate_pools_on_one_file() {
    let dir = TempDir::new();
    let mut stores: Vec<Arc<dyn TokenStore>> = Vec::new();
    let mut opened = Vec::new();
    for _ in 0..4 {
        let store = Store::open("sqlite://shared.db", dir.path()).await.unwrap();
        stores.push(Arc::new(store.token_store()));
        opened.push(store);
    }
    common::lock_is_exclusive(stores.clone(), 48).await;

    // A token written through one pool is read through another.
    let token = CachedToken {
        value: "SHARED".to_owned(),
        expires_at: 1_800_000_000,
    };
    stores[0].put("wx1:access_token", &token).await.unwrap();
    assert_eq!(
        stores[3].get("wx1:access_token").await.unwrap(),
        Some(token)
    );
    for store in opened {
        store.close().await;
    }
}

#[tokio::test]
async fn dead_lock_is_taken_over_after_its_ttl() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    let clock = Arc::new(ManualClock::new(1_767_225_600));
    let tokens = Arc::new(store.token_store().with_clock(clock.clone()));
    takeover(tokens, &clock).await;
    store.close().await;
}

/// A holder that died keeps its lock until the ttl, then another takes over and the dead
/// holder's late unlock cannot free the new lock.
pub(crate) async fn takeover(store: Arc<dyn TokenStore>, clock: &ManualClock) {
    let key = "wx1:access_token";
    let ttl = Duration::from_secs(30);
    assert!(store.try_lock(key, "dead", ttl).await.unwrap());

    clock.advance(29);
    assert!(
        !store.try_lock(key, "next", ttl).await.unwrap(),
        "still alive"
    );

    clock.advance(1);
    assert!(
        store.try_lock(key, "next", ttl).await.unwrap(),
        "dead at its ttl"
    );

    store.unlock(key, "dead").await.unwrap();
    assert!(
        !store.try_lock(key, "third", ttl).await.unwrap(),
        "next still holds it"
    );

    // The holder asking again restarts its ttl: 20 s later it has 30 s more, not 10.
    clock.advance(20);
    assert!(store.try_lock(key, "next", ttl).await.unwrap());
    clock.advance(20);
    assert!(
        !store.try_lock(key, "third", ttl).await.unwrap(),
        "the re-lock restarted the ttl"
    );

    // A zero ttl lock is dead at once.
    assert!(
        store
            .try_lock("wx2:access_token", "a", Duration::ZERO)
            .await
            .unwrap()
    );
    assert!(
        store
            .try_lock("wx2:access_token", "b", Duration::ZERO)
            .await
            .unwrap()
    );
}

/// A dedup handle for the shared checks whose expiry moves an injected clock past any lease
/// and window.
fn dedup_on_manual_clock(store: &Store) -> (Arc<dyn SharedDedup>, shared::Expire) {
    let clock = Arc::new(ManualClock::new(1_767_225_600));
    let dedup: Arc<dyn SharedDedup> = Arc::new(store.dedup().with_clock(clock.clone()));
    let expire: shared::Expire = Arc::new(move |_key| {
        clock.advance(3600);
        Box::pin(async {}) as shared::ExpireFuture
    });
    (dedup, expire)
}

#[tokio::test]
async fn dedup_claims_complete_and_abandon() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    let dedup: Arc<dyn SharedDedup> = Arc::new(store.dedup());
    shared::dedup_first_inflight_done(dedup.clone()).await;
    shared::dedup_abandon(dedup.clone()).await;
    let (manual, expire) = dedup_on_manual_clock(&store);
    shared::dedup_expiry(manual, expire).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedup_wait_gets_the_answer_from_another_pool() {
    let dir = TempDir::new();
    let first = Store::open("sqlite://shared.db", dir.path()).await.unwrap();
    let second = Store::open("sqlite://shared.db", dir.path()).await.unwrap();
    shared::dedup_wait_for_answer(Arc::new(first.dedup()), Arc::new(second.dedup())).await;
    first.close().await;
    second.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedup_claim_is_exclusive_across_separate_pools_on_one_file() {
    let dir = TempDir::new();
    let mut dedups: Vec<Arc<dyn SharedDedup>> = Vec::new();
    let mut opened = Vec::new();
    for _ in 0..4 {
        let store = Store::open("sqlite://shared.db", dir.path()).await.unwrap();
        dedups.push(Arc::new(store.dedup()));
        opened.push(store);
    }
    for _ in 0..3 {
        shared::dedup_claim_is_exclusive(dedups.clone(), 32).await;
    }
    for store in opened {
        store.close().await;
    }
}

#[tokio::test]
async fn sql_leases_windows_ttls_and_sweeps_follow_the_clock() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    shared::sql_time_boundaries(&store).await;
    store.close().await;
}

#[tokio::test]
async fn sessions_round_trip() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    shared::session_round_trip(Arc::new(store.sessions())).await;
    store.close().await;
}

#[tokio::test]
async fn damaged_session_is_reported_with_its_key() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    let mut raw = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("wxoa.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO sessions (appid, openid, data, updated_at) VALUES ('wx1', 'o1', '[1]', 4102444800)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();
    let err = store
        .sessions()
        .load_session("wx1", "o1")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("sqlite load_session of `wx1/o1`"), "{text}");
    assert!(text.contains("delete it"), "{text}");
    store.close().await;
}

#[tokio::test]
async fn parking_round_trip() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    shared::parking_round_trip(Arc::new(store.parking())).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parked_results_are_taken_once_across_pools() {
    let dir = TempDir::new();
    let mut backends: Vec<Arc<dyn ParkingBackend>> = Vec::new();
    let mut opened = Vec::new();
    for _ in 0..2 {
        let store = Store::open("sqlite://shared.db", dir.path()).await.unwrap();
        backends.push(Arc::new(store.parking()));
        opened.push(store);
    }
    shared::parking_take_is_atomic(backends, 4).await;
    for store in opened {
        store.close().await;
    }
}

#[tokio::test]
async fn message_log_and_followers() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    shared::log_and_followers(&store).await;
    shared::log_batch_keeps_followers(&store).await;
    store.close().await;
}

#[tokio::test]
async fn memory_database_holds_the_shared_state_too() {
    let store = Store::open("sqlite::memory:", std::path::Path::new("."))
        .await
        .unwrap();
    shared::dedup_first_inflight_done(Arc::new(store.dedup())).await;
    shared::session_round_trip(Arc::new(store.sessions())).await;
    shared::parking_round_trip(Arc::new(store.parking())).await;
}

#[tokio::test]
async fn console_read_side() {
    let dir = TempDir::new();
    let store = Store::open("sqlite://wxoa.db", dir.path()).await.unwrap();
    crate::console::message_search(&store).await;
    let dir2 = TempDir::new();
    let fresh = Store::open("sqlite://wxoa.db", dir2.path()).await.unwrap();
    crate::console::dashboard(&fresh).await;
    crate::console::follower_directory(&store).await;
    crate::console::audit(&store).await;
    store.close().await;
    fresh.close().await;
}
