//! In-process cost of the push pipeline, without HTTP: `service::respond` on unique 明文 and 安全
//! pushes (verify, decrypt, parse, dedup, match, render, encrypt), and its stages alone.
//! Run with `cargo bench -p wxoa-server --bench pipeline`; the wrk load test is `bench/run.sh`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wxoa_server::clock::SystemClock;
use wxoa_server::push::{PushQuery, decode_push, encode_reply};
use wxoa_server::service::{EdgeRequest, respond};
use wxoa_server::{App, Config};

#[path = "common/pushes.rs"]
mod pushes;

/// Pushes per measured pass (each a new MsgId, so every one is handled afresh).
const PUSHES: u64 = 200_000;

fn main() {
    let config = Config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/wxoa-bench.toml"
    )))
    .expect("bench/wxoa-bench.toml loads");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        .to_string();
    let mut first_id = 1_000_000_000_000_000_000_u64;
    println!("{:<28} {:>10}", "stage (per push)", "ns");
    for safe in [false, true] {
        let mode = if safe { "safe" } else { "plain" };
        let make = |first: u64| -> Vec<(String, String)> {
            (0..PUSHES)
                .map(|i| pushes::push(&config.account, safe, first + i, i, &now, "帮助"))
                .collect()
        };

        // The whole pipeline, as `serve` runs it (a fresh table, so the dedup cost is real).
        let app = Arc::new(App::new(&config, Arc::new(SystemClock)));
        let batch = make(first_id);
        first_id += PUSHES;
        let started = Instant::now();
        rt.block_on(async {
            for (query, body) in &batch {
                let response = respond(
                    &app,
                    EdgeRequest {
                        method: "POST",
                        query,
                        body: body.as_bytes(),
                    },
                )
                .await;
                assert_eq!(response.status, 200, "{}", response.body);
                black_box(response);
            }
        });
        report(&format!("{mode}: respond"), started);

        // Decoding alone: query, signatures, decryption, parse.
        let batch = make(first_id);
        first_id += PUSHES;
        let checks = app.checks();
        let decode = |(query, body): &(String, String)| {
            let query = PushQuery::parse(query).expect("query");
            decode_push(app.account(), &query, body.as_bytes(), &checks).expect("decodes")
        };
        let started = Instant::now();
        for push in &batch {
            black_box(decode(push));
        }
        report(&format!("{mode}: decode_push"), started);
        let decoded: Vec<_> = batch.iter().map(decode).collect();

        // Dedup, rules and reply preparation alone.
        let started = Instant::now();
        let handled: Vec<_> = rt.block_on(async {
            let mut out = Vec::with_capacity(decoded.len());
            for push in &decoded {
                out.push(app.answer(push).await.0);
            }
            out
        });
        report(&format!("{mode}: answer"), started);

        // Rendering (and encrypting) the reply alone.
        let started = Instant::now();
        for (push, handled) in decoded.iter().zip(&handled) {
            black_box(encode_reply(
                app.account(),
                push,
                handled.reply.as_ref(),
                1_700_000_000,
            ));
        }
        report(&format!("{mode}: encode_reply"), started);
    }
}

fn report(stage: &str, started: Instant) {
    let ns = started.elapsed().as_nanos() / u128::from(PUSHES);
    println!("{stage:<28} {ns:>10}");
}
