//! What the real-process tests share: temporary directories, free ports, programs on the
//! machine, and child processes (`wxoa serve` among them) with their output collected.

#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead as _, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
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

/// `name` on PATH or in the sbin directories (where Debian puts apache2 and nginx).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `wxoa ARGS --config CONFIG` with `WXOA_CONFIG` unset and `RUST_LOG=info`.
pub(crate) fn wxoa_command(args: &[&str], config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxoa"));
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("WXOA_CONFIG")
        .env("RUST_LOG", "info");
    command
}

/// A child process killed when dropped, the lines it prints on the pipes its command sets up
/// (stdout, stderr or both) collected.
pub(crate) struct Process {
    /// The program and its arguments, for failure messages.
    name: String,
    child: Child,
    log: Arc<Mutex<String>>,
    lines: Mutex<mpsc::Receiver<String>>,
}

impl Process {
    /// Starts `command` with stdin closed.
    pub(crate) fn spawn(command: &mut Command) -> Self {
        let program = Path::new(command.get_program());
        let name = std::iter::once(program.file_name().unwrap_or(program.as_os_str()))
            .chain(command.get_args())
            .map(|part| part.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let stdout = child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>);
        for pipe in [stdout, stderr].into_iter().flatten() {
            let sink = Arc::clone(&log);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(mut log) = sink.lock() {
                        log.push_str(&line);
                        log.push('\n');
                    }
                    let _ = tx.send(line);
                }
            });
        }
        Self {
            name,
            child,
            log,
            lines: Mutex::new(lines),
        }
    }

    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Everything collected so far.
    pub(crate) fn output(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The next line containing `needle`, the lines before it passed over (panics with the
    /// output when none comes within [`DEADLINE`] or the process closes its pipes first).
    pub(crate) fn wait_for_line(&self, needle: &str) -> String {
        let lines = self.lines.lock().expect("lines");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "{}: no line with {needle:?} ({e}):\n{}",
                    self.name,
                    self.output()
                ),
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wxoa serve --config CONFIG` (through `sh -c` with `shell_prefix` before it, when given);
/// killed when dropped, its stderr collected.
pub(crate) struct Server(Process);

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
        let server = Self(Process::spawn(
            command
                .env_remove("WXOA_CONFIG")
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        ));
        server.wait_for_log("wxoa serving");
        server
    }

    pub(crate) fn output(&self) -> String {
        self.0.output()
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
            .args([signal, &self.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to end and returns whether it exited successfully.
    pub(crate) fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.0.child.try_wait().expect("wait for wxoa") {
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

/// `wxoa mock` (with `extra` arguments) on a free port, its stdout collected: the process and
/// its base URL.
pub(crate) fn start_mock(config: &Path, extra: &[&str]) -> (Process, String) {
    let mut args = vec!["mock", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let proc = Process::spawn(
        wxoa_command(&args, config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let line = proc.wait_for_line("api.base_url = \"");
    let base = line.split('"').nth(1).expect("quoted URL").to_owned();
    (proc, base)
}

/// Polls `check` until it holds, panicking with `what` after `within`.
pub(crate) async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deletes the Redis keys matching `pattern` (a test's own prefix), leaving the shared server
/// as it was.
pub(crate) async fn remove_redis_keys(con: &mut redis::aio::MultiplexedConnection, pattern: &str) {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(con)
        .await
        .expect("list the test's Redis keys");
    if !keys.is_empty() {
        let () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(con)
            .await
            .expect("delete the test's Redis keys");
    }
}
