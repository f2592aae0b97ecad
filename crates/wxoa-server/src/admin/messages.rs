//! `GET /api/v1/messages`: the message log, newest first, filtered and paged.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use wxoa_store::{LoggedMessage, MAX_SEARCH_LIMIT, MessageQuery};

use crate::admin::Console;
use crate::admin::error::ApiError;
use crate::admin::extract::QueryParams;

const DEFAULT_LIMIT: u32 = 50;

/// The query parameters of a search.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    openid: Option<String>,
    rule: Option<String>,
    msg_type: Option<String>,
    q: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    before_id: Option<i64>,
    after_id: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/v1/messages`.
pub(crate) async fn search(
    State(console): State<Arc<Console>>,
    QueryParams(p): QueryParams<Params>,
) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_SEARCH_LIMIT}, got {limit}"
        ))
        .field("limit"));
    }
    let query = MessageQuery {
        appid: Some(console.app.account().appid.clone()),
        openid: p.openid,
        rule: p.rule,
        msg_type: p.msg_type,
        text: p.q,
        since: p.since,
        until: p.until,
        before_id: p.before_id,
        after_id: p.after_id,
        limit,
    };
    let page = console.store.message_search().search(&query).await?;
    Ok(Json(json!({
        "messages": page.messages.iter().map(message_json).collect::<Vec<_>>(),
        "has_more": page.has_more,
    })))
}

/// One logged push as the API shows it.
pub(crate) fn message_json(m: &LoggedMessage) -> Value {
    let e = &m.entry;
    json!({
        "id": m.id,
        "at": e.at,
        "openid": e.openid,
        "msg_type": e.msg_type,
        "event": e.event,
        "event_key": e.event_key,
        "msg_id": e.msg_id.map(|id| id.to_string()),
        "content": e.content,
        "rule": e.rule,
        "reply_type": e.reply_type,
        "reply": e.reply,
        "latency_ms": e.latency_ms,
        "mode": e.mode,
        "source": e.source,
    })
}
