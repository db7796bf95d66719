-- The event bus's durable side, owned by noizylab-workflow-orchestrator.
--
-- event_log: every event the bus delivered, once (consumers are idempotent on `id`,
-- because Queues deliver at least once).
CREATE TABLE event_log (
    id           TEXT PRIMARY KEY,
    event        TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,              -- the producer's timestamp, RFC 3339 UTC
    received_at  TEXT NOT NULL,              -- when the orchestrator consumed it
    workspace_id TEXT,
    ticket_id    TEXT,
    device_id    TEXT,
    payload      TEXT NOT NULL CHECK (json_valid(payload))
) STRICT;

CREATE INDEX event_log_by_event ON event_log (event, received_at);
CREATE INDEX event_log_by_workspace ON event_log (workspace_id, received_at);
CREATE INDEX event_log_by_ticket ON event_log (ticket_id, received_at) WHERE ticket_id IS NOT NULL;

-- dead_letters: messages that exhausted their retries (from every `*-dlq`) or could never
-- be processed, kept for an operator to inspect and replay.
CREATE TABLE dead_letters (
    message_id  TEXT PRIMARY KEY,
    queue       TEXT NOT NULL,               -- the queue the message failed on
    body        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    replayed_at TEXT
) STRICT;

CREATE INDEX dead_letters_by_queue ON dead_letters (queue, received_at);
