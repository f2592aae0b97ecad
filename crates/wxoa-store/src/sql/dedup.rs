//! Dedup and coalescing on SQLite / PostgreSQL: one `dedup` row per push key, claimed by upsert.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wxoa_api::{Clock, StoreError};

use crate::dedup::{self, DedupClaim, Probe, SharedDedup, key_hash};
use crate::sql::{Db, SqlClock, millis, op_error, with_pool};

/// Claim attempts before giving up when the entry keeps changing between the claim statement
/// and the read that explains a refusal (each change is another caller finishing a step).
const CLAIM_ATTEMPTS: u32 = 4;

/// Takes the key when no row exists, its pending lease ran out or belongs to the same holder,
/// or its answer is older than the window. Affects one row exactly when the caller gets it.
const CLAIM: &str = "INSERT INTO dedup (key_hash, holder, lease_until_ms, answer, done_at_ms) \
     VALUES ($1, $2, $3, NULL, NULL) \
     ON CONFLICT (key_hash) DO UPDATE SET holder = excluded.holder, \
     lease_until_ms = excluded.lease_until_ms, answer = NULL, done_at_ms = NULL \
     WHERE (dedup.answer IS NULL \
            AND (dedup.lease_until_ms <= $4 OR dedup.holder = excluded.holder)) \
        OR (dedup.answer IS NOT NULL AND dedup.done_at_ms <= $5)";

/// The entry as the refused claim finds it.
const READ: &str =
    "SELECT holder, lease_until_ms, answer, done_at_ms FROM dedup WHERE key_hash = $1";

/// The holder's pending claim becomes the answer.
const COMPLETE: &str = "UPDATE dedup SET answer = $1, done_at_ms = $2 \
     WHERE key_hash = $3 AND holder = $4 AND answer IS NULL";

/// The holder's pending claim disappears.
const ABANDON: &str = "DELETE FROM dedup WHERE key_hash = $1 AND holder = $2 AND answer IS NULL";

/// What a waiter polls.
const PROBE: &str = "SELECT lease_until_ms, answer FROM dedup WHERE key_hash = $1";

/// Old answers and dead claims.
const SWEEP: &str = "DELETE FROM dedup \
     WHERE (answer IS NOT NULL AND done_at_ms <= $1) OR (answer IS NULL AND lease_until_ms <= $2)";

/// A `dedup` row: holder, lease end, answer, answer time.
type Row = (String, i64, Option<String>, Option<i64>);

/// [`SharedDedup`] in the SQL database: every process that opens the same SQLite file (CGI:
/// each request is a process of its own) or PostgreSQL database agrees on one handler per
/// push.
///
/// A claim is one `INSERT … ON CONFLICT DO UPDATE … WHERE` statement, so among concurrent
/// callers exactly one affects the row and gets [`DedupClaim::First`]. Leases and windows are
/// measured in milliseconds of the system clock (or an injected [`Clock`]), so every process
/// sharing the database needs a synchronised clock (automatic on one host). Entries stay until
/// a later claim reuses them or [`SharedDedup::sweep`] removes them.
#[derive(Debug, Clone)]
pub struct SqlDedup {
    db: Db,
    clock: SqlClock,
}

impl SqlDedup {
    pub(crate) fn new(db: Db) -> Self {
        Self {
            db,
            clock: SqlClock::default(),
        }
    }

    /// Measures leases and windows with `clock` (whole seconds) instead of the system clock:
    /// for tests and simulations that move time by hand.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = SqlClock::injected(clock);
        self
    }

    async fn read(&self, hash: &str, key: &str) -> Result<Option<Row>, StoreError> {
        with_pool!(&self.db, pool => {
            sqlx::query_as(READ).bind(hash).fetch_optional(pool).await
        })
        .map_err(|e| op_error(&self.db, "claim", key, e))
    }
}

#[async_trait]
impl SharedDedup for SqlDedup {
    async fn claim(
        &self,
        key: &str,
        holder: &str,
        lease: Duration,
        window: Duration,
    ) -> Result<DedupClaim, StoreError> {
        let hash = key_hash(key);
        for _ in 0..CLAIM_ATTEMPTS {
            let now = self.clock.now_ms();
            let lease_until = now.saturating_add(millis(lease));
            let stale_before = now.saturating_sub(millis(window));
            let affected = with_pool!(&self.db, pool => {
                sqlx::query(CLAIM)
                    .bind(&hash)
                    .bind(holder)
                    .bind(lease_until)
                    .bind(now)
                    .bind(stale_before)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            })
            .map_err(|e| op_error(&self.db, "claim", key, e))?;
            if affected == 1 {
                return Ok(DedupClaim::First);
            }
            // Refused: find out why. The entry may have changed meanwhile (answered, abandoned,
            // or its lease ran out just now); then the claim is tried again.
            match self.read(&hash, key).await? {
                Some((_, _, Some(answer), Some(done_at))) if done_at > stale_before => {
                    return Ok(DedupClaim::Done(answer));
                }
                Some((other, lease_until, None, _))
                    if other != holder && lease_until > self.clock.now_ms() =>
                {
                    return Ok(DedupClaim::InFlight);
                }
                _ => {}
            }
        }
        Err(StoreError(Box::new(ClaimRaced {
            backend: self.db.name(),
            key: key.to_owned(),
        })))
    }

    async fn complete(&self, key: &str, holder: &str, answer: &str) -> Result<bool, StoreError> {
        let hash = key_hash(key);
        let now = self.clock.now_ms();
        let affected = with_pool!(&self.db, pool => {
            sqlx::query(COMPLETE)
                .bind(answer)
                .bind(now)
                .bind(&hash)
                .bind(holder)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(|e| op_error(&self.db, "complete", key, e))?;
        Ok(affected == 1)
    }

    async fn abandon(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let hash = key_hash(key);
        with_pool!(&self.db, pool => {
            sqlx::query(ABANDON).bind(&hash).bind(holder).execute(pool).await.map(drop)
        })
        .map_err(|e| op_error(&self.db, "abandon", key, e))
    }

    async fn wait(&self, key: &str, timeout: Duration) -> Result<Option<String>, StoreError> {
        let hash = key_hash(key);
        let hash = hash.as_str();
        dedup::poll(timeout, || async move {
            let row: Option<(i64, Option<String>)> = with_pool!(&self.db, pool => {
                sqlx::query_as(PROBE).bind(hash).fetch_optional(pool).await
            })
            .map_err(|e| op_error(&self.db, "wait", key, e))?;
            Ok(match row {
                Some((_, Some(answer))) => Probe::Done(answer),
                Some((lease_until, None)) if lease_until > self.clock.now_ms() => Probe::Pending,
                _ => Probe::Gone,
            })
        })
        .await
    }

    async fn sweep(&self, window: Duration) -> Result<u64, StoreError> {
        let now = self.clock.now_ms();
        let stale_before = now.saturating_sub(millis(window));
        with_pool!(&self.db, pool => {
            sqlx::query(SWEEP)
                .bind(stale_before)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(|e| op_error(&self.db, "sweep", "dedup", e))
    }
}

/// The entry changed under every claim attempt.
#[derive(Debug, thiserror::Error)]
#[error(
    "{backend} claim of `{key}` failed: the entry changed under each of {CLAIM_ATTEMPTS} attempts (many deliveries of one push finishing at once); handle the push without dedup"
)]
struct ClaimRaced {
    backend: &'static str,
    key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raced_claim_error_says_what_to_do() {
        let e = ClaimRaced {
            backend: "sqlite",
            key: "gh:o:1".to_owned(),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("sqlite claim of `gh:o:1` failed"),
            "{text}"
        );
        assert!(text.contains("handle the push without dedup"), "{text}");
    }

    #[test]
    fn statements_use_numbered_placeholders_only() {
        for sql in [CLAIM, READ, COMPLETE, ABANDON, PROBE, SWEEP] {
            assert!(!sql.contains('?'), "{sql}");
        }
    }
}
