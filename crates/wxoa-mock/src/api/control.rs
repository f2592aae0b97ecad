//! Control and inspection under `/mock/...`: error injection, outbox, menu, followers, stats, reset, OAuth codes, templates, pushes through the driver.
//!
//! | route | body / query | answer |
//! |---|---|---|
//! | `POST /mock/inject` | [`Injection`] | `{"ok":true,"pending":[…]}` |
//! | `GET /mock/inject` | | `{"pending":[…]}` |
//! | `GET /mock/outbox` | `?since=SEQ&touser=OPENID&kind=custom\|template` | `{"messages":[OutboxMessage…],"last_seq":N}` |
//! | `GET /mock/menu` | | the `menu/get` JSON, or `{"menu":null}` |
//! | `POST /mock/followers` | a [`Follower`], an array of them, or `{"followers":[…]}` | `{"ok":true,"followers":N}` |
//! | `GET /mock/followers` | | `{"followers":[…]}` |
//! | `POST /mock/interaction` | `{"openid","kind":"message"\|"subscribe"\|"unsubscribe"\|"scan"\|"menu_click","at"?}` | `{"ok":true}` |
//! | `GET /mock/stats` | | [`MockStats`] |
//! | `POST /mock/reset` | | `{"ok":true}` |
//! | `POST /mock/oauth/code` | `{"openid","scope"?}` (default `snsapi_base`) | `{"code","openid","scope","expires_in":300}` |
//! | `GET /mock/templates`, `POST /mock/templates` | a [`MockTemplate`] | the list / `{"ok":true}` |
//! | `GET /mock/qrcodes` | | `{"qrcodes":[QrCode…]}` |
//! | `GET /mock/media/{media_id}` | | the file (no token; also the target of `video_url`) |
//! | `POST /mock/push` | a driver `Push` | the driver's `Delivery` (needs [`MockPlatform::set_driver`]) |
//! | `GET /mock/routes` | | every served path |
//!
//! Malformed control requests answer HTTP 400 `{"error": "…"}`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::API_ROUTES;
use super::media::live_media;
use super::state::{MockPlatform, OutboxKind};
use super::template::MockTemplate;
use super::user::{Follower, UserEvent};
use crate::driver::{Driver, Push};

/// Make the next `count` API calls fail with `errcode` (`POST /mock/inject`,
/// [`MockPlatform::inject`]).
///
/// Injections are consumed first-come: a call takes the oldest pending one whose `path`
/// matches (or that has none). An injected call has no other effect (no token check, no quota).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injection {
    /// The errcode to answer, e.g. `45009` or `-1`.
    pub errcode: i64,
    /// How many calls fail (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Only calls to this path (`/cgi-bin/message/custom/send`; `message/custom/send` is read
    /// as under `/cgi-bin/`); `None`: any API path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The errmsg (default: the platform's text for the code); a rid is appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errmsg: Option<String>,
    /// Answer with this HTTP status instead of 200 (e.g. 502 for a failing gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

fn one() -> u32 {
    1
}

impl Injection {
    /// `count` failures with `errcode` on every API path.
    #[must_use]
    pub fn new(errcode: i64, count: u32) -> Self {
        Self {
            errcode,
            count,
            path: None,
            errmsg: None,
            status: None,
        }
    }

    /// Only on `path`.
    #[must_use]
    pub fn on(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The path in its full form (`/cgi-bin/...`), an empty path meaning any.
    pub(crate) fn normalized(mut self) -> Self {
        self.path = self
            .path
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .map(|p| {
                if p.starts_with('/') {
                    p
                } else {
                    format!("/cgi-bin/{p}")
                }
            });
        self
    }
}

/// Token fetch counters since the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFetches {
    /// Successful classic `/cgi-bin/token` fetches.
    pub classic: u64,
    /// Successful `/cgi-bin/stable_token` calls (normal and force).
    pub stable: u64,
    /// Of those, force refreshes that issued a new token.
    pub stable_forced: u64,
    /// Distinct access tokens issued (classic and stable).
    pub issued: u64,
}

/// What `GET /mock/stats` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockStats {
    /// Token fetch counters since the last reset.
    pub token_fetches: TokenFetches,
    /// Classic fetches counted against today's limit (reset at Beijing midnight and by clear_quota).
    pub classic_fetches_today: u64,
    /// Calls per API path since the last reset (failed ones included).
    pub calls: BTreeMap<String, u64>,
    /// Injections not yet used up.
    pub pending_injections: Vec<Injection>,
    /// Messages in the outbox.
    pub outbox: usize,
    /// Followers known (subscribed or not).
    pub followers: usize,
    /// Temporary media stored.
    pub media: usize,
}

/// An error answer kept for `openapi/rid/get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RidRecord {
    /// The rid at the end of errmsg.
    pub rid: String,
    /// When the call arrived (Unix seconds).
    pub invoke_time: i64,
    /// Always 0 here.
    pub cost_in_ms: i64,
    /// Path and query (`secret` / `appsecret` values masked).
    pub request_url: String,
    /// The request body (multipart bodies summarised).
    pub request_body: String,
    /// The answer.
    pub response_body: String,
    /// The caller.
    pub client_ip: String,
}

impl RidRecord {
    /// A record for an error answer (`None` when `response` is not a JSON error with a rid).
    pub(crate) fn new(
        invoke_time: i64,
        path: &str,
        query: &str,
        request_body: String,
        response: &[u8],
        ip: IpAddr,
    ) -> Option<Self> {
        let v: Value = serde_json::from_slice(response).ok()?;
        let code = v.get("errcode").and_then(Value::as_i64)?;
        if code == 0 {
            return None;
        }
        let rid = v
            .get("errmsg")
            .and_then(Value::as_str)?
            .rsplit_once(" rid: ")?
            .1
            .to_owned();
        let masked: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| {
                let v = if k == "secret" || k == "appsecret" {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(masked)
            .finish();
        let request_url = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        Some(Self {
            rid,
            invoke_time,
            cost_in_ms: 0,
            request_url,
            request_body,
            response_body: String::from_utf8_lossy(response).into_owned(),
            client_ip: ip.to_string(),
        })
    }
}

/// A malformed control request.
#[derive(Debug)]
struct ControlError(StatusCode, String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|e| {
        ControlError(
            StatusCode::BAD_REQUEST,
            format!("body is not a valid {what}: {e}"),
        )
    })
}

fn ok_true() -> Json<Value> {
    Json(json!({ "ok": true }))
}

pub(crate) fn routes() -> Router<MockPlatform> {
    Router::new()
        .route("/mock/inject", get(pending).post(inject))
        .route("/mock/outbox", get(outbox))
        .route("/mock/menu", get(menu))
        .route("/mock/followers", get(followers).post(add_followers))
        .route("/mock/interaction", axum::routing::post(interaction))
        .route("/mock/stats", get(stats))
        .route("/mock/reset", axum::routing::post(reset))
        .route("/mock/oauth/code", axum::routing::post(oauth_code))
        .route("/mock/templates", get(templates).post(add_template))
        .route("/mock/qrcodes", get(qrcodes))
        .route("/mock/media/{media_id}", get(media_file))
        .route("/mock/push", axum::routing::post(push))
        .route("/mock/routes", get(route_list))
}

async fn inject(State(p): State<MockPlatform>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let injection: Injection = parse(
        &body,
        "injection ({\"errcode\":45009,\"count\":2,\"path\":\"/cgi-bin/...\"})",
    )?;
    if injection.errcode == 0 {
        return Err(ControlError(
            StatusCode::BAD_REQUEST,
            "errcode 0 is success; inject a non-zero errcode".to_owned(),
        ));
    }
    p.inject(injection);
    Ok(Json(
        json!({ "ok": true, "pending": p.stats().pending_injections }),
    ))
}

async fn pending(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!({ "pending": p.stats().pending_injections }))
}

async fn outbox(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ControlError> {
    let since = match q.get("since").filter(|s| !s.is_empty()) {
        Some(s) => s.parse::<u64>().map_err(|_| {
            ControlError(
                StatusCode::BAD_REQUEST,
                format!("since={s:?} is not a sequence number"),
            )
        })?,
        None => 0,
    };
    let kind = match q.get("kind").map(String::as_str) {
        None | Some("") => None,
        Some("custom") => Some(OutboxKind::Custom),
        Some("template") => Some(OutboxKind::Template),
        Some(other) => {
            return Err(ControlError(
                StatusCode::BAD_REQUEST,
                format!("kind={other:?}: expected custom or template"),
            ));
        }
    };
    let messages: Vec<_> = p
        .outbox_since(since)
        .into_iter()
        .filter(|m| q.get("touser").is_none_or(|t| *t == m.touser))
        .filter(|m| kind.is_none_or(|k| k == m.kind))
        .collect();
    let last_seq = messages.last().map_or(since, |m| m.seq);
    Ok(Json(json!({ "messages": messages, "last_seq": last_seq })))
}

async fn menu(State(p): State<MockPlatform>) -> Json<Value> {
    Json(p.menu().unwrap_or_else(|| json!({ "menu": null })))
}

async fn followers(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!({ "followers": p.followers() }))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FollowersBody {
    One(Box<Follower>),
    Many(Vec<Follower>),
    Wrapped { followers: Vec<Follower> },
}

async fn add_followers(
    State(p): State<MockPlatform>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let list = match parse::<FollowersBody>(
        &body,
        "follower list ({\"openid\":…,\"last_message_at\":…}, an array of them, or {\"followers\":[…]})",
    )? {
        FollowersBody::One(f) => vec![*f],
        FollowersBody::Many(l) | FollowersBody::Wrapped { followers: l } => l,
    };
    if list.iter().any(|f| f.openid.trim().is_empty()) {
        return Err(ControlError(
            StatusCode::BAD_REQUEST,
            "every follower needs a non-empty openid".to_owned(),
        ));
    }
    let n = list.len();
    for f in list {
        p.add_follower(f);
    }
    Ok(Json(json!({ "ok": true, "followers": n })))
}

#[derive(Deserialize)]
struct InteractionBody {
    openid: String,
    kind: String,
    #[serde(default)]
    at: Option<i64>,
}

async fn interaction(
    State(p): State<MockPlatform>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let b: InteractionBody = parse(&body, "interaction ({\"openid\",\"kind\",\"at\"?})")?;
    if b.openid.trim().is_empty() {
        return Err(ControlError(
            StatusCode::BAD_REQUEST,
            "openid is empty".to_owned(),
        ));
    }
    let at = b.at.unwrap_or_else(|| p.now());
    let event = match b.kind.as_str() {
        "message" => None,
        "subscribe" => Some(UserEvent::Subscribe),
        "unsubscribe" => Some(UserEvent::Unsubscribe),
        "scan" => Some(UserEvent::Scan),
        "menu_click" => Some(UserEvent::MenuClick),
        other => {
            return Err(ControlError(
                StatusCode::BAD_REQUEST,
                format!(
                    "kind {other:?}: expected message, subscribe, unsubscribe, scan or menu_click"
                ),
            ));
        }
    };
    match event {
        None => p.record_user_message(&b.openid, at),
        Some(e) => p.record_user_event(&b.openid, e, at),
    }
    Ok(ok_true())
}

async fn stats(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!(p.stats()))
}

async fn reset(State(p): State<MockPlatform>) -> Json<Value> {
    p.reset();
    ok_true()
}

#[derive(Deserialize)]
struct CodeBody {
    openid: String,
    #[serde(default)]
    scope: Option<String>,
}

async fn oauth_code(
    State(p): State<MockPlatform>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let b: CodeBody = parse(&body, "code request ({\"openid\",\"scope\"?})")?;
    let scope = b.scope.unwrap_or_else(|| "snsapi_base".to_owned());
    if scope != "snsapi_base" && scope != "snsapi_userinfo" {
        return Err(ControlError(
            StatusCode::BAD_REQUEST,
            format!("scope {scope:?}: expected snsapi_base or snsapi_userinfo"),
        ));
    }
    if b.openid.trim().is_empty() {
        return Err(ControlError(
            StatusCode::BAD_REQUEST,
            "openid is empty".to_owned(),
        ));
    }
    let code = p.issue_oauth_code(&b.openid, &scope);
    Ok(Json(
        json!({ "code": code, "openid": b.openid, "scope": scope, "expires_in": 300 }),
    ))
}

async fn templates(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!({ "template_list": p.lock().templates.clone() }))
}

async fn add_template(
    State(p): State<MockPlatform>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let t: MockTemplate = parse(&body, "template ({\"template_id\",\"title\",\"content\"})")?;
    if t.template_id.trim().is_empty() {
        return Err(ControlError(
            StatusCode::BAD_REQUEST,
            "template_id is empty".to_owned(),
        ));
    }
    p.add_template(t);
    Ok(ok_true())
}

async fn qrcodes(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!({ "qrcodes": p.qr_codes() }))
}

async fn media_file(State(p): State<MockPlatform>, Path(id): Path<String>) -> Response {
    let now = p.now();
    let s = p.lock();
    match live_media(&s.media, &id, now) {
        Ok(m) => m.file_response(),
        Err(_) => ControlError(
            StatusCode::NOT_FOUND,
            format!("no live medium {id:?} (temporary media expire after 3 days)"),
        )
        .into_response(),
    }
}

/// What a push does to the follower's 客服 windows.
fn interaction_of(msg_type: &str, event: Option<&str>) -> Option<Option<UserEvent>> {
    if !msg_type.eq_ignore_ascii_case("event") {
        return Some(None);
    }
    let event = event?.to_ascii_lowercase();
    match event.as_str() {
        "subscribe" => Some(Some(UserEvent::Subscribe)),
        "unsubscribe" => Some(Some(UserEvent::Unsubscribe)),
        "scan" => Some(Some(UserEvent::Scan)),
        "click" | "scancode_push" | "scancode_waitmsg" => Some(Some(UserEvent::MenuClick)),
        _ => None,
    }
}

async fn push(State(p): State<MockPlatform>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let Some(driver) = p.driver() else {
        return Err(ControlError(
            StatusCode::NOT_IMPLEMENTED,
            "this mock has no callback driver: it was started without a server to push to"
                .to_owned(),
        ));
    };
    let push: Push = parse(
        &body,
        "push ({\"text\":\"你好\"}, {\"event\":\"subscribe\"}, …)",
    )?;
    let prepared = driver
        .prepare(&push)
        .map_err(|e| ControlError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let summary = prepared.summary();
    // The platform opens the 客服 window when the message arrives, before the server answers.
    match interaction_of(&summary.msg_type, summary.event.as_deref()) {
        Some(None) => p.record_user_message(&summary.from, p.now()),
        Some(Some(event)) => p.record_user_event(&summary.from, event, p.now()),
        None => {}
    }
    let delivery = driver.deliver(&prepared).await;
    Ok(Json(json!(delivery)))
}

async fn route_list() -> Json<Value> {
    let api: Vec<Value> = API_ROUTES
        .iter()
        .map(|(m, path)| json!({ "method": m, "path": path }))
        .collect();
    Json(json!({
        "api": api,
        "oauth_page": "/connect/oauth2/authorize",
        "mock": [
            "POST /mock/inject", "GET /mock/inject", "GET /mock/outbox", "GET /mock/menu",
            "GET /mock/followers", "POST /mock/followers", "POST /mock/interaction",
            "GET /mock/stats", "POST /mock/reset", "POST /mock/oauth/code",
            "GET /mock/templates", "POST /mock/templates", "GET /mock/qrcodes",
            "GET /mock/media/{media_id}", "POST /mock/push", "GET /mock/routes"
        ],
    }))
}

impl MockPlatform {
    /// Set the callback driver behind `POST /mock/push` (pushes also record the follower's
    /// message or event, see [`MockPlatform::record_user_message`]).
    pub fn set_driver(&self, driver: Driver) {
        *self.driver_slot() = Some(driver);
    }

    /// The callback driver, if set.
    #[must_use]
    pub fn driver(&self) -> Option<Driver> {
        self.driver_slot().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_paths_are_normalized() {
        let i = Injection::new(-1, 1).on("message/custom/send").normalized();
        assert_eq!(i.path.as_deref(), Some("/cgi-bin/message/custom/send"));
        let i = Injection::new(-1, 1).on("  ").normalized();
        assert_eq!(i.path, None);
        let i: Injection = serde_json::from_str(r#"{"errcode":45009}"#).unwrap();
        assert_eq!((i.count, i.path), (1, None));
    }

    #[test]
    fn rid_records_mask_secrets_and_skip_successes() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let r = RidRecord::new(
            5,
            "/cgi-bin/token",
            "grant_type=client_credential&appid=wx1&secret=S3CRET",
            String::new(),
            br#"{"errcode":40125,"errmsg":"invalid appsecret rid: 0000000a-0000000b-0000000c"}"#,
            ip,
        )
        .unwrap();
        assert_eq!(r.rid, "0000000a-0000000b-0000000c");
        assert!(!r.request_url.contains("S3CRET"), "{}", r.request_url);
        assert!(RidRecord::new(5, "/x", "", String::new(), br#"{"errcode":0}"#, ip).is_none());
        assert!(RidRecord::new(5, "/x", "", String::new(), b"{}", ip).is_none());
    }

    #[test]
    fn pushes_map_to_interactions() {
        assert_eq!(interaction_of("text", None), Some(None));
        assert_eq!(
            interaction_of("event", Some("CLICK")),
            Some(Some(UserEvent::MenuClick))
        );
        assert_eq!(
            interaction_of("event", Some("subscribe")),
            Some(Some(UserEvent::Subscribe))
        );
        assert_eq!(interaction_of("event", Some("VIEW")), None);
        assert_eq!(interaction_of("event", Some("LOCATION")), None);
    }
}
