//! 永久素材: `material/add_material` (multipart `media`, and `description` for a video), `get_material`, `del_material`, `get_materialcount`, `batchget_material`, and `media/uploadimg`.
//!
//! Checks like the platform: `type` not image / voice / video / thumb 40004; no `media`
//! field 41005; extension not fitting the type 40005 (image bmp/png/jpeg/jpg/gif, voice
//! mp3/wma/wav/amr, video mp4, thumb jpg); size over image/video 10 MB, voice 2 MB, thumb
//! 64 KB 40006; a video without a `description` holding a title 40097 (the mock's choice of
//! code); an unknown media_id 40007; `batchget` type unknown 40004, count outside 1–20 40097.
//! `uploadimg`: jpg/png only (40005), at most 1 MB (40009).

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::draft::{news_items, page_args};
use super::errors::{WxError, WxResult, ok, ok_with};
use super::media::{self, MediaKind};
use super::state::{MockPlatform, random_string};
use super::{json_body, str_field};

/// Largest `uploadimg` image.
const UPLOADIMG_MAX_BYTES: usize = 1024 * 1024;

/// A stored permanent material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MockMaterial {
    /// Its media_id.
    pub media_id: String,
    /// Its type.
    pub kind: MediaKind,
    /// The uploaded file name.
    pub name: String,
    /// A video's title and introduction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<(String, String)>,
    /// An image's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Upload time.
    pub update_time: i64,
    /// Size in bytes.
    pub size: usize,
    /// The file.
    #[serde(skip)]
    pub bytes: Bytes,
    #[serde(skip)]
    pub(crate) seq: u64,
}

/// Permanent materials and `uploadimg` images.
#[derive(Debug, Default)]
pub(crate) struct Materials {
    pub(crate) by_id: BTreeMap<String, MockMaterial>,
    /// URLs handed out by `uploadimg`.
    pub(crate) article_images: Vec<String>,
    next_seq: u64,
}

impl Materials {
    /// Whether `id` can be an article cover (a permanent image or thumb).
    pub(crate) fn is_cover(&self, id: &str) -> bool {
        self.by_id
            .get(id)
            .is_some_and(|m| matches!(m.kind, MediaKind::Image | MediaKind::Thumb))
    }

    /// Whether `id` is a permanent material of `kind`.
    pub(crate) fn is(&self, id: &str, kind: MediaKind) -> bool {
        self.by_id.get(id).is_some_and(|m| m.kind == kind)
    }
}

fn extensions(kind: MediaKind) -> &'static [&'static str] {
    match kind {
        MediaKind::Image => &["bmp", "png", "jpeg", "jpg", "gif"],
        MediaKind::Voice => &["mp3", "wma", "wav", "amr"],
        MediaKind::Video => &["mp4"],
        MediaKind::Thumb => &["jpg", "jpeg"],
    }
}

fn extension(filename: &str) -> String {
    media::extension(filename).unwrap_or_default()
}

/// The `media` file and the text fields of a multipart upload.
async fn read_form(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(String, Bytes, HashMap<String, String>), WxError> {
    let mut multipart = multipart.map_err(|_| WxError::new(41005))?;
    let mut file = None;
    let mut fields = HashMap::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| WxError::new(41005))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "media" {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(|_| WxError::new(40006))?;
            file = Some((filename, bytes));
        } else {
            let text = field.text().await.map_err(|_| WxError::new(47001))?;
            fields.insert(name, text);
        }
    }
    let (filename, bytes) = file.ok_or_else(|| WxError::new(41005))?;
    if bytes.is_empty() {
        return Err(WxError::new(41005));
    }
    Ok((filename, bytes, fields))
}

/// `POST /cgi-bin/material/add_material?type=…` → `{"media_id","url"?}`
pub(crate) async fn add(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> WxResult {
    let kind = q
        .get("type")
        .and_then(|t| MediaKind::parse(t))
        .ok_or_else(|| WxError::new(40004))?;
    let (filename, bytes, fields) = read_form(multipart).await?;
    if !extensions(kind).contains(&extension(&filename).as_str()) {
        return Err(WxError::new(40005));
    }
    if bytes.len() > kind.max_bytes() {
        return Err(WxError::new(40006));
    }
    let description = if kind == MediaKind::Video {
        let d: Value = fields
            .get("description")
            .and_then(|d| serde_json::from_str(d).ok())
            .ok_or_else(|| WxError::with_msg(40097, "invalid args: description missing"))?;
        let title = str_field(&d, "title").filter(|t| !t.trim().is_empty());
        let title = title.ok_or_else(|| WxError::with_msg(40097, "invalid args: title missing"))?;
        Some((title, str_field(&d, "introduction").unwrap_or_default()))
    } else {
        None
    };
    let media_id = random_string(43);
    let url = (kind == MediaKind::Image).then(|| {
        format!(
            "http://mmbiz.qpic.cn/mmbiz_{}/{media_id}/0",
            extension(&filename)
        )
    });
    let now = p.now();
    let mut s = p.lock();
    s.materials.next_seq += 1;
    let seq = s.materials.next_seq;
    s.materials.by_id.insert(
        media_id.clone(),
        MockMaterial {
            media_id: media_id.clone(),
            kind,
            name: filename,
            description,
            url: url.clone(),
            update_time: now,
            size: bytes.len(),
            bytes,
            seq,
        },
    );
    let mut answer = json!({ "media_id": media_id });
    if let Some(url) = url {
        answer["url"] = json!(url);
    }
    Ok(Json(answer))
}

/// `POST /cgi-bin/media/uploadimg` (multipart `media`) → `{"url"}`
pub(crate) async fn upload_image(
    State(p): State<MockPlatform>,
    multipart: Result<Multipart, MultipartRejection>,
) -> WxResult {
    let (filename, bytes, _) = read_form(multipart).await?;
    let ext = extension(&filename);
    if !["jpg", "jpeg", "png"].contains(&ext.as_str()) {
        return Err(WxError::new(40005));
    }
    if bytes.len() > UPLOADIMG_MAX_BYTES {
        return Err(WxError::new(40009));
    }
    let url = format!(
        "http://mmbiz.qpic.cn/mmbiz_{ext}/{}/0?wx_fmt={ext}",
        random_string(40)
    );
    p.lock().materials.article_images.push(url.clone());
    Ok(Json(json!({ "url": url })))
}

/// `POST /cgi-bin/material/get_material` `{"media_id"}`: the file, a video's description and
/// `down_url` (served at `/mock/material/{media_id}`), or 40007.
pub(crate) async fn get_material(
    State(p): State<MockPlatform>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WxError> {
    let v = json_body(&body)?;
    let id = str_field(&v, "media_id").unwrap_or_default();
    let s = p.lock();
    let m = s
        .materials
        .by_id
        .get(&id)
        .ok_or_else(|| WxError::new(40007))?;
    if m.kind == MediaKind::Video {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let (title, intro) = m.description.clone().unwrap_or_default();
        return Ok(Json(json!({
            "title": title,
            "description": intro,
            "down_url": format!("http://{host}/mock/material/{id}"),
        }))
        .into_response());
    }
    Ok(file_response(m))
}

/// A material's bytes with its content type.
pub(crate) fn file_response(m: &MockMaterial) -> Response {
    let ct = media::content_type_for(&extension(&m.name));
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Ok(cd) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", m.name)) {
        headers.insert(header::CONTENT_DISPOSITION, cd);
    }
    (headers, m.bytes.clone()).into_response()
}

/// `POST /cgi-bin/material/del_material` `{"media_id"}`
pub(crate) async fn delete(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let id = str_field(&v, "media_id").unwrap_or_default();
    p.lock()
        .materials
        .by_id
        .remove(&id)
        .ok_or_else(|| WxError::new(40007))?;
    Ok(ok())
}

/// `GET /cgi-bin/material/get_materialcount`
pub(crate) async fn count(State(p): State<MockPlatform>) -> WxResult {
    let s = p.lock();
    let n = |k: MediaKind| s.materials.by_id.values().filter(|m| m.kind == k).count();
    Ok(ok_with(json!({
        "voice_count": n(MediaKind::Voice),
        "video_count": n(MediaKind::Video),
        "image_count": n(MediaKind::Image) + n(MediaKind::Thumb),
        "news_count": s.publishing.posts.len(),
    })))
}

/// `POST /cgi-bin/material/batchget_material` `{"type","offset","count"}`, newest first.
pub(crate) async fn batch_get(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let kind = str_field(&v, "type").unwrap_or_default();
    let (offset, count, _) = page_args(&v)?;
    let s = p.lock();
    if kind == "news" {
        let mut posts: Vec<_> = s.publishing.posts.values().collect();
        posts.sort_by_key(|x| std::cmp::Reverse(x.seq));
        let items: Vec<Value> = posts
            .iter()
            .skip(offset)
            .take(count)
            .map(|post| json!({ "media_id": post.article_id, "content": { "news_item": news_items(&post.article_id, &post.articles) }, "update_time": post.update_time }))
            .collect();
        return Ok(ok_with(
            json!({ "total_count": posts.len(), "item_count": items.len(), "item": items }),
        ));
    }
    let kind = MediaKind::parse(&kind)
        .filter(|k| *k != MediaKind::Thumb)
        .ok_or_else(|| WxError::new(40004))?;
    let mut all: Vec<&MockMaterial> = s
        .materials
        .by_id
        .values()
        .filter(|m| m.kind == kind || (kind == MediaKind::Image && m.kind == MediaKind::Thumb))
        .collect();
    all.sort_by_key(|x| std::cmp::Reverse(x.seq));
    let items: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(count)
        .map(|m| {
            let mut item =
                json!({ "media_id": m.media_id, "name": m.name, "update_time": m.update_time });
            if let Some(url) = &m.url {
                item["url"] = json!(url);
            }
            item
        })
        .collect();
    Ok(ok_with(json!({
        "total_count": all.len(),
        "item_count": items.len(),
        "item": items,
    })))
}
