-- Per-follower session maps (the `session` of scripts), one row per account and follower.
CREATE TABLE sessions (
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    -- The session as a JSON object.
    data TEXT NOT NULL,
    -- Unix seconds of the last save; sessions idle past their ttl read as empty and are swept.
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (appid, openid)
);
CREATE INDEX sessions_updated_at ON sessions (updated_at);
