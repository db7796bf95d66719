-- Quotes and price lists, owned by noizylab-pricing; loyalty by noizylab-customer-portal.

-- A workspace's prices (noizylab_core::pricing::PriceList). Without a row, the defaults.
CREATE TABLE price_lists (
    workspace_id         TEXT PRIMARY KEY REFERENCES workspaces (id),
    currency             TEXT NOT NULL CHECK (length(currency) = 3),
    labor_rate_cents     INTEGER NOT NULL CHECK (labor_rate_cents > 0),
    diagnostic_fee_cents INTEGER NOT NULL CHECK (diagnostic_fee_cents >= 0),
    parts_markup_bps     INTEGER NOT NULL CHECK (parts_markup_bps >= 0),
    margin_floor_bps     INTEGER NOT NULL CHECK (margin_floor_bps BETWEEN 0 AND 9000),
    tax_bps              INTEGER NOT NULL CHECK (tax_bps BETWEEN 0 AND 5000),
    guarantee_days       INTEGER NOT NULL CHECK (guarantee_days >= 0),
    quote_valid_hours    INTEGER NOT NULL CHECK (quote_valid_hours > 0),
    updated_at           TEXT NOT NULL
) STRICT;

-- Fixed-price packages a shop advertises (seed 000: GET /pricing/packages).
CREATE TABLE packages (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    price_cents      INTEGER NOT NULL CHECK (price_cents >= 0),
    estimated_minutes INTEGER NOT NULL,
    guarantee_days   INTEGER NOT NULL
) STRICT;

INSERT INTO packages VALUES
    ('pkg-diagnostic', 'ws-default', 'Full diagnostic', 'Hardware and software health check with a written report', 4900, 30, 0),
    ('pkg-tuneup', 'ws-default', 'Tune-up', 'Cleaning, thermal paste, OS clean-up and updates', 12900, 90, 30),
    ('pkg-screen', 'ws-default', 'Screen replacement (labour)', 'Display swap; the panel is quoted separately', 9900, 60, 90),
    ('pkg-battery', 'ws-default', 'Battery replacement (labour)', 'Battery swap and calibration; the cell is quoted separately', 6900, 45, 90);

-- Quotes: money in integer cents. A ticket's current quote is tickets.quote_id.
CREATE TABLE quotes (
    id                     TEXT PRIMARY KEY,
    workspace_id           TEXT NOT NULL REFERENCES workspaces (id),
    ticket_id              TEXT REFERENCES tickets (id),
    customer_id            TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('estimate', 'issued', 'approved', 'declined', 'superseded')),
    currency               TEXT NOT NULL,
    total_cents            INTEGER NOT NULL,
    breakdown              TEXT NOT NULL CHECK (json_valid(breakdown)),
    explanation            TEXT NOT NULL CHECK (json_valid(explanation)),
    inputs                 TEXT NOT NULL CHECK (json_valid(inputs)),
    estimated_time_minutes INTEGER NOT NULL,
    guarantee_days         INTEGER NOT NULL,
    created_by             TEXT NOT NULL,
    created_at             TEXT NOT NULL,
    expires_at             TEXT NOT NULL,
    expires_at_secs        INTEGER NOT NULL,
    decided_at             TEXT,
    decided_by             TEXT,
    decided_ip             TEXT,
    decided_user_agent     TEXT,
    decline_reason         TEXT
) STRICT;

CREATE INDEX quotes_by_ticket ON quotes (ticket_id, created_at);

-- Loyalty (owned by noizylab-customer-portal): points per dollar paid, tiers.
CREATE TABLE loyalty_accounts (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    points       INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
    lifetime_points INTEGER NOT NULL DEFAULT 0,
    tier         TEXT NOT NULL DEFAULT 'bronze' CHECK (tier IN ('bronze', 'silver', 'gold', 'platinum')),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) STRICT;
