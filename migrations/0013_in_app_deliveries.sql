-- In-app notices (each person's inbox room) are a delivery channel like the others: the
-- deliveries table takes `in_app`. SQLite cannot change a CHECK in place, so the table is
-- rebuilt with its rows and index.
CREATE TABLE deliveries_next (
    event_id     TEXT NOT NULL,
    recipient    TEXT NOT NULL,                 -- a user id, or the workspace for team channels
    channel      TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'slack', 'discord', 'in_app')),
    event        TEXT NOT NULL,
    workspace_id TEXT,
    ticket_id    TEXT,
    status       TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'skipped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    detail       TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (event_id, recipient, channel)
) STRICT;

INSERT INTO deliveries_next SELECT event_id, recipient, channel, event, workspace_id, ticket_id, status, attempts,
    detail, updated_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_next RENAME TO deliveries;
CREATE INDEX deliveries_by_ticket ON deliveries (ticket_id, updated_at) WHERE ticket_id IS NOT NULL;
