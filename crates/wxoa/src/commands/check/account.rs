//! The offline checks: the config parses, and the values typed into the platform's
//! 基本配置 / 服务器配置 (AppID, Token, EncodingAESKey) and the rules are each well-formed.
//!
//! The values are read from a lenient view of the file (with the same `WXOA_<SECTION>__<KEY>`
//! overrides as [`Config::load`]) so that every one of them is checked even when the config as
//! a whole fails on the first bad key.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use wxoa_proto::crypto::AesKey;
use wxoa_server::Config;
use wxoa_server::config::{ConfigError, token_has_platform_form};
use wxoa_server::rules::{RuleSet, RuleSpec};

use super::report::Check;

/// The config file merged with its environment overrides, without validation.
#[derive(Debug)]
pub(crate) struct RawView {
    figment: Figment,
}

impl RawView {
    /// The TOML text as [`Config::load`] sees it (same environment overrides).
    pub(crate) fn new(text: &str) -> Self {
        let env = Env::prefixed("WXOA_")
            .filter(|key| key.as_str().contains("__"))
            .split("__");
        Self {
            figment: Figment::from(Toml::string(text)).merge(env),
        }
    }

    /// The value at a dotted `key` as text (numbers and booleans written where text was meant
    /// are accepted, as the config does); `None` when absent or not a scalar.
    pub(crate) fn string(&self, key: &str) -> Option<String> {
        match self.figment.extract_inner::<serde_json::Value>(key).ok()? {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The `[[rules]]`, or why they do not deserialize.
    fn rules(&self) -> Result<Vec<RuleSpec>, String> {
        if !self.has("rules") {
            return Ok(Vec::new());
        }
        self.figment
            .extract_inner::<Vec<RuleSpec>>("rules")
            .map_err(|e| e.to_string())
    }

    /// One view per `[[accounts]]` entry, named by its `name` (else its `appid`, else its
    /// position), in which the entry reads as `[account]`; empty for the `[account]` form.
    pub(crate) fn accounts(&self) -> Vec<(String, RawView)> {
        let Ok(entries) = self
            .figment
            .extract_inner::<Vec<serde_json::Value>>("accounts")
        else {
            return Vec::new();
        };
        entries
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let text = |key: &str| {
                    entry
                        .get(key)
                        .and_then(serde_json::Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                let name = text("name")
                    .or_else(|| text("appid"))
                    .unwrap_or_else(|| format!("#{}", i + 1));
                let view = RawView {
                    figment: Figment::from(figment::providers::Serialized::defaults(
                        serde_json::json!({ "account": entry }),
                    )),
                };
                (name, view)
            })
            .collect()
    }

    /// Whether the top-level `key` is present.
    fn has(&self, key: &str) -> bool {
        self.figment.find_value(key).is_ok()
    }

    /// Whether the file parses as TOML at all.
    fn parses(&self) -> bool {
        self.figment
            .extract::<serde_json::Value>()
            .is_ok_and(|v| v.is_object())
    }
}

/// `config`: the whole config loads.
pub(crate) fn config(path: &Path, loaded: &Result<Config, ConfigError>) -> Check {
    match loaded {
        Ok(config) => Check::ok(
            "config",
            format!(
                "{} loads ({} rules, callback path {})",
                path.display(),
                config.rules.len(),
                config.server.path
            ),
        ),
        Err(e) => Check::fail(
            "config",
            e.to_string(),
            "按错误信息修改所指的键（也可能来自 WXOA_<节>__<键> 环境变量）；键名拼写见 README 的配置表。",
            "Fix the key the error names (it may come from a WXOA_<SECTION>__<KEY> environment variable); see the configuration table in the README for the spelling of every key.",
        ),
    }
}

/// `token`: the Token of 服务器配置 has the form the platform accepts.
pub(crate) fn token(raw: &RawView) -> Check {
    let Some(token) = raw.string("account.token") else {
        return missing("token", "account.token");
    };
    if token_has_platform_form(&token) {
        return Check::ok(
            "token",
            format!(
                "account.token has {} letters/digits (the platform accepts 3–32)",
                token.len()
            ),
        );
    }
    let why = if token.is_empty() {
        "account.token is empty".to_owned()
    } else if !(3..=32).contains(&token.chars().count()) {
        format!(
            "account.token has {} characters; the platform accepts 3–32",
            token.chars().count()
        )
    } else {
        let bad: String = token
            .chars()
            .filter(|c| !c.is_ascii_alphanumeric())
            .take(5)
            .collect();
        format!("account.token contains {bad:?}; the platform accepts only letters and digits")
    };
    Check::fail(
        "token",
        why,
        "在 服务器配置 中，Token 只能是 3–32 位英文字母或数字：修改 account.token，并在平台上填入完全相同的值。",
        "The Token of 服务器配置 (server configuration) must be 3–32 letters or digits: change account.token and enter exactly the same value on the platform.",
    )
}

/// `encoding_aes_key`: the EncodingAESKey decodes to a 32-byte AES key, or is empty (明文 only).
pub(crate) fn encoding_aes_key(raw: &RawView) -> Check {
    let key = raw.string("account.encoding_aes_key").unwrap_or_default();
    if key.is_empty() {
        return Check::warn(
            "encoding_aes_key",
            "account.encoding_aes_key is empty: only 明文 (plaintext) pushes can be read",
            "若 消息加解密方式 选了 兼容模式 或 安全模式，请把平台上的 EncodingAESKey（43 位）填入 account.encoding_aes_key；只用明文模式可忽略。",
            "If 消息加解密方式 (encryption mode) is 兼容 (compatible) or 安全 (safe), copy the platform's 43-character EncodingAESKey into account.encoding_aes_key; ignore this for plaintext mode.",
        );
    }
    match AesKey::from_encoding_aes_key(&key) {
        Ok(_) => Check::ok(
            "encoding_aes_key",
            "account.encoding_aes_key decodes to a 32-byte AES key (明文, 兼容 and 安全 all work)",
        ),
        Err(e) => Check::fail(
            "encoding_aes_key",
            format!("account.encoding_aes_key: {e}"),
            "在 服务器配置 中点 随机生成 或复制现有的 EncodingAESKey（43 位字母数字，不含空格和末尾的 =），原样填入 account.encoding_aes_key。",
            "Press 随机生成 (generate) in 服务器配置 or copy the existing EncodingAESKey (43 letters/digits, no spaces, no trailing '=') into account.encoding_aes_key as is.",
        ),
    }
}

/// `appid`: the AppID looks like one (`wx` + 16 letters or digits).
pub(crate) fn appid(raw: &RawView) -> Check {
    let Some(appid) = raw.string("account.appid") else {
        return missing("appid", "account.appid");
    };
    let shape_ok = appid.len() == 18
        && appid.starts_with("wx")
        && appid[2..].bytes().all(|b| b.is_ascii_alphanumeric());
    if shape_ok {
        return Check::ok(
            "appid",
            format!("account.appid {appid} looks like an AppID"),
        );
    }
    let why = if appid.starts_with("gh_") {
        format!("account.appid {appid:?} is the 原始ID (original ID), not the AppID")
    } else {
        format!("account.appid {appid:?} is not wx followed by 16 letters or digits")
    };
    Check::fail(
        "appid",
        why,
        "在 公众号后台 → 设置与开发 → 基本配置 复制 开发者ID(AppID)（wx 开头，共 18 位），填入 account.appid。",
        "Copy the 开发者ID (AppID, 18 characters starting with wx) from 公众号后台 → 设置与开发 → 基本配置 (Settings and Development → Basic Configuration) into account.appid.",
    )
}

/// `rules`: the `[[rules]]` compile (regexes, templates, required reply fields).
pub(crate) fn rules(path: &Path, raw: &RawView, loaded: &Result<Config, ConfigError>) -> Check {
    let fix_zh =
        "按错误信息修改所指规则的字段（规则从 1 开始编号）；改好后可用 `wxoa rules test` 试运行。";
    let fix_en = "Fix the field of the rule the error names (rules are numbered from 1); try it with `wxoa rules test`.";
    let compiled = match loaded {
        Ok(config) => Ok(config.rules.len()),
        Err(ConfigError::Rules(e)) => Err(e.to_string()),
        Err(_) => match raw.rules() {
            Ok(specs) => match RuleSet::compile(&specs, path) {
                Ok(set) => Ok(set.len()),
                // Compiled here without the config's [[tables]] and [script]: a rule that
                // needs them cannot be judged until the config loads.
                Err(_) if raw.has("tables") || raw.has("script") => {
                    return Check::skip(
                        "rules",
                        "not checked: they use [[tables]] or [script] and the config does not load",
                    );
                }
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!("the rules do not parse: {e}")),
        },
    };
    match compiled {
        Ok(0) => Check::warn(
            "rules",
            "no [[rules]]: every message is answered with nothing (success)",
            "在配置中添加 [[rules]]（例子见随附的 wxoa.toml）。",
            "Add [[rules]] to the config (the shipped wxoa.toml has examples).",
        ),
        Ok(1) => Check::ok("rules", "1 rule compiles"),
        Ok(n) => Check::ok("rules", format!("{n} rules compile")),
        Err(e) => Check::fail("rules", e, fix_zh, fix_en),
    }
}

/// `rules` of one of several accounts: its rules compile.
pub(crate) fn account_rules(name: &str, loaded: &Result<Config, ConfigError>) -> Check {
    match loaded {
        Ok(config) => match config.account_named(name) {
            Ok(view) => match view.rules.len() {
                0 => Check::warn(
                    "rules",
                    "no rules: every message is answered with nothing (success)",
                    "为该账号添加 [[accounts.rules]] 或 rules_file，或在顶层写 [[rules]] 供所有账号共用。",
                    "Give the account [[accounts.rules]] or a rules_file, or write top-level [[rules]] that every account without its own uses.",
                ),
                1 => Check::ok("rules", "1 rule compiles"),
                n => Check::ok("rules", format!("{n} rules compile")),
            },
            Err(e) => Check::fail(
                "rules",
                e.to_string(),
                "用 --account 指定配置中存在的账号名。",
                "Name an account of the config with --account.",
            ),
        },
        Err(ConfigError::Rules(e)) => Check::fail(
            "rules",
            e.to_string(),
            "按错误信息修改所指规则的字段（规则从 1 开始编号）；改好后可用 `wxoa rules test --account NAME` 试运行。",
            "Fix the field of the rule the error names (rules are numbered from 1); try it with `wxoa rules test --account NAME`.",
        ),
        Err(_) => Check::skip("rules", "the config does not load; fix it first"),
    }
}

/// Checks that cannot run because the file does not parse as TOML.
pub(crate) fn unparsable(raw: &RawView) -> bool {
    !raw.parses()
}

fn missing(name: &'static str, key: &str) -> Check {
    Check::fail(
        name,
        format!("{key} is not set"),
        format!("在配置的 [account] 中设置 {key}。"),
        format!("Set {key} in the [account] section of the config."),
    )
}

#[cfg(test)]
mod tests {
    use super::super::report::Status;
    use super::*;

    fn view(account: &str) -> RawView {
        RawView::new(&format!("[account]\n{account}\n"))
    }

    #[test]
    fn token_form() {
        assert_eq!(token(&view("token = \"abc123\"")).status, Status::Ok);
        let c = token(&view("token = \"change-me\""));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("\"-\""), "{}", c.detail);
        let c = token(&view("token = \"ab\""));
        assert!(c.detail.contains("2 characters"), "{}", c.detail);
        assert_eq!(token(&view("")).status, Status::Fail);
        // A numeric token (as an environment override would give) is text.
        assert_eq!(token(&view("token = 123456")).status, Status::Ok);
    }

    #[test]
    fn aes_key_empty_is_a_warning_and_bad_is_a_failure() {
        assert_eq!(encoding_aes_key(&view("")).status, Status::Warn);
        let good = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
        assert_eq!(
            encoding_aes_key(&view(&format!("encoding_aes_key = \"{good}\""))).status,
            Status::Ok
        );
        let c = encoding_aes_key(&view(&format!("encoding_aes_key = \"{}\"", &good[..42])));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("42"), "{}", c.detail);
    }

    #[test]
    fn appid_shape() {
        assert_eq!(
            appid(&view("appid = \"wx1234567890abcdef\"")).status,
            Status::Ok
        );
        let c = appid(&view("appid = \"gh_1234567890ab\""));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("原始ID"), "{}", c.detail);
        assert_eq!(appid(&view("appid = \"wx123\"")).status, Status::Fail);
        assert_eq!(appid(&view("")).status, Status::Fail);
    }

    #[test]
    fn rules_are_compiled_even_when_the_config_fails_elsewhere() {
        let text = "[account]\nappid = \"bad\"\ntoken = \"abc\"\n[[rules]]\nname = \"r\"\nregex = \"(\"\nreply = { text = \"x\" }\n";
        let path = Path::new("wxoa.toml");
        let loaded = Config::from_toml(text, path);
        assert!(loaded.is_err());
        let c = rules(path, &RawView::new(text), &loaded);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("regex"), "{}", c.detail);

        let text = "[account]\nappid = \"bad\"\ntoken = \"abc\"\n[[rules]]\nname = \"r\"\nkeyword = \"x\"\nreply = { text = \"y\" }\n";
        let c = rules(path, &RawView::new(text), &Config::from_toml(text, path));
        assert_eq!(c.status, Status::Ok, "{}", c.detail);
        assert_eq!(c.detail, "1 rule compiles");
    }

    #[test]
    fn broken_toml_is_detected() {
        assert!(unparsable(&RawView::new("[account\nappid = ")));
        assert!(!unparsable(&view("appid = \"x\"")));
    }
}
