//! Temporary media: `media/upload` (multipart field `media`) and `media/get` (the bytes back, or `video_url` for videos).
//!
//! Like the platform (PROTOCOL §9.6): `type` must be image / voice / video / thumb (40004); the
//! file must be in the field `media` (41005); its extension (or content type) must fit the type,
//! image PNG/JPEG/JPG/GIF, voice AMR/MP3, video MP4, thumb JPG (40005); size limits image and
//! video 10 MB, voice 2 MB, thumb 64 KB (40006); media live 3 days, then 40007 like an unknown id.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::errors::{WxError, WxResult};
use super::state::{MockPlatform, random_string};

/// How long a temporary medium lives (3 days).
pub(crate) const MEDIA_TTL_SECS: i64 = 3 * 86_400;

/// Type of a temporary medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// PNG / JPEG / GIF, ≤ 10 MB.
    Image,
    /// AMR / MP3, ≤ 2 MB.
    Voice,
    /// MP4, ≤ 10 MB.
    Video,
    /// JPG thumbnail, ≤ 64 KB.
    Thumb,
}

impl MediaKind {
    /// The `type` parameter value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Voice => "voice",
            Self::Video => "video",
            Self::Thumb => "thumb",
        }
    }

    /// Parse a `type` parameter value.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(Self::Image),
            "voice" => Some(Self::Voice),
            "video" => Some(Self::Video),
            "thumb" => Some(Self::Thumb),
            _ => None,
        }
    }

    /// Largest accepted file.
    #[must_use]
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Image | Self::Video => 10 * 1024 * 1024,
            Self::Voice => 2 * 1024 * 1024,
            Self::Thumb => 64 * 1024,
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Image => &["png", "jpeg", "jpg", "gif"],
            Self::Voice => &["amr", "mp3"],
            Self::Video => &["mp4"],
            Self::Thumb => &["jpg", "jpeg"],
        }
    }
}

pub(crate) fn content_type_for(ext: &str) -> &'static str {
    match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "bmp" => "image/bmp",
        "wav" => "audio/wav",
        "wma" => "audio/x-ms-wma",
        _ => "application/octet-stream",
    }
}

fn ext_for(content_type: &str) -> Option<&'static str> {
    match content_type.split(';').next().unwrap_or_default().trim() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpg"),
        "image/gif" => Some("gif"),
        "audio/amr" => Some("amr"),
        "audio/mpeg" | "audio/mp3" => Some("mp3"),
        "video/mp4" => Some("mp4"),
        _ => None,
    }
}

pub(crate) fn extension(filename: &str) -> Option<String> {
    filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// A stored temporary medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMedia {
    /// Its media_id.
    pub media_id: String,
    /// Its type.
    pub kind: MediaKind,
    /// The uploaded file name.
    pub filename: String,
    /// Content type served back by `media/get`.
    pub content_type: String,
    /// Upload time (Unix seconds); it expires 3 days later.
    pub created_at: i64,
    /// The file.
    #[serde(skip)]
    pub bytes: Bytes,
}

impl StoredMedia {
    /// A medium uploaded at `now` (content type from the file extension).
    #[must_use]
    pub fn new(kind: MediaKind, filename: &str, bytes: impl Into<Bytes>, now: i64) -> Self {
        let ext = extension(filename).unwrap_or_default();
        Self {
            media_id: random_string(64),
            kind,
            filename: filename.to_owned(),
            content_type: content_type_for(&ext).to_owned(),
            created_at: now,
            bytes: bytes.into(),
        }
    }

    /// The file as `media/get` serves it (content type and attachment name).
    pub(crate) fn file_response(&self) -> Response {
        let ext = extension(&self.filename).unwrap_or_else(|| "bin".to_owned());
        let mut headers = HeaderMap::new();
        if let Ok(ct) = HeaderValue::from_str(&self.content_type) {
            headers.insert(header::CONTENT_TYPE, ct);
        }
        if let Ok(cd) =
            HeaderValue::from_str(&format!("attachment; filename=\"{}.{ext}\"", self.media_id))
        {
            headers.insert(header::CONTENT_DISPOSITION, cd);
        }
        (headers, self.bytes.clone()).into_response()
    }
}

/// A live medium or 40007.
pub(crate) fn live_media<'a>(
    media: &'a HashMap<String, StoredMedia>,
    id: &str,
    now: i64,
) -> Result<&'a StoredMedia, WxError> {
    media
        .get(id)
        .filter(|m| now < m.created_at + MEDIA_TTL_SECS)
        .ok_or_else(|| WxError::new(40007))
}

/// `POST /cgi-bin/media/upload?type=image|voice|video|thumb`, multipart field `media`.
pub(crate) async fn upload(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> WxResult {
    let kind = q
        .get("type")
        .and_then(|t| MediaKind::parse(t))
        .ok_or_else(|| WxError::new(40004))?;
    let mut multipart = multipart.map_err(|_| WxError::new(41005))?;
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| WxError::new(41005))?
    {
        if field.name() != Some("media") {
            continue;
        }
        let filename = field.file_name().unwrap_or_default().to_owned();
        let content_type = field.content_type().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|_| WxError::new(40006))?;
        file = Some((filename, content_type, bytes));
        break;
    }
    let Some((filename, content_type, bytes)) = file else {
        return Err(WxError::new(41005));
    };
    if bytes.is_empty() {
        return Err(WxError::new(41005));
    }
    if bytes.len() > kind.max_bytes() {
        return Err(WxError::new(40006));
    }
    let ext = extension(&filename).or_else(|| ext_for(&content_type).map(str::to_owned));
    let Some(ext) = ext.filter(|e| kind.extensions().contains(&e.as_str())) else {
        return Err(WxError::new(40005));
    };
    let filename = if extension(&filename).is_some() {
        filename
    } else {
        format!("media.{ext}")
    };
    let now = p.now();
    let media = StoredMedia::new(kind, &filename, bytes, now);
    let id = media.media_id.clone();
    p.lock().media.insert(id.clone(), media);
    let id_field = if kind == MediaKind::Thumb {
        "thumb_media_id"
    } else {
        "media_id"
    };
    Ok(Json(
        json!({ "type": kind.as_str(), id_field: id, "created_at": now }),
    ))
}

/// `GET /cgi-bin/media/get?media_id=…`: the file, or `{"video_url": …}` for a video (served at
/// `/mock/media/{media_id}`), or 40007.
pub(crate) async fn get_media(
    State(p): State<MockPlatform>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WxError> {
    let id = q.get("media_id").cloned().unwrap_or_default();
    let now = p.now();
    let s = p.lock();
    let m = live_media(&s.media, &id, now)?;
    if m.kind == MediaKind::Video {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let url = format!("http://{host}/mock/media/{id}");
        return Ok(Json(json!({ "video_url": url })).into_response());
    }
    Ok(m.file_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_have_limits() {
        for k in [
            MediaKind::Image,
            MediaKind::Voice,
            MediaKind::Video,
            MediaKind::Thumb,
        ] {
            assert_eq!(MediaKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(MediaKind::parse("file"), None);
        assert_eq!(MediaKind::Thumb.max_bytes(), 65_536);
    }

    #[test]
    fn media_expire_after_three_days() {
        let m = StoredMedia::new(MediaKind::Image, "a.PNG", vec![1, 2], 100);
        assert_eq!(m.content_type, "image/png");
        let id = m.media_id.clone();
        let map = HashMap::from([(id.clone(), m)]);
        assert!(live_media(&map, &id, 100 + MEDIA_TTL_SECS - 1).is_ok());
        assert_eq!(
            live_media(&map, &id, 100 + MEDIA_TTL_SECS)
                .unwrap_err()
                .code,
            40007
        );
        assert_eq!(live_media(&map, "x", 100).unwrap_err().code, 40007);
    }
}
