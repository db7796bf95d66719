-- Web push subscriptions (the browser's PushSubscription), owned by noizylab-notifications.
CREATE TABLE push_subscriptions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     TEXT NOT NULL,                 -- the browser's P-256 key, base64url
    auth       TEXT NOT NULL,                 -- its 16-byte auth secret, base64url
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX push_subscriptions_by_user ON push_subscriptions (user_id);
