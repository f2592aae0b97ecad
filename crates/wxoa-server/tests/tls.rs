//! HTTPS: `serve_tls` on port 0 with a self-signed certificate, URL verification over TLS,
//! and a renewed certificate picked up by new connections without a restart.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio::sync::oneshot;
use wxoa_server::tls::{CertStore, TlsError, TlsOptions, serve_tls};

/// The reload poll interval in these tests.
const POLL: Duration = Duration::from_millis(50);

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wxoa-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

/// Replace `path` atomically (write beside it, then rename), as renewal tools do.
fn replace(path: &Path, contents: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A new client (no pooled connection, no TLS session to resume) that trusts only `cert_pem`.
fn client_trusting(cert_pem: &str, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .resolve("localhost", addr)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A signed verification GET from a new client trusting only `cert_pem`; returns the answer.
async fn verify(cert_pem: &str, addr: SocketAddr) -> reqwest::Result<String> {
    let client = client_trusting(cert_pem, addr);
    let url = format!(
        "https://localhost:{}/wechat?{}&echostr=8723459871234",
        addr.port(),
        plain_query(NOW, "4711")
    );
    let response = client.get(url).send().await?;
    assert_eq!(response.status(), 200);
    response.text().await
}

#[tokio::test]
async fn serves_https_and_picks_up_a_renewed_certificate() {
    let dir = temp_dir("renew");
    let (cert1, key1) = self_signed();
    let (cert2, key2) = self_signed();
    let cert_path = dir.join("fullchain.pem");
    let key_path = dir.join("privkey.pem");
    std::fs::write(&cert_path, &cert1).unwrap();
    std::fs::write(&key_path, &key1).unwrap();

    let certs = Arc::new(CertStore::load(&cert_path, &key_path).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = TlsOptions {
        reload_interval: POLL,
        ..TlsOptions::default()
    };
    let server = tokio::spawn(serve_tls(listener, app(""), certs, options, async {
        let _ = stopped.await;
    }));

    let (old, new) = (cert1.as_str(), cert2.as_str());
    assert_eq!(verify(old, addr).await.unwrap(), "8723459871234");
    let refused = verify(new, addr).await.unwrap_err();
    assert!(refused.is_connect(), "{refused:?}");

    // Renewal: key first, then certificate (in between, the pair does not match and the old
    // certificate keeps serving).
    replace(&key_path, &key2);
    assert_eq!(verify(old, addr).await.unwrap(), "8723459871234");
    replace(&cert_path, &cert2);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match verify(new, addr).await {
            Ok(body) => {
                assert_eq!(body, "8723459871234");
                break;
            }
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the renewed certificate was not picked up: {e:?}"
                );
                tokio::time::sleep(POLL).await;
            }
        }
    }
    let refused = verify(old, addr).await.unwrap_err();
    assert!(refused.is_connect(), "{refused:?}");

    // A broken renewal keeps the certificate in force.
    replace(&cert_path, "-----BEGIN CERTIFICATE-----\nbroken\n");
    for _ in 0..3 {
        tokio::time::sleep(POLL).await;
        assert_eq!(verify(new, addr).await.unwrap(), "8723459871234");
    }

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_wrong_signature_is_refused_over_tls_too() {
    let dir = temp_dir("refuse");
    let (cert, key) = self_signed();
    std::fs::write(dir.join("c.pem"), &cert).unwrap();
    std::fs::write(dir.join("k.pem"), &key).unwrap();
    let certs = Arc::new(CertStore::load(dir.join("c.pem"), dir.join("k.pem")).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve_tls(
        listener,
        app(""),
        certs,
        TlsOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let client = client_trusting(&cert, addr);
    let url = format!(
        "https://localhost:{}/wechat?signature=0000&timestamp={NOW}&nonce=1&echostr=abc",
        addr.port()
    );
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 403);
    // Plain HTTP on the TLS port gets no answer from the callback.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://{addr}/wechat?{}&echostr=x",
            plain_query(NOW, "1")
        ))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_pem_at_start_up_names_the_file() {
    let dir = temp_dir("badpem");
    let (cert, _) = self_signed();
    let (_, other_key) = self_signed();
    std::fs::write(dir.join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.join("other-key.pem"), &other_key).unwrap();
    std::fs::write(dir.join("empty.pem"), "").unwrap();

    let err = CertStore::load(dir.join("empty.pem"), dir.join("other-key.pem")).unwrap_err();
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    assert!(err.to_string().contains("empty.pem"), "{err}");

    let err = CertStore::load(dir.join("cert.pem"), dir.join("empty.pem")).unwrap_err();
    assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
    assert!(err.to_string().contains("empty.pem"), "{err}");

    let err = CertStore::load(dir.join("cert.pem"), dir.join("other-key.pem")).unwrap_err();
    assert!(matches!(err, TlsError::Mismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("other-key.pem") && text.contains("cert.pem"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
