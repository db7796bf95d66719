-- Workflow definitions (issue 17), owned by noizylab-workflow-orchestrator. Every save is
-- a new version, kept; a run keeps the version it started with.

CREATE TABLE workflows (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    -- The version new runs start with.
    version       INTEGER NOT NULL CHECK (version >= 1),
    enabled       INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    trigger_type  TEXT NOT NULL CHECK (trigger_type IN ('event', 'manual', 'schedule')),
    -- For an event trigger: the event, so the bus finds its workflows by index.
    trigger_event TEXT,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;

CREATE INDEX workflows_by_event ON workflows (trigger_event, enabled);

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    version     INTEGER NOT NULL CHECK (version >= 1),
    definition  TEXT NOT NULL CHECK (json_valid(definition)),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (workflow_id, version)
) STRICT;
