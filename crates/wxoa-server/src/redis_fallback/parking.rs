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
