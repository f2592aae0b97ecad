//! The HTTP edge (axum): the callback route, GET verification and POST pushes, one log line a
//! request.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;
use crate::error::EdgeError;
use crate::push::{self, PushQuery};

/// The router serving the callback at `server.path`.
pub fn router(app: Arc<App>) -> Router {
    let path = app.server().path.clone();
    // Leave room above the limit so the body extractor does not cut a message the XML check
    // would report more precisely; the XML reader enforces the exact limit.
    let limit = app.server().max_body_bytes;
    Router::new()
        .route(&path, get(verify).post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

async fn verify(
    State(app): State<Arc<App>>,
    query: Result<Query<PushQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return EdgeError::Malformed("query string does not parse".to_owned()).into_response();
    };
    match push::verify_url(app.account(), &query, &app.checks()) {
        Ok(echostr) => {
            tracing::info!(kind = "verify", status = 200, "URL verification answered");
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                echostr.to_owned(),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn receive(
    State(app): State<Arc<App>>,
    query: Result<Query<PushQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let Ok(Query(query)) = query else {
        return EdgeError::Malformed("query string does not parse".to_owned()).into_response();
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return EdgeError::TooLarge {
                max: app.server().max_body_bytes,
            }
            .into_response();
        }
        Err(rejection) => {
            return EdgeError::Malformed(rejection.body_text()).into_response();
        }
    };
    let decoded = match push::decode_push(app.account(), &query, &body, &app.checks()) {
        Ok(decoded) => decoded,
        Err(e) => return e.into_response(),
    };
    let (handled, source) = app.answer(&decoded).await;
    let now = app.now();
    let body = push::encode_reply(app.account(), &decoded, handled.reply.as_ref(), now);
    tracing::info!(
        mode = decoded.mode.as_str(),
        msg_type = %decoded.inbound.msg_type,
        event = decoded.inbound.event_name().unwrap_or(""),
        rule = handled.rule.as_deref().unwrap_or("-"),
        reply = handled.reply.as_ref().map_or("success", |r| r.msg_type()),
        source = source.as_str(),
        status = 200,
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "push answered"
    );
    let content_type = if handled.reply.is_some() {
        "application/xml; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
