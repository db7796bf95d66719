-- Scans run by `brain` (issue 13): what was scanned, how far it got, what it found.
-- `input` is the validated scan input (the seed's device data: smartctl JSON, logs …);
-- `result` the diagnosis in the seed's shape; `observation` what the foresight engine keeps
-- of the scan for the device's later forecasts.
ALTER TABLE device_scans ADD COLUMN input TEXT CHECK (input IS NULL OR json_valid(input));
ALTER TABLE device_scans ADD COLUMN ticket_id TEXT;
ALTER TABLE device_scans ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_scans ADD COLUMN started_at TEXT;
ALTER TABLE device_scans ADD COLUMN health_score INTEGER;
ALTER TABLE device_scans ADD COLUMN result TEXT CHECK (result IS NULL OR json_valid(result));
ALTER TABLE device_scans ADD COLUMN observation TEXT CHECK (observation IS NULL OR json_valid(observation));
ALTER TABLE device_scans ADD COLUMN error TEXT;

-- A workspace's history, newest first.
CREATE INDEX device_scans_by_workspace ON device_scans (workspace_id, created_at);

-- Reports made from a scan (and the scan before it) or a remote session. The JSON is the
-- report itself; its HTML and PDF renderings are in R2 under `reports/{id}.html|pdf`.
CREATE TABLE diagnostic_reports (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    device_id    TEXT NOT NULL REFERENCES devices (id),
    scan_id      TEXT REFERENCES device_scans (id),
    session_id   TEXT REFERENCES repair_sessions (id),
    kind         TEXT NOT NULL CHECK (kind IN ('diagnostic', 'remote_session')),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    report       TEXT NOT NULL CHECK (json_valid(report)),
    emailed_at   TEXT
) STRICT;

CREATE INDEX diagnostic_reports_by_device ON diagnostic_reports (device_id, created_at);
