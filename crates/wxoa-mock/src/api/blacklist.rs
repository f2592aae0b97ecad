//! The blacklist: `tags/members/getblacklist` (10 000 a page), `batchblacklist`, `batchunblacklist`.
//!
//! Checks: `openid_list` empty or over 20 40032; an openid that is not a known follower
//! 49003; a `begin_openid` not on the list 40003.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::errors::{WxError, WxResult, ok, ok_with};
use super::state::MockPlatform;
use super::{json_body, str_field, str_list};

/// Openids a page.
const PAGE: usize = 10_000;

/// The blacklisted openids (in the order the list is paged: sorted).
pub(crate) type Blacklist = BTreeSet<String>;

fn openid_list(v: &Value) -> Result<Vec<String>, WxError> {
    let list = str_list(v, "openid_list");
    if list.is_empty() || list.len() > 20 {
        return Err(WxError::new(40032));
    }
    Ok(list)
}

/// `POST /cgi-bin/tags/members/getblacklist` `{"begin_openid"}`
pub(crate) async fn list(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        json_body(&body)?
    };
    let begin = str_field(&v, "begin_openid").unwrap_or_default();
    let s = p.lock();
    let all: Vec<&String> = s.blacklist.iter().collect();
    let start = if begin.is_empty() {
        0
    } else {
        all.iter()
            .position(|o| **o == begin)
            .ok_or_else(|| WxError::new(40003))?
            + 1
    };
    let page: Vec<&String> = all.iter().skip(start).take(PAGE).copied().collect();
    let next = page.last().map(|o| (*o).clone()).unwrap_or_default();
    Ok(ok_with(json!({
        "total": all.len(),
        "count": page.len(),
        "data": { "openid": page },
        "next_openid": next,
    })))
}

/// `POST /cgi-bin/tags/members/batchblacklist` `{"openid_list":[…]}`
pub(crate) async fn black(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let list = openid_list(&v)?;
    let mut s = p.lock();
    if list.iter().any(|o| s.followers.get(o).is_none()) {
        return Err(WxError::new(49003));
    }
    s.blacklist.extend(list);
    Ok(ok())
}

/// `POST /cgi-bin/tags/members/batchunblacklist` `{"openid_list":[…]}`
pub(crate) async fn unblack(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let list = openid_list(&v)?;
    let mut s = p.lock();
    if list.iter().any(|o| s.followers.get(o).is_none()) {
        return Err(WxError::new(49003));
    }
    for o in &list {
        s.blacklist.remove(o);
    }
    Ok(ok())
}

impl MockPlatform {
    /// The blacklisted openids, sorted.
    #[must_use]
    pub fn blacklisted(&self) -> Vec<String> {
        self.lock().blacklist.iter().cloned().collect()
    }
}
