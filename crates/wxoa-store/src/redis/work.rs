//! Slow work on Redis: a hash per push and a sorted set of lease expiries per account.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use wxoa_api::StoreError;

use crate::dedup::key_hash;
use crate::redis::{fail, px};
use crate::work::{Finish, HandOff, SharedWork, WorkHandoff, WorkRecord};

/// How long a running record is kept at most, whatever its lease (a bound on leftovers).
const RUNNING_MAX: Duration = Duration::from_secs(24 * 3600);

/// Now on the server's clock, in milliseconds (every lease runs on that one clock).
const NOW_MS: &str = "local t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n";

/// KEYS[1] record, KEYS[2] leases; ARGV[1] key, ARGV[2] payload, ARGV[3] holder, ARGV[4]
/// lease ms, ARGV[5] max ms. Returns key, payload, attempts, handoff.
static BEGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{NOW_MS}if redis.call('HGET', KEYS[1], 'state') ~= 'running' then
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'key', ARGV[1], 'payload', ARGV[2], 'attempts', 1,
        'handoff', '', 'state', 'running')
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
redis.call('HSET', KEYS[1], 'holder', ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), KEYS[1])
return redis.call('HMGET', KEYS[1], 'key', 'payload', 'attempts', 'handoff')"
    ))
});

/// KEYS[1] record, KEYS[2] leases; ARGV[1] holder, ARGV[2] lease ms. Takes running work whose
/// lease ran out. Returns key, payload, attempts, handoff, or nothing.
static TAKE_OVER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{NOW_MS}if redis.call('HGET', KEYS[1], 'state') ~= 'running' then
    redis.call('ZREM', KEYS[2], KEYS[1])
    return {{}}
end
local due = tonumber(redis.call('ZSCORE', KEYS[2], KEYS[1]) or '0')
if due > now and redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then
    return {{}}
end
redis.call('HSET', KEYS[1], 'holder', ARGV[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), KEYS[1])
return redis.call('HMGET', KEYS[1], 'key', 'payload', 'attempts', 'handoff')"
    ))
});

/// KEYS[1] record, KEYS[2] leases; ARGV[1] holder, ARGV[2] lease ms. Returns 1 when renewed.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{NOW_MS}if redis.call('HGET', KEYS[1], 'state') ~= 'running'
    or redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then
    return 0
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), KEYS[1])
return 1"
    ))
});

/// KEYS[1] record. Counts a delivery of running work; returns key, payload, attempts,
/// handoff, or nothing.
static ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('HGET', KEYS[1], 'state') ~= 'running' then
    return {}
end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return redis.call('HMGET', KEYS[1], 'key', 'payload', 'attempts', 'handoff')",
    )
});

/// KEYS[1] record; ARGV[1] handoff. Returns {'handed', handoff}, {'finished'} or {'missing'}.
static HAND_OFF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local state = redis.call('HGET', KEYS[1], 'state')
if state == 'finished' then
    return {'finished'}
end
if state ~= 'running' then
    return {'missing'}
end
local handoff = redis.call('HGET', KEYS[1], 'handoff')
if handoff == '' then
    handoff = ARGV[1]
    redis.call('HSET', KEYS[1], 'handoff', handoff)
end
return {'handed', handoff}",
    )
});

/// KEYS[1] record, KEYS[2] leases; ARGV[1] holder, ARGV[2] fallback handoff, ARGV[3] keep ms.
/// Returns {'held', handoff}, {'lost'} or {'missing'}.
static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local state = redis.call('HGET', KEYS[1], 'state')
if not state then
    redis.call('ZREM', KEYS[2], KEYS[1])
    return {'missing'}
end
if state ~= 'running' or redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then
    return {'lost'}
end
local handoff = redis.call('HGET', KEYS[1], 'handoff')
if handoff == '' then
    handoff = ARGV[2]
end
redis.call('HSET', KEYS[1], 'state', 'finished', 'handoff', handoff)
redis.call('HDEL', KEYS[1], 'payload')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[2], KEYS[1])
return {'held', handoff}",
    )
});

/// KEYS[1] leases; ARGV[1] max. Keys of running work whose lease ran out; drops index entries
/// whose record is gone or finished.
static EXPIRED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{NOW_MS}local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local keys = {{}}
for _, record in ipairs(due) do
    local fields = redis.call('HMGET', record, 'state', 'key')
    if fields[1] == 'running' and fields[2] then
        table.insert(keys, fields[2])
    else
        redis.call('ZREM', KEYS[1], record)
    end
end
return keys"
    ))
});

/// [`SharedWork`] on Redis for one account.
///
/// `{prefix}work:{appid}:{sha256 of the key}` is a hash (`key`, `payload`, `holder`,
/// `attempts`, `handoff`, `state`); `{prefix}work-leases:{appid}` is a sorted set of those
/// hashes scored by when their holder's lease runs out, on the server's clock. Every operation
/// is one Lua script, atomic on the server.
#[derive(Debug, Clone)]
pub struct RedisWork {
    conn: ConnectionManager,
    prefix: Arc<str>,
    appid: Arc<str>,
}

impl RedisWork {
    pub(crate) fn new(conn: ConnectionManager, prefix: Arc<str>, appid: &str) -> Self {
        Self {
            conn,
            prefix,
            appid: appid.into(),
        }
    }

    fn record_key(&self, key: &str) -> String {
        format!("{}work:{}:{}", self.prefix, self.appid, key_hash(key))
    }

    fn leases_key(&self) -> String {
        format!("{}work-leases:{}", self.prefix, self.appid)
    }

    /// A record read by a script (`HMGET key payload attempts handoff`); `None` for an empty
    /// answer.
    fn record(fields: Vec<Option<String>>) -> Option<WorkRecord> {
        let mut fields = fields.into_iter();
        let key = fields.next().flatten()?;
        let mut next = || fields.next().flatten().unwrap_or_default();
        let (payload, attempts, handoff) = (next(), next(), next());
        Some(WorkRecord {
            key,
            payload,
            attempts: attempts.parse().unwrap_or(1),
            handoff: WorkHandoff::parse(&handoff),
        })
    }
}

#[async_trait]
impl SharedWork for RedisWork {
    async fn begin(
        &self,
        key: &str,
        payload: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<WorkRecord, StoreError> {
        let fields: Vec<Option<String>> = BEGIN
            .key(self.record_key(key))
            .key(self.leases_key())
            .arg(key)
            .arg(payload)
            .arg(holder)
            .arg(px(lease))
            .arg(px(RUNNING_MAX))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("begin work", key))?;
        Self::record(fields).ok_or_else(|| StoreError::msg("redis begin work returned no record"))
    }

    async fn take_over(
        &self,
        key: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<WorkRecord>, StoreError> {
        let fields: Vec<Option<String>> = TAKE_OVER
            .key(self.record_key(key))
            .key(self.leases_key())
            .arg(holder)
            .arg(px(lease))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("take over work", key))?;
        Ok(Self::record(fields))
    }

    async fn renew(&self, key: &str, holder: &str, lease: Duration) -> Result<bool, StoreError> {
        let renewed: i64 = RENEW
            .key(self.record_key(key))
            .key(self.leases_key())
            .arg(holder)
            .arg(px(lease))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("renew work", key))?;
        Ok(renewed == 1)
    }

    async fn attempt(&self, key: &str) -> Result<Option<WorkRecord>, StoreError> {
        let fields: Vec<Option<String>> = ATTEMPT
            .key(self.record_key(key))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("count an attempt on work", key))?;
        Ok(Self::record(fields))
    }

    async fn hand_off(&self, key: &str, handoff: WorkHandoff) -> Result<HandOff, StoreError> {
        let answer: Vec<String> = HAND_OFF
            .key(self.record_key(key))
            .arg(handoff.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("hand off work", key))?;
        Ok(match answer.first().map(String::as_str) {
            Some("handed") => HandOff::Handed(
                answer
                    .get(1)
                    .and_then(|h| WorkHandoff::parse(h))
                    .unwrap_or(handoff),
            ),
            Some("finished") => HandOff::Finished,
            _ => HandOff::Missing,
        })
    }

    async fn finish(
        &self,
        key: &str,
        holder: &str,
        fallback: Option<WorkHandoff>,
        keep: Duration,
    ) -> Result<Finish, StoreError> {
        let answer: Vec<String> = FINISH
            .key(self.record_key(key))
            .key(self.leases_key())
            .arg(holder)
            .arg(fallback.map_or("", WorkHandoff::as_str))
            .arg(px(keep))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("finish work", key))?;
        Ok(match answer.first().map(String::as_str) {
            Some("held") => Finish::Held(answer.get(1).and_then(|h| WorkHandoff::parse(h))),
            Some("missing") => Finish::Missing,
            _ => Finish::Lost,
        })
    }

    async fn expired(&self, max: usize) -> Result<Vec<String>, StoreError> {
        EXPIRED
            .key(self.leases_key())
            .arg(max.max(1))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(fail("list expired work", &self.leases_key()))
    }
}
