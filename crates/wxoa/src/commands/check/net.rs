//! Why an HTTP request of `wxoa check` got no answer: timeout, refused, DNS, TLS or other,
//! read from the error chain so each check can say what to do about it.

use std::error::Error as _;

/// The kind of a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer in time.
    Timeout,
    /// The host answered the connection attempt with a refusal: nothing listens on the port.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// The TLS handshake failed (certificate, or not TLS at all on that port).
    Tls,
    /// Anything else (reset, unreachable network, …).
    Other,
}

/// The kind of `err` and a one-line description (the innermost causes, without the URL).
pub(crate) fn classify(err: &reqwest::Error) -> (Failure, String) {
    let mut causes: Vec<String> = Vec::new();
    let mut refused = false;
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            refused = true;
        }
        let text = e.to_string();
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = e.source();
    }
    let description = causes.last().cloned().unwrap_or_else(|| fallback(err));
    let all = causes.join(": ").to_lowercase();
    let kind = if err.is_timeout() || all.contains("timed out") {
        Failure::Timeout
    } else if refused || all.contains("connection refused") {
        Failure::Refused
    } else if all.contains("dns error")
        || all.contains("failed to lookup")
        || all.contains("name or service not known")
        || all.contains("no address associated")
    {
        Failure::Dns
    } else if [
        "certificate",
        "tls",
        "ssl",
        "handshake",
        "alert",
        "corrupt message",
    ]
    .iter()
    .any(|w| all.contains(w))
    {
        Failure::Tls
    } else {
        Failure::Other
    };
    (kind, description)
}

/// A description when the error has no cause to show.
fn fallback(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_owned()
    } else if err.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        // Bind then drop: the port is free and nothing listens on it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = reqwest::Client::new()
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(classify(&err).0, Failure::Refused, "{err:?}");
    }

    #[tokio::test]
    async fn plain_http_on_an_https_url_is_a_tls_failure() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let err = reqwest::Client::new()
            .get(format!("https://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(classify(&err).0, Failure::Tls, "{err:?}");
    }
}
