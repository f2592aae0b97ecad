//! Parked results on SQLite / PostgreSQL: `parked` rows, taken with one `DELETE … RETURNING`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wxoa_api::{Clock, StoreError};

use crate::parking::{DEFAULT_PARKED_MAX_AGE, Parked, ParkingBackend, fresh_oldest_first};
use crate::sql::{Db, SqlClock, op_error, secs, with_pool};

const PARK: &str = "INSERT INTO parked (appid, openid, rule, answer, created_at) \
     VALUES ($1, $2, $3, $4, $5)";

/// Every row of the follower, removed and returned in one statement.
const TAKE: &str = "DELETE FROM parked WHERE appid = $1 AND openid = $2 \
     RETURNING id, rule, answer, created_at";

const SWEEP: &str = "DELETE FROM parked WHERE created_at <= $1";
const OPENIDS: &str = "SELECT DISTINCT openid FROM parked WHERE appid = $1";

/// [`ParkingBackend`] in the SQL database: a `parked` row per result.
///
/// [`take_parked`](ParkingBackend::take_parked) is a single `DELETE … RETURNING`, so two
/// processes taking at once never both get a row. Results older than the maximum age
/// (default [`DEFAULT_PARKED_MAX_AGE`]) are dropped when taken and by
/// [`sweep_parked`](ParkingBackend::sweep_parked).
#[derive(Debug, Clone)]
pub struct SqlParking {
    db: Db,
    clock: SqlClock,
    max_age: Duration,
}

impl SqlParking {
    pub(crate) fn new(db: Db) -> Self {
        Self {
            db,
            clock: SqlClock::default(),
            max_age: DEFAULT_PARKED_MAX_AGE,
        }
    }

    /// Keeps parked results for `max_age` instead of [`DEFAULT_PARKED_MAX_AGE`].
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Reads time from `clock` instead of the system clock (tests, simulations).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = SqlClock::injected(clock);
        self
    }
}

/// The key for messages.
fn describe(appid: &str, openid: &str) -> String {
    format!("{appid}/{openid}")
}

impl SqlParking {
    /// The followers of `appid` with parked results (to build an in-process index at start).
    ///
    /// # Errors
    /// The database cannot be read.
    pub async fn parked_openids(&self, appid: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = with_pool!(&self.db, pool => {
            sqlx::query_as(OPENIDS).bind(appid).fetch_all(pool).await
        })
        .map_err(|e| op_error(&self.db, "parked_openids", appid, e))?;
        Ok(rows.into_iter().map(|(openid,)| openid).collect())
    }
}

#[async_trait]
impl ParkingBackend for SqlParking {
    async fn park(
        &self,
        appid: &str,
        openid: &str,
        rule: &str,
        answer_json: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        with_pool!(&self.db, pool => {
            sqlx::query(PARK)
                .bind(appid)
                .bind(openid)
                .bind(rule)
                .bind(answer_json)
                .bind(created_at)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(|e| op_error(&self.db, "park", &describe(appid, openid), e))
    }

    async fn take_parked(&self, appid: &str, openid: &str) -> Result<Vec<Parked>, StoreError> {
        let mut rows: Vec<(i64, String, String, i64)> = with_pool!(&self.db, pool => {
            sqlx::query_as(TAKE).bind(appid).bind(openid).fetch_all(pool).await
        })
        .map_err(|e| op_error(&self.db, "take_parked", &describe(appid, openid), e))?;
        // RETURNING has no guaranteed order: restore the order of parking first.
        rows.sort_by_key(|row| row.0);
        let items = rows
            .into_iter()
            .map(|(_, rule, answer, created_at)| Parked {
                rule,
                answer,
                created_at,
            })
            .collect();
        Ok(fresh_oldest_first(
            items,
            self.clock.now_secs(),
            self.max_age,
        ))
    }

    async fn sweep_parked(&self) -> Result<u64, StoreError> {
        let cutoff = self.clock.now_secs().saturating_sub(secs(self.max_age));
        with_pool!(&self.db, pool => {
            sqlx::query(SWEEP).bind(cutoff).execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(|e| op_error(&self.db, "sweep_parked", "parked", e))
    }
}
