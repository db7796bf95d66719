-- Technician training (issue 18), owned by noizylab-training: simulations built from the
-- shop's real finished repairs, attempts, an XP ledger, certifications.

-- A simulation: one finished repair, anonymised. The trainee sees the symptoms and the
-- findings and picks the part the repair needed among `choices`; `answer` and `outcome`
-- (what really happened) are shown once they have answered.
CREATE TABLE training_simulations (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    ticket_id    TEXT NOT NULL,
    module       TEXT NOT NULL,
    device_type  TEXT NOT NULL,
    question     TEXT NOT NULL,
    symptoms     TEXT NOT NULL,
    findings     TEXT NOT NULL CHECK (json_valid(findings)),
    choices      TEXT NOT NULL CHECK (json_valid(choices)),
    answer       TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (json_valid(outcome)),
    created_at   TEXT NOT NULL,
    UNIQUE (workspace_id, ticket_id)
) STRICT;

CREATE INDEX training_simulations_by_module ON training_simulations (workspace_id, module, created_at);

-- Every answer given. The first per person and simulation scores and earns XP.
CREATE TABLE training_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    simulation_id TEXT NOT NULL REFERENCES training_simulations (id),
    choice        TEXT NOT NULL,
    correct       INTEGER NOT NULL CHECK (correct IN (0, 1)),
    score         INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    at            TEXT NOT NULL
) STRICT;

CREATE INDEX training_attempts_by_user ON training_attempts (workspace_id, user_id, simulation_id, id);

-- XP, as a ledger: one row per thing that earned it, `source` unique per person (`sim:<id>`,
-- `event:<bus event id>`), so a redelivered event or a double-clicked answer earns once.
CREATE TABLE training_xp (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    source       TEXT NOT NULL,
    xp           INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    at           TEXT NOT NULL,
    UNIQUE (workspace_id, user_id, source)
) STRICT;

CREATE INDEX training_xp_by_time ON training_xp (workspace_id, at);

-- A certification: every module named passed (each simulation answered, the mean first
-- score at least `min_score`); valid for `valid_days` from when it was earned.
CREATE TABLE training_certifications (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    modules      TEXT NOT NULL CHECK (json_valid(modules)),
    min_score    INTEGER NOT NULL CHECK (min_score BETWEEN 0 AND 100),
    valid_days   INTEGER NOT NULL CHECK (valid_days > 0),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;

-- Who holds which certification until when (earning it again renews it).
CREATE TABLE training_certificates (
    workspace_id     TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    certification_id TEXT NOT NULL REFERENCES training_certifications (id),
    earned_at        TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id, certification_id)
) STRICT;
