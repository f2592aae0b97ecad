//! `wxoa mock`: the fake WeChat platform for the accounts in wxoa.toml, on this machine.
//!
//! The API (`/cgi-bin/...`, `/sns/...`) accepts every account's AppID and AppSecret (each gets
//! its own access tokens) and behaves like the platform (`wxoa_mock::api`); `POST /mock/push`
//! makes the platform push to the config's own server (`http://{server.listen}{path}`) as the
//! first account (or the one `--account` names) through the callback driver.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use wxoa_mock::api::{MockConfig, MockPlatform};
use wxoa_mock::llm::{LlmConfig, LlmFault, MockLlm};

use crate::cli::MockArgs;
use crate::commands::load_config;
use crate::commands::sim::target;

pub(crate) fn run(args: &MockArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.config)?;
    // Every account of the config: (AppID, AppSecret, whether the secret was generated).
    let apps: Vec<(String, String, bool)> = config
        .accounts
        .iter()
        .map(|entry| {
            let appid = entry.account.appid.clone();
            let configured = entry.account.secret.expose_secret();
            if configured.is_empty() {
                let secret = generated_secret(&appid);
                (appid, secret, true)
            } else {
                (appid, configured.to_owned(), false)
            }
        })
        .collect();
    let mut mock_config = MockConfig::new(apps[0].0.clone(), apps[0].1.clone());
    for (appid, secret, _) in &apps[1..] {
        mock_config = mock_config.with_app(appid.clone(), secret.clone());
    }
    let platform = MockPlatform::new(mock_config);
    // `POST /mock/push` pushes as the first account (choose another with --account).
    let first = config.for_account(0);
    let appid = first.account.appid.clone();
    let callback = target::callback_url(&first)?;
    let driver_config = target::driver_config(&first, callback.clone(), None)?;
    let driver = target::driver(driver_config, target::serves_tls(&config))?;
    let default_mode = driver.default_mode();
    platform.set_driver(driver);

    let llm = args.llm.then(|| fake_model(args));
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| {
                format!(
                    "binding {} (is another `wxoa mock` running? choose another with --listen)",
                    args.listen
                )
            })?;
        let local = listener.local_addr().context("reading the bound address")?;
        let base = format!("http://{local}");
        let mut out = std::io::stdout().lock();
        let appids: Vec<&str> = apps.iter().map(|(a, _, _)| a.as_str()).collect();
        let _ = writeln!(
            out,
            "wxoa mock: the WeChat platform for {}, on this machine",
            appids.join(", ")
        );
        let _ = writeln!(
            out,
            "  api.base_url = \"{base}\"    put this in wxoa.toml, or run wxoa with WXOA_API__BASE_URL={base}"
        );
        for (app, secret, generated) in &apps {
            match (generated, config.multi_account) {
                (true, false) => {
                    let _ = writeln!(
                        out,
                        "  account.secret is empty: the mock accepts this AppSecret (the same every run for this AppID):"
                    );
                    let _ = writeln!(out, "    WXOA_ACCOUNT__SECRET={secret}");
                }
                (true, true) => {
                    let _ = writeln!(
                        out,
                        "  {app}: its secret is empty: the mock accepts this AppSecret (the same every run): {secret}"
                    );
                }
                (false, false) => {
                    let _ = writeln!(out, "  AppSecret: account.secret of the config");
                }
                (false, true) => {
                    let _ = writeln!(out, "  {app}: AppSecret: its secret in the config");
                }
            }
        }
        let _ = writeln!(
            out,
            "  pushes: POST {base}/mock/push {{\"text\":\"帮助\"}} → {callback} ({default_mode} mode unless the push says \"mode\"), as {appid}"
        );
        let _ = writeln!(
            out,
            "  look inside: {base}/mock/outbox, /mock/menu, /mock/followers, /mock/drafts, /mock/published, /mock/mass, /mock/materials, /mock/stats, /mock/routes"
        );
        if llm.is_some() {
            let _ = writeln!(
                out,
                "  model: base_url = \"{base}/v1\" in a [chat.NAME] profile (any model name, no key); requests at {base}/mock/llm/requests"
            );
        }
        let _ = writeln!(out, "  the state is in memory; Ctrl-C stops the mock");
        let _ = out.flush();
        drop(out);
        tracing::info!(listen = %local, appid = %appid, callback = %callback, "wxoa mock serving");
        match llm {
            None => platform
                .serve_with_shutdown(listener, crate::commands::serve::shutdown_signal())
                .await
                .context("serving the mock")?,
            Some(llm) => axum::serve(
                listener,
                platform
                    .router()
                    .merge(llm.router())
                    .into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(crate::commands::serve::shutdown_signal())
            .await
            .context("serving the mock")?,
        }
        tracing::info!("mock stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// An AppSecret for a config without one: 32 hex digits derived from the AppID, so it stays
/// the same across restarts of the mock (and the server's environment need not change).
fn generated_secret(appid: &str) -> String {
    let digest = wxoa_proto::signature::sign(&["wxoa mock appsecret", appid]);
    digest.chars().take(32).collect()
}

/// The fake model of `--llm`, paced and failing as the flags say.
fn fake_model(args: &MockArgs) -> MockLlm {
    let per_tenth = usize::try_from(args.llm_rate / 10).unwrap_or(1).max(1);
    let llm = MockLlm::new(LlmConfig {
        answer: args.llm_answer.clone(),
        chars_per_chunk: per_tenth,
        chunk_interval: std::time::Duration::from_millis(100),
        first_token_delay: std::time::Duration::from_secs(args.llm_delay),
        api_key: None,
    });
    llm.fail_always(args.llm_fail.as_deref().map(|fault| match fault {
        "cut" => LlmFault::CutAfter(20),
        status => LlmFault::Status {
            status: status.parse().unwrap_or(500),
            retry_after: (status == "429").then_some(10),
        },
    }));
    llm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_look_like_appsecrets_and_are_stable() {
        let a = generated_secret("wx1234567890abcdef");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, generated_secret("wx1234567890abcdef"));
        assert_ne!(a, generated_secret("wx1234567890abcdeg"));
    }
}
