-- Deal hunting (issue 16), owned by noizylab-ebay-sniper; and purchase orders that come
-- from an approved deal (noizylab-inventory).

-- What to look for on eBay for a part, and how good a find must be.
CREATE TABLE watches (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    part_id           TEXT NOT NULL REFERENCES parts (id),
    query             TEXT NOT NULL,
    category_id       TEXT,
    condition         TEXT NOT NULL CHECK (condition IN ('new', 'refurbished', 'used', 'for_parts')),
    max_total_cents   INTEGER NOT NULL CHECK (max_total_cents > 0),
    currency          TEXT NOT NULL CHECK (length(currency) = 3),
    target_margin_bps INTEGER NOT NULL CHECK (target_margin_bps BETWEEN 0 AND 9000),
    min_score         INTEGER NOT NULL CHECK (min_score BETWEEN 0 AND 100),
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    -- 'person' or 'low_stock' (made by a hunt for a part that had no watch).
    origin            TEXT NOT NULL DEFAULT 'person' CHECK (origin IN ('person', 'low_stock')),
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    last_run_at       TEXT,
    last_error        TEXT
) STRICT;

CREATE INDEX watches_by_part ON watches (workspace_id, part_id);

-- A listing a watch found, as judged when last seen. `deal.found` is sent once per row,
-- when it first scores at or above its watch's `min_score` (`alerted_at`).
CREATE TABLE deals (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL REFERENCES workspaces (id),
    watch_id           TEXT NOT NULL REFERENCES watches (id),
    part_id            TEXT NOT NULL REFERENCES parts (id),
    listing_id         TEXT NOT NULL,
    title              TEXT NOT NULL,
    url                TEXT,
    seller             TEXT NOT NULL,
    seller_feedback_permille INTEGER,
    seller_feedback_score    INTEGER,
    country            TEXT,
    condition          TEXT,
    price_cents        INTEGER NOT NULL CHECK (price_cents >= 0),
    shipping_cents     INTEGER NOT NULL CHECK (shipping_cents >= 0),
    tax_cents          INTEGER NOT NULL CHECK (tax_cents >= 0),
    landed_cents       INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    stock_cost_cents   INTEGER NOT NULL,
    margin_bps         INTEGER NOT NULL,
    score              INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    reasons            TEXT NOT NULL CHECK (json_valid(reasons)),
    rejected           TEXT,
    found_at           TEXT NOT NULL,
    seen_at            TEXT NOT NULL,
    alerted_at         TEXT,
    UNIQUE (watch_id, listing_id)
) STRICT;

CREATE INDEX deals_by_score ON deals (workspace_id, score DESC, found_at);

-- Buying a deal: asked for by staff, decided by an owner or admin. Nothing is bought
-- without `approved`; the order it made is `purchase_order_id`. One open request per deal.
CREATE TABLE purchase_requests (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    deal_id           TEXT NOT NULL REFERENCES deals (id),
    quantity          INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    location          TEXT NOT NULL,
    note              TEXT,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by      TEXT NOT NULL,
    requested_at      TEXT NOT NULL,
    decided_by        TEXT,
    decided_at        TEXT,
    decision_note     TEXT,
    purchase_order_id TEXT
) STRICT;

CREATE UNIQUE INDEX purchase_requests_one_open ON purchase_requests (deal_id) WHERE status IN ('pending', 'approved');
CREATE INDEX purchase_requests_by_status ON purchase_requests (workspace_id, status, requested_at);

-- Where a purchase order came from (`ebay:<purchase request>`): an approval heard twice
-- finds the order it already made.
ALTER TABLE purchase_orders ADD COLUMN source TEXT;
CREATE UNIQUE INDEX purchase_orders_by_source ON purchase_orders (workspace_id, source) WHERE source IS NOT NULL;
