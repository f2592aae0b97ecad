-- Every push handled and its reply, for the admin UI and diagnostics.
CREATE TABLE message_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Unix seconds at which the push arrived.
    at BIGINT NOT NULL,
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
    latency_ms BIGINT NOT NULL,
    -- How the push came (plain, compat, safe).
    mode TEXT NOT NULL,
    -- Where the answer came from (handler, cached, parked, placeholder, ...).
    source TEXT NOT NULL
);
CREATE INDEX message_log_at ON message_log (at);
CREATE INDEX message_log_follower ON message_log (appid, openid, at);

-- Subscribe / unsubscribe events, oldest first: the followers' timeline.
CREATE TABLE follower_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    subscribed BOOLEAN NOT NULL,
    -- Unix seconds of the event.
    at BIGINT NOT NULL,
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
    first_seen_at BIGINT NOT NULL,
    -- Unix seconds of the latest subscribe, and of the latest unsubscribe.
    subscribed_at BIGINT,
    unsubscribed_at BIGINT,
    -- The scene of the latest subscribe.
    scene TEXT,
    -- Unix seconds of the event that set `subscribed`.
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (appid, openid)
);
