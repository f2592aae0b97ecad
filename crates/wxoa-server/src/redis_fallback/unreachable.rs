//! A Redis that never answers, for the fallbacks' tests: every operation fails.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use wxoa_api::{CachedToken, StoreError, TokenStore};
use wxoa_store::{Parked, ParkingBackend, SessionBackend};

/// A Redis that never answers: every operation fails.
#[derive(Debug)]
pub(crate) struct Unreachable;

fn refused<T>() -> Result<T, StoreError> {
    Err(StoreError::msg("connection refused"))
}

#[async_trait]
impl TokenStore for Unreachable {
    async fn get(&self, _: &str) -> Result<Option<CachedToken>, StoreError> {
        refused()
    }
    async fn put(&self, _: &str, _: &CachedToken) -> Result<(), StoreError> {
        refused()
    }
    async fn expire_if(&self, _: &str, _: &str) -> Result<bool, StoreError> {
        refused()
    }
    async fn try_lock(&self, _: &str, _: &str, _: Duration) -> Result<bool, StoreError> {
        refused()
    }
    async fn unlock(&self, _: &str, _: &str) -> Result<(), StoreError> {
        refused()
    }
    async fn count_fetch(&self, _: &str, _: &str) -> Result<u64, StoreError> {
        refused()
    }
}

#[async_trait]
impl ParkingBackend for Unreachable {
    async fn park(&self, _: &str, _: &str, _: &str, _: &str, _: i64) -> Result<(), StoreError> {
        refused()
    }
    async fn take_parked(&self, _: &str, _: &str) -> Result<Vec<Parked>, StoreError> {
        refused()
    }
    async fn sweep_parked(&self) -> Result<u64, StoreError> {
        refused()
    }
}

#[async_trait]
impl SessionBackend for Unreachable {
    async fn load_session(&self, _: &str, _: &str) -> Result<Map<String, Value>, StoreError> {
        refused()
    }
    async fn save_session(
        &self,
        _: &str,
        _: &str,
        _: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        refused()
    }
    async fn sweep_sessions(&self) -> Result<u64, StoreError> {
        refused()
    }
}
