-- User preferences (voice mode, notification channels, timezone), owned by noizylab-main.
-- D1 holds the truth; KV `user:prefs:{id}` caches it for readers on the hot path.
ALTER TABLE users ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}';
