//! 发布 (free publishing): `freepublish/submit`, `get` (the job's status), `batchget`, `getarticle`, `delete`.
//!
//! Publishing a draft is asynchronous: `submit` answers a `publish_id`; the outcome arrives as
//! a `PUBLISHJOBFINISH` event and can be polled with [`Client::publish_status`]. A published
//! post is not pushed to followers (that is a mass send) but appears on the account's page.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::draft::{MAX_PAGE, NewsContent, check_page, require};
use crate::error::ApiError;

/// Where a publish job stands (`publish_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum PublishState {
    /// 0: published.
    Published,
    /// 1: still publishing.
    Publishing,
    /// 2: failed the originality check (原创失败).
    OriginalFailed,
    /// 3: failed (常规失败).
    Failed,
    /// 4: rejected by the platform's review.
    Rejected,
    /// 5: published, then deleted by the account.
    Deleted,
    /// 6: published, then banned (封禁).
    Banned,
    /// A status this client does not know.
    Other(i64),
}

impl From<i64> for PublishState {
    fn from(v: i64) -> Self {
        match v {
            0 => Self::Published,
            1 => Self::Publishing,
            2 => Self::OriginalFailed,
            3 => Self::Failed,
            4 => Self::Rejected,
            5 => Self::Deleted,
            6 => Self::Banned,
            other => Self::Other(other),
        }
    }
}

impl From<PublishState> for i64 {
    fn from(s: PublishState) -> Self {
        match s {
            PublishState::Published => 0,
            PublishState::Publishing => 1,
            PublishState::OriginalFailed => 2,
            PublishState::Failed => 3,
            PublishState::Rejected => 4,
            PublishState::Deleted => 5,
            PublishState::Banned => 6,
            PublishState::Other(v) => v,
        }
    }
}

impl PublishState {
    /// Whether the job is over (anything but [`Publishing`](Self::Publishing)).
    #[must_use]
    pub fn is_final(self) -> bool {
        self != Self::Publishing
    }

    /// A short description in English and Chinese.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Published => "published (发布成功)",
            Self::Publishing => "publishing (发布中)",
            Self::OriginalFailed => "failed the originality check (原创失败)",
            Self::Failed => "failed (常规失败)",
            Self::Rejected => "rejected by the platform's review (平台审核不通过)",
            Self::Deleted => "published, then deleted (成功后用户删除所有文章)",
            Self::Banned => "published, then banned (成功后系统封禁所有文章)",
            Self::Other(_) => "an unknown status",
        }
    }
}

/// The answer of `freepublish/get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishStatus {
    /// The job.
    #[serde(deserialize_with = "crate::de::string_lenient")]
    pub publish_id: String,
    /// Where it stands.
    pub publish_status: PublishState,
    /// The post's article_id once published.
    #[serde(
        default,
        deserialize_with = "crate::de::opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub article_id: Option<String>,
    /// The published articles' URLs.
    #[serde(default)]
    pub article_detail: ArticleDetail,
    /// Indexes (from 1) of the articles that failed.
    #[serde(default)]
    pub fail_idx: Vec<u32>,
}

/// `article_detail` of a publish job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ArticleDetail {
    /// Number of articles.
    #[serde(default)]
    pub count: u32,
    /// Each article's URL.
    #[serde(default)]
    pub item: Vec<ArticleUrl>,
}

/// One published article's URL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ArticleUrl {
    /// Position, from 1.
    pub idx: u32,
    /// Its URL.
    pub article_url: String,
}

/// A published post as `freepublish/batchget` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublishedItem {
    /// The post's article_id.
    pub article_id: String,
    /// Its articles.
    #[serde(default)]
    pub content: NewsContent,
    /// Last change (Unix seconds).
    #[serde(default)]
    pub update_time: i64,
}

/// One page of published posts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublishedPage {
    /// Posts published in total.
    #[serde(default)]
    pub total_count: u32,
    /// Posts in this page.
    #[serde(default)]
    pub item_count: u32,
    /// The posts.
    #[serde(default)]
    pub item: Vec<PublishedItem>,
}

#[derive(Deserialize)]
struct SubmitResponse {
    #[serde(deserialize_with = "crate::de::string_lenient")]
    publish_id: String,
}

impl Client {
    /// `POST freepublish/submit`: publish draft `media_id`; returns the `publish_id` to poll.
    /// Not repeated on `-1`.
    ///
    /// # Errors
    /// 40007 (no such draft), 53503 (the draft failed the pre-publish check), 53504 (the draft
    /// must be opened in the web console first), 53505 (save the draft manually first).
    pub async fn publish_submit(&self, media_id: &str) -> Result<String, ApiError> {
        require("media_id", media_id)?;
        let req = Req::post(
            "/cgi-bin/freepublish/submit",
            &serde_json::json!({ "media_id": media_id }),
        )?;
        let r: SubmitResponse = self.inner.call(&req, decode).await?;
        Ok(r.publish_id)
    }

    /// `POST freepublish/get`: where publish job `publish_id` stands.
    ///
    /// # Errors
    /// 40097 (an unknown publish_id).
    pub async fn publish_status(&self, publish_id: &str) -> Result<PublishStatus, ApiError> {
        require("publish_id", publish_id)?;
        let req = Req::post(
            "/cgi-bin/freepublish/get",
            &serde_json::json!({ "publish_id": publish_id }),
        )?
        .safe();
        self.inner.call(&req, decode).await
    }

    /// `POST freepublish/batchget`: `count` (1–20) published posts from `offset`.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a bad count; the platform's error.
    pub async fn published_list(
        &self,
        offset: u32,
        count: u32,
        no_content: bool,
    ) -> Result<PublishedPage, ApiError> {
        check_page(count, MAX_PAGE)?;
        let req = Req::post(
            "/cgi-bin/freepublish/batchget",
            &serde_json::json!({ "offset": offset, "count": count, "no_content": u8::from(no_content) }),
        )?
        .safe();
        self.inner.call(&req, decode).await
    }

    /// `POST freepublish/getarticle`: the articles of published post `article_id`.
    ///
    /// # Errors
    /// 53600 (invalid article_id).
    pub async fn published_get(
        &self,
        article_id: &str,
    ) -> Result<Vec<crate::draft::Article>, ApiError> {
        require("article_id", article_id)?;
        let req = Req::post(
            "/cgi-bin/freepublish/getarticle",
            &serde_json::json!({ "article_id": article_id }),
        )?
        .safe();
        let r: NewsContent = self.inner.call(&req, decode).await?;
        Ok(r.news_item)
    }

    /// `POST freepublish/delete`: delete article `index` (from 1; 0 deletes the whole post) of
    /// post `article_id`. Irreversible.
    ///
    /// # Errors
    /// 53600 (invalid article_id).
    pub async fn published_delete(&self, article_id: &str, index: u32) -> Result<(), ApiError> {
        require("article_id", article_id)?;
        let req = Req::post(
            "/cgi-bin/freepublish/delete",
            &serde_json::json!({ "article_id": article_id, "index": index }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_numbers_round_trip() {
        for n in 0..8 {
            let s = PublishState::from(n);
            assert_eq!(i64::from(s), n);
        }
        assert!(!PublishState::Publishing.is_final());
        assert!(PublishState::Rejected.is_final());
        let st: PublishStatus =
            serde_json::from_str(r#"{"publish_id":"100000001","publish_status":1,"fail_idx":[]}"#)
                .unwrap();
        assert_eq!(st.publish_status, PublishState::Publishing);
    }
}
