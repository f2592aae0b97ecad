//! The [`SharedWork`] contract: slow work on one push, held under a lease that another instance
//! takes over when the holder dies, so a result promised to the follower is never lost.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use wxoa_api::StoreError;

/// Who carries a result that no passive reply will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkHandoff {
    /// By 客服消息 (parked when that is refused).
    Kf,
    /// Parked for the follower's next message.
    Park,
}

impl WorkHandoff {
    /// `kf` or `park`, as stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kf => "kf",
            Self::Park => "park",
        }
    }

    /// The stored form read back; `None` for anything else (no handoff yet).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "kf" => Some(Self::Kf),
            "park" => Some(Self::Park),
            _ => None,
        }
    }
}

/// Running work as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkRecord {
    /// The push's dedup key, which names the work.
    pub key: String,
    /// What a process needs to redo the work (opaque; the server stores JSON).
    pub payload: String,
    /// How many of the platform's deliveries of the push were seen, the first included.
    pub attempts: u32,
    /// Who carries the result, once a delivery has given up on carrying it.
    pub handoff: Option<WorkHandoff>,
}

/// What [`SharedWork::hand_off`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOff {
    /// The result is handed off (by this call or an earlier one: the first handoff wins).
    Handed(WorkHandoff),
    /// The holder has finished: its answer is (or is about to be) in the dedup store.
    Finished,
    /// No work is recorded under the key.
    Missing,
}

/// What [`SharedWork::finish`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The caller held the work and now has finished it: deliver by this handoff, or as the
    /// passive answer when `None`.
    Held(Option<WorkHandoff>),
    /// Another process took the work over (the caller's lease ran out): deliver nothing.
    Lost,
    /// No record of the work is left (the shared store was restarted empty or flushed while
    /// the work ran): nobody else can deliver, so the caller delivers by its own fallback.
    Missing,
}

/// Slow work on pushes, shared by every instance of one account: the process doing a push's
/// work holds it under a lease it renews; deliveries of the push that reach other instances
/// count their attempts and hand the result off; when the holder dies its lease runs out and
/// another instance [takes the work over](SharedWork::take_over) and delivers the result.
///
/// Implemented by [`RedisWork`](crate::RedisWork).
#[async_trait]
pub trait SharedWork: Send + Sync + Debug {
    /// Records work on `key` held by `holder` for `lease`, or takes over the running work
    /// under `key` (keeping its attempts, handoff and payload). Returns the record.
    async fn begin(
        &self,
        key: &str,
        payload: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<WorkRecord, StoreError>;

    /// Takes over running work on `key` for `holder` (its holder's lease ran out: see
    /// [`expired`](SharedWork::expired)); `None` when nothing runs under `key`.
    async fn take_over(
        &self,
        key: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<WorkRecord>, StoreError>;

    /// Renews `holder`'s lease; `false` when it no longer holds the work.
    async fn renew(&self, key: &str, holder: &str, lease: Duration) -> Result<bool, StoreError>;

    /// A delivery of the push reached a process that is not doing the work: counts the
    /// attempt and returns the record (`None` when no work runs under `key`).
    async fn attempt(&self, key: &str) -> Result<Option<WorkRecord>, StoreError>;

    /// A delivery gives up on carrying the result: `handoff` carries it unless an earlier
    /// handoff was set or the holder has finished.
    async fn hand_off(&self, key: &str, handoff: WorkHandoff) -> Result<HandOff, StoreError>;

    /// The holder's work is done: says how to deliver the result (the handoff set, else
    /// `fallback`) and keeps the finished record for `keep`, so late
    /// [`hand_off`](SharedWork::hand_off)s see it finished.
    async fn finish(
        &self,
        key: &str,
        holder: &str,
        fallback: Option<WorkHandoff>,
        keep: Duration,
    ) -> Result<Finish, StoreError>;

    /// Keys of running work whose holder's lease ran out, at most `max`.
    async fn expired(&self, max: usize) -> Result<Vec<String>, StoreError>;
}
