//! Several accounts in one config: the `[[accounts]]` entries, their validation (names, paths,
//! rules and overrides) and the single-account views the rest of the server works with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use serde::Deserialize;
use wxoa_proto::crypto::{AesKey, MsgCrypt};

use super::{
    AccountConfig, Config, ConfigError, RawAccount, ServerConfig, check_callback_path,
    check_reply_deadline, key_message, lenient_string, looks_like_appid,
};
use crate::actions::Resources;
use crate::rules::{RuleSet, RuleSpec};

/// One `[[accounts]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccountEntry {
    #[serde(default, deserialize_with = "lenient_string")]
    name: String,
    #[serde(deserialize_with = "lenient_string")]
    appid: String,
    #[serde(default, deserialize_with = "lenient_string")]
    secret: String,
    /// The environment variable holding the AppSecret (`WXOA_ACCOUNT__SECRET` cannot reach an
    /// `[[accounts]]` entry).
    #[serde(default)]
    secret_env: String,
    #[serde(deserialize_with = "lenient_string")]
    token: String,
    #[serde(default, deserialize_with = "lenient_string")]
    encoding_aes_key: String,
    #[serde(default)]
    require_encryption: bool,
    /// The callback path; default `/wechat/{appid}`.
    #[serde(default)]
    path: String,
    /// `[[accounts.rules]]`: this account's own rules.
    #[serde(default)]
    rules: Option<Vec<RuleSpec>>,
    /// A TOML file of `[[rules]]` (relative to the config file) with this account's rules.
    #[serde(default)]
    rules_file: String,
    /// Overrides of `[server]` for this account.
    #[serde(default)]
    placeholder: Option<String>,
    #[serde(default)]
    reply_deadline_ms: Option<u64>,
    #[serde(default)]
    timestamp_skew_secs: Option<u64>,
}

/// One account, validated: its identity, callback path, server settings and rules.
#[derive(Debug, Clone)]
pub struct AccountEntry {
    /// Its identity and 服务器配置.
    pub account: AccountConfig,
    /// `[server]` with this account's callback `path` and its overrides (`placeholder`,
    /// `reply_deadline_ms`, `timestamp_skew_secs`).
    pub server: ServerConfig,
    /// Its rules as written.
    pub rule_specs: Vec<RuleSpec>,
    /// Its rules, compiled.
    pub rules: Arc<RuleSet>,
    /// The file its rules come from (the config file, or its `rules_file`).
    pub rules_source: PathBuf,
}

/// A rules file: `[[rules]]` only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

/// Validate `[account]` (`prefix` "account") or one `[[accounts]]` entry (`prefix`
/// "accounts[N]"), naming the key of the first problem.
pub(super) fn validate_account(
    a: RawAccount,
    name: Option<String>,
    prefix: &str,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<AccountConfig, ConfigError> {
    if !looks_like_appid(&a.appid) {
        return Err(invalid(
            &format!("{prefix}.appid"),
            format!(
                "must look like wx followed by 16 letters or digits (AppID in 设置与开发 → 基本配置), got {:?}",
                a.appid
            ),
        ));
    }
    if a.token.is_empty() {
        return Err(invalid(
            &format!("{prefix}.token"),
            "must be set to the Token of 服务器配置".to_owned(),
        ));
    }
    let crypt = if a.encoding_aes_key.is_empty() {
        None
    } else {
        let key = AesKey::from_encoding_aes_key(&a.encoding_aes_key)
            .map_err(|e| invalid(&format!("{prefix}.encoding_aes_key"), key_message(&e)))?;
        Some(MsgCrypt::from_key(key, &a.appid))
    };
    if a.require_encryption && crypt.is_none() {
        return Err(invalid(
            &format!("{prefix}.require_encryption"),
            format!("needs {prefix}.encoding_aes_key (安全模式 pushes are encrypted)"),
        ));
    }
    Ok(AccountConfig {
        name: name.unwrap_or_else(|| a.appid.clone()),
        appid: a.appid,
        secret: SecretString::from(a.secret),
        token: a.token,
        crypt,
        require_encryption: a.require_encryption,
    })
}

/// Whether `name` can be a `--account` value and a metrics label: 1–64 letters, digits, `-`
/// or `_`.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validate every `[[accounts]]` entry: each account alone, then names, AppIDs and paths
/// unique. An entry without `rules` or `rules_file` answers with the top-level `[[rules]]`.
pub(super) fn validate_entries(
    raw: Vec<RawAccountEntry>,
    shared_rules: &[RuleSpec],
    server: &ServerConfig,
    path: &Path,
    base_dir: &Path,
    resources: &Resources,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Vec<AccountEntry>, ConfigError> {
    let mut entries: Vec<AccountEntry> = Vec::with_capacity(raw.len());
    // (what, value) → the key that first had it.
    let mut seen: HashMap<(&'static str, String), String> = HashMap::new();
    for (i, e) in raw.into_iter().enumerate() {
        let prefix = format!("accounts[{}]", i + 1);
        let key = |field: &str| format!("{prefix}.{field}");
        let name = if e.name.is_empty() {
            None
        } else if valid_name(&e.name) {
            Some(e.name.clone())
        } else {
            return Err(invalid(
                &key("name"),
                format!(
                    "must be 1–64 letters, digits, - or _ (it is the --account value and the metrics label), got {:?}",
                    e.name
                ),
            ));
        };
        let secret = match (e.secret.is_empty(), e.secret_env.trim()) {
            (_, "") => e.secret,
            (true, var) => std::env::var(var).map_err(|_| {
                invalid(
                    &key("secret_env"),
                    format!("names {var}, which is not set in the environment"),
                )
            })?,
            (false, _) => {
                return Err(invalid(
                    &key("secret_env"),
                    "cannot be used together with secret: keep the AppSecret in one place"
                        .to_owned(),
                ));
            }
        };
        let account = validate_account(
            RawAccount {
                appid: e.appid,
                secret,
                token: e.token,
                encoding_aes_key: e.encoding_aes_key,
                require_encryption: e.require_encryption,
            },
            name,
            &prefix,
            invalid,
        )?;
        let callback_path = if e.path.is_empty() {
            format!("/wechat/{}", account.appid)
        } else {
            check_callback_path(&e.path).map_err(|m| invalid(&key("path"), m))?;
            e.path
        };
        for (what, value) in [
            ("name", account.name.clone()),
            ("appid", account.appid.clone()),
            ("path", callback_path.clone()),
        ] {
            let here = key(what);
            if let Some(first) = seen.insert((what, value.clone()), here.clone()) {
                return Err(invalid(
                    &here,
                    format!(
                        "{value:?} is already the {what} of {first}; each account needs its own"
                    ),
                ));
            }
        }
        let mut server = server.clone();
        server.path = callback_path;
        if let Some(placeholder) = e.placeholder {
            server.placeholder = placeholder;
        }
        if let Some(ms) = e.reply_deadline_ms {
            check_reply_deadline(ms).map_err(|m| invalid(&key("reply_deadline_ms"), m))?;
            server.reply_deadline_ms = ms;
        }
        if let Some(secs) = e.timestamp_skew_secs {
            server.timestamp_skew_secs = secs;
        }
        let (rule_specs, rules_source) = match (e.rules, e.rules_file.trim()) {
            (Some(_), file) if !file.is_empty() => {
                return Err(invalid(
                    &key("rules_file"),
                    "cannot be used together with [[accounts.rules]]: keep the rules in one place"
                        .to_owned(),
                ));
            }
            (Some(rules), _) => (rules, path.to_owned()),
            (None, "") => (shared_rules.to_vec(), path.to_owned()),
            (None, file) => {
                let file = base_dir.join(file);
                (read_rules_file(&file)?, file)
            }
        };
        let rules = RuleSet::compile_with(&rule_specs, &rules_source, resources)?;
        entries.push(AccountEntry {
            account,
            server,
            rule_specs,
            rules: Arc::new(rules),
            rules_source,
        });
    }
    Ok(entries)
}

/// The `[[rules]]` of a rules file.
fn read_rules_file(file: &Path) -> Result<Vec<RuleSpec>, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        path: file.to_owned(),
        source,
    })?;
    let parsed: RulesFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: file.to_owned(),
        message: e.to_string(),
    })?;
    Ok(parsed.rules)
}

impl Config {
    /// The accounts' names, in file order.
    #[must_use]
    pub fn account_names(&self) -> Vec<&str> {
        self.accounts
            .iter()
            .map(|e| e.account.name.as_str())
            .collect()
    }

    /// The config as one account sees it: `account`, `server` (its path and overrides),
    /// `rules` and `rule_specs` are that account's, and `accounts` holds only it.
    ///
    /// # Panics
    /// `index` is not below `accounts.len()`.
    #[must_use]
    pub fn for_account(&self, index: usize) -> Config {
        let entry = &self.accounts[index];
        Config {
            source: self.source.clone(),
            base_dir: self.base_dir.clone(),
            server: entry.server.clone(),
            account: entry.account.clone(),
            api: self.api.clone(),
            store: self.store.clone(),
            admin: self.admin.clone(),
            rule_specs: entry.rule_specs.clone(),
            rules: Arc::clone(&entry.rules),
            accounts: vec![entry.clone()],
            multi_account: self.multi_account,
            resources: self.resources.clone(),
        }
    }

    /// One single-account view (see [`Config::for_account`]) for every account, in file
    /// order.
    #[must_use]
    pub fn each_account(&self) -> Vec<Config> {
        (0..self.accounts.len())
            .map(|i| self.for_account(i))
            .collect()
    }

    /// The view of the account called `name`.
    ///
    /// # Errors
    /// No account has that name; the error lists the names there are.
    pub fn account_named(&self, name: &str) -> Result<Config, ConfigError> {
        match self.accounts.iter().position(|e| e.account.name == name) {
            Some(i) => Ok(self.for_account(i)),
            None => Err(ConfigError::NoSuchAccount {
                path: self.source.clone(),
                name: name.to_owned(),
                known: self.account_names().join(", "),
            }),
        }
    }

    /// The rules files the accounts read besides the config file (watched for reload).
    #[must_use]
    pub fn rules_files(&self) -> Vec<PathBuf> {
        self.accounts
            .iter()
            .filter(|e| e.rules_source != self.source)
            .map(|e| e.rules_source.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "wx1234567890abcdef";
    const B: &str = "wxfedcba0987654321";
    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("conf/wxoa.toml"))
    }

    fn two_accounts(extra_a: &str, extra_b: &str) -> String {
        format!(
            "[[rules]]\nname = \"shared\"\nkeyword = \"hi\"\nreply = {{ text = \"shared\" }}\n\n\
             [[accounts]]\nname = \"shop\"\nappid = \"{A}\"\ntoken = \"tokenA\"\n{extra_a}\n\n\
             [[accounts]]\nappid = \"{B}\"\ntoken = \"tokenB\"\nencoding_aes_key = \"{KEY}\"\n{extra_b}\n"
        )
    }

    #[test]
    fn the_single_account_form_is_one_account_named_by_its_appid() {
        let c = load(&format!("[account]\nappid = \"{A}\"\ntoken = \"t\"\n")).unwrap();
        assert!(!c.multi_account);
        assert_eq!(c.accounts.len(), 1);
        assert_eq!(c.account.name, A);
        assert_eq!(c.server.path, "/wechat");
        assert_eq!(c.accounts[0].server.path, "/wechat");
        assert_eq!(c.account_names(), vec![A]);
    }

    #[test]
    fn several_accounts_get_their_paths_names_and_rules() {
        let text = two_accounts(
            "placeholder = \"wait\"\nreply_deadline_ms = 3000\n[[accounts.rules]]\nname = \"own\"\nkeyword = \"x\"\nreply = { text = \"own\" }\n",
            "path = \"/cb/b\"",
        );
        let c = load(&text).unwrap();
        assert!(c.multi_account);
        assert_eq!(c.account_names(), vec!["shop", B]);
        let shop = &c.accounts[0];
        assert_eq!(shop.server.path, format!("/wechat/{A}"));
        assert_eq!(shop.server.placeholder, "wait");
        assert_eq!(shop.server.reply_deadline_ms, 3000);
        assert_eq!(shop.rules.len(), 1);
        assert_eq!(shop.rule_specs[0].name, "own");
        assert!(shop.account.crypt.is_none());
        let b = &c.accounts[1];
        assert_eq!(b.server.path, "/cb/b");
        assert_eq!(b.server.reply_deadline_ms, 4500);
        assert_eq!(b.rule_specs[0].name, "shared", "the top-level rules");
        assert!(b.account.crypt.is_some());
        // The first account is what single-account code sees.
        assert_eq!(c.account.appid, A);
        assert_eq!(c.server.path, format!("/wechat/{A}"));
        let view = c.account_named(B).unwrap();
        assert_eq!(view.account.appid, B);
        assert_eq!(view.server.path, "/cb/b");
        assert_eq!(view.rules.len(), 1);
        assert_eq!(view.accounts.len(), 1);
        let err = c.account_named("nope").unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("shop") && err.contains(B),
            "{err}"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure type
    fn secret_env_reads_the_appsecret_from_the_environment() {
        use secrecy::ExposeSecret as _;
        figment::Jail::expect_with(|jail| {
            jail.set_env("SHOP_APPSECRET", "fromtheenv");
            let c = load(&two_accounts("secret_env = \"SHOP_APPSECRET\"", ""))
                .map_err(|e| e.to_string())?;
            assert_eq!(c.accounts[0].account.secret.expose_secret(), "fromtheenv");
            assert_eq!(c.accounts[1].account.secret.expose_secret(), "");
            Ok(())
        });
    }

    #[test]
    fn a_rules_file_is_read_relative_to_the_config() {
        let dir = std::env::temp_dir().join(format!(
            "wxoa-accounts-rules-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(dir.join("rules")).unwrap();
        std::fs::write(
            dir.join("rules/b.toml"),
            "[[rules]]\nname = \"from-file\"\nkeyword = \"f\"\nreply = { text = \"file\" }\n",
        )
        .unwrap();
        let text = two_accounts("", "rules_file = \"rules/b.toml\"");
        let c = Config::from_toml(&text, &dir.join("wxoa.toml")).unwrap();
        assert_eq!(c.accounts[1].rule_specs[0].name, "from-file");
        assert_eq!(c.rules_files(), vec![dir.join("rules/b.toml")]);
        let missing = two_accounts("", "rules_file = \"rules/none.toml\"");
        let err = Config::from_toml(&missing, &dir.join("wxoa.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.toml"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mistakes_name_their_key() {
        for (text, needle) in [
            (
                format!(
                    "[account]\nappid = \"{A}\"\ntoken = \"t\"\n{}",
                    two_accounts("", "")
                ),
                "cannot be used together with [account]",
            ),
            (
                two_accounts(&format!("path = \"/wechat/{B}\""), ""),
                "accounts[2].path",
            ),
            (two_accounts("", "name = \"shop\""), "accounts[2].name"),
            (two_accounts("", "").replace(B, A), "accounts[2].appid"),
            (two_accounts("", "name = \"a b\""), "accounts[2].name"),
            (two_accounts("", "token = \"\""), "token"),
            (
                two_accounts("require_encryption = true", ""),
                "accounts[1].require_encryption",
            ),
            (two_accounts("path = \"nope\"", ""), "accounts[1].path"),
            (two_accounts("path = \"/a/{id}\"", ""), "accounts[1].path"),
            (
                two_accounts("reply_deadline_ms = 5", ""),
                "accounts[1].reply_deadline_ms",
            ),
            (
                two_accounts(
                    "rules_file = \"x.toml\"\n[[accounts.rules]]\nname = \"r\"\nkeyword = \"k\"\nreply = { text = \"t\" }",
                    "",
                ),
                "accounts[1].rules_file",
            ),
            (two_accounts("tokne = \"x\"", ""), "tokne"),
            (
                two_accounts("secret_env = \"WXOA_TEST_SURELY_UNSET_SECRET\"", ""),
                "accounts[1].secret_env",
            ),
            (
                two_accounts("secret = \"s\"\nsecret_env = \"HOME\"", ""),
                "accounts[1].secret_env",
            ),
            (
                format!("[server]\npath = \"/x\"\n{}", two_accounts("", "")),
                "server.path",
            ),
            ("[server]\n".to_owned(), "account"),
        ] {
            let err = load(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
