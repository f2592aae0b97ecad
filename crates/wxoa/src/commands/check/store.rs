//! The store: `store.url` opens and its schema matches this build; `store.redis_url`, when set,
//! answers.

use std::sync::Arc;
use std::time::Duration;

use wxoa_api::TokenStore;
use wxoa_server::Config;
use wxoa_store::{MigrationStatus, RedisStore, Store};

use super::report::Check;

/// How long opening the store may take before the check gives up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// `store`: connect without migrating and compare the applied migrations with this build's.
/// Returns the open store (for the token check) when it connected.
pub(crate) async fn sql(config: &Config) -> (Check, Option<Store>) {
    let opened = tokio::time::timeout(
        OPEN_TIMEOUT,
        Store::connect(&config.store.url, &config.base_dir),
    )
    .await;
    let store = match opened {
        Err(_) => {
            return (
                Check::fail(
                    "store",
                    format!(
                        "store.url {}: no connection within {} s",
                        wxoa_server::config::redact_url(&config.store.url),
                        OPEN_TIMEOUT.as_secs()
                    ),
                    "检查数据库服务器是否在运行、网络是否可达。",
                    "Check that the database server runs and can be reached from this host.",
                ),
                None,
            );
        }
        Ok(Err(e)) => {
            return (
                Check::fail(
                    "store",
                    e.to_string(),
                    "检查 store.url：SQLite 文件所在目录需可写；PostgreSQL 需服务器可达、用户名密码正确。",
                    "Check store.url: the SQLite file's directory must be writable; for PostgreSQL the server must be reachable and the credentials right.",
                ),
                None,
            );
        }
        Ok(Ok(store)) => store,
    };
    let check = match store.check_migrations().await {
        Ok(status) => migrations(store.url(), &status),
        Err(e) => Check::fail(
            "store",
            e.to_string(),
            "检查数据库用户是否有读取权限。",
            "Check that the database user may read the database.",
        ),
    };
    (check, Some(store))
}

/// The check for a migration status (pure).
pub(crate) fn migrations(url: &str, status: &MigrationStatus) -> Check {
    let versions = |v: &[i64]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !status.unknown.is_empty() {
        return Check::fail(
            "store",
            format!(
                "{url}: migrations {} were applied by a newer wxoa",
                versions(&status.unknown)
            ),
            "数据库已被更新版本的 wxoa 升级：请把本程序升级到同一版本。",
            "A newer wxoa has upgraded this database: upgrade this binary to that version.",
        );
    }
    if !status.failed.is_empty() || !status.modified.is_empty() {
        let mut problems = Vec::new();
        if !status.failed.is_empty() {
            problems.push(format!("failed part-way: {}", versions(&status.failed)));
        }
        if !status.modified.is_empty() {
            problems.push(format!(
                "applied with different SQL: {}",
                versions(&status.modified)
            ));
        }
        return Check::fail(
            "store",
            format!("{url}: migrations {}", problems.join("; ")),
            "数据库结构与本版本不一致：从备份恢复，或删除 SQLite 文件让 wxoa 重新建立（会丢失缓存的令牌和会话）。",
            "The database schema does not match this build: restore a backup, or delete the SQLite file so wxoa recreates it (cached tokens and sessions are lost).",
        );
    }
    if !status.pending.is_empty() {
        let pending: Vec<String> = status
            .pending
            .iter()
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        return Check::warn(
            "store",
            format!(
                "{url} opens; {} migrations not applied yet ({})",
                pending.len(),
                pending.join(", ")
            ),
            "wxoa 下次打开数据库时会自动执行这些迁移（例如 wxoa serve 或 wxoa token）；数据库用户需有建表权限。",
            "wxoa applies them the next time it opens the store (e.g. wxoa serve or wxoa token); the database user needs permission to create tables.",
        );
    }
    Check::ok(
        "store",
        format!(
            "{url} opens; migrations are current ({} applied)",
            status.applied.len()
        ),
    )
}

/// `redis`: `store.redis_url` answers. Returns its token store when it does.
pub(crate) async fn redis(config: &Config) -> (Option<Check>, Option<Arc<dyn TokenStore>>) {
    let Some(url) = &config.store.redis_url else {
        return (None, None);
    };
    match RedisStore::connect(url).await {
        Ok(redis) => {
            let redis = redis.with_prefix(&config.store.redis_prefix);
            (
                Some(Check::ok("redis", format!("{} answers", redis.url()))),
                Some(Arc::new(redis.token_store())),
            )
        }
        Err(e) => (
            Some(Check::fail(
                "redis",
                e.to_string(),
                "检查 Redis 是否在运行、store.redis_url 的主机、端口和密码。",
                "Check that Redis runs, and the host, port and password of store.redis_url.",
            )),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::Status;
    use super::*;

    #[tokio::test]
    async fn a_new_sqlite_file_has_pending_migrations_and_a_migrated_one_is_current() {
        let dir = std::env::temp_dir().join(format!("wxoa-check-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = "sqlite://data/check.db";
        let text = format!(
            "[account]\nappid = \"wx1234567890abcdef\"\ntoken = \"abc\"\n[store]\nurl = \"{url}\"\n"
        );
        let config = Config::from_toml(&text, &dir.join("wxoa.toml")).unwrap();
        let (check, store) = sql(&config).await;
        assert_eq!(check.status, Status::Warn, "{}", check.detail);
        assert!(check.detail.contains("not applied yet"), "{}", check.detail);
        let store = store.unwrap();
        store.migrate().await.unwrap();
        store.close().await;
        let (check, store) = sql(&config).await;
        assert_eq!(check.status, Status::Ok, "{}", check.detail);
        assert!(check.detail.contains("current"), "{}", check.detail);
        store.unwrap().close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_migrations_mean_a_newer_build() {
        let mut status = MigrationStatus::default();
        status.unknown = vec![99];
        let c = migrations("sqlite://x", &status);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("99"), "{}", c.detail);
    }
}
