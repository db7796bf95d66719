-- Reads that went through a whole table, each now found through an index (each statement
-- checked with EXPLAIN QUERY PLAN against the migrated schema; tests/tests/sql.rs holds
-- the plans). Every one of these tables grows with the shop's history.

-- A ticket's time per technician, on every staff view of a ticket (main's `tickets`). The
-- partial index of running timers covered only the running ones.
CREATE INDEX ticket_timers_by_ticket ON ticket_timers (ticket_id, technician_id);

-- A person's live API keys, cut down when their rights shrink (main's `store::follow_creator`).
CREATE INDEX api_keys_by_creator ON api_keys (created_by);

-- The report of a remote repair session, once it ends (brain's `reports`).
CREATE INDEX diagnostic_reports_by_session ON diagnostic_reports (session_id, created_at);

-- A part's codes, read with the part and replaced when it is edited (inventory).
CREATE INDEX part_codes_by_part ON part_codes (part_id, code);

-- Whether a reference photo is still in use before it is deleted (vision).
CREATE INDEX vision_analyses_by_reference ON vision_analyses (reference_id);

-- A trainee's first attempt at a simulation (training).
CREATE INDEX training_attempts_by_simulation ON training_attempts (user_id, simulation_id, id);

-- The stock ledger's latest entries in a workspace (inventory's ledger list).
CREATE INDEX stock_ledger_by_workspace ON stock_ledger (workspace_id, seq);
