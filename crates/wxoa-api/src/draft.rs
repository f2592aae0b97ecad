//! 草稿箱 (drafts): `draft/add`, `update`, `get`, `batchget`, `delete`, `count`, and the article model publishing shares.
//!
//! A draft is one to eight articles; its `media_id` is what `freepublish/submit` publishes
//! and what a mass send (`mpnews`) sends. An article's cover (`thumb_media_id`) must be a
//! permanent image material (`material/add_material`), and images inside `content` must be
//! URLs from `media/uploadimg`: the platform drops other image URLs.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::error::ApiError;

/// Most articles in one draft.
pub const MAX_ARTICLES: usize = 8;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 32;
/// Longest author, in characters.
pub const MAX_AUTHOR_CHARS: usize = 16;
/// Longest digest, in characters.
pub const MAX_DIGEST_CHARS: usize = 128;
/// Largest `content`, in bytes (the platform's 2 万字符 / 1 MB, the byte bound here).
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;
/// Most drafts (or published articles) in one `batchget` page.
pub const MAX_PAGE: u32 = 20;

/// One article (图文) of a draft or of a published post.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Article {
    /// Title (≤ 32 characters).
    pub title: String,
    /// Author (≤ 16 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Summary shown in the share card (≤ 128 characters; the platform takes the first 54 of
    /// the content when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The HTML body (images must come from `media/uploadimg`).
    #[serde(default)]
    pub content: String,
    /// 阅读原文 link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_source_url: Option<String>,
    /// Cover: the media_id of a permanent image material.
    #[serde(default)]
    pub thumb_media_id: String,
    /// 1 to open comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need_open_comment: Option<u8>,
    /// 1 to let only followers comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_fans_can_comment: Option<u8>,
    /// The article's URL (answers only: a draft's preview link, a published article's link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Whether the published article was deleted (answers of `freepublish` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deleted: Option<bool>,
}

impl Article {
    /// An article with `title`, HTML `content` and cover `thumb_media_id`.
    pub fn new(
        title: impl Into<String>,
        content: impl Into<String>,
        thumb_media_id: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            content: content.into(),
            thumb_media_id: thumb_media_id.into(),
            ..Self::default()
        }
    }

    /// Check the platform's limits before sending.
    ///
    /// # Errors
    /// A message naming the field and the limit.
    pub fn validate(&self) -> Result<(), String> {
        let chars = |s: &str| s.chars().count();
        if self.title.trim().is_empty() {
            return Err("title is required".to_owned());
        }
        if chars(&self.title) > MAX_TITLE_CHARS {
            return Err(format!(
                "title {:?} has {} characters; at most {MAX_TITLE_CHARS}",
                self.title,
                chars(&self.title)
            ));
        }
        if let Some(a) = &self.author
            && chars(a) > MAX_AUTHOR_CHARS
        {
            return Err(format!(
                "author {a:?} is longer than {MAX_AUTHOR_CHARS} characters"
            ));
        }
        if let Some(d) = &self.digest
            && chars(d) > MAX_DIGEST_CHARS
        {
            return Err(format!(
                "digest is longer than {MAX_DIGEST_CHARS} characters"
            ));
        }
        if self.content.trim().is_empty() {
            return Err(format!("article {:?}: content is empty", self.title));
        }
        if self.content.len() > MAX_CONTENT_BYTES {
            return Err(format!(
                "article {:?}: content is {} bytes; at most {MAX_CONTENT_BYTES}",
                self.title,
                self.content.len()
            ));
        }
        if self.thumb_media_id.trim().is_empty() {
            return Err(format!(
                "article {:?}: thumb_media_id (the cover, a permanent image material) is required",
                self.title
            ));
        }
        Ok(())
    }
}

/// Check a whole draft: 1 to 8 valid articles.
///
/// # Errors
/// A message naming the problem.
pub fn validate_articles(articles: &[Article]) -> Result<(), String> {
    if articles.is_empty() {
        return Err("a draft needs at least one article".to_owned());
    }
    if articles.len() > MAX_ARTICLES {
        return Err(format!(
            "a draft has at most {MAX_ARTICLES} articles, got {}",
            articles.len()
        ));
    }
    articles.iter().try_for_each(Article::validate)
}

/// A draft as `draft/batchget` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DraftItem {
    /// The draft's media_id.
    pub media_id: String,
    /// Its articles (bodies empty when listed with `no_content`).
    #[serde(default)]
    pub content: NewsContent,
    /// Last change (Unix seconds).
    #[serde(default)]
    pub update_time: i64,
}

/// The `{"news_item": [...]}` wrapper of drafts and published posts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewsContent {
    /// The articles.
    #[serde(default)]
    pub news_item: Vec<Article>,
}

/// One page of drafts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DraftPage {
    /// Drafts in the account.
    #[serde(default)]
    pub total_count: u32,
    /// Drafts in this page.
    #[serde(default)]
    pub item_count: u32,
    /// The drafts.
    #[serde(default)]
    pub item: Vec<DraftItem>,
}

#[derive(Deserialize)]
struct MediaIdResponse {
    media_id: String,
}

#[derive(Deserialize)]
struct CountResponse {
    total_count: u32,
}

/// Reject an empty id before any request is made.
pub(crate) fn require(name: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::Validation(format!("{name} is required")));
    }
    Ok(())
}

/// Reject a page size outside 1..=`max`.
pub(crate) fn check_page(count: u32, max: u32) -> Result<(), ApiError> {
    if count == 0 || count > max {
        return Err(ApiError::Validation(format!(
            "count must be 1 to {max}, got {count}"
        )));
    }
    Ok(())
}

impl Client {
    /// `POST draft/add`: a new draft of 1–8 articles; returns its media_id. Not repeated on `-1`
    /// (a repeat would make a second draft).
    ///
    /// # Errors
    /// [`ApiError::Validation`]; the platform's error, e.g. 40007 (the cover is not a permanent
    /// image material), 53404 / 53405 / 53406 (product cards).
    pub async fn draft_add(&self, articles: &[Article]) -> Result<String, ApiError> {
        validate_articles(articles).map_err(ApiError::Validation)?;
        let req = Req::post(
            "/cgi-bin/draft/add",
            &serde_json::json!({ "articles": articles }),
        )?;
        let r: MediaIdResponse = self.inner.call(&req, decode).await?;
        Ok(r.media_id)
    }

    /// `POST draft/update`: replace article `index` (from 0) of draft `media_id`.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; 40007 (no such draft), 40097 (an index past the last article).
    pub async fn draft_update(
        &self,
        media_id: &str,
        index: u32,
        article: &Article,
    ) -> Result<(), ApiError> {
        require("media_id", media_id)?;
        article.validate().map_err(ApiError::Validation)?;
        let req = Req::post(
            "/cgi-bin/draft/update",
            &serde_json::json!({ "media_id": media_id, "index": index, "articles": article }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `POST draft/get`: the articles of draft `media_id`.
    ///
    /// # Errors
    /// 40007 (no such draft).
    pub async fn draft_get(&self, media_id: &str) -> Result<Vec<Article>, ApiError> {
        require("media_id", media_id)?;
        let req = Req::post(
            "/cgi-bin/draft/get",
            &serde_json::json!({ "media_id": media_id }),
        )?
        .safe();
        let r: NewsContent = self.inner.call(&req, decode).await?;
        Ok(r.news_item)
    }

    /// `POST draft/delete`.
    ///
    /// # Errors
    /// 40007 (no such draft).
    pub async fn draft_delete(&self, media_id: &str) -> Result<(), ApiError> {
        require("media_id", media_id)?;
        let req = Req::post(
            "/cgi-bin/draft/delete",
            &serde_json::json!({ "media_id": media_id }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `GET draft/count`: the number of drafts.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn draft_count(&self) -> Result<u32, ApiError> {
        let r: CountResponse = self
            .inner
            .call(&Req::get("/cgi-bin/draft/count"), decode)
            .await?;
        Ok(r.total_count)
    }

    /// `POST draft/batchget`: `count` (1–20) drafts from `offset`, newest first; bodies left out
    /// when `no_content`.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a bad count; the platform's error.
    pub async fn draft_list(
        &self,
        offset: u32,
        count: u32,
        no_content: bool,
    ) -> Result<DraftPage, ApiError> {
        check_page(count, MAX_PAGE)?;
        let req = Req::post(
            "/cgi-bin/draft/batchget",
            &serde_json::json!({ "offset": offset, "count": count, "no_content": u8::from(no_content) }),
        )?
        .safe();
        self.inner.call(&req, decode).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_with_the_field_named() {
        let ok = Article::new("标题", "<p>正文</p>", "THUMB");
        ok.validate().unwrap();
        let long = Article {
            title: "字".repeat(33),
            ..ok.clone()
        };
        assert!(long.validate().unwrap_err().contains("33 characters"));
        let no_cover = Article {
            thumb_media_id: String::new(),
            ..ok.clone()
        };
        assert!(no_cover.validate().unwrap_err().contains("thumb_media_id"));
        assert!(validate_articles(&[]).is_err());
        assert!(
            validate_articles(&vec![ok; 9])
                .unwrap_err()
                .contains("at most 8")
        );
    }

    #[test]
    fn answers_only_fields_are_not_sent() {
        let v = serde_json::to_value(Article::new("t", "c", "m")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"title":"t","content":"c","thumb_media_id":"m"})
        );
    }
}
