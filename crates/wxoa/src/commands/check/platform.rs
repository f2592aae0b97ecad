//! The outbound API as seen from this host: `api.base_url` answers, this host's clock agrees
//! with the API server's `Date`, and an access_token can be had with this AppID and AppSecret
//! from this host's IP address.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use secrecy::ExposeSecret as _;
use wxoa_api::{ApiError, TokenStore};
use wxoa_server::Config;

use super::net::{Failure, classify};
use super::report::Check;

/// The path probed for reachability: answers JSON (errcode 41001, no token) without one.
const PROBE_PATH: &str = "/cgi-bin/getcallbackip";
/// Clock differences above this are reported even inside the replay window.
const DRIFT_WARN_SECS: u64 = 30;

/// `api_reachable`: an HTTP request to `base_url` gets an answer. Returns the check and the
/// answer's `Date` header (for [`clock`]).
pub(crate) async fn api_reachable(
    http: &reqwest::Client,
    base_url: &str,
) -> (Check, Option<String>) {
    let url = format!("{}{PROBE_PATH}", base_url.trim_end_matches('/'));
    let started = Instant::now();
    match http.get(&url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let date = response
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let detail = format!(
                "{base_url} answered HTTP {status} in {} ms",
                started.elapsed().as_millis()
            );
            let check = if status >= 500 {
                Check::warn(
                    "api_reachable",
                    detail,
                    "API 地址可以连通但返回服务器错误：若 api.base_url 指向代理，请检查代理；否则稍后重试。",
                    "The API host answers, but with a server error: if api.base_url points at a proxy, check it; otherwise try again later.",
                )
            } else {
                Check::ok("api_reachable", detail)
            };
            (check, date)
        }
        Err(e) => {
            let (kind, cause) = classify(&e);
            let (detail, zh, en) = match kind {
                Failure::Dns => (
                    format!("{base_url}: the host name does not resolve ({cause})"),
                    "本机 DNS 无法解析 API 域名：检查 /etc/resolv.conf 或容器的 DNS 设置，以及 api.base_url 的拼写。",
                    "This host cannot resolve the API host name: check /etc/resolv.conf or the container's DNS, and the spelling of api.base_url.",
                ),
                Failure::Timeout => (
                    format!("{base_url}: no answer ({cause})"),
                    "出站连接超时：检查防火墙/安全组是否允许访问外网 443 端口，或是否需要代理（HTTPS_PROXY）。",
                    "Outbound connection timed out: check that the firewall or security group allows outbound port 443, or whether a proxy (HTTPS_PROXY) is needed.",
                ),
                Failure::Refused => (
                    format!("{base_url}: connection refused ({cause})"),
                    "连接被拒绝：检查 api.base_url 的主机和端口。",
                    "Connection refused: check the host and port of api.base_url.",
                ),
                Failure::Tls => (
                    format!("{base_url}: TLS failed ({cause})"),
                    "TLS 握手失败：检查系统时间、CA 证书包（ca-certificates），以及是否有拦截 HTTPS 的代理。",
                    "The TLS handshake failed: check the system time, the CA bundle (ca-certificates) and any proxy intercepting HTTPS.",
                ),
                Failure::Other => (
                    format!("{base_url}: {cause}"),
                    "检查本机的出站网络和 api.base_url。",
                    "Check this host's outbound network and api.base_url.",
                ),
            };
            (Check::fail("api_reachable", detail, zh, en), None)
        }
    }
}

/// `clock`: this host's clock against the API server's `Date` header. Pushes are refused when
/// their timestamp is more than `skew_secs` away from this host's clock (0: never).
pub(crate) fn clock(now: SystemTime, date: Option<&str>, skew_secs: u64) -> Check {
    let Some(date) = date else {
        return Check::skip(
            "clock",
            "the API server sent no Date header to compare this host's clock with",
        );
    };
    let Ok(server) = httpdate::parse_http_date(date) else {
        return Check::skip("clock", format!("unreadable Date header {date:?}"));
    };
    let (ahead, diff) = match now.duration_since(server) {
        Ok(d) => (true, d.as_secs()),
        Err(e) => (false, e.duration().as_secs()),
    };
    let relation = if diff == 0 {
        "agrees with".to_owned()
    } else if ahead {
        format!("is {diff} s ahead of")
    } else {
        format!("is {diff} s behind")
    };
    let detail = format!("this host's clock {relation} the API server's (Date: {date})");
    let fix_zh = "启用时间同步（如 systemd-timesyncd、chrony：timedatectl set-ntp true），再运行 wxoa check。";
    let fix_en = "Turn on time synchronisation (systemd-timesyncd or chrony: timedatectl set-ntp true) and run wxoa check again.";
    if skew_secs > 0 && diff > skew_secs {
        return Check::fail(
            "clock",
            format!(
                "{detail}: beyond server.timestamp_skew_secs = {skew_secs}, so every push would be refused (403 stale timestamp)"
            ),
            fix_zh,
            fix_en,
        );
    }
    if diff > DRIFT_WARN_SECS {
        let window = if skew_secs == 0 {
            "the replay check is off (server.timestamp_skew_secs = 0)".to_owned()
        } else {
            format!("inside the ±{skew_secs} s replay window for now")
        };
        return Check::warn("clock", format!("{detail}; {window}"), fix_zh, fix_en);
    }
    Check::ok("clock", detail)
}

/// `access_token`: an access_token can be had with this AppID and AppSecret from this host.
///
/// With stable_token (the default) a plain fetch never invalidates the token other processes
/// use, so it is fetched afresh, which checks the AppID, the AppSecret and the IP whitelist.
/// With the classic endpoint a fetch would supersede the token `wxoa serve` holds, so the
/// shared `store` is used: a token cached there is reused.
pub(crate) async fn access_token(config: &Config, store: Option<Arc<dyn TokenStore>>) -> Check {
    if config.account.secret.expose_secret().is_empty() {
        return Check::skip_with_note(
            "access_token",
            "account.secret is empty: this host does not use the outbound API",
            "要从本机调用接口（菜单、客服消息等），请把 AppSecret 放进环境变量 WXOA_ACCOUNT__SECRET（公众号后台 → 设置与开发 → 基本配置）。",
            "To call the API from this host (menus, 客服 messages, …), put the AppSecret in the WXOA_ACCOUNT__SECRET environment variable (公众号后台 → 设置与开发 → 基本配置).",
        );
    }
    let endpoint = if config.api.stable_token {
        "POST /cgi-bin/stable_token"
    } else {
        "GET /cgi-bin/token"
    };
    let mut builder = wxoa_server::backends::api_client_builder(config).busy_retries(0);
    if !config.api.stable_token
        && let Some(store) = store
    {
        builder = builder.token_store(store);
    }
    let client = match builder.build() {
        Ok(client) => client,
        Err(e) => {
            return Check::fail(
                "access_token",
                e.to_string(),
                "检查 [api] 与 [account] 的设置。",
                "Check the [api] and [account] settings.",
            );
        }
    };
    match client.access_token().await {
        Ok(token) => {
            let now = wxoa_api::Clock::now_unix(&wxoa_api::SystemClock);
            let minutes = (token.expires_at - now).max(0) / 60;
            Check::ok(
                "access_token",
                format!(
                    "{endpoint} gave a token valid for {minutes} more minutes (AppID, AppSecret and IP whitelist are right)"
                ),
            )
        }
        Err(e) => token_failure(&e, endpoint),
    }
}

/// The check for a failed token fetch: the platform's errcode with its fix (the egress IP for
/// 40164), or the transport problem.
fn token_failure(e: &ApiError, endpoint: &str) -> Check {
    match e {
        ApiError::Api { code, errmsg, .. } => {
            let detail = match code {
                40164 => format!(
                    "{endpoint}: errcode 40164, this host's IP {} is not in the IP whitelist ({errmsg})",
                    wxoa_api::errcode::whitelist_ip(errmsg).unwrap_or("(unknown)")
                ),
                40125 => format!("{endpoint}: errcode 40125, wrong AppSecret ({errmsg})"),
                40013 => format!("{endpoint}: errcode 40013, wrong AppID ({errmsg})"),
                _ => format!("{endpoint}: errcode {code} ({errmsg})"),
            };
            let zh = e.hint_zh().unwrap_or_else(|| {
                "平台返回了错误码：可用 errmsg 中的 rid 在 公众号后台 查询原因。".to_owned()
            });
            let en = e.hint_en().unwrap_or_else(|| {
                "The platform returned an error code: look up the rid in errmsg (openapi/rid/get) for the cause.".to_owned()
            });
            Check::fail("access_token", detail, zh, en)
        }
        ApiError::Http { .. } => Check::fail(
            "access_token",
            format!("{endpoint}: {e}"),
            "本机无法连到 API：见 api_reachable 一行。",
            "This host cannot reach the API: see the api_reachable line.",
        ),
        ApiError::Status { status, .. } => Check::fail(
            "access_token",
            format!("{endpoint}: the API answered HTTP {status}"),
            "api.base_url 应为 https://api.weixin.qq.com（或其代理）。",
            "api.base_url must be https://api.weixin.qq.com (or a proxy of it).",
        ),
        ApiError::Decode { .. } => Check::fail(
            "access_token",
            format!("{endpoint}: the answer is not the platform's JSON"),
            "api.base_url 应为 https://api.weixin.qq.com（或其代理），而不是别的网站。",
            "api.base_url must be https://api.weixin.qq.com (or a proxy of it), not another site.",
        ),
        other => Check::fail(
            "access_token",
            format!("{endpoint}: {other}"),
            "按错误信息处理后再运行 wxoa check。",
            "Fix what the error says and run wxoa check again.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::super::report::Status;
    use super::*;

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_secs(unix)
    }

    const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT"; // 1_700_000_000

    #[test]
    fn clock_within_the_window_is_ok() {
        let c = clock(at(1_700_000_002), Some(DATE), 300);
        assert_eq!(c.status, Status::Ok, "{}", c.detail);
        assert!(c.detail.contains("2 s ahead"), "{}", c.detail);
    }

    #[test]
    fn clock_beyond_the_window_fails_and_says_which_way() {
        let c = clock(at(1_700_000_000 - 301), Some(DATE), 300);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("301 s behind"), "{}", c.detail);
        assert!(
            c.detail.contains("timestamp_skew_secs = 300"),
            "{}",
            c.detail
        );
        assert!(c.fix_en.unwrap().contains("timedatectl"));
    }

    #[test]
    fn clock_drift_inside_the_window_or_unchecked_is_a_warning() {
        assert_eq!(
            clock(at(1_700_000_100), Some(DATE), 300).status,
            Status::Warn
        );
        let c = clock(at(1_700_009_000), Some(DATE), 0);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("replay check is off"), "{}", c.detail);
    }

    #[test]
    fn clock_without_a_usable_date_is_skipped() {
        assert_eq!(clock(at(0), None, 300).status, Status::Skip);
        assert_eq!(clock(at(0), Some("yesterday"), 300).status, Status::Skip);
    }

    #[test]
    fn token_failures_carry_the_platforms_fix() {
        let c = token_failure(
            &ApiError::api(
                40164,
                "invalid ip 203.0.113.9 ipv6 ::ffff:203.0.113.9, not in whitelist rid: x",
            ),
            "POST /cgi-bin/stable_token",
        );
        assert!(c.detail.contains("203.0.113.9"), "{}", c.detail);
        assert!(c.fix_zh.unwrap().contains("IP白名单 添加 203.0.113.9"));
        let c = token_failure(&ApiError::api(40125, "invalid appsecret"), "x");
        assert!(c.detail.contains("wrong AppSecret"), "{}", c.detail);
        assert!(c.fix_en.unwrap().contains("AppSecret"));
        let c = token_failure(&ApiError::api(40013, "invalid appid"), "x");
        assert!(c.detail.contains("wrong AppID"), "{}", c.detail);
        let c = token_failure(&ApiError::api(99_999, "odd"), "x");
        assert_eq!(c.status, Status::Fail);
        assert!(c.fix_en.unwrap().contains("rid"));
    }
}
