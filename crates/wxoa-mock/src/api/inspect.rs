//! Control and inspection under `/mock/...` for publishing, mass sends, materials, subscriptions, 客服 and answer delays.
//!
//! | route | body / query | answer |
//! |---|---|---|
//! | `GET /mock/drafts` | | `{"drafts":[MockDraft…]}` |
//! | `GET /mock/published` | | `{"posts":[PublishedPost…],"jobs":[PublishJob…]}` |
//! | `GET /mock/materials` | | `{"materials":[MockMaterial…],"article_images":[url…]}` |
//! | `GET /mock/material/{media_id}` | | the file (no token; the target of a video's `down_url`) |
//! | `GET /mock/mass` | | `{"jobs":[MassJob…],"speed":N}` |
//! | `POST /mock/subscribe/grant` | `{"openid","template_id"}` | `{"ok":true}` |
//! | `GET /mock/subscribe` | | `{"sent":[SubscribeSent…]}` |
//! | `POST /mock/kf/accept` | `{"kf_account"}` | `{"ok":true}` or 400 without an open invitation |
//! | `GET /mock/kf` | | `{"accounts":[MockKf…]}` |
//! | `GET /mock/blacklist` | | `{"openids":[…]}` |
//! | `POST /mock/delay` | [`Delay`] | `{"ok":true}` |

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::draft::MockDraft;
use super::mass::MassJob;
use super::material::{MockMaterial, file_response};
use super::media::MediaKind;
use super::publish::PublishedPost;
use super::state::{MockPlatform, random_string};

/// Hold back the answers of the next `count` calls to `path` by `ms` milliseconds
/// (`POST /mock/delay`, [`MockPlatform::delay_responses`]): the call takes effect at once,
/// only its answer is late, so a client with a shorter timeout loses it, as when the
/// platform's answer is lost on the way back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delay {
    /// The API path, e.g. `/cgi-bin/message/mass/sendall`.
    pub path: String,
    /// How long each answer waits, in milliseconds.
    pub ms: u64,
    /// How many calls are delayed (default 1).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

pub(crate) fn routes() -> Router<MockPlatform> {
    Router::new()
        .route("/mock/drafts", get(drafts))
        .route("/mock/published", get(published))
        .route("/mock/materials", get(materials))
        .route("/mock/material/{media_id}", get(material_file))
        .route("/mock/mass", get(mass))
        .route("/mock/subscribe", get(subscribe_sent))
        .route("/mock/subscribe/grant", post(subscribe_grant))
        .route("/mock/kf", get(kf))
        .route("/mock/kf/accept", post(kf_accept))
        .route("/mock/blacklist", get(blacklist))
        .route("/mock/delay", post(delay))
}

fn bad_request(text: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": text }))).into_response()
}

async fn drafts(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!({ "drafts": p.drafts() }))
}

async fn published(State(p): State<MockPlatform>) -> Json<Value> {
    let s = p.lock();
    let jobs: Vec<_> = s.publishing.jobs.values().cloned().collect();
    let posts: Vec<_> = s.publishing.posts.values().cloned().collect();
    Json(json!({ "posts": posts, "jobs": jobs }))
}

async fn materials(State(p): State<MockPlatform>) -> Json<Value> {
    let images = p.lock().materials.article_images.clone();
    Json(json!({ "materials": p.materials(), "article_images": images }))
}

async fn material_file(State(p): State<MockPlatform>, Path(id): Path<String>) -> Response {
    let s = p.lock();
    match s.materials.by_id.get(&id) {
        Some(m) => file_response(m),
        None => (StatusCode::NOT_FOUND, "no such material").into_response(),
    }
}

async fn mass(State(p): State<MockPlatform>) -> Json<Value> {
    let speed = p.lock().mass.speed;
    Json(json!({ "jobs": p.mass_jobs(), "speed": speed }))
}

async fn subscribe_sent(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!({ "sent": p.subscribe_sent() }))
}

#[derive(Deserialize)]
struct GrantBody {
    openid: String,
    template_id: String,
}

async fn subscribe_grant(State(p): State<MockPlatform>, body: Bytes) -> Response {
    match serde_json::from_slice::<GrantBody>(&body) {
        Ok(b) if !b.openid.trim().is_empty() => {
            p.grant_subscription(&b.openid, &b.template_id);
            Json(json!({ "ok": true })).into_response()
        }
        Ok(_) => bad_request("openid is empty".to_owned()),
        Err(e) => bad_request(format!("body is not {{\"openid\",\"template_id\"}}: {e}")),
    }
}

async fn kf(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!({ "accounts": p.kf_accounts() }))
}

#[derive(Deserialize)]
struct AcceptBody {
    kf_account: String,
}

async fn kf_accept(State(p): State<MockPlatform>, body: Bytes) -> Response {
    match serde_json::from_slice::<AcceptBody>(&body) {
        Ok(b) if p.accept_kf_invite(&b.kf_account) => Json(json!({ "ok": true })).into_response(),
        Ok(b) => bad_request(format!("{} has no open invitation", b.kf_account)),
        Err(e) => bad_request(format!("body is not {{\"kf_account\"}}: {e}")),
    }
}

async fn blacklist(State(p): State<MockPlatform>) -> Json<Value> {
    Json(json!({ "openids": p.blacklisted() }))
}

async fn delay(State(p): State<MockPlatform>, body: Bytes) -> Response {
    match serde_json::from_slice::<Delay>(&body) {
        Ok(d) if d.path.starts_with('/') => {
            p.delay_responses(d);
            Json(json!({ "ok": true })).into_response()
        }
        Ok(d) => bad_request(format!("path {:?} must start with /", d.path)),
        Err(e) => bad_request(format!(
            "body is not a delay ({{\"path\",\"ms\",\"count\"?}}): {e}"
        )),
    }
}

impl MockPlatform {
    /// The drafts, newest first.
    #[must_use]
    pub fn drafts(&self) -> Vec<MockDraft> {
        self.lock()
            .drafts
            .newest_first()
            .into_iter()
            .cloned()
            .collect()
    }

    /// The published posts.
    #[must_use]
    pub fn published(&self) -> Vec<PublishedPost> {
        self.lock().publishing.posts.values().cloned().collect()
    }

    /// The permanent materials.
    #[must_use]
    pub fn materials(&self) -> Vec<MockMaterial> {
        self.lock().materials.by_id.values().cloned().collect()
    }

    /// Store a permanent material as if uploaded; returns its media_id.
    #[must_use]
    pub fn add_material(&self, kind: MediaKind, name: &str, bytes: Vec<u8>) -> String {
        let now = self.now();
        let media_id = random_string(43);
        let mut s = self.lock();
        let seq = u64::try_from(s.materials.by_id.len()).unwrap_or(u64::MAX) + 1_000_000;
        let url = (kind == MediaKind::Image)
            .then(|| format!("http://mmbiz.qpic.cn/mmbiz_jpg/{media_id}/0"));
        let description = (kind == MediaKind::Video).then(|| (name.to_owned(), String::new()));
        s.materials.by_id.insert(
            media_id.clone(),
            MockMaterial {
                media_id: media_id.clone(),
                kind,
                name: name.to_owned(),
                description,
                url,
                update_time: now,
                size: bytes.len(),
                bytes: bytes.into(),
                seq,
            },
        );
        media_id
    }

    /// Mass jobs and previews, oldest first.
    #[must_use]
    pub fn mass_jobs(&self) -> Vec<MassJob> {
        self.lock().mass.jobs.clone()
    }

    /// Hold back the next answers of a path; see [`Delay`].
    pub fn delay_responses(&self, delay: Delay) {
        self.lock().delays.push(delay);
    }

    /// The delay for a call to `path` now, if one is pending (used up by the call).
    pub(crate) fn take_delay(&self, path: &str) -> Option<Duration> {
        let mut s = self.lock();
        let i = s
            .delays
            .iter()
            .position(|d| d.path == path && d.count > 0)?;
        let d = &mut s.delays[i];
        d.count -= 1;
        let ms = d.ms;
        if d.count == 0 {
            s.delays.remove(i);
        }
        Some(Duration::from_millis(ms))
    }
}
