//! What the dashboard shows of the message-log writer (queue depth, dropped, written): a small
//! trait the writer implements, so the console does not depend on how it works.

use std::fmt::Debug;

/// The log writer's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct LogWriterSnapshot {
    /// Rows waiting in the queue.
    pub queue_depth: u64,
    /// Rows dropped because the queue was full.
    pub dropped: u64,
    /// Rows written to the store.
    pub written: u64,
}

/// Something that can report the log writer's counters.
pub trait LogWriterStats: Send + Sync + Debug {
    /// The counters now.
    fn snapshot(&self) -> LogWriterSnapshot;
}
