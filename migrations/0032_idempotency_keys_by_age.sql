-- Each idempotent write first prunes its caller's keys older than a day
-- (`DELETE … WHERE actor = ? AND created_at < ?`, main's `idempotency` module). With only
-- the (actor, key) primary key that read every key the caller still had: for a caller
-- with 100,000 keys in their day, about 8 ms of the database's time per write. With this
-- index the prune reads only what it deletes.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (actor, created_at);
