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
        let account = validate_account(
            RawAccount {
                appid: e.appid,
                secret: e.secret,
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
            server: entry.server.clone(),
            account: entry.account.clone(),
            rule_specs: entry.rule_specs.clone(),
            rules: Arc::clone(&entry.rules),
            accounts: vec![entry.clone()],
            ..self.clone()
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
