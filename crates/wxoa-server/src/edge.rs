//! The HTTP edge (axum): the callback route at each account's path, mapped onto
//! [`crate::service::respond`]; any other path is 404.

use std::future::Future as _;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::{BodyExt as _, Limited};

use crate::accounts::Accounts;
use crate::app::App;
use crate::error::EdgeError;
use crate::service::{self, EdgeRequest, EdgeResponse};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The router serving one account's callback at its `server.path`.
pub fn router(app: Arc<App>) -> Router {
    accounts_router(&Accounts::from(app))
}

/// The router serving every account's callback at its own path; a request to any other path
/// is answered 404 (plain text, naming no account).
pub fn accounts_router(accounts: &Accounts) -> Router {
    let mut router = Router::new();
    for app in accounts.iter() {
        let path = app.server().path.clone();
        router = router.route(
            &path,
            get(callback).post(callback).with_state(Arc::clone(app)),
        );
    }
    router.fallback(not_found)
}

async fn not_found(request: Request) -> Response {
    tracing::warn!(path = request.uri().path(), "no account at this path");
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN))],
        "not found: no account's callback is at this path\n",
    )
        .into_response()
}

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The callback's route: [`answer_callback`] for the route's account.
async fn callback(State(app): State<Arc<App>>, request: Request) -> Response {
    answer_callback(&app, request).await
}

/// Whether the connection service may hand `request` straight to [`answer_callback`] for the
/// account at its path, as the router would: a `GET` or `POST` to exactly that path. Anything
/// else (other methods, `HEAD`, other paths) goes through the router.
pub(crate) fn callback_app<'a, B>(
    accounts: &'a Accounts,
    request: &axum::http::Request<B>,
) -> Option<&'a Arc<App>> {
    let method = request.method();
    if method != axum::http::Method::POST && method != axum::http::Method::GET {
        return None;
    }
    accounts.by_path(request.uri().path())
}

/// The callback: method, query and body (at most `server.max_body_bytes` within
/// `server.body_timeout_ms`, read here rather than through body-limit and timeout layers,
/// which would cost every request an extensions map).
pub(crate) async fn answer_callback(app: &Arc<App>, request: Request) -> Response {
    let max = app.server().max_body_bytes;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return into_response(EdgeError::TooLarge { max }.into());
    }
    let timeout = Duration::from_millis(app.server().body_timeout_ms);
    let Some(body) = read_body_within(body, max, timeout).await else {
        return into_response(EdgeError::SlowBody { timeout }.into());
    };
    let body = match body {
        Ok(body) => body,
        Err(e) if is_length_limit(&*e) => {
            return into_response(EdgeError::TooLarge { max }.into());
        }
        Err(e) => {
            return into_response(
                EdgeError::Malformed(format!("cannot read the request body: {e}")).into(),
            );
        }
    };
    let request = EdgeRequest {
        method: parts.method.as_str(),
        query: parts.uri.query().unwrap_or(""),
        body: &body,
    };
    into_response(service::respond(app, request).await)
}

/// [`read_body`] within `timeout` (`None` past it). The timer is armed only when the body is
/// not all there yet: a push's body nearly always arrives with its head, and then the request
/// costs no clock read and no timer entry for it.
async fn read_body_within(
    body: Body,
    max: usize,
    timeout: Duration,
) -> Option<Result<Bytes, BoxError>> {
    let mut read = std::pin::pin!(read_body(body, max));
    match std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await {
        Poll::Ready(result) => Some(result),
        Poll::Pending => tokio::time::timeout(timeout, read).await.ok(),
    }
}

/// The whole body, at most `max` bytes. A body that arrives as one frame (a push nearly always
/// does) is handed on as it is, without the copy and bookkeeping of a general collector.
async fn read_body(body: Body, max: usize) -> Result<Bytes, BoxError> {
    let mut body = Limited::new(body, max);
    let mut single: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers carry nothing the callback reads
        };
        match single.take() {
            None if joined.is_empty() => single = Some(data),
            None => joined.extend_from_slice(&data),
            Some(first) => {
                joined.reserve(first.len() + data.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(single.unwrap_or_else(|| Bytes::from(joined)))
}

/// Whether reading the body failed because it was over the limit.
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn into_response(r: EdgeResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // The content type is one of the service's `&'static str` constants: wrap it without the
    // validating copy a `&str` header value costs on every response.
    // Built directly: a body's `into_response` would first set a content type of its own.
    let mut response = Response::new(Body::from(r.body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(r.content_type),
    );
    response
}
