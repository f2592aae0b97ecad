//! OAuth2 web authorization (网页授权): the authorize page (a redirect), `sns/oauth2/access_token`, `sns/oauth2/refresh_token`, `sns/userinfo`, `sns/auth`.
//!
//! Codes come from `GET /connect/oauth2/authorize` (the mock's stand-in for the page on
//! open.weixin.qq.com: it redirects at once to `redirect_uri?code=…&state=…`, for the follower
//! named by the extra query parameter `openid`, else the first follower), from
//! `POST /mock/oauth/code`, or from [`MockPlatform::issue_oauth_code`]. A code is single-use
//! (40163 the second time) and lives 5 minutes (then 40029 like an unknown code); user
//! access_tokens live 7200 s (42001), refresh_tokens 30 days (42002); `sns/userinfo` needs the
//! `snsapi_userinfo` scope (48001) and the token's own openid (40003).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::{WxError, WxResult, ok};
use super::state::{MockPlatform, TOKEN_TTL_SECS, random_string};
use super::token::check_credentials;

const CODE_TTL_SECS: i64 = 300;
const REFRESH_TTL_SECS: i64 = 30 * 86_400;
const MAX_STATE_BYTES: usize = 128;
/// Openid used by the authorize page when there is no follower and none was named.
const DEFAULT_OAUTH_OPENID: &str = "o_wxoa_mock_oauth_user";

#[derive(Debug, Clone)]
struct Code {
    openid: String,
    scope: String,
    expires_at: i64,
    used: bool,
}

#[derive(Debug, Clone)]
struct Grant {
    openid: String,
    scope: String,
    expires_at: i64,
}

/// Issued codes, user access_tokens and refresh_tokens.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    codes: HashMap<String, Code>,
    tokens: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
}

impl OAuthState {
    pub(crate) fn issue_code(&mut self, openid: &str, scope: &str, now: i64) -> String {
        self.codes.retain(|_, c| c.expires_at + 86_400 > now);
        let code = random_string(32);
        self.codes.insert(
            code.clone(),
            Code {
                openid: openid.to_owned(),
                scope: scope.to_owned(),
                expires_at: now + CODE_TTL_SECS,
                used: false,
            },
        );
        code
    }

    fn issue_token(&mut self, openid: &str, scope: &str, now: i64) -> String {
        self.tokens.retain(|_, g| g.expires_at + 86_400 > now);
        let token = random_string(110);
        self.tokens.insert(
            token.clone(),
            Grant {
                openid: openid.to_owned(),
                scope: scope.to_owned(),
                expires_at: now + TOKEN_TTL_SECS,
            },
        );
        token
    }

    fn grant(
        &self,
        token: Option<&String>,
        openid: Option<&String>,
        now: i64,
    ) -> Result<&Grant, WxError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| WxError::new(41001))?;
        let g = self.tokens.get(token).ok_or_else(|| WxError::new(40001))?;
        if now >= g.expires_at {
            return Err(WxError::new(42001));
        }
        if openid.is_none_or(|o| *o != g.openid) {
            return Err(WxError::new(40003));
        }
        Ok(g)
    }
}

fn token_answer(
    p: &MockPlatform,
    access_token: &str,
    refresh_token: &str,
    g: &Grant,
) -> Json<Value> {
    let mut out = json!({
        "access_token": access_token,
        "expires_in": TOKEN_TTL_SECS,
        "refresh_token": refresh_token,
        "openid": g.openid,
        "scope": g.scope,
    });
    let unionid = p
        .lock()
        .followers
        .get(&g.openid)
        .and_then(|f| f.info.unionid.clone());
    if let (Some(u), Some(o)) = (unionid, out.as_object_mut()) {
        o.insert("unionid".to_owned(), json!(u));
    }
    Json(out)
}

/// `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`
pub(crate) async fn exchange_code(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    check_credentials(
        p.config(),
        q.get("appid").map(String::as_str),
        q.get("secret").map(String::as_str),
    )?;
    if q.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Err(WxError::new(40002));
    }
    let code = q
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| WxError::new(41008))?;
    let now = p.now();
    let (access, refresh, grant) = {
        let mut s = p.lock();
        let c = s
            .oauth
            .codes
            .get_mut(code)
            .ok_or_else(|| WxError::new(40029))?;
        if c.used {
            return Err(WxError::new(40163));
        }
        if now >= c.expires_at {
            return Err(WxError::new(40029));
        }
        c.used = true;
        let (openid, scope) = (c.openid.clone(), c.scope.clone());
        let access = s.oauth.issue_token(&openid, &scope, now);
        let refresh = random_string(110);
        let grant = Grant {
            openid,
            scope,
            expires_at: now + REFRESH_TTL_SECS,
        };
        s.oauth.refresh.insert(refresh.clone(), grant.clone());
        (access, refresh, grant)
    };
    Ok(token_answer(&p, &access, &refresh, &grant))
}

/// `GET /sns/oauth2/refresh_token?appid&grant_type=refresh_token&refresh_token`
pub(crate) async fn refresh(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    match q.get("appid").filter(|a| !a.is_empty()) {
        None => return Err(WxError::new(41002)),
        Some(a) if *a != p.config().appid => return Err(WxError::new(40013)),
        Some(_) => {}
    }
    if q.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return Err(WxError::new(40002));
    }
    let refresh = q.get("refresh_token").cloned().unwrap_or_default();
    let now = p.now();
    let (access, grant) = {
        let mut s = p.lock();
        let g = s
            .oauth
            .refresh
            .get(&refresh)
            .cloned()
            .ok_or_else(|| WxError::new(40030))?;
        if now >= g.expires_at {
            return Err(WxError::new(42002));
        }
        (s.oauth.issue_token(&g.openid, &g.scope, now), g)
    };
    Ok(token_answer(&p, &access, &refresh, &grant))
}

/// `GET /sns/userinfo?access_token&openid&lang`
pub(crate) async fn userinfo(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    let now = p.now();
    let s = p.lock();
    let g = s.oauth.grant(q.get("access_token"), q.get("openid"), now)?;
    if g.scope != "snsapi_userinfo" {
        return Err(WxError::new(48001));
    }
    let follower = s.followers.get(&g.openid).map(|r| &r.info);
    let nickname = follower
        .map(|f| f.nickname.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "微信用户".to_owned());
    let mut out = json!({
        "openid": g.openid,
        "nickname": nickname,
        "sex": 0,
        "province": "",
        "city": "",
        "country": "",
        "headimgurl": "",
        "privilege": [],
    });
    if let (Some(u), Some(o)) = (
        follower.and_then(|f| f.unionid.clone()),
        out.as_object_mut(),
    ) {
        o.insert("unionid".to_owned(), json!(u));
    }
    Ok(Json(out))
}

/// `GET /sns/auth?access_token&openid`
pub(crate) async fn auth(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    let now = p.now();
    p.lock()
        .oauth
        .grant(q.get("access_token"), q.get("openid"), now)?;
    Ok(ok())
}

fn page_error(code: u32, msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("wxoa mock authorize: {code} {msg}"),
    )
        .into_response()
}

/// `GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state[&openid]`:
/// redirects (302) to `redirect_uri` with a fresh code, as if the user had agreed.
pub(crate) async fn authorize(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(appid) = get("appid") else {
        return page_error(10012, "appid不能为空");
    };
    if appid != p.config().appid {
        return page_error(10016, "appid 不是本公众号的 AppID");
    }
    let Some(redirect) = get("redirect_uri") else {
        return page_error(10011, "redirect_uri不能为空");
    };
    let Some(scope) = get("scope") else {
        return page_error(10010, "scope不能为空");
    };
    if scope != "snsapi_base" && scope != "snsapi_userinfo" {
        return page_error(10005, "此公众号并没有这些scope的权限");
    }
    if get("response_type") != Some("code") {
        return page_error(10003, "response_type 必须为 code");
    }
    let state = get("state").unwrap_or_default();
    if state.len() > MAX_STATE_BYTES {
        return page_error(10013, "state 超过 128 字节");
    }
    let mut url = match url::Url::parse(redirect) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => return page_error(10003, "redirect_uri域名与后台配置不一致"),
    };
    let openid = match get("openid") {
        Some(o) => o.to_owned(),
        None => p
            .followers()
            .into_iter()
            .find(|f| f.subscribed)
            .map_or_else(|| DEFAULT_OAUTH_OPENID.to_owned(), |f| f.openid),
    };
    let code = p.issue_oauth_code(&openid, scope);
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state);
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_single_use_tokens_are_bound_to_their_openid() {
        let mut s = OAuthState::default();
        let code = s.issue_code("o1", "snsapi_base", 0);
        assert_eq!(s.codes[&code].expires_at, CODE_TTL_SECS);
        let t = s.issue_token("o1", "snsapi_base", 0);
        let o1 = "o1".to_owned();
        let o2 = "o2".to_owned();
        assert!(s.grant(Some(&t), Some(&o1), 10).is_ok());
        assert_eq!(s.grant(Some(&t), Some(&o2), 10).unwrap_err().code, 40003);
        assert_eq!(
            s.grant(Some(&t), Some(&o1), TOKEN_TTL_SECS)
                .unwrap_err()
                .code,
            42001
        );
        assert_eq!(s.grant(None, Some(&o1), 0).unwrap_err().code, 41001);
        assert_eq!(s.grant(Some(&o1), Some(&o1), 0).unwrap_err().code, 40001);
    }
}
