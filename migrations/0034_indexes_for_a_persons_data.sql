-- A person's export (`GET /api/v1/users/me/export`) and erasure (`DELETE /api/v1/users/me`)
-- read and change everything of theirs in every workspace, so by person alone, not by
-- workspace first as the everyday indexes go. Without these each read a whole table —
-- the audit log, every device, ticket, timeline entry, attachment and chat message of the
-- shop — for one person's request (checked with EXPLAIN QUERY PLAN; tests/tests/sql.rs
-- holds the plans). Both are rare; the indexes cost a little on each insert of these rows.

CREATE INDEX devices_by_owner_anywhere ON devices (owner_id, created_at);

-- Also how the export reaches their tickets' timeline entries and attachments.
CREATE INDEX tickets_by_customer_anywhere ON tickets (customer_id, created_at);

-- The entries they made or that name them (`actor = ? OR target = ?`: one index each).
CREATE INDEX audit_log_by_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_by_target ON audit_log (target, seq);

CREATE INDEX chat_messages_by_sender ON chat_messages (sender_id);
