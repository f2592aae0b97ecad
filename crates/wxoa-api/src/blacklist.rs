//! The account's blacklist (黑名单): `tags/members/getblacklist` (paged), `batchblacklist`, `batchunblacklist`.
//!
//! A blacklisted follower's messages are not delivered to the account and the account cannot
//! message them (43019).

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::error::ApiError;

/// Most openids in one black / unblack call.
pub const MAX_BATCH: usize = 20;

/// One page of the blacklist.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlacklistPage {
    /// Blacklisted followers in total.
    #[serde(default)]
    pub total: u64,
    /// Openids in this page.
    #[serde(default)]
    pub count: u64,
    /// The openids.
    #[serde(default)]
    pub data: BlacklistData,
    /// Where the next page starts (empty after the last).
    #[serde(default)]
    pub next_openid: String,
}

/// `{"openid": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlacklistData {
    /// Openids.
    #[serde(default)]
    pub openid: Vec<String>,
}

fn check_batch(openids: &[&str]) -> Result<(), ApiError> {
    if openids.is_empty() || openids.len() > MAX_BATCH {
        return Err(ApiError::Validation(format!(
            "1 to {MAX_BATCH} openids a call, got {}",
            openids.len()
        )));
    }
    if openids.iter().any(|o| o.trim().is_empty()) {
        return Err(ApiError::Validation("an openid is empty".to_owned()));
    }
    Ok(())
}

impl Client {
    /// `POST tags/members/getblacklist`: up to 10 000 openids from `begin_openid` (`None`: the start).
    ///
    /// # Errors
    /// 40003 (bad begin_openid).
    pub async fn blacklist(&self, begin_openid: Option<&str>) -> Result<BlacklistPage, ApiError> {
        let req = Req::post(
            "/cgi-bin/tags/members/getblacklist",
            &serde_json::json!({ "begin_openid": begin_openid.unwrap_or_default() }),
        )?
        .safe();
        self.inner.call(&req, decode).await
    }

    /// Every blacklisted openid (pages followed to the end).
    ///
    /// # Errors
    /// As [`blacklist`](Self::blacklist).
    pub async fn blacklist_all(&self) -> Result<Vec<String>, ApiError> {
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self.blacklist(next.as_deref()).await?;
            let got = page.data.openid.len();
            all.extend(page.data.openid);
            if got == 0 || page.next_openid.is_empty() || all.len() as u64 >= page.total {
                return Ok(all);
            }
            next = Some(page.next_openid);
        }
    }

    /// `POST tags/members/batchblacklist`: blacklist 1–20 followers.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; 40003, 49003 (an openid of another account), 40032.
    pub async fn blacklist_add(&self, openids: &[&str]) -> Result<(), ApiError> {
        check_batch(openids)?;
        let req = Req::post(
            "/cgi-bin/tags/members/batchblacklist",
            &serde_json::json!({ "openid_list": openids }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `POST tags/members/batchunblacklist`: take 1–20 followers off the blacklist.
    ///
    /// # Errors
    /// As [`blacklist_add`](Self::blacklist_add).
    pub async fn blacklist_remove(&self, openids: &[&str]) -> Result<(), ApiError> {
        check_batch(openids)?;
        let req = Req::post(
            "/cgi-bin/tags/members/batchunblacklist",
            &serde_json::json!({ "openid_list": openids }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }
}
