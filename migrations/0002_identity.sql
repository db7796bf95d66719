-- Identity and access, owned by noizylab-main (dev_outbox by noizylab-notifications).
-- Times: TEXT columns are RFC 3339 UTC; INTEGER `*_at` columns are unix seconds, used
-- where the code compares them.

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- The shop every deployment starts with; more are created by owners.
INSERT INTO workspaces (id, name, created_at) VALUES ('ws-default', 'NoizyLab', '2026-11-21T00:00:00Z');

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,          -- lowercased before it gets here
    name          TEXT,
    created_at    TEXT NOT NULL,
    last_login_at TEXT,
    disabled_at   TEXT,
    -- Bumped by a role change or disabling: older access tokens stop working at once.
    auth_epoch    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'technician', 'customer', 'guest')),
    created_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) STRICT;

CREATE INDEX memberships_by_user ON memberships (user_id);

-- A magic link and its 6-digit code, stored only hashed, single use, 10 minutes.
CREATE TABLE magic_links (
    id           TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    code_hash    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    ip           TEXT
) STRICT;

CREATE INDEX magic_links_by_email ON magic_links (email, created_at);
CREATE INDEX magic_links_by_ip ON magic_links (ip, created_at);

-- A signed-in session: one refresh-token family, 24 h at most.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id);

-- Every refresh token ever issued in a session; a second use of one revokes the session.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    created_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

-- Append-only, hash-chained (see noizylab_core::audit). Never holds tokens or codes.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT,
    workspace_id TEXT,
    target       TEXT,
    ip           TEXT,
    request_id   TEXT,
    detail       TEXT NOT NULL CHECK (json_valid(detail)),
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE
) STRICT;

CREATE INDEX audit_by_workspace ON audit_log (workspace_id, seq);

-- Development only: mail that would have gone to a provider.
CREATE TABLE dev_outbox (
    id         TEXT PRIMARY KEY,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX dev_outbox_by_recipient ON dev_outbox (recipient, created_at);
