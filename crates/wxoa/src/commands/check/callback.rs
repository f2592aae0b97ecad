//! The callback as the platform sees it: the URL of 服务器配置 (`server.public_url`) is one the
//! platform will call, a signed verification GET to it answers the `echostr` verbatim (what
//! 提交 does; "Token验证失败" otherwise), and the HTTPS certificate files load.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use wxoa_proto::signature::sign;
use wxoa_server::Config;
use wxoa_server::tls::CertStore;

use super::net::{Failure, classify};
use super::report::{Check, Status};

/// How long the platform waits for the answer to its verification GET.
pub(crate) const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an unexpected answer is shown.
const SNIPPET_CHARS: usize = 120;

/// `public_url`: the URL of 服务器配置 uses port 80 or 443, a host the platform can reach,
/// and wxoa's callback path.
pub(crate) fn public_url_shape(public_url: &str, server_path: &str) -> Check {
    let url = match Url::parse(public_url) {
        Ok(url) => url,
        Err(e) => {
            return Check::fail(
                "public_url",
                format!("server.public_url {public_url:?} is not a URL: {e}"),
                "把 server.public_url 设为 服务器配置 中填写的 URL，例如 https://example.com/wechat。",
                "Set server.public_url to the URL entered in 服务器配置, e.g. https://example.com/wechat.",
            );
        }
    };
    let mut problems: Vec<(Status, String, &str, &str)> = Vec::new();
    if let Some(port) = url.port()
        && port != 80
        && port != 443
    {
        problems.push((
            Status::Fail,
            format!("port {port}: the platform only calls port 80 (http) or 443 (https)"),
            "平台只接受 80（http）或 443（https）端口：在 80/443 上用 nginx/Apache 反向代理到 wxoa（见 deploy/），或让 wxoa 直接监听 80/443，并把 URL 中的端口去掉。",
            "The platform accepts only port 80 (http) or 443 (https): put nginx or Apache on 80/443 in front of wxoa (see deploy/), or let wxoa listen on 80/443 itself, and drop the port from the URL.",
        ));
    }
    if let Some(host) = url.host_str()
        && unreachable_host(host)
    {
        problems.push((
            Status::Fail,
            format!("host {host} is a local or private address the platform cannot reach"),
            "URL 必须是公网可访问的域名或 IP。",
            "The URL must use a domain or IP address reachable from the internet.",
        ));
    }
    if url.path() != server_path {
        problems.push((
            Status::Warn,
            format!(
                "path {} differs from server.path {server_path}; fine only if a proxy rewrites it",
                url.path()
            ),
            "让 URL 的路径与 server.path 一致，或确认代理会改写路径。",
            "Make the URL's path equal to server.path, or make sure the proxy rewrites it.",
        ));
    }
    if problems.is_empty() {
        return Check::ok(
            "public_url",
            format!(
                "{public_url}: port {}, path {server_path}",
                url.port_or_known_default().unwrap_or(0)
            ),
        );
    }
    let status = if problems.iter().any(|p| p.0 == Status::Fail) {
        Status::Fail
    } else {
        Status::Warn
    };
    Check {
        name: "public_url",
        status,
        detail: format!(
            "{public_url}: {}",
            problems
                .iter()
                .map(|p| p.1.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        fix_zh: Some(problems.iter().map(|p| p.2).collect::<Vec<_>>().join(" ")),
        fix_en: Some(problems.iter().map(|p| p.3).collect::<Vec<_>>().join(" ")),
        account: None,
    }
}

/// The callback URL of one of several accounts: `server.public_url`'s scheme, host and port
/// with the account's own path.
pub(crate) fn account_url(public_url: &str, path: &str) -> Option<String> {
    let mut url = Url::parse(public_url).ok()?;
    url.set_path(path);
    url.set_query(None);
    Some(url.to_string())
}

fn unreachable_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host.ends_with(".local") {
        return true;
    }
    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_documentation()
        }
        Ok(IpAddr::V6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => false,
    }
}

/// What the URL answered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: String,
}

/// `url_verification`: a verification GET signed with `token`, as the platform sends on 提交.
pub(crate) async fn verify(
    http: &reqwest::Client,
    public_url: &str,
    token: &str,
    now_unix: i64,
) -> Check {
    let mut url = match Url::parse(public_url) {
        Ok(url) => url,
        Err(e) => {
            return Check::skip(
                "url_verification",
                format!("server.public_url is not a URL: {e}"),
            );
        }
    };
    let timestamp = now_unix.to_string();
    let nonce = (rand::random::<u32>() % 1_000_000_000).to_string();
    // The platform's echostr is a long decimal number.
    let echostr = (rand::random::<u64>() % 10_000_000_000_000_000_000).to_string();
    let signature = sign(&[token, &timestamp, &nonce]);
    url.query_pairs_mut()
        .append_pair("signature", &signature)
        .append_pair("echostr", &echostr)
        .append_pair("timestamp", &timestamp)
        .append_pair("nonce", &nonce);
    match http.get(url.clone()).send().await {
        Ok(response) => {
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let status = response.status().as_u16();
            let location = header(reqwest::header::LOCATION);
            let content_type = header(reqwest::header::CONTENT_TYPE);
            let body = response.text().await.unwrap_or_default();
            judge(
                &Answer {
                    status,
                    location,
                    content_type,
                    body,
                },
                &echostr,
                &url,
            )
        }
        Err(e) => transport_failure(&e, &url),
    }
}

/// The check for what the URL answered to a verification GET carrying `echostr` (pure).
pub(crate) fn judge(answer: &Answer, echostr: &str, url: &Url) -> Check {
    const NAME: &str = "url_verification";
    let status = answer.status;
    if status == 200 && answer.body == echostr {
        return Check::ok(
            NAME,
            "answered the echostr verbatim: 提交 in 服务器配置 will pass (as seen from this host)",
        );
    }
    if status == 200 && answer.body.trim() == echostr {
        return Check::warn(
            NAME,
            "answered the echostr with whitespace around it; the platform expects it verbatim",
            "有程序在回复前后加了空白或换行（常见于 PHP 包装脚本或代理的注入），请去掉。",
            "Something adds whitespace or a newline around the answer (a wrapper script or a proxy injecting content): remove it.",
        );
    }
    if (300..400).contains(&status) {
        let to = answer.location.as_deref().unwrap_or("(no Location)");
        return Check::fail(
            NAME,
            format!("HTTP {status}: redirected to {to}; the platform does not follow redirects"),
            format!(
                "平台不跟随跳转：把 服务器配置 的 URL 和 server.public_url 改成最终地址 {to}（常见原因：http 跳转到 https、末尾斜杠、域名带不带 www），或在代理中对该路径取消跳转。"
            ),
            format!(
                "The platform does not follow redirects: enter the final address {to} in 服务器配置 and server.public_url (usual causes: http to https, a trailing slash, www or not), or stop the proxy redirecting this path."
            ),
        );
    }
    if is_html(answer) {
        let title = html_title(&answer.body)
            .map(|t| format!(" titled {t:?}"))
            .unwrap_or_default();
        return Check::fail(
            NAME,
            format!(
                "HTTP {status}: an HTML page{title} answered instead of wxoa (a proxy's page, a login or CSRF filter, or a default site)"
            ),
            "在 wxoa 前面的程序（登录页、CSRF/WAF 防护、默认站点、面板）截走了请求：让该路径原样转发到 wxoa，并对它关闭登录和 CSRF 校验。",
            "Something in front of wxoa answers (a login page, a CSRF or WAF filter, a default site, a hosting panel): forward this path to wxoa unchanged and exempt it from login and CSRF checks.",
        );
    }
    let snippet: String = answer.body.trim().chars().take(SNIPPET_CHARS).collect();
    match status {
        403 if snippet.contains("stale") => Check::fail(
            NAME,
            format!("HTTP 403 {snippet:?}: the server's clock is off"),
            "运行 wxoa 的服务器时间不准：启用时间同步（timedatectl set-ntp true）。",
            "The clock of the host running wxoa is off: turn on time synchronisation (timedatectl set-ntp true).",
        ),
        403 => Check::fail(
            NAME,
            format!(
                "HTTP 403 {snippet:?}: the signature was refused, so the Token differs (token mismatch likely)"
            ),
            "该 URL 背后的 wxoa 用的 Token 与本配置的 account.token 不同：确认 服务器配置 中的 Token、服务器上运行的配置与本配置一致，修改后重启 wxoa。",
            "The wxoa behind this URL uses a Token other than this config's account.token: make the Token in 服务器配置, the running server's config and this config the same, then restart wxoa.",
        ),
        404 => Check::fail(
            NAME,
            format!(
                "HTTP 404: nothing at {}; the path is not wxoa's callback or the proxy does not forward it",
                url.path()
            ),
            "确认 URL 路径等于 server.path，且代理（location / ProxyPass / ScriptAlias）把该路径转发给 wxoa。",
            "Make the URL's path equal server.path and check that the proxy (location / ProxyPass / ScriptAlias) forwards it to wxoa.",
        ),
        502..=504 => Check::fail(
            NAME,
            format!("HTTP {status}: the proxy in front cannot reach wxoa"),
            "代理连不上 wxoa：确认 wxoa serve 在运行，且代理指向 server.listen 的地址和端口。",
            "The proxy cannot reach wxoa: check that wxoa serve runs and that the proxy points at the address and port of server.listen.",
        ),
        _ => Check::fail(
            NAME,
            format!("HTTP {status} {snippet:?} instead of the echostr"),
            "该 URL 背后不是 wxoa（或不是这个配置的 wxoa）：检查代理配置和 server.path。",
            "Something other than wxoa (or a wxoa with another config) answers at this URL: check the proxy and server.path.",
        ),
    }
}

fn is_html(answer: &Answer) -> bool {
    let typed = answer
        .content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().contains("html"));
    let start: String = answer
        .body
        .trim_start()
        .chars()
        .take(200)
        .collect::<String>()
        .to_ascii_lowercase();
    typed
        || start.starts_with("<!doctype html")
        || start.starts_with("<html")
        || start.contains("<head")
}

fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title = body.get(open_end..close)?.trim();
    (!title.is_empty()).then(|| title.chars().take(60).collect())
}

fn transport_failure(e: &reqwest::Error, url: &Url) -> Check {
    const NAME: &str = "url_verification";
    let (kind, cause) = classify(e);
    let host = url.host_str().unwrap_or("");
    let port = url.port_or_known_default().unwrap_or(0);
    match kind {
        Failure::Refused => Check::fail(
            NAME,
            format!("connection refused at {host}:{port}: nothing listens there"),
            format!(
                "{host}:{port} 上没有程序在监听：启动 wxoa serve（或前面的 nginx/Apache），并确认其监听端口是 {port}。"
            ),
            format!(
                "Nothing listens on {host}:{port}: start wxoa serve (or the nginx/Apache in front of it) and make sure it listens on port {port}."
            ),
        ),
        Failure::Timeout => Check::fail(
            NAME,
            format!(
                "no answer from {host}:{port} within {} s ({cause}); the platform gives up after 5 s",
                VERIFY_TIMEOUT.as_secs()
            ),
            format!(
                "连接或回复超时：检查防火墙/云服务器安全组是否放行 {port} 端口，以及 wxoa 是否卡住。"
            ),
            format!(
                "Timed out: check that the firewall or the cloud security group allows port {port}, and that wxoa is not stuck."
            ),
        ),
        Failure::Dns => Check::fail(
            NAME,
            format!("{host} does not resolve ({cause})"),
            "域名无法解析：检查 DNS 记录（A/AAAA）是否指向本服务器。",
            "The host name does not resolve: check that its DNS record (A/AAAA) points at this server.",
        ),
        Failure::Tls => Check::fail(
            NAME,
            format!("TLS error with {host}:{port}: {cause}"),
            "HTTPS 证书有问题（过期、自签名、域名不符或缺少中间证书）或该端口不是 HTTPS：使用受信任 CA 签发的证书，server.tls_cert 应为完整证书链（fullchain.pem）。",
            "The HTTPS certificate is wrong (expired, self-signed, for another name, or missing its intermediate certificates) or the port does not speak HTTPS: use a certificate from a trusted CA, and the full chain (fullchain.pem) as server.tls_cert.",
        ),
        Failure::Other => Check::fail(
            NAME,
            format!("{host}:{port}: {cause}"),
            "检查网络、代理和 wxoa 的日志。",
            "Check the network, the proxy and wxoa's log.",
        ),
    }
}

/// `tls`: the certificate and key of `server.tls_cert` / `server.tls_key` load and match.
pub(crate) fn tls_files(config: &Config) -> Check {
    let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) else {
        return Check::skip(
            "tls",
            "server.tls_cert / server.tls_key not set: wxoa serves plain HTTP (HTTPS, if any, ends at a proxy)",
        );
    };
    match CertStore::load(cert, key) {
        Ok(store) => Check::ok(
            "tls",
            format!(
                "{} and {} load and match ({} certificates in the chain)",
                cert.display(),
                key.display(),
                store.current().cert.len()
            ),
        ),
        Err(e) => Check::fail(
            "tls",
            e.to_string(),
            "server.tls_cert 应为 PEM 格式的完整证书链（如 fullchain.pem），server.tls_key 为对应的私钥（如 privkey.pem）。",
            "server.tls_cert must be the full certificate chain in PEM (e.g. fullchain.pem) and server.tls_key its private key (e.g. privkey.pem).",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://example.com/wechat?signature=x").unwrap()
    }

    fn answer(status: u16, content_type: Option<&str>, body: &str) -> Answer {
        Answer {
            status,
            location: None,
            content_type: content_type.map(str::to_owned),
            body: body.to_owned(),
        }
    }

    #[test]
    fn the_echostr_verbatim_passes() {
        let c = judge(&answer(200, Some("text/plain"), "123456"), "123456", &url());
        assert_eq!(c.status, Status::Ok);
        let c = judge(
            &answer(200, Some("text/plain"), "123456\n"),
            "123456",
            &url(),
        );
        assert_eq!(c.status, Status::Warn);
    }

    #[test]
    fn a_403_means_the_token_or_the_clock() {
        let c = judge(&answer(403, None, "bad signature"), "1", &url());
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("token mismatch likely"), "{}", c.detail);
        let c = judge(&answer(403, None, "stale timestamp"), "1", &url());
        assert!(c.detail.contains("clock"), "{}", c.detail);
    }

    #[test]
    fn html_pages_redirects_and_proxies_are_named() {
        let c = judge(
            &answer(
                200,
                Some("text/html; charset=utf-8"),
                "<!DOCTYPE html><html><head><title>Login</title></head></html>",
            ),
            "1",
            &url(),
        );
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.detail.contains("HTML page titled \"Login\""),
            "{}",
            c.detail
        );
        let c = judge(
            &answer(200, None, "<html><body>hi</body></html>"),
            "1",
            &url(),
        );
        assert!(c.detail.contains("HTML"), "{}", c.detail);

        let mut moved = answer(301, None, "");
        moved.location = Some("https://example.com/wechat/".to_owned());
        let c = judge(&moved, "1", &url());
        assert!(
            c.detail
                .contains("redirected to https://example.com/wechat/"),
            "{}",
            c.detail
        );
        assert!(c.fix_en.unwrap().contains("https://example.com/wechat/"));

        assert!(
            judge(&answer(502, None, ""), "1", &url())
                .detail
                .contains("proxy")
        );
        assert!(
            judge(&answer(404, None, ""), "1", &url())
                .detail
                .contains("/wechat")
        );
        let c = judge(&answer(200, None, "success"), "1", &url());
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("\"success\""), "{}", c.detail);
    }

    #[test]
    fn url_shape_port_host_and_path() {
        let c = public_url_shape("https://wx.example.com/wechat", "/wechat");
        assert_eq!(c.status, Status::Ok, "{}", c.detail);
        assert!(c.detail.contains("port 443"), "{}", c.detail);

        let c = public_url_shape("http://wx.example.com:8080/wechat", "/wechat");
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("port 8080"), "{}", c.detail);
        assert!(c.fix_zh.unwrap().contains("80"));

        let c = public_url_shape("http://192.168.1.5/wechat", "/wechat");
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("private"), "{}", c.detail);

        let c = public_url_shape("https://wx.example.com/wx", "/wechat");
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("server.path"), "{}", c.detail);
    }

    #[test]
    fn html_title_extraction() {
        assert_eq!(
            html_title("<html><TITLE> 登录 </TITLE></html>").as_deref(),
            Some("登录")
        );
        assert_eq!(html_title("<html></html>"), None);
    }
}
