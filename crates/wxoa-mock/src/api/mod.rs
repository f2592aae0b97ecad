//! The fake outbound API: an axum router over in-memory state, strict like the platform.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use wxoa_mock::api::{MockConfig, MockPlatform};
//!
//! let mock = MockPlatform::new(MockConfig::new("wx1234567890abcdef", "APPSECRET"));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! // Point wxoa's `api.base_url` at http://{listener.local_addr()}.
//! mock.serve(listener).await
//! # }
//! ```
//!
//! Serving [`MockPlatform::router`] yourself needs
//! `into_make_service_with_connect_info::<SocketAddr>()`: the caller's IP (for the whitelist,
//! 40164) is read from `ConnectInfo<SocketAddr>`; without it every caller is `127.0.0.1`.
//!
//! # Layout
//! - `state.rs`: [`MockConfig`], [`Clock`], [`MockPlatform`] and its Rust-side API.
//! - `errors.rs`: the platform's error bodies (`errcode`, `errmsg … rid: …`), [`errmsg`].
//! - one module per endpoint family: `token.rs`, `menu.rs`, `custom.rs` (客服),
//!   `template.rs`, `user.rs`, `tags.rs`, `qrcode.rs`, `media.rs`, `misc.rs` (IP lists,
//!   quotas, rid, jsapi_ticket), `oauth.rs` (网页授权); publishing: `draft.rs` (草稿箱),
//!   `publish.rs` (发布), `material.rs` (永久素材), `mass.rs` (群发, deduplicated by
//!   clientmsgid); `subscribe.rs` (订阅通知), `kf.rs` (客服 accounts), `blacklist.rs`,
//!   `shorten.rs`, `datacube.rs`.
//! - `control.rs`: `/mock/...` control and inspection routes; `inspect.rs` those of the
//!   publishing families and answer delays.
//!
//! # Every API call goes through one pipeline
//! 1. counted (per path, [`MockStats::calls`]);
//! 2. a pending [`Injection`] for the path (or for any path) answers instead;
//! 3. `/cgi-bin/*` (except the token endpoints), `/customservice/*`, `/datacube/*` and
//!    `/wxaapi/*` check `access_token`: missing 41001, unknown
//!    40001, expired 42001, superseded by a newer classic fetch more than
//!    [`MockConfig::token_overlap`] ago (or by a stable_token force refresh) 40001;
//! 4. the path's daily quota (Beijing day; see [`daily_limit`]) → 45009;
//! 5. the endpoint, which validates its input with the platform's errcodes;
//! 6. a pending [`Delay`] for the path holds the answer back (the call has taken effect);
//! 7. every error answer is kept for `openapi/rid/get`.

mod announce;
mod blacklist;
mod control;
mod custom;
mod datacube;
mod draft;
mod errors;
mod inspect;
mod kf;
mod mass;
mod material;
mod media;
mod menu;
mod misc;
mod oauth;
mod publish;
mod qrcode;
mod shorten;
mod state;
mod subscribe;
mod tags;
mod template;
mod token;
mod user;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::Value;

pub use control::{Injection, MockStats, RidRecord, TokenFetches};
pub use draft::MockDraft;
pub use errors::errmsg;
pub use inspect::Delay;
pub use kf::MockKf;
pub use mass::{CLIENTMSGID_WINDOW_SECS, MassJob};
pub use material::MockMaterial;
pub use media::{MediaKind, StoredMedia};
pub use publish::{PublishJob, PublishedPost};
pub use qrcode::QrCode;
pub use state::{
    Clock, DEFAULT_CUSTOM_QUOTA, DEFAULT_CUSTOM_WINDOW, DEFAULT_DAILY_TOKEN_LIMIT,
    DEFAULT_FOLLOWER_PAGE_SIZE, DEFAULT_TOKEN_OVERLAP, ManualClock, MockConfig, MockPlatform,
    OutboxKind, OutboxMessage, SystemClock, TOKEN_TTL_SECS,
};
pub use subscribe::{DEMO_SUBSCRIBE_TEMPLATE_ID, SubscribeSent};
pub use template::{DEMO_TEMPLATE_ID, MockTemplate};
pub use user::{Follower, UserEvent};

use errors::WxError;

/// Largest request body accepted (a 10 MB video or image upload plus multipart framing).
pub const MAX_BODY_BYTES: usize = 11 * 1024 * 1024;

/// Daily stable_token calls allowed (the platform's 500 000).
pub const STABLE_TOKEN_DAILY_LIMIT: u64 = 500_000;
/// stable_token `force_refresh=true` refreshes allowed per day.
pub const STABLE_FORCE_DAILY_LIMIT: u64 = 20;
/// Minimum seconds between two effective stable_token force refreshes (closer ones return the
/// current token unchanged).
pub const STABLE_FORCE_MIN_INTERVAL_SECS: i64 = 30;

/// The caller's IP, put into request extensions by the pipeline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallerIp(pub(crate) IpAddr);

/// Daily call quota of an API path, per Beijing day (approximately the platform's published
/// defaults; `/cgi-bin/token` uses [`MockConfig::daily_token_limit`]).
#[must_use]
pub fn daily_limit(path: &str, config: &MockConfig) -> u64 {
    match path {
        "/cgi-bin/token" => u64::from(config.daily_token_limit),
        "/cgi-bin/stable_token" => STABLE_TOKEN_DAILY_LIMIT,
        "/cgi-bin/menu/create"
        | "/cgi-bin/menu/delete"
        | "/cgi-bin/menu/addconditional"
        | "/cgi-bin/menu/delconditional" => 1_000,
        "/cgi-bin/menu/get" | "/cgi-bin/menu/trymatch" | "/cgi-bin/get_current_selfmenu_info" => {
            10_000
        }
        "/cgi-bin/user/get" => 500,
        "/cgi-bin/user/info" | "/cgi-bin/user/info/batchget" => 5_000_000,
        "/cgi-bin/message/custom/send" | "/cgi-bin/message/custom/typing" => 500_000,
        "/cgi-bin/media/get" => 200_000,
        _ => 100_000,
    }
}

/// Every API path served (method, path), for `GET /mock/routes` and `openapi/quota/get`.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("GET", "/cgi-bin/token"),
    ("POST", "/cgi-bin/stable_token"),
    ("POST", "/cgi-bin/menu/create"),
    ("GET", "/cgi-bin/menu/get"),
    ("GET", "/cgi-bin/menu/delete"),
    ("POST", "/cgi-bin/menu/addconditional"),
    ("POST", "/cgi-bin/menu/delconditional"),
    ("POST", "/cgi-bin/menu/trymatch"),
    ("GET", "/cgi-bin/get_current_selfmenu_info"),
    ("POST", "/cgi-bin/message/custom/send"),
    ("POST", "/cgi-bin/message/custom/typing"),
    ("POST", "/cgi-bin/message/template/send"),
    ("GET", "/cgi-bin/template/get_all_private_template"),
    ("POST", "/cgi-bin/template/del_private_template"),
    ("GET", "/cgi-bin/user/info"),
    ("POST", "/cgi-bin/user/info/batchget"),
    ("GET", "/cgi-bin/user/get"),
    ("POST", "/cgi-bin/user/info/updateremark"),
    ("POST", "/cgi-bin/tags/create"),
    ("GET", "/cgi-bin/tags/get"),
    ("POST", "/cgi-bin/tags/update"),
    ("POST", "/cgi-bin/tags/delete"),
    ("POST", "/cgi-bin/tags/members/batchtagging"),
    ("POST", "/cgi-bin/tags/members/batchuntagging"),
    ("POST", "/cgi-bin/tags/getidlist"),
    ("POST", "/cgi-bin/user/tag/get"),
    ("POST", "/cgi-bin/qrcode/create"),
    ("POST", "/cgi-bin/media/upload"),
    ("GET", "/cgi-bin/media/get"),
    ("GET", "/cgi-bin/getcallbackip"),
    ("GET", "/cgi-bin/get_api_domain_ip"),
    ("POST", "/cgi-bin/clear_quota"),
    ("POST", "/cgi-bin/clear_quota/v2"),
    ("POST", "/cgi-bin/openapi/quota/get"),
    ("POST", "/cgi-bin/openapi/rid/get"),
    ("GET", "/cgi-bin/ticket/getticket"),
    ("POST", "/cgi-bin/draft/add"),
    ("POST", "/cgi-bin/draft/update"),
    ("POST", "/cgi-bin/draft/get"),
    ("POST", "/cgi-bin/draft/delete"),
    ("GET", "/cgi-bin/draft/count"),
    ("POST", "/cgi-bin/draft/batchget"),
    ("POST", "/cgi-bin/freepublish/submit"),
    ("POST", "/cgi-bin/freepublish/get"),
    ("POST", "/cgi-bin/freepublish/batchget"),
    ("POST", "/cgi-bin/freepublish/getarticle"),
    ("POST", "/cgi-bin/freepublish/delete"),
    ("POST", "/cgi-bin/material/add_material"),
    ("POST", "/cgi-bin/material/get_material"),
    ("POST", "/cgi-bin/material/del_material"),
    ("GET", "/cgi-bin/material/get_materialcount"),
    ("POST", "/cgi-bin/material/batchget_material"),
    ("POST", "/cgi-bin/media/uploadimg"),
    ("POST", "/cgi-bin/message/mass/sendall"),
    ("POST", "/cgi-bin/message/mass/send"),
    ("POST", "/cgi-bin/message/mass/preview"),
    ("POST", "/cgi-bin/message/mass/get"),
    ("POST", "/cgi-bin/message/mass/delete"),
    ("POST", "/cgi-bin/message/mass/speed/get"),
    ("POST", "/cgi-bin/message/mass/speed/set"),
    ("GET", "/wxaapi/newtmpl/gettemplate"),
    ("POST", "/cgi-bin/message/subscribe/bizsend"),
    ("POST", "/customservice/kfaccount/add"),
    ("POST", "/customservice/kfaccount/update"),
    ("GET", "/customservice/kfaccount/del"),
    ("POST", "/customservice/kfaccount/inviteworker"),
    ("GET", "/cgi-bin/customservice/getkflist"),
    ("GET", "/cgi-bin/customservice/getonlinekflist"),
    ("POST", "/cgi-bin/tags/members/getblacklist"),
    ("POST", "/cgi-bin/tags/members/batchblacklist"),
    ("POST", "/cgi-bin/tags/members/batchunblacklist"),
    ("POST", "/cgi-bin/shorten/gen"),
    ("POST", "/cgi-bin/shorten/fetch"),
    ("POST", "/datacube/getusersummary"),
    ("POST", "/datacube/getusercumulate"),
    ("POST", "/datacube/getarticlesummary"),
    ("POST", "/datacube/getarticletotal"),
    ("POST", "/datacube/getuserread"),
    ("POST", "/datacube/getusershare"),
    ("POST", "/datacube/getupstreammsg"),
    ("GET", "/sns/oauth2/access_token"),
    ("GET", "/sns/oauth2/refresh_token"),
    ("GET", "/sns/userinfo"),
    ("GET", "/sns/auth"),
];

/// Paths under `/cgi-bin` that do not take an access_token.
const NO_TOKEN: &[&str] = &[
    "/cgi-bin/token",
    "/cgi-bin/stable_token",
    "/cgi-bin/clear_quota/v2",
];

impl MockPlatform {
    /// The HTTP app: every API path of [`API_ROUTES`], `GET /connect/oauth2/authorize`, and
    /// the `/mock/...` control routes. See the module documentation for serving it.
    pub fn router(&self) -> Router {
        let api: Router<MockPlatform> = Router::new()
            .route("/cgi-bin/token", read(token::classic))
            .route("/cgi-bin/stable_token", write(token::stable))
            .route("/cgi-bin/menu/create", write(menu::create))
            .route("/cgi-bin/menu/get", read(menu::get_menu))
            .route("/cgi-bin/menu/delete", read(menu::delete))
            .route("/cgi-bin/menu/addconditional", write(menu::add_conditional))
            .route("/cgi-bin/menu/delconditional", write(menu::del_conditional))
            .route("/cgi-bin/menu/trymatch", write(menu::try_match))
            .route(
                "/cgi-bin/get_current_selfmenu_info",
                read(menu::current_selfmenu_info),
            )
            .route("/cgi-bin/message/custom/send", write(custom::send))
            .route("/cgi-bin/message/custom/typing", write(custom::typing))
            .route("/cgi-bin/message/template/send", write(template::send))
            .route(
                "/cgi-bin/template/get_all_private_template",
                read(template::list),
            )
            .route(
                "/cgi-bin/template/del_private_template",
                write(template::delete),
            )
            .route("/cgi-bin/user/info", read(user::info))
            .route("/cgi-bin/user/info/batchget", write(user::batch_get))
            .route("/cgi-bin/user/get", read(user::list))
            .route(
                "/cgi-bin/user/info/updateremark",
                write(user::update_remark),
            )
            .route("/cgi-bin/tags/create", write(tags::create))
            .route("/cgi-bin/tags/get", read(tags::list))
            .route("/cgi-bin/tags/update", write(tags::update))
            .route("/cgi-bin/tags/delete", write(tags::delete))
            .route("/cgi-bin/tags/members/batchtagging", write(tags::tag_users))
            .route(
                "/cgi-bin/tags/members/batchuntagging",
                write(tags::untag_users),
            )
            .route("/cgi-bin/tags/getidlist", write(tags::user_tags))
            .route("/cgi-bin/user/tag/get", write(tags::tag_followers))
            .route("/cgi-bin/qrcode/create", write(qrcode::create))
            .route("/cgi-bin/media/upload", write(media::upload))
            .route("/cgi-bin/media/get", read(media::get_media))
            .route("/cgi-bin/getcallbackip", read(misc::callback_ips))
            .route("/cgi-bin/get_api_domain_ip", read(misc::api_domain_ips))
            .route("/cgi-bin/clear_quota", write(misc::clear_quota))
            .route("/cgi-bin/clear_quota/v2", write(misc::clear_quota_v2))
            .route("/cgi-bin/openapi/quota/get", write(misc::quota_get))
            .route("/cgi-bin/openapi/rid/get", write(misc::rid_get))
            .route("/cgi-bin/ticket/getticket", read(misc::get_ticket))
            .route("/cgi-bin/draft/add", write(draft::add))
            .route("/cgi-bin/draft/update", write(draft::update))
            .route("/cgi-bin/draft/get", write(draft::get_draft))
            .route("/cgi-bin/draft/delete", write(draft::delete))
            .route("/cgi-bin/draft/count", read(draft::count))
            .route("/cgi-bin/draft/batchget", write(draft::batch_get))
            .route("/cgi-bin/freepublish/submit", write(publish::submit))
            .route("/cgi-bin/freepublish/get", write(publish::get_status))
            .route("/cgi-bin/freepublish/batchget", write(publish::batch_get))
            .route(
                "/cgi-bin/freepublish/getarticle",
                write(publish::get_article),
            )
            .route("/cgi-bin/freepublish/delete", write(publish::delete))
            .route("/cgi-bin/material/add_material", write(material::add))
            .route(
                "/cgi-bin/material/get_material",
                write(material::get_material),
            )
            .route("/cgi-bin/material/del_material", write(material::delete))
            .route("/cgi-bin/material/get_materialcount", read(material::count))
            .route(
                "/cgi-bin/material/batchget_material",
                write(material::batch_get),
            )
            .route("/cgi-bin/media/uploadimg", write(material::upload_image))
            .route("/cgi-bin/message/mass/sendall", write(mass::send_all))
            .route("/cgi-bin/message/mass/send", write(mass::send_list))
            .route("/cgi-bin/message/mass/preview", write(mass::preview))
            .route("/cgi-bin/message/mass/get", write(mass::get_job))
            .route("/cgi-bin/message/mass/delete", write(mass::delete))
            .route("/cgi-bin/message/mass/speed/get", read(mass::speed_get))
            .route("/cgi-bin/message/mass/speed/set", write(mass::speed_set))
            .route("/wxaapi/newtmpl/gettemplate", read(subscribe::list))
            .route("/cgi-bin/message/subscribe/bizsend", write(subscribe::send))
            .route("/customservice/kfaccount/add", write(kf::add))
            .route("/customservice/kfaccount/update", write(kf::update))
            .route("/customservice/kfaccount/del", read(kf::delete))
            .route("/customservice/kfaccount/inviteworker", write(kf::invite))
            .route("/cgi-bin/customservice/getkflist", read(kf::list))
            .route("/cgi-bin/customservice/getonlinekflist", read(kf::online))
            .route("/cgi-bin/tags/members/getblacklist", write(blacklist::list))
            .route(
                "/cgi-bin/tags/members/batchblacklist",
                write(blacklist::black),
            )
            .route(
                "/cgi-bin/tags/members/batchunblacklist",
                write(blacklist::unblack),
            )
            .route("/cgi-bin/shorten/gen", write(shorten::generate))
            .route("/cgi-bin/shorten/fetch", write(shorten::fetch))
            .route("/datacube/getusersummary", write(datacube::user_summary))
            .route("/datacube/getusercumulate", write(datacube::user_cumulate))
            .route(
                "/datacube/getarticlesummary",
                write(datacube::article_summary),
            )
            .route("/datacube/getarticletotal", write(datacube::article_total))
            .route("/datacube/getuserread", write(datacube::user_read))
            .route("/datacube/getusershare", write(datacube::user_share))
            .route("/datacube/getupstreammsg", write(datacube::upstream_msg))
            .route("/sns/oauth2/access_token", read(oauth::exchange_code))
            .route("/sns/oauth2/refresh_token", read(oauth::refresh))
            .route("/sns/userinfo", read(oauth::userinfo))
            .route("/sns/auth", read(oauth::auth))
            .layer(middleware::from_fn_with_state(self.clone(), pipeline));
        Router::new()
            .merge(api)
            .route("/connect/oauth2/authorize", get(oauth::authorize))
            .merge(control::routes())
            .merge(inspect::routes())
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }

    /// Steps 1–4 of the pipeline.
    fn precheck(&self, path: &str, query: &str) -> Result<(), WxError> {
        let now = self.now();
        let config = self.config();
        let mut s = self.lock();
        s.quota.roll(now);
        *s.calls.entry(path.to_owned()).or_insert(0) += 1;
        if let Some(err) = take_injection(&mut s.injections, path) {
            return Err(err);
        }
        if !needs_token(path) {
            return Ok(());
        }
        let token = query_param(query, "access_token");
        s.tokens.check(token.as_deref(), now)?;
        let used = s.quota.calls.entry(path.to_owned()).or_insert(0);
        if *used >= daily_limit(path, config) {
            return Err(WxError::new(45009));
        }
        *used += 1;
        Ok(())
    }
}

/// Whether `path` takes the account's access_token (OAuth and the token endpoints do not).
fn needs_token(path: &str) -> bool {
    const AUTHENTICATED: [&str; 4] = ["/cgi-bin/", "/customservice/", "/datacube/", "/wxaapi/"];
    AUTHENTICATED.iter().any(|p| path.starts_with(p)) && !NO_TOKEN.contains(&path)
}

/// A route answering GET and POST (the platform accepts both on its read endpoints).
fn read<H, T>(h: H) -> MethodRouter<MockPlatform>
where
    H: Handler<T, MockPlatform> + Clone,
    T: 'static,
{
    get(h.clone()).post(h)
}

/// A POST route; GET answers 43002 like the platform.
fn write<H, T>(h: H) -> MethodRouter<MockPlatform>
where
    H: Handler<T, MockPlatform>,
    T: 'static,
{
    post(h).get(require_post)
}

async fn require_post() -> WxError {
    WxError::new(43002)
}

async fn not_found(req: Request) -> Response {
    let text = format!(
        "wxoa mock: no such API: {} {} (GET /mock/routes lists the served paths)",
        req.method(),
        req.uri().path()
    );
    (StatusCode::NOT_FOUND, text).into_response()
}

fn take_injection(
    queue: &mut std::collections::VecDeque<Injection>,
    path: &str,
) -> Option<WxError> {
    let idx = queue
        .iter()
        .position(|i| i.count > 0 && i.path.as_deref().is_none_or(|p| p == path))?;
    let inj = queue.get_mut(idx)?;
    inj.count -= 1;
    let mut err = match &inj.errmsg {
        Some(msg) => WxError::with_msg(inj.errcode, msg.clone()),
        None => WxError::new(inj.errcode),
    };
    if let Some(status) = inj.status.and_then(|s| StatusCode::from_u16(s).ok()) {
        err.status = status;
    }
    if inj.count == 0 {
        queue.remove(idx);
    }
    Some(err)
}

/// The first value of `name` in a raw query string.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Parse a JSON request body like the platform: empty → 44002, not JSON → 47001.
pub(crate) fn json_body(body: &[u8]) -> Result<Value, WxError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WxError::new(44002));
    }
    serde_json::from_slice(body).map_err(|_| WxError::new(47001))
}

/// A string field of a JSON object (numbers are accepted and rendered as text).
pub(crate) fn str_field(v: &Value, name: &str) -> Option<String> {
    match v.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The strings of an array field of a JSON object (other items skipped; empty when absent).
pub(crate) fn str_list(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|o| o.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// An integer field of a JSON object (strings holding an integer are accepted).
pub(crate) fn int_field(v: &Value, name: &str) -> Option<i64> {
    match v.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The request body for the rid log, with `secret` / `appsecret` values of a JSON body masked.
fn masked_body(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(mut o)) if o.contains_key("secret") || o.contains_key("appsecret") => {
            for key in ["secret", "appsecret"] {
                if let Some(v) = o.get_mut(key) {
                    *v = Value::String("***".to_owned());
                }
            }
            Value::Object(o).to_string()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn caller_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip().to_canonical())
}

/// The API pipeline (see the module documentation).
async fn pipeline(State(p): State<MockPlatform>, req: Request, next: Next) -> Response {
    let started = p.now();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let ip = caller_ip(&req);
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(CallerIp(ip));
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        let code = if path == "/cgi-bin/media/upload" || path == "/cgi-bin/material/add_material" {
            40006
        } else {
            45002
        };
        return WxError::new(code).into_response();
    };
    let request_body = if multipart {
        format!("<multipart body of {} bytes>", bytes.len())
    } else {
        masked_body(&bytes)
    };
    let response = match p.precheck(&path, &query) {
        Err(e) => e.into_response(),
        Ok(()) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    if let Some(delay) = p.take_delay(&path) {
        // The call took effect; only its answer is late (a client timeout loses it).
        tokio::time::sleep(delay).await;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(out) = to_bytes(body, usize::MAX).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "response body lost").into_response();
    };
    p.remember_error(RidRecord::new(
        started,
        &path,
        &query,
        request_body,
        &out,
        ip,
    ));
    Response::from_parts(parts, Body::from(out))
}

impl MockPlatform {
    /// Keep an error answer for `openapi/rid/get` (the last 1000).
    fn remember_error(&self, record: Option<RidRecord>) {
        let Some(record) = record else { return };
        let mut s = self.lock();
        if s.rids.len() >= 1000 {
            s.rids.pop_front();
        }
        s.rids.push_back(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_errors_like_the_platform() {
        assert_eq!(json_body(b"  ").unwrap_err().code, 44002);
        assert_eq!(json_body(b"{oops").unwrap_err().code, 47001);
        assert_eq!(json_body(br#"{"a":1}"#).unwrap()["a"], 1);
    }

    #[test]
    fn secrets_are_masked_in_the_rid_log() {
        let body = masked_body(br#"{"appid":"wx1","secret":"S3CRET","force_refresh":false}"#);
        assert!(!body.contains("S3CRET") && body.contains("wx1"), "{body}");
        assert_eq!(masked_body(b"{oops"), "{oops");
    }

    #[test]
    fn fields_are_read_leniently() {
        let v = serde_json::json!({"s":"12","n":34,"b":true});
        assert_eq!(str_field(&v, "n").as_deref(), Some("34"));
        assert_eq!(int_field(&v, "s"), Some(12));
        assert_eq!(int_field(&v, "b"), None);
        assert_eq!(str_field(&v, "missing"), None);
    }

    #[test]
    fn injections_are_consumed_in_order_and_by_path() {
        let mut q = std::collections::VecDeque::new();
        q.push_back(
            Injection {
                errcode: 45009,
                count: 1,
                path: Some("message/custom/send".into()),
                errmsg: None,
                status: None,
            }
            .normalized(),
        );
        q.push_back(Injection {
            errcode: -1,
            count: 2,
            path: None,
            errmsg: Some("busy".into()),
            status: None,
        });
        let e = take_injection(&mut q, "/cgi-bin/message/custom/send").unwrap();
        assert_eq!(e.code, 45009);
        assert_eq!(e.msg, "reach max api daily quota limit");
        let e = take_injection(&mut q, "/cgi-bin/message/custom/send").unwrap();
        assert_eq!((e.code, e.msg.as_str()), (-1, "busy"));
        assert_eq!(
            take_injection(&mut q, "/cgi-bin/menu/get").unwrap().code,
            -1
        );
        assert!(take_injection(&mut q, "/cgi-bin/menu/get").is_none());
        assert!(q.is_empty());
    }

    #[test]
    fn every_listed_route_has_a_limit_and_the_token_limit_is_configurable() {
        let config = MockConfig {
            daily_token_limit: 3,
            ..MockConfig::new("wx1", "s")
        };
        assert_eq!(daily_limit("/cgi-bin/token", &config), 3);
        for (_, path) in API_ROUTES {
            assert!(daily_limit(path, &config) > 0);
        }
    }
}
