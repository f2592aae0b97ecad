-- The owner's console: menu keys in the log, what each follower last did, remarks and tags,
-- and the audit trail of changes made in the console.
ALTER TABLE message_log ADD COLUMN event_key TEXT;
CREATE INDEX message_log_rule ON message_log (appid, rule, at);

-- Unix seconds of the follower's latest push of any kind, and of their latest message (the
-- start of the 48-hour 客服 window); how many pushes of theirs were logged.
ALTER TABLE followers ADD COLUMN last_seen_at INTEGER;
ALTER TABLE followers ADD COLUMN last_message_at INTEGER;
ALTER TABLE followers ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
-- The owner's remark (also set on the platform) and tags, a JSON array of strings.
ALTER TABLE followers ADD COLUMN remark TEXT;
ALTER TABLE followers ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE INDEX followers_last_seen ON followers (appid, last_seen_at);

-- Every change made through the console or its API: who, when, what.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    -- Unix seconds of the change.
    at INTEGER NOT NULL,
    -- Who made it (the admin user, or the SSO user name).
    actor TEXT NOT NULL,
    -- What was done: rule.update, menu.push, message.send, ...
    action TEXT NOT NULL,
    -- What it was done to (a rule name, an openid, ...).
    target TEXT NOT NULL,
    -- Details (the new value, the platform's answer), at most a few KB.
    detail TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);
