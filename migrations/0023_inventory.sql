-- Parts and stock (issue 16), owned by noizylab-inventory.

-- The catalogue: a part by its SKU, with what it fits and how it is reordered.
CREATE TABLE parts (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    sku              TEXT NOT NULL,
    mpn              TEXT,
    description      TEXT NOT NULL,
    category         TEXT NOT NULL,
    cost_cents       INTEGER NOT NULL CHECK (cost_cents >= 0),
    currency         TEXT NOT NULL,
    reorder_point    INTEGER NOT NULL DEFAULT 0 CHECK (reorder_point >= 0),
    reorder_quantity INTEGER NOT NULL DEFAULT 0 CHECK (reorder_quantity >= 0),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (workspace_id, sku)
) STRICT;

-- Barcodes and QR payloads that name a part (several per part, one part per code).
CREATE TABLE part_codes (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    code         TEXT NOT NULL,
    part_id      TEXT NOT NULL REFERENCES parts (id),
    PRIMARY KEY (workspace_id, code)
) STRICT;

-- Compatibility: the device models a part fits, searchable both ways.
CREATE TABLE part_models (
    part_id      TEXT NOT NULL REFERENCES parts (id),
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    device_model TEXT NOT NULL,
    PRIMARY KEY (part_id, device_model)
) STRICT;

CREATE INDEX part_models_by_model ON part_models (workspace_id, device_model);

-- The stock ledger: every movement, never edited. On hand is the sum of `quantity`,
-- reserved the sum of `reserved`, available their difference, per part and location.
CREATE TABLE stock_ledger (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    part_id      TEXT NOT NULL REFERENCES parts (id),
    location     TEXT NOT NULL,
    bin          TEXT,
    kind         TEXT NOT NULL CHECK (kind IN ('receive', 'reserve', 'consume', 'release', 'adjust', 'transfer_out', 'transfer_in')),
    quantity     INTEGER NOT NULL,
    reserved     INTEGER NOT NULL,
    ticket_id    TEXT,
    reason       TEXT,
    actor_id     TEXT NOT NULL,
    at           TEXT NOT NULL
) STRICT;

CREATE INDEX stock_ledger_by_part ON stock_ledger (part_id, location);
CREATE INDEX stock_ledger_by_ticket ON stock_ledger (ticket_id, part_id);
