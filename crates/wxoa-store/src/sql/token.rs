//! The token store on SQLite / PostgreSQL: cached tokens, the refresh lock and daily fetch counts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wxoa_api::{CachedToken, Clock, StoreError, TokenStore};

use crate::sql::{Db, SqlClock, millis, op_error, with_pool};

/// [`TokenStore`] in the SQL database: shared by every process that opens the same SQLite
/// file or PostgreSQL database.
///
/// Every operation is a single statement, atomic on its own: the lock is an
/// `INSERT … ON CONFLICT DO UPDATE … WHERE` the old lock is dead (or already held by the same
/// holder, as in `MemoryTokenStore`), so among any number of concurrent callers (tasks,
/// processes, hosts) exactly one gets it. SQLite writers queue behind the file's write lock
/// for up to the 5 s busy timeout.
///
/// Lock expiry is measured in milliseconds of the system clock, so every process sharing the
/// database must have a synchronised clock (automatic on one host).
#[derive(Debug, Clone)]
pub struct SqlTokenStore {
    db: Db,
    clock: SqlClock,
}

impl SqlTokenStore {
    pub(crate) fn new(db: Db) -> Self {
        Self {
            db,
            clock: SqlClock::default(),
        }
    }

    /// Measures lock expiry with `clock` (whole seconds) instead of the system clock
    /// (milliseconds): for tests and simulations that move time by hand.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = SqlClock::injected(clock);
        self
    }

    /// The current time in Unix milliseconds.
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn fail(&self, op: &'static str, key: &str, source: sqlx::Error) -> StoreError {
        op_error(&self.db, op, key, source)
    }
}

#[async_trait]
impl TokenStore for SqlTokenStore {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, StoreError> {
        const SQLITE: &str = "SELECT value, expires_at FROM tokens WHERE key = ?";
        const POSTGRES: &str = "SELECT value, expires_at FROM tokens WHERE key = $1";
        let row: Option<(String, i64)> = match &self.db {
            Db::Sqlite(pool) => sqlx::query_as(SQLITE).bind(key).fetch_optional(pool).await,
            Db::Postgres(pool) => {
                sqlx::query_as(POSTGRES)
                    .bind(key)
                    .fetch_optional(pool)
                    .await
            }
        }
        .map_err(|e| self.fail("get", key, e))?;
        Ok(row.map(|(value, expires_at)| CachedToken { value, expires_at }))
    }

    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), StoreError> {
        const SQLITE: &str = "INSERT INTO tokens (key, value, expires_at, updated_at_ms) \
             VALUES (?, ?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             expires_at = excluded.expires_at, updated_at_ms = excluded.updated_at_ms";
        const POSTGRES: &str = "INSERT INTO tokens (key, value, expires_at, updated_at_ms) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             expires_at = excluded.expires_at, updated_at_ms = excluded.updated_at_ms";
        let now = self.now_ms();
        match &self.db {
            Db::Sqlite(pool) => sqlx::query(SQLITE)
                .bind(key)
                .bind(&token.value)
                .bind(token.expires_at)
                .bind(now)
                .execute(pool)
                .await
                .map(drop),
            Db::Postgres(pool) => sqlx::query(POSTGRES)
                .bind(key)
                .bind(&token.value)
                .bind(token.expires_at)
                .bind(now)
                .execute(pool)
                .await
                .map(drop),
        }
        .map_err(|e| self.fail("put", key, e))
    }

    /// Deletes the stored token if its value is still `failed`; a token stored meanwhile by
    /// another process (different value) is kept. Returns whether this call removed it.
    async fn expire_if(&self, key: &str, failed: &str) -> Result<bool, StoreError> {
        const SQLITE: &str = "DELETE FROM tokens WHERE key = ? AND value = ?";
        const POSTGRES: &str = "DELETE FROM tokens WHERE key = $1 AND value = $2";
        let affected = match &self.db {
            Db::Sqlite(pool) => sqlx::query(SQLITE)
                .bind(key)
                .bind(failed)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Db::Postgres(pool) => sqlx::query(POSTGRES)
                .bind(key)
                .bind(failed)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(|e| self.fail("expire_if", key, e))?;
        Ok(affected > 0)
    }

    /// Takes the lock if no row exists, the existing one expired (`expires_at_ms <= now`), or
    /// `holder` already holds it (then its ttl starts again).
    async fn try_lock(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        const SQLITE: &str = "INSERT INTO locks (key, holder, expires_at_ms) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, \
             expires_at_ms = excluded.expires_at_ms \
             WHERE locks.expires_at_ms <= ? OR locks.holder = excluded.holder";
        const POSTGRES: &str = "INSERT INTO locks (key, holder, expires_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, \
             expires_at_ms = excluded.expires_at_ms \
             WHERE locks.expires_at_ms <= $4 OR locks.holder = excluded.holder";
        let now = self.now_ms();
        let expires_at_ms = now.saturating_add(millis(ttl));
        let affected = match &self.db {
            Db::Sqlite(pool) => sqlx::query(SQLITE)
                .bind(key)
                .bind(holder)
                .bind(expires_at_ms)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Db::Postgres(pool) => sqlx::query(POSTGRES)
                .bind(key)
                .bind(holder)
                .bind(expires_at_ms)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(|e| self.fail("try_lock", key, e))?;
        Ok(affected == 1)
    }

    async fn unlock(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        const SQLITE: &str = "DELETE FROM locks WHERE key = ? AND holder = ?";
        const POSTGRES: &str = "DELETE FROM locks WHERE key = $1 AND holder = $2";
        match &self.db {
            Db::Sqlite(pool) => sqlx::query(SQLITE)
                .bind(key)
                .bind(holder)
                .execute(pool)
                .await
                .map(drop),
            Db::Postgres(pool) => sqlx::query(POSTGRES)
                .bind(key)
                .bind(holder)
                .execute(pool)
                .await
                .map(drop),
        }
        .map_err(|e| self.fail("unlock", key, e))
    }

    /// One row per key and day is kept (a few hundred bytes a year per credential).
    async fn count_fetch(&self, key: &str, day: &str) -> Result<u64, StoreError> {
        const SQLITE: &str = "INSERT INTO token_fetches (key, day, count) VALUES (?, ?, 1) \
             ON CONFLICT (key, day) DO UPDATE SET count = token_fetches.count + 1 \
             RETURNING count";
        const POSTGRES: &str = "INSERT INTO token_fetches (key, day, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key, day) DO UPDATE SET count = token_fetches.count + 1 \
             RETURNING count";
        let count: i64 = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_scalar(SQLITE)
                    .bind(key)
                    .bind(day)
                    .fetch_one(pool)
                    .await
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(POSTGRES)
                    .bind(key)
                    .bind(day)
                    .fetch_one(pool)
                    .await
            }
        }
        .map_err(|e| self.fail("count_fetch", key, e))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn fetch_count(&self, key: &str, day: &str) -> Result<Option<u64>, StoreError> {
        const READ: &str = "SELECT count FROM token_fetches WHERE key = $1 AND day = $2";
        let count: Option<i64> = with_pool!(&self.db, pool => {
            sqlx::query_scalar(READ).bind(key).bind(day).fetch_optional(pool).await
        })
        .map_err(|e| self.fail("fetch_count", key, e))?;
        Ok(Some(
            count.map_or(0, |c| u64::try_from(c).unwrap_or_default()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn injected_clock_counts_in_seconds() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new().connect_lazy("sqlite::memory:");
        let store = SqlTokenStore::new(Db::Sqlite(pool.unwrap()));
        assert!(
            store.now_ms() > 1_704_067_200_000,
            "system time, 2024 or later"
        );
        let store = store.with_clock(Arc::new(wxoa_api::ManualClock::new(1_700_000_000)));
        assert_eq!(store.now_ms(), 1_700_000_000_000);
    }
}
