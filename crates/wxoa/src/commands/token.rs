//! `wxoa token`: print the shared access_token, fetching one only if none is valid in the store.

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_api::CachedToken;

use crate::cli::TokenArgs;
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &TokenArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let token = if args.force {
            client
                .force_refresh()
                .await
                .context("force-refreshing the access_token")?
        } else {
            client
                .access_token()
                .await
                .context("getting the access_token")?
        };
        let now = client.clock().now_unix();
        if args.json {
            println!("{}", json(&token, now));
        } else {
            println!("{}", token.value);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `{"access_token", "expires_at", "expires_in"}` with the seconds left at `now`.
fn json(token: &CachedToken, now: i64) -> serde_json::Value {
    serde_json::json!({
        "access_token": token.value,
        "expires_at": token.expires_at,
        "expires_in": token.remaining_secs(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_value_and_both_expiry_forms() {
        let v = json(&CachedToken::new("TOKEN", 1_700_007_200), 1_700_000_000);
        assert_eq!(
            v,
            serde_json::json!({"access_token": "TOKEN", "expires_at": 1_700_007_200_i64, "expires_in": 7200})
        );
        let expired = json(&CachedToken::new("T", 10), 20);
        assert_eq!(expired["expires_in"], 0);
    }
}
