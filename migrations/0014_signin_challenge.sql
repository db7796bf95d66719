-- A code is bound to the client that asked for it: `POST /auth/magic-link` answers with a
-- challenge (stored only hashed) that `POST /auth/login` must present with the code, so a
-- stranger's guesses never spend the attempts of a code someone else asked for.
ALTER TABLE magic_links ADD COLUMN challenge_hash TEXT;

CREATE INDEX magic_links_by_challenge ON magic_links (challenge_hash);
-- Sign-in requests per address and requester (see main's auth module).
CREATE INDEX magic_links_by_email_ip ON magic_links (email, ip, created_at);
