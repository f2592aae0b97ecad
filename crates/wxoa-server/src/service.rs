//! The framework-free request handler shared by `serve` (axum) and `cgi`: one request in
//! (method, query string, body), one response out (status, content type, body), one log line.

use std::sync::Arc;
use std::time::Instant;

use crate::access_line::{self, AccessLine};
use crate::app::App;
use crate::error::EdgeError;
use crate::message_log::Answered;
use crate::push::{self, PushQuery};

/// A request as the edge sees it.
#[derive(Debug, Clone, Copy)]
pub struct EdgeRequest<'a> {
    /// `GET` or `POST` (anything else is refused with 405).
    pub method: &'a str,
    /// The raw query string, without the `?`.
    pub query: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// A response as the edge sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeResponse {
    /// HTTP status code.
    pub status: u16,
    /// The Content-Type header.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

const TEXT: &str = "text/plain; charset=utf-8";
const XML: &str = "application/xml; charset=utf-8";

impl EdgeResponse {
    fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: TEXT,
            body: body.into(),
        }
    }
}

impl From<EdgeError> for EdgeResponse {
    fn from(e: EdgeError) -> Self {
        // User-caused: a warning, not an error; the reason is short and safe to echo.
        tracing::warn!(status = e.status().as_u16(), reason = %e, "request refused");
        metrics::counter!(crate::metrics::REFUSED, "reason" => e.label()).increment(1);
        Self::text(e.status().as_u16(), e.to_string())
    }
}

/// Answer one request to the callback URL.
pub async fn respond(app: &Arc<App>, request: EdgeRequest<'_>) -> EdgeResponse {
    // The info line and the message log report the latency: no clock read when both are off.
    let started =
        (access_line::enabled() || app.backends().message_log.is_some()).then(Instant::now);
    let query = match PushQuery::parse(request.query) {
        Ok(q) => q,
        Err(e) => return e.into(),
    };
    match request.method {
        "GET" => match push::verify_url(app.account(), &query, &app.checks()) {
            Ok(echostr) => {
                tracing::info!(kind = "verify", status = 200, "URL verification answered");
                EdgeResponse::text(200, echostr)
            }
            Err(e) => e.into(),
        },
        "POST" => {
            let checks = app.checks();
            let decoded = match push::decode_push(app.account(), &query, request.body, &checks) {
                Ok(decoded) => decoded,
                Err(e) => return e.into(),
            };
            let (handled, source) = app.answer(&decoded).await;
            let now = app.now();
            let body = push::encode_reply(app.account(), &decoded, handled.reply.as_ref(), now);
            let elapsed = started.map(|at| at.elapsed()).unwrap_or_default();
            access_line::write(&AccessLine {
                account: &app.account().name,
                mode: decoded.mode.as_str(),
                msg_type: &decoded.inbound.msg_type,
                event: decoded.inbound.event_name(),
                rule: handled.rule.as_deref().unwrap_or("-"),
                reply: handled.reply.as_ref().map_or("success", |r| r.msg_type()),
                source: source.as_str(),
                status: 200,
                latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            });
            app.push_metrics()
                .answered(decoded.mode, &decoded.inbound.msg_type);
            let content_type = if handled.reply.is_some() { XML } else { TEXT };
            if let Some(log) = &app.backends().message_log
                && source.is_logged()
            {
                log.record_with(|| {
                    Answered::new(Arc::clone(app.appid()), decoded, handled, source, elapsed)
                });
            }
            EdgeResponse {
                status: 200,
                content_type,
                body,
            }
        }
        other => {
            tracing::warn!(method = other, "method not allowed");
            EdgeResponse::text(405, "method not allowed: the callback takes GET and POST")
        }
    }
}
