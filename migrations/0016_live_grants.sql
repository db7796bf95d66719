-- Where each room ticket was minted for whom, so that a person's open sockets can be
-- closed when their session or rights change (see main's `live` module): sign-out, a role
-- change, disabling, erasure. One row per person and room, refreshed at every mint; rows
-- older than the longest a socket is trusted are pruned.
CREATE TABLE live_grants (
    user_id   TEXT NOT NULL,
    class     TEXT NOT NULL CHECK (class IN ('TicketRoom', 'RepairSession', 'ChatSession')),
    room      TEXT NOT NULL,
    minted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, class, room)
) STRICT;

CREATE INDEX live_grants_minted ON live_grants (minted_at);
