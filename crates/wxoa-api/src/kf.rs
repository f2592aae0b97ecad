//! 客服 accounts (customer-service staff): add, update, delete, list, online list, invite a WeChat user to bind.
//!
//! An account is `prefix@gh_xxx` (the prefix ≤ 10 letters or digits), its nickname ≤ 16
//! characters. A new account must be bound to a WeChat user by an invitation the user accepts
//! in WeChat before it can serve.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::draft::require;
use crate::error::ApiError;

/// Longest nickname, in characters.
pub const MAX_NICKNAME_CHARS: usize = 16;

/// A 客服 account as `customservice/getkflist` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KfAccount {
    /// `prefix@gh_xxx`.
    pub kf_account: String,
    /// Nickname.
    #[serde(default)]
    pub kf_nick: String,
    /// Numeric id.
    #[serde(default, deserialize_with = "crate::de::string_lenient")]
    pub kf_id: String,
    /// Avatar URL.
    #[serde(default)]
    pub kf_headimgurl: String,
    /// The bound WeChat id, once bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kf_wx: Option<String>,
    /// The invited WeChat id, while an invitation is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_wx: Option<String>,
    /// When the invitation expires (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_expire_time: Option<i64>,
    /// `waiting`, `rejected` or `expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_status: Option<String>,
}

/// A 客服 account that is online.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KfOnline {
    /// `prefix@gh_xxx`.
    pub kf_account: String,
    /// 1 online on the web client.
    #[serde(default)]
    pub status: i64,
    /// Numeric id.
    #[serde(default, deserialize_with = "crate::de::string_lenient")]
    pub kf_id: String,
    /// Sessions being served.
    #[serde(default)]
    pub accepted_case: i64,
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(default)]
    kf_list: Vec<KfAccount>,
}

#[derive(Deserialize)]
struct OnlineResponse {
    #[serde(default)]
    kf_online_list: Vec<KfOnline>,
}

/// Check `prefix@account` and the nickname.
fn check_account(kf_account: &str, nickname: Option<&str>) -> Result<(), ApiError> {
    let valid = kf_account.split_once('@').is_some_and(|(prefix, host)| {
        !prefix.is_empty()
            && prefix.len() <= 10
            && prefix.chars().all(|c| c.is_ascii_alphanumeric())
            && !host.is_empty()
    });
    if !valid {
        return Err(ApiError::Validation(format!(
            "kf_account {kf_account:?} must be PREFIX@ACCOUNT with a prefix of at most 10 letters or digits"
        )));
    }
    if let Some(n) = nickname
        && (n.trim().is_empty() || n.chars().count() > MAX_NICKNAME_CHARS)
    {
        return Err(ApiError::Validation(format!(
            "nickname must be 1 to {MAX_NICKNAME_CHARS} characters"
        )));
    }
    Ok(())
}

impl Client {
    /// `POST customservice/kfaccount/add`.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; 65400 (new 客服 not enabled), 65403 (bad nickname), 65404
    /// (bad account), 65405 (too many accounts), 65406 (exists).
    pub async fn kf_add(&self, kf_account: &str, nickname: &str) -> Result<(), ApiError> {
        check_account(kf_account, Some(nickname))?;
        let req = Req::post(
            "/customservice/kfaccount/add",
            &serde_json::json!({ "kf_account": kf_account, "nickname": nickname }),
        )?;
        self.inner.call(&req, decode_ok).await
    }

    /// `POST customservice/kfaccount/update`: change the nickname.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; 65401 (no such account), 65403.
    pub async fn kf_update(&self, kf_account: &str, nickname: &str) -> Result<(), ApiError> {
        check_account(kf_account, Some(nickname))?;
        let req = Req::post(
            "/customservice/kfaccount/update",
            &serde_json::json!({ "kf_account": kf_account, "nickname": nickname }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `GET customservice/kfaccount/del?kf_account=…`.
    ///
    /// # Errors
    /// 65401 (no such account).
    pub async fn kf_delete(&self, kf_account: &str) -> Result<(), ApiError> {
        check_account(kf_account, None)?;
        let req = Req::get("/customservice/kfaccount/del").query("kf_account", kf_account);
        self.inner.call(&req, decode_ok).await
    }

    /// `POST customservice/kfaccount/inviteworker`: invite WeChat user `invite_wx` to bind.
    ///
    /// # Errors
    /// 65401, 65407 (already this account's staff), 65408 (already invited), 65409 (bad WeChat
    /// id), 65410 (bound to too many accounts), 65411 (an invitation is pending), 65412 (bound).
    pub async fn kf_invite(&self, kf_account: &str, invite_wx: &str) -> Result<(), ApiError> {
        check_account(kf_account, None)?;
        require("invite_wx", invite_wx)?;
        let req = Req::post(
            "/customservice/kfaccount/inviteworker",
            &serde_json::json!({ "kf_account": kf_account, "invite_wx": invite_wx }),
        )?;
        self.inner.call(&req, decode_ok).await
    }

    /// `GET customservice/getkflist`.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn kf_list(&self) -> Result<Vec<KfAccount>, ApiError> {
        let r: ListResponse = self
            .inner
            .call(&Req::get("/cgi-bin/customservice/getkflist"), decode)
            .await?;
        Ok(r.kf_list)
    }

    /// `GET customservice/getonlinekflist`.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn kf_online(&self) -> Result<Vec<KfOnline>, ApiError> {
        let r: OnlineResponse = self
            .inner
            .call(&Req::get("/cgi-bin/customservice/getonlinekflist"), decode)
            .await?;
        Ok(r.kf_online_list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_nicknames_are_checked() {
        check_account("kf2001@gh_123", Some("小王")).unwrap();
        assert!(check_account("kf2001", None).is_err());
        assert!(check_account("waytoolongprefix@gh", None).is_err());
        assert!(check_account("a@gh", Some(&"字".repeat(17))).is_err());
    }
}
