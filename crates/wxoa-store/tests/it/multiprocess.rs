//! Many processes opening one new SQLite file at once and racing for one lock: exactly one wins.
//!
//! The test re-runs its own binary as the child processes (filtered to this one test, with an
//! environment variable switching it into child mode), so no extra binary has to be built.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use wxoa_api::TokenStore;
use wxoa_store::Store;

use crate::common::TempDir;

/// Set in a child: the SQLite file to race on.
const CHILD_ENV: &str = "WXOA_STORE_TEST_RACE_DB";
const CHILDREN: usize = 12;
const READY: &str = "@@wxoa-race-ready";
const RESULT: &str = "@@wxoa-race-result=";

#[test]
fn sqlite_processes_race_for_one_lock() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        child(Path::new(&db));
        return;
    }

    let dir = TempDir::new();
    let db = dir.path().join("race/wxoa.db");
    assert!(!db.exists());
    let exe = std::env::current_exe().unwrap();
    // All children start before the file exists, so they also race to create and migrate it.
    let mut children: Vec<(Child, BufReader<ChildStdout>)> = (0..CHILDREN)
        .map(|_| {
            let mut child = Command::new(&exe)
                .args([
                    "--exact",
                    "multiprocess::sqlite_processes_race_for_one_lock",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, &db)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let stdout = BufReader::new(child.stdout.take().unwrap());
            (child, stdout)
        })
        .collect();

    // Wait until every child has opened the store, then let them all race at once.
    for (i, (_, stdout)) in children.iter_mut().enumerate() {
        let seen = read_until(stdout, READY);
        assert!(seen.is_some(), "child {i} never opened the store");
    }
    for (child, _) in &mut children {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }

    let mut winners = 0;
    let mut losers = 0;
    for (i, (mut child, mut stdout)) in children.into_iter().enumerate() {
        let result = read_until(&mut stdout, RESULT);
        let status = child.wait().unwrap();
        assert!(status.success(), "child {i} failed: {status}");
        match result.as_deref() {
            Some("won") => winners += 1,
            Some("lost") => losers += 1,
            other => panic!("child {i} reported {other:?}"),
        }
    }
    assert_eq!((winners, losers), (1, CHILDREN - 1));
}

/// Reads lines until one contains `marker`; returns the text after it, or `None` at EOF.
fn read_until(stdout: &mut BufReader<ChildStdout>, marker: &str) -> Option<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            return None;
        }
        if let Some(pos) = line.find(marker) {
            return Some(line[pos + marker.len()..].trim().to_owned());
        }
    }
}

/// Child mode: open the shared file, report ready, wait for the start line, try the lock once.
fn child(db: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let store = Store::open(&url, Path::new("/")).await.unwrap();
        let tokens = store.token_store();
        println!("{READY}");
        std::io::stdout().flush().unwrap();

        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        assert_eq!(go.trim(), "go");

        let holder = format!("pid-{}", std::process::id());
        let won = tokens
            .try_lock("wx1:access_token", &holder, Duration::from_secs(60))
            .await
            .unwrap();
        println!("{RESULT}{}", if won { "won" } else { "lost" });
        std::io::stdout().flush().unwrap();
        store.close().await;
    });
}
