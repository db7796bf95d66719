-- Suppliers and purchase orders (issue 16), owned by noizylab-inventory.

CREATE TABLE suppliers (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
    name           TEXT NOT NULL,
    email          TEXT,
    phone          TEXT,
    lead_time_days INTEGER NOT NULL DEFAULT 7 CHECK (lead_time_days BETWEEN 0 AND 365),
    created_at     TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;

-- What a supplier charges for a part (costs per supplier).
CREATE TABLE supplier_parts (
    supplier_id  TEXT NOT NULL REFERENCES suppliers (id),
    part_id      TEXT NOT NULL REFERENCES parts (id),
    cost_cents   INTEGER NOT NULL CHECK (cost_cents >= 0),
    supplier_sku TEXT,
    PRIMARY KEY (supplier_id, part_id)
) STRICT;

-- draft → ordered → partially_received → received → closed, or cancelled before anything
-- arrives. Received stock goes into the ledger at `location`.
CREATE TABLE purchase_orders (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    supplier_id  TEXT NOT NULL REFERENCES suppliers (id),
    status       TEXT NOT NULL CHECK (status IN ('draft', 'ordered', 'partially_received', 'received', 'closed', 'cancelled')),
    location     TEXT NOT NULL,
    note         TEXT,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE INDEX purchase_orders_by_status ON purchase_orders (workspace_id, status, created_at);

-- A line never receives more than it ordered: the CHECK makes an over-receipt fail its
-- whole batch, ledger rows included.
CREATE TABLE purchase_order_lines (
    po_id      TEXT NOT NULL REFERENCES purchase_orders (id),
    line       INTEGER NOT NULL,
    part_id    TEXT NOT NULL REFERENCES parts (id),
    quantity   INTEGER NOT NULL CHECK (quantity >= 1),
    received   INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= quantity),
    cost_cents INTEGER NOT NULL CHECK (cost_cents >= 0),
    PRIMARY KEY (po_id, line)
) STRICT;
