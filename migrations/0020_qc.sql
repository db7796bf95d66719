-- Quality control (issue 14), owned by noizylab-qc-inspector.

-- A workspace's checkpoints for one device type (`devices.type`), as JSON
-- (`noizylab_core::qc::Checkpoint`). Replacing them bumps `version`; inspections keep the
-- copy they started with.
CREATE TABLE qc_templates (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    device_type  TEXT NOT NULL,
    checkpoints  TEXT NOT NULL CHECK (json_valid(checkpoints)),
    version      INTEGER NOT NULL DEFAULT 1,
    updated_by   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, device_type)
) STRICT;

-- One inspection of a ticket in QC. `attempt` counts the ticket's finished inspections
-- (1: the first after the repair; first-pass yield counts those; a cancelled one does not
-- count); `technician_id` is who did the
-- repair (the ticket's assignee when the inspection started).
CREATE TABLE qc_inspections (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL REFERENCES workspaces (id),
    ticket_id            TEXT NOT NULL REFERENCES tickets (id),
    attempt              INTEGER NOT NULL CHECK (attempt >= 1),
    device_type          TEXT NOT NULL,
    technician_id        TEXT,
    inspector_id         TEXT NOT NULL,
    template_version     INTEGER NOT NULL,
    checkpoints          TEXT NOT NULL CHECK (json_valid(checkpoints)),
    status               TEXT NOT NULL CHECK (status IN ('open', 'passed', 'failed', 'cancelled')),
    report_attachment_id TEXT,
    created_at           TEXT NOT NULL,
    completed_at         TEXT
) STRICT;

-- At most one open inspection per ticket.
CREATE UNIQUE INDEX qc_inspections_open ON qc_inspections (ticket_id) WHERE status = 'open';
CREATE INDEX qc_inspections_by_ticket ON qc_inspections (ticket_id, created_at);
CREATE INDEX qc_inspections_by_workspace ON qc_inspections (workspace_id, attempt, completed_at);

-- A recorded checkpoint: once per checkpoint (the primary key refuses a second answer).
CREATE TABLE qc_answers (
    inspection_id TEXT NOT NULL REFERENCES qc_inspections (id),
    checkpoint    TEXT NOT NULL,
    answer        TEXT NOT NULL CHECK (json_valid(answer)),
    passed        INTEGER NOT NULL CHECK (passed IN (0, 1)),
    detail        TEXT NOT NULL,
    analysis_id   TEXT,
    recorded_by   TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    PRIMARY KEY (inspection_id, checkpoint)
) STRICT;
