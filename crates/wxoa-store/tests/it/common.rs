//! Shared helpers and the token-store conformance checks every backend must pass.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Barrier;
use wxoa_api::{CachedToken, TokenStore};

/// A random lower-case hex suffix for names that must not collide between tests or runs.
pub(crate) fn unique() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}

/// A directory under the system temp dir, removed (with its SQLite files) when dropped.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        let path = std::env::temp_dir().join(format!("wxoa-store-test-{}", unique()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `body` as its own task so that cleanup code after it runs even when it panics; the
/// panic is then re-raised.
pub(crate) async fn run_then<F, C, CF>(body: F, cleanup: C)
where
    F: Future<Output = ()> + Send + 'static,
    C: FnOnce() -> CF,
    CF: Future<Output = ()>,
{
    let result = tokio::spawn(body).await;
    cleanup().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn token(value: &str, expires_at: i64) -> CachedToken {
    CachedToken {
        value: value.to_owned(),
        expires_at,
    }
}

/// get/put round trip, overwrite, and keys kept apart.
pub(crate) async fn round_trip(store: Arc<dyn TokenStore>) {
    let key = format!("wx{}:access_token", unique());
    let other = format!("wx{}:jsapi_ticket", unique());
    assert_eq!(store.get(&key).await.unwrap(), None);

    let first = token("ACCESS_TOKEN_1_a-very-long-value", 1_800_000_000);
    store.put(&key, &first).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(first));
    assert_eq!(store.get(&other).await.unwrap(), None);

    // Expired tokens are returned too: the caller decides.
    let second = token("ACCESS_TOKEN_2", 1);
    store.put(&key, &second).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(second.clone()));

    let ticket = token("TICKET", 1_900_000_000);
    store.put(&other, &ticket).await.unwrap();
    assert_eq!(store.get(&other).await.unwrap(), Some(ticket));
    assert_eq!(store.get(&key).await.unwrap(), Some(second));
}

/// expire_if removes the token only while it still has the failed value.
pub(crate) async fn compare_and_expire(store: Arc<dyn TokenStore>) {
    let key = format!("wx{}:access_token", unique());
    assert!(
        !store.expire_if(&key, "T1").await.unwrap(),
        "nothing stored"
    );

    store.put(&key, &token("T1", 1_800_000_000)).await.unwrap();
    assert!(!store.expire_if(&key, "T0").await.unwrap(), "other value");
    assert_eq!(store.get(&key).await.unwrap().unwrap().value, "T1");

    assert!(store.expire_if(&key, "T1").await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), None);
    assert!(
        !store.expire_if(&key, "T1").await.unwrap(),
        "already expired"
    );

    // Another process already stored a fresh token: a late expire of the old one keeps it.
    store.put(&key, &token("T2", 1_800_000_100)).await.unwrap();
    assert!(!store.expire_if(&key, "T1").await.unwrap());
    assert_eq!(
        store.get(&key).await.unwrap(),
        Some(token("T2", 1_800_000_100))
    );
}

/// `tasks` tasks, spread over `stores` (separate pools or connections), race for one lock:
/// exactly one wins.
pub(crate) async fn lock_is_exclusive(stores: Vec<Arc<dyn TokenStore>>, tasks: usize) {
    let key = format!("wx{}:access_token", unique());
    let barrier = Arc::new(Barrier::new(tasks));
    let mut handles = Vec::new();
    for i in 0..tasks {
        let store = stores[i % stores.len()].clone();
        let barrier = barrier.clone();
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .try_lock(&key, &format!("holder-{i}"), Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for handle in handles {
        if handle.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one of {tasks} tasks must get the lock");

    // Nobody else gets it while it lives.
    assert!(
        !stores[0]
            .try_lock(&key, "late", Duration::from_secs(60))
            .await
            .unwrap()
    );
}

/// unlock by someone else leaves the lock in place; by the holder releases it; the holder
/// asking again keeps it (as `MemoryTokenStore` does).
pub(crate) async fn unlock_by_non_holder_is_noop(store: Arc<dyn TokenStore>) {
    let key = format!("wx{}:access_token", unique());
    let ttl = Duration::from_secs(60);
    assert!(store.try_lock(&key, "a", ttl).await.unwrap());
    assert!(
        store.try_lock(&key, "a", ttl).await.unwrap(),
        "re-entrant for its holder"
    );

    store.unlock(&key, "b").await.unwrap();
    assert!(
        !store.try_lock(&key, "b", ttl).await.unwrap(),
        "b's unlock must not free a's lock"
    );

    store.unlock(&key, "a").await.unwrap();
    assert!(
        store.try_lock(&key, "b", ttl).await.unwrap(),
        "a released it"
    );

    // a's late (second) unlock must not free b's lock.
    store.unlock(&key, "a").await.unwrap();
    assert!(!store.try_lock(&key, "c", ttl).await.unwrap());

    // Unlocking a key never locked is fine.
    store.unlock(&format!("{key}:none"), "a").await.unwrap();
}

/// count_fetch counts per key and per day.
pub(crate) async fn count_fetch_per_day(store: Arc<dyn TokenStore>) {
    let key = format!("wx{}:access_token", unique());
    let other = format!("wx{}:access_token", unique());
    for expected in 1..=3 {
        assert_eq!(
            store.count_fetch(&key, "2026-05-01").await.unwrap(),
            expected
        );
    }
    assert_eq!(store.count_fetch(&key, "2026-05-02").await.unwrap(), 1);
    assert_eq!(store.count_fetch(&key, "2026-05-01").await.unwrap(), 4);
    assert_eq!(store.count_fetch(&other, "2026-05-01").await.unwrap(), 1);
}

/// Concurrent increments are never lost.
pub(crate) async fn count_fetch_is_atomic(store: Arc<dyn TokenStore>, tasks: u64) {
    let key = format!("wx{}:access_token", unique());
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let store = store.clone();
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            store.count_fetch(&key, "2026-05-03").await.unwrap()
        }));
    }
    let mut seen = Vec::new();
    for handle in handles {
        seen.push(handle.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=tasks).collect::<Vec<_>>());
}

/// All conformance checks that need no control over time: the contract test of wxoa-api, then
/// this crate's stricter ones.
pub(crate) async fn conformance(store: Arc<dyn TokenStore>) {
    wxoa_api::conformance::check_token_store(&*store).await;
    round_trip(store.clone()).await;
    compare_and_expire(store.clone()).await;
    unlock_by_non_holder_is_noop(store.clone()).await;
    count_fetch_per_day(store.clone()).await;
    count_fetch_is_atomic(store.clone(), 40).await;
    lock_is_exclusive(vec![store], 64).await;
}
