//! What the real-process tests share: temporary directories, free ports and a `wxoa serve`
//! child with its log collected.

#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a process may take to start, or a condition to come true, on a loaded machine.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// A directory removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// A fresh directory under the system's temporary directory, named after `label`.
    pub(crate) fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("wxoa-{label}-{}", unique()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
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

/// A name part unique to this process and call.
pub(crate) fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// `wxoa serve --config CONFIG` (through `sh -c` with `shell_prefix` before it, when given);
/// killed when dropped, its stderr collected.
pub(crate) struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub(crate) fn start(config: &Path, shell_prefix: Option<&str>) -> Self {
        let bin = env!("CARGO_BIN_EXE_wxoa");
        let mut command = match shell_prefix {
            Some(prefix) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("{prefix}; exec \"$0\" serve --config \"$1\""))
                    .arg(bin)
                    .arg(config);
                c
            }
            None => {
                let mut c = Command::new(bin);
                c.arg("serve").arg("--config").arg(config);
                c
            }
        };
        let mut child = command
            .env_remove("WXOA_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wxoa serve");
        let pipe = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut log) = sink.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let server = Self { child, log };
        server.wait_for_log("wxoa serving");
        server
    }

    pub(crate) fn output(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub(crate) fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no `{needle}` from wxoa serve:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`-TERM`, `-KILL`, …) to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to end and returns whether it exited successfully.
    pub(crate) fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for wxoa") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "wxoa serve did not stop:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
