//! What an action may use while it runs: per-follower sessions, later (客服消息) delivery and
//! the HTTP client; the traits, and in-memory implementations for tests and `rules test`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde_json::{Map, Value};
use wxoa_proto::reply::Reply;

use super::http::HttpClient;

/// A service an action depends on failed (the store is down, the platform refused a message).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The backing service failed; `what` says which operation, `source` why.
    #[error("{what} failed: {source}")]
    Backend {
        /// The operation, e.g. `loading the session`.
        what: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The service refused the request, with its explanation (e.g. an API errcode and hint).
    #[error("{0}")]
    Refused(String),
}

impl ServiceError {
    /// A [`ServiceError::Backend`] for `what`, caused by `source`.
    pub fn backend(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// Per-follower session data: a JSON object per openid that scripts read and change.
#[async_trait]
pub trait SessionStore: Send + Sync + Debug {
    /// The session of `openid`; an empty map when it has none.
    ///
    /// # Errors
    /// The store cannot be read.
    async fn load(&self, openid: &str) -> Result<Map<String, Value>, ServiceError>;

    /// Replace the session of `openid` (an empty map may delete it).
    ///
    /// # Errors
    /// The store cannot be written.
    async fn save(&self, openid: &str, session: &Map<String, Value>) -> Result<(), ServiceError>;
}

/// Delivers a reply to a follower after the passive answer (by 客服消息, or parked for the
/// follower's next message when that is not possible).
#[async_trait]
pub trait LaterSender: Send + Sync + Debug {
    /// Deliver `reply` to `openid` later.
    ///
    /// # Errors
    /// The reply could be neither sent nor parked.
    async fn send_later(&self, openid: &str, reply: Reply) -> Result<(), ServiceError>;
}

/// Everything an action may use; cheap to clone.
#[derive(Debug, Clone)]
pub struct Services {
    /// Per-follower sessions (the `session` map of scripts).
    pub sessions: Arc<dyn SessionStore>,
    /// Later delivery (the `send_later` function of scripts).
    pub later: Arc<dyn LaterSender>,
    /// The HTTP client of scripts, webhooks and chat models.
    pub http: HttpClient,
    /// Rate limits and token budgets of the chat profiles.
    pub chat_ledger: Arc<super::chat::ChatLedger>,
}

impl Services {
    /// Services from their parts.
    #[must_use]
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        later: Arc<dyn LaterSender>,
        http: HttpClient,
    ) -> Self {
        Self {
            sessions,
            later,
            http,
            chat_ledger: Arc::default(),
        }
    }
}

/// Sessions in a map in memory (tests, `wxoa rules test`); lost when the process ends.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<String, Map<String, Value>>>,
}

impl MemorySessionStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored session of `openid`, if any.
    #[must_use]
    pub fn get(&self, openid: &str) -> Option<Map<String, Value>> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(openid)
            .cloned()
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn load(&self, openid: &str) -> Result<Map<String, Value>, ServiceError> {
        Ok(self.get(openid).unwrap_or_default())
    }

    async fn save(&self, openid: &str, session: &Map<String, Value>) -> Result<(), ServiceError> {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if session.is_empty() {
            sessions.remove(openid);
        } else {
            sessions.insert(openid.to_owned(), session.clone());
        }
        Ok(())
    }
}

/// Records what would be sent later instead of sending it (tests, `wxoa rules test`).
#[derive(Debug, Default)]
pub struct MemoryLaterSender {
    sent: Mutex<Vec<(String, Reply)>>,
}

impl MemoryLaterSender {
    /// An empty recorder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far, `(openid, reply)` in order.
    #[must_use]
    pub fn sent(&self) -> Vec<(String, Reply)> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Everything recorded so far, clearing the record.
    pub fn take(&self) -> Vec<(String, Reply)> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl LaterSender for MemoryLaterSender {
    async fn send_later(&self, openid: &str, reply: Reply) -> Result<(), ServiceError> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((openid.to_owned(), reply));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_sessions_round_trip_and_empty_deletes() {
        let store = MemorySessionStore::new();
        assert!(store.load("o1").await.unwrap().is_empty());
        let mut m = Map::new();
        m.insert("count".into(), Value::from(3));
        store.save("o1", &m).await.unwrap();
        assert_eq!(store.load("o1").await.unwrap(), m);
        assert!(store.get("o2").is_none());
        store.save("o1", &Map::new()).await.unwrap();
        assert!(store.get("o1").is_none());
    }

    #[tokio::test]
    async fn memory_later_sender_records_in_order() {
        let later = MemoryLaterSender::new();
        later.send_later("o1", Reply::text("a")).await.unwrap();
        later.send_later("o2", Reply::text("b")).await.unwrap();
        assert_eq!(
            later.sent(),
            vec![
                ("o1".to_owned(), Reply::text("a")),
                ("o2".to_owned(), Reply::text("b"))
            ]
        );
        assert_eq!(later.take().len(), 2);
        assert!(later.sent().is_empty());
    }

    #[test]
    fn service_error_names_the_operation() {
        let e = ServiceError::backend("loading the session", "database is locked");
        assert_eq!(
            e.to_string(),
            "loading the session failed: database is locked"
        );
        assert_eq!(ServiceError::Refused("48001".into()).to_string(), "48001");
    }
}
