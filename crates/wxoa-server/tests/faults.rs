//! Faults while serving, at the router: Redis stopped and started again, the SQLite log
//! locked, PostgreSQL unreachable, the API never answering. Pushes are answered throughout;
//! what could not be done at once is retried, counted, and reported by `/readyz`.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use sqlx::Connection as _;
use support::*;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;
use wxoa_server::App;
use wxoa_server::backends::{Connected, DedupScope, connect};
use wxoa_server::clock::FixedClock;
use wxoa_server::metrics::{admin_router, install_recorder};
use wxoa_server::service::{EdgeRequest, respond};
use wxoa_store::ParkingBackend as _;

/// How long a condition may take to come true on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(40);

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        use std::hash::{BuildHasher, RandomState};
        let suffix = RandomState::new().hash_one(std::time::SystemTime::now());
        let dir = std::env::temp_dir().join(format!(
            "wxoa-faults-{label}-{}-{suffix:x}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The app for the test config with `[store]` (and any other sections) `store`.
async fn connected_app(dir: &TempDir, sections: &str) -> (Arc<App>, Connected) {
    let text = config_text("").replace("[account]", &format!("{sections}\n\n[account]"));
    let config = wxoa_server::Config::from_toml(&text, &dir.0.join("wxoa.toml")).unwrap();
    let clock = Arc::new(FixedClock::new(NOW));
    let connected = connect(&config, clock.clone(), DedupScope::Process)
        .await
        .unwrap();
    let app = Arc::new(App::with_backends(
        &config,
        clock,
        connected.backends.clone(),
    ));
    (app, connected)
}

/// Sends a text message (encrypted) and returns the status and the reply's Content.
async fn push_text(app: &Arc<App>, content: &str, msg_id: u64) -> (u16, Option<String>) {
    let (query, body) = encrypted_push(
        &text_xml(content, msg_id),
        NOW,
        &format!("n{msg_id}"),
        false,
    );
    let response = respond(
        app,
        EdgeRequest {
            method: "POST",
            query: &query,
            body: body.as_bytes(),
        },
    )
    .await;
    let content = (response.status == 200 && response.body != "success")
        .then(|| field(&open_reply(&response.body), "Content"))
        .flatten();
    (response.status, content)
}

/// `/readyz` as text, or as JSON when `json`.
async fn readyz(app: &Arc<App>, json: bool) -> (StatusCode, String) {
    let mut request = Request::get("/readyz");
    if json {
        request = request.header(header::ACCEPT, "application/json");
    }
    let response = admin_router(Arc::clone(app), None)
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Polls `check` until it holds, panicking with `what` after [`DEADLINE`].
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the metric line starting with `series` (name and labels), if rendered.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// A private `redis-server` on `port`, without persistence; killed when dropped.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    /// `None` when `redis-server` is not installed.
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(Self { child, port })
    }

    async fn wait_listening(&self) {
        let port = self.port;
        wait_until("redis-server listens", || async move {
            TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
    }

    /// Stops the server at once (SIGKILL), as a crash would.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// How many keys match `pattern` (through `redis-cli`).
    fn keys(&self, pattern: &str) -> usize {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--scan", "--pattern", pattern])
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn redis_stopped_while_serving_falls_back_and_reconnects_by_itself() {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: redis-server is not installed");
        return;
    }
    let handle = install_recorder().unwrap();
    let port = free_port().await;
    let mut redis = PrivateRedis::start(port).unwrap();
    redis.wait_listening().await;
    let dir = TempDir::new("redis");
    let (app, connected) = connected_app(
        &dir,
        &format!("[store]\nurl = \"sqlite://wxoa.db\"\nredis_url = \"redis://127.0.0.1:{port}\""),
    )
    .await;

    assert_eq!(
        push_text(&app, "before", 1).await,
        (200, Some("you said: before".to_owned()))
    );
    assert!(redis.keys("wxoa:dedup:*") >= 1, "dedup on redis");
    let (status, body) = readyz(&app, false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("ready:"), "{body}");

    redis.kill();
    // Answered throughout, a retry of the same message answered alike (local dedup).
    for msg_id in 2..6 {
        let text = format!("during {msg_id}");
        let expected = (200, Some(format!("you said: {text}")));
        assert_eq!(push_text(&app, &text, msg_id).await, expected);
        assert_eq!(push_text(&app, &text, msg_id).await, expected, "the retry");
    }
    let (status, body) = readyz(&app, false).await;
    assert_eq!(status, StatusCode::OK, "degraded still takes traffic");
    assert!(
        body.starts_with("degraded:") && body.contains(&format!("redis redis://127.0.0.1:{port}")),
        "{body}"
    );
    let (status, json) = readyz(&app, true).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["status"], "degraded", "{json}");
    assert!(
        json["problems"][0]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{json}"
    );
    let text = handle.render();
    assert_eq!(metric(&text, "wxoa_redis_up"), Some(0.0), "{text}");
    assert!(
        metric(&text, r#"wxoa_redis_fallback_total{use="dedup"}"#).unwrap_or(0.0) >= 4.0,
        "{text}"
    );

    // Redis back on the same port: the probe notices, without any push to trigger it.
    let redis = PrivateRedis::start(port).unwrap();
    redis.wait_listening().await;
    wait_until("readyz says ready again", || async {
        readyz(&app, false).await.1.starts_with("ready:")
    })
    .await;
    assert_eq!(metric(&handle.render(), "wxoa_redis_up"), Some(1.0));
    assert_eq!(redis.keys("wxoa:dedup:*"), 0, "a new, empty server");
    assert_eq!(
        push_text(&app, "after", 9).await,
        (200, Some("you said: after".to_owned()))
    );
    assert!(redis.keys("wxoa:dedup:*") >= 1, "dedup back on redis");
    if let Some(writer) = connected.log_writer {
        assert!(writer.shutdown(Duration::from_secs(10)).await);
    }
    connected.store.close().await;
}

#[tokio::test]
async fn a_locked_sqlite_log_is_retried_and_written_once_released() {
    let dir = TempDir::new("locked");
    let (app, connected) = connected_app(&dir, "[store]\nurl = \"sqlite://wxoa.db\"").await;
    let log = app.backends().message_log.clone().unwrap();
    let path = dir.0.join("wxoa.db");
    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();

    const PUSHES: u64 = 6;
    for msg_id in 1..=PUSHES {
        let text = format!("locked {msg_id}");
        assert_eq!(
            push_text(&app, &text, msg_id).await,
            (200, Some(format!("you said: {text}"))),
            "answered while the database is locked"
        );
    }
    // The writer waits out the busy timeout, fails, and says so.
    wait_until("a write attempt failed", || async {
        log.problem().is_some()
    })
    .await;
    let problem = log.problem().unwrap();
    assert!(problem.contains("locked"), "{problem}");
    let (status, body) = readyz(&app, false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.starts_with("degraded:") && body.contains("message log"),
        "{body}"
    );
    assert_eq!(log.stats().written, 0);

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    holder.close().await.unwrap();
    wait_until("every entry is written", || async {
        log.stats().written == PUSHES
    })
    .await;
    let stats = log.stats();
    assert_eq!((stats.lost, stats.dropped), (0, 0), "{stats:?}");
    assert_eq!(log.problem(), None);
    assert!(readyz(&app, false).await.1.starts_with("ready:"));
    let rows = connected
        .store
        .message_log()
        .recent_messages(100)
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, PUSHES);
    if let Some(writer) = connected.log_writer {
        assert!(writer.shutdown(Duration::from_secs(10)).await);
    }
    connected.store.close().await;
}

/// A TCP proxy in front of PostgreSQL that can be cut: while cut, it closes the connections
/// it carries and every new one at once.
struct Proxy {
    addr: std::net::SocketAddr,
    open: Arc<AtomicBool>,
    carried: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let carried = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (gate, tasks) = (Arc::clone(&open), Arc::clone(&carried));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            addr,
            open,
            carried,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for task in self.carried.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn postgres_unreachable_while_serving_is_retried_and_written_when_back() {
    let Ok(base) = std::env::var("WXOA_TEST_POSTGRES_URL") else {
        println!("skipped: WXOA_TEST_POSTGRES_URL not set");
        return;
    };
    let schema = format!("wxoa_faults_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let mut url = reqwest::Url::parse(&base).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let separator = if url.query().is_some() { '&' } else { '?' };
    let store_url = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let dir = TempDir::new("postgres");
    let (app, connected) = connected_app(&dir, &format!("[store]\nurl = \"{store_url}\"")).await;
    let log = app.backends().message_log.clone().unwrap();

    assert_eq!(push_text(&app, "first", 1).await.0, 200);
    wait_until("the first entry is written", || async {
        log.stats().written == 1
    })
    .await;

    proxy.cut();
    const PUSHES: u64 = 5;
    for msg_id in 2..2 + PUSHES {
        let text = format!("cut {msg_id}");
        assert_eq!(
            push_text(&app, &text, msg_id).await,
            (200, Some(format!("you said: {text}"))),
            "answered while PostgreSQL is unreachable"
        );
    }
    wait_until("a write attempt failed", || async {
        log.problem().is_some()
    })
    .await;
    assert!(readyz(&app, false).await.1.contains("message log"));

    proxy.restore();
    wait_until("every entry is written", || async {
        log.stats().written == 1 + PUSHES
    })
    .await;
    let stats = log.stats();
    assert_eq!((stats.lost, stats.dropped), (0, 0), "{stats:?}");
    let rows = connected
        .store
        .message_log()
        .recent_messages(100)
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, 1 + PUSHES);
    if let Some(writer) = connected.log_writer {
        assert!(writer.shutdown(Duration::from_secs(10)).await);
    }
    connected.store.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
}

/// Accepts connections and never answers; counts them.
async fn silent_api() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (base, accepted)
}

#[tokio::test]
async fn an_api_that_never_answers_leaves_pushes_answered_and_results_parked() {
    let (base, _accepted) = silent_api().await;
    let long = "长".repeat(1000);
    let dir = TempDir::new("api");
    let sections = format!(
        "[store]\nurl = \"sqlite://wxoa.db\"\n\n[api]\nbase_url = \"{base}\"\ntimeout_ms = 300"
    );
    let text = config_text("secret = \"app-secret\"")
        .replace("[account]", &format!("{sections}\n\n[account]"))
        .replace(
            "[[rules]]\nname = \"help\"",
            &format!("[[rules]]\nname = \"long\"\nkeyword = \"长文\"\nreply = {{ text = \"{long}\" }}\n\n[[rules]]\nname = \"help\""),
        );
    let config = wxoa_server::Config::from_toml(&text, &dir.0.join("wxoa.toml")).unwrap();
    let clock = Arc::new(FixedClock::new(NOW));
    let connected = connect(&config, clock.clone(), DedupScope::Process)
        .await
        .unwrap();
    assert!(connected.api.is_some());
    let app = Arc::new(App::with_backends(
        &config,
        clock,
        connected.backends.clone(),
    ));

    // The first 2047 bytes are the passive reply; the rest would go by 客服消息, whose token
    // fetch times out: it is parked instead.
    let (status, content) = push_text(&app, "长文", 1).await;
    assert_eq!(status, 200);
    let first = content.unwrap();
    assert!(
        first.len() <= 2047 && first.starts_with("长长"),
        "{}",
        first.len()
    );
    let parking = connected.store.parking();
    wait_until("the rest is parked", || async {
        !parking.parked_openids(APPID).await.unwrap().is_empty()
    })
    .await;
    // The parked rest waits for the follower (read as of the pushes' time).
    let parked = parking
        .with_clock(Arc::new(wxoa_api::ManualClock::new(NOW)))
        .take_parked(APPID, "oUser")
        .await
        .unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].rule, "long");
    assert!(parked[0].answer.contains('长'), "{}", parked[0].answer);
    // Later pushes are answered as usual.
    assert_eq!(
        push_text(&app, "hi", 2).await,
        (200, Some("you said: hi".to_owned()))
    );
    if let Some(writer) = connected.log_writer {
        assert!(writer.shutdown(Duration::from_secs(10)).await);
    }
    connected.store.close().await;
}
