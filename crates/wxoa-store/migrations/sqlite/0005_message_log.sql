-- Every push handled and its reply, for the admin UI and diagnostics.
CREATE TABLE message_log (
    id INTEGER PRIMARY KEY,
    -- Unix seconds at which the push arrived.
    at INTEGER NOT NULL,
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    event TEXT,
    -- MsgId as decimal text (it is an unsigned 64-bit number).
    msg_id TEXT,
    -- The text (or a summary) of the push, at most 2 KB.
    content TEXT,
    -- The rule that matched, if any.
    rule TEXT,
    -- The kind of reply (text, news, image, success, ...).
    reply_type TEXT,
    -- The reply (or a summary), at most 2 KB.
    reply TEXT,
    latency_ms INTEGER NOT NULL,
    -- How the push came (plain, compat, safe).
    mode TEXT NOT NULL,
    -- Where the answer came from (handler, cached, parked, placeholder, ...).
    source TEXT NOT NULL
);
CREATE INDEX message_log_at ON message_log (at);
CREATE INDEX message_log_follower ON message_log (appid, openid, at);

-- Subscribe / unsubscribe events, oldest first: the followers' timeline.
CREATE TABLE follower_events (
    id INTEGER PRIMARY KEY,
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    subscribed BOOLEAN NOT NULL,
    -- Unix seconds of the event.
    at INTEGER NOT NULL,
    -- The subscribe scene or the scanned QR code's scene, when given.
    scene TEXT
);
CREATE INDEX follower_events_follower ON follower_events (appid, openid, at);

-- Each follower's current state, kept by the events above.
CREATE TABLE followers (
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    subscribed BOOLEAN NOT NULL,
    -- Unix seconds of the first event seen.
    first_seen_at INTEGER NOT NULL,
    -- Unix seconds of the latest subscribe, and of the latest unsubscribe.
    subscribed_at INTEGER,
    unsubscribed_at INTEGER,
    -- The scene of the latest subscribe.
    scene TEXT,
    -- Unix seconds of the event that set `subscribed`.
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (appid, openid)
);
