//! Followers (用户管理): user info, batch info (≤ 100), the follower list paged by `next_openid`, remarks.
//!
//! Since 2021-12-27 `nickname` / `headimgurl` come back empty and since 2021-10-20 there is no
//! sex or region (PROTOCOL §9.4); the fields are kept for old payloads.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::de::int_lenient;
use crate::error::ApiError;

/// Most openids per `user/info/batchget`.
pub const MAX_BATCH_USERS: usize = 100;
/// Most characters in a remark.
pub const MAX_REMARK_CHARS: usize = 30;

/// A follower's profile (`user/info`, `user/info/batchget`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct UserInfo {
    /// 1 if following; with 0 only `openid` (and `unionid`) are set.
    #[serde(default, deserialize_with = "int_lenient")]
    pub subscribe: i64,
    /// The openid.
    pub openid: String,
    /// Client language, e.g. `zh_CN`.
    #[serde(default)]
    pub language: String,
    /// Unix time of the last follow.
    #[serde(default, deserialize_with = "int_lenient")]
    pub subscribe_time: i64,
    /// UnionID (if the account is bound to an open platform).
    #[serde(default)]
    pub unionid: Option<String>,
    /// The account's remark for the user.
    #[serde(default)]
    pub remark: String,
    /// Legacy group id.
    #[serde(default, deserialize_with = "int_lenient")]
    pub groupid: i64,
    /// Tag ids.
    #[serde(default)]
    pub tagid_list: Vec<i64>,
    /// How the user followed, e.g. `ADD_SCENE_QR_CODE`.
    #[serde(default)]
    pub subscribe_scene: String,
    /// QR scene id when followed by a parametric QR code.
    #[serde(default, deserialize_with = "int_lenient")]
    pub qr_scene: i64,
    /// QR scene string.
    #[serde(default)]
    pub qr_scene_str: String,
    /// Empty since 2021-12-27.
    #[serde(default)]
    pub nickname: String,
    /// Empty since 2021-12-27.
    #[serde(default)]
    pub headimgurl: String,
    /// 0 since 2021-10-20 (number or string in old payloads).
    #[serde(default, deserialize_with = "int_lenient")]
    pub sex: i64,
}

/// One page of openids (`user/get`, `user/tag/get`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FollowerPage {
    /// Total followers (absent for tag pages).
    pub total: Option<u64>,
    /// Openids on this page (≤ 10 000).
    pub openids: Vec<String>,
    /// Where the next page starts; `None` when the platform gave none.
    pub next_openid: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RawPage {
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    data: Option<RawOpenids>,
    #[serde(default)]
    next_openid: Option<String>,
}

#[derive(Deserialize)]
struct RawOpenids {
    #[serde(default)]
    openid: Vec<String>,
}

impl From<RawPage> for FollowerPage {
    fn from(r: RawPage) -> Self {
        Self {
            total: r.total,
            openids: r.data.map(|d| d.openid).unwrap_or_default(),
            next_openid: r.next_openid.filter(|s| !s.is_empty()),
        }
    }
}

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    user_info_list: Vec<UserInfo>,
}

/// Walks the follower list page by page; resumable from any `next_openid`.
///
/// Stops after a page without openids, or without a `next_openid`, or whose `next_openid`
/// repeats the cursor (the platform returns `next_openid` even on the last page; the page
/// after it has no `data`).
#[derive(Debug)]
pub struct FollowerPager {
    client: Client,
    cursor: Option<String>,
    done: bool,
}

impl FollowerPager {
    /// The `next_openid` the next page will start from (persist it to resume an export).
    #[must_use]
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Whether every page has been read.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next page, or `None` at the end.
    ///
    /// # Errors
    /// The platform's error; the cursor is unchanged, so calling again retries the same page.
    pub async fn next_page(&mut self) -> Result<Option<FollowerPage>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let page = self.client.followers(self.cursor.as_deref()).await?;
        if page.openids.is_empty() {
            self.done = true;
            return Ok(None);
        }
        match &page.next_openid {
            Some(next) if Some(next) != self.cursor.as_ref() => self.cursor = Some(next.clone()),
            _ => self.done = true,
        }
        Ok(Some(page))
    }
}

impl Client {
    /// `GET user/info`: one user's profile. `lang` defaults to `zh_CN`.
    ///
    /// # Errors
    /// The platform's error (40003 invalid openid).
    pub async fn user_info(&self, openid: &str, lang: Option<&str>) -> Result<UserInfo, ApiError> {
        if openid.trim().is_empty() {
            return Err(ApiError::Validation("openid is required".to_owned()));
        }
        let req = Req::get("/cgi-bin/user/info")
            .query("openid", openid)
            .query("lang", lang.unwrap_or("zh_CN"));
        self.inner.call(&req, decode).await
    }

    /// `POST user/info/batchget`: up to 100 profiles at once (a read: safe to repeat).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for 0 or more than 100 openids; the platform's error.
    pub async fn users_info(
        &self,
        openids: &[&str],
        lang: Option<&str>,
    ) -> Result<Vec<UserInfo>, ApiError> {
        if openids.is_empty() || openids.len() > MAX_BATCH_USERS {
            return Err(ApiError::Validation(format!(
                "user/info/batchget takes 1 to {MAX_BATCH_USERS} openids, got {}",
                openids.len()
            )));
        }
        let lang = lang.unwrap_or("zh_CN");
        let list: Vec<_> = openids
            .iter()
            .map(|o| serde_json::json!({ "openid": o, "lang": lang }))
            .collect();
        let req = Req::post(
            "/cgi-bin/user/info/batchget",
            &serde_json::json!({ "user_list": list }),
        )?
        .safe();
        let r: BatchResponse = self.inner.call(&req, decode).await?;
        Ok(r.user_info_list)
    }

    /// `GET user/get`: one page of follower openids starting after `next_openid` (`None`: from the start).
    ///
    /// # Errors
    /// The platform's error.
    pub async fn followers(&self, next_openid: Option<&str>) -> Result<FollowerPage, ApiError> {
        let req =
            Req::get("/cgi-bin/user/get").query("next_openid", next_openid.unwrap_or_default());
        let raw: RawPage = self.inner.call(&req, decode).await?;
        Ok(raw.into())
    }

    /// A pager over every follower, starting after `next_openid` (`None`: from the start).
    #[must_use]
    pub fn follower_pager(&self, next_openid: Option<String>) -> FollowerPager {
        FollowerPager {
            client: self.clone(),
            cursor: next_openid.filter(|s| !s.is_empty()),
            done: false,
        }
    }

    /// Every follower's openid (all pages).
    ///
    /// # Errors
    /// The first page's error.
    pub async fn all_followers(&self) -> Result<Vec<String>, ApiError> {
        let mut pager = self.follower_pager(None);
        let mut all = Vec::new();
        while let Some(page) = pager.next_page().await? {
            all.extend(page.openids);
        }
        Ok(all)
    }

    /// `POST user/info/updateremark`: set the remark (≤ 30 characters). Safe to repeat.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; the platform's error.
    pub async fn user_update_remark(&self, openid: &str, remark: &str) -> Result<(), ApiError> {
        if remark.chars().count() > MAX_REMARK_CHARS {
            return Err(ApiError::Validation(format!(
                "remark is longer than {MAX_REMARK_CHARS} characters"
            )));
        }
        let req = Req::post(
            "/cgi-bin/user/info/updateremark",
            &serde_json::json!({ "openid": openid, "remark": remark }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_without_data_is_empty_and_blank_next_is_none() {
        let raw: RawPage =
            serde_json::from_str(r#"{"total":2,"count":0,"next_openid":""}"#).unwrap();
        let page = FollowerPage::from(raw);
        assert_eq!(
            page,
            FollowerPage {
                total: Some(2),
                openids: vec![],
                next_openid: None
            }
        );
    }

    #[test]
    fn user_info_accepts_old_and_new_payloads() {
        let old: UserInfo = serde_json::from_str(
            r#"{"subscribe":1,"openid":"o","nickname":"Band","sex":"1","language":"zh_CN","subscribe_time":1382694957,"tagid_list":[128,2],"groupid":0}"#,
        )
        .unwrap();
        assert_eq!(
            (old.sex, old.nickname.as_str(), old.tagid_list.len()),
            (1, "Band", 2)
        );
        let gone: UserInfo = serde_json::from_str(r#"{"subscribe":0,"openid":"o2"}"#).unwrap();
        assert_eq!((gone.subscribe, gone.openid.as_str()), (0, "o2"));
    }
}
