//! In-process cost of the push pipeline, without HTTP: `service::respond` on unique 明文 and 安全
//! pushes (verify, decrypt, parse, dedup, match, render, encrypt), and its stages alone.
//! Run with `cargo bench -p wxoa-server --bench pipeline`; the wrk load test is `bench/run.sh`.
//!
//! Each stage runs [`PASSES`] times over [`PUSHES`] new pushes; the fastest pass is reported,
//! since on a shared machine the slower passes measure the neighbours.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wxoa_server::clock::SystemClock;
use wxoa_server::push::{PushQuery, decode_push, encode_reply};
use wxoa_server::service::{EdgeRequest, respond};
use wxoa_server::{App, Config};

#[path = "common/pushes.rs"]
mod pushes;

/// Pushes per pass (each a new MsgId, so every one is handled afresh).
const PUSHES: u64 = 40_000;
/// Passes per stage.
const PASSES: u64 = 7;

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
    let mut next_id = 1_000_000_000_000_000_000_u64;
    let mut batch = |safe: bool| -> Vec<(String, String)> {
        let first = next_id;
        next_id += PUSHES;
        (0..PUSHES)
            .map(|i| pushes::push(&config.account, safe, first + i, i, &now, "帮助"))
            .collect()
    };
    println!("{:<22} {:>12}", "stage", "ns per push");
    for safe in [false, true] {
        let mode = if safe { "safe" } else { "plain" };
        // One table for every pass, as in `serve`: the dedup cost includes a growing table.
        let app = Arc::new(App::new(&config, Arc::new(SystemClock)));
        let checks = app.checks();
        let decode = |(query, body): &(String, String)| {
            let query = PushQuery::parse(query).expect("query");
            decode_push(app.account(), &query, body.as_bytes(), &checks).expect("decodes")
        };
        let (mut respond_best, mut decode_best, mut answer_best, mut encode_best) =
            (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
        for _ in 0..PASSES {
            // The whole pipeline.
            let pushes = batch(safe);
            let started = Instant::now();
            rt.block_on(async {
                for (query, body) in &pushes {
                    let request = EdgeRequest {
                        method: "POST",
                        query,
                        body: body.as_bytes(),
                    };
                    let response = respond(&app, request).await;
                    debug_assert_eq!(response.status, 200, "{}", response.body);
                    black_box(response);
                }
            });
            respond_best = respond_best.min(started.elapsed());

            // Decoding alone: query, signatures, decryption, parse.
            let pushes = batch(safe);
            let started = Instant::now();
            for push in &pushes {
                black_box(decode(push));
            }
            decode_best = decode_best.min(started.elapsed());

            // Dedup, rules and reply preparation alone.
            let decoded: Vec<_> = pushes.iter().map(decode).collect();
            let started = Instant::now();
            let handled: Vec<_> = rt.block_on(async {
                let mut out = Vec::with_capacity(decoded.len());
                for push in &decoded {
                    out.push(app.answer(push).await.0);
                }
                out
            });
            answer_best = answer_best.min(started.elapsed());

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
            encode_best = encode_best.min(started.elapsed());
        }
        for (stage, best) in [
            ("respond", respond_best),
            ("decode_push", decode_best),
            ("answer", answer_best),
            ("encode_reply", encode_best),
        ] {
            let ns = best.as_nanos() / u128::from(PUSHES);
            println!("{:<22} {ns:>12}", format!("{mode}: {stage}"));
        }
    }
}
