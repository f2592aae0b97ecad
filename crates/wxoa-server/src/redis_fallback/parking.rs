//! Parked results in Redis, or in the SQL store while Redis is down.

use std::sync::Arc;

use async_trait::async_trait;
use wxoa_api::StoreError;
use wxoa_store::{Parked, ParkingBackend};

use super::{RedisHealth, Use};

/// [`ParkingBackend`] on Redis that parks in the SQL store while Redis is down, and takes a
/// follower's results from both, so what was parked during an outage is still delivered
/// after it. `local` should index its followers in memory
/// ([`IndexedParking`](crate::delivery::IndexedParking)), so taking from it costs nothing
/// for a follower who has nothing there.
#[derive(Debug)]
pub struct FallbackParking {
    redis: Arc<dyn ParkingBackend>,
    local: Arc<dyn ParkingBackend>,
    health: Arc<RedisHealth>,
}

impl FallbackParking {
    /// `redis`, watched by `health`, with `local` standing in.
    #[must_use]
    pub fn new(
        redis: Arc<dyn ParkingBackend>,
        local: Arc<dyn ParkingBackend>,
        health: Arc<RedisHealth>,
    ) -> Self {
        Self {
            redis,
            local,
            health,
        }
    }
}

#[async_trait]
impl ParkingBackend for FallbackParking {
    async fn park(
        &self,
        appid: &str,
        openid: &str,
        rule: &str,
        answer_json: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let parked = self
            .health
            .attempt(
                "park",
                self.redis
                    .park(appid, openid, rule, answer_json, created_at),
            )
            .await;
        if parked.is_some() {
            return Ok(());
        }
        self.health.fell_back(Use::Parking);
        self.local
            .park(appid, openid, rule, answer_json, created_at)
            .await
    }

    async fn take_parked(&self, appid: &str, openid: &str) -> Result<Vec<Parked>, StoreError> {
        let mut taken = self
            .health
            .attempt("take parked", self.redis.take_parked(appid, openid))
            .await
            .unwrap_or_default();
        if self.local.may_have_parked(appid, openid) {
            taken.extend(self.local.take_parked(appid, openid).await?);
            taken.sort_by_key(|p| p.created_at);
        }
        Ok(taken)
    }

    async fn sweep_parked(&self) -> Result<u64, StoreError> {
        let remote = self
            .health
            .attempt("sweep parked", self.redis.sweep_parked())
            .await
            .unwrap_or(0);
        Ok(remote + self.local.sweep_parked().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::delivery::MemoryParking;
    use crate::redis_fallback::unreachable::Unreachable;

    #[tokio::test]
    async fn results_parked_during_an_outage_are_taken_after_it() {
        let health = Arc::new(RedisHealth::new("redis://127.0.0.1:1"));
        let local: Arc<dyn ParkingBackend> =
            Arc::new(MemoryParking::new(Arc::new(FixedClock::new(1_700_000_000))));
        let redis = Arc::new(MemoryParking::new(Arc::new(FixedClock::new(1_700_000_000))));
        let down = FallbackParking::new(
            Arc::new(Unreachable),
            Arc::clone(&local),
            Arc::clone(&health),
        );
        down.park("wx1", "o1", "slow", "{\"text\":\"late\"}", 1_700_000_000)
            .await
            .unwrap();
        assert!(!health.is_up());
        // Redis is back (another handle on a working store): both sides are read.
        let up_health = Arc::new(RedisHealth::new("redis://127.0.0.1:1"));
        let up = FallbackParking::new(
            Arc::clone(&redis) as Arc<dyn ParkingBackend>,
            local,
            up_health,
        );
        up.park("wx1", "o1", "later", "{\"text\":\"later\"}", 1_700_000_001)
            .await
            .unwrap();
        let taken = up.take_parked("wx1", "o1").await.unwrap();
        let rules: Vec<&str> = taken.iter().map(|p| p.rule.as_str()).collect();
        assert_eq!(rules, ["slow", "later"], "oldest first, from both stores");
        assert!(up.take_parked("wx1", "o1").await.unwrap().is_empty());
    }
}
