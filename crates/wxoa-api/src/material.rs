//! 永久素材 (permanent materials): `material/add_material` (image, voice, video with its description, thumb), `get_material`, `del_material`, `get_materialcount`, `batchget_material`, and `media/uploadimg` for images inside articles.
//!
//! Limits (the platform's): image 10 MB bmp/png/jpeg/jpg/gif, voice 2 MB mp3/wma/wav/amr
//! (≤ 60 s), video 10 MB mp4, thumb 64 KB jpg; 100 000 images and 1 000 of each other type.
//! `uploadimg` takes jpg/png up to 1 MB and answers a URL usable only inside articles.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Body, Client, Progress, Raw, Req, decode, decode_ok, json_value, snippet};
use crate::draft::{Article, require};
use crate::error::ApiError;
use crate::media::content_type_for;

/// Most items in one `batchget_material` page.
pub const MAX_PAGE: u32 = 20;
/// Largest image of `media/uploadimg`.
pub const UPLOADIMG_MAX_BYTES: usize = 1024 * 1024;

/// A permanent material type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaterialType {
    /// `image`.
    Image,
    /// `voice`.
    Voice,
    /// `video` (uploaded with a title and an introduction).
    Video,
    /// `thumb` (a cover thumbnail).
    Thumb,
    /// `news` (published articles; listing only).
    News,
}

impl MaterialType {
    /// The platform's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Voice => "voice",
            Self::Video => "video",
            Self::Thumb => "thumb",
            Self::News => "news",
        }
    }

    /// Parse the platform's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "image" => Some(Self::Image),
            "voice" => Some(Self::Voice),
            "video" => Some(Self::Video),
            "thumb" => Some(Self::Thumb),
            "news" => Some(Self::News),
            _ => None,
        }
    }

    /// Largest accepted file, in bytes.
    #[must_use]
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Image | Self::Video => 10 * 1024 * 1024,
            Self::Voice => 2 * 1024 * 1024,
            Self::Thumb => 64 * 1024,
            Self::News => 0,
        }
    }

    /// Accepted file extensions (lower case).
    #[must_use]
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Image => &["bmp", "png", "jpeg", "jpg", "gif"],
            Self::Voice => &["mp3", "wma", "wav", "amr"],
            Self::Video => &["mp4"],
            Self::Thumb => &["jpg", "jpeg"],
            Self::News => &[],
        }
    }
}

/// The title and introduction a video is uploaded with.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VideoDescription {
    /// Title.
    pub title: String,
    /// Introduction.
    pub introduction: String,
}

/// The answer of `add_material`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddedMaterial {
    /// The new material's media_id.
    pub media_id: String,
    /// For an image: its URL (usable only inside articles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A file to upload: name (its extension picks the content type), bytes, optional progress.
#[derive(Debug, Clone)]
pub struct Upload {
    /// File name, e.g. `cover.jpg`.
    pub filename: String,
    /// The file.
    pub bytes: Vec<u8>,
    /// Told the bytes sent so far.
    pub progress: Option<Progress>,
}

impl Upload {
    /// `bytes` named `filename`, without progress reports.
    pub fn new(filename: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            filename: filename.into(),
            bytes,
            progress: None,
        }
    }

    /// Report progress to `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    fn extension(&self) -> String {
        self.filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default()
    }

    fn check(&self, what: &str, extensions: &[&str], max: usize) -> Result<(), ApiError> {
        let ext = self.extension();
        if !extensions.contains(&ext.as_str()) {
            return Err(ApiError::Validation(format!(
                "{:?}: {what} must be one of {}",
                self.filename,
                extensions.join(", ")
            )));
        }
        if self.bytes.is_empty() {
            return Err(ApiError::Validation(format!(
                "{:?} is empty",
                self.filename
            )));
        }
        if self.bytes.len() > max {
            return Err(ApiError::Validation(format!(
                "{:?} is {} bytes; {what} may be at most {max} bytes",
                self.filename,
                self.bytes.len()
            )));
        }
        Ok(())
    }

    fn into_body(self, fields: Vec<(String, String)>) -> Body {
        let content_type = content_type_for(&self.extension()).to_owned();
        Body::Media {
            filename: self.filename,
            content_type,
            bytes: self.bytes,
            fields,
            progress: self.progress,
        }
    }
}

/// What `get_material` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaterialDownload {
    /// An image, voice or thumb: the file.
    File {
        /// `Content-Type` of the answer.
        content_type: Option<String>,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A video: its description and a download URL.
    Video {
        /// Title.
        title: String,
        /// Introduction.
        description: String,
        /// Where to download it.
        down_url: String,
    },
    /// A news material: its articles.
    News(Vec<Article>),
}

/// Material counts (`get_materialcount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MaterialCount {
    /// Voices.
    #[serde(default)]
    pub voice_count: u64,
    /// Videos.
    #[serde(default)]
    pub video_count: u64,
    /// Images.
    #[serde(default)]
    pub image_count: u64,
    /// News (articles).
    #[serde(default)]
    pub news_count: u64,
}

/// One listed material (image, voice, video).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MaterialItem {
    /// Its media_id.
    pub media_id: String,
    /// The uploaded file name.
    #[serde(default)]
    pub name: String,
    /// Last change (Unix seconds).
    #[serde(default)]
    pub update_time: i64,
    /// For images: the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One page of `batchget_material`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MaterialPage {
    /// Materials of the type in total.
    #[serde(default)]
    pub total_count: u32,
    /// Items in this page.
    #[serde(default)]
    pub item_count: u32,
    /// The items.
    #[serde(default)]
    pub item: Vec<MaterialItem>,
}

#[derive(Deserialize)]
struct UrlResponse {
    url: String,
}

fn decode_material(raw: Raw) -> Result<MaterialDownload, ApiError> {
    let ct = raw
        .content_type
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let textual = ct.is_empty() || ct.contains("json") || ct.starts_with("text/");
    let looks_json = raw.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !(200..300).contains(&raw.status) {
        return Err(ApiError::Status {
            path: raw.path.clone(),
            status: raw.status,
            body: snippet(&raw.body),
        });
    }
    if !(textual && looks_json) {
        return Ok(MaterialDownload::File {
            content_type: raw.content_type,
            bytes: raw.body,
        });
    }
    let v = json_value(&raw)?;
    if let Some(items) = v.get("news_item") {
        let articles: Vec<Article> =
            serde_json::from_value(items.clone()).map_err(|e| ApiError::Decode {
                body: snippet(&raw.body),
                source: e,
            })?;
        return Ok(MaterialDownload::News(articles));
    }
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if v.get("down_url").is_some() {
        return Ok(MaterialDownload::Video {
            title: text("title"),
            description: text("description"),
            down_url: text("down_url"),
        });
    }
    // Valid JSON but neither shape: a JSON file uploaded as a material is not possible, so
    // this is an answer this client does not understand.
    Err(ApiError::Validation(format!(
        "get_material answered JSON of an unknown shape: {}",
        snippet(&raw.body)
    )))
}

impl Client {
    /// `POST material/add_material?type=…`: upload a permanent image, voice, thumb or video
    /// (a video needs `description`). Not repeated on `-1`.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a wrong type, size or a video without description; the
    /// platform's error (40005, 40006, 40007, 45001).
    pub async fn material_add(
        &self,
        kind: MaterialType,
        file: Upload,
        description: Option<&VideoDescription>,
    ) -> Result<AddedMaterial, ApiError> {
        if kind == MaterialType::News {
            return Err(ApiError::Validation(
                "news materials are made as drafts (draft/add), not uploaded".to_owned(),
            ));
        }
        file.check(
            &format!("a {}", kind.as_str()),
            kind.extensions(),
            kind.max_bytes(),
        )?;
        let mut fields = Vec::new();
        match (kind, description) {
            (MaterialType::Video, Some(d)) => {
                if d.title.trim().is_empty() {
                    return Err(ApiError::Validation("a video needs a title".to_owned()));
                }
                let json = serde_json::to_string(d).map_err(|e| {
                    ApiError::Validation(format!("cannot encode the description: {e}"))
                })?;
                fields.push(("description".to_owned(), json));
            }
            (MaterialType::Video, None) => {
                return Err(ApiError::Validation(
                    "a video is uploaded with a title and an introduction".to_owned(),
                ));
            }
            _ => {}
        }
        let mut req = Req::get("/cgi-bin/material/add_material").query("type", kind.as_str());
        req.method = reqwest::Method::POST;
        req.body = file.into_body(fields);
        self.inner.call(&req.never_repeat(), decode).await
    }

    /// `POST media/uploadimg`: an image for article bodies (jpg/png ≤ 1 MB); returns its URL.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; the platform's error (40005, 40006, 40009).
    pub async fn upload_article_image(&self, file: Upload) -> Result<String, ApiError> {
        file.check(
            "an article image",
            &["jpg", "jpeg", "png"],
            UPLOADIMG_MAX_BYTES,
        )?;
        let mut req = Req::get("/cgi-bin/media/uploadimg");
        req.method = reqwest::Method::POST;
        req.body = file.into_body(Vec::new());
        let r: UrlResponse = self.inner.call(&req.never_repeat(), decode).await?;
        Ok(r.url)
    }

    /// `POST material/get_material`: a permanent material (a file, a video's URL, or articles).
    ///
    /// # Errors
    /// 40007 (no such material).
    pub async fn material_get(&self, media_id: &str) -> Result<MaterialDownload, ApiError> {
        require("media_id", media_id)?;
        let req = Req::post(
            "/cgi-bin/material/get_material",
            &serde_json::json!({ "media_id": media_id }),
        )?
        .safe();
        self.inner.call(&req, decode_material).await
    }

    /// `POST material/del_material`.
    ///
    /// # Errors
    /// 40007 (no such material).
    pub async fn material_delete(&self, media_id: &str) -> Result<(), ApiError> {
        require("media_id", media_id)?;
        let req = Req::post(
            "/cgi-bin/material/del_material",
            &serde_json::json!({ "media_id": media_id }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `GET material/get_materialcount`.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn material_count(&self) -> Result<MaterialCount, ApiError> {
        self.inner
            .call(&Req::get("/cgi-bin/material/get_materialcount"), decode)
            .await
    }

    /// `POST material/batchget_material`: `count` (1–20) materials of `kind` from `offset`.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a bad count; 40004 (bad type).
    pub async fn material_list(
        &self,
        kind: MaterialType,
        offset: u32,
        count: u32,
    ) -> Result<MaterialPage, ApiError> {
        crate::draft::check_page(count, MAX_PAGE)?;
        let req = Req::post(
            "/cgi-bin/material/batchget_material",
            &serde_json::json!({ "type": kind.as_str(), "offset": offset, "count": count }),
        )?
        .safe();
        self.inner.call(&req, decode).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ct: Option<&str>, body: &[u8]) -> Raw {
        Raw {
            path: "/cgi-bin/material/get_material".into(),
            status: 200,
            content_type: ct.map(Into::into),
            disposition: None,
            body: body.to_vec(),
        }
    }

    #[test]
    fn downloads_are_files_videos_news_or_errors() {
        assert_eq!(
            decode_material(raw(Some("image/jpeg"), b"\xFF\xD8")).unwrap(),
            MaterialDownload::File {
                content_type: Some("image/jpeg".into()),
                bytes: b"\xFF\xD8".to_vec()
            }
        );
        assert!(matches!(
            decode_material(raw(Some("text/plain"), br#"{"title":"t","description":"d","down_url":"http://x"}"#)).unwrap(),
            MaterialDownload::Video { down_url, .. } if down_url == "http://x"
        ));
        assert!(matches!(
            decode_material(raw(None, br#"{"news_item":[{"title":"a","content":"c","thumb_media_id":"m"}]}"#)).unwrap(),
            MaterialDownload::News(a) if a.len() == 1
        ));
        assert_eq!(
            decode_material(raw(
                None,
                br#"{"errcode":40007,"errmsg":"invalid media_id"}"#
            ))
            .unwrap_err()
            .code(),
            Some(40007)
        );
    }

    #[test]
    fn uploads_are_checked_before_sending() {
        let u = Upload::new("a.txt", vec![1]);
        assert!(
            u.check("an image", MaterialType::Image.extensions(), 10)
                .is_err()
        );
        let u = Upload::new("a.PNG", vec![1; 11]);
        assert!(
            u.check("an image", MaterialType::Image.extensions(), 10)
                .is_err()
        );
        let u = Upload::new("a.PNG", vec![1; 10]);
        u.check("an image", MaterialType::Image.extensions(), 10)
            .unwrap();
        assert_eq!(MaterialType::parse("Video"), Some(MaterialType::Video));
    }
}
