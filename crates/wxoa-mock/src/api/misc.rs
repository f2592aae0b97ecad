//! Account utilities: `getcallbackip`, `get_api_domain_ip`, `clear_quota` (+ `/v2`), `openapi/quota/get`, `openapi/rid/get`, `ticket/getticket`.
//!
//! The IP lists name the loopback address: the mock's pushes and API both come from this
//! machine. `clear_quota` resets every daily counter, 10 times per Beijing month (then 48006).
//! `ticket/getticket` hands back the same ticket until it expires (7200 s).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use serde_json::{Value, json};

use super::errors::{WxError, WxResult, ok, ok_with};
use super::state::{
    MockPlatform, State as PlatformState, TOKEN_TTL_SECS, beijing_month, random_string,
};
use super::token::{check_credentials, check_ip};
use super::{API_ROUTES, CallerIp, daily_limit, json_body, str_field};

/// `clear_quota` resets allowed per month.
const CLEAR_QUOTA_PER_MONTH: u32 = 10;

/// `GET /cgi-bin/getcallbackip`
pub(crate) async fn callback_ips() -> Json<Value> {
    Json(json!({ "ip_list": ["127.0.0.1"] }))
}

/// `GET /cgi-bin/get_api_domain_ip`
pub(crate) async fn api_domain_ips() -> Json<Value> {
    Json(json!({ "ip_list": ["127.0.0.1"] }))
}

fn clear(s: &mut PlatformState, now: i64) -> Result<(), WxError> {
    let month = beijing_month(now);
    if s.quota.clear_month != month {
        s.quota.clear_month = month;
        s.quota.clear_quota_used = 0;
    }
    if s.quota.clear_quota_used >= CLEAR_QUOTA_PER_MONTH {
        return Err(WxError::new(48006));
    }
    s.quota.clear_quota_used += 1;
    s.quota.clear_counts();
    Ok(())
}

/// `POST /cgi-bin/clear_quota?access_token=…` `{"appid"}`
pub(crate) async fn clear_quota(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    match str_field(&v, "appid").filter(|a| !a.is_empty()) {
        None => return Err(WxError::new(41002)),
        Some(a) if a != p.config().appid => return Err(WxError::new(40013)),
        Some(_) => {}
    }
    let now = p.now();
    clear(&mut p.lock(), now)?;
    Ok(ok())
}

/// `POST /cgi-bin/clear_quota/v2` with `appid` and `appsecret` in the body or the query (no token).
pub(crate) async fn clear_quota_v2(
    State(p): State<MockPlatform>,
    Extension(CallerIp(ip)): Extension<CallerIp>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> WxResult {
    let v = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        json_body(&body)?
    };
    let field = |name: &str| str_field(&v, name).or_else(|| q.get(name).cloned());
    check_credentials(
        p.config(),
        field("appid").as_deref(),
        field("appsecret").as_deref(),
    )?;
    check_ip(p.config(), ip)?;
    let now = p.now();
    clear(&mut p.lock(), now)?;
    Ok(ok())
}

/// `POST /cgi-bin/openapi/quota/get` `{"cgi_path"}` → `{"quota":{"daily_limit","used","remain"}}`
pub(crate) async fn quota_get(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let path = str_field(&v, "cgi_path").unwrap_or_default();
    if !API_ROUTES.iter().any(|(_, known)| *known == path) {
        return Err(WxError::new(76021));
    }
    let limit = daily_limit(&path, p.config());
    let now = p.now();
    let mut s = p.lock();
    s.quota.roll(now);
    let used = match path.as_str() {
        "/cgi-bin/token" => s.quota.classic_fetches,
        "/cgi-bin/stable_token" => s.quota.stable_calls,
        other => s.quota.calls.get(other).copied().unwrap_or(0),
    };
    Ok(ok_with(json!({
        "quota": { "daily_limit": limit, "used": used, "remain": limit.saturating_sub(used) }
    })))
}

/// `POST /cgi-bin/openapi/rid/get` `{"rid"}`: the request and answer of an earlier error.
pub(crate) async fn rid_get(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let rid = str_field(&v, "rid").unwrap_or_default();
    let well_formed =
        rid.split('-').count() == 3 && rid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !well_formed {
        return Err(WxError::new(76002));
    }
    let s = p.lock();
    let record = s
        .rids
        .iter()
        .find(|r| r.rid == rid)
        .ok_or_else(|| WxError::new(76001))?;
    Ok(ok_with(json!({
        "request": {
            "invoke_time": record.invoke_time,
            "cost_in_ms": record.cost_in_ms,
            "request_url": record.request_url,
            "request_body": record.request_body,
            "response_body": record.response_body,
            "client_ip": record.client_ip,
        }
    })))
}

/// `GET /cgi-bin/ticket/getticket?type=jsapi|wx_card`
pub(crate) async fn get_ticket(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    let now = p.now();
    let mut s = p.lock();
    let slot = match q.get("type").map(String::as_str) {
        Some("jsapi") => &mut s.tokens.jsapi,
        Some("wx_card") => &mut s.tokens.wx_card,
        _ => return Err(WxError::new(40097)),
    };
    let fresh = slot.as_ref().filter(|(_, exp)| *exp > now).cloned();
    let (ticket, expires_at) = match fresh {
        Some(current) => current,
        None => {
            let t = random_string(86);
            *slot = Some((t.clone(), now + TOKEN_TTL_SECS));
            (t, now + TOKEN_TTL_SECS)
        }
    };
    Ok(ok_with(
        json!({ "ticket": ticket, "expires_in": expires_at - now }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::state::MockConfig;

    #[test]
    fn clear_quota_is_limited_per_month() {
        let p = MockPlatform::new(MockConfig::new("wx1", "s"));
        let mut s = p.lock();
        let t = 1_704_067_200; // 2024-01-01 08:00 Beijing
        s.quota.classic_fetches = 5;
        for _ in 0..CLEAR_QUOTA_PER_MONTH {
            clear(&mut s, t).unwrap();
        }
        assert_eq!(s.quota.classic_fetches, 0);
        assert_eq!(clear(&mut s, t).unwrap_err().code, 48006);
        // A new month gives ten more.
        clear(&mut s, t + 31 * 86_400).unwrap();
    }
}
