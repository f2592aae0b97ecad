//! OAuth2 web authorization (网页授权): the authorize URL, code → user access_token, refresh, userinfo, validity check.
//!
//! The user access_token here is not the account's access_token: it is per user, comes from a
//! single-use code (5 minutes) and is refreshed with a refresh_token (~30 days). None of these
//! calls use the shared provider (PROTOCOL §9.9).

use std::fmt;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode};
use crate::de::int_lenient;
use crate::error::ApiError;
use crate::pct::encode_component;

/// Longest `state`, in bytes.
pub const MAX_STATE_BYTES: usize = 128;

/// The authorization scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthScope {
    /// `snsapi_base`: silent, openid only.
    Base,
    /// `snsapi_userinfo`: asks the user; allows [`Client::oauth_userinfo`].
    UserInfo,
}

impl OAuthScope {
    /// The platform's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "snsapi_base",
            Self::UserInfo => "snsapi_userinfo",
        }
    }
}

/// A user's OAuth access token (`sns/oauth2/access_token`, `sns/oauth2/refresh_token`).
///
/// `Debug` hides both tokens.
#[derive(Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct OAuthToken {
    /// The user access_token (for `sns/userinfo`).
    pub access_token: String,
    /// Seconds it stays valid (7200).
    #[serde(default)]
    pub expires_in: i64,
    /// Renews the access_token for ~30 days.
    #[serde(default)]
    pub refresh_token: String,
    /// The user's openid in this account.
    pub openid: String,
    /// Granted scopes, comma separated.
    #[serde(default)]
    pub scope: String,
    /// 1 when the user only saw a snapshot page (virtual account; no real openid).
    #[serde(default)]
    pub is_snapshotuser: Option<i64>,
    /// UnionID when the account is bound to an open platform.
    #[serde(default)]
    pub unionid: Option<String>,
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("access_token", &"…")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"…")
            .field("openid", &self.openid)
            .field("scope", &self.scope)
            .field("is_snapshotuser", &self.is_snapshotuser)
            .field("unionid", &self.unionid)
            .finish()
    }
}

/// A user's profile (`sns/userinfo`; needs scope `snsapi_userinfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct OAuthUserInfo {
    /// The openid.
    pub openid: String,
    /// Nickname.
    #[serde(default)]
    pub nickname: String,
    /// 1 male, 2 female, 0 unknown; always 0 since 2021-10-20 (sent as number or string).
    #[serde(default, deserialize_with = "int_lenient")]
    pub sex: i64,
    /// Blank since 2021-10-20.
    #[serde(default)]
    pub province: String,
    /// Blank since 2021-10-20.
    #[serde(default)]
    pub city: String,
    /// Blank since 2021-10-20.
    #[serde(default)]
    pub country: String,
    /// Avatar URL.
    #[serde(default)]
    pub headimgurl: String,
    /// Privileges (e.g. `chinaunicom`).
    #[serde(default)]
    pub privilege: Vec<String>,
    /// UnionID when bound to an open platform.
    #[serde(default)]
    pub unionid: Option<String>,
}

impl Client {
    /// The URL to send the browser to:
    /// `…/connect/oauth2/authorize?appid=…&redirect_uri=…&response_type=code&scope=…&state=…#wechat_redirect`
    /// with `redirect_uri` and `state` percent-encoded; `state` is left out when `None`.
    ///
    /// The host of `redirect_uri` must be the account's configured 网页授权域名.
    ///
    /// # Errors
    /// [`ApiError::Validation`] if `redirect_uri` is not an absolute http(s) URL or `state` is
    /// longer than 128 bytes.
    pub fn oauth_authorize_url(
        &self,
        redirect_uri: &str,
        scope: OAuthScope,
        state: Option<&str>,
    ) -> Result<String, ApiError> {
        match url::Url::parse(redirect_uri) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(ApiError::Validation(format!(
                    "redirect_uri {redirect_uri:?} must be an absolute http(s) URL"
                )));
            }
        }
        let mut out = format!(
            "{}/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope={}",
            self.inner.oauth_base_url,
            encode_component(&self.inner.appid),
            encode_component(redirect_uri),
            scope.as_str()
        );
        if let Some(state) = state {
            if state.len() > MAX_STATE_BYTES {
                return Err(ApiError::Validation(format!(
                    "state is {} bytes; at most {MAX_STATE_BYTES} are allowed",
                    state.len()
                )));
            }
            out.push_str("&state=");
            out.push_str(&encode_component(state));
        }
        out.push_str("#wechat_redirect");
        Ok(out)
    }

    /// `GET sns/oauth2/access_token`: exchange the callback's `code` for the user's token.
    /// Never repeated on `-1` (a code is single-use).
    ///
    /// # Errors
    /// The platform's error: 40029 invalid code, 40163 code already used, 42003 expired.
    pub async fn oauth_exchange_code(&self, code: &str) -> Result<OAuthToken, ApiError> {
        if code.trim().is_empty() {
            return Err(ApiError::Validation("the OAuth code is empty".to_owned()));
        }
        let req = Req::get("/sns/oauth2/access_token")
            .query("appid", self.inner.appid.clone())
            .query("secret", self.inner.secret.expose_secret())
            .query("code", code)
            .query("grant_type", "authorization_code")
            .without_token()
            .never_repeat();
        self.inner.call(&req, decode).await
    }

    /// `GET sns/oauth2/refresh_token`: renew a user's token. Safe to repeat.
    ///
    /// # Errors
    /// The platform's error: 40030 invalid, 42002 expired refresh_token.
    pub async fn oauth_refresh(&self, refresh_token: &str) -> Result<OAuthToken, ApiError> {
        let req = Req::get("/sns/oauth2/refresh_token")
            .query("appid", self.inner.appid.clone())
            .query("grant_type", "refresh_token")
            .query("refresh_token", refresh_token)
            .without_token();
        self.inner.call(&req, decode).await
    }

    /// `GET sns/userinfo` with the user's token. `lang` defaults to `zh_CN`.
    ///
    /// # Errors
    /// The platform's error: 48001 unless the scope was `snsapi_userinfo`, 40001 / 42001 for a
    /// bad or expired user token (not retried: it is not the account's token).
    pub async fn oauth_userinfo(
        &self,
        access_token: &str,
        openid: &str,
        lang: Option<&str>,
    ) -> Result<OAuthUserInfo, ApiError> {
        let req = Req::get("/sns/userinfo")
            .query("access_token", access_token)
            .query("openid", openid)
            .query("lang", lang.unwrap_or("zh_CN"))
            .without_token();
        self.inner.call(&req, decode).await
    }

    /// `GET sns/auth`: whether a user's token is still valid.
    ///
    /// # Errors
    /// Transport errors and error codes other than an invalid or expired token.
    pub async fn oauth_token_valid(
        &self,
        access_token: &str,
        openid: &str,
    ) -> Result<bool, ApiError> {
        let req = Req::get("/sns/auth")
            .query("access_token", access_token)
            .query("openid", openid)
            .without_token();
        match self.inner.call(&req, crate::client::decode_ok).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_token_rejected() || e.code() == Some(40003) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::builder("wx520c15f417810387", "s").build().unwrap()
    }

    #[test]
    fn authorize_url_has_the_documented_shape() {
        let url = client()
            .oauth_authorize_url(
                "https://chong.qq.com/php/index.php?d=&c=wxAdapter&m=mobileDeal",
                OAuthScope::Base,
                Some("123"),
            )
            .unwrap();
        assert_eq!(
            url,
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx520c15f417810387\
             &redirect_uri=https%3A%2F%2Fchong.qq.com%2Fphp%2Findex.php%3Fd%3D%26c%3DwxAdapter%26m%3DmobileDeal\
             &response_type=code&scope=snsapi_base&state=123#wechat_redirect"
        );
        let no_state = client()
            .oauth_authorize_url("http://a.com/cb", OAuthScope::UserInfo, None)
            .unwrap();
        assert!(
            no_state.ends_with("&scope=snsapi_userinfo#wechat_redirect"),
            "{no_state}"
        );
    }

    #[test]
    fn state_and_redirect_are_validated() {
        let c = client();
        c.oauth_authorize_url("http://a.com/", OAuthScope::Base, Some(&"s".repeat(128)))
            .unwrap();
        let e = c
            .oauth_authorize_url("http://a.com/", OAuthScope::Base, Some(&"s".repeat(129)))
            .unwrap_err();
        assert!(e.to_string().contains("129 bytes"));
        assert!(
            c.oauth_authorize_url("/relative", OAuthScope::Base, None)
                .is_err()
        );
    }

    #[test]
    fn token_debug_hides_tokens() {
        let t = OAuthToken {
            access_token: "ACCESS-XYZ".into(),
            refresh_token: "REFRESH-XYZ".into(),
            ..OAuthToken::default()
        };
        let s = format!("{t:?}");
        assert!(
            !s.contains("ACCESS-XYZ") && !s.contains("REFRESH-XYZ"),
            "{s}"
        );
    }
}
