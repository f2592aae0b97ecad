//! Hostile clients at the socket: oversized, chunked, slow, malformed and numerous requests
//! against `serve` and `serve_tls` on 127.0.0.1:0, each with the status it must get.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::raw::*;
use support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use wxoa_proto::signature::sign;

/// A body limit small enough that the refused bodies below stay quick to send.
const SMALL_BODY: &str = "max_body_bytes = 65536";

#[tokio::test]
async fn a_declared_oversized_body_sent_anyway_reads_413_every_time() {
    let server = Running::plain(app_with(SMALL_BODY)).await;
    let target = format!("/wechat?{}", plain_query(NOW, "1"));
    // More than the socket buffers hold: the client is still writing when the server answers.
    let request = post(&target, &vec![b'a'; 16 * 1024 * 1024]);
    // Without lingering, the client's write failed with a broken pipe or a reset.
    for round in 0..10 {
        let mut stream = server.connect().await;
        let answer = exchange(&mut stream, &request)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(answer.status, 413, "round {round}: {}", answer.text);
        assert!(answer.text.contains("65536"), "{}", answer.text);
    }
    assert_eq!(push_status(&server, "2", 2).await, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let server = Running::plain(app_with(SMALL_BODY)).await;
    let mut request = format!(
        "POST /wechat?{} HTTP/1.1\r\nHost: wxoa.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        plain_query(NOW, "3")
    )
    .into_bytes();
    for _ in 0..64 {
        request.extend_from_slice(b"4000\r\n");
        request.extend_from_slice(&[b'a'; 0x4000]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let mut stream = server.connect().await;
    let answer = exchange(&mut stream, &request).await.unwrap();
    assert_eq!(answer.status, 413, "{}", answer.text);
    assert!(answer.text.contains("max_body_bytes"), "{}", answer.text);
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn a_query_string_of_1_mb_is_refused_with_431_and_the_server_carries_on() {
    let server = Running::plain(app_with("")).await;
    let request = long_verification("4", 1024 * 1024);
    let mut stream = server.connect().await;
    let answer = exchange(&mut stream, request.as_bytes()).await.unwrap();
    assert_eq!(answer.status, 431, "{}", answer.text);
    assert_eq!(push_status(&server, "5", 5).await, 200);
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn a_header_block_over_max_header_bytes_is_431() {
    let server = Running::plain(app_with("max_header_bytes = 8192")).await;
    let target = format!("/wechat?{}", plain_query(NOW, "6"));
    let body = text_xml("使用", 6);
    let head = |cookie: usize| {
        format!(
            "POST {target} HTTP/1.1\r\nHost: wxoa.test\r\nCookie: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            "c".repeat(cookie),
            body.len()
        )
    };
    let mut stream = server.connect().await;
    let answer = exchange(&mut stream, head(9000).as_bytes()).await.unwrap();
    assert_eq!(answer.status, 431, "{}", answer.text);
    // Under the limit, the same request is answered.
    let mut stream = server.connect().await;
    let answer = exchange(&mut stream, head(7000).as_bytes()).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn a_request_target_over_64_kib_is_414_when_the_head_limit_allows_it() {
    let server = Running::plain(app_with("max_header_bytes = 131072")).await;
    let request = long_verification("7", 70_000);
    let mut stream = server.connect().await;
    let answer = exchange(&mut stream, request.as_bytes()).await.unwrap();
    assert_eq!(answer.status, 414, "{}", answer.text);
    drop(stream);
    server.stop().await;
}

/// A signed verification GET whose `echostr` is `len` bytes long.
fn long_verification(nonce: &str, len: usize) -> String {
    format!(
        "GET /wechat?{}&echostr={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        plain_query(NOW, nonce),
        "e".repeat(len)
    )
}

/// `bytes` with `from` replaced by raw `0xFF 0xFE`, which is never UTF-8.
fn with_invalid_utf8(bytes: &[u8], from: &str) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from} in the request"));
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&bytes[at + from.len()..]);
    out
}

#[tokio::test]
async fn invalid_utf8_in_every_field_gets_a_clear_answer() {
    let server = Running::plain(app_with("")).await;
    let push = push_request("8", 8);
    let with_body = |body: &[u8]| post(&format!("/wechat?{}", plain_query(NOW, "8")), body);
    let text = text_xml("使用", 8);
    let (safe_query, _) = encrypted_push(&text, NOW, "9", false);
    let bad_plaintext = crypt().encrypt(&with_invalid_utf8(text.as_bytes(), "使用"));
    let msg_sig = sign(&[TOKEN, &NOW.to_string(), "9", &bad_plaintext]);
    let safe_query = safe_query.replace(
        &safe_query[safe_query.find("msg_signature=").unwrap()..],
        &format!("msg_signature={msg_sig}"),
    );
    let safe_body = format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{bad_plaintext}]]></Encrypt></xml>"
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("method", with_invalid_utf8(&push, "POST"), 400),
        ("path", with_invalid_utf8(&push, "wechat"), 400),
        (
            "raw byte in the query",
            with_invalid_utf8(&push, "openid"),
            400,
        ),
        // Escaped, the bytes decode to U+FFFD: the signature no longer matches.
        (
            "escaped byte in the query",
            String::from_utf8(push.clone())
                .unwrap()
                .replacen("nonce=8", "nonce=%FF%FE", 1)
                .into_bytes(),
            403,
        ),
        ("header name", with_invalid_utf8(&push, "Content-Type"), 400),
        // Header values are not read by the callback, as the platform's own are ASCII.
        ("header value", with_invalid_utf8(&push, "text/xml"), 200),
        (
            "XML body",
            with_body(&with_invalid_utf8(text.as_bytes(), "使用")),
            400,
        ),
        (
            "XML element name",
            with_body(&with_invalid_utf8(text.as_bytes(), "Content")),
            400,
        ),
        (
            "decrypted message",
            post(&format!("/wechat?{safe_query}"), safe_body.as_bytes()),
            400,
        ),
    ];
    for (field, request, expected) in cases {
        let mut stream = server.connect().await;
        let answer = exchange(&mut stream, &request)
            .await
            .unwrap_or_else(|e| panic!("{field}: {e}"));
        assert_eq!(answer.status, expected, "{field}: {}", answer.text);
    }
    server.stop().await;
}

#[tokio::test]
async fn billion_laughs_and_external_entities_are_refused_unexpanded() {
    let server = Running::plain(app_with("")).await;
    let target = format!("/wechat?{}", plain_query(NOW, "10"));
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        let refs = format!("&{previous};").repeat(10);
        laughs.push_str(&format!("<!ENTITY lol{level} \"{refs}\">\n"));
    }
    laughs.push_str("]>\n<xml><Content>&lol9;</Content></xml>");
    let external = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><ToUserName>a</ToUserName><Content>&e;</Content></xml>";
    let parameter = "<!DOCTYPE x [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> %p;]><xml/>";
    for body in [laughs.as_str(), external, parameter] {
        let mut stream = server.connect().await;
        let answer = exchange(&mut stream, &post(&target, body.as_bytes()))
            .await
            .unwrap();
        assert_eq!(answer.status, 400, "{}", answer.text);
        assert!(answer.text.contains("DOCTYPE"), "{}", answer.text);
        assert!(!answer.text.contains("lollol"), "{}", answer.text);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_thousand_slow_clients_do_not_stop_pushes_being_answered() {
    let server = Running::plain(app_with("")).await;
    let mut slow = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut stream = server.connect().await;
        // A request head that never ends (slowloris).
        stream.write_all(b"POST /wechat?signature=").await.unwrap();
        slow.push(stream);
    }
    for (i, nonce) in ["11", "12", "13"].into_iter().enumerate() {
        assert_eq!(push_status(&server, nonce, 11 + i as u64).await, 200);
    }
    drop(slow);
    server.stop().await;
}

#[tokio::test]
async fn slow_heads_and_idle_connections_are_closed_after_header_timeout_ms() {
    let server = Running::plain(app_with("header_timeout_ms = 200")).await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = server.connect().await;
        stream.write_all(b"POST /wechat?signature=").await.unwrap();
        slow.push(stream);
    }
    // Idle after one answered request on a keep-alive connection.
    let mut idle = server.connect().await;
    idle.write_all(&push_request_with("14", 14, "keep-alive"))
        .await
        .unwrap();
    let answer = read_one(&mut idle).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    closed_by_server(&mut idle).await;
    for stream in &mut slow {
        closed_by_server(stream).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_body_slower_than_body_timeout_ms_is_408() {
    let server = Running::plain(app_with("body_timeout_ms = 200")).await;
    let mut stream = server.connect().await;
    let head = format!(
        "POST /wechat?{} HTTP/1.1\r\nHost: wxoa.test\r\nContent-Length: 1000\r\n\r\n<xml>",
        plain_query(NOW, "15")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(DEADLINE, read_answer(&mut stream))
        .await
        .expect("answered within the deadline")
        .unwrap();
    assert_eq!(answer.status, 408, "{}", answer.text);
    assert!(answer.text.contains("body_timeout_ms"), "{}", answer.text);
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn max_connections_holds_new_clients_until_a_connection_closes() {
    let server = Running::plain(app_with("max_connections = 2")).await;
    // Two keep-alive connections hold both slots.
    let mut held = Vec::new();
    for nonce in ["16", "17"] {
        let mut stream = server.connect().await;
        stream
            .write_all(&push_request_with(nonce, 16, "keep-alive"))
            .await
            .unwrap();
        assert_eq!(read_one(&mut stream).await.unwrap().status, 200);
        held.push(stream);
    }
    let mut third = server.connect().await; // completes in the kernel's backlog
    third.write_all(&push_request("18", 18)).await.unwrap();
    let mut first_byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read(&mut first_byte)).await;
    assert!(early.is_err(), "answered beyond max_connections: {early:?}");
    drop(held.pop());
    let answer = tokio::time::timeout(DEADLINE, read_answer(&mut third))
        .await
        .expect("answered once a slot is free")
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Closed by the client too, so the server's lingering close ends at once.
    drop((held, third));
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_shuts_its_sending_side_while_waiting_still_gets_the_answer() {
    // A backend that answers only when the test lets it, so the push is still being handled
    // when the client's end of stream reaches the server.
    let received = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let gates = (Arc::clone(&received), Arc::clone(&release));
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || async move {
            gates.0.notify_one();
            gates.1.notified().await;
            r#"{"text": "慢的回答"}"#
        }),
    );
    tokio::spawn(async move { axum::serve(backend, hook).await.unwrap() });
    let server = Running::plain(app_from_text(&format!(
        "{}\n[[rules]]\nname = \"slow\"\nevent = \"CLICK\"\nevent_key = \"SLOW\"\nreply = {{ webhook = \"http://{backend_addr}/hook\" }}\n",
        config_text("")
    )))
    .await;
    let body = event_xml("CLICK", "SLOW");
    let request = format!(
        "POST /wechat?{} HTTP/1.1\r\nHost: wxoa.test\r\nContent-Length: {}\r\n\r\n{body}",
        plain_query(NOW, "21"),
        body.len()
    );
    let mut stream = server.connect().await;
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(DEADLINE, received.notified())
        .await
        .expect("the push reaches the backend");
    // The end of stream is at the server before the backend answers.
    stream.shutdown().await.unwrap();
    release.notify_one();
    let answer = tokio::time::timeout(DEADLINE, read_answer(&mut stream))
        .await
        .expect("an answer within the deadline")
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.text.contains("慢的回答"), "{}", answer.text);
    server.stop().await;
}

/// A request written on its own connection, answered as the status and the body.
async fn over_the_socket(
    server: &Running,
    method: &str,
    target: &str,
    body: &str,
) -> (u16, String) {
    let mut stream = server.connect().await;
    let answer = exchange(&mut stream, &request(method, target, body.as_bytes()))
        .await
        .unwrap();
    let body = answer
        .text
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (answer.status, body)
}

/// The same request through the axum router in process.
async fn through_the_router(
    app: &Arc<wxoa_server::App>,
    method: &str,
    target: &str,
    body: &str,
) -> (u16, String) {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(target)
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap();
    let response = wxoa_server::edge::router(Arc::clone(app))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_socket_answers_every_request_as_the_router_does() {
    // The callback's GET and POST skip the router at the socket; everything else goes through
    // it. Both must answer alike, byte for byte.
    let app = app_with("");
    let server = Running::plain(Arc::clone(&app)).await;
    let verify = format!(
        "/wechat?{}&echostr=2958099473294221495",
        plain_query(NOW, "22")
    );
    let bad_signature = format!("/wechat?signature=00&timestamp={NOW}&nonce=23");
    let requests: Vec<(&str, String, String)> = vec![
        ("GET", verify.clone(), String::new()),
        ("GET", bad_signature.clone(), String::new()),
        ("GET", "/wechat".to_owned(), String::new()),
        (
            "POST",
            format!("/wechat?{}", plain_query(NOW, "24")),
            text_xml("使用", 24),
        ),
        (
            "POST",
            format!("/wechat?{}", plain_query(NOW, "25")),
            text_xml("产品 茶", 25),
        ),
        (
            "POST",
            format!("/wechat?{}", plain_query(NOW, "26")),
            "<xml><oops".to_owned(),
        ),
        ("POST", bad_signature, text_xml("使用", 27)),
        ("PUT", verify.clone(), String::new()),
        ("DELETE", "/wechat".to_owned(), String::new()),
        ("GET", "/wechat/".to_owned(), String::new()),
        ("POST", "/other".to_owned(), text_xml("使用", 28)),
    ];
    for (method, target, body) in &requests {
        let socket = over_the_socket(&server, method, target, body).await;
        let router = through_the_router(&app, method, target, body).await;
        assert_eq!(socket, router, "{method} {target}");
    }
    // HEAD has no body on the wire; its status is the router's.
    let mut stream = server.connect().await;
    let head = format!("HEAD {verify} HTTP/1.1\r\nHost: wxoa.test\r\nConnection: close\r\n\r\n");
    let answer = exchange(&mut stream, head.as_bytes()).await.unwrap();
    assert_eq!(
        answer.status,
        through_the_router(&app, "HEAD", &verify, "").await.0
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_and_refuses_new_connections() {
    let mut server = Running::plain(app_with("")).await;
    let request = push_request("19", 19);
    let (first, rest) = request.split_at(request.len() - 20);
    let mut stream = server.connect().await;
    stream.write_all(first).await.unwrap();
    // Wait until the server has read the head (and so serves this request) before stopping:
    // a second request on another connection proves the accept loop ran past it.
    assert_eq!(push_status(&server, "20", 20).await, 200);
    server.signal_stop();
    let addr = server.addr;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listener is still open after the stop signal"
        );
        tokio::task::yield_now().await;
    }
    let answer = exchange(&mut stream, rest).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.text.contains("发送 产品+名称 查询产品"),
        "{}",
        answer.text
    );
    drop(stream);
    server.stop().await;
}

mod tls {
    use super::*;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::TlsConnector;
    use wxoa_server::tls::{CertStore, TlsOptions, serve_tls};

    /// `serve_tls` with a fresh self-signed certificate, and a connector trusting it.
    async fn start(server_extra: &str) -> (Running, TlsConnector, std::path::PathBuf) {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "wxoa-hostile-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(dir.join("c.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), cert.signing_key.serialize_pem()).unwrap();
        let certs = Arc::new(CertStore::load(dir.join("c.pem"), dir.join("k.pem")).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_tls(
            listener,
            app_with(server_extra),
            certs,
            TlsOptions::default(),
            async {
                let _ = stopped.await;
            },
        ));
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(cert.cert.der().to_vec()))
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (
            Running::from_task(addr, stop, task),
            TlsConnector::from(Arc::new(config)),
            dir,
        )
    }

    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    async fn connect(
        server: &Running,
        connector: &TlsConnector,
    ) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = server.connect().await;
        let name = ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await.unwrap()
    }

    #[tokio::test]
    async fn over_tls_a_refused_body_reads_413_and_a_long_query_431() {
        let (server, connector, dir) = start(SMALL_BODY).await;
        let target = format!("/wechat?{}", plain_query(NOW, "21"));
        let request = post(&target, &vec![b'a'; 16 * 1024 * 1024]);
        for round in 0..3 {
            let mut stream = connect(&server, &connector).await;
            let answer = exchange(&mut stream, &request)
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(answer.status, 413, "round {round}: {}", answer.text);
        }
        let long = long_verification("22", 1024 * 1024);
        let mut stream = connect(&server, &connector).await;
        let answer = exchange(&mut stream, long.as_bytes()).await.unwrap();
        assert_eq!(answer.status, 431, "{}", answer.text);
        let mut stream = connect(&server, &connector).await;
        let answer = exchange(&mut stream, &push_request("23", 23))
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text);
        drop(stream);
        server.stop().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn over_tls_slow_heads_are_closed_after_header_timeout_ms() {
        let (server, connector, dir) = start("header_timeout_ms = 200").await;
        let mut stream = connect(&server, &connector).await;
        stream.write_all(b"POST /wechat?signature=").await.unwrap();
        stream.flush().await.unwrap();
        closed_by_server(&mut stream).await;
        drop(stream);
        server.stop().await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}
