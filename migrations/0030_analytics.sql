-- Analytics read models (issue 18), owned by noizylab-analytics and kept by consuming the
-- event bus (the orchestrator hands each new event on). One fact per event, keyed by the
-- event's id: a redelivered event finds its row and counts nothing again. Each fact carries
-- what its reports group by (device type, service, technician), looked up once when the
-- event arrives, so a report is one indexed scan of this table.

CREATE TABLE analytics_facts (
    event_id      TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('opened', 'stage', 'completed', 'quote_issued', 'quote_approved',
                      'quote_declined', 'payment', 'qc_passed', 'qc_failed', 'message_answered', 'scan')),
    at            TEXT NOT NULL,          -- when it happened (the event's timestamp, RFC 3339 UTC)
    ticket_id     TEXT,
    actor_id      TEXT,                   -- who did it (the staff member answering, the approver)
    technician_id TEXT,                   -- the ticket's technician when it happened
    device_type   TEXT,
    service       TEXT,                   -- the approved quote's service tier (pricing's complexity)
    stage         TEXT,                   -- 'stage': the status left; 'completed': null
    seconds       REAL,                   -- 'stage': time spent in it
    amount        INTEGER,                -- cents: a quote's total, a payment, a completed repair's parts cost
    value         INTEGER                 -- a scan's health score; a QC attempt's number
) STRICT;

CREATE INDEX analytics_facts_by_kind ON analytics_facts (workspace_id, kind, at);
CREATE INDEX analytics_facts_by_ticket ON analytics_facts (ticket_id, kind, at);
