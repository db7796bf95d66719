-- Schematics (issue 15), owned by noizylab-schematic-analyzer.

-- An imported KiCad netlist: the file itself in R2 at `r2_key`, its parse below. A
-- schematic is visible once `status` is 'ready' (its parts and nets are all written).
CREATE TABLE schematics (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    name            TEXT NOT NULL,
    board_model     TEXT,
    device_type     TEXT,
    format_version  TEXT NOT NULL,
    tool            TEXT,
    source          TEXT,
    component_count INTEGER NOT NULL,
    net_count       INTEGER NOT NULL,
    -- Symbol pins no net reaches, as JSON (`noizylab_core::schematic::netlist::Node`).
    unconnected     TEXT NOT NULL CHECK (json_valid(unconnected)),
    r2_key          TEXT NOT NULL,
    size            INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('importing', 'ready')),
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL
) STRICT;

CREATE INDEX schematics_by_workspace ON schematics (workspace_id, board_model, created_at);

-- Its parts: the columns lookups search, and the whole part as JSON.
CREATE TABLE schematic_components (
    schematic_id TEXT NOT NULL REFERENCES schematics (id),
    reference    TEXT NOT NULL,
    value        TEXT NOT NULL,
    footprint    TEXT,
    part_number  TEXT,
    kind         TEXT NOT NULL,
    data         TEXT NOT NULL CHECK (json_valid(data)),
    PRIMARY KEY (schematic_id, reference)
) STRICT;

-- Its nets, each with its pins (reference, pin, function, type) as JSON.
CREATE TABLE schematic_nets (
    schematic_id TEXT NOT NULL REFERENCES schematics (id),
    code         TEXT NOT NULL,
    name         TEXT NOT NULL,
    nodes        TEXT NOT NULL CHECK (json_valid(nodes)),
    PRIMARY KEY (schematic_id, name)
) STRICT;
