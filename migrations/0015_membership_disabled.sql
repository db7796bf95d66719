-- Disabling is decided per workspace: an admin of one workspace can end a member's access
-- to it, never to another workspace (users.disabled_at remains for erased accounts).
ALTER TABLE memberships ADD COLUMN disabled_at TEXT;

-- Existing data: memberships of accounts disabled before this migration stay disabled
-- (in every workspace they belonged to, which is what disabling meant then).
UPDATE memberships SET disabled_at = (SELECT disabled_at FROM users WHERE users.id = memberships.user_id)
 WHERE user_id IN (SELECT id FROM users WHERE disabled_at IS NOT NULL);
UPDATE users SET disabled_at = NULL WHERE disabled_at IS NOT NULL AND email NOT LIKE 'deleted-%@deleted.invalid';
