-- Invoices, Stripe events and the loyalty ledger, owned by noizylab-customer-portal.

-- What a customer owes for an approved quote. Money in integer cents.
CREATE TABLE invoices (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    customer_id       TEXT NOT NULL REFERENCES users (id),
    ticket_id         TEXT NOT NULL REFERENCES tickets (id),
    quote_id          TEXT NOT NULL UNIQUE REFERENCES quotes (id),
    currency          TEXT NOT NULL,
    amount_cents      INTEGER NOT NULL CHECK (amount_cents > 0),
    status            TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void')),
    checkout_session  TEXT,                 -- Stripe Checkout Session id
    payment_intent    TEXT,
    created_at        TEXT NOT NULL,
    paid_at           TEXT
) STRICT;

CREATE INDEX invoices_by_customer ON invoices (workspace_id, customer_id, created_at);

-- Every Stripe event handled, by its id: a redelivery finds its row and does nothing.
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at TEXT NOT NULL
) STRICT;

-- Points earned and spent; loyalty_accounts holds the running balance and tier.
CREATE TABLE loyalty_ledger (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    points       INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    invoice_id   TEXT UNIQUE,               -- one award per paid invoice
    at           TEXT NOT NULL
) STRICT;

CREATE INDEX loyalty_ledger_by_user ON loyalty_ledger (workspace_id, user_id, id);
