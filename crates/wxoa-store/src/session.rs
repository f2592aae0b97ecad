//! The [`SessionBackend`] contract: a JSON map per follower that persists between messages.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use wxoa_api::StoreError;

/// How long a session lives after its last save unless the backend is given another ttl.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Per-follower sessions (the `session` map of scripts), keyed by account and follower.
///
/// A session not saved for its ttl (default [`DEFAULT_SESSION_TTL`]) reads as empty. Saving
/// is last-writer-wins: two messages of one follower handled at once each save their own
/// version.
///
/// Implemented by [`SqlSessions`](crate::SqlSessions) and
/// [`RedisSessions`](crate::RedisSessions).
#[async_trait]
pub trait SessionBackend: Send + Sync + Debug {
    /// The follower's session; empty when none was saved or it expired.
    ///
    /// # Errors
    ///
    /// The backend failed, or the stored session is not a JSON object.
    async fn load_session(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Map<String, Value>, StoreError>;

    /// Replaces the follower's session and restarts its ttl; an empty map deletes it.
    ///
    /// # Errors
    ///
    /// The backend failed.
    async fn save_session(
        &self,
        appid: &str,
        openid: &str,
        session: &Map<String, Value>,
    ) -> Result<(), StoreError>;

    /// Deletes sessions idle past their ttl; returns how many. Redis expires them by itself
    /// and returns 0.
    ///
    /// # Errors
    ///
    /// The backend failed.
    async fn sweep_sessions(&self) -> Result<u64, StoreError>;
}
