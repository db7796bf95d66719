-- The notifications hub, owned by noizylab-notifications (users.phone by noizylab-main).

-- A mobile number for SMS, E.164 (`+15145550123`).
ALTER TABLE users ADD COLUMN phone TEXT;

-- Where a workspace's staff hear about events: Slack and Discord incoming webhooks.
CREATE TABLE workspace_channels (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind         TEXT NOT NULL CHECK (kind IN ('slack', 'discord')),
    url          TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, kind)
) STRICT;

-- One row per (event, recipient, channel): at-least-once delivery upstream never sends a
-- message twice. `sent` and `skipped` rows are final; `failed` ones are tried again.
CREATE TABLE deliveries (
    event_id     TEXT NOT NULL,
    recipient    TEXT NOT NULL,                 -- a user id, or the workspace for team channels
    channel      TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'slack', 'discord')),
    event        TEXT NOT NULL,
    workspace_id TEXT,
    ticket_id    TEXT,
    status       TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'skipped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    detail       TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (event_id, recipient, channel)
) STRICT;

CREATE INDEX deliveries_by_ticket ON deliveries (ticket_id, updated_at) WHERE ticket_id IS NOT NULL;
