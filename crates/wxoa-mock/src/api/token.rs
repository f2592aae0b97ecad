//! access_token: classic `GET /cgi-bin/token`, `POST /cgi-bin/stable_token`, and the token check every other API runs.
//!
//! Semantics (PROTOCOL §8):
//! - classic: every fetch issues a new token; the previous one keeps working for
//!   [`MockConfig::token_overlap`](super::MockConfig::token_overlap) and then answers 40001;
//!   [`MockConfig::daily_token_limit`](super::MockConfig::daily_token_limit) fetches per
//!   Beijing day, then 45009.
//! - stable_token: isolated from classic; normal mode hands back the same token (with the
//!   remaining `expires_in`) until it is within the overlap of expiry, then rotates (the old one
//!   stays valid until it expires); `force_refresh` invalidates the current token at once,
//!   at most [`STABLE_FORCE_DAILY_LIMIT`](super::STABLE_FORCE_DAILY_LIMIT) a day (then 45009),
//!   and a force within 30 s of the last one returns the current token unchanged.
//! - both: 41002/41004 missing appid/secret, 40013 wrong appid, 40125 wrong secret (the
//!   classic endpoint answered 40001 for a bad secret in older reports; PROTOCOL §8.1 lists
//!   both, and today's platform answers 40125 on both endpoints), 40002 bad grant_type,
//!   40164 caller not in the IP whitelist; `GET /cgi-bin/stable_token` 43002.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::extract::{Extension, Query, State};
use axum::{Json, body::Bytes};
use rand::Rng;
use serde_json::{Value, json};

use super::errors::{WxError, WxResult};
use super::state::{MockConfig, MockPlatform, TOKEN_TTL_SECS, random_string};
use super::{
    CallerIp, STABLE_FORCE_DAILY_LIMIT, STABLE_FORCE_MIN_INTERVAL_SECS, STABLE_TOKEN_DAILY_LIMIT,
    json_body, str_field,
};

/// Tokens expired longer than this are forgotten (they then answer 40001 instead of 42001).
const FORGET_AFTER_SECS: i64 = 86_400;

#[derive(Debug, Clone)]
struct IssuedToken {
    expires_at: i64,
    /// From this instant the token answers 40001 (superseded or force-refreshed).
    revoked_at: Option<i64>,
}

impl IssuedToken {
    fn usable(&self, now: i64) -> bool {
        now < self.expires_at && self.revoked_at.is_none_or(|r| now < r)
    }
}

/// Issued access tokens and tickets. Each AppID has its own current classic and stable token.
#[derive(Debug, Default)]
pub(crate) struct TokenState {
    issued: HashMap<String, IssuedToken>,
    /// AppID → its current classic token.
    classic: HashMap<String, String>,
    /// AppID → its current stable token.
    stable: HashMap<String, String>,
    /// AppID → its last forced stable refresh.
    last_force: HashMap<String, i64>,
    /// `(ticket, expires_at)` of `ticket/getticket?type=jsapi`.
    pub(crate) jsapi: Option<(String, i64)>,
    /// `(ticket, expires_at)` of `ticket/getticket?type=wx_card`.
    pub(crate) wx_card: Option<(String, i64)>,
}

impl TokenState {
    /// The access_token check of every token-authenticated API.
    pub(crate) fn check(&self, token: Option<&str>, now: i64) -> Result<(), WxError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(WxError::new(41001));
        };
        let Some(t) = self.issued.get(token) else {
            return Err(WxError::new(40001));
        };
        if now >= t.expires_at {
            return Err(WxError::new(42001));
        }
        if t.revoked_at.is_some_and(|r| now >= r) {
            return Err(WxError::new(40001));
        }
        Ok(())
    }

    fn issue(&mut self, now: i64) -> String {
        self.issued
            .retain(|_, t| t.expires_at + FORGET_AFTER_SECS > now);
        let value = format!(
            "{}_{}",
            rand::rng().random_range(80..99),
            random_string(150)
        );
        self.issued.insert(
            value.clone(),
            IssuedToken {
                expires_at: now + TOKEN_TTL_SECS,
                revoked_at: None,
            },
        );
        value
    }

    fn revoke(&mut self, token: Option<&String>, at: i64) {
        if let Some(t) = token.and_then(|v| self.issued.get_mut(v)) {
            t.revoked_at = Some(t.revoked_at.map_or(at, |r| r.min(at)));
        }
    }

    /// A classic fetch for `appid`: supersede its current classic token (valid `overlap` more
    /// seconds).
    fn fetch_classic(&mut self, appid: &str, now: i64, overlap: i64) -> String {
        let previous = self.classic.remove(appid);
        self.revoke(previous.as_ref(), now.saturating_add(overlap));
        let value = self.issue(now);
        self.classic.insert(appid.to_owned(), value.clone());
        value
    }

    /// The current stable token of `appid` if it is usable, with its remaining seconds.
    fn current_stable(&self, appid: &str, now: i64) -> Option<(String, i64)> {
        let value = self.stable.get(appid)?;
        let t = self.issued.get(value)?;
        t.usable(now).then(|| (value.clone(), t.expires_at - now))
    }

    fn new_stable(&mut self, appid: &str, now: i64) -> String {
        let value = self.issue(now);
        self.stable.insert(appid.to_owned(), value.clone());
        value
    }
}

/// Whether `appid`/`secret` are one of the served accounts': 41002 / 41004 when missing,
/// 40013 / 40125 when wrong. The AppID on success.
pub(crate) fn check_credentials<'a>(
    config: &MockConfig,
    appid: Option<&'a str>,
    secret: Option<&str>,
) -> Result<&'a str, WxError> {
    let appid = appid.map(str::trim).filter(|a| !a.is_empty());
    let Some(appid) = appid else {
        return Err(WxError::new(41002));
    };
    let Some(expected) = config.secret_of(appid) else {
        return Err(WxError::new(40013));
    };
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(WxError::new(41004));
    };
    if secret != expected {
        return Err(WxError::new(40125));
    }
    Ok(appid)
}

/// 40164 when the whitelist is set and does not hold `ip`.
pub(crate) fn check_ip(config: &MockConfig, ip: IpAddr) -> Result<(), WxError> {
    match &config.ip_whitelist {
        Some(list) if !list.iter().any(|a| a.to_canonical() == ip.to_canonical()) => {
            Err(WxError::ip_not_whitelisted(ip.to_canonical()))
        }
        _ => Ok(()),
    }
}

fn check_grant_type(grant_type: Option<&str>) -> Result<(), WxError> {
    if grant_type == Some("client_credential") {
        Ok(())
    } else {
        Err(WxError::new(40002))
    }
}

/// `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`
pub(crate) async fn classic(
    State(p): State<MockPlatform>,
    Extension(CallerIp(ip)): Extension<CallerIp>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    let config = p.config();
    check_grant_type(q.get("grant_type").map(String::as_str))?;
    let appid = check_credentials(
        config,
        q.get("appid").map(String::as_str),
        q.get("secret").map(String::as_str),
    )?;
    check_ip(config, ip)?;
    let now = p.now();
    let mut s = p.lock();
    s.quota.roll(now);
    if s.quota.classic_fetches >= u64::from(config.daily_token_limit) {
        return Err(WxError::new(45009));
    }
    s.quota.classic_fetches += 1;
    let token = s.tokens.fetch_classic(appid, now, config.overlap_secs());
    s.fetches.classic += 1;
    s.fetches.issued += 1;
    Ok(Json(
        json!({ "access_token": token, "expires_in": TOKEN_TTL_SECS }),
    ))
}

fn force_flag(v: &Value) -> bool {
    match v.get("force_refresh") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// `POST /cgi-bin/stable_token` `{"grant_type","appid","secret","force_refresh"}`
pub(crate) async fn stable(
    State(p): State<MockPlatform>,
    Extension(CallerIp(ip)): Extension<CallerIp>,
    body: Bytes,
) -> WxResult {
    let config = p.config();
    let v = json_body(&body)?;
    check_grant_type(str_field(&v, "grant_type").as_deref())?;
    let appid = str_field(&v, "appid");
    let appid = check_credentials(config, appid.as_deref(), str_field(&v, "secret").as_deref())?;
    check_ip(config, ip)?;
    let force = force_flag(&v);
    let now = p.now();
    let overlap = config.overlap_secs();
    let mut s = p.lock();
    s.quota.roll(now);
    if s.quota.stable_calls >= STABLE_TOKEN_DAILY_LIMIT {
        return Err(WxError::new(45009));
    }
    s.quota.stable_calls += 1;
    let current = s.tokens.current_stable(appid, now);
    let (token, expires_in) = if force {
        let too_soon = s
            .tokens
            .last_force
            .get(appid)
            .is_some_and(|t| now - t < STABLE_FORCE_MIN_INTERVAL_SECS);
        match current {
            // "连续使用该模式时，请保证调用时间隔至少为30s，否则不会刷新"
            Some(current) if too_soon => current,
            _ => {
                if s.quota.stable_forced >= STABLE_FORCE_DAILY_LIMIT {
                    return Err(WxError::new(45009));
                }
                s.quota.stable_forced += 1;
                let old = s.tokens.stable.remove(appid);
                s.tokens.revoke(old.as_ref(), now);
                s.tokens.last_force.insert(appid.to_owned(), now);
                s.fetches.stable_forced += 1;
                s.fetches.issued += 1;
                (s.tokens.new_stable(appid, now), TOKEN_TTL_SECS)
            }
        }
    } else {
        match current {
            Some((value, left)) if left > overlap => (value, left),
            _ => {
                // Rotate: the old token (if any) stays valid until it expires.
                s.fetches.issued += 1;
                (s.tokens.new_stable(appid, now), TOKEN_TTL_SECS)
            }
        }
    };
    s.fetches.stable += 1;
    Ok(Json(
        json!({ "access_token": token, "expires_in": expires_in }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_supersedes_after_the_overlap() {
        let mut t = TokenState::default();
        let a = t.fetch_classic("wx1", 1000, 300);
        assert!(t.check(Some(&a), 1000).is_ok());
        let b = t.fetch_classic("wx1", 1100, 300);
        assert_ne!(a, b);
        assert!(t.check(Some(&a), 1399).is_ok());
        assert_eq!(t.check(Some(&a), 1400).unwrap_err().code, 40001);
        assert!(t.check(Some(&b), 1400).is_ok());
        assert_eq!(
            t.check(Some(&b), 1100 + TOKEN_TTL_SECS).unwrap_err().code,
            42001
        );
        assert_eq!(t.check(None, 0).unwrap_err().code, 41001);
        assert_eq!(t.check(Some(""), 0).unwrap_err().code, 41001);
        assert_eq!(t.check(Some("nope"), 0).unwrap_err().code, 40001);
    }

    #[test]
    fn credentials_are_checked_in_the_platforms_order() {
        let c = MockConfig::new("wx1", "s3");
        assert_eq!(
            check_credentials(&c, None, Some("s3")).unwrap_err().code,
            41002
        );
        assert_eq!(
            check_credentials(&c, Some("wx2"), None).unwrap_err().code,
            40013
        );
        assert_eq!(
            check_credentials(&c, Some("wx1"), None).unwrap_err().code,
            41004
        );
        assert_eq!(
            check_credentials(&c, Some("wx1"), Some("bad"))
                .unwrap_err()
                .code,
            40125
        );
        check_credentials(&c, Some("wx1"), Some("s3")).unwrap();
        let c = c.with_app("wx2", "s4");
        assert_eq!(check_credentials(&c, Some("wx2"), Some("s4")), Ok("wx2"));
        assert_eq!(
            check_credentials(&c, Some("wx2"), Some("s3"))
                .unwrap_err()
                .code,
            40125
        );
    }

    #[test]
    fn each_appid_has_its_own_tokens() {
        let mut t = TokenState::default();
        let a = t.fetch_classic("wx1", 1000, 300);
        let b = t.fetch_classic("wx2", 1000, 300);
        assert_ne!(a, b);
        // A fetch for one AppID supersedes none of the other's.
        let a2 = t.fetch_classic("wx1", 2000, 0);
        assert_eq!(t.check(Some(&a), 2000).unwrap_err().code, 40001);
        assert!(t.check(Some(&b), 2000).is_ok());
        assert!(t.check(Some(&a2), 2000).is_ok());
        let s1 = t.new_stable("wx1", 3000);
        let s2 = t.new_stable("wx2", 3000);
        assert_ne!(s1, s2);
        assert_eq!(t.current_stable("wx1", 3000).unwrap().0, s1);
        assert_eq!(t.current_stable("wx2", 3000).unwrap().0, s2);
    }

    #[test]
    fn whitelist_accepts_mapped_ipv4() {
        let c = MockConfig {
            ip_whitelist: Some(vec!["10.0.0.1".parse().unwrap()]),
            ..MockConfig::new("wx1", "s")
        };
        check_ip(&c, "::ffff:10.0.0.1".parse().unwrap()).unwrap();
        let e = check_ip(&c, "10.0.0.2".parse().unwrap()).unwrap_err();
        assert_eq!(e.code, 40164);
        assert!(e.msg.contains("10.0.0.2"));
    }
}
