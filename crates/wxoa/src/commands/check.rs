//! `wxoa check`: a checklist of everything the platform and the followers depend on, each
//! line ✓ / ✗ / ! with the fix in Chinese and English, so "Token验证失败", 40164 and friends
//! are found before the platform finds them. Exit code 1 when any check fails; `--json` prints
//! `[{name, status, detail, fix_zh, fix_en}]`.
//!
//! # Layout
//! - `report`: a check's outcome and the text / JSON output.
//! - `account`: the config parses; Token, EncodingAESKey, AppID and rules are well-formed.
//! - `store`: `store.url` opens and its migrations are current; `store.redis_url` answers.
//! - `platform`: `api.base_url` answers, the clock agrees with its `Date`, a token can be had.
//! - `callback`: `server.public_url` is callable and answers a signed verification GET; the
//!   HTTPS files load.
//! - `net`: why a request got no answer.
//!
//! Every check talks only to the URLs of the config (`api.base_url`, `server.public_url`,
//! `store.url`), so tests point them at local servers.

mod account;
mod callback;
mod net;
mod platform;
mod report;
mod store;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use wxoa_api::TokenStore;
use wxoa_server::Config;

use self::account::RawView;
use self::report::Check;
use crate::cli::CheckArgs;

pub(crate) fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let path = &args.config.config;
    let checks = runtime.block_on(checklist(path, args.config.account.as_deref()));
    if args.json {
        println!("{}", report::render_json(&checks));
    } else {
        println!("wxoa check: {}", path.display());
        print!("{}", report::render_text(&checks));
    }
    Ok(if report::any_failed(&checks) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Run every check against the config at `path`, in the order an owner fixes things. With
/// `[[accounts]]`, the checks of the whole config come first, then one section each account
/// (only the one called `only`, when given).
async fn checklist(path: &Path, only: Option<&str>) -> Vec<Check> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            return vec![Check::fail(
                "config",
                format!("cannot read {}: {e}", path.display()),
                "用 --config 指定配置文件，或设置环境变量 WXOA_CONFIG；默认是当前目录下的 wxoa.toml。",
                "Name the config file with --config or WXOA_CONFIG; the default is wxoa.toml in the current directory.",
            )];
        }
    };
    let loaded = Config::load(path);
    let raw = RawView::new(&text);
    let mut checks = vec![account::config(path, &loaded)];
    if account::unparsable(&raw) {
        return checks;
    }
    let mut sections = raw.accounts();
    if !sections.is_empty() {
        if let Some(only) = only {
            sections.retain(|(name, _)| name == only);
            if sections.is_empty() {
                checks.push(Check::fail(
                    "account",
                    format!("no account named {only:?} in [[accounts]]"),
                    "用 --account 指定 [[accounts]] 中某个账号的 name（未写 name 时为其 appid）。",
                    "Name one of the [[accounts]] with --account (its name, or its appid when it has none).",
                ));
                return checks;
            }
        }
        return several_accounts(&loaded, &sections, checks).await;
    }
    if let (Some(only), Ok(config)) = (only, &loaded)
        && let Err(e) = config.account_named(only)
    {
        checks.push(Check::fail(
            "account",
            e.to_string(),
            "用 --account 指定配置中账号的名字（[account] 的名字是它的 appid）。",
            "Name the config's account with --account (the name of [account] is its appid).",
        ));
        return checks;
    }
    checks.push(account::appid(&raw));
    checks.push(account::token(&raw));
    checks.push(account::encoding_aes_key(&raw));
    checks.push(account::rules(path, &raw, &loaded));

    let Ok(config) = loaded else {
        for name in [
            "store",
            "api_reachable",
            "clock",
            "access_token",
            "url_verification",
        ] {
            checks.push(Check::skip(name, "the config does not load; fix it first"));
        }
        return checks;
    };
    checks.push(callback::tls_files(&config));

    let (store_check, sql) = store::sql(&config).await;
    // Its tables exist only once the migrations are applied.
    let sql_usable = store_check.status == report::Status::Ok;
    checks.push(store_check);
    let (redis_check, redis_tokens) = store::redis(&config).await;
    checks.extend(redis_check);
    // The token store `wxoa serve` shares: Redis when configured, else the SQL store.
    let shared: Option<Arc<dyn TokenStore>> = redis_tokens.or_else(|| {
        sql.as_ref()
            .filter(|_| sql_usable)
            .map(|s| Arc::new(s.token_store()) as Arc<dyn TokenStore>)
    });

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(config.api.timeout_ms))
        .build();
    match http {
        Ok(http) => {
            let (reachable, date) = platform::api_reachable(&http, &config.api.base_url).await;
            let reached = reachable.status != report::Status::Fail;
            checks.push(reachable);
            checks.push(if reached {
                platform::clock(
                    SystemTime::now(),
                    date.as_deref(),
                    config.server.timestamp_skew_secs,
                )
            } else {
                Check::skip("clock", "the API is not reachable to compare clocks with")
            });
        }
        Err(e) => checks.push(Check::fail(
            "api_reachable",
            format!("cannot build an HTTP client: {e}"),
            "检查系统的 TLS 根证书。",
            "Check the system's TLS root certificates.",
        )),
    }
    checks.push(platform::access_token(&config, shared).await);

    match &config.server.public_url {
        None => checks.push(Check::skip_with_note(
            "url_verification",
            "server.public_url not set: the callback URL is not tested",
            "把 server.public_url 设为 服务器配置 中填写的 URL，wxoa check 就会像平台一样发送带签名的验证请求。",
            "Set server.public_url to the URL entered in 服务器配置, and wxoa check sends a signed verification GET to it as the platform does.",
        )),
        Some(url) => {
            checks.push(callback::public_url_shape(url, &config.server.path));
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(callback::VERIFY_TIMEOUT)
                .build();
            checks.push(match http {
                Ok(http) => callback::verify(&http, url, &config.account.token, unix_now()).await,
                Err(e) => Check::fail(
                    "url_verification",
                    format!("cannot build an HTTP client: {e}"),
                    "检查系统的 TLS 根证书。",
                    "Check the system's TLS root certificates.",
                ),
            });
        }
    }
    if let Some(sql) = sql {
        sql.close().await;
    }
    checks
}

/// The checks of a config with `[[accounts]]`: the shared ones, then each account's section
/// (its AppID, Token, EncodingAESKey, rules, access_token and callback URL).
async fn several_accounts(
    loaded: &Result<Config, wxoa_server::config::ConfigError>,
    sections: &[(String, RawView)],
    mut checks: Vec<Check>,
) -> Vec<Check> {
    let Ok(config) = loaded else {
        for (name, raw) in sections {
            checks.extend(
                offline(raw, name, loaded)
                    .into_iter()
                    .map(|c| c.for_account(name)),
            );
        }
        return checks;
    };
    checks.push(callback::tls_files(config));
    let (store_check, sql) = store::sql(config).await;
    let sql_usable = store_check.status == report::Status::Ok;
    checks.push(store_check);
    let (redis_check, redis_tokens) = store::redis(config).await;
    checks.extend(redis_check);
    let shared: Option<Arc<dyn TokenStore>> = redis_tokens.or_else(|| {
        sql.as_ref()
            .filter(|_| sql_usable)
            .map(|s| Arc::new(s.token_store()) as Arc<dyn TokenStore>)
    });
    checks.extend(api_and_clock(config).await);
    for (name, raw) in sections {
        let mut section = offline(raw, name, loaded);
        match config.account_named(name) {
            Ok(view) => {
                section.push(platform::access_token(&view, shared.clone()).await);
                section.push(match &view.server.public_url {
                    None => Check::skip(
                        "url_verification",
                        "server.public_url not set: the callback URL is not tested",
                    ),
                    Some(base) => match callback::account_url(base, &view.server.path) {
                        Some(url) => verify_url(&url, &view.account.token).await,
                        None => Check::skip(
                            "url_verification",
                            "server.public_url is not a URL (see public_url)",
                        ),
                    },
                });
            }
            Err(e) => section.push(Check::skip("access_token", e.to_string())),
        }
        checks.extend(section.into_iter().map(|c| c.for_account(name)));
    }
    if let Some(sql) = sql {
        sql.close().await;
    }
    checks
}

/// An account's offline checks: AppID, Token, EncodingAESKey, rules.
fn offline(
    raw: &RawView,
    name: &str,
    loaded: &Result<Config, wxoa_server::config::ConfigError>,
) -> Vec<Check> {
    vec![
        account::appid(raw),
        account::token(raw),
        account::encoding_aes_key(raw),
        account::account_rules(name, loaded),
    ]
}

/// `api_reachable` and `clock`.
async fn api_and_clock(config: &Config) -> Vec<Check> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(config.api.timeout_ms))
        .build();
    match http {
        Ok(http) => {
            let (reachable, date) = platform::api_reachable(&http, &config.api.base_url).await;
            let reached = reachable.status != report::Status::Fail;
            let clock = if reached {
                platform::clock(
                    SystemTime::now(),
                    date.as_deref(),
                    config.server.timestamp_skew_secs,
                )
            } else {
                Check::skip("clock", "the API is not reachable to compare clocks with")
            };
            vec![reachable, clock]
        }
        Err(e) => vec![Check::fail(
            "api_reachable",
            format!("cannot build an HTTP client: {e}"),
            "检查系统的 TLS 根证书。",
            "Check the system's TLS root certificates.",
        )],
    }
}

/// `url_verification` of `url` with `token`.
async fn verify_url(url: &str, token: &str) -> Check {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(callback::VERIFY_TIMEOUT)
        .build();
    match http {
        Ok(http) => callback::verify(&http, url, token, unix_now()).await,
        Err(e) => Check::fail(
            "url_verification",
            format!("cannot build an HTTP client: {e}"),
            "检查系统的 TLS 根证书。",
            "Check the system's TLS root certificates.",
        ),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
