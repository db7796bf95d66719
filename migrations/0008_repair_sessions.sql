-- Remote repair sessions (seed 000), owned by noizylab-main. The live channel is the
-- session's RepairSession object; KV `session:state:{id}` (24 h) mirrors its state.
CREATE TABLE repair_sessions (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    device_id        TEXT NOT NULL REFERENCES devices (id),
    customer_id      TEXT NOT NULL REFERENCES users (id),
    ticket_id        TEXT REFERENCES tickets (id),
    technician_id    TEXT REFERENCES users (id),
    issue            TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('waiting', 'active', 'ended')),
    started_at       TEXT NOT NULL,
    started_at_secs  INTEGER NOT NULL,
    ended_at         TEXT,
    duration_seconds INTEGER,
    outcome          TEXT CHECK (outcome IN ('resolved', 'unresolved', 'escalated')),
    summary          TEXT,
    report           TEXT CHECK (report IS NULL OR json_valid(report))
) STRICT;

CREATE INDEX repair_sessions_by_customer ON repair_sessions (workspace_id, customer_id, started_at);

-- Every action a technician sent to the device agent.
CREATE TABLE session_actions (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES repair_sessions (id),
    technician_id TEXT NOT NULL,
    type          TEXT NOT NULL,
    params        TEXT NOT NULL CHECK (json_valid(params)),
    at            TEXT NOT NULL
) STRICT;

CREATE INDEX session_actions_by_session ON session_actions (session_id, at);
