//! JS-SDK: the page signature over the shared `jsapi_ticket`, and a ready-made `wx.config` set.
//!
//! Signature (PROTOCOL §9.8): SHA-1 hex of
//! `jsapi_ticket=…&noncestr=…&timestamp=…&url=…` (names sorted, raw values, not URL-encoded),
//! where `url` is the full page URL without its `#fragment`. SHA-1 is what the protocol
//! mandates; its collision weakness does not matter here.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::client::Client;
use crate::error::ApiError;

/// The JS-SDK signature of `url` (its `#fragment` is dropped) with these values.
#[must_use]
pub fn jsapi_signature(ticket: &str, noncestr: &str, timestamp: i64, url: &str) -> String {
    let url = url.split_once('#').map_or(url, |(page, _)| page);
    let plain =
        format!("jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}");
    hex::encode(Sha1::digest(plain.as_bytes()))
}

/// The values a page passes to `wx.config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiConfig {
    /// The account's AppID.
    pub app_id: String,
    /// Unix seconds used in the signature.
    pub timestamp: i64,
    /// Random string used in the signature.
    pub nonce_str: String,
    /// The signature.
    pub signature: String,
    /// The signed URL (without `#fragment`).
    pub url: String,
}

impl Client {
    /// Sign `url` for `wx.config`: the shared jsapi_ticket, the clock's time, a random 16-character nonce.
    ///
    /// # Errors
    /// [`ApiError::Validation`] if `url` is not an absolute http(s) URL; the ticket's errors.
    pub async fn jsapi_config(&self, url: &str) -> Result<JsapiConfig, ApiError> {
        let page = url.split_once('#').map_or(url, |(page, _)| page);
        if !(page.starts_with("http://") || page.starts_with("https://")) {
            return Err(ApiError::Validation(format!(
                "{url:?} is not an http(s) page URL"
            )));
        }
        let ticket = self.jsapi_ticket().await?;
        let timestamp = self.inner.clock.now_unix();
        let nonce_str: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(16)
            .map(char::from)
            .collect();
        Ok(JsapiConfig {
            app_id: self.inner.appid.clone(),
            timestamp,
            signature: jsapi_signature(&ticket.value, &nonce_str, timestamp, page),
            nonce_str,
            url: page.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKET: &str =
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";

    #[test]
    fn official_vector() {
        // PROTOCOL §9.8 (official doc; wechatpy test_jsapi_get_jsapi_signature).
        let sig = jsapi_signature(
            TICKET,
            "Wm3WZYTPz0wzccnW",
            1_414_587_457,
            "http://mp.weixin.qq.com?params=value",
        );
        assert_eq!(sig, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
    }

    #[test]
    fn fragment_is_ignored() {
        let a = jsapi_signature(
            TICKET,
            "Wm3WZYTPz0wzccnW",
            1_414_587_457,
            "http://mp.weixin.qq.com?params=value#top",
        );
        assert_eq!(a, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
        let b = jsapi_signature(
            TICKET,
            "Wm3WZYTPz0wzccnW",
            1_414_587_457,
            "http://mp.weixin.qq.com?params=other",
        );
        assert_ne!(b, a);
    }

    proptest::proptest! {
        #[test]
        fn equals_sha1_of_the_sorted_pairs(ticket in "[A-Za-z0-9_-]{1,90}", nonce in "[A-Za-z0-9]{1,32}", ts in 0_i64..4_000_000_000, path in "[a-z0-9/?=&.]{0,40}", frag in "[a-z0-9]{0,10}") {
            let url = format!("https://example.com/{path}");
            // wechatpy: sort the "k=v" strings, join with '&'.
            let mut pairs = [format!("noncestr={nonce}"), format!("jsapi_ticket={ticket}"), format!("timestamp={ts}"), format!("url={url}")];
            pairs.sort();
            let expected = hex::encode(Sha1::digest(pairs.join("&").as_bytes()));
            proptest::prop_assert_eq!(jsapi_signature(&ticket, &nonce, ts, &format!("{url}#{frag}")), expected);
        }
    }
}
