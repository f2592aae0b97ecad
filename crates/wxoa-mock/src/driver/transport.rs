//! How a push reaches the server: real HTTP ([`HttpTransport`]) or an in-process axum router
//! ([`RouterTransport`], no socket, so tests can run on paused tokio time).
//!
//! A transport only moves bytes; the driver applies the platform's timeout around
//! [`Transport::send`] and judges what comes back.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use axum::http::{Method, Request, header};
use axum::response::Response;
use bytes::Bytes;
use url::Url;

/// A boxed, sendable future (what [`Transport::send`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The largest response body a transport reads; the platform gives up on anything near this.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// One request of the platform: the verification `GET` or a push `POST` (`text/xml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: Method,
    /// The full URL, query included.
    pub url: Url,
    /// The body (empty for `GET`).
    pub body: Bytes,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body, as received.
    pub body: Bytes,
}

/// Why no response came back (the timeout is the driver's, not the transport's).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Nothing listens there, or the connection was refused or reset before a response.
    #[error(
        "cannot connect to {url}: {reason}; is the server running and listening on that address?"
    )]
    Connect {
        /// The URL tried.
        url: String,
        /// The underlying error.
        reason: String,
    },
    /// The request failed after connecting (protocol error, body too large, …).
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The URL tried.
        url: String,
        /// The underlying error.
        reason: String,
    },
}

/// Moves one request to the server and its response back.
pub trait Transport: Send + Sync + fmt::Debug {
    /// Send `request` and read the whole response.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

/// Real HTTP through reqwest: no proxy, no redirects followed (a redirect is a failure to the
/// platform), the whole body read.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A transport with its own client.
    ///
    /// # Errors
    /// The HTTP client cannot be built (TLS backend initialisation).
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .user_agent("Mozilla/4.0")
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| TransportError::Request {
                url: String::new(),
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self { client })
    }

    /// A transport over an existing client (configure it not to follow redirects).
    #[must_use]
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl Transport for HttpTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let url = request.url.to_string();
            let builder = if request.method == Method::GET {
                self.client.get(request.url)
            } else {
                self.client
                    .request(request.method, request.url)
                    .header(header::CONTENT_TYPE, "text/xml")
                    .body(request.body)
            };
            let response = builder.send().await.map_err(|e| {
                let reason = error_chain(&e);
                if e.is_connect() {
                    TransportError::Connect {
                        url: url.clone(),
                        reason,
                    }
                } else {
                    TransportError::Request {
                        url: url.clone(),
                        reason,
                    }
                }
            })?;
            let status = response.status().as_u16();
            if response
                .content_length()
                .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
            {
                return Err(TransportError::Request {
                    url,
                    reason: format!("response body is larger than {MAX_RESPONSE_BYTES} bytes"),
                });
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| TransportError::Request {
                    url: url.clone(),
                    reason: format!("reading the response body: {}", error_chain(&e)),
                })?;
            Ok(HttpResponse { status, body })
        })
    }
}

/// The error and its sources on one line (reqwest's top-level message alone is vague).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// An axum router called in process: the URL's path and query are used, scheme and host only
/// fill the `Host` header. Nothing touches a socket, so tokio's paused time advances through the
/// handler's sleeps deterministically.
#[derive(Debug, Clone)]
pub struct RouterTransport {
    router: axum::Router,
}

impl RouterTransport {
    /// Serve requests with `router` (e.g. the server's own edge router).
    #[must_use]
    pub fn new(router: axum::Router) -> Self {
        Self { router }
    }
}

impl Transport for RouterTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let router = self.router.clone();
        Box::pin(async move {
            let url = request.url.to_string();
            let fail = |reason: String| TransportError::Request {
                url: url.clone(),
                reason,
            };
            let path_and_query = match request.url.query() {
                Some(q) => format!("{}?{q}", request.url.path()),
                None => request.url.path().to_owned(),
            };
            let mut builder = Request::builder()
                .method(request.method.clone())
                .uri(path_and_query);
            if let Some(host) = request.url.host_str() {
                let host = match request.url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_owned(),
                };
                builder = builder.header(header::HOST, host);
            }
            if request.method != Method::GET {
                builder = builder.header(header::CONTENT_TYPE, "text/xml");
            }
            let http_request = builder
                .body(Body::from(request.body))
                .map_err(|e| fail(format!("cannot build the request: {e}")))?;
            let response = match call(router, http_request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| fail(format!("reading the response body: {e}")))?;
            Ok(HttpResponse { status, body })
        })
    }
}

/// Call a tower service through axum's extension trait (whose supertrait is tower's `Service`).
async fn call<S>(mut service: S, request: Request<Body>) -> Result<Response, Infallible>
where
    S: axum::ServiceExt<Request<Body>, Response = Response, Error = Infallible>,
{
    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(request).await
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;

    #[tokio::test]
    async fn router_transport_passes_path_query_and_body() {
        let router = axum::Router::new().route(
            "/wechat",
            post(|q: axum::extract::RawQuery, body: String| async move {
                format!("{}|{body}", q.0.unwrap_or_default())
            }),
        );
        let t = RouterTransport::new(router);
        let response = t
            .send(HttpRequest {
                method: Method::POST,
                url: Url::parse("http://example.test/wechat?a=1&b=2").unwrap(),
                body: Bytes::from_static(b"<xml/>"),
            })
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(&response.body[..], b"a=1&b=2|<xml/>");
        let missing = t
            .send(HttpRequest {
                method: Method::POST,
                url: Url::parse("http://example.test/other").unwrap(),
                body: Bytes::new(),
            })
            .await
            .unwrap();
        assert_eq!(missing.status, 404);
    }

    #[tokio::test]
    async fn http_transport_reports_connection_refused() {
        // Bind then drop a listener: the port is then (almost certainly) closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let t = HttpTransport::new().unwrap();
        let err = t
            .send(HttpRequest {
                method: Method::POST,
                url: Url::parse(&format!("http://{addr}/wechat")).unwrap(),
                body: Bytes::new(),
            })
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Connect { .. }), "{err:?}");
        assert!(err.to_string().contains("is the server running"), "{err}");
    }
}
