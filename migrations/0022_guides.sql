-- Repair guides (issue 15), owned by noizylab-ar-guide.

-- An uploaded asset: a 3D model (glTF 2.0, validated; its nodes as JSON) or a step image.
-- The bytes are in R2 at `r2_key`.
CREATE TABLE guide_assets (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind         TEXT NOT NULL CHECK (kind IN ('model', 'image')),
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    r2_key       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    -- For a model: `noizylab_core::guides::Model` as JSON; for an image: '{}'.
    model        TEXT NOT NULL CHECK (json_valid(model)),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;

-- A guide for a device model; `version` is its current version.
CREATE TABLE guides (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    title        TEXT NOT NULL,
    device_model TEXT NOT NULL,
    device_type  TEXT,
    version      INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    archived_at  TEXT
) STRICT;

CREATE INDEX guides_by_model ON guides (workspace_id, device_model);

-- Every version of a guide's steps (`noizylab_core::guides::Step` as JSON), kept.
CREATE TABLE guide_versions (
    guide_id   TEXT NOT NULL REFERENCES guides (id),
    version    INTEGER NOT NULL,
    title      TEXT NOT NULL,
    asset_id   TEXT REFERENCES guide_assets (id),
    steps      TEXT NOT NULL CHECK (json_valid(steps)),
    note       TEXT,
    author_id  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (guide_id, version)
) STRICT;

-- Which step each technician is on, per ticket and guide; `completed_at` once done.
CREATE TABLE guide_progress (
    guide_id      TEXT NOT NULL REFERENCES guides (id),
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    technician_id TEXT NOT NULL,
    version       INTEGER NOT NULL,
    step          INTEGER NOT NULL CHECK (step >= 1),
    started_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    completed_at  TEXT,
    PRIMARY KEY (guide_id, ticket_id, technician_id)
) STRICT;
