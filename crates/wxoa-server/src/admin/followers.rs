//! Followers: the list, one follower with their timeline and 客服 window, remark and tags,
//! a 客服 text, and the refresh from the platform.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use wxoa_api::custom::CustomMessage;
use wxoa_api::user::MAX_REMARK_CHARS;
use wxoa_proto::limits::MAX_TEXT_REPLY_BYTES;
use wxoa_store::{FollowerQuery, FollowerRecord, MAX_PER_PAGE};

use crate::admin::error::ApiError;
use crate::admin::extract::{JsonBody, PathParams, QueryParams};
use crate::admin::{Caller, Console, refresh};

/// 客服 messages may be sent this long after the follower's last message.
pub(crate) const KF_WINDOW_SECS: i64 = 48 * 3600;
/// The most tags on one follower, and the longest tag in characters.
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 30;

/// The query parameters of the list.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    q: Option<String>,
    subscribed: Option<bool>,
    tag: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

fn follower_json(f: &FollowerRecord) -> Value {
    json!({
        "openid": f.openid,
        "subscribed": f.subscribed,
        "first_seen_at": f.first_seen_at,
        "last_seen_at": f.last_seen_at,
        "last_message_at": f.last_message_at,
        "subscribed_at": f.subscribed_at,
        "unsubscribed_at": f.unsubscribed_at,
        "scene": f.scene,
        "remark": f.remark,
        "tags": f.tags,
        "messages": f.messages,
    })
}

/// `GET /api/v1/followers`.
pub(crate) async fn list(
    State(console): State<Arc<Console>>,
    QueryParams(p): QueryParams<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let page = p.page.unwrap_or(1).max(1);
    let per_page = p.per_page.unwrap_or(20);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::bad_request(format!(
            "per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}"
        ))
        .field("per_page"));
    }
    let query = FollowerQuery {
        text: p.q,
        subscribed: p.subscribed,
        tag: p.tag,
        page,
        per_page,
    };
    let list = console
        .store
        .follower_directory()
        .list(console.appid(), &query)
        .await?;
    Ok(Json(json!({
        "followers": list.followers.iter().map(follower_json).collect::<Vec<_>>(),
        "total": list.total,
        "page": page,
        "per_page": per_page,
    })))
}

/// `GET /api/v1/followers/{openid}`.
pub(crate) async fn detail(
    State(console): State<Arc<Console>>,
    PathParams(openid): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let Some(follower) = console
        .store
        .follower_directory()
        .get(console.appid(), &openid)
        .await?
    else {
        return Err(ApiError::not_found(format!(
            "no follower {openid} has been seen"
        )));
    };
    let events = console
        .store
        .followers()
        .follower_events(console.appid(), &openid)
        .await?;
    let until = follower.last_message_at.map(|t| t + KF_WINDOW_SECS);
    Ok(Json(json!({
        "follower": follower_json(&follower),
        "events": events
            .iter()
            .map(|e| json!({"subscribed": e.subscribed, "at": e.at, "scene": e.scene}))
            .collect::<Vec<_>>(),
        "kf_window": {
            "open": until.is_some_and(|u| console.now() < u),
            "until": until,
        },
    })))
}

/// The body of an update; a field left out stays as it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Update {
    remark: Option<String>,
    tags: Option<Vec<String>>,
}

/// `PUT /api/v1/followers/{openid}`: the remark (also on the platform when the API can be
/// called) and the tags.
pub(crate) async fn update(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
    PathParams(openid): PathParams<String>,
    JsonBody(body): JsonBody<Update>,
) -> Result<Json<Value>, ApiError> {
    let remark = body.remark.map(|r| r.trim().to_owned());
    if let Some(remark) = &remark
        && remark.chars().count() > MAX_REMARK_CHARS
    {
        return Err(ApiError::invalid(
            "remark",
            format!("a remark has at most {MAX_REMARK_CHARS} characters"),
        ));
    }
    let tags = match body.tags {
        None => None,
        Some(tags) => Some(clean_tags(tags)?),
    };
    let directory = console.store.follower_directory();
    if directory.get(console.appid(), &openid).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "no follower {openid} has been seen"
        )));
    }
    if let (Some(remark), Some(api)) = (&remark, &console.api) {
        api.user_update_remark(&openid, remark)
            .await
            .map_err(|e| ApiError::platform("setting the remark on the platform", &e))?;
    }
    let follower = directory
        .annotate(console.appid(), &openid, remark.as_deref(), tags.as_deref())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no follower {openid} has been seen")))?;
    let detail = json!({"remark": remark, "tags": tags}).to_string();
    console
        .audit(&caller, "follower.update", &openid, &detail)
        .await;
    Ok(Json(json!({ "follower": follower_json(&follower) })))
}

/// Tags trimmed, empty ones and repeats dropped, limits checked.
fn clean_tags(tags: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut clean: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() || clean.contains(&tag) {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(ApiError::invalid(
                "tags",
                format!("a tag has at most {MAX_TAG_CHARS} characters: {tag:?}"),
            ));
        }
        clean.push(tag);
    }
    if clean.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            "tags",
            format!("a follower has at most {MAX_TAGS} tags"),
        ));
    }
    Ok(clean)
}

/// The body of a 客服 text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Send {
    text: String,
}

/// `POST /api/v1/followers/{openid}/send`: a 客服 text; the platform decides the 48-hour
/// window (45015 outside it) and the permission (48001).
pub(crate) async fn send(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
    PathParams(openid): PathParams<String>,
    JsonBody(body): JsonBody<Send>,
) -> Result<Json<Value>, ApiError> {
    let api = console.api()?;
    if body.text.trim().is_empty() {
        return Err(ApiError::invalid("text", "the text is empty"));
    }
    if body.text.len() > MAX_TEXT_REPLY_BYTES {
        return Err(ApiError::invalid(
            "text",
            format!(
                "the text is {} bytes of UTF-8; at most {MAX_TEXT_REPLY_BYTES} are sent in one message",
                body.text.len()
            ),
        ));
    }
    let message = CustomMessage::text(openid.clone(), body.text.clone());
    message
        .validate()
        .map_err(|why| ApiError::invalid("text", why))?;
    match api.send_custom(&message).await {
        Ok(()) => {
            console
                .audit(&caller, "message.send", &openid, &body.text)
                .await;
            Ok(Json(json!({ "ok": true })))
        }
        Err(e) => {
            let detail = format!("refused: {e}\n{}", body.text);
            console
                .audit(&caller, "message.send", &openid, &detail)
                .await;
            Err(ApiError::platform("sending the 客服 message", &e))
        }
    }
}

/// `POST /api/v1/followers/refresh`: starts reading every follower from the platform (202);
/// 409 while one runs.
pub(crate) async fn start_refresh(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let api = console.api()?.clone();
    if !refresh::start(&console, api, caller) {
        return Err(ApiError::conflict("a follower refresh is already running"));
    }
    Ok((StatusCode::ACCEPTED, Json(console.refresh.status())).into_response())
}

/// `GET /api/v1/followers/refresh`: where the latest refresh stands.
pub(crate) async fn refresh_status(State(console): State<Arc<Console>>) -> Json<Value> {
    Json(json!(console.refresh.status()))
}
