//! Where the simulated platform pushes and as which account: the callback URL of `wxoa serve`
//! and the account's Token, EncodingAESKey and AppID, all read from the same wxoa.toml.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use url::Url;
use wxoa_mock::driver::{Driver, DriverConfig, HttpTransport, Transport};
use wxoa_server::Config;

/// The account's original id (`gh_…`) in simulated pushes: the config does not know the real
/// one, and the server answers to whatever `ToUserName` the platform sends.
pub(crate) const ACCOUNT_ID: &str = "gh_wxoa0sim0001";

/// The callback URL `wxoa serve` answers for this config: `server.listen` (an unspecified
/// address becomes loopback) and `server.path`, `https` when `server.tls_cert` is set.
pub(crate) fn callback_url(config: &Config) -> anyhow::Result<Url> {
    let scheme = if config.server.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let addr = reachable(config.server.listen);
    let text = format!("{scheme}://{addr}{}", config.server.path);
    Url::parse(&text).with_context(|| format!("building the callback URL {text}"))
}

/// `0.0.0.0:P` / `[::]:P` (listen on every interface) reached through loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), listen.port())
        }
        _ => listen,
    }
}

/// The EncodingAESKey of the account `appid` as written (the validated config keeps only the
/// decoded key): `account.encoding_aes_key`, or that of the `[[accounts]]` entry with this
/// AppID, with the same `WXOA_<SECTION>__<KEY>` overrides `wxoa serve` applies.
pub(crate) fn encoding_aes_key(path: &Path, appid: &str) -> anyhow::Result<Option<String>> {
    let env = Env::prefixed("WXOA_")
        .filter(|key| key.as_str().contains("__"))
        .split("__");
    let figment = Figment::from(Toml::file(path)).merge(env);
    let key = if figment.find_value("account").is_ok() {
        let value: Option<figment::value::Value> =
            figment.find_value("account.encoding_aes_key").ok();
        match value {
            None => None,
            Some(v) => Some(
                v.into_string()
                    .context("account.encoding_aes_key must be a string")?,
            ),
        }
    } else {
        let entries: Vec<serde_json::Value> = figment
            .extract_inner("accounts")
            .context("reading [[accounts]]")?;
        entries
            .iter()
            .find(|e| e.get("appid").and_then(serde_json::Value::as_str) == Some(appid))
            .and_then(|e| e.get("encoding_aes_key"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Ok(key.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()))
}

/// The driver's settings for the account in `config`, pushing to `target`.
pub(crate) fn driver_config(
    config: &Config,
    target: Url,
    timeout: Option<Duration>,
) -> anyhow::Result<DriverConfig> {
    let mut driver = DriverConfig::new(
        target,
        config.account.token.clone(),
        config.account.appid.clone(),
        ACCOUNT_ID,
    );
    driver.encoding_aes_key = encoding_aes_key(&config.source, &config.account.appid)?;
    if let Some(timeout) = timeout {
        driver.timeout = timeout;
    }
    Ok(driver)
}

/// A driver over real HTTP. `local_tls`: the target is this config's own HTTPS listener, whose
/// certificate is made for the public name, not for 127.0.0.1, so it is not verified.
pub(crate) fn driver(config: DriverConfig, local_tls: bool) -> anyhow::Result<Driver> {
    let transport: Arc<dyn Transport> = if local_tls {
        let client = reqwest::Client::builder()
            .user_agent("Mozilla/4.0")
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .danger_accept_invalid_certs(true)
            .build()
            .context("building the HTTP client of the driver")?;
        Arc::new(HttpTransport::with_client(client))
    } else {
        Arc::new(HttpTransport::new().context("building the HTTP client of the driver")?)
    };
    Driver::with_transport(config, transport).context("setting up the callback driver")
}

/// Whether `config` serves HTTPS itself (its callback URL is `https://` on this machine).
pub(crate) fn serves_tls(config: &Config) -> bool {
    config.server.tls_cert.is_some()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn config(server: &str) -> Config {
        let text = format!(
            "[server]\n{server}\n[account]\nappid = \"wx1234567890abcdef\"\ntoken = \"tok\"\n"
        );
        Config::from_toml(&text, Path::new("wxoa.toml")).unwrap()
    }

    #[test]
    fn callback_url_uses_listen_and_path() {
        let c = config("listen = \"127.0.0.1:8181\"\npath = \"/wx/cb\"");
        assert_eq!(
            callback_url(&c).unwrap().as_str(),
            "http://127.0.0.1:8181/wx/cb"
        );
        let c = config("listen = \"0.0.0.0:80\"");
        assert_eq!(
            callback_url(&c).unwrap().as_str(),
            "http://127.0.0.1/wechat"
        );
        let c = config("listen = \"[::]:8080\"");
        assert_eq!(
            callback_url(&c).unwrap().as_str(),
            "http://[::1]:8080/wechat"
        );
    }

    #[test]
    fn the_key_is_read_as_written() {
        let dir = std::env::temp_dir().join(format!("wxoa-sim-target-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path: PathBuf = dir.join("wxoa.toml");
        let key = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
        std::fs::write(&path, format!("[account]\nencoding_aes_key = \"{key}\"\n")).unwrap();
        let appid = "wx1234567890abcdef";
        let read = encoding_aes_key(&path, appid).unwrap();
        std::fs::write(&path, "[account]\nencoding_aes_key = \"\"\n").unwrap();
        let empty = encoding_aes_key(&path, appid).unwrap();
        std::fs::write(&path, "[account]\n").unwrap();
        let absent = encoding_aes_key(&path, appid).unwrap();
        std::fs::write(
            &path,
            format!(
                "[[accounts]]\nappid = \"wxfedcba0987654321\"\n\n[[accounts]]\nappid = \"{appid}\"\nencoding_aes_key = \"{key}\"\n"
            ),
        )
        .unwrap();
        let second = encoding_aes_key(&path, appid).unwrap();
        let first = encoding_aes_key(&path, "wxfedcba0987654321").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(second.as_deref(), Some(key));
        assert_eq!(first, None);
        // An override in this test process's environment would win, as it does for serve.
        if std::env::var_os("WXOA_ACCOUNT__ENCODING_AES_KEY").is_none() {
            assert_eq!(read.as_deref(), Some(key));
            assert_eq!(empty, None);
            assert_eq!(absent, None);
        }
    }
}
