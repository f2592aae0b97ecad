//! Dedup and coalescing on Redis: a hash per push key that expires with its lease or window.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use wxoa_api::StoreError;

use crate::dedup::{self, DedupClaim, Probe, SharedDedup, key_hash};
use crate::redis::{fail, px};

/// KEYS[1] the entry; ARGV[1] holder, ARGV[2] lease ms, ARGV[3] window ms.
/// Returns {'done', answer}, {'inflight', ''} or {'first', ''}. An entry whose lease or window
/// ran out has expired and is gone, so only live entries are found here.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local answer = redis.call('HGET', KEYS[1], 'answer')
if answer then
    return {'done', answer}
end
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder and holder ~= ARGV[1] then
    return {'inflight', ''}
end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'window', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'first', ''}",
    )
});

/// KEYS[1] the entry; ARGV[1] holder, ARGV[2] answer. Stores the answer if ARGV[1] holds the
/// pending claim and lets the entry live for the window given at claim time. Returns 1 when
/// stored.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then
    return 0
end
if redis.call('HEXISTS', KEYS[1], 'answer') == 1 then
    return 0
end
redis.call('HSET', KEYS[1], 'answer', ARGV[2])
redis.call('PEXPIRE', KEYS[1], redis.call('HGET', KEYS[1], 'window'))
return 1",
    )
});

/// KEYS[1] the entry; ARGV[1] holder. Deletes the entry if ARGV[1] holds the pending claim.
static ABANDON: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('HGET', KEYS[1], 'holder') == ARGV[1]
    and redis.call('HEXISTS', KEYS[1], 'answer') == 0 then
    return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

/// [`SharedDedup`] on Redis, shared by every instance on every host that uses the same server
/// and prefix.
///
/// `{prefix}dedup:{sha256 of the key}` is a hash (`holder`, `window`, and `answer` once
/// answered) whose expiry is the lease while pending and the window once answered, so the
/// server forgets dead claims and old answers by itself (leases run on the server's clock).
/// Claim, complete and abandon are Lua scripts, atomic on the server. The window that applies
/// to an answer is the one given by the claim that won.
#[derive(Debug, Clone)]
pub struct RedisDedup {
    conn: ConnectionManager,
    prefix: Arc<str>,
}

impl RedisDedup {
    pub(crate) fn new(conn: ConnectionManager, prefix: Arc<str>) -> Self {
        Self { conn, prefix }
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}dedup:{}", self.prefix, key_hash(key))
    }
}

#[async_trait]
impl SharedDedup for RedisDedup {
    async fn claim(
        &self,
        key: &str,
        holder: &str,
        lease: Duration,
        window: Duration,
    ) -> Result<DedupClaim, StoreError> {
        let (state, answer): (String, String) = CLAIM
            .key(self.entry_key(key))
            .arg(holder)
            .arg(px(lease))
            .arg(px(window))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("claim", key))?;
        Ok(match state.as_str() {
            "first" => DedupClaim::First,
            "done" => DedupClaim::Done(answer),
            _ => DedupClaim::InFlight,
        })
    }

    async fn complete(&self, key: &str, holder: &str, answer: &str) -> Result<bool, StoreError> {
        let stored: i64 = COMPLETE
            .key(self.entry_key(key))
            .arg(holder)
            .arg(answer)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("complete", key))?;
        Ok(stored == 1)
    }

    async fn abandon(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let _: i64 = ABANDON
            .key(self.entry_key(key))
            .arg(holder)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("abandon", key))?;
        Ok(())
    }

    async fn wait(&self, key: &str, timeout: Duration) -> Result<Option<String>, StoreError> {
        let entry = self.entry_key(key);
        let entry = entry.as_str();
        dedup::poll(timeout, || async move {
            let (answer, holder): (Option<String>, Option<String>) = ::redis::cmd("HMGET")
                .arg(entry)
                .arg("answer")
                .arg("holder")
                .query_async(&mut self.conn.clone())
                .await
                .map_err(fail("wait", key))?;
            Ok(match (answer, holder) {
                (Some(answer), _) => Probe::Done(answer),
                (None, Some(_)) => Probe::Pending,
                (None, None) => Probe::Gone,
            })
        })
        .await
    }

    /// Redis expires entries by itself: nothing to do.
    async fn sweep(&self, _window: Duration) -> Result<u64, StoreError> {
        Ok(0)
    }
}
