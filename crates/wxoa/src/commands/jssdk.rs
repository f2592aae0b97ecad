//! `wxoa jssdk sign URL`: the `wx.config` values for a page, over the shared jsapi_ticket.

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_api::jssdk::{JsapiConfig, jsapi_signature};

use crate::cli::{JssdkArgs, JssdkCommand, JssdkSignArgs};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &JssdkArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        JssdkCommand::Sign(a) => sign(a),
    }
}

fn sign(args: &JssdkSignArgs) -> anyhow::Result<ExitCode> {
    let page = args
        .url
        .split_once('#')
        .map_or(args.url.as_str(), |(p, _)| p);
    if !(page.starts_with("http://") || page.starts_with("https://")) {
        anyhow::bail!(
            "{:?} is not a page URL: give the full http(s) URL of the page, query included",
            args.url
        );
    }
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let signed = match (args.timestamp, &args.nonce) {
            (Some(timestamp), Some(nonce)) => {
                let ticket = client
                    .jsapi_ticket()
                    .await
                    .context("getting the jsapi_ticket (ticket/getticket)")?;
                JsapiConfig {
                    app_id: client.appid().to_owned(),
                    timestamp,
                    nonce_str: nonce.clone(),
                    signature: jsapi_signature(&ticket.value, nonce, timestamp, page),
                    url: page.to_owned(),
                }
            }
            _ => client
                .jsapi_config(page)
                .await
                .context("signing the page (jsapi_ticket from ticket/getticket)")?,
        };
        if args.json {
            let text = serde_json::to_string_pretty(&signed).context("formatting as JSON")?;
            println!("{text}");
        } else {
            print!("{}", describe(&signed));
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn describe(c: &JsapiConfig) -> String {
    format!(
        "appId:     {}\ntimestamp: {}\nnonceStr:  {}\nsignature: {}\nurl:       {}\n",
        c.app_id, c.timestamp, c.nonce_str, c.signature, c.url
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_the_wx_config_fields() {
        let c = JsapiConfig {
            app_id: "wx1".to_owned(),
            timestamp: 1_414_587_457,
            nonce_str: "Wm3WZYTPz0wzccnW".to_owned(),
            signature: "0f9d".to_owned(),
            url: "http://mp.weixin.qq.com?params=value".to_owned(),
        };
        assert_eq!(
            describe(&c),
            "appId:     wx1\ntimestamp: 1414587457\nnonceStr:  Wm3WZYTPz0wzccnW\nsignature: 0f9d\nurl:       http://mp.weixin.qq.com?params=value\n"
        );
    }
}
