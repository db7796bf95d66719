-- The chat agent (noizylab-chat-agent): conversations, their transcript, and the
-- workspace's knowledge base of repair FAQs the agent answers from.

CREATE TABLE chat_conversations (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    customer_id       TEXT NOT NULL REFERENCES users (id),
    ticket_id         TEXT REFERENCES tickets (id),
    -- bot: the agent answers; waiting: handed to a person, none joined yet;
    -- human: a staff member answers; closed: over.
    status            TEXT NOT NULL CHECK (status IN ('bot', 'waiting', 'human', 'closed')),
    assignee_id       TEXT REFERENCES users (id),
    escalation_reason TEXT,
    escalated_at      TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;

CREATE INDEX chat_conversations_by_workspace ON chat_conversations (workspace_id, status, updated_at);
CREATE INDEX chat_conversations_by_customer ON chat_conversations (customer_id, updated_at);
CREATE INDEX chat_conversations_by_ticket ON chat_conversations (ticket_id);

-- Every message said in a conversation (the room keeps the live copy with its sequence
-- numbers; this copy is for search across conversations and on a ticket).
CREATE TABLE chat_messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES chat_conversations (id),
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    ticket_id       TEXT,
    seq             INTEGER NOT NULL,               -- the room's sequence number
    sender_id       TEXT,                           -- NULL for the agent
    sender_name     TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('customer', 'agent', 'staff')),
    visibility      TEXT NOT NULL CHECK (visibility IN ('internal', 'customer')),
    intent          TEXT,                           -- what the agent understood (customer messages)
    text            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (conversation_id, seq)
) STRICT;

CREATE INDEX chat_messages_by_ticket ON chat_messages (ticket_id, created_at);
CREATE INDEX chat_messages_by_workspace ON chat_messages (workspace_id, created_at);

CREATE TABLE kb_articles (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '',        -- space-separated words retrieval also matches
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE INDEX kb_articles_by_workspace ON kb_articles (workspace_id);

INSERT INTO kb_articles (id, workspace_id, title, body, tags, created_at, updated_at) VALUES
    ('kb-hours', 'ws-default', 'Opening hours',
     'We are open Monday to Friday 9:00–18:00 and Saturday 10:00–16:00; closed on Sundays and public holidays. Drop-offs are welcome until 30 minutes before closing.',
     'hours open opening close closed weekend saturday sunday holiday', '2026-11-21T00:00:00Z', '2026-11-21T00:00:00Z'),
    ('kb-warranty', 'ws-default', 'Repair warranty',
     'Every repair carries a 90-day warranty on the parts we fit and the work we do. If the same fault comes back within 90 days, we fix it free of charge.',
     'warranty guarantee fault again broken', '2026-11-21T00:00:00Z', '2026-11-21T00:00:00Z'),
    ('kb-data', 'ws-default', 'Your data and privacy',
     'We never wipe or read your files without asking. Please back up your data before you bring a device in; if a repair needs a wipe, we ask you first in the portal.',
     'data backup files privacy wipe erase photos', '2026-11-21T00:00:00Z', '2026-11-21T00:00:00Z'),
    ('kb-turnaround', 'ws-default', 'How long repairs take',
     'Most screen and battery repairs are done the same or next working day. Board-level repairs take 3–5 working days, longer when a part must be ordered; your repair page shows where yours is.',
     'time long turnaround days fast quick wait', '2026-11-21T00:00:00Z', '2026-11-21T00:00:00Z'),
    ('kb-diagnostics', 'ws-default', 'Diagnostics fee',
     'A full diagnostic costs 49.00 CAD and comes with a written report. It is waived when you approve the repair, and for returning customers.',
     'diagnostic diagnosis fee check inspection report', '2026-11-21T00:00:00Z', '2026-11-21T00:00:00Z'),
    ('kb-payment', 'ws-default', 'Paying for a repair',
     'You pay once the repair is done, by card online from your repair page or at the counter. Every payment earns loyalty points.',
     'payment card invoice points loyalty', '2026-11-21T00:00:00Z', '2026-11-21T00:00:00Z'),
    ('kb-water', 'ws-default', 'Water damage',
     'Switch the device off at once, do not charge it, and bring it in as soon as you can. Rice does not help. We clean the board ultrasonically and tell you what can be saved.',
     'water liquid spill wet coffee rain damage', '2026-11-21T00:00:00Z', '2026-11-21T00:00:00Z'),
    ('kb-pickup', 'ws-default', 'Picking up your device',
     'When your repair is ready you get a message. Bring the repair number or sign in to the portal at the counter; someone else may collect it with your written permission.',
     'pickup collect collection ready counter', '2026-11-21T00:00:00Z', '2026-11-21T00:00:00Z');
