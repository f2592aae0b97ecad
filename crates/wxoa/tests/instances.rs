//! Three `wxoa serve` instances on one Redis and one PostgreSQL behind Debian's nginx
//! (round-robin over the shipped config's upstream), driven by the mock platform: a retry that
//! lands on another instance gets the one answer and the backend runs once; the slow policies
//! deliver exactly once even when the instance doing the work is killed (SIGKILL) after the
//! first attempt, because another instance takes the work over when its lease runs out; the
//! message log holds each push once.
//!
//! Needs nginx, `WXOA_TEST_REDIS_URL` and `WXOA_TEST_POSTGRES_URL` (`.ci/run` provides all
//! three); skipped otherwise. Its schema and Redis keys are removed whether it passes or not.

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::Connection as _;
use support::{
    DEADLINE, Server, TempDir, find_program, free_port, remove_redis_keys, unique, wait_until,
};
use wxoa_mock::api::{Follower, MockConfig, MockPlatform};
use wxoa_mock::driver::{Delivery, Driver, DriverConfig, Push};

const APPID: &str = "wx5c1d3a7be6f4a209";
const SECRET: &str = "instancessecret";
const TOKEN: &str = "wxoainstancestoken";
/// How long the backend takes for the pushes whose instance is killed: past the deadline
/// (4 s) with room to kill the instance before it finishes.
const KILLED_WORK: Duration = Duration::from_secs(8);
/// How long the backend takes for the push retried on another instance: past the first
/// attempt (5 s), within the second.
const RETRIED_WORK: Duration = Duration::from_secs(7);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// The backend: answers `done TAG` after the tag's delay and counts its calls per tag.
#[derive(Clone, Default)]
struct Backend {
    calls: Arc<Mutex<HashMap<&'static str, u32>>>,
    finished: Arc<Mutex<HashMap<&'static str, u32>>>,
}

impl Backend {
    const TAGS: [&'static str; 3] = ["RETRY", "KFKILL", "PHKILL"];

    fn count(map: &Mutex<HashMap<&'static str, u32>>, tag: &'static str) -> u32 {
        map.lock().unwrap().get(tag).copied().unwrap_or(0)
    }

    fn calls(&self, tag: &'static str) -> u32 {
        Self::count(&self.calls, tag)
    }

    fn finished(&self, tag: &'static str) -> u32 {
        Self::count(&self.finished, tag)
    }

    async fn serve(self) -> String {
        use axum::routing::post;
        let app = axum::Router::new().route(
            "/hook",
            post(move |body: String| {
                let backend = self.clone();
                async move {
                    let tag = Self::TAGS
                        .into_iter()
                        .find(|t| body.contains(t))
                        .unwrap_or("OTHER");
                    *backend.calls.lock().unwrap().entry(tag).or_default() += 1;
                    let delay = if tag == "RETRY" {
                        RETRIED_WORK
                    } else {
                        KILLED_WORK
                    };
                    tokio::time::sleep(delay).await;
                    *backend.finished.lock().unwrap().entry(tag).or_default() += 1;
                    axum::Json(serde_json::json!({ "text": format!("done {tag}") }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}/hook")
    }
}

/// What every instance shares.
struct Shared<'a> {
    mock_url: &'a str,
    hook: &'a str,
    store_url: &'a str,
    redis_url: &'a str,
    redis_prefix: &'a str,
}

/// One instance's config; returns its path and callback port.
fn write_config(dir: &Path, index: usize, shared: &Shared<'_>) -> (PathBuf, u16) {
    let (listen, admin) = (free_port(), free_port());
    let Shared {
        mock_url,
        hook,
        store_url,
        redis_url,
        redis_prefix,
    } = shared;
    let slow = |name: &str, tag: &str, policy: &str| {
        format!(
            "[[rules]]\nname = \"{name}\"\nprefix = \"{tag}\"\non_slow = \"{policy}\"\nreply = {{ webhook = \"{hook}\", timeout_ms = 30000 }}\n\n"
        )
    };
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"
reply_deadline_ms = 4000
placeholder = "稍等"

[account]
appid = "{APPID}"
token = "{TOKEN}"
secret = "{SECRET}"

[api]
base_url = "{mock_url}"

[store]
url = "{store_url}"
redis_url = "{redis_url}"
redis_prefix = "{redis_prefix}"

{}{}{}[[rules]]
name = "echo"
msg_type = "text"
reply = {{ text = "you said: {{{{ content }}}}" }}
"#,
        slow("retry", "RETRY", "retry"),
        slow("kf", "KFKILL", "kf"),
        slow("placeholder", "PHKILL", "placeholder"),
    );
    let path = dir.join(format!("wxoa-{index}.toml"));
    std::fs::write(&path, text).expect("write config");
    (path, listen)
}

/// nginx with the shipped site config, its upstream pointing at `backends` (round-robin),
/// logging which upstream served each request.
struct Nginx {
    child: Child,
    access_log: PathBuf,
    error_log: PathBuf,
}

impl Nginx {
    fn start(nginx: &Path, dir: &Path, backends: &[u16]) -> (Self, u16) {
        let port = free_port();
        let (logs, run) = (dir.join("logs"), dir.join("run"));
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/wxoa.conf"),
        )
        .expect("read deploy/nginx/wxoa.conf");
        // The plain-HTTP server only (the TLS one needs certificates, tested in deploy.rs).
        let http_only = shipped
            .split("\nserver {\n    listen 443")
            .next()
            .expect("a first part");
        let upstream: String = backends
            .iter()
            .map(|p| format!("server 127.0.0.1:{p};\n    "))
            .collect();
        let directives: String = http_only
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let site = directives
            .replace("server 127.0.0.1:8080;\n    ", &upstream)
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace(
                "access_log /var/log/nginx/wxoa.access.log;",
                &format!("access_log {}/access.log upstreamed;", logs.display()),
            )
            .replace("/var/log/nginx/", &format!("{}/", logs.display()));
        assert!(
            !site.contains(":8080") && !site.contains("/var/log") && !site.contains("listen 80"),
            "the shipped config changed; adapt this test:\n{site}"
        );
        let site_path = dir.join("site.conf");
        std::fs::write(&site_path, site).unwrap();
        let run_s = run.display();
        let mut conf = String::new();
        if Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"))
        {
            conf.push_str("user nobody nogroup;\n");
        }
        let _ = writeln!(
            conf,
            "worker_processes 1;\npid {run_s}/nginx.pid;\nerror_log {}/error.log info;\nevents {{ worker_connections 256; }}\nhttp {{\n  log_format upstreamed '$upstream_addr $status \"$request\"';\n  client_body_temp_path {run_s}/body;\n  proxy_temp_path {run_s}/proxy;\n  fastcgi_temp_path {run_s}/fastcgi;\n  uwsgi_temp_path {run_s}/uwsgi;\n  scgi_temp_path {run_s}/scgi;\n  access_log off;\n  include {};\n}}",
            logs.display(),
            site_path.display()
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(logs.join("startup.log"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start nginx");
        let started = Instant::now();
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                started.elapsed() < DEADLINE,
                "nginx did not listen: {}",
                std::fs::read_to_string(logs.join("startup.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        (
            Self {
                child,
                access_log: logs.join("access.log"),
                error_log: logs.join("error.log"),
            },
            port,
        )
    }

    /// The upstream port of each of the first `count` proxied pushes, in the order they
    /// ended, once nginx has logged them (it logs a request after answering it).
    fn upstreams(&self, count: usize) -> Vec<u16> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let seen = self.logged_upstreams();
            if seen.len() >= count {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "nginx logged {} pushes, not {count}: {seen:?}",
                seen.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The upstream port of each proxied push logged so far.
    fn logged_upstreams(&self) -> Vec<u16> {
        std::fs::read_to_string(&self.access_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"POST /wechat"))
            .filter_map(|l| {
                // With a retry to the next upstream the field lists each: the last answered.
                let field = l.split(' ').next()?;
                let last = field.rsplit(", ").next()?;
                last.rsplit(':').next()?.parse().ok()
            })
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text_of(delivery: &Delivery) -> String {
    delivery
        .outcome
        .reply()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// How many times the message log holds each msg_id.
async fn logged(pg: &sqlx::PgPool) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT msg_id, COUNT(*) FROM message_log WHERE msg_id IS NOT NULL GROUP BY msg_id",
    )
    .fetch_all(pg)
    .await
    .unwrap_or_default()
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behind_nginx_answer_once_and_take_over_from_a_killed_one() {
    let Some(nginx) = find_program("nginx") else {
        println!("skipped: nginx not installed (.ci/run installs it)");
        return;
    };
    let (Ok(pg_base), Ok(redis_url)) = (
        std::env::var("WXOA_TEST_POSTGRES_URL"),
        std::env::var("WXOA_TEST_REDIS_URL"),
    ) else {
        println!("skipped: WXOA_TEST_POSTGRES_URL or WXOA_TEST_REDIS_URL not set");
        return;
    };
    let id = unique().replace('-', "_");

    // One PostgreSQL schema and one Redis prefix for this test, removed at the end.
    let schema = format!("wxoa_instances_{id}");
    let mut pg = sqlx::PgConnection::connect(&pg_base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut pg)
        .await
        .unwrap();
    let separator = if pg_base.contains('?') { '&' } else { '?' };
    let store_url = format!("{pg_base}{separator}options=-csearch_path%3D{schema}");
    let redis_prefix = format!("wxoa_test_instances_{id}:");
    let redis = redis::Client::open(redis_url.as_str()).unwrap();
    let mut raw = redis.get_multiplexed_async_connection().await.unwrap();

    let scenario = tokio::spawn(scenario(
        nginx,
        store_url,
        redis_url,
        redis_prefix.clone(),
        raw.clone(),
    ))
    .await;

    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut pg)
        .await
        .unwrap();
    remove_redis_keys(&mut raw, &format!("{redis_prefix}*")).await;
    if let Err(failed) = scenario {
        std::panic::resume_unwind(failed.into_panic());
    }
}

/// The scenarios, on a schema and a Redis prefix of their own.
async fn scenario(
    nginx: PathBuf,
    store_url: String,
    redis_url: String,
    redis_prefix: String,
    raw: redis::aio::MultiplexedConnection,
) {
    let dir = TempDir::new("instances");
    let pool = sqlx::PgPool::connect(&store_url).await.unwrap();

    let mock = MockPlatform::new(MockConfig::new(APPID, SECRET));
    for openid in ["oRetry", "oKf", "oPh"] {
        mock.add_follower(Follower::new(openid).last_message_at(now()));
    }
    let mock_url = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let m = mock.clone();
        tokio::spawn(async move {
            let _ = m.serve(listener).await;
        });
        format!("http://{addr}")
    };
    let backend = Backend::default();
    let hook = backend.clone().serve().await;
    let shared = Shared {
        mock_url: &mock_url,
        hook: &hook,
        store_url: &store_url,
        redis_url: &redis_url,
        redis_prefix: &redis_prefix,
    };
    let configs: Vec<(PathBuf, u16)> = (0..3)
        .map(|i| write_config(dir.path(), i, &shared))
        .collect();
    // The first instance migrates the schema; the others find it done.
    let mut servers: Vec<Option<Server>> = Vec::new();
    for (config, _) in &configs {
        servers.push(Some(Server::start(config, None)));
    }
    let ports: Vec<u16> = configs.iter().map(|(_, port)| *port).collect();
    let (proxy, nginx_port) = Nginx::start(&nginx, dir.path(), &ports);
    let instance_of = |port: u16| ports.iter().position(|p| *p == port);
    let logs = |servers: &[Option<Server>]| -> String {
        servers
            .iter()
            .flatten()
            .map(Server::output)
            .collect::<Vec<_>>()
            .join("\n----\n")
            + &std::fs::read_to_string(&proxy.error_log).unwrap_or_default()
    };

    let target = url::Url::parse(&format!("http://127.0.0.1:{nginx_port}/wechat")).unwrap();
    let driver = Driver::new(DriverConfig::new(target, TOKEN, APPID, "gh_instances")).unwrap();

    // 1. A retry lands on another instance and gets the one answer; the backend runs once.
    let delivery = driver
        .push(&Push::text("RETRY 请稍候").from("oRetry").msg_id(1001))
        .await
        .unwrap();
    assert_eq!(
        delivery.attempts.len(),
        2,
        "{delivery:#}\n{}",
        logs(&servers)
    );
    assert!(!delivery.attempts[0].ok(), "the first attempt lapses");
    assert_eq!(text_of(&delivery), "done RETRY", "{delivery:#}");
    let upstreams = proxy.upstreams(2);
    assert_eq!(upstreams.len(), 2, "{upstreams:?}");
    assert_ne!(
        upstreams[0], upstreams[1],
        "the retry went to another instance"
    );
    assert_eq!(backend.calls("RETRY"), 1, "the backend ran once");

    // 2. 客服 policy: the instance doing the work is killed after answering `success`; another
    //    takes the work over and the result is sent once.
    let delivery = driver
        .push(&Push::text("KFKILL 查询").from("oKf").msg_id(2001))
        .await
        .unwrap();
    assert_eq!(delivery.attempts.len(), 1, "{delivery:#}");
    assert!(delivery.outcome.reply().is_none(), "answered success");
    let owner = instance_of(proxy.upstreams(3)[2]).unwrap();
    wait_until("the kf push in the log", Duration::from_secs(2), || {
        let pg = pool.clone();
        async move { logged(&pg).await.contains_key("2001") }
    })
    .await;
    servers[owner].take().unwrap().signal("-KILL");
    assert_eq!(
        backend.finished("KFKILL"),
        0,
        "killed before the work was done"
    );
    let kf_sent = |mock: &MockPlatform| {
        mock.outbox()
            .iter()
            .filter(|m| m.touser == "oKf" && m.text == "done KFKILL")
            .count()
    };
    wait_until("the taken-over kf result", Duration::from_secs(40), || {
        let n = kf_sent(&mock);
        async move { n > 0 }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(kf_sent(&mock), 1, "sent once:\n{}", logs(&servers));
    assert!(
        logs(&servers).contains("taking over slow work"),
        "{}",
        logs(&servers)
    );

    // 3. Placeholder policy: the owner is killed; the survivor parks the result, and the
    //    follower's next message carries it, once.
    let delivery = driver
        .push(&Push::text("PHKILL 生成").from("oPh").msg_id(3001))
        .await
        .unwrap();
    assert_eq!(text_of(&delivery), "稍等", "{delivery:#}");
    let owner = instance_of(proxy.upstreams(4)[3]).unwrap();
    wait_until(
        "the placeholder push in the log",
        Duration::from_secs(2),
        || {
            let pg = pool.clone();
            async move { logged(&pg).await.contains_key("3001") }
        },
    )
    .await;
    servers[owner].take().unwrap().signal("-KILL");
    assert_eq!(backend.finished("PHKILL"), 0);
    let parked_key = format!("{redis_prefix}parked:{APPID}:oPh");
    wait_until(
        "the taken-over result parked",
        Duration::from_secs(40),
        || {
            let mut raw = raw.clone();
            let key = parked_key.clone();
            async move {
                redis::cmd("LLEN")
                    .arg(&key)
                    .query_async::<i64>(&mut raw)
                    .await
                    .unwrap_or(0)
                    > 0
            }
        },
    )
    .await;
    let next = driver
        .push(&Push::text("你好").from("oPh").msg_id(3002))
        .await
        .unwrap();
    let seen = text_of(&next);
    assert!(
        seen.contains("done PHKILL") && seen.contains("you said: 你好"),
        "{next:#}\n{}",
        logs(&servers)
    );
    let after = driver
        .push(&Push::text("再见").from("oPh").msg_id(3003))
        .await
        .unwrap();
    assert!(!text_of(&after).contains("done PHKILL"), "{after:#}");
    assert_eq!(text_of(&after), "you said: 再见");

    // 4. Each push is in the message log once.
    let expected = ["1001", "2001", "3001", "3002", "3003"];
    wait_until("every push logged", Duration::from_secs(20), || {
        let pg = pool.clone();
        async move {
            let rows = logged(&pg).await;
            expected.iter().all(|id| rows.contains_key(*id))
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = logged(&pool).await;
    for id in expected {
        assert_eq!(rows.get(id), Some(&1), "msg {id} logged once: {rows:?}");
    }
    assert_eq!(rows.len(), expected.len(), "{rows:?}");

    drop(servers);
    drop(proxy);
    pool.close().await;
}
