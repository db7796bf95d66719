-- Emailed replies to tickets received by noizylab-main (SendGrid Inbound Parse): one row per
-- message id, so a redelivered webhook adds nothing twice.
CREATE TABLE inbound_emails (
    message_id  TEXT PRIMARY KEY,               -- the Message-ID header, or a hash of the mail
    ticket_id   TEXT NOT NULL,
    sender      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('received', 'added', 'refused')),
    detail      TEXT,
    received_at TEXT NOT NULL
) STRICT;

CREATE INDEX inbound_emails_by_ticket ON inbound_emails (ticket_id, received_at);
