//! 客服 accounts: `customservice/kfaccount/add|update|del|inviteworker`, `getkflist`, `getonlinekflist`.
//!
//! Checks: an account not `prefix@…` with a prefix of 1–10 letters or digits 65404; a
//! nickname empty or over 16 characters 65403; an existing account 65406; more than 100
//! 65405; an unknown one 65401; inviting a bound account 65412, one with a pending invitation
//! 65411, an empty WeChat id 65409. Accept an invitation with
//! [`MockPlatform::accept_kf_invite`]: the account is bound and online.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Query, State};
use serde::Serialize;
use serde_json::json;

use super::errors::{WxError, WxResult, ok, ok_with};
use super::state::MockPlatform;
use super::{json_body, str_field};

/// Most 客服 accounts.
const MAX_ACCOUNTS: usize = 100;
/// How long an invitation stays open (7 days).
const INVITE_TTL_SECS: i64 = 7 * 86_400;

/// A 客服 account of the mock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MockKf {
    /// `prefix@…`.
    pub kf_account: String,
    /// Nickname.
    pub kf_nick: String,
    /// Numeric id.
    pub kf_id: u64,
    /// Bound WeChat id.
    pub kf_wx: Option<String>,
    /// Invited WeChat id.
    pub invite_wx: Option<String>,
    /// Invitation expiry.
    pub invite_expire_time: Option<i64>,
}

/// The 客服 accounts.
#[derive(Debug, Default)]
pub(crate) struct KfState {
    pub(crate) accounts: BTreeMap<String, MockKf>,
    next_id: u64,
}

fn check_account(a: &str) -> Result<(), WxError> {
    let ok = a.split_once('@').is_some_and(|(p, h)| {
        !p.is_empty()
            && p.len() <= 10
            && p.chars().all(|c| c.is_ascii_alphanumeric())
            && !h.is_empty()
    });
    if ok { Ok(()) } else { Err(WxError::new(65404)) }
}

fn check_nick(n: &str) -> Result<(), WxError> {
    let c = n.trim().chars().count();
    if c == 0 || c > 16 {
        return Err(WxError::new(65403));
    }
    Ok(())
}

/// `POST /customservice/kfaccount/add` `{"kf_account","nickname"}`
pub(crate) async fn add(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let account = str_field(&v, "kf_account").unwrap_or_default();
    let nick = str_field(&v, "nickname").unwrap_or_default();
    check_account(&account)?;
    check_nick(&nick)?;
    let mut s = p.lock();
    if s.kf.accounts.contains_key(&account) {
        return Err(WxError::new(65406));
    }
    if s.kf.accounts.len() >= MAX_ACCOUNTS {
        return Err(WxError::new(65405));
    }
    s.kf.next_id += 1;
    let kf_id = 1000 + s.kf.next_id;
    s.kf.accounts.insert(
        account.clone(),
        MockKf {
            kf_account: account,
            kf_nick: nick,
            kf_id,
            kf_wx: None,
            invite_wx: None,
            invite_expire_time: None,
        },
    );
    Ok(ok())
}

/// `POST /customservice/kfaccount/update` `{"kf_account","nickname"}`
pub(crate) async fn update(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let account = str_field(&v, "kf_account").unwrap_or_default();
    let nick = str_field(&v, "nickname").unwrap_or_default();
    check_nick(&nick)?;
    let mut s = p.lock();
    let kf =
        s.kf.accounts
            .get_mut(&account)
            .ok_or_else(|| WxError::new(65401))?;
    kf.kf_nick = nick;
    Ok(ok())
}

/// `GET /customservice/kfaccount/del?kf_account=…`
pub(crate) async fn delete(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    let account = q.get("kf_account").cloned().unwrap_or_default();
    p.lock()
        .kf
        .accounts
        .remove(&account)
        .ok_or_else(|| WxError::new(65401))?;
    Ok(ok())
}

/// `POST /customservice/kfaccount/inviteworker` `{"kf_account","invite_wx"}`
pub(crate) async fn invite(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let account = str_field(&v, "kf_account").unwrap_or_default();
    let wx = str_field(&v, "invite_wx").unwrap_or_default();
    if wx.trim().is_empty() {
        return Err(WxError::new(65409));
    }
    let now = p.now();
    let mut s = p.lock();
    let kf =
        s.kf.accounts
            .get_mut(&account)
            .ok_or_else(|| WxError::new(65401))?;
    if kf.kf_wx.is_some() {
        return Err(WxError::new(65412));
    }
    if kf.invite_expire_time.is_some_and(|t| t > now) {
        return Err(WxError::new(65411));
    }
    kf.invite_wx = Some(wx);
    kf.invite_expire_time = Some(now + INVITE_TTL_SECS);
    Ok(ok())
}

/// `GET /cgi-bin/customservice/getkflist`
pub(crate) async fn list(State(p): State<MockPlatform>) -> WxResult {
    let now = p.now();
    let s = p.lock();
    let list: Vec<_> = s
        .kf
        .accounts
        .values()
        .map(|k| {
            let mut item = json!({
                "kf_account": k.kf_account, "kf_nick": k.kf_nick, "kf_id": k.kf_id.to_string(),
                "kf_headimgurl": format!("http://mmbiz.qpic.cn/mmbiz/kf{}/300?wx_fmt=jpeg", k.kf_id),
            });
            if let Some(wx) = &k.kf_wx {
                item["kf_wx"] = json!(wx);
            } else if let (Some(wx), Some(exp)) = (&k.invite_wx, k.invite_expire_time) {
                item["invite_wx"] = json!(wx);
                item["invite_expire_time"] = json!(exp);
                item["invite_status"] = json!(if exp > now { "waiting" } else { "expired" });
            }
            item
        })
        .collect();
    Ok(ok_with(json!({ "kf_list": list })))
}

/// `GET /cgi-bin/customservice/getonlinekflist`: bound accounts are online.
pub(crate) async fn online(State(p): State<MockPlatform>) -> WxResult {
    let s = p.lock();
    let list: Vec<_> = s
        .kf
        .accounts
        .values()
        .filter(|k| k.kf_wx.is_some())
        .map(|k| json!({ "kf_account": k.kf_account, "status": 1, "kf_id": k.kf_id.to_string(), "accepted_case": 0 }))
        .collect();
    Ok(ok_with(json!({ "kf_online_list": list })))
}

impl MockPlatform {
    /// The invited WeChat user accepted: `kf_account` is bound (and online). False when the
    /// account has no open invitation.
    pub fn accept_kf_invite(&self, kf_account: &str) -> bool {
        let now = self.now();
        let mut s = self.lock();
        let Some(kf) = s.kf.accounts.get_mut(kf_account) else {
            return false;
        };
        match (kf.invite_wx.take(), kf.invite_expire_time.take()) {
            (Some(wx), Some(exp)) if exp > now => {
                kf.kf_wx = Some(wx);
                true
            }
            _ => false,
        }
    }

    /// The 客服 accounts.
    #[must_use]
    pub fn kf_accounts(&self) -> Vec<MockKf> {
        self.lock().kf.accounts.values().cloned().collect()
    }
}
