-- The device list is read newest first with the id as tie-break (its cursor is
-- "<created_at>|<id>"): indexes that hold that order, for a customer's own devices and for
-- the whole workspace (staff), so that a page is read in order instead of sorted.
DROP INDEX IF EXISTS devices_by_owner;
CREATE INDEX devices_by_owner ON devices (workspace_id, owner_id, created_at, id);
CREATE INDEX devices_by_workspace ON devices (workspace_id, created_at, id);
