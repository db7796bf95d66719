-- Workflow runs and human tasks (issue 17), owned by noizylab-workflow-orchestrator.
-- A run's state lives in its Durable Object (`WorkflowRun`, one per run); these rows are
-- the index people list and filter by, written by the object as the run moves.

CREATE TABLE workflow_runs (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    workflow_id   TEXT NOT NULL REFERENCES workflows (id),
    version       INTEGER NOT NULL CHECK (version >= 1),
    -- What started it: the event's id, `manual:<request>`, or `schedule:<minute>`. A
    -- trigger starts a workflow once, however often it is delivered.
    trigger_ref   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'waiting', 'succeeded', 'failed')),
    current_step  TEXT,
    error         TEXT,
    started_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT,
    UNIQUE (workflow_id, trigger_ref)
) STRICT;

CREATE INDEX workflow_runs_by_workspace ON workflow_runs (workspace_id, started_at);

CREATE TABLE workflow_tasks (
    -- `<run>.<step>`: a step waits for one decision.
    id             TEXT PRIMARY KEY,
    run_id         TEXT NOT NULL REFERENCES workflow_runs (id),
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
    step_id        TEXT NOT NULL,
    title          TEXT NOT NULL,
    -- Who may decide: a role of the workspace, or one person.
    assignee_role  TEXT,
    assignee_user  TEXT,
    -- The form (its fields, as the definition has them) and what the run knew.
    form           TEXT NOT NULL CHECK (json_valid(form)),
    context        TEXT NOT NULL CHECK (json_valid(context)),
    status         TEXT NOT NULL CHECK (status IN ('open', 'approved', 'rejected')),
    due_at         TEXT NOT NULL,
    escalated_at   TEXT,
    reminded_at    TEXT,
    decided_by     TEXT,
    decided_at     TEXT,
    comment        TEXT,
    answers        TEXT CHECK (answers IS NULL OR json_valid(answers)),
    created_at     TEXT NOT NULL,
    CHECK (assignee_role IS NOT NULL OR assignee_user IS NOT NULL)
) STRICT;

CREATE INDEX workflow_tasks_open ON workflow_tasks (workspace_id, status, created_at);

-- The platform's default workflows (the seed's repair intake and parts sourcing), put
-- into a workspace once: a workspace that deletes, renames or edits one keeps its choice.
CREATE TABLE workflow_defaults (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, name)
) STRICT;
