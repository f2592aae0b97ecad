//! Shared test helpers: the fake platform with its catch-all 500, fixtures, clients, token mocks and log capture.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use wxoa_api::{Client, ClientBuilder, ManualClock};

pub(crate) const APPID: &str = "wx1234567890abcdef";
pub(crate) const SECRET: &str = "0123456789abcdef0123456789abcdef";
/// 2023-11-14T22:13:20Z.
pub(crate) const NOW: i64 = 1_700_000_000;
/// The token `stable_token.json` hands out.
pub(crate) const TOKEN: &str = "STABLE_TOKEN";

/// A JSON fixture from tests/fixtures.
pub(crate) fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A 200 answer with a fixture body.
pub(crate) fn ok_fixture(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture(name))
}

/// A fake platform that answers 500 to anything no test mock matched.
pub(crate) async fn server() -> MockServer {
    with_catch_all(MockServer::start().await).await
}

/// As [`server`], but a server of its own rather than one from wiremock's shared pool.
pub(crate) async fn own_server() -> MockServer {
    with_catch_all(MockServer::builder().start().await).await
}

async fn with_catch_all(s: MockServer) -> MockServer {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_string("no mock matched this request"))
        .with_priority(u8::MAX)
        .named("catch-all 500")
        .mount(&s)
        .await;
    s
}

/// A builder pointed at `server` with a manual clock at [`NOW`].
pub(crate) fn builder(server: &MockServer) -> (ClientBuilder, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(NOW));
    let b = Client::builder(APPID, SECRET)
        .base_url(server.uri())
        .clock(clock.clone());
    (b, clock)
}

/// A stable_token client pointed at `server`.
pub(crate) fn client(server: &MockServer) -> Client {
    builder(server).0.build().unwrap()
}

/// Mount `POST /cgi-bin/stable_token` answering `stable_token.json`, expected `times` times.
pub(crate) async fn mount_token(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(ok_fixture("stable_token.json"))
        .expect(times)
        .named("stable_token")
        .mount(server)
        .await;
}

/// Answers a token fetch with `{prefix}1`, `{prefix}2`, … (a new token each time).
#[derive(Debug)]
pub(crate) struct TokenSeq {
    pub(crate) prefix: &'static str,
    pub(crate) n: AtomicUsize,
}

impl TokenSeq {
    pub(crate) fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            n: AtomicUsize::new(0),
        }
    }
}

impl Respond for TokenSeq {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let i = self.n.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(
            json!({ "access_token": format!("{}{i}", self.prefix), "expires_in": 7200 }),
        )
    }
}

/// The requests the server got on `p`.
pub(crate) async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

/// The `access_token` query parameter of a request.
pub(crate) fn token_of(r: &Request) -> Option<String> {
    r.url
        .query_pairs()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

/// Captured log output (tracing, WARN and above).
#[derive(Clone, Default)]
pub(crate) struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Capture logs on this thread until the guard drops (use a current-thread runtime).
    pub(crate) fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sub = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::set_default(sub)
    }
}

impl Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
