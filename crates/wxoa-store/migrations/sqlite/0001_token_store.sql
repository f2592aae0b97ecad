-- Shared access-token cache: one row per credential key ("{appid}:access_token", ...).
CREATE TABLE tokens (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    -- Unix seconds at which the platform stops accepting the token.
    expires_at INTEGER NOT NULL,
    -- Unix milliseconds of the last write, for diagnostics.
    updated_at_ms INTEGER NOT NULL
);

-- Short-lived exclusive locks (the token refresh lock, later other single-flight work).
CREATE TABLE locks (
    key TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    -- Unix milliseconds after which the lock is dead and may be taken over.
    expires_at_ms INTEGER NOT NULL
);

-- Token fetches per credential key and Beijing-time day ("YYYY-MM-DD"), against the daily quota.
CREATE TABLE token_fetches (
    key TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, day)
);
