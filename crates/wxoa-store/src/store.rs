//! Opening the SQL store at `store.url`, running its embedded migrations and checking them.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgConnection};

use crate::dsn::{self, SqlDsn};
use crate::error::StoreOpenError;
use crate::sql::{
    Db, SqlAudit, SqlDashboard, SqlDedup, SqlFollowerDirectory, SqlFollowers, SqlMessageLog,
    SqlMessageSearch, SqlParking, SqlSessions, SqlTokenStore,
};

/// How long a SQLite statement waits for another process's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per process on SQLite (one writer at a time anyway; a few for concurrent reads).
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// Each SQLite connection's page cache, in KiB (negative: SQLite's unit for a size): 512 KiB
/// rather than SQLite's 2 MiB. The message log appends and the console reads recent rows by
/// index; the operating system caches the file's pages either way.
const SQLITE_CACHE_SIZE: &str = "-512";
/// Connections per process on PostgreSQL.
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// How long a caller waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at connecting to or migrating a SQLite file that other processes are opening too.
const SQLITE_OPEN_ATTEMPTS: u32 = 8;

/// A row of `_sqlx_migrations`: version, checksum, success.
type AppliedRow = (i64, Vec<u8>, bool);

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The SQL database behind `store.url`: SQLite (the default) or PostgreSQL.
///
/// Cheap to clone (a connection pool). Hand out per-concept stores with
/// [`Store::token_store`], [`Store::dedup`], [`Store::sessions`], [`Store::parking`],
/// [`Store::message_log`] and [`Store::followers`].
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// The URL for messages: password redacted, SQLite paths resolved.
    url: Arc<str>,
}

/// Which SQL database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// An SQLite file (or memory) on this host.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Store {
    /// Opens the store at `url` and brings its schema up to date.
    ///
    /// - `sqlite://PATH`: PATH relative to `base_dir` (normally the config file's directory) or
    ///   absolute (`sqlite:///var/lib/wxoa/wxoa.db`). Missing parent directories and the file are
    ///   created; the database uses WAL, a 5 s busy timeout and foreign keys, so many processes
    ///   on the host can share it. `sqlite::memory:` gives a private in-memory database.
    /// - `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?options]` (or `postgresql://`).
    ///
    /// Safe to call from many processes at once: concurrent migrations of one SQLite file are
    /// retried, PostgreSQL serialises them with an advisory lock.
    ///
    /// # Errors
    ///
    /// [`StoreOpenError`] naming the URL (password redacted) when the URL is invalid, the
    /// directory cannot be created, the database cannot be reached, or a migration fails
    /// (including a database already migrated by a newer wxoa).
    pub async fn open(url: &str, base_dir: &Path) -> Result<Self, StoreOpenError> {
        let store = Self::connect(url, base_dir).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects like [`Store::open`] but does not run migrations (for `wxoa check`, which only
    /// reports them with [`Store::check_migrations`]). A SQLite file is still created if missing.
    ///
    /// # Errors
    ///
    /// As [`Store::open`], without the migration errors.
    pub async fn connect(url: &str, base_dir: &Path) -> Result<Self, StoreOpenError> {
        let shown = dsn::redact(url.trim());
        let parsed = dsn::parse_sql(url, base_dir).map_err(|e| StoreOpenError::InvalidUrl {
            url: shown.clone(),
            reason: e.0,
        })?;
        match parsed {
            SqlDsn::SqliteFile { path, relative } => {
                let shown = if relative {
                    format!("{shown} ({})", path.display())
                } else {
                    shown
                };
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir).await.map_err(|source| {
                        StoreOpenError::CreateDir {
                            url: shown.clone(),
                            dir: dir.to_path_buf(),
                            source,
                        }
                    })?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
                    .pragma("cache_size", SQLITE_CACHE_SIZE);
                let pool = connect_sqlite_file(options).await.map_err(|source| {
                    StoreOpenError::Connect {
                        url: shown.clone(),
                        source,
                    }
                })?;
                Ok(Self {
                    db: Db::Sqlite(pool),
                    url: shown.into(),
                })
            }
            SqlDsn::SqliteMemory => {
                let options = SqliteConnectOptions::new()
                    .in_memory(true)
                    .foreign_keys(true);
                // One connection that never closes: each connection would see its own database.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(|source| StoreOpenError::Connect {
                        url: shown.clone(),
                        source,
                    })?;
                Ok(Self {
                    db: Db::Sqlite(pool),
                    url: shown.into(),
                })
            }
            SqlDsn::Postgres(raw) => {
                let options =
                    PgConnectOptions::from_str(&raw).map_err(|e| StoreOpenError::InvalidUrl {
                        url: shown.clone(),
                        reason: e.to_string(),
                    })?;
                // One direct attempt first: the pool would keep retrying a refused or
                // unresolvable server until its acquire timeout, hiding the cause for seconds.
                let probe = PgConnection::connect_with(&options)
                    .await
                    .map_err(|source| StoreOpenError::Connect {
                        url: shown.clone(),
                        source,
                    })?;
                // Closing the probe is best effort; the pool opens its own connections.
                let _ = probe.close().await;
                let pool = PgPoolOptions::new()
                    .max_connections(POSTGRES_MAX_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(|source| StoreOpenError::Connect {
                        url: shown.clone(),
                        source,
                    })?;
                Ok(Self {
                    db: Db::Postgres(pool),
                    url: shown.into(),
                })
            }
        }
    }

    /// Applies the embedded migrations that are not applied yet.
    ///
    /// # Errors
    ///
    /// [`StoreOpenError::Migrate`] when a migration fails or the database holds migrations this
    /// build does not know (or knows with different SQL).
    pub async fn migrate(&self) -> Result<(), StoreOpenError> {
        let result = match &self.db {
            Db::Sqlite(pool) => {
                // SQLite has no migration lock: processes opening a new file at once race to
                // apply the same migration. Each migration is one transaction, so the losers
                // fail cleanly (busy, or "table already exists"); running again finds it done.
                let mut attempt = 1;
                loop {
                    match SQLITE_MIGRATOR.run(pool).await {
                        Err(e) if attempt < SQLITE_OPEN_ATTEMPTS && is_retryable_migration(&e) => {
                            tracing::debug!(error = %e, attempt, "retrying SQLite migrations");
                            backoff(attempt).await;
                            attempt += 1;
                        }
                        other => break other,
                    }
                }
            }
            Db::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await,
        };
        result.map_err(|source| StoreOpenError::Migrate {
            url: self.url.to_string(),
            source,
        })
    }

    /// Compares the migrations applied to the database with those embedded in this build.
    ///
    /// # Errors
    ///
    /// [`StoreOpenError::Inspect`] when the migration table cannot be read.
    pub async fn check_migrations(&self) -> Result<MigrationStatus, StoreOpenError> {
        let inspect = |source| StoreOpenError::Inspect {
            url: self.url.to_string(),
            source,
        };
        let (migrator, applied): (&Migrator, Vec<AppliedRow>) = match &self.db {
            Db::Sqlite(pool) => {
                let exists: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_one(pool)
                .await
                .map_err(inspect)?;
                let rows = if exists > 0 {
                    sqlx::query_as(
                        "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version",
                    )
                    .fetch_all(pool)
                    .await
                    .map_err(inspect)?
                } else {
                    Vec::new()
                };
                (&SQLITE_MIGRATOR, rows)
            }
            Db::Postgres(pool) => {
                let exists: bool =
                    sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                        .fetch_one(pool)
                        .await
                        .map_err(inspect)?;
                let rows = if exists {
                    sqlx::query_as(
                        "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version",
                    )
                    .fetch_all(pool)
                    .await
                    .map_err(inspect)?
                } else {
                    Vec::new()
                };
                (&POSTGRES_MIGRATOR, rows)
            }
        };
        Ok(MigrationStatus::compare(migrator, &applied))
    }

    /// The token store (access_token / jsapi_ticket cache, refresh lock, fetch counter) in this
    /// database.
    #[must_use]
    pub fn token_store(&self) -> SqlTokenStore {
        SqlTokenStore::new(self.db.clone())
    }

    /// Dedup and coalescing of pushes shared by every process on this database (the `dedup`
    /// table): what lets concurrent CGI processes handle a push once.
    #[must_use]
    pub fn dedup(&self) -> SqlDedup {
        SqlDedup::new(self.db.clone())
    }

    /// Per-follower sessions (the `sessions` table), expiring 30 days after their last save
    /// ([`SqlSessions::with_ttl`] changes that).
    #[must_use]
    pub fn sessions(&self) -> SqlSessions {
        SqlSessions::new(self.db.clone())
    }

    /// Results parked for the follower's next message (the `parked` table), kept 48 hours
    /// ([`SqlParking::with_max_age`] changes that).
    #[must_use]
    pub fn parking(&self) -> SqlParking {
        SqlParking::new(self.db.clone())
    }

    /// The message log (the `message_log` table).
    #[must_use]
    pub fn message_log(&self) -> SqlMessageLog {
        SqlMessageLog::new(self.db.clone())
    }

    /// Followers' subscribe/unsubscribe timeline and state (`follower_events`, `followers`).
    #[must_use]
    pub fn followers(&self) -> SqlFollowers {
        SqlFollowers::new(self.db.clone())
    }

    /// Searching the message log (the console's message view).
    #[must_use]
    pub fn message_search(&self) -> SqlMessageSearch {
        SqlMessageSearch::new(self.db.clone())
    }

    /// The dashboard's aggregates over the message log.
    #[must_use]
    pub fn dashboard(&self) -> SqlDashboard {
        SqlDashboard::new(self.db.clone())
    }

    /// The followers as the console lists and annotates them.
    #[must_use]
    pub fn follower_directory(&self) -> SqlFollowerDirectory {
        SqlFollowerDirectory::new(self.db.clone())
    }

    /// The audit trail of console changes (the `audit` table).
    #[must_use]
    pub fn audit(&self) -> SqlAudit {
        SqlAudit::new(self.db.clone())
    }

    /// Which database this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The store URL for messages: password replaced by `***`, a relative SQLite path followed
    /// by the file it resolved to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes every pooled connection (SQLite checkpoints its WAL); later calls fail.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// How the database's applied migrations compare with this build's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationStatus {
    /// Versions applied and known to this build, ascending.
    pub applied: Vec<i64>,
    /// Migrations of this build not applied yet ([`Store::migrate`] applies them).
    pub pending: Vec<PendingMigration>,
    /// Versions applied by another build that this one does not know (a newer wxoa migrated
    /// the database: upgrade this binary).
    pub unknown: Vec<i64>,
    /// Versions applied with SQL different from this build's (edited after release).
    pub modified: Vec<i64>,
    /// Versions recorded as failed (partially applied).
    pub failed: Vec<i64>,
}

/// A migration of this build that the database has not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMigration {
    /// Its version (the number prefix of the migration file).
    pub version: i64,
    /// Its description (the rest of the file name).
    pub description: String,
}

impl MigrationStatus {
    /// Whether the database is exactly at this build's schema: nothing pending, unknown,
    /// modified or failed.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
            && self.unknown.is_empty()
            && self.modified.is_empty()
            && self.failed.is_empty()
    }

    fn compare(migrator: &Migrator, applied: &[AppliedRow]) -> Self {
        let mut status = Self::default();
        let known: HashMap<i64, &[u8]> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, &*m.checksum))
            .collect();
        for (version, checksum, success) in applied {
            if !success {
                status.failed.push(*version);
            }
            match known.get(version) {
                None => status.unknown.push(*version),
                Some(expected) if *expected != checksum.as_slice() => {
                    status.modified.push(*version);
                }
                Some(_) => status.applied.push(*version),
            }
        }
        for migration in migrator.iter() {
            if !migration.migration_type.is_down_migration()
                && !applied.iter().any(|(v, _, _)| *v == migration.version)
            {
                status.pending.push(PendingMigration {
                    version: migration.version,
                    description: migration.description.to_string(),
                });
            }
        }
        status
    }
}

impl fmt::Display for MigrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_current() {
            return write!(
                f,
                "schema current ({} migrations applied)",
                self.applied.len()
            );
        }
        let mut parts = Vec::new();
        if !self.pending.is_empty() {
            let names: Vec<String> = self
                .pending
                .iter()
                .map(|m| format!("{} {}", m.version, m.description))
                .collect();
            parts.push(format!("pending: {}", names.join(", ")));
        }
        if !self.unknown.is_empty() {
            parts.push(format!(
                "applied by a newer wxoa: {:?} (upgrade this binary)",
                self.unknown
            ));
        }
        if !self.modified.is_empty() {
            parts.push(format!("changed since applied: {:?}", self.modified));
        }
        if !self.failed.is_empty() {
            parts.push(format!("failed: {:?}", self.failed));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Connects a pool to a SQLite file, retrying while other processes hold the file's lock
/// (switching a new file to WAL needs it briefly).
async fn connect_sqlite_file(
    options: SqliteConnectOptions,
) -> Result<sqlx::SqlitePool, sqlx::Error> {
    let mut attempt = 1;
    loop {
        let result = SqlitePoolOptions::new()
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await;
        match result {
            Err(e) if attempt < SQLITE_OPEN_ATTEMPTS && is_sqlite_busy(&e) => {
                tracing::debug!(error = %e, attempt, "SQLite file busy while connecting, retrying");
                backoff(attempt).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Whether a migration failure may be another process migrating the same file.
fn is_retryable_migration(e: &MigrateError) -> bool {
    matches!(
        e,
        MigrateError::Execute(_) | MigrateError::ExecuteMigration(..)
    )
}

/// SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): another connection holds the lock.
fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        _ => false,
    }
}

/// A short randomised pause before retrying, growing with the attempt.
async fn backoff(attempt: u32) {
    let base = 20 * u64::from(attempt);
    let jitter = rand::random_range(0..=base);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_sets_match_between_backends() {
        let sqlite: Vec<(i64, &str)> = SQLITE_MIGRATOR
            .iter()
            .map(|m| (m.version, &*m.description))
            .collect();
        let postgres: Vec<(i64, &str)> = POSTGRES_MIGRATOR
            .iter()
            .map(|m| (m.version, &*m.description))
            .collect();
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "each migration must exist for both backends"
        );
    }

    #[test]
    fn status_compares_versions_and_checksums() {
        let first = SQLITE_MIGRATOR.iter().next().unwrap();
        let none = MigrationStatus::compare(&SQLITE_MIGRATOR, &[]);
        assert!(!none.is_current());
        assert_eq!(none.pending[0].version, first.version);
        assert!(
            none.to_string().starts_with("pending: 1 token store"),
            "{none}"
        );

        let all: Vec<AppliedRow> = SQLITE_MIGRATOR
            .iter()
            .map(|m| (m.version, m.checksum.to_vec(), true))
            .collect();
        let current = MigrationStatus::compare(&SQLITE_MIGRATOR, &all);
        assert!(current.is_current(), "{current}");

        let mut newer = all.clone();
        newer.push((9999, vec![1, 2, 3], true));
        newer[0].1 = vec![0];
        let status = MigrationStatus::compare(&SQLITE_MIGRATOR, &newer);
        assert_eq!(status.unknown, vec![9999]);
        assert_eq!(status.modified, vec![first.version]);
        assert!(
            status.to_string().contains("upgrade this binary"),
            "{status}"
        );
    }

    #[test]
    fn busy_codes_are_recognised() {
        assert!(!is_sqlite_busy(&sqlx::Error::PoolTimedOut));
    }
}
