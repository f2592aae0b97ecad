//! The [`ParkingBackend`] contract: results that missed the reply deadline, kept for the follower.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use wxoa_api::StoreError;

/// How long a parked result waits for the follower's next message unless the backend is
/// given another maximum age (the platform's 客服 window is 48 hours too).
pub const DEFAULT_PARKED_MAX_AGE: Duration = Duration::from_secs(48 * 60 * 60);

/// A result that missed the reply deadline, taken with [`ParkingBackend::take_parked`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    /// The rule that produced it.
    pub rule: String,
    /// The reply as JSON, exactly as parked.
    pub answer: String,
    /// Unix seconds at which it was parked.
    pub created_at: i64,
}

/// Parked results per follower: a result that missed the 5-second window is parked and
/// delivered with the follower's next message.
///
/// Implemented by [`SqlParking`](crate::SqlParking) and
/// [`RedisParking`](crate::RedisParking).
#[async_trait]
pub trait ParkingBackend: Send + Sync + Debug {
    /// Parks `answer_json` (the reply as JSON, opaque to the store) produced by `rule` for the
    /// follower, stamped `created_at` (Unix seconds).
    ///
    /// # Errors
    ///
    /// The backend failed.
    async fn park(
        &self,
        appid: &str,
        openid: &str,
        rule: &str,
        answer_json: &str,
        created_at: i64,
    ) -> Result<(), StoreError>;

    /// Removes every result parked for the follower and returns those younger than the
    /// maximum age (default [`DEFAULT_PARKED_MAX_AGE`]), oldest first. Atomic: of two
    /// concurrent calls, each result goes to exactly one.
    ///
    /// # Errors
    ///
    /// The backend failed (nothing was taken). An entry that does not decode is dropped
    /// with a warning.
    async fn take_parked(&self, appid: &str, openid: &str) -> Result<Vec<Parked>, StoreError>;

    /// Deletes results older than the maximum age of every follower; returns how many. Redis
    /// expires them by itself and returns 0.
    ///
    /// # Errors
    ///
    /// The backend failed.
    async fn sweep_parked(&self) -> Result<u64, StoreError>;

    /// Whether results may be parked for the follower: `false` only when the backend knows
    /// there are none (an in-process index), so the caller can skip [`take_parked`]. The
    /// default, for stores other processes also write, is `true`.
    ///
    /// [`take_parked`]: ParkingBackend::take_parked
    fn may_have_parked(&self, appid: &str, openid: &str) -> bool {
        let _ = (appid, openid);
        true
    }
}

/// Keeps the entries younger than `max_age` at `now` (Unix seconds) and sorts them oldest
/// first; entries with equal timestamps keep their order.
pub(crate) fn fresh_oldest_first(
    mut items: Vec<Parked>,
    now: i64,
    max_age: Duration,
) -> Vec<Parked> {
    let cutoff = now.saturating_sub(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
    items.retain(|p| p.created_at > cutoff);
    items.sort_by_key(|p| p.created_at);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parked(rule: &str, created_at: i64) -> Parked {
        Parked {
            rule: rule.to_owned(),
            answer: "{}".to_owned(),
            created_at,
        }
    }

    #[test]
    fn keeps_young_entries_oldest_first() {
        let max_age = Duration::from_secs(100);
        let items = vec![
            parked("c", 950),
            parked("too-old", 900),
            parked("a", 901),
            parked("b1", 950),
            parked("b2", 999),
        ];
        let rules: Vec<String> = fresh_oldest_first(items, 1000, max_age)
            .into_iter()
            .map(|p| p.rule)
            .collect();
        assert_eq!(rules, ["a", "c", "b1", "b2"]);
        assert!(fresh_oldest_first(vec![parked("x", 0)], 10, Duration::MAX).len() == 1);
    }
}
