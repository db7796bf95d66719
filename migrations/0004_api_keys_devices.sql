-- API keys and devices, owned by noizylab-main.

-- A workspace's API key: `nlk_<id>_<secret>`. Only the SHA-256 of the whole key is kept;
-- the key is shown once. The gateway verifies keys against its per-key Gate object, which
-- main keeps in step with this table (revocation takes effect there at once).
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL CHECK (json_valid(scopes)),
    rate_limit   INTEGER NOT NULL CHECK (rate_limit > 0),   -- requests per minute
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   TEXT NOT NULL,
    expires_at   INTEGER,                                   -- unix seconds; NULL: never
    revoked_at   TEXT,
    revoked_by   TEXT
) STRICT;

CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id, created_at);

-- A customer's device (seed 000: devices).
CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    owner_id     TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    type         TEXT NOT NULL CHECK (type IN ('laptop', 'desktop', 'phone', 'tablet', 'console', 'audio', 'wearable', 'other')),
    make         TEXT,
    model        TEXT,
    serial       TEXT,
    imei         TEXT,
    os           TEXT,
    specs        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(specs)),
    health_score INTEGER CHECK (health_score BETWEEN 0 AND 100),
    last_scan_at TEXT,
    created_at   TEXT NOT NULL,
    deleted_at   TEXT
) STRICT;

CREATE INDEX devices_by_owner ON devices (workspace_id, owner_id, created_at);

-- A requested diagnostic scan of a device (10 per device per hour, enforced at the gateway).
CREATE TABLE device_scans (
    id           TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL REFERENCES devices (id),
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    requested_by TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'complete', 'failed')),
    created_at   TEXT NOT NULL,
    completed_at TEXT
) STRICT;

CREATE INDEX device_scans_by_device ON device_scans (device_id, created_at);

-- `Idempotency-Key` on creating POSTs: the first answer, replayed to a retry of the same
-- request by the same caller for 24 h. A row with no status is a request still running.
CREATE TABLE idempotency_keys (
    actor       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,     -- SHA-256 of method, path and body
    status      INTEGER,
    body        TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
) STRICT;
