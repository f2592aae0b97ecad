//! The API client of the outbound commands, built from the config, and how their API errors are printed.
//!
//! The token store is what makes every `wxoa` process (and `wxoa serve`) share one
//! access_token: the SQL store at `store.url` (SQLite by default: every process on the host),
//! or Redis at `store.redis_url` when it is set (every host using that server).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use wxoa_api::{ApiError, Client, TokenStore};
use wxoa_server::Config;
use wxoa_store::{RedisStore, Store};

/// A client and the store behind its tokens (closed at the end so SQLite checkpoints cleanly).
struct Api {
    client: Client,
    sql: Option<Store>,
}

impl Api {
    async fn open(config: &Config) -> anyhow::Result<Self> {
        let (store, sql): (Arc<dyn TokenStore>, Option<Store>) = match &config.store.redis_url {
            Some(url) => {
                let redis = RedisStore::connect(url)
                    .await
                    .context("connecting to store.redis_url (the token store shared by hosts)")?
                    .with_prefix(&config.store.redis_prefix);
                tracing::debug!(url = redis.url(), "access_token shared through Redis");
                (Arc::new(redis.token_store()), None)
            }
            None => {
                let sql = Store::open(&config.store.url, &config.base_dir)
                    .await
                    .context("opening store.url (the token store shared by processes)")?;
                tracing::debug!(url = sql.url(), "access_token shared through the SQL store");
                (Arc::new(sql.token_store()), Some(sql))
            }
        };
        if config.account.secret.expose_secret().is_empty() {
            tracing::warn!(
                "account.secret is empty: only a token already in the shared store can be used; \
                 set WXOA_ACCOUNT__SECRET to let this host fetch one"
            );
        }
        let client = wxoa_server::backends::api_client_builder(config)
            .token_store(store)
            .build()
            .context("building the API client from [api] and [account]")?;
        Ok(Self { client, sql })
    }

    async fn close(self) {
        if let Some(sql) = self.sql {
            sql.close().await;
        }
    }
}

/// Run `f` with a client for `config` on a fresh single-threaded runtime.
pub(crate) fn with_client<F>(config: &Config, f: F) -> anyhow::Result<ExitCode>
where
    F: AsyncFnOnce(&Client) -> anyhow::Result<ExitCode>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let api = Api::open(config).await?;
        let result = f(&api.client).await;
        api.close().await;
        result
    })
}

/// Print an error from the platform (an `errcode`) with its meaning and what to do, in English
/// and Chinese, and turn it into a failing exit code. Other errors pass through to `main`.
pub(crate) fn report(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Err(err) => match describe_api_error(&err) {
            Some(text) => {
                eprintln!("{text}");
                Ok(ExitCode::FAILURE)
            }
            None => Err(err),
        },
        ok => ok,
    }
}

/// The lines printed for an error whose chain holds an [`ApiError::Api`]; `None` otherwise.
fn describe_api_error(err: &anyhow::Error) -> Option<String> {
    let api = err.chain().find_map(|e| e.downcast_ref::<ApiError>())?;
    let ApiError::Api { code, errmsg, .. } = api else {
        return None;
    };
    let doing: Vec<String> = err
        .chain()
        .take_while(|e| e.downcast_ref::<ApiError>().is_none())
        .map(ToString::to_string)
        .collect();
    let mut text = String::from("error: ");
    for step in &doing {
        text.push_str(step);
        text.push_str(": ");
    }
    text.push_str(&format!("WeChat API error {code}"));
    text.push_str(&format!("\n  errcode: {code}\n  errmsg:  {errmsg}"));
    match (api.hint_en(), api.hint_zh()) {
        (Some(en), Some(zh)) => {
            text.push_str(&format!("\n  hint:    {en}\n  提示:    {zh}"));
        }
        _ => text.push_str(
            "\n  hint:    no hint for this code; the `rid` in errmsg can be explained with openapi/rid/get",
        ),
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_show_code_errmsg_and_both_hints() {
        let err = anyhow::Error::new(ApiError::api(
            40164,
            "invalid ip 203.0.113.45 ipv6 ::ffff:203.0.113.45, not in whitelist rid: 1",
        ))
        .context("fetching the access_token");
        let text = describe_api_error(&err).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "error: fetching the access_token: WeChat API error 40164"
        );
        assert_eq!(lines[1], "  errcode: 40164");
        assert!(lines[2].contains("not in whitelist rid: 1"), "{text}");
        assert!(lines[3].starts_with("  hint:") && lines[3].contains("add 203.0.113.45"));
        assert!(lines[4].starts_with("  提示:") && lines[4].contains("IP白名单 添加 203.0.113.45"));
    }

    #[test]
    fn unknown_codes_still_show_errmsg() {
        let err = anyhow::Error::new(ApiError::api(99_999, "odd"));
        let text = describe_api_error(&err).unwrap();
        assert!(
            text.starts_with("error: WeChat API error 99999\n"),
            "{text}"
        );
        assert!(
            text.contains("errmsg:  odd") && text.contains("rid"),
            "{text}"
        );
    }

    #[test]
    fn other_errors_pass_through() {
        let err = anyhow::Error::new(ApiError::Validation("too long".to_owned()));
        assert!(describe_api_error(&err).is_none());
        assert!(report(Err(err)).is_err());
        assert!(describe_api_error(&anyhow::anyhow!("plain")).is_none());
        assert_eq!(report(Ok(ExitCode::SUCCESS)).unwrap(), ExitCode::SUCCESS);
    }
}
