//! Account-level utilities: the platform's IP lists, API quota reset and lookup, and `rid` diagnostics.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::error::ApiError;

#[derive(Deserialize)]
struct IpList {
    #[serde(default)]
    ip_list: Vec<String>,
}

/// One API's daily quota (`openapi/quota/get`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Quota {
    /// Calls allowed per day.
    #[serde(default)]
    pub daily_limit: u64,
    /// Calls used today.
    #[serde(default)]
    pub used: u64,
    /// Calls left today.
    #[serde(default)]
    pub remain: u64,
}

#[derive(Deserialize)]
struct QuotaResponse {
    quota: Quota,
}

/// What the platform recorded about one failed request (`openapi/rid/get`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct RidInfo {
    /// Unix time of the call.
    #[serde(default)]
    pub invoke_time: i64,
    /// Time the platform spent, in ms.
    #[serde(default)]
    pub cost_in_ms: i64,
    /// The request URL (without the token).
    #[serde(default)]
    pub request_url: String,
    /// The request body.
    #[serde(default)]
    pub request_body: String,
    /// The response body.
    #[serde(default)]
    pub response_body: String,
    /// The caller IP the platform saw.
    #[serde(default)]
    pub client_ip: String,
}

#[derive(Deserialize)]
struct RidResponse {
    request: RidInfo,
}

impl Client {
    /// `GET getcallbackip`: the addresses WeChat pushes messages from (for firewall allow-lists).
    ///
    /// # Errors
    /// The platform's error.
    pub async fn callback_ips(&self) -> Result<Vec<String>, ApiError> {
        let r: IpList = self
            .inner
            .call(&Req::get("/cgi-bin/getcallbackip"), decode)
            .await?;
        Ok(r.ip_list)
    }

    /// `GET get_api_domain_ip`: the addresses of api.weixin.qq.com.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn api_domain_ips(&self) -> Result<Vec<String>, ApiError> {
        let r: IpList = self
            .inner
            .call(&Req::get("/cgi-bin/get_api_domain_ip"), decode)
            .await?;
        Ok(r.ip_list)
    }

    /// `POST clear_quota`: reset every API's daily count (after 45009).
    ///
    /// Only 10 resets a month (shared with `clear_quota/v2`), so it is never repeated on `-1`.
    ///
    /// # Errors
    /// The platform's error (48006 when this month's resets are used up).
    pub async fn clear_quota(&self) -> Result<(), ApiError> {
        let req = Req::post(
            "/cgi-bin/clear_quota",
            &serde_json::json!({ "appid": self.inner.appid }),
        )?;
        self.inner.call(&req, decode_ok).await
    }

    /// `POST openapi/quota/get`: the daily quota of one API, e.g. `"/cgi-bin/message/custom/send"`.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn quota_get(&self, cgi_path: &str) -> Result<Quota, ApiError> {
        let req = Req::post(
            "/cgi-bin/openapi/quota/get",
            &serde_json::json!({ "cgi_path": cgi_path }),
        )?
        .safe();
        let r: QuotaResponse = self.inner.call(&req, decode).await?;
        Ok(r.quota)
    }

    /// `POST openapi/rid/get`: explain a failed call by the `rid` at the end of its `errmsg`.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn rid_get(&self, rid: &str) -> Result<RidInfo, ApiError> {
        let req = Req::post(
            "/cgi-bin/openapi/rid/get",
            &serde_json::json!({ "rid": rid }),
        )?
        .safe();
        let r: RidResponse = self.inner.call(&req, decode).await?;
        Ok(r.request)
    }
}
