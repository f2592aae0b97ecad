//! Many processes opening one new SQLite file at once and racing for one lock, or one push's
//! dedup claim: exactly one wins.
//!
//! The test re-runs its own binary as the child processes (filtered to this one test, with an
//! environment variable switching it into child mode), so no extra binary has to be built.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use wxoa_api::TokenStore;
use wxoa_store::{DedupClaim, SharedDedup, Store};

use crate::common::TempDir;

/// Set in a child: the SQLite file to race on.
const CHILD_ENV: &str = "WXOA_STORE_TEST_RACE_DB";
/// Set in a child of the dedup race: the SQLite file.
const DEDUP_CHILD_ENV: &str = "WXOA_STORE_TEST_DEDUP_DB";
const CHILDREN: usize = 12;
const READY: &str = "@@wxoa-race-ready";
const RESULT: &str = "@@wxoa-race-result=";
const CLAIMED: &str = "@@wxoa-race-claimed=";

#[test]
fn sqlite_processes_race_for_one_lock() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        child(Path::new(&db));
        return;
    }

    let dir = TempDir::new();
    let db = dir.path().join("race/wxoa.db");
    assert!(!db.exists());
    // All children start before the file exists, so they also race to create and migrate it.
    let children = start_children(
        "multiprocess::sqlite_processes_race_for_one_lock",
        CHILD_ENV,
        &db,
    );

    let mut winners = 0;
    let mut losers = 0;
    for (i, mut kid) in children.into_iter().enumerate() {
        let result = read_until(&mut kid.stdout, RESULT);
        let status = kid.child.wait().unwrap();
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

/// A running child: its process, the pipe to its stdin, and its stdout.
struct Kid {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// Spawns the children of `test` (this binary, filtered to it, with `env` set to `db`), waits
/// until each has opened the store, then starts them all at once.
fn start_children(test: &str, env: &str, db: &Path) -> Vec<Kid> {
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<Kid> = (0..CHILDREN)
        .map(|_| {
            let mut child = Command::new(&exe)
                .args(["--exact", test, "--nocapture", "--test-threads=1"])
                .env(env, db)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let stdin = child.stdin.take().unwrap();
            let stdout = BufReader::new(child.stdout.take().unwrap());
            Kid {
                child,
                stdin,
                stdout,
            }
        })
        .collect();
    for (i, kid) in children.iter_mut().enumerate() {
        let seen = read_until(&mut kid.stdout, READY);
        assert!(seen.is_some(), "child {i} never opened the store");
    }
    for kid in &mut children {
        kid.stdin.write_all(b"go\n").unwrap();
        kid.stdin.flush().unwrap();
    }
    children
}

/// CGI: every delivery of a push is a process of its own. Processes claiming one push at
/// once: exactly one handles it; the others wait, and get its answer once it completes.
#[test]
fn sqlite_processes_claim_one_push() {
    if let Ok(db) = std::env::var(DEDUP_CHILD_ENV) {
        dedup_child(Path::new(&db));
        return;
    }

    let dir = TempDir::new();
    let db = dir.path().join("dedup/wxoa.db");
    let mut children = start_children(
        "multiprocess::sqlite_processes_claim_one_push",
        DEDUP_CHILD_ENV,
        &db,
    );
    // Everyone claims before the winner may complete, so every other process really waits.
    let mut winner = None;
    for (i, kid) in children.iter_mut().enumerate() {
        match read_until(&mut kid.stdout, CLAIMED).as_deref() {
            Some("first") => {
                assert_eq!(winner, None, "children {winner:?} and {i} both got First");
                winner = Some(i);
            }
            Some("inflight") => {}
            other => panic!("child {i} claimed {other:?}"),
        }
    }
    let winner = winner.expect("one child gets First");
    children[winner].stdin.write_all(b"complete\n").unwrap();
    children[winner].stdin.flush().unwrap();

    let mut answers = Vec::new();
    for (i, mut kid) in children.into_iter().enumerate() {
        let result = read_until(&mut kid.stdout, RESULT);
        let status = kid.child.wait().unwrap();
        assert!(status.success(), "child {i} failed: {status}");
        answers.push(result.unwrap_or_else(|| panic!("child {i} reported nothing")));
    }
    let expected = answers[winner].clone();
    assert!(expected.starts_with("answer-from-pid-"), "{expected}");
    assert!(
        answers.iter().all(|a| *a == expected),
        "every process gets the winner's answer: {answers:?}"
    );
}

/// Dedup child: open the shared file, report ready, wait for the start line, claim the push
/// and report how. The winner answers when told to; the others wait for its answer.
fn dedup_child(db: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let store = Store::open(&url, Path::new("/")).await.unwrap();
        let dedup = store.dedup();
        println!("{READY}");
        std::io::stdout().flush().unwrap();

        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "go");

        let key = "gh_0123456789ab:oUser:24000000000000001";
        let holder = format!("pid-{}", std::process::id());
        let lease = Duration::from_secs(30);
        let window = Duration::from_secs(60);
        let answer = match dedup.claim(key, &holder, lease, window).await.unwrap() {
            DedupClaim::First => {
                println!("{CLAIMED}first");
                std::io::stdout().flush().unwrap();
                line.clear();
                std::io::stdin().read_line(&mut line).unwrap();
                assert_eq!(line.trim(), "complete");
                let answer = format!("answer-from-{holder}");
                assert!(dedup.complete(key, &holder, &answer).await.unwrap());
                answer
            }
            DedupClaim::InFlight => {
                println!("{CLAIMED}inflight");
                std::io::stdout().flush().unwrap();
                let answer = dedup.wait(key, Duration::from_secs(5)).await.unwrap();
                answer.expect("the winner's answer before the timeout")
            }
            DedupClaim::Done(answer) => panic!("nobody completed, yet Done({answer})"),
        };
        println!("{RESULT}{answer}");
        std::io::stdout().flush().unwrap();
        store.close().await;
    });
}
