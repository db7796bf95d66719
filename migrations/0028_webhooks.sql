-- Outbound webhooks (issue 17), owned by noizylab-workflow-orchestrator: a workspace's
-- integration endpoints, and every delivery made to them (the delivery log).

CREATE TABLE webhook_endpoints (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    url          TEXT NOT NULL,
    description  TEXT,
    -- The events it takes: names, `area.*`, or `*` (a JSON array).
    events       TEXT NOT NULL CHECK (json_valid(events)),
    -- Signs each delivery (HMAC-SHA256); shown once, when the endpoint is made.
    secret       TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id, enabled);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id),
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    -- What it carries: a bus event's id, or `<run>.<step>` for a workflow's webhook step.
    source          TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL CHECK (json_valid(body)),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    next_attempt_at TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    -- A source reaches an endpoint once, however often it is delivered here.
    UNIQUE (endpoint_id, source)
) STRICT;

CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
