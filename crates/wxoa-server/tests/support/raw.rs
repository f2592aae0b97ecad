//! A raw HTTP/1.1 client for the socket-level tests: a server on 127.0.0.1:0, requests written
//! byte for byte (malformed ones included), answers read until the server closes.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wxoa_server::clock::FixedClock;
use wxoa_server::{App, Config};

use super::{NOW, config_text, plain_query, text_xml};

/// The longest any single exchange in these tests may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The test app with extra `[server]` lines.
pub fn app_with(server_extra: &str) -> Arc<App> {
    app_from_text(&config_text("").replacen(
        "[server]\n",
        &format!("[server]\n{server_extra}\n"),
        1,
    ))
}

/// The app of a whole config text, on the fixed test clock.
pub fn app_from_text(text: &str) -> Arc<App> {
    let config = Config::from_toml(text, Path::new("wxoa.toml")).expect("test config");
    Arc::new(App::new(&config, Arc::new(FixedClock::new(NOW))))
}

/// `serve` running on 127.0.0.1:0.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Running {
    /// Start `serve` for `app`.
    pub async fn plain(app: Arc<App>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(wxoa_server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Wrap a server task started elsewhere (e.g. `serve_tls`).
    pub fn from_task(
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: JoinHandle<io::Result<()>>,
    ) -> Self {
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// A new TCP connection to it.
    pub async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// Send the stop signal without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stop it and wait until it has finished (within [`DEADLINE`]).
    pub async fn stop(mut self) {
        self.signal_stop();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the server stops within the deadline")
            .unwrap()
            .unwrap();
    }
}

/// A status line and everything after it.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The whole response as text (lossy).
    pub text: String,
}

impl Answer {
    fn parse(bytes: &[u8]) -> io::Result<Self> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let status = text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("no status line in {} bytes: {text:?}", bytes.len()),
                )
            })?;
        Ok(Self { status, text })
    }
}

/// Write `request` whole (as a naive client does, without waiting for an interim answer), then
/// read until the server closes. Fails the test when this takes longer than [`DEADLINE`].
pub async fn exchange<S>(stream: &mut S, request: &[u8]) -> io::Result<Answer>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(DEADLINE, async {
        stream.write_all(request).await?;
        stream.flush().await?;
        read_answer(stream).await
    })
    .await
    .expect("an answer within the deadline")
}

/// Read until the server closes and parse the response.
pub async fn read_answer<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Answer> {
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Answer::parse(&response)
}

/// Read one response whose body is `Content-Length` long, leaving the connection open.
pub async fn read_one<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Answer> {
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Answer::parse(&response);
        }
        response.extend_from_slice(&chunk[..n]);
        let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if response.len() >= end + 4 + length {
            return Answer::parse(&response);
        }
    }
}

/// Wait until the server closes `stream` (EOF or reset), reading and discarding what it
/// sends; fails the test after [`DEADLINE`].
pub async fn closed_by_server<S: AsyncRead + Unpin>(stream: &mut S) {
    tokio::time::timeout(DEADLINE, async {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    })
    .await
    .expect("the server closes the connection within the deadline");
}

/// A signed plaintext text push ("使用") with `Connection: close`.
pub fn push_request(nonce: &str, msg_id: u64) -> Vec<u8> {
    push_request_with(nonce, msg_id, "close")
}

/// A signed plaintext text push ("使用") with the given `Connection` header.
pub fn push_request_with(nonce: &str, msg_id: u64, connection: &str) -> Vec<u8> {
    let body = text_xml("使用", msg_id);
    format!(
        "POST /wechat?{} HTTP/1.1\r\nHost: wxoa.test\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
        plain_query(NOW, nonce),
        body.len()
    )
    .into_bytes()
}

/// A POST head followed by `body`, with a declared length.
pub fn post(target: &str, body: &[u8]) -> Vec<u8> {
    request("POST", target, body)
}

/// A `method` head followed by `body`, with a declared length and `Connection: close`.
pub fn request(method: &str, target: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: wxoa.test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Send a push on a new connection and return the answer's status.
pub async fn push_status(server: &Running, nonce: &str, msg_id: u64) -> u16 {
    let mut stream = server.connect().await;
    exchange(&mut stream, &push_request(nonce, msg_id))
        .await
        .unwrap()
        .status
}
