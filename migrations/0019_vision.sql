-- Board vision (issue 14), owned by noizylab-vision.

-- A known-good photo of a board model with its components annotated (reference pixels).
-- The photo itself is in R2 at `image_key`; replacing it bumps `version`.
CREATE TABLE vision_references (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    board_model  TEXT NOT NULL,
    name         TEXT NOT NULL,
    image_key    TEXT NOT NULL,
    format       TEXT NOT NULL CHECK (format IN ('png', 'jpeg')),
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    components   TEXT NOT NULL CHECK (json_valid(components)),
    version      INTEGER NOT NULL DEFAULT 1,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE INDEX vision_references_by_model ON vision_references (workspace_id, board_model, created_at);

-- A photo compared with a reference: the answer as given, the overlay in R2.
CREATE TABLE vision_analyses (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    reference_id    TEXT NOT NULL REFERENCES vision_references (id),
    ticket_id       TEXT REFERENCES tickets (id),
    condition_score INTEGER NOT NULL,
    result          TEXT NOT NULL CHECK (json_valid(result)),
    overlay_key     TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL
) STRICT;

CREATE INDEX vision_analyses_by_ticket ON vision_analyses (ticket_id, created_at);
