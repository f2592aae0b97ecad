-- Results that missed the reply deadline, delivered with the follower's next message.
CREATE TABLE parked (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    -- The rule that produced the result.
    rule TEXT NOT NULL,
    -- The reply as JSON, opaque to the store.
    answer TEXT NOT NULL,
    -- Unix seconds at which the result was parked; too old results are dropped.
    created_at BIGINT NOT NULL
);
CREATE INDEX parked_follower ON parked (appid, openid);
CREATE INDEX parked_created_at ON parked (created_at);
