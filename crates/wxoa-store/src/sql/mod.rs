//! The SQL backends (SQLite, PostgreSQL) and the stores built on them, one module per concept.

mod audit;
mod dashboard;
mod dedup;
mod filters;
mod follower_directory;
mod followers;
mod message_log;
mod message_search;
mod parking;
mod session;
mod token;

pub use self::audit::{AUDIT_DETAIL_MAX_BYTES, AuditEntry, SqlAudit};
pub use self::dashboard::{GroupCount, LatencySummary, MinuteCount, SqlDashboard};
pub use self::dedup::SqlDedup;
pub use self::follower_directory::{
    FollowerList, FollowerQuery, FollowerRecord, MAX_PER_PAGE, PlatformFollower,
    SqlFollowerDirectory,
};
pub use self::followers::{Follower, FollowerEvent, SqlFollowers};
pub use self::message_log::{LOG_TEXT_MAX_BYTES, LoggedMessage, MessageLogEntry, SqlMessageLog};
pub use self::message_search::{MAX_SEARCH_LIMIT, MessagePage, MessageQuery, SqlMessageSearch};
pub use self::parking::SqlParking;
pub use self::session::SqlSessions;
pub use self::token::SqlTokenStore;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{PgPool, SqlitePool};
use wxoa_api::{Clock, StoreError};

/// A connection pool to one of the supported SQL databases.
///
/// Each store module writes its statements once for both backends where the dialects agree
/// (`$N` placeholders, which SQLite accepts too; `ON CONFLICT`; `RETURNING`) and runs them
/// through [`with_pool!`], or matches on this where they differ.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// SQLite (file in WAL mode, or in memory).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Db {
    /// The backend's name for messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Evaluates `$body` with `$pool` bound to the SQLite or the PostgreSQL pool of a [`Db`]; the
/// body is compiled once per backend, so the same statement and binds serve both.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::sql::Db::Sqlite($pool) => $body,
            $crate::sql::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// A failed statement, naming the backend, the operation and the key.
#[derive(Debug, thiserror::Error)]
#[error("{backend} {op} of `{key}` failed: {source}")]
pub(crate) struct SqlOpError {
    pub(crate) backend: &'static str,
    pub(crate) op: &'static str,
    pub(crate) key: String,
    #[source]
    pub(crate) source: sqlx::Error,
}

/// Wraps a driver error from `op` on `key` as a [`StoreError`].
pub(crate) fn op_error(db: &Db, op: &'static str, key: &str, source: sqlx::Error) -> StoreError {
    StoreError(Box::new(SqlOpError {
        backend: db.name(),
        op,
        key: key.to_owned(),
        source,
    }))
}

/// The time source of a SQL store: the system clock, or an injected [`Clock`] (whole seconds)
/// for tests and simulations that move time by hand.
#[derive(Debug, Clone, Default)]
pub(crate) struct SqlClock(Option<Arc<dyn Clock>>);

impl SqlClock {
    /// Reads time from `clock` instead of the system clock.
    pub(crate) fn injected(clock: Arc<dyn Clock>) -> Self {
        Self(Some(clock))
    }

    /// The current time in Unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        match &self.0 {
            Some(clock) => clock.now_unix().saturating_mul(1000),
            None => match SystemTime::now().duration_since(UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
                // A clock set before 1970 is broken; treat it as the epoch rather than panic.
                Err(_) => 0,
            },
        }
    }

    /// The current time in Unix seconds.
    pub(crate) fn now_secs(&self) -> i64 {
        match &self.0 {
            Some(clock) => clock.now_unix(),
            None => self.now_ms().div_euclid(1000),
        }
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A duration in whole seconds, saturating.
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_saturate() {
        assert_eq!(millis(Duration::from_secs(2)), 2000);
        assert_eq!(millis(Duration::MAX), i64::MAX);
        assert_eq!(secs(Duration::from_millis(2999)), 2);
        assert_eq!(secs(Duration::MAX), i64::MAX);
    }

    #[test]
    fn clock_is_system_or_injected() {
        let system = SqlClock::default();
        assert!(system.now_ms() > 1_704_067_200_000, "2024 or later");
        assert!(system.now_secs() > 1_704_067_200);
        let manual = Arc::new(wxoa_api::ManualClock::new(1_700_000_000));
        let injected = SqlClock::injected(manual.clone());
        assert_eq!(injected.now_ms(), 1_700_000_000_000);
        manual.advance(5);
        assert_eq!(injected.now_secs(), 1_700_000_005);
    }

    #[tokio::test]
    async fn op_error_names_backend_op_and_key() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .connect_lazy("sqlite::memory:")
            .unwrap();
        let e = op_error(
            &Db::Sqlite(pool),
            "claim",
            "gh_1:o1:42",
            sqlx::Error::PoolTimedOut,
        );
        let text = e.to_string();
        assert!(
            text.contains("sqlite claim of `gh_1:o1:42` failed: "),
            "{text}"
        );
    }
}
