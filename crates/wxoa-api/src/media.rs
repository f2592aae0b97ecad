//! Temporary media (临时素材): multipart upload (field `media`) and download (raw bytes, or a JSON error / video URL).
//!
//! Temporary media live 3 days. Size limits (PROTOCOL §9.6; the official page says both 10 MB
//! and 2 MB for images, the larger is used here and the platform has the last word): image
//! 10 MB PNG/JPEG/JPG/GIF, voice 2 MB AMR/MP3 (≤ 60 s), video 10 MB MP4, thumb 64 KB JPG.

use serde::{Deserialize, Serialize};

use crate::client::{Body, Client, Raw, Req, decode, json_value, snippet};
use crate::error::ApiError;

/// A temporary media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `image`.
    Image,
    /// `voice`.
    Voice,
    /// `video`.
    Video,
    /// `thumb`.
    Thumb,
}

impl MediaType {
    /// The platform's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Voice => "voice",
            Self::Video => "video",
            Self::Thumb => "thumb",
        }
    }

    /// Largest accepted file, in bytes.
    #[must_use]
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Image | Self::Video => 10 * 1024 * 1024,
            Self::Voice => 2 * 1024 * 1024,
            Self::Thumb => 64 * 1024,
        }
    }

    /// Accepted file extensions (lower case).
    #[must_use]
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Image => &["png", "jpeg", "jpg", "gif"],
            Self::Voice => &["amr", "mp3"],
            Self::Video => &["mp4"],
            Self::Thumb => &["jpg", "jpeg"],
        }
    }
}

/// The answer of `media/upload`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct UploadedMedia {
    /// `image`, `voice`, `video` or `thumb`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The media id (a thumb upload answers `thumb_media_id`; it lands here too).
    #[serde(alias = "thumb_media_id")]
    pub media_id: String,
    /// Unix time of the upload; the id is valid for 3 days from it.
    #[serde(default)]
    pub created_at: i64,
}

/// What `media/get` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaDownload {
    /// The file itself.
    File {
        /// `Content-Type` of the answer.
        content_type: Option<String>,
        /// File name from `Content-Disposition`.
        filename: Option<String>,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A video: the platform answers with a download URL instead of the file.
    VideoUrl(String),
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

/// The `filename` of a `Content-Disposition` header.
fn disposition_filename(header: &str) -> Option<String> {
    header.split(';').map(str::trim).find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("filename")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn decode_download(raw: Raw) -> Result<MediaDownload, ApiError> {
    if !(200..300).contains(&raw.status) {
        return Err(ApiError::Status {
            path: raw.path.clone(),
            status: raw.status,
            body: snippet(&raw.body),
        });
    }
    let ct = raw
        .content_type
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let textual = ct.is_empty() || ct.contains("json") || ct.starts_with("text/");
    let looks_json = raw.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if textual && looks_json {
        // An error ({"errcode":40007,…}) or, for videos, {"video_url":"…"}.
        let v = json_value(&raw)?;
        if let Some(url) = v.get("video_url").and_then(serde_json::Value::as_str) {
            return Ok(MediaDownload::VideoUrl(url.to_owned()));
        }
    }
    Ok(MediaDownload::File {
        content_type: raw.content_type,
        filename: raw.disposition.as_deref().and_then(disposition_filename),
        bytes: raw.body,
    })
}

impl Client {
    /// `POST media/upload?type=…` (multipart, field `media`): upload a temporary file.
    ///
    /// The extension of `filename` picks the content type and must suit `kind`. Not repeated on `-1`.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for an empty, too large or wrongly typed file; the platform's
    /// error (40004, 40005, 45001).
    pub async fn media_upload(
        &self,
        kind: MediaType,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<UploadedMedia, ApiError> {
        let ext = filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if !kind.extensions().contains(&ext.as_str()) {
            return Err(ApiError::Validation(format!(
                "{filename:?}: a {} must be one of {}",
                kind.as_str(),
                kind.extensions().join(", ")
            )));
        }
        if bytes.is_empty() {
            return Err(ApiError::Validation(format!("{filename:?} is empty")));
        }
        if bytes.len() > kind.max_bytes() {
            return Err(ApiError::Validation(format!(
                "{filename:?} is {} bytes; a {} may be at most {} bytes",
                bytes.len(),
                kind.as_str(),
                kind.max_bytes()
            )));
        }
        let mut req = Req::get("/cgi-bin/media/upload").query("type", kind.as_str());
        req.method = reqwest::Method::POST;
        req.body = Body::Media {
            filename: filename.to_owned(),
            content_type: content_type_for(&ext).to_owned(),
            bytes,
            fields: Vec::new(),
            progress: None,
        };
        self.inner.call(&req.never_repeat(), decode).await
    }

    /// `GET media/get?media_id=…`: download a temporary file (a video comes back as a URL).
    ///
    /// # Errors
    /// The platform's error when it answers JSON (40007 invalid / expired media_id).
    pub async fn media_get(&self, media_id: &str) -> Result<MediaDownload, ApiError> {
        if media_id.trim().is_empty() {
            return Err(ApiError::Validation("media_id is required".to_owned()));
        }
        self.inner
            .call(
                &Req::get("/cgi-bin/media/get").query("media_id", media_id),
                decode_download,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ct: Option<&str>, disp: Option<&str>, body: &[u8]) -> Raw {
        Raw {
            path: "/cgi-bin/media/get".into(),
            status: 200,
            content_type: ct.map(Into::into),
            disposition: disp.map(Into::into),
            body: body.to_vec(),
        }
    }

    #[test]
    fn binary_is_a_file_json_is_an_error_or_a_video_url() {
        let f = decode_download(raw(
            Some("image/jpeg"),
            Some(r#"attachment; filename="abc.jpg""#),
            b"\xFF\xD8{",
        ))
        .unwrap();
        assert_eq!(
            f,
            MediaDownload::File {
                content_type: Some("image/jpeg".into()),
                filename: Some("abc.jpg".into()),
                bytes: b"\xFF\xD8{".to_vec()
            }
        );
        let e = decode_download(raw(
            Some("text/plain"),
            None,
            br#"{"errcode":40007,"errmsg":"invalid media_id"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.code(), Some(40007));
        let v = decode_download(raw(
            Some("application/json"),
            None,
            br#"{"video_url":"http://v/x.mp4"}"#,
        ))
        .unwrap();
        assert_eq!(v, MediaDownload::VideoUrl("http://v/x.mp4".into()));
        // A binary type starting with '{' stays a file.
        assert!(matches!(
            decode_download(raw(Some("audio/amr"), None, b"{raw")).unwrap(),
            MediaDownload::File { .. }
        ));
    }

    #[test]
    fn thumb_media_id_is_accepted() {
        let u: UploadedMedia =
            serde_json::from_str(r#"{"type":"thumb","thumb_media_id":"T1","created_at":1}"#)
                .unwrap();
        assert_eq!(u.media_id, "T1");
    }
}
