//! 10 000 connections opening and closing against `serve`: the server stays healthy and
//! leaks no file descriptors. A test binary of its own, so that no other test's sockets are
//! counted in this process's descriptor table.

mod support;

use support::raw::*;
use tokio::io::AsyncWriteExt as _;

/// Open descriptors of this process (Linux); `None` elsewhere.
fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_opening_and_closing_leave_no_trace() {
    let server = Running::plain(app_with("")).await;
    assert_eq!(push_status(&server, "1", 1).await, 200);
    let before = open_fds();
    let addr = server.addr;
    for batch in 0..100u64 {
        let mut clients = tokio::task::JoinSet::new();
        for i in 0..100u64 {
            let n = batch * 100 + i;
            clients.spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                match n % 4 {
                    // Connect and close at once.
                    0 => {}
                    // Half a request head, then gone.
                    1 => stream.write_all(b"POST /wechat?sig").await.unwrap(),
                    // A whole push, answered.
                    2 => {
                        let answer = exchange(&mut stream, &push_request("2", 2)).await.unwrap();
                        assert_eq!(answer.status, 200, "{}", answer.text);
                    }
                    // A reset instead of a close.
                    _ => stream.set_zero_linger().unwrap(),
                }
            });
        }
        while let Some(done) = clients.join_next().await {
            done.unwrap();
        }
    }
    assert_eq!(push_status(&server, "3", 3).await, 200);
    if let Some(before) = before {
        // The server closes its ends as it notices the clients' closes: poll until it has.
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let now = open_fds().unwrap_or(0);
            if now <= before + 2 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{now} descriptors open after the churn, {before} before"
            );
            tokio::task::yield_now().await;
        }
    }
    server.stop().await;
}
