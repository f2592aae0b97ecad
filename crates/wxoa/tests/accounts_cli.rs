//! Several accounts from the command line: `--account NAME` choosing which account `wxoa
//! token` acts for against `wxoa mock` (which serves every AppID of the config, each with its
//! own tokens, kept apart in one SQLite store), `wxoa check` with a section per account, and
//! `wxoa serve` answering each account's pushes with its own rules.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use support::{Process, Server, TempDir, free_port, start_mock, wxoa_command};

const APPID_SHOP: &str = "wx1111111111111111";
const APPID_NEWS: &str = "wx2222222222222222";
const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

/// Two accounts: `shop` in 明文 mode and `news` in 安全 mode, each with its own rules.
fn config(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("wxoa.toml");
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:0"

[store]
url = "sqlite://data/wxoa.db"

[[accounts]]
name = "shop"
appid = "{APPID_SHOP}"
secret = "shopsecret"
token = "shoptoken"

[[accounts.rules]]
name = "hi"
keyword = "hi"
reply = {{ text = "shop says hi" }}

[[accounts]]
name = "news"
appid = "{APPID_NEWS}"
secret = "newssecret"
token = "newstoken"
encoding_aes_key = "{AES_KEY}"

[[accounts.rules]]
name = "hi"
keyword = "hi"
reply = {{ text = "news says hi" }}
"#,
        port = free_port()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// `wxoa mock` (with `extra` arguments) on a free port: the process and its base URL.
fn mock(config: &Path, extra: &[&str]) -> (Process, String, String) {
    let (proc, base) = start_mock(config, extra);
    proc.wait_for_line("Ctrl-C stops the mock");
    let intro = proc.output();
    (proc, base, intro)
}

/// Another `wxoa` command against the mock at `base`.
fn wxoa(args: &[&str], config: &Path, base: &str) -> Output {
    wxoa_command(args, config)
        .env("WXOA_API__BASE_URL", base)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run wxoa")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn http(method: &str, url: &str, body: Option<Value>) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let request = match method {
            "GET" => client.get(url),
            _ => client.post(url).json(&body.unwrap_or(Value::Null)),
        };
        let response = request.send().await.expect("request");
        assert!(
            response.status().is_success(),
            "{method} {url}: {response:?}"
        );
        response.json::<Value>().await.expect("JSON answer")
    })
}

#[test]
fn account_chooses_whose_token_and_tokens_never_mix() {
    let dir = TempDir::new("accounts-cli-token");
    let config = config(&dir);
    let (_mock, base, intro) = mock(&config, &[]);
    assert!(
        intro.contains(APPID_SHOP) && intro.contains(APPID_NEWS),
        "{intro}"
    );

    let out = wxoa(&["token"], &config, &base);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("several accounts") && err.contains("shop, news") && err.contains("--account"),
        "{err}"
    );
    let out = wxoa(&["token", "--account", "nope"], &config, &base);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.contains("shop, news"), "{err}");

    let shop = wxoa(&["token", "--account", "shop"], &config, &base);
    assert!(shop.status.success(), "{shop:?}");
    let news = wxoa(&["token", "--account", "news"], &config, &base);
    assert!(news.status.success(), "{news:?}");
    let (shop, news) = (stdout(&shop), stdout(&news));
    assert!(!shop.is_empty() && !news.is_empty());
    assert_ne!(shop, news, "each account has its own token");
    // From the shared store, each account gets its own token back.
    for (name, token) in [("shop", &shop), ("news", &news)] {
        let again = wxoa(&["token", "--account", name], &config, &base);
        assert_eq!(&stdout(&again), token, "{name}: {again:?}");
    }
    let stats = http("GET", &format!("{base}/mock/stats"), None);
    assert_eq!(stats["token_fetches"]["issued"], 2, "{stats}");

    // `wxoa check`: the shared checks, then one section per account.
    let out = wxoa(&["check", "--json"], &config, &base);
    let checks: Value = serde_json::from_slice(&out.stdout).expect("JSON checks");
    let checks = checks.as_array().expect("an array");
    for name in ["shop", "news"] {
        let token = checks
            .iter()
            .find(|c| c["account"] == name && c["name"] == "access_token")
            .unwrap_or_else(|| panic!("no access_token check for {name}: {checks:?}"));
        assert_eq!(token["status"], "ok", "{token}");
        assert!(
            checks
                .iter()
                .any(|c| c["account"] == name && c["name"] == "rules" && c["status"] == "ok"),
            "{checks:?}"
        );
    }
    let text = stdout(&wxoa(&["check", "--account", "news"], &config, &base));
    assert!(text.contains("[account news]"), "{text}");
    assert!(!text.contains("[account shop]"), "{text}");
}

#[test]
fn serve_answers_each_accounts_pushes_with_its_rules() {
    let dir = TempDir::new("accounts-cli-serve");
    let config = config(&dir);
    let server = Server::start(&config, None);
    // One mock pushes as the first account, another as the one --account names.
    let (_shop_mock, shop_base, shop_intro) = mock(&config, &[]);
    assert!(
        shop_intro.contains(&format!("/wechat/{APPID_SHOP}")),
        "{shop_intro}"
    );
    let (_news_mock, news_base, news_intro) = mock(&config, &["--account", "news"]);
    assert!(
        news_intro.contains(&format!("/wechat/{APPID_NEWS}")),
        "{news_intro}"
    );
    for (base, mode, expected) in [
        (&shop_base, "plain", "shop says hi"),
        (&news_base, "safe", "news says hi"),
    ] {
        let delivery = http(
            "POST",
            &format!("{base}/mock/push"),
            Some(json!({"text": "hi", "mode": mode, "from": "oPusher"})),
        );
        assert_eq!(delivery["outcome"]["sees"], "reply", "{delivery}");
        assert_eq!(
            delivery["outcome"]["reply"]["content"],
            expected,
            "{delivery}\n{}",
            server.output()
        );
    }
}
