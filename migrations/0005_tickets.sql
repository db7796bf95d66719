-- Repair tickets, owned by noizylab-main. Lifecycle in noizylab_core::tickets.

CREATE TABLE tickets (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    number       INTEGER NOT NULL,                  -- per workspace, what people say aloud
    customer_id  TEXT NOT NULL REFERENCES users (id),
    device_id    TEXT REFERENCES devices (id),
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('INTAKE', 'TRIAGE', 'DIAGNOSTICS', 'AWAITING_APPROVAL',
                    'APPROVED', 'WAITING_PARTS', 'IN_REPAIR', 'QC', 'READY', 'PICKED_UP', 'CLOSED', 'VOID')),
    priority     TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    assignee_id  TEXT REFERENCES users (id),
    due_at       TEXT,
    quote_id     TEXT,                              -- the current quote (noizylab-pricing)
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (workspace_id, number)
) STRICT;

CREATE INDEX tickets_by_status ON tickets (workspace_id, status, updated_at);
CREATE INDEX tickets_by_customer ON tickets (workspace_id, customer_id, created_at);
CREATE INDEX tickets_by_assignee ON tickets (workspace_id, assignee_id, status);

-- Everything that happened to a ticket, in order. `visibility` 'internal' entries are
-- for staff only; customers see 'customer' ones.
CREATE TABLE ticket_timeline (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    at          TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('created', 'status', 'assigned', 'priority', 'due', 'note', 'message',
                    'attachment', 'quote', 'timer')),
    from_status TEXT,
    to_status   TEXT,
    body        TEXT,
    visibility  TEXT NOT NULL CHECK (visibility IN ('internal', 'customer'))
) STRICT;

CREATE INDEX ticket_timeline_by_ticket ON ticket_timeline (ticket_id, seq);

-- Bench time: one row per start/stop span of one technician on one ticket.
CREATE TABLE ticket_timers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    technician_id TEXT NOT NULL REFERENCES users (id),
    started_at    INTEGER NOT NULL,                 -- unix seconds
    stopped_at    INTEGER
) STRICT;

-- At most one running timer per technician per ticket.
CREATE UNIQUE INDEX ticket_timers_running ON ticket_timers (ticket_id, technician_id) WHERE stopped_at IS NULL;

-- Intake photos and documents; the bytes live in R2 under `r2_key`.
CREATE TABLE ticket_attachments (
    id           TEXT PRIMARY KEY,
    ticket_id    TEXT NOT NULL REFERENCES tickets (id),
    r2_key       TEXT NOT NULL UNIQUE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    visibility   TEXT NOT NULL CHECK (visibility IN ('internal', 'customer')),
    created_at   TEXT NOT NULL
) STRICT;

CREATE INDEX ticket_attachments_by_ticket ON ticket_attachments (ticket_id, created_at);
