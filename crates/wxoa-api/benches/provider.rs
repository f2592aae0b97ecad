//! Cost per call of the token provider with a warm cache (no HTTP). Run with `cargo bench -p wxoa-api`.

use std::sync::Arc;
use std::time::Instant;

use wxoa_api::{CachedToken, Client, MemoryTokenStore, TokenStore};

const CALLS: u64 = 1_000_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let store = Arc::new(MemoryTokenStore::new());
        let far = i64::MAX / 2;
        store
            .put(
                "wxbench:stable_token",
                &CachedToken::new("BENCH-TOKEN", far),
            )
            .await
            .expect("put");
        // Nothing listens there: a fetch would fail, so any fetch shows up as an error.
        let client = Client::builder("wxbench", "secret".to_owned())
            .base_url("http://127.0.0.1:9")
            .token_store(store)
            .build()
            .expect("client");

        let first = Instant::now();
        client
            .access_token()
            .await
            .expect("first call reads the store");
        println!(
            "provider: first call (store read)        {:>8.0} ns",
            first.elapsed().as_nanos() as f64
        );

        for tasks in [1_u64, 2, 8] {
            let per_task = CALLS / tasks;
            let started = Instant::now();
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let c = client.clone();
                    tokio::spawn(async move {
                        for _ in 0..per_task {
                            let t = c.access_token().await.expect("warm cache");
                            std::hint::black_box(t);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("task");
            }
            let ns = started.elapsed().as_nanos() as f64 / (per_task * tasks) as f64;
            println!("provider: warm cache, {tasks} concurrent task(s) {ns:>8.1} ns/call");
        }
    });
}
