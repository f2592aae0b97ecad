-- Dedup and coalescing of the platform's retries across processes: one row per push key.
CREATE TABLE dedup (
    -- sha256 hex of the dedup key (ToUserName + FromUserName + MsgId, or the event fields).
    key_hash TEXT PRIMARY KEY NOT NULL,
    -- Who handles the push (or handled it, once answered).
    holder TEXT NOT NULL,
    -- Unix milliseconds after which a pending claim is dead and may be taken over.
    lease_until_ms INTEGER NOT NULL,
    -- The answer, opaque to the store; NULL while the push is being handled.
    answer TEXT,
    -- Unix milliseconds at which the answer was stored.
    done_at_ms INTEGER
);
