//! The HTTP edge (axum): the callback route at `server.path`, mapped onto
//! [`crate::service::respond`].

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;
use crate::error::EdgeError;
use crate::service::{self, EdgeRequest, EdgeResponse};

/// The router serving the callback at `server.path`.
pub fn router(app: Arc<App>) -> Router {
    let path = app.server().path.clone();
    let limit = app.server().max_body_bytes;
    Router::new()
        .route(&path, get(callback).post(callback))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

async fn callback(
    State(app): State<Arc<App>>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return into_response(
                EdgeError::TooLarge {
                    max: app.server().max_body_bytes,
                }
                .into(),
            );
        }
        Err(rejection) => {
            return into_response(EdgeError::Malformed(rejection.body_text()).into());
        }
    };
    let request = EdgeRequest {
        method: method.as_str(),
        query: query.as_deref().unwrap_or(""),
        body: &body,
    };
    into_response(service::respond(&app, request).await)
}

fn into_response(r: EdgeResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // The content type is one of the service's `&'static str` constants: wrap it without the
    // validating copy a `&str` header value costs on every response.
    let content_type = HeaderValue::from_static(r.content_type);
    (status, [(header::CONTENT_TYPE, content_type)], r.body).into_response()
}
