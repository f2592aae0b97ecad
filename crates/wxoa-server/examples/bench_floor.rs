//! The benchmark's floor: a minimal axum server that reads each POST body and returns one fixed reply.
//!
//! It runs on the same tokio runtime as `wxoa serve` (`tokio::runtime::Runtime::new()`, the
//! multi-threaded scheduler with one worker per CPU the process may run on, so one worker when
//! pinned with `taskset -c N`) and serves through the same `axum::serve`, so the difference
//! between this server and `wxoa serve` is exactly the push pipeline.
//!
//! ```text
//! cargo run --release -p wxoa-server --example bench_floor -- [--listen 127.0.0.1:18081] [--path /wechat]
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;

/// The fixed answer: a text reply of the same shape and size class as the bench rule's reply.
const REPLY: &str = "<xml><ToUserName><![CDATA[oBenchUser]]></ToUserName><FromUserName><![CDATA[gh_wxoabench]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[可用命令：帮助 — 显示本说明]]></Content></xml>";

/// The handler: take the whole body (as the real edge does), answer the fixed reply.
async fn answer(body: Bytes) -> impl IntoResponse {
    // Touch the body so the read cannot be optimised into a skip.
    std::hint::black_box(body.len());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        REPLY,
    )
}

/// `--listen ADDR` and `--path PATH` from the command line.
fn parse_args() -> Result<(SocketAddr, String), String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 18081).into();
    let mut path = "/wechat".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value()?;
                listen = v
                    .parse()
                    .map_err(|e| format!("--listen {v:?} is not an address: {e}"))?;
            }
            "--path" => path = value()?,
            other => return Err(format!("unknown argument {other:?}; use --listen, --path")),
        }
    }
    if !path.starts_with('/') {
        return Err(format!("--path must start with '/', got {path:?}"));
    }
    Ok((listen, path))
}

fn main() -> ExitCode {
    let (listen, path) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("bench_floor: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The same runtime construction as `wxoa serve`.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench_floor: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!(
            "bench_floor listening on {} path {path}",
            listener.local_addr()?
        );
        let router = Router::new().route(&path, post(answer));
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                // Ctrl-C or SIGTERM (the bench script stops it by pid).
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_floor: {e}");
            ExitCode::FAILURE
        }
    }
}
